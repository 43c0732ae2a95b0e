//! Hostile input costs no more than it sends and means the same on both databases: each
//! reported instance as a named test.

use samvirke::domain::organisation::OrgRole;
use samvirke::proto;
use tonic::{Code, Status};

use super::common::*;

/// The bytes an error puts on the wire: its message and its details, as base64 in the
/// `grpc-status-details-bin` trailer.
fn error_bytes(status: &Status) -> usize {
    status.message().len() + status.details().len().div_ceil(3) * 4
}

/// The patient's plan with a coordinator.
async fn world(server: &TestServer) -> (String, String) {
    server.bootstrap_grant(MUNICIPALITY, &staff().subject(), OrgRole::UnitStaff).await;
    let plan = server.create_plan(&staff(), MUNICIPALITY, PATIENT).await;
    let membership =
        server.add_member(&staff(), &plan, &coordinator(), proto::MemberRole::Coordinator).await;
    (plan, membership)
}

/// Instance 1: a megabyte of invalid enum values in ListPlans' `statuses` came back as a 69 MB
/// error after seconds. Now the filter is refused by its length before any value is read.
async fn megabyte_of_statuses(backend: samvirke::store::Backend) {
    let server = TestServer::start(backend).await;
    let stranger = Who::Citizen(STRANGER);
    let status = server
        .plans(Some(&stranger))
        .list_plans(proto::ListPlansRequest { statuses: vec![99; 1_000_000], ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["statuses"]);
    assert!(error_bytes(&status) < 4096, "{} bytes", error_bytes(&status));
    // A few dozen bad values by a legitimate client: each named, the error still small.
    let status = server
        .plans(Some(&stranger))
        .list_plans(proto::ListPlansRequest {
            statuses: vec![99; 4],
            page_size: -1,
            page_token: "x".repeat(10_000),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&status),
        ["page_size", "page_token", "statuses[0]", "statuses[1]", "statuses[2]", "statuses[3]"]
    );
    assert!(!status.message().contains("statuses[1]"), "the message does not repeat the list");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_megabyte_of_bad_statuses_gets_a_small_error_sqlite() {
    megabyte_of_statuses(samvirke::store::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_megabyte_of_bad_statuses_gets_a_small_error_postgres() {
    megabyte_of_statuses(samvirke::store::Backend::Postgres).await;
}

on_both_backends! {
    /// More violations than an error names: the first twenty and a count of the rest.
    async fn many_bad_fields_are_named_twenty_at_a_time(server: TestServer) {
        let (plan, _) = world(&server).await;
        let etag = server.get_plan(&staff(), &plan).await.etag;
        let status = server
            .plans(Some(&staff()))
            .record_consent(proto::RecordConsentRequest {
                name: plan,
                etag,
                consent: Some(proto::Consent {
                    recipients: (0..100).map(|i| format!("bad-{i}")).collect(),
                    ..Default::default()
                }),
            })
            .await
            .unwrap_err();
        let fields = violated_fields(&status);
        assert_eq!(fields.len(), 21, "{fields:?}");
        assert_eq!(fields[0], "consent.recipients[0]");
        use tonic_types::StatusExt;
        let last = status.get_details_bad_request().unwrap().field_violations.pop().unwrap();
        assert_eq!(last.description, "and 81 more invalid fields, not named here");
        assert!(error_bytes(&status) < 4096);
    }
}

on_both_backends! {
    /// Instance 7: 10,000 copies of one member in `invited_members` were all stored.
    async fn a_meeting_invites_each_member_once(server: TestServer) {
        let (plan, membership) = world(&server).await;
        let meeting = |invited: Vec<String>| proto::CreateMeetingRequest {
            parent: plan.clone(),
            meeting: Some(proto::Meeting {
                start_time: Some(prost_types::Timestamp { seconds: 1_800_000_000, nanos: 0 }),
                location: "Helsehuset".into(),
                invited_members: invited,
                ..Default::default()
            }),
        };
        let meetings = server.row_count("meetings").await;
        let status = server
            .members(Some(&coordinator()))
            .create_meeting(meeting(vec![membership.clone(); 10_000]))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&status), ["meeting.invited_members"]);
        assert_eq!(server.row_count("meetings").await, meetings);
        let created = server
            .members(Some(&coordinator()))
            .create_meeting(meeting(vec![membership.clone(); 3]))
            .await
            .unwrap()
            .into_inner()
            .meeting
            .unwrap();
        assert_eq!(created.invited_members, [membership]);
    }
}

on_both_backends! {
    /// An update mask longer than the resource has fields is refused without reading a path,
    /// and a long path is not echoed back whole.
    async fn update_masks_are_bounded(server: TestServer) {
        let (plan, _) = world(&server).await;
        let current = server.get_plan(&staff(), &plan).await;
        let long = "x".repeat(100_000);
        for paths in [vec!["status".to_owned(); 10_000], vec![long.clone()]] {
            let status = server
                .plans(Some(&Who::Citizen(PATIENT)))
                .update_plan(proto::UpdatePlanRequest {
                    plan: Some(current.clone()),
                    update_mask: Some(prost_types::FieldMask { paths }),
                })
                .await
                .unwrap_err();
            assert_eq!(violated_fields(&status), ["update_mask"]);
            assert!(error_bytes(&status) < 4096);
        }
    }
}

on_both_backends! {
    /// Instance 2: a NUL in `video_link` was stored on SQLite and INTERNAL on PostgreSQL, and ESC
    /// and DEL were stored on both. Every text field now goes through one text type.
    async fn text_means_the_same_on_both_databases(server: TestServer) {
        let (plan, _) = world(&server).await;
        let meetings = server.row_count("meetings").await;
        for (field, link, location) in [
            ("meeting.video_link", "https://meet.example.no/rom\u{0}x", "Helsehuset"),
            ("meeting.video_link", "https://meet.example.no/rom\u{1b}x", "Helsehuset"),
            ("meeting.video_link", "https://meet.example.no/rom\u{7f}x", "Helsehuset"),
            ("meeting.video_link", "https://", "Helsehuset"),
            ("meeting.location", "https://meet.example.no/rom", "Helse\u{0}huset"),
            ("meeting.location", "https://meet.example.no/rom", "Helse\u{202e}huset"),
        ] {
            let status = server
                .members(Some(&coordinator()))
                .create_meeting(proto::CreateMeetingRequest {
                    parent: plan.clone(),
                    meeting: Some(proto::Meeting {
                        start_time: Some(prost_types::Timestamp { seconds: 1_800_000_000, nanos: 0 }),
                        location: location.into(),
                        video_link: link.into(),
                        ..Default::default()
                    }),
                })
                .await
                .unwrap_err();
            assert_eq!(violated_fields(&status), [field], "{link:?} {location:?}");
        }
        assert_eq!(server.row_count("meetings").await, meetings);
    }
}

on_both_backends! {
    /// Instance 3: a section written in decomposed Unicode (`A` + combining ring) printed `A?`
    /// in the PDF. Text is stored in NFC.
    async fn decomposed_letters_are_stored_and_printed_as_one(server: TestServer) {
        let (plan, _) = world(&server).await;
        let patient = Who::Citizen(PATIENT);
        let written = server
            .update_plan(&patient, &patient, &plan, &["sections.important_to_me"], |p| {
                p.sections.get_or_insert_default().important_to_me =
                    "A\u{030a}se og O\u{0308}ystein\r\nkommer".into();
            })
            .await
            .unwrap();
        let stored = written.sections.unwrap().important_to_me;
        assert_eq!(stored, "\u{00c5}se og \u{00d6}ystein\nkommer");
        let pdf = server
            .plans(Some(&patient))
            .export_plan(proto::ExportPlanRequest { name: plan })
            .await
            .unwrap()
            .into_inner()
            .content;
        let text = pdf_text(&pdf);
        assert!(text.contains("\u{00c5}se og \u{00d6}ystein"), "{text}");
    }
}

on_both_backends! {
    /// Instance 4: a patient with birth month 13 and right control digits got a plan.
    async fn identity_numbers_need_a_real_birth_date(server: TestServer) {
        world(&server).await;
        let plans = server.row_count("plans").await;
        for number in ["15138013453", "30028010091", "29020000064"] {
            let status = server
                .plans(Some(&staff()))
                .create_plan(new_plan_of(MUNICIPALITY, number))
                .await
                .unwrap_err();
            assert_eq!(violated_fields(&status), ["plan.patient_id"], "{number}");
            assert!(!status.message().contains(number));
        }
        assert_eq!(server.row_count("plans").await, plans);
    }
}

on_both_backends! {
    /// Instance 5: a ListPlans page token, reused with a filter added, was accepted. A token
    /// continues only the query it came from: the same RPC, parent and filters.
    async fn a_page_token_continues_only_its_own_query(server: TestServer) {
        let (plan, _) = world(&server).await;
        server.create_plan(&staff(), MUNICIPALITY, OTHER_PATIENT).await;
        let first = server
            .plans(Some(&staff()))
            .list_plans(proto::ListPlansRequest { page_size: 1, ..Default::default() })
            .await
            .unwrap()
            .into_inner();
        let token = first.next_page_token;
        assert!(!token.is_empty());
        // The same query continues, whatever the page size.
        let second = server
            .plans(Some(&staff()))
            .list_plans(proto::ListPlansRequest { page_size: 5, page_token: token.clone(), ..Default::default() })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(second.plans.len(), 1);
        let filtered = server
            .plans(Some(&staff()))
            .list_plans(proto::ListPlansRequest {
                page_size: 1,
                page_token: token.clone(),
                statuses: vec![proto::PlanStatus::Active as i32],
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&filtered), ["page_token"]);
        let elsewhere = server
            .members(Some(&staff()))
            .list_members(proto::ListMembersRequest { parent: plan, page_size: 1, page_token: token.clone(), ..Default::default() })
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&elsewhere), ["page_token"]);
        let complaints = server
            .complaints(Some(&staff()))
            .list_complaints(proto::ListComplaintsRequest { page_token: token, ..Default::default() })
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&complaints), ["page_token"]);
    }
}

