//! The authorization matrix of coordination: the coordinator service and the group's meetings ×
//! every relation × own plan, another plan of the same organisation, a plan of another
//! organisation; and the referral service × both sides of a referral and everyone else.
//! Expected outcomes are written in the tables below, not derived from the policy. Every refused
//! write is checked to have written nothing; every allowed one that changes who holds which role
//! is undone before the next caller.

use samvirke::domain::organisation::OrgRole;
use samvirke::proto;
use tonic::Code;

use super::common::*;

const FP: Code = Code::FailedPrecondition;

// ---------------------------------------------------------------------------------------------
// Part 1: the plan-scoped RPCs of coordination.
// ---------------------------------------------------------------------------------------------

/// The callers, in the order of every row below.
const CALLERS: [&str; 13] = [
    "owner",
    "representative",
    "member",
    "member_outside_consent",
    "coordinator",
    "unit_staff",
    "unit_staff_other_org",
    "admin",
    "stranger_citizen",
    "referrer",
    "no_token",
    "scoped_member",
    "expired_member",
];

fn caller(name: &str) -> Option<Who> {
    Some(match name {
        "owner" => Who::Citizen(PATIENT),
        "representative" => Who::Citizen(NEXT_OF_KIN),
        "member" => Who::Personnel("nav-adviser", NAV),
        "member_outside_consent" => Who::Personnel("teacher", SCHOOL),
        "coordinator" => Who::Personnel("coordinator", MUNICIPALITY),
        "unit_staff" => Who::Personnel("unit-staff", MUNICIPALITY),
        "unit_staff_other_org" => Who::Personnel("unit-staff-b", OTHER_MUNICIPALITY),
        "admin" => Who::Personnel("admin", MUNICIPALITY),
        "stranger_citizen" => Who::Citizen(STRANGER),
        "referrer" => Who::Personnel("discharge", HOSPITAL),
        "no_token" => return None,
        "scoped_member" => Who::Personnel("scoped-adviser", NAV),
        "expired_member" => Who::Personnel("lapsed-adviser", NAV),
        other => panic!("unknown caller {other}"),
    })
}

type Row = [Code; 13];

/// Anyone who may read the plan: its appointments and its meetings.
const READ_OWN: Row = [OK, OK, OK, NF, OK, OK, NF, NF, NF, NF, UA, OK, NF];
const READ_SAME_ORG: Row = [NF, NF, NF, NF, NF, OK, NF, NF, NF, NF, UA, NF, NF];
const READ_OTHER_ORG: Row = [OK, NF, NF, NF, NF, NF, OK, NF, NF, NF, UA, NF, NF];

/// The patient's wish for a coordinator: the patient and their representative.
const WISH_OWN: Row = [OK, OK, PD, NF, PD, PD, NF, NF, NF, NF, UA, PD, NF];
const WISH_SAME_ORG: Row = [NF, NF, NF, NF, NF, PD, NF, NF, NF, NF, UA, NF, NF];
const WISH_OTHER_ORG: Row = [OK, NF, NF, NF, NF, NF, PD, NF, NF, NF, UA, NF, NF];

/// Appointing on a plan that has a coordinator: the plan organisation's unit staff may, and are
/// told the plan has one already.
const APPOINT_OWN: Row = [PD, PD, PD, NF, PD, FP, NF, NF, NF, NF, UA, PD, NF];
const APPOINT_SAME_ORG: Row = [NF, NF, NF, NF, NF, FP, NF, NF, NF, NF, UA, NF, NF];
const APPOINT_OTHER_ORG: Row = [PD, NF, NF, NF, NF, NF, FP, NF, NF, NF, UA, NF, NF];

/// Replacing the coordinator: the plan organisation's unit staff.
const REPLACE_OWN: Row = [PD, PD, PD, NF, PD, OK, NF, NF, NF, NF, UA, PD, NF];
const REPLACE_SAME_ORG: Row = [NF, NF, NF, NF, NF, OK, NF, NF, NF, NF, UA, NF, NF];
const REPLACE_OTHER_ORG: Row = [PD, NF, NF, NF, NF, NF, OK, NF, NF, NF, UA, NF, NF];

