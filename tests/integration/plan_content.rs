//! The whole plan through the API: filled in by the patient and the coordinator together, goals
//! adjusted, measures followed up, consent given and withdrawn with access following at once,
//! signed, exported, closed; its lifecycle, its history, and concurrent editors.

use samvirke::domain::organisation::OrgRole;
use samvirke::proto;
use tonic::Code;

use super::common::*;

/// The people around one plan.
struct Cast {
    plan: String,
    staff: Who,
    patient: Who,
    representative: Who,
    coordinator: Who,
    nav: Who,
    nav_membership: String,
    coordinator_membership: String,
}

async fn cast(server: &TestServer, kind: proto::PlanKind) -> Cast {
    let staff = Who::Personnel("unit-staff", MUNICIPALITY);
    server.bootstrap_grant(MUNICIPALITY, &staff.subject(), OrgRole::UnitStaff).await;
    let plan = server
        .plans(Some(&staff))
        .create_plan(proto::CreatePlanRequest {
            plan: Some(proto::Plan {
                organisation: MUNICIPALITY.into(),
                patient_id: PATIENT.into(),
                patient_display_name: "Kari Nordmann".into(),
                kind: kind as i32,
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap()
        .name;
    let coordinator = Who::Personnel("coordinator", MUNICIPALITY);
    let nav = Who::Personnel("nav-adviser", NAV);
    let representative = Who::Citizen(NEXT_OF_KIN);
    let coordinator_membership =
        server.add_member(&staff, &plan, &coordinator, proto::MemberRole::Coordinator).await;
    let nav_membership = server.add_member(&staff, &plan, &nav, proto::MemberRole::Nav).await;
    server.add_member(&staff, &plan, &representative, proto::MemberRole::Representative).await;
    Cast {
        plan,
        staff,
        patient: Who::Citizen(PATIENT),
        representative,
        coordinator,
        nav,
        nav_membership,
        coordinator_membership,
    }
}

on_both_backends! {
    async fn a_plan_is_filled_in_followed_up_consented_signed_exported_and_closed(server: TestServer) {
        let c = cast(&server, proto::PlanKind::General).await;
        let plan = c.plan.clone();

        // The patient writes their own sections; the coordinator may not.
        let written = server
            .update_plan(&c.patient, &c.patient, &plan, &["sections.important_to_me", "sections.what_works_now"], |p| {
                let s = p.sections.get_or_insert_with(Default::default);
                s.important_to_me = "Å kunne gå på butikken selv, og tid med barnebarna.".into();
                s.what_works_now = "Hjemmesykepleien om morgenen.".into();
            })
            .await
            .unwrap();
        assert_eq!(written.sections.as_ref().unwrap().what_works_now, "Hjemmesykepleien om morgenen.");
        let refused = server
            .update_plan(&c.coordinator, &c.coordinator, &plan, &["sections.important_to_me"], |p| {
                p.sections.get_or_insert_with(Default::default).important_to_me = "Overwritten".into();
            })
            .await;
        assert_eq!(code(&refused), Code::PermissionDenied);
        // The representative writes them too, on the patient's behalf.
        server
            .update_plan(&c.representative, &c.representative, &plan, &["sections.what_i_need"], |p| {
                p.sections.get_or_insert_with(Default::default).what_i_need = "Hjelp til innkjøp.".into();
            })
            .await
            .unwrap();
        // The coordinator keeps contacts and the review date; the patient's words are intact.
        let scheduled = server
            .update_plan(&c.coordinator, &c.coordinator, &plan, &["contacts", "next_review_date"], |p| {
                p.contacts = vec![proto::Contact {
                    name: "Legevakten".into(),
                    role: "Emergency".into(),
                    phone: "116 117".into(),
                    ..Default::default()
                }];
                p.next_review_date = day(2027, 3, 1);
            })
            .await
            .unwrap();
        assert_eq!(scheduled.next_review_date, day(2027, 3, 1));
        assert_eq!(scheduled.contacts.len(), 1);
        assert_eq!(
            scheduled.sections.as_ref().unwrap().important_to_me,
            "Å kunne gå på butikken selv, og tid med barnebarna."
        );

        // The patient proposes a goal; the coordinator may not word one.
        let goal = server.create_goal(&c.patient, &plan, "Gå til butikken hver dag", 1).await.unwrap();
        assert_eq!(goal.status, proto::GoalStatus::Proposed as i32);
        assert_eq!(code(&server.create_goal(&c.coordinator, &plan, "Another", 2).await), Code::PermissionDenied);
        let words = server
            .update_goal(&c.coordinator, &c.coordinator, &goal.name, &["text"], "", |g| g.text = "Changed".into())
            .await;
        assert_eq!(code(&words), Code::PermissionDenied);
        // The municipality answers that it cannot be met as written and proposes an adjustment.
        let etag = server.get_goal(&c.coordinator, &goal.name).await.etag;
        server
            .goals(Some(&c.coordinator))
            .propose_goal_adjustment(proto::ProposeGoalAdjustmentRequest {
                name: goal.name.clone(),
                etag,
                reason: "Daglig følge er ikke mulig; tre dager i uka er".into(),
                proposed_text: "Gå til butikken tre dager i uka".into(),
            })
            .await
            .unwrap();
        // The patient agrees and rewords it; the coordinator agrees the goal and dates it.
        server
            .update_goal(&c.patient, &c.patient, &goal.name, &["text"], "Enig i justeringen", |g| {
                g.text = "Gå til butikken tre dager i uka".into();
            })
            .await
            .unwrap();
        let agreed = server
            .update_goal(&c.coordinator, &c.coordinator, &goal.name, &["status", "target_date"], "", |g| {
                g.status = proto::GoalStatus::Agreed as i32;
                g.target_date = day(2027, 6, 1);
            })
            .await
            .unwrap();
        assert_eq!(agreed.text, "Gå til butikken tre dager i uka");
        let trail: Vec<(String, String, i32)> = agreed
            .adjustments
            .iter()
            .map(|a| (a.proposed_text.clone(), a.new_text.clone(), a.new_status))
            .collect();
        assert_eq!(
            trail,
            [
                ("Gå til butikken tre dager i uka".to_string(), String::new(), 0),
                (String::new(), "Gå til butikken tre dager i uka".to_string(), 0),
                (String::new(), String::new(), proto::GoalStatus::Agreed as i32),
            ]
        );
        assert_eq!(agreed.adjustments[0].author_relations, "member,coordinator");
        assert_eq!(agreed.adjustments[1].author, format!("citizen:{PATIENT}"));

        // Measures: NAV follows up its own, and nothing else.
        let nav_measure = server
            .create_measure(&c.coordinator, &plan, &goal.name, &c.nav_membership, "Følge til butikken")
            .await
            .unwrap();
        let own_measure = server
            .create_measure(&c.coordinator, &plan, &goal.name, &c.coordinator_membership, "Rullator")
            .await
            .unwrap();
        // NAV cannot read the plan before consent covers it.
        assert_eq!(code(&server.plans(Some(&c.nav)).get_plan(proto::GetPlanRequest { name: plan.clone(), revision: 0 }).await), Code::NotFound);
        let activate = server.change_status(&c.coordinator, &c.coordinator, &plan, proto::PlanStatus::Active, "").await;
        assert_eq!(code(&activate), Code::FailedPrecondition);

        // Consent, given by the patient, covers NAV: NAV reads at once; the plan can start.
        let consented = server.give_consent(&c.patient, &plan, &[NAV]).await;
        assert_eq!(consented.consent.as_ref().unwrap().recipients, [NAV]);
        assert_eq!(consented.consent.as_ref().unwrap().recorded_by, "owner");
        let active = server
            .change_status(&c.coordinator, &c.coordinator, &plan, proto::PlanStatus::Active, "")
            .await
            .unwrap();
        assert_eq!(active.status, proto::PlanStatus::Active as i32);
        let ongoing = server
            .update_measure(&c.nav, &c.nav, &nav_measure.name, &["status"], |m| {
                m.status = proto::MeasureStatus::Ongoing as i32;
            })
            .await
            .unwrap();
        assert_eq!(ongoing.status, proto::MeasureStatus::Ongoing as i32);
        let evaluated = server
            .evaluate_measure(&c.nav, &c.nav, &nav_measure.name, "Gikk fint to av tre dager.")
            .await
            .unwrap();
        assert_eq!(evaluated.evaluations.len(), 1);
        assert_eq!(evaluated.evaluations[0].author, "personnel:nav-adviser");
        let not_hers = server
            .update_measure(&c.nav, &c.nav, &own_measure.name, &["status"], |m| {
                m.status = proto::MeasureStatus::Done as i32;
            })
            .await;
        assert_eq!(code(&not_hers), Code::PermissionDenied, "a member not responsible for a measure");
        let not_progress = server
            .update_measure(&c.nav, &c.nav, &nav_measure.name, &["description"], |m| {
                m.description = "Something else".into();
            })
            .await;
        assert_eq!(code(&not_progress), Code::PermissionDenied, "the responsible member edits only progress");

        // The patient signs what they read; a later content change shows.
        let before = server.get_plan(&c.patient, &plan).await;
        let signed = server
            .plans(Some(&c.patient))
            .sign_plan(proto::SignPlanRequest { name: plan.clone(), etag: before.etag })
            .await
            .unwrap()
            .into_inner()
            .plan
            .unwrap();
        let signature = signed.signature.clone().unwrap();
        assert_eq!(signature.revision, signed.revision);
        assert_eq!(signature.signed_by, "owner");
        assert!(!signature.changed_since_signing);
        assert_eq!(
            code(&server.plans(Some(&c.coordinator)).sign_plan(proto::SignPlanRequest { name: plan.clone(), etag: signed.etag.clone() }).await),
            Code::PermissionDenied
        );
        server.evaluate_measure(&c.coordinator, &c.coordinator, &own_measure.name, "Rullator levert.").await.unwrap();
        assert!(server.get_plan(&c.patient, &plan).await.signature.unwrap().changed_since_signing);

        // The export holds the goals, measures, group, coordinator and signature status.
        let export = server
            .plans(Some(&c.patient))
            .export_plan(proto::ExportPlanRequest { name: plan.clone() })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(export.content_type, "application/pdf");
        assert!(export.content.starts_with(b"%PDF"));
        let text = pdf_text(&export.content);
        for expected in [
            "Gå til butikken tre dager i uka",
            "Følge til butikken",
            "Gikk fint to av tre dager.",
            "Å kunne gå på butikken selv",
            "Coordinator",
            "Responsibility group",
            "changed since it was signed",
            PATIENT,
        ] {
            assert!(text.contains(expected), "the export lacks {expected:?}:\n{text}");
        }
        // NAV may export too, without the identity number.
        let nav_export = server
            .plans(Some(&c.nav))
            .export_plan(proto::ExportPlanRequest { name: plan.clone() })
            .await
            .unwrap()
            .into_inner();
        assert!(!pdf_text(&nav_export.content).contains(PATIENT));

        // Withdrawn consent takes effect at once: NAV no longer reads or writes.
        let etag = server.get_plan(&c.patient, &plan).await.etag;
        let withdrawn = server
            .plans(Some(&c.patient))
            .withdraw_consent(proto::WithdrawConsentRequest { name: plan.clone(), etag, reason: "Jeg vil ikke dele med NAV".into() })
            .await
            .unwrap()
            .into_inner()
            .plan
            .unwrap();
        assert!(withdrawn.consent.is_none());
        let get = proto::GetPlanRequest { name: plan.clone(), revision: 0 };
        assert_eq!(code(&server.plans(Some(&c.nav)).get_plan(get.clone()).await), Code::NotFound);
        assert!(server.plans(Some(&c.nav)).list_plans(proto::ListPlansRequest::default()).await.unwrap().into_inner().plans.is_empty());
        assert_eq!(
            code(&server.measures(Some(&c.nav)).get_measure(proto::GetMeasureRequest { name: nav_measure.name.clone() }).await),
            Code::NotFound
        );
        // The plan's own organisation and the citizens on it keep access.
        for who in [&c.coordinator, &c.staff, &c.representative, &c.patient] {
            assert!(server.plans(Some(who)).get_plan(get.clone()).await.is_ok(), "{who:?}");
        }

        // The history: every change, readable as it was.
        let revisions = server
            .plans(Some(&c.patient))
            .list_plan_revisions(proto::ListPlanRevisionsRequest { parent: plan.clone(), page_size: 500, ..Default::default() })
            .await
            .unwrap()
            .into_inner()
            .revisions;
        let numbers: Vec<i64> = revisions.iter().map(|r| r.revision).collect();
        assert_eq!(numbers, (1..=numbers.len() as i64).collect::<Vec<_>>());
        assert_eq!(revisions[0].changes, ["plan created"]);
        assert_eq!(*numbers.last().unwrap(), withdrawn.revision);
        assert!(revisions.iter().any(|r| r.changes.iter().any(|c| c.starts_with("goal adjustment proposed"))));
        // Before the patient reworded the goal, it read as first proposed.
        let reworded = revisions
            .iter()
            .find(|r| r.changes.iter().any(|c| c.starts_with("goal updated (text)")))
            .unwrap();
        assert_eq!(reworded.author_relations, "owner");
        let earlier = server
            .plans(Some(&c.coordinator))
            .get_plan(proto::GetPlanRequest { name: plan.clone(), revision: reworded.revision - 1 })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(earlier.goals[0].text, "Gå til butikken hver dag");
        assert_eq!(earlier.plan.unwrap().patient_id, PATIENT);
        let first = server
            .plans(Some(&c.representative))
            .get_plan(proto::GetPlanRequest { name: plan.clone(), revision: 1 })
            .await
            .unwrap()
            .into_inner();
        assert!(first.goals.is_empty());
        assert_eq!(first.plan.unwrap().sections.unwrap().important_to_me, "");
        assert_eq!(
            code(&server.plans(Some(&c.patient)).get_plan(proto::GetPlanRequest { name: plan.clone(), revision: 9999 }).await),
            Code::NotFound
        );

        // Closed, with a reason; a closed plan's content no longer changes.
        let closed = server
            .change_status(&c.coordinator, &c.coordinator, &plan, proto::PlanStatus::Closed, "Flyttet til annen kommune")
            .await
            .unwrap();
        assert_eq!(closed.status_reason, "Flyttet til annen kommune");
        let late = server
            .update_plan(&c.patient, &c.patient, &plan, &["sections.first_priority"], |p| {
                p.sections.get_or_insert_with(Default::default).first_priority = "x".into();
            })
            .await
            .unwrap_err();
        assert_eq!(late.code(), Code::FailedPrecondition);
        assert!(late.message().contains("PLAN_STATUS_CLOSED"), "{}", late.message());
        assert_eq!(code(&server.create_goal(&c.patient, &plan, "Ny", 1).await), Code::FailedPrecondition);
        let reopen = server
            .change_status(&c.coordinator, &c.coordinator, &plan, proto::PlanStatus::Active, "")
            .await
            .unwrap_err();
        assert_eq!(reopen.code(), Code::FailedPrecondition);
        assert!(reopen.message().contains("PLAN_STATUS_CLOSED"), "{}", reopen.message());
    }
}

on_both_backends! {
    async fn a_declined_plan_stays_and_can_be_requested_again(server: TestServer) {
        let c = cast(&server, proto::PlanKind::General).await;
        let plan = c.plan.clone();
        let no_reason = server
            .change_status(&c.patient, &c.patient, &plan, proto::PlanStatus::Declined, "")
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&no_reason), ["reason"]);
        let declined = server
            .change_status(&c.patient, &c.patient, &plan, proto::PlanStatus::Declined, "Jeg ønsker ikke plan nå")
            .await
            .unwrap();
        assert_eq!(declined.status, proto::PlanStatus::Declined as i32);
        // Only REQUESTED may follow DECLINED, and the record with its group stays.
        for to in [proto::PlanStatus::Active, proto::PlanStatus::Closed] {
            let wrong = server.change_status(&c.coordinator, &c.coordinator, &plan, to, "x").await.unwrap_err();
            assert_eq!(wrong.code(), Code::FailedPrecondition, "{to:?}");
            assert!(wrong.message().contains("PLAN_STATUS_DECLINED"), "{}", wrong.message());
        }
        assert!(server.get_plan(&c.coordinator, &plan).await.status == proto::PlanStatus::Declined as i32);
        let again = server
            .change_status(&c.representative, &c.representative, &plan, proto::PlanStatus::Requested, "")
            .await
            .unwrap();
        assert_eq!(again.status, proto::PlanStatus::Requested as i32);
        assert_eq!(again.status_reason, "");
        // Unit staff record consent given on the patient's behalf, saying by whom and why.
        let consented = server.give_consent(&c.staff, &plan, &[NAV]).await;
        let consent = consented.consent.unwrap();
        assert_eq!(consent.recorded_by, "unit_staff");
        assert_eq!(consent.on_behalf.unwrap().given_by, "Eva Nordmann, mother");
        // NAV may not decide on the patient's behalf.
        let nav = server.change_status(&c.nav, &c.nav, &plan, proto::PlanStatus::Declined, "x").await;
        assert_eq!(code(&nav), Code::PermissionDenied);
        let closed_early = server
            .change_status(&c.coordinator, &c.coordinator, &plan, proto::PlanStatus::Closed, "x")
            .await
            .unwrap_err();
        assert!(closed_early.message().contains("PLAN_STATUS_REQUESTED"), "{}", closed_early.message());
    }
}

on_both_backends! {
    async fn two_editors_at_once_lose_nothing(server: TestServer) {
        let c = cast(&server, proto::PlanKind::General).await;
        let plan = c.plan.clone();
        let start = server.get_plan(&c.patient, &plan).await;
        // The same etag, two writers: exactly one wins, the other is told to read again.
        let edit = |who: Who, text: &'static str| {
            let server = server.clone();
            let mut input = start.clone();
            input.sections.get_or_insert_with(Default::default).important_to_me = text.into();
            async move {
                server
                    .plans(Some(&who))
                    .update_plan(proto::UpdatePlanRequest { plan: Some(input), update_mask: mask(&["sections.important_to_me"]) })
                    .await
            }
        };
        let (a, b) = tokio::join!(
            tokio::spawn(edit(c.patient.clone(), "Written by the patient")),
            tokio::spawn(edit(c.representative.clone(), "Written by the representative")),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        let codes = [code(&a), code(&b)];
        assert!(codes.contains(&Code::Ok) && codes.contains(&Code::Aborted), "{codes:?}");
        let winner = if a.is_ok() { "Written by the patient" } else { "Written by the representative" };
        let now = server.get_plan(&c.patient, &plan).await;
        assert_eq!(now.sections.unwrap().important_to_me, winner);

        // Different resources do not conflict: goals edited at once all land, each revision
        // numbered once.
        let mut tasks = Vec::new();
        for i in 0..8 {
            let server = server.clone();
            let who = if i % 2 == 0 { c.patient.clone() } else { c.representative.clone() };
            let plan = plan.clone();
            tasks.push(tokio::spawn(async move {
                server.create_goal(&who, &plan, &format!("Goal {i}"), i + 1).await
            }));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        let goals = server
            .goals(Some(&c.coordinator))
            .list_goals(proto::ListGoalsRequest { parent: plan.clone(), ..Default::default() })
            .await
            .unwrap()
            .into_inner()
            .goals;
        assert_eq!(goals.len(), 8);
        let revisions = server
            .plans(Some(&c.patient))
            .list_plan_revisions(proto::ListPlanRevisionsRequest { parent: plan.clone(), page_size: 500, ..Default::default() })
            .await
            .unwrap()
            .into_inner()
            .revisions;
        let numbers: Vec<i64> = revisions.iter().map(|r| r.revision).collect();
        assert_eq!(numbers, (1..=numbers.len() as i64).collect::<Vec<_>>());
        assert_eq!(revisions.last().unwrap().revision, server.get_plan(&c.patient, &plan).await.revision);

        // A stale goal etag changes nothing.
        let goal = &goals[0];
        let stale = server
            .goals(Some(&c.coordinator))
            .update_goal(proto::UpdateGoalRequest {
                goal: Some(proto::Goal { status: proto::GoalStatus::Agreed as i32, etag: "999".into(), ..goal.clone() }),
                update_mask: mask(&["status"]),
                reason: String::new(),
            })
            .await;
        assert_eq!(code(&stale), Code::Aborted);
        assert_eq!(server.get_goal(&c.coordinator, &goal.name).await, *goal);
    }
}

on_both_backends! {
    async fn work_lists_filter_by_overdue_review_and_status(server: TestServer) {
        let c = cast(&server, proto::PlanKind::Palliative).await;
        let staff = c.staff.clone();
        let late = c.plan.clone();
        let soon = server.create_plan(&staff, MUNICIPALITY, OTHER_PATIENT).await;
        let unset = server.create_plan(&staff, MUNICIPALITY, YET_ANOTHER_PATIENT).await;
        server.add_member(&staff, &soon, &c.coordinator, proto::MemberRole::Coordinator).await;
        for (plan, date) in [(&late, day(2020, 1, 31)), (&soon, day(2099, 1, 1))] {
            server
                .update_plan(&c.coordinator, &c.coordinator, plan, &["next_review_date"], |p| p.next_review_date = date)
                .await
                .unwrap();
        }
        server.give_consent(&c.patient, &late, &[]).await;
        server.change_status(&c.coordinator, &c.coordinator, &late, proto::PlanStatus::Active, "").await.unwrap();
        let names = |plans: Vec<proto::Plan>| -> Vec<String> { plans.into_iter().map(|p| p.name).collect() };
        for who in [&c.coordinator, &staff] {
            let overdue = server
                .plans(Some(who))
                .list_plans(proto::ListPlansRequest { review_overdue: true, ..Default::default() })
                .await
                .unwrap()
                .into_inner()
                .plans;
            assert_eq!(names(overdue), std::slice::from_ref(&late), "{who:?}");
        }
        let requested = server
            .plans(Some(&staff))
            .list_plans(proto::ListPlansRequest { statuses: vec![proto::PlanStatus::Requested as i32], ..Default::default() })
            .await
            .unwrap()
            .into_inner()
            .plans;
        assert_eq!(names(requested), [soon.clone(), unset.clone()]);
        let active_overdue = server
            .plans(Some(&c.patient))
            .list_plans(proto::ListPlansRequest {
                statuses: vec![proto::PlanStatus::Active as i32, proto::PlanStatus::Closed as i32],
                review_overdue: true,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .plans;
        assert_eq!(names(active_overdue), std::slice::from_ref(&late));
        // Palliative sections are there for palliative plans.
        let written = server
            .update_plan(&c.patient, &c.patient, &late, &["sections.admission_agreement"], |p| {
                p.sections.get_or_insert_with(Default::default).admission_agreement = "Direkte til palliativ enhet".into();
            })
            .await
            .unwrap();
        assert_eq!(written.sections.unwrap().admission_agreement, "Direkte til palliativ enhet");
    }
}