on_both_backends! {
    /// Instance 6: 200 goals of 2,000 characters grew the database by 42 MiB, because every
    /// change stored a copy of the whole plan. A plan holds at most 50 goals, and the history
    /// stores what each change changed: the database grows by at most five times what was sent.
    async fn the_history_grows_with_what_changed(server: TestServer) {
        use prost::Message;
        let (plan, _) = world(&server).await;
        let patient = Who::Citizen(PATIENT);
        let tables_before = server.table_bytes().await;
        let before = server.database_bytes().await;
        let mut sent = 0;
        for i in 0..50 {
            let request = proto::CreateGoalRequest {
                parent: plan.clone(),
                goal: Some(proto::Goal { text: prose(2000, i), priority: 1, ..Default::default() }),
            };
            sent += request.encoded_len() as i64;
            server.goals(Some(&patient)).create_goal(request).await.unwrap();
        }
        let grown = server.database_bytes().await - before;
        eprintln!("{:?}: 50 goals, {sent} bytes sent, the database grew by {grown}", server.backend);
        for ((table, after), (_, before)) in server.table_bytes().await.iter().zip(&tables_before) {
            if after != before {
                eprintln!("  {table}: {}", after - before);
            }
        }
        assert!(grown <= 5 * sent, "the database grew by {grown} bytes for {sent} sent");
        let full = server.create_goal(&patient, &plan, "Én til", 1).await.unwrap_err();
        assert_eq!(full.code(), tonic::Code::FailedPrecondition);
        assert!(full.message().contains("50 goals"), "{}", full.message());
    }
}

