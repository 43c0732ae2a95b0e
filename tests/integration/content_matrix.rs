//! The authorization matrix of the plan's content: every RPC of plans, goals and measures ×
//! every relation × own plan, another plan of the same organisation, a plan of another
//! organisation. Expected outcomes are written in the tables below, not derived from the
//! policy. Every refused write is checked to have left the plan's history untouched; every
//! allowed one that changes state is undone before the next caller.

use samvirke::domain::organisation::OrgRole;
use samvirke::proto;
use tonic::Code;

use super::common::*;

/// The callers, in the order of every row below.
const CALLERS: [&str; 13] = [
    "owner",
    "representative",
    "member_responsible",
    "member_outside_consent",
    "coordinator",
    "unit_staff",
    "unit_staff_other_org",
    "admin",
    "stranger_citizen",
    "stranger_personnel",
    "no_token",
    "scoped_member",
    "expired_member",
];

fn caller(name: &str) -> Option<Who> {
    Some(match name {
        "owner" => Who::Citizen(PATIENT),
        "representative" => Who::Citizen(NEXT_OF_KIN),
        "member_responsible" => Who::Personnel("nav-adviser", NAV),
        "member_outside_consent" => Who::Personnel("teacher", SCHOOL),
        "coordinator" => Who::Personnel("coordinator", MUNICIPALITY),
        "unit_staff" => Who::Personnel("unit-staff", MUNICIPALITY),
        "unit_staff_other_org" => Who::Personnel("unit-staff-b", OTHER_MUNICIPALITY),
        "admin" => Who::Personnel("admin", MUNICIPALITY),
        "stranger_citizen" => Who::Citizen(STRANGER),
        "stranger_personnel" => Who::Personnel("doctor", HOSPITAL),
        "no_token" => return None,
        "scoped_member" => Who::Personnel("scoped-adviser", NAV),
        "expired_member" => Who::Personnel("lapsed-adviser", NAV),
        other => panic!("unknown caller {other}"),
    })
}

type Row = [Code; 13];

const READ_OWN: Row = [OK, OK, OK, NF, OK, OK, NF, NF, NF, NF, UA, OK, NF];
const READ_SAME_ORG: Row = [NF, NF, NF, NF, NF, OK, NF, NF, NF, NF, UA, NF, NF];
const READ_OTHER_ORG: Row = [OK, NF, NF, NF, NF, NF, OK, NF, NF, NF, UA, NF, NF];

/// The patient's own words: the patient and their representative.
const PATIENT_OWN: Row = [OK, OK, PD, NF, PD, PD, NF, NF, NF, NF, UA, PD, NF];
const PATIENT_SAME_ORG: Row = [NF, NF, NF, NF, NF, PD, NF, NF, NF, NF, UA, NF, NF];
const PATIENT_OTHER_ORG: Row = [OK, NF, NF, NF, NF, NF, PD, NF, NF, NF, UA, NF, NF];

/// The patient, their representative, or the coordinator.
const SHARED_OWN: Row = [OK, OK, PD, NF, OK, PD, NF, NF, NF, NF, UA, PD, NF];
const SHARED_SAME_ORG: Row = PATIENT_SAME_ORG;
const SHARED_OTHER_ORG: Row = PATIENT_OTHER_ORG;

/// The coordinator alone.
const COORDINATOR_OWN: Row = [PD, PD, PD, NF, OK, PD, NF, NF, NF, NF, UA, PD, NF];
const COORDINATOR_SAME_ORG: Row = PATIENT_SAME_ORG;
const COORDINATOR_OTHER_ORG: Row = [PD, NF, NF, NF, NF, NF, PD, NF, NF, NF, UA, NF, NF];

/// The patient's side, the coordinator and unit staff: declining.
const ADMINISTER_OWN: Row = [OK, OK, PD, NF, OK, OK, NF, NF, NF, NF, UA, PD, NF];
const ADMINISTER_SAME_ORG: Row = [NF, NF, NF, NF, NF, OK, NF, NF, NF, NF, UA, NF, NF];
const ADMINISTER_OTHER_ORG: Row = [OK, NF, NF, NF, NF, NF, OK, NF, NF, NF, UA, NF, NF];

