//! PlanChangeService: an agency system follows the changes of the plans it may read, from a
//! cursor it keeps, across server nodes, and stops receiving a plan's changes the moment it
//! may no longer read the plan; a scoped member gets only what their sight shows; a change
//! that rolled back is no event.

use std::time::Duration;

use samvirke::domain::change::Position;
use samvirke::domain::organisation::OrgRole;
use samvirke::proto;
use tonic::Code;

use super::common::*;

/// The patient's plan with NAV on its group under the patient's consent.
async fn world(server: &TestServer) -> String {
    server.bootstrap_grant(MUNICIPALITY, &staff().subject(), OrgRole::UnitStaff).await;
    let plan = server.create_plan(&staff(), MUNICIPALITY, PATIENT).await;
    server.add_member(&staff(), &plan, &nav(), proto::MemberRole::Nav).await;
    server.give_consent(&Who::Citizen(PATIENT), &plan, &[NAV]).await;
    plan
}

async fn list(
    server: &TestServer,
    who: &Who,
    cursor: &str,
    plan: &str,
) -> Result<proto::ListPlanChangesResponse, tonic::Status> {
    let request =
        proto::ListPlanChangesRequest { cursor: cursor.into(), plan: plan.into(), page_size: 0 };
    server.plan_changes(Some(who)).list_plan_changes(request).await.map(|r| r.into_inner())
}