on_both_backends! {
    /// The history rebuilt from what each change changed is exactly the plan as it was after
    /// each change: sections, goals changed and deleted, measures and their evaluations.
    async fn every_revision_is_the_plan_as_it_was(server: TestServer) {
        let (plan, membership) = world(&server).await;
        let patient = Who::Citizen(PATIENT);
        let read = |revision: i64| {
            let server = server.clone();
            let plan = plan.clone();
            async move {
                server
                    .plans(Some(&staff()))
                    .get_plan(proto::GetPlanRequest { name: plan, revision })
                    .await
                    .unwrap()
                    .into_inner()
            }
        };
        let mut seen = vec![read(0).await];
        let first = server.create_goal(&patient, &plan, "Bo hjemme", 1).await.unwrap();
        seen.push(read(0).await);
        let second = server.create_goal(&patient, &plan, "Gå tur", 2).await.unwrap();
        seen.push(read(0).await);
        server
            .update_plan(&patient, &patient, &plan, &["sections.important_to_me"], |p| {
                p.sections.get_or_insert_default().important_to_me = "Familien".into();
            })
            .await
            .unwrap();
        seen.push(read(0).await);
        server
            .update_goal(&patient, &patient, &first.name, &["text"], "Klarere", |g| g.text = "Bo hjemme lenge".into())
            .await
            .unwrap();
        seen.push(read(0).await);
        let measure = server
            .create_measure(&coordinator(), &plan, &first.name, &membership, "Hjemmebesøk")
            .await
            .unwrap();
        seen.push(read(0).await);
        server.evaluate_measure(&coordinator(), &coordinator(), &measure.name, "Gikk bra").await.unwrap();
        seen.push(read(0).await);
        server.evaluate_measure(&coordinator(), &coordinator(), &measure.name, "Gikk fint").await.unwrap();
        seen.push(read(0).await);
        server
            .goals(Some(&patient))
            .delete_goal(proto::DeleteGoalRequest { name: second.name.clone(), etag: second.etag.clone() })
            .await
            .unwrap();
        seen.push(read(0).await);
        for then in seen {
            let revision = then.plan.as_ref().unwrap().revision;
            let rebuilt = read(revision).await;
            assert_eq!(rebuilt.goals, then.goals, "revision {revision}");
            assert_eq!(rebuilt.measures, then.measures, "revision {revision}");
            let (mut a, mut b) = (rebuilt.plan.unwrap(), then.plan.unwrap());
            // The plan's update time is the revision's: within the change that made it.
            assert!(a.update_time.is_some());
            a.update_time = None;
            b.update_time = None;
            assert_eq!(a, b, "revision {revision}");
        }
    }
}