/// The plan's coordinator alone: scheduling meetings and writing their minutes.
const COORDINATOR_OWN: Row = [PD, PD, PD, NF, OK, PD, NF, NF, NF, NF, UA, PD, NF];
const COORDINATOR_SAME_ORG: Row = [NF, NF, NF, NF, NF, PD, NF, NF, NF, NF, UA, NF, NF];
const COORDINATOR_OTHER_ORG: Row = [PD, NF, NF, NF, NF, NF, PD, NF, NF, NF, UA, NF, NF];

/// One plan of the matrix with what the calls need.
struct Target {
    label: &'static str,
    plan: String,
    /// The plan's organisation.
    org: &'static str,
    /// Reads etags and undoes changes: the unit staff of the plan's organisation.
    staff: Who,
    /// The plan's coordinator.
    coordinator: Who,
    /// The coordinator's current membership.
    coordinator_membership: String,
    /// A meeting the coordinator scheduled, inviting themselves.
    meeting: String,
}

/// A meeting of the group: next year, at the town hall, `invited` invited.
fn meeting(invited: &str) -> proto::Meeting {
    proto::Meeting {
        start_time: Some(prost_types::Timestamp { seconds: 1_830_000_000, nanos: 0 }),
        location: "Rådhuset, møterom 2".into(),
        agenda: "Oppstart".into(),
        invited_members: vec![invited.into()],
        ..Default::default()
    }
}

async fn target(
    server: &TestServer,
    label: &'static str,
    staff: Who,
    org: &'static str,
    patient: &'static str,
    coordinator: Who,
    consent: &[&str],
) -> Target {
    let plan = server.create_plan(&staff, org, patient).await;
    let coordinator_membership =
        server.add_member(&staff, &plan, &coordinator, proto::MemberRole::Coordinator).await;
    server.give_consent(&Who::Citizen(patient), &plan, consent).await;
    let meeting = server
        .members(Some(&coordinator))
        .create_meeting(proto::CreateMeetingRequest {
            parent: plan.clone(),
            meeting: Some(meeting(&coordinator_membership)),
        })
        .await
        .expect("the coordinator scheduling a meeting")
        .into_inner()
        .meeting
        .unwrap()
        .name;
    Target { label, plan, org, staff, coordinator, coordinator_membership, meeting }
}

async fn world(server: &TestServer) -> [Target; 3] {
    let staff = caller("unit_staff").unwrap();
    let staff_b = caller("unit_staff_other_org").unwrap();
    server.bootstrap_grant(MUNICIPALITY, &staff.subject(), OrgRole::UnitStaff).await;
    server.bootstrap_grant(MUNICIPALITY, &caller("admin").unwrap().subject(), OrgRole::Admin).await;
    server.bootstrap_grant(OTHER_MUNICIPALITY, &staff_b.subject(), OrgRole::UnitStaff).await;
    server
        .bootstrap_grant(HOSPITAL, &caller("referrer").unwrap().subject(), OrgRole::Referrer)
        .await;
    let own = target(
        server,
        "own plan",
        staff.clone(),
        MUNICIPALITY,
        PATIENT,
        caller("coordinator").unwrap(),
        &[NAV],
    )
    .await;
    for (name, role) in [
        ("member", proto::MemberRole::Nav),
        ("member_outside_consent", proto::MemberRole::School),
        ("representative", proto::MemberRole::Representative),
    ] {
        server.add_member(&staff, &own.plan, &caller(name).unwrap(), role).await;
    }
    // Two more NAV advisers: the patient lets one see the meetings and the group alone, and let
    // the other see the plan for a second, which has passed.
    let patient = Who::Citizen(PATIENT);
    let parts = [proto::PlanPart::Meetings, proto::PlanPart::Group];
    for (name, expire_in) in [("scoped_member", None), ("expired_member", Some(1))] {
        let who = caller(name).unwrap();
        let member = server.add_member(&staff, &own.plan, &who, proto::MemberRole::Nav).await;
        let target = proto::access_scope::Target::Member(member);
        let expire_in = expire_in.map(std::time::Duration::from_secs);
        server.scope(&patient, &own.plan, target, &parts, expire_in).await.unwrap();
    }
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let same_org = target(
        server,
        "plan of the same org",
        staff,
        MUNICIPALITY,
        OTHER_PATIENT,
        Who::Personnel("coordinator-2", MUNICIPALITY),
        &[],
    )
    .await;
    let other_org = target(
        server,
        "plan of another org",
        staff_b,
        OTHER_MUNICIPALITY,
        PATIENT,
        Who::Personnel("coordinator-b", OTHER_MUNICIPALITY),
        &[NAV],
    )
    .await;
    [own, same_org, other_org]
}

