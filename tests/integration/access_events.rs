//! AccessEventService: the patient reads who has seen their plan, in names and words they
//! recognise, refused attempts included, and never another person's identity number. Who may
//! read the log at all is in the authorization matrix.

use samvirke::domain::organisation::OrgRole;
use samvirke::proto;
use tonic::Code;

use super::common::*;

fn nav() -> Who {
    Who::System("nav-system", NAV)
}

fn doctor() -> Who {
    Who::Personnel("doctor", HOSPITAL)
}

/// A plan of the patient's, with NAV on its group under consent and a next of kin who
/// represents the patient; NAV reads and exports it, a hospital doctor tries to read it.
async fn world(server: &TestServer) -> String {
    server.bootstrap_grant(MUNICIPALITY, &staff().subject(), OrgRole::UnitStaff).await;
    let plan = server.create_plan(&staff(), MUNICIPALITY, PATIENT).await;
    let patient = Who::Citizen(PATIENT);
    server
        .members(Some(&staff()))
        .add_member(proto::AddMemberRequest {
            parent: plan.clone(),
            member: Some(proto::Member {
                display_name: "NAV Nordby, team Sør".into(),
                ..nav().as_member(proto::MemberRole::Nav)
            }),
        })
        .await
        .unwrap();
    server
        .add_member(&patient, &plan, &Who::Citizen(NEXT_OF_KIN), proto::MemberRole::Representative)
        .await;
    server.give_consent(&patient, &plan, &[NAV]).await;
    server.get_plan(&nav(), &plan).await;
    let export = proto::ExportPlanRequest { name: plan.clone() };
    server.plans(Some(&nav())).export_plan(export).await.unwrap();
    let refused = server.plans(Some(&doctor())).get_plan(get(&plan)).await;
    assert_eq!(code(&refused), Code::NotFound);
    // NAV may read the plan but not write the patient's words.
    let etag = server.get_plan(&patient, &plan).await.etag;
    let update = important_to_me(&plan, &etag, "NAV skriver");
    let refused = server.plans(Some(&nav())).update_plan(update).await;
    assert_eq!(code(&refused), Code::PermissionDenied);
    let update = important_to_me(&plan, &etag, "Å bo hjemme");
    server.plans(Some(&patient)).update_plan(update).await.unwrap();
    plan
}

fn get(plan: &str) -> proto::GetPlanRequest {
    proto::GetPlanRequest { name: plan.into(), revision: 0 }
}

async fn events(
    server: &TestServer,
    who: &Who,
    request: proto::ListAccessEventsRequest,
) -> Result<proto::ListAccessEventsResponse, tonic::Status> {
    server.access_events(Some(who)).list_access_events(request).await.map(|r| r.into_inner())
}

fn all_of(plan: &str) -> proto::ListAccessEventsRequest {
    proto::ListAccessEventsRequest { parent: plan.into(), page_size: 500, ..Default::default() }
}

fn accessor(event: &proto::AccessEvent) -> &proto::Accessor {
    event.accessor.as_ref().unwrap()
}