on_both_backends! {
    /// Found by trying: a goal deleted while a measure for it was created answered INTERNAL on
    /// PostgreSQL (a foreign key), and a member removed while made responsible for a new measure
    /// left a measure whose member had gone first. Every write to a plan now holds the plan's
    /// row from its first read, on both databases.
    async fn concurrent_changes_to_one_plan_happen_one_after_the_other(server: TestServer) {
        let (plan, membership) = world(&server).await;
        let patient = Who::Citizen(PATIENT);
        let mut both: Vec<(String, String)> = Vec::new();
        for round in 0..6 {
            let goal = server.create_goal(&patient, &plan, &format!("Mål {round}"), 1).await.unwrap();
            let nav = server
                .add_member(&staff(), &plan, &Who::Personnel("nav-adviser", NAV), proto::MemberRole::Nav)
                .await;
            let delete = {
                let server = server.clone();
                let goal = goal.clone();
                let patient = patient.clone();
                tokio::spawn(async move {
                    server
                        .goals(Some(&patient))
                        .delete_goal(proto::DeleteGoalRequest { name: goal.name, etag: goal.etag })
                        .await
                })
            };
            let remove = {
                let server = server.clone();
                let nav = nav.clone();
                tokio::spawn(async move {
                    server
                        .members(Some(&staff()))
                        .remove_member(proto::RemoveMemberRequest { name: nav, etag: String::new() })
                        .await
                })
            };
            let on_goal = server
                .create_measure(&coordinator(), &plan, &goal.name, &membership, "Besøk")
                .await;
            let deleted = delete.await.unwrap();
            let removed = remove.await.unwrap();
            let other_goal = server.create_goal(&patient, &plan, &format!("Annet {round}"), 2).await.unwrap();
            let by_nav = server
                .create_measure(&coordinator(), &plan, &other_goal.name, &nav, "NAV-møte")
                .await;
            for outcome in [code(&on_goal), code(&deleted), code(&removed), code(&by_nav)] {
                assert!(
                    matches!(outcome, Code::Ok | Code::InvalidArgument | Code::FailedPrecondition | Code::Aborted),
                    "round {round}: {outcome:?}"
                );
            }
            assert!(code(&deleted) == Code::Ok || code(&on_goal) == Code::Ok, "round {round}");
            if let (Ok(_), Ok(measure)) = (&removed, &by_nav) {
                both.push((nav.clone(), measure.name.clone()));
            }
            // Clean up what this round left, so the plan keeps room.
            for measure in server
                .measures(Some(&coordinator()))
                .list_measures(proto::ListMeasuresRequest { parent: plan.clone(), ..Default::default() })
                .await
                .unwrap()
                .into_inner()
                .measures
            {
                server
                    .measures(Some(&coordinator()))
                    .delete_measure(proto::DeleteMeasureRequest { name: measure.name, etag: measure.etag })
                    .await
                    .unwrap();
            }
        }
        // The history says what happened in the order it happened: a measure made with a
        // member responsible comes before that member's removal.
        let history = server
            .plans(Some(&staff()))
            .list_plan_revisions(proto::ListPlanRevisionsRequest { parent: plan, page_size: 500, ..Default::default() })
            .await
            .unwrap()
            .into_inner()
            .revisions;
        let revision_of = |needle: &str| {
            history
                .iter()
                .find(|r| r.changes.iter().any(|c| c.contains(needle)))
                .map(|r| r.revision)
        };
        for (member, measure) in both {
            let created = revision_of(&measure).expect("the measure's creation is in the history");
            let removed = revision_of(&format!("member removed: {member}")).expect("the removal");
            assert!(created < removed, "{measure} made after {member} left");
        }
    }
}