/// The RPCs of the matrix.
#[derive(Clone, Copy, Debug)]
enum Rpc {
    RecordCoordinatorWish,
    AppointCoordinator,
    ReplaceCoordinator,
    ListCoordinatorAssignments,
    CreateMeeting,
    GetMeeting,
    ListMeetings,
    UpdateMeeting,
    CancelMeeting,
}

/// Whether `rpc` reads only.
fn reads(rpc: Rpc) -> bool {
    matches!(rpc, Rpc::ListCoordinatorAssignments | Rpc::GetMeeting | Rpc::ListMeetings)
}

/// Someone new for the plan's coordinator, acting for the plan's organisation.
fn newcomer(t: &Target) -> Who {
    Who::Personnel("coordinator-new", t.org)
}

/// Calls `rpc` on `t` as `who`, with etags fresh from the plan's staff or coordinator.
async fn call(server: &TestServer, who: Option<&Who>, t: &Target, rpc: Rpc) -> Code {
    let plan = t.plan.clone();
    match rpc {
        Rpc::RecordCoordinatorWish => {
            let etag = server.get_plan(&t.staff, &plan).await.etag;
            code(
                &server
                    .coordinators(who)
                    .record_coordinator_wish(proto::RecordCoordinatorWishRequest {
                        name: plan,
                        etag,
                        wish: Some(proto::CoordinatorWish {
                            display_name: "Sykepleier Hansen".into(),
                            organisation: t.org.into(),
                            note: "Kjenner meg godt".into(),
                            ..Default::default()
                        }),
                    })
                    .await,
            )
        }
        Rpc::AppointCoordinator => code(
            &server
                .coordinators(who)
                .appoint_coordinator(proto::AppointCoordinatorRequest {
                    parent: plan,
                    assignment: Some(newcomer(t).as_assignment()),
                })
                .await,
        ),
        Rpc::ReplaceCoordinator => code(
            &server
                .coordinators(who)
                .replace_coordinator(proto::ReplaceCoordinatorRequest {
                    parent: plan,
                    assignment: Some(newcomer(t).as_assignment()),
                    end_reason: "Permisjon".into(),
                })
                .await,
        ),
        Rpc::ListCoordinatorAssignments => code(
            &server
                .coordinators(who)
                .list_coordinator_assignments(proto::ListCoordinatorAssignmentsRequest {
                    parent: plan,
                    ..Default::default()
                })
                .await,
        ),
        Rpc::CreateMeeting => code(
            &server
                .members(who)
                .create_meeting(proto::CreateMeetingRequest {
                    parent: plan,
                    meeting: Some(meeting(&t.coordinator_membership)),
                })
                .await,
        ),
        Rpc::GetMeeting => code(
            &server
                .members(who)
                .get_meeting(proto::GetMeetingRequest { name: t.meeting.clone() })
                .await,
        ),
        Rpc::ListMeetings => code(
            &server
                .members(who)
                .list_meetings(proto::ListMeetingsRequest { parent: plan, ..Default::default() })
                .await,
        ),
        Rpc::UpdateMeeting => {
            let mut input = server
                .members(Some(&t.coordinator))
                .get_meeting(proto::GetMeetingRequest { name: t.meeting.clone() })
                .await
                .expect("the coordinator reading the meeting")
                .into_inner()
                .meeting
                .unwrap();
            input.minutes = "Alle møtte. Neste møte om tre måneder.".into();
            code(
                &server
                    .members(who)
                    .update_meeting(proto::UpdateMeetingRequest {
                        meeting: Some(input),
                        update_mask: mask(&["minutes"]),
                    })
                    .await,
            )
        }
        Rpc::CancelMeeting => {
            let etag = meeting_etag(server, t).await;
            code(
                &server
                    .members(who)
                    .cancel_meeting(proto::CancelMeetingRequest {
                        name: t.meeting.clone(),
                        etag,
                        reason: "Koordinator er syk".into(),
                    })
                    .await,
            )
        }
    }
}