on_both_backends! {
    async fn the_patient_sees_who_read_changed_and_tried(server: TestServer) {
        let plan = world(&server).await;
        let patient = Who::Citizen(PATIENT);
        let listed = events(&server, &patient, all_of(&plan)).await.unwrap();
        let all = &listed.access_events;
        let find = |description: &str| {
            all.iter()
                .find(|e| e.description == description)
                .unwrap_or_else(|| panic!("no event {description:?} in {all:#?}"))
        };

        // Newest first.
        let times: Vec<_> = all.iter().map(|e| e.time.unwrap().seconds).collect();
        assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
        assert!(all.iter().all(|e| e.name.starts_with(&format!("{plan}/accessEvents/"))));

        // NAV as the patient knows it: the name it serves under, its role, the registry's name.
        for description in ["read the plan", "exported the plan"] {
            let event = all
                .iter()
                .find(|e| e.description == description && accessor(e).organisation == NAV)
                .unwrap_or_else(|| panic!("NAV's {description:?} missing: {all:#?}"));
            let nav = accessor(event);
            assert_eq!(nav.display_name, "NAV Nordby, team Sør");
            assert_eq!(nav.member_role, proto::MemberRole::Nav as i32);
            assert_eq!(nav.organisation_name, "NAV Nordby");
            assert!(event.allowed && !nav.patient && !nav.caller);
        }
        assert_eq!(find("exported the plan").operation, "samvirke.v1.PlanService/ExportPlan");

        // The refused attempt, with the organisation's name and nothing else of who it was.
        let tried = find("tried to read the plan and was refused");
        assert!(!tried.allowed);
        let doctor = accessor(tried);
        assert_eq!((doctor.organisation.as_str(), doctor.organisation_name.as_str()), (HOSPITAL, "Helse Nordvest HF"));
        assert_eq!(doctor.display_name, "");

        // One event for each call, though a change is two decisions (read, then write): the
        // refused change says what was tried.
        let count = |description: &str| all.iter().filter(|e| e.description == description).count();
        assert_eq!(count("recorded consent"), 1, "{all:#?}");
        assert_eq!(count("changed the plan"), 1, "{all:#?}");
        let nav_tried = find("tried to change the plan and was refused");
        assert_eq!(accessor(nav_tried).organisation, NAV);
        assert!(!nav_tried.allowed);
        assert_eq!(count("tried to change the plan and was refused"), 1);

        // The coordinating unit that created the plan, by its role there.
        let created = accessor(find("created the plan"));
        assert_eq!(created.organisation_role, proto::OrganisationRole::UnitStaff as i32);
        assert_eq!(created.organisation, MUNICIPALITY);

        // The patient's own entries are theirs, under their own name, and can be left out.
        let consent = accessor(find("recorded consent"));
        assert!(consent.patient && consent.caller, "{consent:?}");
        assert_eq!(consent.organisation, "");
        let others = events(
            &server,
            &patient,
            proto::ListAccessEventsRequest { exclude_patient: true, ..all_of(&plan) },
        )
        .await
        .unwrap();
        assert!(!others.access_events.is_empty());
        assert!(others.access_events.iter().all(|e| !accessor(e).patient));
        assert!(others.access_events.len() < all.len());

        // No identity number anywhere in the answer, the representative's included.
        let text = format!("{listed:?}");
        for number in [PATIENT, NEXT_OF_KIN] {
            assert!(!text.contains(number), "an identity number in the access events");
        }
        assert!(!text.contains("personnel:") && !text.contains("system:"), "a subject leaked");

        // Reading the log is logged, and the representative sees that, as the patient's.
        let representative = Who::Citizen(NEXT_OF_KIN);
        let seen = events(&server, &representative, all_of(&plan)).await.unwrap();
        let read_log = seen
            .access_events
            .iter()
            .find(|e| e.description == "read who has seen the plan")
            .expect("the patient's reading of the log");
        assert!(accessor(read_log).patient && !accessor(read_log).caller);
        assert_eq!(accessor(read_log).display_name, "Kari Nordmann");
    }
}