/// Reads the feed from `cursor` to its end; the changes and the cursor after them. On
/// PostgreSQL a change is delivered once every transaction older than it has ended, and the
/// tests' other transactions run beside it: the feed counts as read to its end once it has
/// given at least `expected` changes and then nothing for 300 ms.
async fn drain_expecting(
    server: &TestServer,
    who: &Who,
    cursor: &str,
    expected: usize,
) -> (Vec<proto::PlanChange>, String) {
    let mut cursor = cursor.to_owned();
    let mut all = Vec::new();
    let started = std::time::Instant::now();
    let mut quiet_since: Option<std::time::Instant> = None;
    loop {
        let page = list(server, who, &cursor, "").await.expect("listing changes");
        cursor = page.next_cursor;
        if !page.changes.is_empty() {
            all.extend(page.changes);
            quiet_since = None;
            continue;
        }
        let quiet = *quiet_since.get_or_insert_with(std::time::Instant::now);
        let settled = all.len() >= expected && quiet.elapsed() >= Duration::from_millis(300);
        if settled || started.elapsed() > Duration::from_secs(20) {
            return (all, cursor);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `drain_expecting` no change in particular.
async fn drain(server: &TestServer, who: &Who, cursor: &str) -> (Vec<proto::PlanChange>, String) {
    drain_expecting(server, who, cursor, 0).await
}

fn parts(change: &proto::PlanChange) -> Vec<proto::ChangedPart> {
    change.changed.iter().map(|c| c.part()).collect()
}

on_both_backends! {
    /// Done means: an agency client follows a plan's changes across a restart without missing
    /// one, and stops receiving them the moment consent is withdrawn.
    async fn an_agency_follows_changes_across_nodes_until_consent_is_withdrawn(server: TestServer) {
        let plan = world(&server).await;
        let patient = Who::Citizen(PATIENT);
        // From the start: every revision of the plan it may read now, oldest first.
        let latest = server.get_plan(&patient, &plan).await.revision;
        let (history, cursor) = drain_expecting(&server, &nav(), "", latest as usize).await;
        let revisions: Vec<i64> = history.iter().map(|c| c.revision).collect();
        assert_eq!(revisions, (1..=latest).collect::<Vec<_>>());
        assert!(history.iter().all(|c| c.plan == plan && !c.cursor.is_empty()));
        assert_eq!(parts(&history[0]), [proto::ChangedPart::Plan], "created");
        assert_eq!(parts(history.last().unwrap()), [proto::ChangedPart::Consent]);
        let consented = server.get_plan(&patient, &plan).await;
        assert_eq!(history.last().unwrap().plan_etag, consented.etag, "consent moves the etag");
        assert!(history.iter().rev().skip(1).any(|c| c.plan_etag.is_empty()), "adding NAV does not");

        // The patient writes and proposes a goal; a stale write rolls back and is no event.
        let written = server
            .update_plan(&patient, &patient, &plan, &["sections.important_to_me"], |p| {
                p.sections.get_or_insert_default().important_to_me = "Å bo hjemme".into();
            })
            .await
            .unwrap();
        let stale = server.plans(Some(&patient)).update_plan(important_to_me(&plan, "1", "Gammelt")).await;
        assert_eq!(code(&stale), Code::Aborted);
        let goal = server.create_goal(&patient, &plan, "Gå til butikken", 1).await.unwrap();

        // Another node, with nothing of the first in memory, continues from the cursor.
        let restarted = server.second_node().await;
        let (new, after) = drain_expecting(&restarted, &nav(), &cursor, 2).await;
        assert_eq!(new.iter().map(|c| c.revision).collect::<Vec<_>>(), [latest + 1, latest + 2]);
        assert_eq!(parts(&new[0]), [proto::ChangedPart::PatientSections]);
        assert_eq!(new[0].plan_etag, written.etag, "the plan's new etag");
        let changed_goal = &new[1].changed[0];
        assert_eq!(changed_goal.part(), proto::ChangedPart::Goal);
        assert_eq!((changed_goal.name.as_str(), changed_goal.etag.as_str()), (goal.name.as_str(), goal.etag.as_str()));
        assert_eq!(new[1].plan_etag, "", "the plan's own fields did not change");
        // At least once: the same cursor gives the same changes again.
        assert_eq!(drain_expecting(&server, &nav(), &cursor, 2).await.0, new);

        // Consent withdrawn: the withdrawal and everything after are not NAV's to see.
        server.withdraw_consent(&patient, &plan).await;
        server.create_goal(&patient, &plan, "Sove bedre", 2).await.unwrap();
        let (hidden, _) = drain(&restarted, &nav(), &after).await;
        assert!(hidden.is_empty(), "{hidden:#?}");
        let followed = list(&server, &nav(), &after, &plan).await;
        assert_eq!(code(&followed), Code::NotFound, "following the plan alone ends");
        // The patient sees every change, the withdrawal too, and that NAV followed the plan.
        let (own, _) = drain_expecting(&server, &patient, &after, 2).await;
        assert_eq!(own.len(), 2);
        let lines = server.access_events(Some(&patient)).list_access_events(proto::ListAccessEventsRequest {
            parent: plan.clone(), page_size: 500, ..Default::default()
        }).await.unwrap().into_inner().access_events;
        assert!(lines.iter().any(|e| e.description == "followed the plan's changes"), "{lines:#?}");
        restarted.stop().await;
    }
}

on_both_backends! {
    /// A stream delivers each change as it is made, and, following one plan, ends with
    /// NOT_FOUND once consent no longer covers the caller.
    async fn a_stream_delivers_changes_and_ends_when_access_ends(server: TestServer) {
        let plan = world(&server).await;
        let patient = Who::Citizen(PATIENT);
        let (_, cursor) = drain(&server, &nav(), "").await;
        let request = proto::WatchPlanChangesRequest { cursor, plan: plan.clone() };
        let mut stream =
            server.plan_changes(Some(&nav())).watch_plan_changes(request).await.unwrap().into_inner();
        let goal = server.create_goal(&patient, &plan, "Gå til butikken", 1).await.unwrap();
        let next = tokio::time::timeout(Duration::from_secs(10), stream.message()).await;
        let change = next.expect("a change within the poll interval").unwrap().unwrap().change.unwrap();
        assert_eq!(change.changed[0].name, goal.name);

        server.withdraw_consent(&patient, &plan).await;
        let ended = tokio::time::timeout(Duration::from_secs(10), stream.message()).await;
        let ended = ended.expect("the stream ends within the poll interval");
        assert_eq!(ended.unwrap_err().code(), Code::NotFound);
    }
}

on_both_backends! {
    /// A member scoped to the goals and measures is told of those changes only, and never of
    /// the plan's etag.
    async fn a_scoped_member_follows_only_what_they_see(server: TestServer) {
        let plan = world(&server).await;
        let patient = Who::Citizen(PATIENT);
        let teacher = Who::Personnel("teacher", SCHOOL);
        let membership = server.add_member(&staff(), &plan, &teacher, proto::MemberRole::School).await;
        server.give_consent(&patient, &plan, &[NAV, SCHOOL]).await;
        let target = proto::access_scope::Target::Member(membership);
        server.scope(&patient, &plan, target, &[proto::PlanPart::GoalsAndMeasures], None).await.unwrap();
        let (_, cursor) = drain(&server, &teacher, "").await;
        server
            .update_plan(&patient, &patient, &plan, &["sections.important_to_me"], |p| {
                p.sections.get_or_insert_default().important_to_me = "Privat".into();
            })
            .await
            .unwrap();
        let goal = server.create_goal(&patient, &plan, "Fullføre skolen", 1).await.unwrap();
        let (seen, _) = drain_expecting(&server, &teacher, &cursor, 1).await;
        assert_eq!(seen.len(), 1, "{seen:#?}");
        assert_eq!(seen[0].changed.len(), 1);
        assert_eq!(seen[0].changed[0].name, goal.name);
        assert_eq!(seen[0].plan_etag, "");
    }
}

on_both_backends! {
    /// Bad cursors, plans and page sizes are named; a cursor older than retention is
    /// FAILED_PRECONDITION; a stream past the server's limit is refused at once.
    async fn bad_requests_are_named_and_old_cursors_refused(server: TestServer) {
        world(&server).await;
        let bad = list(&server, &nav(), "not-a-cursor", "x").await.unwrap_err();
        assert_eq!(violated_fields(&bad), ["cursor", "plan"]);
        let request = proto::ListPlanChangesRequest { page_size: 501, ..Default::default() };
        let bad = server.plan_changes(Some(&nav())).list_plan_changes(request).await.unwrap_err();
        assert_eq!(violated_fields(&bad), ["page_size"]);

        // A node that keeps changes for no time prunes them at once.
        let pruning = server
            .node_with(|config| {
                config.changes.retention = Duration::ZERO;
                config.changes.prune_interval = Duration::from_millis(20);
                config.changes.streams.max_streams = 2;
                config.changes.streams.max_streams_per_caller = 1;
            })
            .await;
        let old = Position { txid: 0, seq: 1 }.encode();
        let mut refused = None;
        for _ in 0..100 {
            match list(&pruning, &nav(), &old, "").await {
                Err(status) => {
                    refused = Some(status);
                    break;
                }
                Ok(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        assert_eq!(refused.expect("the old cursor is refused").code(), Code::FailedPrecondition);

        // One stream per caller and two in all on that node: past either, refused, not queued.
        let (_, cursor) = drain(&pruning, &nav(), "").await;
        let watch = |who: Who, cursor: String| {
            let mut client = pruning.plan_changes(Some(&who));
            async move {
                client.watch_plan_changes(proto::WatchPlanChangesRequest { cursor, plan: String::new() }).await
            }
        };
        let _first = watch(nav(), cursor.clone()).await.unwrap();
        let second = watch(nav(), cursor.clone()).await;
        assert_eq!(code(&second), Code::ResourceExhausted, "one caller, one stream");
        let _patients = watch(Who::Citizen(PATIENT), cursor.clone()).await.unwrap();
        let third = watch(Who::Citizen(NEXT_OF_KIN), cursor.clone()).await;
        assert_eq!(code(&third), Code::Unavailable, "the server's streams are taken");

        // A cursor past the feed's end was handed to nobody: refused, never waited on.
        let at = Position::parse("cursor", &cursor).unwrap().unwrap();
        for forged in [Position { seq: at.seq + 1_000_000, ..at }, Position { txid: at.txid + 1_000_000, seq: 1 }] {
            let refused = list(&server, &nav(), &forged.encode(), "").await.unwrap_err();
            assert_eq!(violated_fields(&refused), ["cursor"], "{forged:?}");
        }
        pruning.stop().await;
    }
}

on_both_backends! {
    /// Found by the attacker after the feed was built: a stream outlived the token it was
    /// opened with, and an idle stream following one plan logged an access on every poll. A
    /// stream now ends UNAUTHENTICATED when its token expires, and logs only what it delivers.
    async fn a_stream_ends_with_its_token_and_logs_only_deliveries(server: TestServer) {
        let plan = world(&server).await;
        let patient = Who::Citizen(PATIENT);
        let node = server
            .node_with(|config| config.changes.streams.poll_interval = Duration::from_millis(50))
            .await;
        let (_, cursor) = drain(&node, &nav(), "").await;
        let logged = node.access_log_count(&plan, true).await;
        let request = proto::WatchPlanChangesRequest { cursor, plan: plan.clone() };
        let mut stream =
            node.plan_changes(Some(&nav())).watch_plan_changes(request).await.unwrap().into_inner();
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(node.access_log_count(&plan, true).await, logged + 1, "the start alone");
        let goal = node.create_goal(&patient, &plan, "Gå til butikken", 1).await.unwrap();
        let change = stream.message().await.unwrap().unwrap().change.unwrap();
        assert_eq!(change.changed[0].name, goal.name);

        // A token that expires in a second (and the server's five seconds of skew).
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let short = node.token_with(&nav(), serde_json::json!({ "exp": now + 1 }));
        let mut client = samvirke::proto::plan_change_service_client::PlanChangeServiceClient::with_interceptor(
            node.channel(),
            move |mut r: tonic::Request<()>| {
                r.metadata_mut().insert("authorization", format!("Bearer {short}").parse().unwrap());
                Ok(r)
            },
        );
        let request = proto::WatchPlanChangesRequest { cursor: change.cursor.clone(), plan: String::new() };
        let mut expiring = client.watch_plan_changes(request).await.unwrap().into_inner();
        let ended = tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                match expiring.message().await {
                    Ok(Some(_)) => continue,
                    other => return other,
                }
            }
        })
        .await
        .expect("the stream ends once its token expires");
        assert_eq!(ended.unwrap_err().code(), Code::Unauthenticated);
        node.stop().await;
    }
}

on_both_backends! {
    /// Complaint status for the complainant: each step of a complaint's handling is an event
    /// for whoever filed it and the patient it concerns, naming the complaint and its new etag;
    /// NAV, on the plan the complaint names, and the handler get none, and following one plan
    /// shows none.
    async fn a_complainant_follows_their_complaint_and_nobody_else_does(server: TestServer) {
        let plan = world(&server).await;
        let patient = Who::Citizen(PATIENT);
        let kin = Who::Citizen(NEXT_OF_KIN);
        let handler = Who::Personnel("handler-1", MUNICIPALITY);
        server.bootstrap_grant(MUNICIPALITY, &handler.subject(), OrgRole::ComplaintHandler).await;
        let (_, patient_start) = drain(&server, &patient, "").await;
        let (_, nav_start) = drain(&server, &nav(), "").await;
        let (_, kin_start) = drain(&server, &kin, "").await;
        let today = samvirke::domain::date::Date::today_in_norway(samvirke::domain::time::Instant::now());
        let (year, month, day) = today.parts();
        let complaint = |plan: &str, on_behalf_of| proto::FileComplaintRequest {
            complaint: Some(proto::Complaint {
                organisation: MUNICIPALITY.into(),
                kind: proto::ComplaintKind::PlanNotFollowed as i32,
                text: "Tiltakene følges ikke opp.".into(),
                plan: plan.into(),
                learned_of: Some(proto::Date { year, month: month as i32, day: day as i32 }),
                ..Default::default()
            }),
            on_behalf_of,
        };
        // The patient's own, about the plan; and one next of kin files on the patient's behalf,
        // naming no plan (they may not read it).
        let own = server.complaints(Some(&patient)).file_complaint(complaint(&plan, None)).await.unwrap();
        let own = own.into_inner().complaint.unwrap();
        let behalf = Some(proto::OnBehalfOf {
            patient_id: PATIENT.into(),
            relation: proto::RepresentativeRelation::NextOfKin as i32,
        });
        let filed = server.complaints(Some(&kin)).file_complaint(complaint("", behalf)).await;
        let filed = filed.unwrap().into_inner().complaint.unwrap();
        let reviewed = server
            .complaints(Some(&handler))
            .start_complaint_review(proto::StartComplaintReviewRequest { name: own.name.clone(), etag: own.etag.clone() })
            .await
            .unwrap()
            .into_inner()
            .complaint
            .unwrap();

        let steps = |changes: &[proto::PlanChange]| -> Vec<(String, String)> {
            changes
                .iter()
                .flat_map(|c| c.changed.iter().filter(|r| r.part() == proto::ChangedPart::Complaint))
                .map(|r| (r.name.clone(), r.etag.clone()))
                .collect()
        };
        let (seen, _) = drain_expecting(&server, &patient, &patient_start, 3).await;
        assert_eq!(
            steps(&seen),
            [
                (own.name.clone(), own.etag.clone()),
                (filed.name.clone(), filed.etag.clone()),
                (own.name.clone(), reviewed.etag.clone()),
            ],
            "the patient: their own complaint's steps and the one filed on their behalf"
        );
        let event = seen.iter().find(|c| c.changed[0].part() == proto::ChangedPart::Complaint).unwrap();
        assert_eq!((event.plan.as_str(), event.plan_etag.as_str(), event.changed.len()), ("", "", 1));
        let (kin_seen, _) = drain_expecting(&server, &kin, &kin_start, 1).await;
        assert_eq!(steps(&kin_seen), [(filed.name.clone(), filed.etag.clone())], "the next of kin: theirs");
        let (nav_seen, _) = drain(&server, &nav(), &nav_start).await;
        assert!(steps(&nav_seen).is_empty(), "NAV serves on the plan but is no party: {nav_seen:#?}");
        let (handler_seen, _) = drain(&server, &handler, "").await;
        assert!(steps(&handler_seen).is_empty(), "{handler_seen:#?}");
        let followed = list(&server, &patient, &patient_start, &plan).await.unwrap();
        assert!(steps(&followed.changes).is_empty(), "following the plan: its revisions only");
    }
}

on_both_backends! {
    /// A caller who may read few of the feed's changes is not made to pass over the others
    /// again: the cursor moves past what they may not read, and what they may read after it
    /// still comes.
    async fn the_cursor_moves_past_changes_the_caller_may_not_read(server: TestServer) {
        let plan = world(&server).await;
        let (_, cursor) = drain(&server, &nav(), "").await;
        let before = Position::parse("cursor", &cursor).unwrap().unwrap();
        let other = server.create_plan(&staff(), MUNICIPALITY, OTHER_PATIENT).await;
        server.create_goal(&Who::Citizen(OTHER_PATIENT), &other, "Ikke NAVs sak", 1).await.unwrap();
        let page = async || {
            for _ in 0..200 {
                let page = list(&server, &nav(), &cursor, "").await.unwrap();
                if page.next_cursor != cursor {
                    return page;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("the cursor never moved past changes NAV may not read");
        };
        let page = page().await;
        assert!(page.changes.is_empty(), "{:#?}", page.changes);
        let moved = Position::parse("cursor", &page.next_cursor).unwrap().unwrap();
        assert!(moved > before);
        // Nothing NAV may read is skipped by the move.
        server.create_goal(&Who::Citizen(PATIENT), &plan, "NAV ser dette", 1).await.unwrap();
        let (seen, _) = drain_expecting(&server, &nav(), &page.next_cursor, 1).await;
        assert_eq!(seen.len(), 1, "{seen:#?}");
        assert_eq!(seen[0].plan, plan);
        assert_eq!(parts(&seen[0]), [proto::ChangedPart::Goal]);
    }
}

on_both_backends! {
    /// A stream keeps the slot its call was admitted with: a caller allowed one call in flight
    /// opens a stream (it held two while the stream opened before), and then has no slot for
    /// another call until the stream ends.
    async fn a_stream_keeps_the_slot_its_call_was_admitted_with(server: TestServer) {
        world(&server).await;
        let node = server.node_with(|config| config.limits.max_calls_per_caller = 1).await;
        let request = proto::WatchPlanChangesRequest { cursor: String::new(), plan: String::new() };
        let stream = node.plan_changes(Some(&nav())).watch_plan_changes(request).await.expect("one slot is enough");
        let busy = list(&node, &nav(), "", "").await;
        assert_eq!(code(&busy), Code::ResourceExhausted, "the stream holds the caller's slot");
        drop(stream);
        let mut freed = false;
        for _ in 0..100 {
            if list(&node, &nav(), "", "").await.is_ok() {
                freed = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(freed, "an ended stream gives its slot back");
        node.stop().await;
    }
}

on_both_backends! {
    /// Done means, literally: an agency's stream on a server that shuts down ends UNAVAILABLE;
    /// changes made until then and while it reconnects are all delivered once it resumes from
    /// its last cursor on the server started again.
    async fn an_agency_resumes_across_a_restart_without_missing_a_change(server: TestServer) {
        let plan = world(&server).await;
        let patient = Who::Citizen(PATIENT);
        let before = server.second_node().await;
        let (_, mut cursor) = drain(&before, &nav(), "").await;
        let request = proto::WatchPlanChangesRequest { cursor: cursor.clone(), plan: String::new() };
        let mut stream =
            before.plan_changes(Some(&nav())).watch_plan_changes(request).await.unwrap().into_inner();
        let first = before.create_goal(&patient, &plan, "Før omstart", 1).await.unwrap();
        let next = tokio::time::timeout(Duration::from_secs(10), stream.message()).await;
        let change = next.expect("a change").unwrap().unwrap().change.unwrap();
        assert_eq!(change.changed[0].name, first.name);
        cursor = change.cursor;
        // Written just before the shutdown, on the node that goes down.
        let second = before.create_goal(&patient, &plan, "Rett før", 2).await.unwrap();
        before.stop().await;
        let mut delivered = Vec::new();
        loop {
            match tokio::time::timeout(Duration::from_secs(10), stream.message()).await.expect("the stream ends") {
                Ok(Some(message)) => {
                    let change = message.change.unwrap();
                    cursor = change.cursor.clone();
                    delivered.push(change.changed[0].name.clone());
                }
                Ok(None) => panic!("the stream ended without a status"),
                Err(status) => {
                    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
                    break;
                }
            }
        }
        // While the agency is away, another change; then the server is started again.
        let third = server.create_goal(&patient, &plan, "Mens den var nede", 3).await.unwrap();
        let after = server.second_node().await;
        let request = proto::WatchPlanChangesRequest { cursor, plan: String::new() };
        let mut resumed =
            after.plan_changes(Some(&nav())).watch_plan_changes(request).await.unwrap().into_inner();
        while delivered.len() < 2 || !delivered.contains(&third.name) {
            let next = tokio::time::timeout(Duration::from_secs(10), resumed.message()).await;
            let change = next.expect("the missed changes come").unwrap().unwrap().change.unwrap();
            delivered.push(change.changed[0].name.clone());
        }
        let wanted = [second.name.clone(), third.name.clone()];
        assert!(wanted.iter().all(|w| delivered.contains(w)), "{delivered:?}");
        assert_eq!(delivered.iter().filter(|d| *d == &second.name).count(), 1, "at least once, here once");
        after.stop().await;
    }
}
