//! Coordinators, meetings, ListMyPlans and referrals: the path from a hospital's referral to a
//! running group across organisations, the work lists, the local rule in the policy, and bad
//! input to every new RPC.

use samvirke::domain::organisation::OrgRole;
use samvirke::proto;
use tonic::{Code, Status};

use super::common::*;

fn referrer() -> Who {
    Who::Personnel("discharge-nurse", HOSPITAL)
}
fn unit_staff() -> Who {
    Who::Personnel("unit-staff", MUNICIPALITY)
}
fn first_coordinator() -> Who {
    Who::Personnel("coordinator-a", MUNICIPALITY)
}
fn second_coordinator() -> Who {
    Who::Personnel("coordinator-b", MUNICIPALITY)
}
fn teacher() -> Who {
    Who::Personnel("teacher", SCHOOL)
}

async fn grants(server: &TestServer) {
    server.bootstrap_grant(HOSPITAL, &referrer().subject(), OrgRole::Referrer).await;
    server.bootstrap_grant(MUNICIPALITY, &unit_staff().subject(), OrgRole::UnitStaff).await;
}

/// A referral of PATIENT to MUNICIPALITY, answered by the patient's mother.
fn referral(wants_plan: bool) -> proto::Referral {
    proto::Referral {
        municipality: MUNICIPALITY.into(),
        patient_id: PATIENT.into(),
        patient_display_name: "Ola Nordmann".into(),
        consent_to_share: true,
        patient_goals: vec!["Komme hjem og klare meg selv".into(), "Gå tur med hunden".into()],
        wants_plan,
        answered_on_behalf: Some(proto::AnsweredOnBehalf {
            given_by: "Eva Nordmann, mother".into(),
            reason: "The patient could not speak after the stroke".into(),
        }),
        ..Default::default()
    }
}

async fn send_referral(server: &TestServer, wants_plan: bool) -> proto::Referral {
    server
        .referrals(Some(&referrer()))
        .create_referral(proto::CreateReferralRequest { referral: Some(referral(wants_plan)) })
        .await
        .expect("sending a referral")
        .into_inner()
        .referral
        .unwrap()
}

async fn get_referral(server: &TestServer, who: &Who, name: &str) -> Result<proto::Referral, Code> {
    server
        .referrals(Some(who))
        .get_referral(proto::GetReferralRequest { name: name.into() })
        .await
        .map(|r| r.into_inner().referral.unwrap())
        .map_err(|s| s.code())
}

fn not_the_wish(who: &Who) -> proto::CoordinatorAssignment {
    proto::CoordinatorAssignment {
        wish_followed: false,
        reason: "Liv Hansen has no capacity before spring".into(),
        ..who.as_assignment()
    }
}

async fn meeting(server: &TestServer, who: &Who, name: &str) -> Result<proto::Meeting, Code> {
    server
        .members(Some(who))
        .get_meeting(proto::GetMeetingRequest { name: name.into() })
        .await
        .map(|r| r.into_inner().meeting.unwrap())
        .map_err(|s| s.code())
}

async fn update_minutes(
    server: &TestServer,
    who: &Who,
    meeting: &proto::Meeting,
    minutes: &str,
) -> Result<proto::Meeting, Status> {
    server
        .members(Some(who))
        .update_meeting(proto::UpdateMeetingRequest {
            meeting: Some(proto::Meeting { minutes: minutes.into(), ..meeting.clone() }),
            update_mask: mask(&["minutes"]),
        })
        .await
        .map(|r| r.into_inner().meeting.unwrap())
}

async fn my_plans(server: &TestServer, who: &Who) -> Vec<proto::MyPlan> {
    server
        .members(Some(who))
        .list_my_plans(proto::ListMyPlansRequest::default())
        .await
        .expect("listing my plans")
        .into_inner()
        .plans
}

async fn work_list(
    server: &TestServer,
    who: &Who,
    view: proto::AssignmentView,
) -> Vec<proto::AssignmentEntry> {
    server
        .coordinators(Some(who))
        .list_coordinator_assignments(proto::ListCoordinatorAssignmentsRequest {
            view: view as i32,
            ..Default::default()
        })
        .await
        .expect("listing a work list")
        .into_inner()
        .entries
}