/// The etag of the target's meeting, as its coordinator reads it.
async fn meeting_etag(server: &TestServer, t: &Target) -> String {
    server
        .members(Some(&t.coordinator))
        .get_meeting(proto::GetMeetingRequest { name: t.meeting.clone() })
        .await
        .expect("the coordinator reading the meeting")
        .into_inner()
        .meeting
        .unwrap()
        .etag
}

/// Undoes what an allowed `rpc` changed that would change the next caller's outcome.
async fn undo(server: &TestServer, t: &mut Target, rpc: Rpc) {
    if let Rpc::CancelMeeting = rpc {
        // A cancelled meeting stays cancelled: the next caller gets a new one.
        t.meeting = server
            .members(Some(&t.coordinator))
            .create_meeting(proto::CreateMeetingRequest {
                parent: t.plan.clone(),
                meeting: Some(meeting(&t.coordinator_membership)),
            })
            .await
            .expect("the coordinator scheduling the next meeting")
            .into_inner()
            .meeting
            .unwrap()
            .name;
    }
    if let Rpc::ReplaceCoordinator = rpc {
        let back = server
            .coordinators(Some(&t.staff))
            .replace_coordinator(proto::ReplaceCoordinatorRequest {
                parent: t.plan.clone(),
                assignment: Some(t.coordinator.as_assignment()),
                end_reason: "Tilbake fra permisjon".into(),
            })
            .await
            .expect("replacing back to the original coordinator")
            .into_inner()
            .assignment
            .unwrap();
        t.coordinator_membership = back.member;
    }
}

/// What a refused write must leave as it was.
async fn counts(server: &TestServer) -> [i64; 3] {
    [
        server.row_count("coordinator_assignments").await,
        server.row_count("meetings").await,
        server.row_count("plan_revisions").await,
    ]
}

async fn check(server: &TestServer, world: &mut [Target; 3], rpc: Rpc, expected: [&Row; 3]) {
    for (t, expected) in world.iter_mut().zip(expected) {
        let mut actual = Vec::new();
        for name in CALLERS {
            let who = caller(name);
            let before = counts(server).await;
            let outcome = call(server, who.as_ref(), t, rpc).await;
            let after = counts(server).await;
            if outcome == OK && !reads(rpc) {
                undo(server, t, rpc).await;
            } else {
                // A refused write, or a read, writes nothing.
                assert_eq!(
                    before, after,
                    "{rpc:?} on {} as {name} ({outcome:?}) wrote \
                     [coordinator_assignments, meetings, plan_revisions]",
                    t.label
                );
            }
            actual.push(outcome);
        }
        check_matrix_row(&CALLERS, &format!("{rpc:?}"), t.label, expected, &actual);
    }
}