/// Consent decisions: the patient's side. Every plan holds consent the patient gave, which unit
/// staff, who record consent only on the behalf of a patient who cannot answer, may not change.
const CONSENT_OWN: Row = [OK, OK, PD, NF, PD, FP, NF, NF, NF, NF, UA, PD, NF];
const CONSENT_SAME_ORG: Row = [NF, NF, NF, NF, NF, FP, NF, NF, NF, NF, UA, NF, NF];
const CONSENT_OTHER_ORG: Row = [OK, NF, NF, NF, NF, NF, FP, NF, NF, NF, UA, NF, NF];

/// Progress of a measure the member is responsible for: the coordinator and that member.
const PROGRESS_OWN: Row = [PD, PD, OK, NF, OK, PD, NF, NF, NF, NF, UA, PD, NF];

/// One plan of the matrix with what the calls need.
struct Target {
    label: &'static str,
    plan: String,
    /// Reads etags and undoes changes: the unit staff of the plan's organisation.
    staff: Who,
    /// The plan's patient.
    patient: Who,
    /// The plan's coordinator.
    coordinator: Who,
    coordinator_membership: String,
    goal: String,
    /// A measure the responsible member follows up (on the own plan; the coordinator's
    /// elsewhere).
    member_measure: String,
    /// A measure the coordinator is responsible for.
    coordinator_measure: String,
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
    let patient = Who::Citizen(patient);
    let plan = server
        .create_plan(
            &staff,
            org,
            match &patient {
                Who::Citizen(pid) => pid,
                _ => unreachable!(),
            },
        )
        .await;
    let coordinator_membership =
        server.add_member(&staff, &plan, &coordinator, proto::MemberRole::Coordinator).await;
    let goal = server.create_goal(&patient, &plan, "Bo hjemme", 1).await.unwrap().name;
    let coordinator_measure = server
        .create_measure(&coordinator, &plan, &goal, &coordinator_membership, "Hjemmebesøk")
        .await
        .unwrap()
        .name;
    server.give_consent(&patient, &plan, consent).await;
    Target {
        label,
        plan,
        staff,
        patient,
        coordinator,
        coordinator_membership,
        goal,
        member_measure: coordinator_measure.clone(),
        coordinator_measure,
    }
}