on_both_backends! {
    /// Found by trying: with long sections, each change of a contact stored the whole plan
    /// again. The plan's own fields, each section and the contacts are history items of their
    /// own.
    async fn changing_a_contact_stores_the_contacts(server: TestServer) {
        let (plan, _) = world(&server).await;
        let patient = Who::Citizen(PATIENT);
        server
            .update_plan(&patient, &patient, &plan, &["sections"], |p| {
                let s = p.sections.get_or_insert_default();
                s.important_to_me = prose(9_000, 1);
                s.resources_and_strengths = prose(9_000, 2);
                s.what_works_now = prose(9_000, 3);
                s.what_i_need = prose(9_000, 4);
                s.first_priority = prose(9_000, 5);
            })
            .await
            .unwrap();
        let before = server.database_bytes().await;
        for i in 0..20 {
            let mut input = server.get_plan(&patient, &plan).await;
            input.contacts = vec![proto::Contact {
                name: format!("Fastlege {i}"),
                phone: "22 22 22 22".into(),
                ..Default::default()
            }];
            let request = proto::UpdatePlanRequest { plan: Some(input), update_mask: mask(&["contacts"]) };
            server.plans(Some(&patient)).update_plan(request).await.unwrap();
        }
        let grown = server.database_bytes().await - before;
        eprintln!("{:?}: 20 contact changes on a plan of 45,000 characters grew the database by {grown}", server.backend);
        // Twenty copies of the sections would be some 900 KB; the contacts, revisions and access
        // log take a few pages.
        assert!(grown < 200_000, "grew by {grown}");
    }
}