on_both_backends! {
    async fn coordinator_rpcs(server: TestServer) {
        let mut world = world(&server).await;
        for (rpc, rows) in [
            (Rpc::RecordCoordinatorWish, [&WISH_OWN, &WISH_SAME_ORG, &WISH_OTHER_ORG]),
            (Rpc::AppointCoordinator, [&APPOINT_OWN, &APPOINT_SAME_ORG, &APPOINT_OTHER_ORG]),
            (Rpc::ReplaceCoordinator, [&REPLACE_OWN, &REPLACE_SAME_ORG, &REPLACE_OTHER_ORG]),
            (Rpc::ListCoordinatorAssignments, [&READ_OWN, &READ_SAME_ORG, &READ_OTHER_ORG]),
        ] {
            check(&server, &mut world, rpc, rows).await;
        }
    }
}

on_both_backends! {
    async fn meeting_rpcs(server: TestServer) {
        let mut world = world(&server).await;
        let read = [&READ_OWN, &READ_SAME_ORG, &READ_OTHER_ORG];
        let coordinator = [&COORDINATOR_OWN, &COORDINATOR_SAME_ORG, &COORDINATOR_OTHER_ORG];
        for (rpc, rows) in [
            (Rpc::CreateMeeting, coordinator),
            (Rpc::GetMeeting, read),
            (Rpc::ListMeetings, read),
            (Rpc::UpdateMeeting, coordinator),
            (Rpc::CancelMeeting, coordinator),
        ] {
            check(&server, &mut world, rpc, rows).await;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Part 2: referrals, between a health trust and a municipality.
// ---------------------------------------------------------------------------------------------

/// Another health trust.
const OTHER_HOSPITAL: &str = NOT_AN_AUTHORITY;

/// The callers of the referral matrix, in the order of every row below.
const REFERRAL_CALLERS: [&str; 10] = [
    "requester",
    "referrer_colleague",
    "referrer_other_trust",
    "hospital_unit_staff",
    "unit_staff",
    "unit_staff_other_org",
    "admin",
    "owner",
    "stranger_citizen",
    "no_token",
];

fn referral_caller(name: &str) -> Option<Who> {
    Some(match name {
        "requester" => Who::Personnel("discharge", HOSPITAL),
        "referrer_colleague" => Who::Personnel("discharge-2", HOSPITAL),
        "referrer_other_trust" => Who::Personnel("discharge-x", OTHER_HOSPITAL),
        "hospital_unit_staff" => Who::Personnel("ward-admin", HOSPITAL),
        "unit_staff" => Who::Personnel("unit-staff", MUNICIPALITY),
        "unit_staff_other_org" => Who::Personnel("unit-staff-b", OTHER_MUNICIPALITY),
        "admin" => Who::Personnel("admin", MUNICIPALITY),
        "owner" => Who::Citizen(PATIENT),
        "stranger_citizen" => Who::Citizen(STRANGER),
        "no_token" => return None,
        other => panic!("unknown caller {other}"),
    })
}

type ReferralRow = [Code; 10];

/// GetReferral: the requester, the sending trust's referrers, the receiving unit's staff.
const REFERRAL_GET: ReferralRow = [OK, OK, NF, NF, OK, NF, NF, NF, NF, UA];
/// ListReferrals answers everyone with a token...
const REFERRAL_LIST: ReferralRow = [OK, OK, OK, OK, OK, OK, OK, OK, OK, UA];
/// ... and shows the referral to those who may read it.
const REFERRAL_LISTED: [bool; 10] =
    [true, true, false, false, true, false, false, false, false, false];
/// AcceptReferral and ReturnReferral: the receiving unit's staff.
const REFERRAL_ANSWER: ReferralRow = [PD, PD, NF, NF, OK, NF, NF, NF, NF, UA];
/// CreateReferral: the referrers of any health trust.
const REFERRAL_CREATE: ReferralRow = [OK, OK, OK, PD, PD, PD, PD, PD, PD, UA];

/// A referral of PATIENT to MUNICIPALITY, as the referral RPCs are sent.
fn referral() -> proto::Referral {
    proto::Referral {
        municipality: MUNICIPALITY.into(),
        patient_id: PATIENT.into(),
        patient_display_name: "Kari Nordmann".into(),
        consent_to_share: true,
        patient_goals: vec!["Komme hjem".into()],
        wants_plan: true,
        ..Default::default()
    }
}

/// Sends a referral as `who` and returns its name.
async fn send_referral(server: &TestServer, who: &Who) -> String {
    server
        .referrals(Some(who))
        .create_referral(proto::CreateReferralRequest { referral: Some(referral()) })
        .await
        .expect("sending a referral")
        .into_inner()
        .referral
        .unwrap()
        .name
}

/// The referral as the receiving unit's staff read it now.
async fn read_referral(server: &TestServer, name: &str) -> proto::Referral {
    server
        .referrals(referral_caller("unit_staff").as_ref())
        .get_referral(proto::GetReferralRequest { name: name.into() })
        .await
        .expect("reading the referral as unit staff")
        .into_inner()
        .referral
        .unwrap()
}

/// Compares which callers a list showed the referral to.
fn check_listed(expected: &[bool; 10], actual: &[bool]) {
    assert_eq!(actual.len(), REFERRAL_CALLERS.len(), "a caller was skipped");
    let mismatches: Vec<String> = REFERRAL_CALLERS
        .iter()
        .zip(expected.iter().zip(actual))
        .filter(|(_, (e, a))| e != a)
        .map(|(c, (e, a))| format!("{c}: expected listed={e}, got listed={a}"))
        .collect();
    assert!(
        mismatches.is_empty(),
        "ListReferrals shows the referral:\n  {}",
        mismatches.join("\n  ")
    );
}

/// What a refused answer to a referral must leave as it was.
async fn answer_counts(server: &TestServer) -> [i64; 5] {
    [
        server.row_count("referrals").await,
        server.row_count("coordinator_assignments").await,
        server.row_count("members").await,
        server.row_count("plans").await,
        server.row_count("plan_revisions").await,
    ]
}

#[derive(Clone, Copy, Debug)]
enum Answer {
    AcceptReferral,
    ReturnReferral,
}

/// Answers a fresh referral as each caller in turn; a refused answer leaves it SENT.
async fn check_answer(server: &TestServer, answer: Answer) {
    let requester = referral_caller("requester").unwrap();
    let mut actual = Vec::new();
    for name in REFERRAL_CALLERS {
        let who = referral_caller(name);
        let fresh = send_referral(server, &requester).await;
        let before = answer_counts(server).await;
        let outcome = match answer {
            Answer::AcceptReferral => code(
                &server
                    .referrals(who.as_ref())
                    .accept_referral(proto::AcceptReferralRequest {
                        name: fresh.clone(),
                        coordinator: Some(
                            Who::Personnel("coordinator", MUNICIPALITY).as_assignment(),
                        ),
                        comment: "Vi tar imot. Målene må justeres sammen med pasienten.".into(),
                    })
                    .await,
            ),
            Answer::ReturnReferral => code(
                &server
                    .referrals(who.as_ref())
                    .return_referral(proto::ReturnReferralRequest {
                        name: fresh.clone(),
                        reason: "Pasienten bor ikke i kommunen".into(),
                    })
                    .await,
            ),
        };
        let after = answer_counts(server).await;
        let now = read_referral(server, &fresh).await;
        if outcome == OK {
            let answered = match answer {
                Answer::AcceptReferral => proto::ReferralStatus::Accepted,
                Answer::ReturnReferral => proto::ReferralStatus::Returned,
            };
            assert_eq!(
                now.status, answered as i32,
                "{answer:?} as {name} was OK but the referral is not answered"
            );
        } else {
            assert_eq!(
                before, after,
                "{answer:?} as {name} ({outcome:?}) wrote \
                 [referrals, coordinator_assignments, members, plans, plan_revisions]"
            );
            assert_eq!(
                now.status,
                proto::ReferralStatus::Sent as i32,
                "{answer:?} as {name} ({outcome:?}) changed the referral's status"
            );
            assert!(
                now.response.is_empty() && now.response_time.is_none(),
                "{answer:?} as {name} ({outcome:?}) answered the referral"
            );
        }
        actual.push(outcome);
    }
    check_matrix_row(
        &REFERRAL_CALLERS,
        &format!("{answer:?}"),
        "a fresh referral",
        &REFERRAL_ANSWER,
        &actual,
    );
}

on_both_backends! {
    async fn referral_rpcs(server: TestServer) {
        for (name, org, role) in [
            ("requester", HOSPITAL, OrgRole::Referrer),
            ("referrer_colleague", HOSPITAL, OrgRole::Referrer),
            ("referrer_other_trust", OTHER_HOSPITAL, OrgRole::Referrer),
            ("hospital_unit_staff", HOSPITAL, OrgRole::UnitStaff),
            ("unit_staff", MUNICIPALITY, OrgRole::UnitStaff),
            ("unit_staff_other_org", OTHER_MUNICIPALITY, OrgRole::UnitStaff),
            ("admin", MUNICIPALITY, OrgRole::Admin),
        ] {
            server
                .bootstrap_grant(org, &referral_caller(name).unwrap().subject(), role)
                .await;
        }
        let requester = referral_caller("requester").unwrap();
        let sent = send_referral(&server, &requester).await;

        // GetReferral and ListReferrals.
        let mut got = Vec::new();
        let mut listed_codes = Vec::new();
        let mut listed = Vec::new();
        for name in REFERRAL_CALLERS {
            let who = referral_caller(name);
            got.push(code(
                &server
                    .referrals(who.as_ref())
                    .get_referral(proto::GetReferralRequest { name: sent.clone() })
                    .await,
            ));
            let list = server
                .referrals(who.as_ref())
                .list_referrals(proto::ListReferralsRequest {
                    page_size: 500,
                    ..Default::default()
                })
                .await;
            listed_codes.push(code(&list));
            listed.push(list.is_ok_and(|r| {
                r.into_inner().referrals.iter().any(|r| r.name == sent)
            }));
        }
        check_matrix_row(&REFERRAL_CALLERS, "GetReferral", "the referral", &REFERRAL_GET, &got);
        check_matrix_row(
            &REFERRAL_CALLERS,
            "ListReferrals",
            "the referral",
            &REFERRAL_LIST,
            &listed_codes,
        );
        check_listed(&REFERRAL_LISTED, &listed);

        // AcceptReferral and ReturnReferral, each on a referral of its own.
        check_answer(&server, Answer::AcceptReferral).await;
        check_answer(&server, Answer::ReturnReferral).await;

        // CreateReferral.
        let mut created = Vec::new();
        for name in REFERRAL_CALLERS {
            let who = referral_caller(name);
            let before = [server.row_count("referrals").await, server.row_count("plans").await];
            let outcome = code(
                &server
                    .referrals(who.as_ref())
                    .create_referral(proto::CreateReferralRequest {
                        referral: Some(referral()),
                    })
                    .await,
            );
            let after = [server.row_count("referrals").await, server.row_count("plans").await];
            if outcome == OK {
                assert_eq!(
                    [before[0] + 1, before[1] + 1],
                    after,
                    "CreateReferral as {name} was OK but did not write one referral and one plan"
                );
            } else {
                assert_eq!(
                    before, after,
                    "CreateReferral as {name} ({outcome:?}) wrote [referrals, plans]"
                );
            }
            created.push(outcome);
        }
        check_matrix_row(
            &REFERRAL_CALLERS,
            "CreateReferral",
            "MUNICIPALITY",
            &REFERRAL_CREATE,
            &created,
        );
    }
}