on_both_backends! {
    async fn filters_and_pages(server: TestServer) {
        let plan = world(&server).await;
        let patient = Who::Citizen(PATIENT);
        let all = events(&server, &patient, all_of(&plan)).await.unwrap().access_events;

        // By organisation.
        let by_nav = proto::ListAccessEventsRequest { organisation: NAV.into(), ..all_of(&plan) };
        let by_nav = events(&server, &patient, by_nav).await.unwrap().access_events;
        assert!(!by_nav.is_empty() && by_nav.iter().all(|e| accessor(e).organisation == NAV));

        // By time: nothing before the plan existed, everything since.
        let first = all.last().unwrap().time.unwrap();
        let before = proto::ListAccessEventsRequest { end_time: Some(first), ..all_of(&plan) };
        assert!(events(&server, &patient, before).await.unwrap().access_events.is_empty());
        let since = proto::ListAccessEventsRequest { start_time: Some(first), ..all_of(&plan) };
        let since = events(&server, &patient, since).await.unwrap().access_events;
        assert!(since.len() >= all.len(), "{} of {}", since.len(), all.len());

        // Pages of two walk the same events, each once, newest first; the bound leaves out the
        // reads of the log made since.
        let newest = all.first().unwrap().time.unwrap();
        let micros = newest.seconds * 1_000_000 + i64::from(newest.nanos / 1_000) + 1;
        let newest_bound = prost_types::Timestamp {
            seconds: micros.div_euclid(1_000_000),
            nanos: (micros.rem_euclid(1_000_000) * 1_000) as i32,
        };
        let mut walked = Vec::new();
        let mut token = String::new();
        loop {
            let page = proto::ListAccessEventsRequest {
                page_size: 2,
                page_token: token.clone(),
                end_time: Some(newest_bound),
                ..all_of(&plan)
            };
            let page = events(&server, &patient, page).await.unwrap();
            assert!(page.access_events.len() <= 2);
            walked.extend(page.access_events.into_iter().map(|e| e.name));
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        let expected: Vec<_> = all.iter().map(|e| e.name.clone()).collect();
        assert_eq!(walked, expected);

        // A token continues only its own filters.
        let first_page = proto::ListAccessEventsRequest { page_size: 1, ..all_of(&plan) };
        let token = events(&server, &patient, first_page).await.unwrap().next_page_token;
        let other = proto::ListAccessEventsRequest {
            page_token: token,
            exclude_patient: true,
            ..all_of(&plan)
        };
        let refused = events(&server, &patient, other).await.unwrap_err();
        assert_eq!(violated_fields(&refused), ["page_token"]);
    }
}

on_both_backends! {
    async fn bad_filters_are_named_and_change_nothing(server: TestServer) {
        let plan = world(&server).await;
        let patient = Who::Citizen(PATIENT);
        let log_before = server.row_count("access_log").await;
        let t = |seconds| Some(prost_types::Timestamp { seconds, nanos: 0 });
        for (request, fields) in [
            (
                proto::ListAccessEventsRequest {
                    start_time: t(1_800_000_000),
                    end_time: t(1_700_000_000),
                    ..all_of(&plan)
                },
                vec!["end_time"],
            ),
            (
                proto::ListAccessEventsRequest { organisation: "123".into(), ..all_of(&plan) },
                vec!["organisation"],
            ),
            (
                proto::ListAccessEventsRequest {
                    parent: "plans/x".into(),
                    start_time: t(-99_999_999_999),
                    page_size: -1,
                    ..Default::default()
                },
                vec!["parent", "start_time", "page_size"],
            ),
        ] {
            let refused = events(&server, &patient, request).await.unwrap_err();
            assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
            assert_eq!(violated_fields(&refused), fields);
        }
        assert_eq!(server.row_count("access_log").await, log_before);
    }
}

on_both_backends! {
    /// Found by trying: ending NAV's membership and adding it again under another name and
    /// role relabelled everything NAV had done before. Each entry names its accessor as they
    /// served when it was made.
    async fn past_entries_keep_the_name_they_were_made_under(server: TestServer) {
        let plan = world(&server).await;
        let patient = Who::Citizen(PATIENT);
        let members = server
            .members(Some(&staff()))
            .list_members(proto::ListMembersRequest { parent: plan.clone(), ..Default::default() })
            .await
            .unwrap()
            .into_inner()
            .members;
        let nav_membership = members.iter().find(|m| m.organisation == NAV).unwrap();
        server
            .members(Some(&staff()))
            .remove_member(proto::RemoveMemberRequest {
                name: nav_membership.name.clone(),
                etag: String::new(),
            })
            .await
            .unwrap();
        server
            .members(Some(&staff()))
            .add_member(proto::AddMemberRequest {
                parent: plan.clone(),
                member: Some(proto::Member {
                    display_name: "Fastlegen din".into(),
                    ..nav().as_member(proto::MemberRole::Gp)
                }),
            })
            .await
            .unwrap();
        server.get_plan(&nav(), &plan).await;
        let by_nav = proto::ListAccessEventsRequest { organisation: NAV.into(), ..all_of(&plan) };
        let by_nav = events(&server, &patient, by_nav).await.unwrap().access_events;
        let (newest, before) = by_nav.split_first().unwrap();
        assert_eq!(accessor(newest).display_name, "Fastlegen din");
        assert_eq!(accessor(newest).member_role, proto::MemberRole::Gp as i32);
        assert!(!before.is_empty());
        for event in before {
            let nav = accessor(event);
            assert_eq!(nav.display_name, "NAV Nordby, team Sør", "{event:?}");
            assert_eq!(nav.member_role, proto::MemberRole::Nav as i32, "{event:?}");
        }
    }
}

on_both_backends! {
    /// Found by trying: an entry showed the organisation role its caller held when the log was
    /// read, so revoking a role erased it from past entries and granting one relabelled them.
    /// Each entry keeps the roles held when it was made.
    async fn past_entries_keep_the_role_they_were_made_under(server: TestServer) {
        server.bootstrap_grant(MUNICIPALITY, "personnel:admin", OrgRole::Admin).await;
        let grant = server.bootstrap_grant(MUNICIPALITY, &staff().subject(), OrgRole::UnitStaff).await;
        let plan = server.create_plan(&staff(), MUNICIPALITY, PATIENT).await;
        server.get_plan(&staff(), &plan).await;
        let admin = Who::Personnel("admin", MUNICIPALITY);
        server
            .organisations(Some(&admin))
            .revoke_role(proto::RevokeRoleRequest { name: grant })
            .await
            .unwrap();
        server.bootstrap_grant(MUNICIPALITY, &staff().subject(), OrgRole::ComplaintHandler).await;
        let patient = Who::Citizen(PATIENT);
        let listed = events(&server, &patient, all_of(&plan)).await.unwrap().access_events;
        let by_staff: Vec<_> =
            listed.iter().filter(|e| accessor(e).organisation == MUNICIPALITY).collect();
        assert_eq!(by_staff.len(), 2, "{listed:#?}");
        for event in by_staff {
            let role = accessor(event).organisation_role;
            assert_eq!(role, proto::OrganisationRole::UnitStaff as i32, "{event:?}");
        }
    }
}

on_both_backends! {
    /// A change the policy allowed but a rule refused (here a stale etag) changed nothing; the
    /// patient still sees that it was tried, and refused, once.
    async fn a_change_a_rule_refused_is_in_the_log_as_tried(server: TestServer) {
        let plan = world(&server).await;
        let patient = Who::Citizen(PATIENT);
        let tried = |shown: &proto::ListAccessEventsResponse| {
            let by_patient = |e: &&proto::AccessEvent| accessor(e).patient;
            let refused = |e: &&proto::AccessEvent| {
                e.description == "tried to change the plan and was refused"
            };
            shown.access_events.iter().filter(by_patient).filter(refused).count()
        };
        let representative = Who::Citizen(NEXT_OF_KIN);
        let before = events(&server, &representative, all_of(&plan)).await.unwrap();
        let (allowed, refused) =
            (server.access_log_count(&plan, true).await, server.access_log_count(&plan, false).await);

        let stale = important_to_me(&plan, "1", "Gammel versjon");
        let answer = server.plans(Some(&patient)).update_plan(stale).await;
        assert_eq!(code(&answer), Code::Aborted);

        // The call the policy allowed is logged as one refused event; the rows
        // the failed transaction wrote are gone with it.
        assert_eq!(server.access_log_count(&plan, true).await, allowed);
        assert_eq!(server.access_log_count(&plan, false).await, refused + 1);
        let after = events(&server, &representative, all_of(&plan)).await.unwrap();
        assert_eq!(tried(&after), tried(&before) + 1, "{after:#?}");
        let saved = server.get_plan(&patient, &plan).await;
        assert_ne!(saved.sections.unwrap().important_to_me, "Gammel versjon", "nothing changed");
    }
}

on_both_backends! {
    /// F4 (re-attacker after issue 14): a change to a goal or a measure showed as two events,
    /// for the decisions on the way to it (reading the plan, then changing the item) were
    /// logged apart. Each call is one event now, refused when any of its decisions was.
    async fn each_change_to_a_goal_or_measure_is_one_event(server: TestServer) {
        server.bootstrap_grant(MUNICIPALITY, &staff().subject(), OrgRole::UnitStaff).await;
        let plan = server.create_plan(&staff(), MUNICIPALITY, PATIENT).await;
        let patient = Who::Citizen(PATIENT);
        let coordinator = coordinator();
        let membership =
            server.add_member(&staff(), &plan, &coordinator, proto::MemberRole::Coordinator).await;
        let goal = server.create_goal(&patient, &plan, "Gå til butikken", 1).await.unwrap();
        let measure = server
            .create_measure(&coordinator, &plan, &goal.name, &membership, "Følge til butikken")
            .await
            .unwrap();
        server
            .update_measure(&coordinator, &coordinator, &measure.name, &["status"], |m| {
                m.status = proto::MeasureStatus::Ongoing as i32;
            })
            .await
            .unwrap();
        server.evaluate_measure(&coordinator, &coordinator, &measure.name, "Gikk fint.").await.unwrap();
        server
            .update_goal(&patient, &patient, &goal.name, &["text"], "Omformulert", |g| {
                g.text = "Gå til butikken selv".into();
            })
            .await
            .unwrap();
        let etag = server.get_goal(&coordinator, &goal.name).await.etag;
        server
            .goals(Some(&coordinator))
            .propose_goal_adjustment(proto::ProposeGoalAdjustmentRequest {
                name: goal.name.clone(),
                etag,
                reason: "Tre dager i uka er mulig".into(),
                proposed_text: "Gå til butikken tre dager i uka".into(),
            })
            .await
            .unwrap();
        // The coordinator may not word the goal: one refused event says what was tried.
        let words = server
            .update_goal(&coordinator, &coordinator, &goal.name, &["text"], "", |g| g.text = "X".into())
            .await;
        assert_eq!(code(&words), Code::PermissionDenied);
        let second = server.create_goal(&patient, &plan, "Sove bedre", 2).await.unwrap();
        server
            .goals(Some(&patient))
            .delete_goal(proto::DeleteGoalRequest { name: second.name.clone(), etag: second.etag })
            .await
            .unwrap();

        let listed = events(&server, &patient, all_of(&plan)).await.unwrap();
        let count = |description: &str| {
            listed.access_events.iter().filter(|e| e.description == description).count()
        };
        for description in [
            "changed the measures",
            "evaluated a measure",
            "proposed a change to a goal",
            "deleted a goal",
            "tried to change a goal and was refused",
        ] {
            assert_eq!(count(description), 1, "{description}: {listed:#?}");
        }
        assert_eq!(count("changed a goal"), 1, "{listed:#?}");
        // Every call was one row of the log.
        let refused = server.access_log_count(&plan, false).await;
        assert_eq!(refused, 1, "only the refused wording");
    }
}
