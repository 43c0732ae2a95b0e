//! The patient's language and need for an interpreter: recorded on the plan by those the policy
//! lets, kept in the history, printed in the export, booked for meetings, and a filter of the
//! coordinators' and the unit's work lists.

use samvirke::domain::organisation::OrgRole;
use samvirke::proto;
use tonic::Code;

use super::common::*;

fn needs(language: &str) -> Option<proto::InterpreterNeed> {
    Some(proto::InterpreterNeed { needed: true, language: language.into() })
}

/// A plan of the patient's with a coordinator, NAV on the group under consent, and a
/// representative.
async fn world(server: &TestServer) -> String {
    server.bootstrap_grant(MUNICIPALITY, &staff().subject(), OrgRole::UnitStaff).await;
    let plan = server.create_plan(&staff(), MUNICIPALITY, PATIENT).await;
    server.appoint_coordinator(&staff(), &plan, &coordinator()).await;
    server.add_member(&staff(), &plan, &nav(), proto::MemberRole::Nav).await;
    let patient = Who::Citizen(PATIENT);
    server.give_consent(&patient, &plan, &[NAV]).await;
    let representative = Who::Citizen(NEXT_OF_KIN);
    server.add_member(&patient, &plan, &representative, proto::MemberRole::Representative).await;
    plan
}

on_both_backends! {
    async fn the_plan_records_language_and_interpreter(server: TestServer) {
        let plan = world(&server).await;
        let patient = Who::Citizen(PATIENT);
        let before = server.get_plan(&patient, &plan).await;
        assert_eq!((before.preferred_language.as_str(), before.interpreter.is_none()), ("", true));

        let paths = ["preferred_language", "interpreter"];
        let set = server
            .update_plan(&patient, &patient, &plan, &paths, |p| {
                p.preferred_language = "UK".into();
                p.interpreter = needs("uk");
            })
            .await
            .unwrap();
        assert_eq!(set.preferred_language, "uk", "stored in the canonical spelling");
        assert_eq!(set.interpreter, needs("uk"));
        // Everyone who reads the plan sees it: NAV too.
        assert_eq!(server.get_plan(&nav(), &plan).await.interpreter, needs("uk"));

        // The history keeps what it was.
        let was = server
            .plans(Some(&patient))
            .get_plan(proto::GetPlanRequest { name: plan.clone(), revision: before.revision })
            .await
            .unwrap()
            .into_inner()
            .plan
            .unwrap();
        assert_eq!((was.preferred_language.as_str(), was.interpreter), ("", None));

        // The export prints it on its first page.
        let pdf = server
            .plans(Some(&patient))
            .export_plan(proto::ExportPlanRequest { name: plan.clone() })
            .await
            .unwrap()
            .into_inner()
            .content;
        let text = pdf_text(&pdf);
        assert!(text.contains("Preferred language: uk"), "{text}");
        assert!(text.contains("Interpreter needed: yes, for uk"), "{text}");

        // Clearing: no interpreter needed.
        let cleared = server
            .update_plan(&staff(), &patient, &plan, &["interpreter"], |p| p.interpreter = None)
            .await
            .unwrap();
        assert_eq!((cleared.interpreter, cleared.preferred_language.as_str()), (None, "uk"));
    }
}

on_both_backends! {
    /// Who may record it: the patient, their representative, the coordinator and the unit's
    /// staff; a member who reads the plan may not; a stranger finds no plan.
    async fn who_may_record_it(server: TestServer) {
        let plan = world(&server).await;
        let patient = Who::Citizen(PATIENT);
        for (who, expected) in [
            (patient.clone(), Code::Ok),
            (Who::Citizen(NEXT_OF_KIN), Code::Ok),
            (coordinator(), Code::Ok),
            (staff(), Code::Ok),
            (nav(), Code::PermissionDenied),
            (Who::Citizen(STRANGER), Code::NotFound),
            (Who::Personnel("doctor", HOSPITAL), Code::NotFound),
        ] {
            let set = server
                .update_plan(&who, &patient, &plan, &["preferred_language"], |p| {
                    p.preferred_language = "se".into()
                })
                .await;
            assert_eq!(code(&set), expected, "{who:?}");
        }
    }
}