on_both_backends! {
    /// The path, end to end: a hospital refers a patient at discharge, the municipality
    /// accepts and appoints a coordinator who is not the patient's wish, NAV and a school join,
    /// a meeting is held with minutes, the coordinator is replaced (the old one loses access,
    /// the new one has it), and NAV leaves and can read no more.
    async fn referral_to_running_group(server: TestServer) {
        grants(&server).await;
        let sent = send_referral(&server, true).await;
        assert_eq!(sent.status, proto::ReferralStatus::Sent as i32);
        assert_eq!(sent.health_trust, HOSPITAL);
        let plan = sent.plan.clone();

        // The plan waits in the municipality, requested, with the patient's goals proposed,
        // the consent to share, and who answered for the patient.
        let requested = server.get_plan(&unit_staff(), &plan).await;
        assert_eq!(requested.status, proto::PlanStatus::Requested as i32);
        assert_eq!(requested.organisation, MUNICIPALITY);
        assert_eq!(requested.referral, sent.name);
        let consent = requested.consent.clone().unwrap();
        assert_eq!(consent.recipients, vec![HOSPITAL.to_string()]);
        assert_eq!(consent.on_behalf.unwrap().given_by, "Eva Nordmann, mother");
        let goals = server
            .goals(Some(&unit_staff()))
            .list_goals(proto::ListGoalsRequest { parent: plan.clone(), ..Default::default() })
            .await
            .unwrap()
            .into_inner()
            .goals;
        let texts: Vec<_> = goals.iter().map(|g| g.text.as_str()).collect();
        assert_eq!(texts, ["Komme hjem og klare meg selv", "Gå tur med hunden"]);
        assert!(goals.iter().all(|g| g.status == proto::GoalStatus::Proposed as i32));
        // The requester serves on the plan and follows it.
        server.get_plan(&referrer(), &plan).await;

        // The patient names whom they would like as coordinator.
        let etag = server.get_plan(&Who::Citizen(PATIENT), &plan).await.etag;
        let wished = server
            .coordinators(Some(&Who::Citizen(PATIENT)))
            .record_coordinator_wish(proto::RecordCoordinatorWishRequest {
                name: plan.clone(),
                etag,
                wish: Some(proto::CoordinatorWish {
                    display_name: "Liv Hansen".into(),
                    organisation: MUNICIPALITY.into(),
                    note: "She helped my mother".into(),
                    ..Default::default()
                }),
            })
            .await
            .unwrap()
            .into_inner()
            .plan
            .unwrap();
        // The unit that appoints sees the wish; so do the plan's other readers.
        let wish = server.get_plan(&unit_staff(), &plan).await.coordinator_wish.unwrap();
        assert_eq!(wish.display_name, "Liv Hansen");
        assert!(wish.record_time.is_some());
        assert_eq!(wished.coordinator_wish.unwrap().display_name, "Liv Hansen");

        // Unit staff see it in their list of plans lacking a coordinator.
        let lacking = work_list(&server, &unit_staff(), proto::AssignmentView::WithoutCoordinator).await;
        assert_eq!(lacking.len(), 1);
        assert_eq!(lacking[0].plan.as_ref().unwrap().name, plan);

        // The municipality accepts, appointing someone else, saying why.
        let accepted = server
            .referrals(Some(&unit_staff()))
            .accept_referral(proto::AcceptReferralRequest {
                name: sent.name.clone(),
                coordinator: Some(not_the_wish(&first_coordinator())),
                comment: "The goals need adjusting once the patient is home".into(),
            })
            .await
            .unwrap()
            .into_inner();
        let first = accepted.coordinator.unwrap();
        assert!(!first.wish_followed);
        assert_eq!(first.reason, "Liv Hansen has no capacity before spring");
        // The requester sees the outcome.
        let outcome = get_referral(&server, &referrer(), &sent.name).await.unwrap();
        assert_eq!(outcome.status, proto::ReferralStatus::Accepted as i32);
        assert_eq!(outcome.response, "The goals need adjusting once the patient is home");
        assert!(outcome.response_time.is_some());
        assert!(work_list(&server, &unit_staff(), proto::AssignmentView::WithoutCoordinator)
            .await
            .is_empty());

        // The coordinator's work list holds the plan; the patient consents to NAV and the
        // school, and the coordinator brings them onto the group.
        let mine = work_list(&server, &first_coordinator(), proto::AssignmentView::MyPlans).await;
        assert_eq!(mine.len(), 1);
        assert_eq!(mine[0].assignment.as_ref().unwrap().name, first.name);
        server.give_consent(&Who::Citizen(PATIENT), &plan, &[HOSPITAL, NAV, SCHOOL]).await;
        let nav_membership = server
            .add_member(&first_coordinator(), &plan, &nav(), proto::MemberRole::Nav)
            .await;
        let school_membership = server
            .add_member(&first_coordinator(), &plan, &teacher(), proto::MemberRole::School)
            .await;
        for (who, role) in [(nav(), proto::MemberRole::Nav), (teacher(), proto::MemberRole::School)] {
            server.get_plan(&who, &plan).await;
            let mine = my_plans(&server, &who).await;
            assert_eq!(mine.len(), 1, "{who:?} serves on one plan");
            assert_eq!(mine[0].plan.as_ref().unwrap().name, plan);
            assert_eq!(mine[0].membership.as_ref().unwrap().role, role as i32);
        }
        let coordinator_membership = first.member.clone();

        // A meeting is scheduled, held and minuted by the coordinator; members read it.
        let scheduled = server
            .members(Some(&first_coordinator()))
            .create_meeting(proto::CreateMeetingRequest {
                parent: plan.clone(),
                meeting: Some(proto::Meeting {
                    start_time: Some(prost_types::Timestamp { seconds: 1_795_000_000, nanos: 0 }),
                    location: "Helsehuset, møterom 2".into(),
                    agenda: "Hjemkomst; skoledag; arbeidsavklaring".into(),
                    invited_members: vec![
                        coordinator_membership.clone(),
                        nav_membership.clone(),
                        school_membership.clone(),
                    ],
                    ..Default::default()
                }),
            })
            .await
            .unwrap()
            .into_inner()
            .meeting
            .unwrap();
        let held = server
            .members(Some(&first_coordinator()))
            .update_meeting(proto::UpdateMeetingRequest {
                meeting: Some(proto::Meeting {
                    attended_members: vec![coordinator_membership.clone(), nav_membership.clone()],
                    minutes: "NAV starter arbeidsavklaring. Skolen melder forfall.".into(),
                    ..scheduled.clone()
                }),
                update_mask: mask(&["attended_members", "minutes"]),
            })
            .await
            .unwrap()
            .into_inner()
            .meeting
            .unwrap();
        assert_ne!(held.etag, scheduled.etag);
        let read = meeting(&server, &nav(), &held.name).await.unwrap();
        assert_eq!(read.minutes, "NAV starter arbeidsavklaring. Skolen melder forfall.");
        assert_eq!(read.attended_members, [coordinator_membership.clone(), nav_membership.clone()]);
        assert_eq!(
            code(&update_minutes(&server, &nav(), &held, "Endret av NAV").await),
            Code::PermissionDenied,
            "a member reads meetings but does not write them"
        );

        // The coordinator is replaced in one step; both appointments stay in history.
        let replaced = server
            .coordinators(Some(&unit_staff()))
            .replace_coordinator(proto::ReplaceCoordinatorRequest {
                parent: plan.clone(),
                assignment: Some(second_coordinator().as_assignment()),
                end_reason: "Coordinator A moves to another unit".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(replaced.ended.as_ref().unwrap().name, first.name);
        assert!(replaced.ended.as_ref().unwrap().end_time.is_some());
        let history = server.plan_assignments(&unit_staff(), &plan).await;
        assert_eq!(history.len(), 2);
        let ended = history.iter().find(|e| e.assignment.as_ref().unwrap().name == first.name).unwrap();
        assert_eq!(ended.assignment.as_ref().unwrap().end_reason, "Coordinator A moves to another unit");

        // The old coordinator lost write access, and read access with it; the new one has both.
        assert_eq!(
            code(&update_minutes(&server, &first_coordinator(), &held, "Etter at jeg sluttet").await),
            Code::NotFound
        );
        assert_eq!(
            meeting(&server, &first_coordinator(), &held.name).await.unwrap_err(),
            Code::NotFound
        );
        assert!(work_list(&server, &first_coordinator(), proto::AssignmentView::MyPlans).await.is_empty());
        let updated = update_minutes(&server, &second_coordinator(), &held, "Tillegg fra ny koordinator")
            .await
            .unwrap();
        assert_eq!(updated.minutes, "Tillegg fra ny koordinator");
        let mine = work_list(&server, &second_coordinator(), proto::AssignmentView::MyPlans).await;
        assert_eq!(mine.len(), 1);
        assert_eq!(mine[0].plan.as_ref().unwrap().name, plan);

        // NAV leaves the group: the plan, its meetings and their work list close to them.
        let etag = server
            .members(Some(&second_coordinator()))
            .list_members(proto::ListMembersRequest { parent: plan.clone(), ..Default::default() })
            .await
            .unwrap()
            .into_inner()
            .members
            .into_iter()
            .find(|m| m.name == nav_membership)
            .unwrap()
            .etag;
        server
            .members(Some(&second_coordinator()))
            .remove_member(proto::RemoveMemberRequest { name: nav_membership.clone(), etag })
            .await
            .unwrap();
        let gone = server
            .plans(Some(&nav()))
            .get_plan(proto::GetPlanRequest { name: plan.clone(), revision: 0 })
            .await;
        assert_eq!(code(&gone), Code::NotFound);
        assert_eq!(meeting(&server, &nav(), &held.name).await.unwrap_err(), Code::NotFound);
        assert!(my_plans(&server, &nav()).await.is_empty());
        // The school still serves.
        assert_eq!(my_plans(&server, &teacher()).await.len(), 1);
    }
}

on_both_backends! {
    /// A patient who wants a coordinator but no plan: the plan is created DECLINED, and the
    /// municipality can still appoint one.
    async fn coordinator_without_a_plan(server: TestServer) {
        grants(&server).await;
        let sent = send_referral(&server, false).await;
        let plan = server.get_plan(&unit_staff(), &sent.plan).await;
        assert_eq!(plan.status, proto::PlanStatus::Declined as i32);
        server
            .referrals(Some(&unit_staff()))
            .accept_referral(proto::AcceptReferralRequest {
                name: sent.name.clone(),
                coordinator: Some(first_coordinator().as_assignment()),
                comment: String::new(),
            })
            .await
            .expect("a declined plan can have a coordinator");
        server.get_plan(&first_coordinator(), &sent.plan).await;
    }
}

on_both_backends! {
    /// CancelMeeting: with a reason, by the coordinator; the meeting stays listed, marked
    /// cancelled, in the plan's history, and takes no more changes.
    async fn cancelled_meetings_stay_listed_and_take_no_changes(server: TestServer) {
        grants(&server).await;
        let sent = send_referral(&server, true).await;
        let accepted = server
            .referrals(Some(&unit_staff()))
            .accept_referral(proto::AcceptReferralRequest {
                name: sent.name.clone(),
                coordinator: Some(first_coordinator().as_assignment()),
                comment: String::new(),
            })
            .await
            .expect("accepting the referral")
            .into_inner();
        let coordinator_membership = accepted.coordinator.unwrap().member;
        let meetings = server.members(Some(&first_coordinator()));
        let scheduled = meetings
            .clone()
            .create_meeting(proto::CreateMeetingRequest {
                parent: sent.plan.clone(),
                meeting: Some(proto::Meeting {
                    start_time: Some(prost_types::Timestamp { seconds: 1_795_000_000, nanos: 0 }),
                    location: "Helsehuset, møterom 2".into(),
                    invited_members: vec![coordinator_membership],
                    ..Default::default()
                }),
            })
            .await
            .unwrap()
            .into_inner()
            .meeting
            .unwrap();
        let cancel = |etag: &str, reason: &str| {
            let mut client = meetings.clone();
            let request = proto::CancelMeetingRequest {
                name: scheduled.name.clone(),
                etag: etag.into(),
                reason: reason.into(),
            };
            async move { client.cancel_meeting(request).await }
        };

        let no_reason = cancel(&scheduled.etag, "").await.unwrap_err();
        assert_eq!(no_reason.code(), Code::InvalidArgument);
        assert_eq!(violated_fields(&no_reason), ["reason"]);
        let stale = cancel("999", "Koordinator er syk").await.unwrap_err();
        assert_eq!(stale.code(), Code::Aborted);

        let cancelled = cancel(&scheduled.etag, "Koordinator er syk")
            .await
            .expect("the coordinator cancels the meeting")
            .into_inner()
            .meeting
            .unwrap();
        assert!(cancelled.cancel_time.is_some());
        assert_eq!(cancelled.cancel_reason, "Koordinator er syk");
        assert_ne!(cancelled.etag, scheduled.etag);
        let listed = meetings
            .clone()
            .list_meetings(proto::ListMeetingsRequest {
                parent: sent.plan.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .meetings;
        assert_eq!(listed.len(), 1, "a cancelled meeting stays on the list");
        assert_eq!(listed[0].cancel_reason, "Koordinator er syk");

        let again = cancel(&cancelled.etag, "Igjen").await.unwrap_err();
        assert_eq!(again.code(), Code::FailedPrecondition);
        let changed = update_minutes(&server, &first_coordinator(), &cancelled, "Ingen møte")
            .await
            .unwrap_err();
        assert_eq!(changed.code(), Code::FailedPrecondition);

        let history = server
            .plans(Some(&unit_staff()))
            .list_plan_revisions(proto::ListPlanRevisionsRequest {
                parent: sent.plan.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .revisions;
        let last = history.last().unwrap();
        assert_eq!(last.changes, [format!("meeting cancelled: {}", scheduled.name)]);
    }
}

on_both_backends! {
    /// Referrals the municipality returns: the requester sees the reason; the referral cannot
    /// be accepted afterwards; both sides list what they may read.
    async fn returned_referral(server: TestServer) {
        grants(&server).await;
        let sent = send_referral(&server, true).await;
        let returned = server
            .referrals(Some(&unit_staff()))
            .return_referral(proto::ReturnReferralRequest {
                name: sent.name.clone(),
                reason: "The patient lives in another municipality".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .referral
            .unwrap();
        assert_eq!(returned.status, proto::ReferralStatus::Returned as i32);
        let seen = get_referral(&server, &referrer(), &sent.name).await.unwrap();
        assert_eq!(seen.response, "The patient lives in another municipality");
        let assignments = server.row_count("coordinator_assignments").await;
        let late = server
            .referrals(Some(&unit_staff()))
            .accept_referral(proto::AcceptReferralRequest {
                name: sent.name.clone(),
                coordinator: Some(first_coordinator().as_assignment()),
                comment: String::new(),
            })
            .await;
        let status = late.unwrap_err();
        assert_eq!(status.code(), Code::FailedPrecondition);
        assert!(status.message().contains("returned"), "{}", status.message());
        assert_eq!(server.row_count("coordinator_assignments").await, assignments);
        let again = server
            .referrals(Some(&unit_staff()))
            .return_referral(proto::ReturnReferralRequest {
                name: sent.name.clone(),
                reason: "Returned twice".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(again.code(), Code::FailedPrecondition);
        let seen = get_referral(&server, &referrer(), &sent.name).await.unwrap();
        assert_eq!(seen.response, "The patient lives in another municipality");
        for who in [referrer(), unit_staff()] {
            let listed = server
                .referrals(Some(&who))
                .list_referrals(proto::ListReferralsRequest::default())
                .await
                .unwrap()
                .into_inner()
                .referrals;
            assert_eq!(listed.len(), 1, "{who:?}");
            assert_eq!(listed[0].name, sent.name);
        }
        let stranger = server
            .referrals(Some(&Who::Personnel("unit-staff-b", OTHER_MUNICIPALITY)))
            .list_referrals(proto::ListReferralsRequest::default())
            .await
            .unwrap()
            .into_inner()
            .referrals;
        assert!(stranger.is_empty());
    }
}

on_both_backends! {
    /// The local rule shipped in the policy: staff granted `ward_staff` in the organisation they
    /// would act for cannot be appointed coordinator of its plans; a colleague without the role
    /// can. A coordinator acts for the plan's responsible organisation, here a health trust.
    async fn ward_staff_are_barred_from_coordinating(server: TestServer) {
        let hospital_staff = Who::Personnel("hospital-unit-staff", HOSPITAL);
        server.bootstrap_grant(HOSPITAL, &hospital_staff.subject(), OrgRole::UnitStaff).await;
        let ward_nurse = Who::Personnel("ward-nurse", HOSPITAL);
        server.bootstrap_grant(HOSPITAL, &ward_nurse.subject(), OrgRole::WardStaff).await;
        let plan = server.create_plan(&hospital_staff, HOSPITAL, PATIENT).await;
        let (assignments, members) =
            (server.row_count("coordinator_assignments").await, server.row_count("members").await);
        let barred = server
            .coordinators(Some(&hospital_staff))
            .appoint_coordinator(proto::AppointCoordinatorRequest {
                parent: plan.clone(),
                assignment: Some(ward_nurse.as_assignment()),
            })
            .await
            .unwrap_err();
        assert_eq!(barred.code(), Code::FailedPrecondition);
        assert!(barred.message().contains("local rule"), "{}", barred.message());
        assert_eq!(server.row_count("coordinator_assignments").await, assignments);
        assert_eq!(server.row_count("members").await, members);
        server
            .appoint_coordinator(&hospital_staff, &plan, &Who::Personnel("liaison-nurse", HOSPITAL))
            .await;
    }
}

on_both_backends! {
    /// Two unit staff appointing at once: exactly one appointment wins, the other is told the
    /// plan has a coordinator.
    async fn concurrent_appointments(server: TestServer) {
        grants(&server).await;
        let plan = server.create_plan(&unit_staff(), MUNICIPALITY, PATIENT).await;
        let appoint = |who: Who| {
            let server = server.clone();
            let plan = plan.clone();
            async move {
                server
                    .coordinators(Some(&unit_staff()))
                    .appoint_coordinator(proto::AppointCoordinatorRequest {
                        parent: plan,
                        assignment: Some(who.as_assignment()),
                    })
                    .await
            }
        };
        let (a, b) = tokio::join!(
            tokio::spawn(appoint(first_coordinator())),
            tokio::spawn(appoint(second_coordinator()))
        );
        let mut codes = [code(&a.unwrap()), code(&b.unwrap())];
        codes.sort_by_key(|c| *c as i32);
        assert_eq!(codes, [Code::Ok, Code::FailedPrecondition]);
        assert_eq!(server.row_count("coordinator_assignments").await, 1);
    }
}

on_both_backends! {
    /// Bad input and wrong states: the right code, the field or state named, nothing written.
    async fn bad_input_to_coordination(server: TestServer) {
        grants(&server).await;
        let patient = Who::Citizen(PATIENT);
        let plan = server.create_plan(&unit_staff(), MUNICIPALITY, PATIENT).await;
        let coordinator = server.appoint_coordinator(&unit_staff(), &plan, &first_coordinator()).await;
        let other = server.create_plan(&unit_staff(), MUNICIPALITY, OTHER_PATIENT).await;
        let foreign = server.appoint_coordinator(&unit_staff(), &other, &second_coordinator()).await;
        let counts = || async {
            let mut all = Vec::new();
            for table in [
                "coordinator_assignments",
                "members",
                "meetings",
                "referrals",
                "plans",
                "goals",
                "consents",
                "plan_revisions",
            ] {
                all.push(server.row_count(table).await);
            }
            all
        };
        // Runs a call that must be refused, checks it wrote nothing, and returns its status.
        macro_rules! refused {
            ($call:expr) => {{
                let before = counts().await;
                let result = $call.await;
                assert_eq!(counts().await, before, "a refused call wrote");
                result.expect_err("the call must be refused")
            }};
        }
        let coordinators = server.coordinators(Some(&unit_staff()));
        let meetings = server.members(Some(&first_coordinator()));

        // A second coordinator while one is appointed.
        let twice = refused!(coordinators.clone().appoint_coordinator(proto::AppointCoordinatorRequest {
            parent: plan.clone(),
            assignment: Some(second_coordinator().as_assignment()),
        }));
        assert_eq!(twice.code(), Code::FailedPrecondition);
        assert!(twice.message().contains("has a coordinator"), "{}", twice.message());

        // An appointment that does not follow the wish must say why; fields are named.
        let bad = refused!(coordinators.clone().replace_coordinator(proto::ReplaceCoordinatorRequest {
            parent: plan.clone(),
            assignment: Some(proto::CoordinatorAssignment {
                wish_followed: false,
                organisation: "123".into(),
                display_name: String::new(),
                ..second_coordinator().as_assignment()
            }),
            end_reason: String::new(),
        }));
        assert_eq!(bad.code(), Code::InvalidArgument);
        assert_eq!(
            violated_fields(&bad),
            [
                "assignment.display_name",
                "assignment.organisation",
                "assignment.reason",
                "end_reason"
            ]
        );

        // Replacing where there is nobody to replace.
        let empty = server.create_plan(&unit_staff(), MUNICIPALITY, YET_ANOTHER_PATIENT).await;
        let nobody = refused!(coordinators.clone().replace_coordinator(proto::ReplaceCoordinatorRequest {
            parent: empty.clone(),
            assignment: Some(second_coordinator().as_assignment()),
            end_reason: "Nobody".into(),
        }));
        assert_eq!(nobody.code(), Code::FailedPrecondition);

        // Replacing the coordinator with themselves would end and begin the same appointment.
        let same = refused!(coordinators.clone().replace_coordinator(proto::ReplaceCoordinatorRequest {
            parent: plan.clone(),
            assignment: Some(first_coordinator().as_assignment()),
            end_reason: "The same again".into(),
        }));
        assert_eq!(same.code(), Code::FailedPrecondition);
        assert!(same.message().contains("coordinator already"), "{}", same.message());

        // A wish with no name, on a plan the caller does not own.
        let etag = server.get_plan(&patient, &plan).await.etag;
        let no_name = refused!(server.coordinators(Some(&patient)).record_coordinator_wish(
            proto::RecordCoordinatorWishRequest {
                name: plan.clone(),
                etag: etag.clone(),
                wish: Some(proto::CoordinatorWish {
                    organisation: "not a number".into(),
                    ..Default::default()
                }),
            }
        ));
        assert_eq!(violated_fields(&no_name), ["wish.display_name", "wish.organisation"]);
        let wish = |etag: &str| proto::RecordCoordinatorWishRequest {
            name: plan.clone(),
            etag: etag.into(),
            wish: Some(proto::CoordinatorWish {
                display_name: "Liv Hansen".into(),
                ..Default::default()
            }),
        };
        server
            .coordinators(Some(&patient))
            .record_coordinator_wish(wish(&etag))
            .await
            .unwrap();
        let stale_wish = refused!(server.coordinators(Some(&patient)).record_coordinator_wish(
            proto::RecordCoordinatorWishRequest {
                name: plan.clone(),
                etag: etag.clone(),
                wish: Some(proto::CoordinatorWish {
                    display_name: "Liv Hansen".into(),
                    ..Default::default()
                }),
            }
        ));
        assert_eq!(stale_wish.code(), Code::Aborted);

        // Coordinators come only through AppointCoordinator; a member twice is refused.
        let as_member = refused!(server.members(Some(&unit_staff())).add_member(proto::AddMemberRequest {
            parent: plan.clone(),
            member: Some(second_coordinator().as_member(proto::MemberRole::Coordinator)),
        }));
        assert_eq!(as_member.code(), Code::InvalidArgument);
        assert_eq!(violated_fields(&as_member), ["member.role"]);
        server.add_member(&unit_staff(), &plan, &nav(), proto::MemberRole::Nav).await;
        let again = refused!(server.members(Some(&unit_staff())).add_member(proto::AddMemberRequest {
            parent: plan.clone(),
            member: Some(nav().as_member(proto::MemberRole::Nav)),
        }));
        assert_eq!(again.code(), Code::AlreadyExists);

        // Meetings: no time, neither place nor link, a bad link, a member of another plan,
        // attendance by someone not invited.
        let no_time = refused!(meetings.clone().create_meeting(proto::CreateMeetingRequest {
            parent: plan.clone(),
            meeting: Some(proto::Meeting {
                video_link: "http://insecure.example/room".into(),
                invited_members: vec![foreign.member.clone()],
                attended_members: vec![coordinator.member.clone()],
                ..Default::default()
            }),
        }));
        assert_eq!(no_time.code(), Code::InvalidArgument);
        assert_eq!(
            violated_fields(&no_time),
            [
                "meeting.start_time",
                "meeting.video_link",
                "meeting.invited_members[0]",
                "meeting.location",
                "meeting.attended_members[0]"
            ]
        );
        let scheduled = meetings
            .clone()
            .create_meeting(proto::CreateMeetingRequest {
                parent: plan.clone(),
                meeting: Some(proto::Meeting {
                    start_time: Some(prost_types::Timestamp { seconds: 1_795_000_000, nanos: 0 }),
                    video_link: "https://video.example/rom-7".into(),
                    invited_members: vec![coordinator.member.clone()],
                    ..Default::default()
                }),
            })
            .await
            .unwrap()
            .into_inner()
            .meeting
            .unwrap();
        update_minutes(&server, &first_coordinator(), &scheduled, "Referat").await.unwrap();
        let stale = refused!(update_minutes(&server, &first_coordinator(), &scheduled, "Eldre referat"));
        assert_eq!(stale.code(), Code::Aborted);
        let unknown = refused!(meetings.clone().update_meeting(proto::UpdateMeetingRequest {
            meeting: Some(scheduled.clone()),
            update_mask: mask(&["create_time", "colour"]),
        }));
        assert_eq!(unknown.code(), Code::InvalidArgument);
        assert_eq!(violated_fields(&unknown), ["update_mask", "update_mask"]);

        // A referral without the patient's consent to share, and with nothing to go on.
        let no_consent = refused!(server.referrals(Some(&referrer())).create_referral(
            proto::CreateReferralRequest {
                referral: Some(proto::Referral {
                    consent_to_share: false,
                    patient_id: "12345678901".into(),
                    municipality: String::new(),
                    patient_goals: vec![String::new()],
                    answered_on_behalf: Some(proto::AnsweredOnBehalf::default()),
                    ..referral(true)
                }),
            }
        ));
        assert_eq!(no_consent.code(), Code::InvalidArgument);
        assert_eq!(
            violated_fields(&no_consent),
            [
                "referral.municipality",
                "referral.patient_id",
                "referral.consent_to_share",
                "referral.patient_goals[0]",
                "referral.answered_on_behalf.given_by",
                "referral.answered_on_behalf.reason"
            ]
        );

        // Accepting twice.
        let sent = send_referral(&server, true).await;
        let accept = |who: Who| proto::AcceptReferralRequest {
            name: sent.name.clone(),
            coordinator: Some(who.as_assignment()),
            comment: String::new(),
        };
        server
            .referrals(Some(&unit_staff()))
            .accept_referral(accept(Who::Personnel("coordinator-c", MUNICIPALITY)))
            .await
            .unwrap();
        let second = refused!(server
            .referrals(Some(&unit_staff()))
            .accept_referral(accept(Who::Personnel("coordinator-d", MUNICIPALITY))));
        assert_eq!(second.code(), Code::FailedPrecondition);
        assert!(second.message().contains("accepted"), "{}", second.message());

        // Appointing on a closed plan.
        server.give_consent(&patient, &plan, &[]).await;
        server
            .change_status(&first_coordinator(), &unit_staff(), &plan, proto::PlanStatus::Active, "")
            .await
            .unwrap();
        server
            .change_status(&first_coordinator(), &unit_staff(), &plan, proto::PlanStatus::Closed, "Moved away")
            .await
            .unwrap();
        let closed = refused!(coordinators.clone().replace_coordinator(proto::ReplaceCoordinatorRequest {
            parent: plan.clone(),
            assignment: Some(second_coordinator().as_assignment()),
            end_reason: "Too late".into(),
        }));
        assert_eq!(closed.code(), Code::FailedPrecondition);
        assert!(closed.message().contains("PLAN_STATUS_CLOSED"), "{}", closed.message());
        // The current coordinator survived the refused replacement.
        let current = coordinators
            .clone()
            .list_coordinator_assignments(proto::ListCoordinatorAssignmentsRequest {
                parent: plan.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .entries;
        assert_eq!(current.len(), 1);
        assert!(current[0].assignment.as_ref().unwrap().end_time.is_none());
    }
}

on_both_backends! {
    /// A coordinator's work list puts overdue reviews first, then the nearest review, then
    /// plans without a review date, and pages through them; ListMyPlans pages too and carries
    /// the caller's role.
    async fn work_lists_put_overdue_reviews_first(server: TestServer) {
        grants(&server).await;
        let coordinator = first_coordinator();
        let mut plans = Vec::new();
        for patient in [PATIENT, OTHER_PATIENT, YET_ANOTHER_PATIENT] {
            let plan = server.create_plan(&unit_staff(), MUNICIPALITY, patient).await;
            server.appoint_coordinator(&unit_staff(), &plan, &coordinator).await;
            plans.push(plan);
        }
        for (plan, date) in [(&plans[1], day(2030, 6, 1)), (&plans[2], day(2020, 1, 1))] {
            server
                .update_plan(&coordinator, &coordinator, plan, &["next_review_date"], |p| {
                    p.next_review_date = date
                })
                .await
                .unwrap();
        }
        let page = |token: String| {
            let server = server.clone();
            let coordinator = coordinator.clone();
            async move {
                server
                    .coordinators(Some(&coordinator))
                    .list_coordinator_assignments(proto::ListCoordinatorAssignmentsRequest {
                        view: proto::AssignmentView::MyPlans as i32,
                        page_size: 2,
                        page_token: token,
                        ..Default::default()
                    })
                    .await
                    .unwrap()
                    .into_inner()
            }
        };
        let first = page(String::new()).await;
        assert!(!first.next_page_token.is_empty());
        let second = page(first.next_page_token.clone()).await;
        assert!(second.next_page_token.is_empty());
        let order: Vec<_> = first
            .entries
            .iter()
            .chain(&second.entries)
            .map(|e| (e.plan.as_ref().unwrap().name.clone(), e.review_overdue))
            .collect();
        assert_eq!(
            order,
            [
                (plans[2].clone(), true),
                (plans[1].clone(), false),
                (plans[0].clone(), false)
            ]
        );

        let mine = server
            .members(Some(&coordinator))
            .list_my_plans(proto::ListMyPlansRequest { page_size: 2, ..Default::default() })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(mine.plans.len(), 2);
        assert!(mine
            .plans
            .iter()
            .all(|p| p.membership.as_ref().unwrap().role == proto::MemberRole::Coordinator as i32));
        let rest = server
            .members(Some(&coordinator))
            .list_my_plans(proto::ListMyPlansRequest {
                page_size: 2,
                page_token: mine.next_page_token,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(rest.plans.len(), 1);
        assert!(rest.next_page_token.is_empty());
        // Unit staff serve on none of them: their list is empty, not the organisation's plans.
        assert!(my_plans(&server, &unit_staff()).await.is_empty());
    }
}