async fn world(server: &TestServer) -> [Target; 3] {
    let staff = caller("unit_staff").unwrap();
    let staff_b = caller("unit_staff_other_org").unwrap();
    server.bootstrap_grant(MUNICIPALITY, &staff.subject(), OrgRole::UnitStaff).await;
    server.bootstrap_grant(MUNICIPALITY, &caller("admin").unwrap().subject(), OrgRole::Admin).await;
    server.bootstrap_grant(OTHER_MUNICIPALITY, &staff_b.subject(), OrgRole::UnitStaff).await;
    let mut own = target(
        server,
        "own plan",
        staff.clone(),
        MUNICIPALITY,
        PATIENT,
        caller("coordinator").unwrap(),
        &[NAV],
    )
    .await;
    let nav = caller("member_responsible").unwrap();
    let nav_membership = server.add_member(&staff, &own.plan, &nav, proto::MemberRole::Nav).await;
    server
        .add_member(
            &staff,
            &own.plan,
            &caller("member_outside_consent").unwrap(),
            proto::MemberRole::School,
        )
        .await;
    server
        .add_member(
            &staff,
            &own.plan,
            &caller("representative").unwrap(),
            proto::MemberRole::Representative,
        )
        .await;
    // Two more NAV advisers: the patient lets one see the goals and measures alone, and let the
    // other see the plan for a second, which has passed.
    let goals = [proto::PlanPart::GoalsAndMeasures];
    for (name, expire_in) in [("scoped_member", None), ("expired_member", Some(1))] {
        let who = caller(name).unwrap();
        let member = server.add_member(&staff, &own.plan, &who, proto::MemberRole::Nav).await;
        let target = proto::access_scope::Target::Member(member);
        let expire_in = expire_in.map(std::time::Duration::from_secs);
        server.scope(&own.patient, &own.plan, target, &goals, expire_in).await.unwrap();
    }
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    own.member_measure = server
        .create_measure(&own.coordinator, &own.plan, &own.goal, &nav_membership, "Følge til NAV")
        .await
        .unwrap()
        .name;
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

/// The RPCs of the matrix; writes name the field group they touch.
#[derive(Clone, Copy, Debug)]
enum Rpc {
    GetPlanRevision,
    ListPlanRevisions,
    ExportPlan,
    UpdateSections,
    UpdateContacts,
    UpdateReviewDate,
    DeclinePlan,
    RecordConsent,
    WithdrawConsent,
    SignPlan,
    GetGoal,
    ListGoals,
    CreateGoal,
    UpdateGoalText,
    UpdateGoalStatus,
    DeleteGoal,
    ProposeGoalAdjustment,
    GetMeasure,
    ListMeasures,
    CreateMeasure,
    UpdateMeasureDescription,
    UpdateOwnMeasureStatus,
    UpdateOthersMeasureStatus,
    EvaluateOwnMeasure,
    DeleteMeasure,
}

/// Calls `rpc` on `t` as `who`, with etags fresh from the plan's staff.
async fn call(server: &TestServer, who: Option<&Who>, t: &Target, rpc: Rpc) -> Code {
    let plan = t.plan.clone();
    let etag = server.get_plan(&t.staff, &plan).await.etag;
    let goal_etag = server.get_goal(&t.staff, &t.goal).await.etag;
    match rpc {
        Rpc::GetPlanRevision => code(
            &server.plans(who).get_plan(proto::GetPlanRequest { name: plan, revision: 1 }).await,
        ),
        Rpc::ListPlanRevisions => code(
            &server
                .plans(who)
                .list_plan_revisions(proto::ListPlanRevisionsRequest {
                    parent: plan,
                    ..Default::default()
                })
                .await,
        ),
        Rpc::ExportPlan => {
            code(&server.plans(who).export_plan(proto::ExportPlanRequest { name: plan }).await)
        }
        Rpc::UpdateSections | Rpc::UpdateContacts | Rpc::UpdateReviewDate => {
            let mut input = server.get_plan(&t.staff, &plan).await;
            let path = match rpc {
                Rpc::UpdateSections => {
                    input.sections.get_or_insert_with(Default::default).what_works_now =
                        "Mye".into();
                    "sections.what_works_now"
                }
                Rpc::UpdateContacts => {
                    input.contacts =
                        vec![proto::Contact { name: "Fastlegen".into(), ..Default::default() }];
                    "contacts"
                }
                _ => {
                    input.next_review_date = day(2027, 1, 1);
                    "next_review_date"
                }
            };
            code(
                &server
                    .plans(who)
                    .update_plan(proto::UpdatePlanRequest {
                        plan: Some(input),
                        update_mask: mask(&[path]),
                    })
                    .await,
            )
        }
        Rpc::DeclinePlan => code(
            &server
                .plans(who)
                .change_plan_status(proto::ChangePlanStatusRequest {
                    name: plan,
                    etag,
                    status: proto::PlanStatus::Declined as i32,
                    reason: "Ønsker ikke".into(),
                })
                .await,
        ),
        Rpc::RecordConsent => code(
            &server
                .plans(who)
                .record_consent(proto::RecordConsentRequest {
                    name: plan,
                    etag,
                    consent: Some(proto::Consent {
                        recipients: vec![NAV.into()],
                        on_behalf: Some(proto::ConsentOnBehalf {
                            given_by: "Eva Nordmann, mother".into(),
                            reason: "Too ill to answer".into(),
                        }),
                        ..Default::default()
                    }),
                })
                .await,
        ),
        Rpc::WithdrawConsent => code(
            &server
                .plans(who)
                .withdraw_consent(proto::WithdrawConsentRequest {
                    name: plan,
                    etag,
                    reason: String::new(),
                })
                .await,
        ),
        Rpc::SignPlan => {
            code(&server.plans(who).sign_plan(proto::SignPlanRequest { name: plan, etag }).await)
        }
        Rpc::GetGoal => {
            code(&server.goals(who).get_goal(proto::GetGoalRequest { name: t.goal.clone() }).await)
        }
        Rpc::ListGoals => code(
            &server
                .goals(who)
                .list_goals(proto::ListGoalsRequest { parent: plan, ..Default::default() })
                .await,
        ),
        Rpc::CreateGoal => code(
            &server
                .goals(who)
                .create_goal(proto::CreateGoalRequest {
                    parent: plan,
                    goal: Some(proto::Goal {
                        text: "Nytt mål".into(),
                        priority: 2,
                        ..Default::default()
                    }),
                })
                .await,
        ),
        Rpc::UpdateGoalText | Rpc::UpdateGoalStatus => {
            let mut input = server.get_goal(&t.staff, &t.goal).await;
            let path = if matches!(rpc, Rpc::UpdateGoalText) {
                input.text = "Bo hjemme lenge".into();
                "text"
            } else {
                input.status = proto::GoalStatus::Agreed as i32;
                "status"
            };
            code(
                &server
                    .goals(who)
                    .update_goal(proto::UpdateGoalRequest {
                        goal: Some(input),
                        update_mask: mask(&[path]),
                        reason: String::new(),
                    })
                    .await,
            )
        }
        Rpc::DeleteGoal => {
            let victim = server.create_goal(&t.patient, &plan, "Til sletting", 9).await.unwrap();
            code(
                &server
                    .goals(who)
                    .delete_goal(proto::DeleteGoalRequest { name: victim.name, etag: victim.etag })
                    .await,
            )
        }
        Rpc::ProposeGoalAdjustment => code(
            &server
                .goals(who)
                .propose_goal_adjustment(proto::ProposeGoalAdjustmentRequest {
                    name: t.goal.clone(),
                    etag: goal_etag,
                    reason: "Kan ikke oppfylles som skrevet".into(),
                    proposed_text: String::new(),
                })
                .await,
        ),
        Rpc::GetMeasure => code(
            &server
                .measures(who)
                .get_measure(proto::GetMeasureRequest { name: t.member_measure.clone() })
                .await,
        ),
        Rpc::ListMeasures => code(
            &server
                .measures(who)
                .list_measures(proto::ListMeasuresRequest { parent: plan, ..Default::default() })
                .await,
        ),
        Rpc::CreateMeasure => code(
            &server
                .measures(who)
                .create_measure(proto::CreateMeasureRequest {
                    parent: plan,
                    measure: Some(proto::Measure {
                        goal: t.goal.clone(),
                        responsible_member: t.coordinator_membership.clone(),
                        description: "Nytt tiltak".into(),
                        ..Default::default()
                    }),
                })
                .await,
        ),
        Rpc::UpdateMeasureDescription
        | Rpc::UpdateOwnMeasureStatus
        | Rpc::UpdateOthersMeasureStatus => {
            let measure = match rpc {
                Rpc::UpdateOthersMeasureStatus => &t.coordinator_measure,
                _ => &t.member_measure,
            };
            let mut input = server.get_measure(&t.staff, measure).await;
            let path = if matches!(rpc, Rpc::UpdateMeasureDescription) {
                input.description = "Annet".into();
                "description"
            } else {
                input.status = proto::MeasureStatus::Ongoing as i32;
                "status"
            };
            code(
                &server
                    .measures(who)
                    .update_measure(proto::UpdateMeasureRequest {
                        measure: Some(input),
                        update_mask: mask(&[path]),
                    })
                    .await,
            )
        }
        Rpc::EvaluateOwnMeasure => {
            let etag = server.get_measure(&t.staff, &t.member_measure).await.etag;
            code(
                &server
                    .measures(who)
                    .add_measure_evaluation(proto::AddMeasureEvaluationRequest {
                        name: t.member_measure.clone(),
                        etag,
                        evaluation: Some(proto::Evaluation {
                            date: day(2026, 12, 1),
                            text: "Gikk bra".into(),
                            ..Default::default()
                        }),
                    })
                    .await,
            )
        }
        Rpc::DeleteMeasure => {
            let victim = server
                .create_measure(
                    &t.coordinator,
                    &plan,
                    &t.goal,
                    &t.coordinator_membership,
                    "Til sletting",
                )
                .await
                .unwrap();
            code(
                &server
                    .measures(who)
                    .delete_measure(proto::DeleteMeasureRequest {
                        name: victim.name,
                        etag: victim.etag,
                    })
                    .await,
            )
        }
    }
}

/// Undoes what an allowed `rpc` changed that would change the next caller's outcome.
async fn undo(server: &TestServer, t: &Target, rpc: Rpc) {
    match rpc {
        Rpc::DeclinePlan => {
            server
                .change_status(&t.staff, &t.staff, &t.plan, proto::PlanStatus::Requested, "")
                .await
                .unwrap();
        }
        Rpc::WithdrawConsent => {
            server.give_consent(&t.patient, &t.plan, &[NAV]).await;
        }
        _ => {}
    }
}

/// Whether `rpc` reads only.
fn reads(rpc: Rpc) -> bool {
    matches!(
        rpc,
        Rpc::GetPlanRevision
            | Rpc::ListPlanRevisions
            | Rpc::ExportPlan
            | Rpc::GetGoal
            | Rpc::ListGoals
            | Rpc::GetMeasure
            | Rpc::ListMeasures
    )
}

async fn check(server: &TestServer, world: &[Target; 3], rpc: Rpc, expected: [&Row; 3]) {
    for (t, expected) in world.iter().zip(expected) {
        let mut actual = Vec::new();
        for name in CALLERS {
            let who = caller(name);
            let before = server.get_plan(&t.staff, &t.plan).await.revision;
            let outcome = call(server, who.as_ref(), t, rpc).await;
            let after = server.get_plan(&t.staff, &t.plan).await.revision;
            if outcome == OK && !reads(rpc) {
                undo(server, t, rpc).await;
            } else if !matches!(rpc, Rpc::DeleteGoal | Rpc::DeleteMeasure) {
                // A refused write, or a read, leaves the history as it was. (The deletes create
                // their victim first, which is a revision of its own.)
                assert_eq!(before, after, "{rpc:?} on {} as {name} changed the plan", t.label);
            }
            actual.push(outcome);
        }
        check_matrix_row(&CALLERS, &format!("{rpc:?}"), t.label, expected, &actual);
    }
}

on_both_backends! {
    async fn plan_content_rpcs(server: TestServer) {
        let world = world(&server).await;
        let read = [&READ_OWN, &READ_SAME_ORG, &READ_OTHER_ORG];
        let patient = [&PATIENT_OWN, &PATIENT_SAME_ORG, &PATIENT_OTHER_ORG];
        let shared = [&SHARED_OWN, &SHARED_SAME_ORG, &SHARED_OTHER_ORG];
        let coordinator = [&COORDINATOR_OWN, &COORDINATOR_SAME_ORG, &COORDINATOR_OTHER_ORG];
        let administer = [&ADMINISTER_OWN, &ADMINISTER_SAME_ORG, &ADMINISTER_OTHER_ORG];
        let consent = [&CONSENT_OWN, &CONSENT_SAME_ORG, &CONSENT_OTHER_ORG];
        for (rpc, rows) in [
            (Rpc::GetPlanRevision, read),
            (Rpc::ListPlanRevisions, read),
            (Rpc::ExportPlan, read),
            (Rpc::UpdateSections, patient),
            (Rpc::UpdateContacts, shared),
            (Rpc::UpdateReviewDate, coordinator),
            (Rpc::DeclinePlan, administer),
            (Rpc::RecordConsent, consent),
            (Rpc::WithdrawConsent, consent),
            (Rpc::SignPlan, patient),
        ] {
            check(&server, &world, rpc, rows).await;
        }
    }
}

on_both_backends! {
    async fn goal_and_measure_rpcs(server: TestServer) {
        let world = world(&server).await;
        let read = [&READ_OWN, &READ_SAME_ORG, &READ_OTHER_ORG];
        let patient = [&PATIENT_OWN, &PATIENT_SAME_ORG, &PATIENT_OTHER_ORG];
        let shared = [&SHARED_OWN, &SHARED_SAME_ORG, &SHARED_OTHER_ORG];
        let coordinator = [&COORDINATOR_OWN, &COORDINATOR_SAME_ORG, &COORDINATOR_OTHER_ORG];
        // Elsewhere the measure is the coordinator's: the rows are the coordinator's.
        let progress = [&PROGRESS_OWN, &COORDINATOR_SAME_ORG, &COORDINATOR_OTHER_ORG];
        for (rpc, rows) in [
            (Rpc::GetGoal, read),
            (Rpc::ListGoals, read),
            (Rpc::CreateGoal, patient),
            (Rpc::UpdateGoalText, patient),
            (Rpc::UpdateGoalStatus, coordinator),
            (Rpc::DeleteGoal, shared),
            (Rpc::ProposeGoalAdjustment, shared),
            (Rpc::GetMeasure, read),
            (Rpc::ListMeasures, read),
            (Rpc::CreateMeasure, coordinator),
            (Rpc::UpdateMeasureDescription, coordinator),
            (Rpc::UpdateOwnMeasureStatus, progress),
            (Rpc::UpdateOthersMeasureStatus, coordinator),
            (Rpc::EvaluateOwnMeasure, progress),
            (Rpc::DeleteMeasure, coordinator),
        ] {
            check(&server, &world, rpc, rows).await;
        }
    }
}