on_both_backends! {
    async fn bad_tags_are_named_and_change_nothing(server: TestServer) {
        let plan = world(&server).await;
        let patient = Who::Citizen(PATIENT);
        let before = server.get_plan(&patient, &plan).await;
        for (language, interpreter, fields) in [
            ("norsk", None, vec!["plan.preferred_language"]),
            ("und", None, vec!["plan.preferred_language"]),
            ("nb-u-ca-buddhist", None, vec!["plan.preferred_language"]),
            ("nb", needs(""), vec!["plan.interpreter.language"]),
            ("nb", needs("klingon!"), vec!["plan.interpreter.language"]),
            (
                "x",
                Some(proto::InterpreterNeed { needed: false, language: "uk".into() }),
                vec!["plan.preferred_language", "plan.interpreter.language"],
            ),
        ] {
            let paths = ["preferred_language", "interpreter"];
            let refused = server
                .update_plan(&patient, &patient, &plan, &paths, |p| {
                    p.preferred_language = language.into();
                    p.interpreter = interpreter.clone();
                })
                .await
                .unwrap_err();
            assert_eq!(refused.code(), Code::InvalidArgument, "{language}: {refused:?}");
            assert_eq!(violated_fields(&refused), fields, "{language}");
        }
        assert_eq!(server.get_plan(&patient, &plan).await.etag, before.etag);
    }
}

on_both_backends! {
    async fn meetings_book_an_interpreter(server: TestServer) {
        let plan = world(&server).await;
        let meetings = |who: &Who| server.members(Some(who));
        let created = meetings(&coordinator())
            .create_meeting(proto::CreateMeetingRequest {
                parent: plan.clone(),
                meeting: Some(proto::Meeting {
                    start_time: Some(prost_types::Timestamp { seconds: 1_795_000_000, nanos: 0 }),
                    location: "Helsehuset".into(),
                    interpreter_booked: true,
                    ..Default::default()
                }),
            })
            .await
            .unwrap()
            .into_inner()
            .meeting
            .unwrap();
        assert!(created.interpreter_booked);
        let read = meetings(&Who::Citizen(PATIENT))
            .get_meeting(proto::GetMeetingRequest { name: created.name.clone() })
            .await
            .unwrap()
            .into_inner()
            .meeting
            .unwrap();
        assert!(read.interpreter_booked);
        let updated = meetings(&coordinator())
            .update_meeting(proto::UpdateMeetingRequest {
                meeting: Some(proto::Meeting { interpreter_booked: false, ..created }),
                update_mask: mask(&["interpreter_booked"]),
            })
            .await
            .unwrap()
            .into_inner()
            .meeting
            .unwrap();
        assert!(!updated.interpreter_booked);
    }
}

on_both_backends! {
    async fn work_lists_filter_plans_needing_an_interpreter(server: TestServer) {
        server.bootstrap_grant(MUNICIPALITY, &staff().subject(), OrgRole::UnitStaff).await;
        let mut plans = Vec::new();
        for patient in [PATIENT, OTHER_PATIENT] {
            plans.push(server.create_plan(&staff(), MUNICIPALITY, patient).await);
        }
        let reader = Who::Citizen(PATIENT);
        server
            .update_plan(&staff(), &reader, &plans[0], &["interpreter"], |p| p.interpreter = needs("ar"))
            .await
            .unwrap();
        let list = |who: Who, view: proto::AssignmentView, interpreter_needed: bool| {
            let server = server.clone();
            async move {
                let request = proto::ListCoordinatorAssignmentsRequest {
                    view: view as i32,
                    interpreter_needed,
                    ..Default::default()
                };
                let entries = server
                    .coordinators(Some(&who))
                    .list_coordinator_assignments(request)
                    .await
                    .unwrap()
                    .into_inner()
                    .entries;
                entries.into_iter().map(|e| e.plan.unwrap().name).collect::<Vec<_>>()
            }
        };
        let without = proto::AssignmentView::WithoutCoordinator;
        assert_eq!(list(staff(), without, false).await.len(), 2);
        assert_eq!(list(staff(), without, true).await, [plans[0].clone()]);
        for plan in &plans {
            server.appoint_coordinator(&staff(), plan, &coordinator()).await;
        }
        let mine = proto::AssignmentView::MyPlans;
        assert_eq!(list(coordinator(), mine, false).await.len(), 2);
        assert_eq!(list(coordinator(), mine, true).await, [plans[0].clone()]);

        // The filter is for work lists; a plan's own appointments are not filtered.
        let refused = server
            .coordinators(Some(&staff()))
            .list_coordinator_assignments(proto::ListCoordinatorAssignmentsRequest {
                parent: plans[0].clone(),
                interpreter_needed: true,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&refused), ["interpreter_needed"]);
    }
}
