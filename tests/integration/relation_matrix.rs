//! The authorization matrix of the RPCs that create or end relations: adding and removing each
//! kind of member (a service's staff, next of kin, a representative by each basis) and deciding
//! on consent on the patient's behalf, for every caller — the patient, their representative, the
//! coordinator, a member, unit staff of the plan's and another organisation, an admin, a health
//! trust's referrer, a stranger, and the person the relation is for (`self`) — on the own plan, a
//! plan of the same organisation and one of another. Expected outcomes are written in the tables.

use samvirke::domain::ids::ResourceId;
use samvirke::domain::organisation::OrgRole;
use samvirke::domain::plan::NewConsent;
use samvirke::domain::subject::Subject;
use samvirke::domain::time::Instant;
use samvirke::proto;
use tonic::Code;

use super::common::*;

/// The callers, in the order of every row below.
const CALLERS: [&str; 11] = [
    "owner",
    "representative",
    "coordinator",
    "member",
    "unit_staff",
    "unit_staff_other_org",
    "admin",
    "referrer",
    "stranger",
    "self",
    "no_token",
];

/// The person the relations of the matrix are for, when they are a citizen.
const NEWCOMER: &str = YET_ANOTHER_PATIENT;

fn caller(name: &str, rpc: Rpc) -> Option<Who> {
    Some(match name {
        "owner" => Who::Citizen(PATIENT),
        "representative" => Who::Citizen(NEXT_OF_KIN),
        "coordinator" => Who::Personnel("coordinator", MUNICIPALITY),
        "member" => Who::Personnel("nav-adviser", NAV),
        "unit_staff" => Who::Personnel("unit-staff", MUNICIPALITY),
        "unit_staff_other_org" => Who::Personnel("unit-staff-b", OTHER_MUNICIPALITY),
        "admin" => Who::Personnel("admin", MUNICIPALITY),
        "referrer" => Who::Personnel("discharge", HOSPITAL),
        "stranger" => Who::Citizen(STRANGER),
        "self" => rpc.newcomer(),
        "no_token" => return None,
        other => panic!("unknown caller {other}"),
    })
}

type Row = [Code; 11];

// Adding a member who serves for an organisation: the coordinator and unit staff.
const ADD_MEMBER_OWN: Row = [PD, PD, OK, PD, OK, NF, NF, NF, NF, NF, UA];
// Next of kin: the patient's side.
const ADD_NEXT_OF_KIN_OWN: Row = [OK, OK, PD, PD, PD, NF, NF, NF, NF, NF, UA];
// A power of attorney: the patient alone.
const ADD_ATTORNEY_OWN: Row = [OK, PD, PD, PD, PD, NF, NF, NF, NF, NF, UA];
// A guardian: unit staff.
const ADD_GUARDIAN_OWN: Row = [PD, PD, PD, PD, OK, NF, NF, NF, NF, NF, UA];
// A parent: unit staff, and only of a minor; these patients are adults.
const ADD_PARENT_OWN: Row = [PD, PD, PD, PD, FP, NF, NF, NF, NF, NF, UA];

// Ending them: those who add them, and the member themselves.
const REMOVE_MEMBER_OWN: Row = [PD, PD, OK, PD, OK, NF, NF, NF, NF, OK, UA];
const REMOVE_NEXT_OF_KIN_OWN: Row = [OK, OK, OK, PD, OK, NF, NF, NF, NF, OK, UA];
const REMOVE_ATTORNEY_OWN: Row = [OK, PD, PD, PD, PD, NF, NF, NF, NF, OK, UA];
const REMOVE_GUARDIAN_OWN: Row = [PD, PD, PD, PD, OK, NF, NF, NF, NF, OK, UA];

// Consent, where the consent in force was given on the patient's behalf: the patient's side
// decides, and unit staff decide on the patient's behalf.
const CONSENT_OWN: Row = [OK, OK, PD, PD, OK, NF, NF, NF, NF, NF, UA];

/// Whether `rpc` ends a membership, which its member may always do while they see the plan.
fn removes(rpc: Rpc) -> bool {
    matches!(
        rpc,
        Rpc::RemoveMember | Rpc::RemoveNextOfKin | Rpc::RemoveAttorney | Rpc::RemoveGuardian
    )
}

/// On a plan of the same organisation only its unit staff, and a member ending their own
/// membership, see anything.
fn same_org(own: &Row, rpc: Rpc) -> Row {
    let mut row = [NF; 11];
    row[4] = own[4];
    if removes(rpc) {
        row[9] = own[9];
    }
    row[10] = UA;
    row
}

/// On a plan of another organisation: the same patient, and that organisation's unit staff in
/// the place of the own plan's. The self caller serves there too for the removals, but acting
/// for an organisation that plan does not share with is outside its reach.
fn other_org(own: &Row, rpc: Rpc) -> Row {
    let mut row = [NF; 11];
    row[0] = own[0];
    row[5] = own[4];
    if removes(rpc) && rpc != Rpc::RemoveMember {
        row[9] = own[9];
    }
    row[10] = UA;
    row
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Rpc {
    AddMember,
    AddNextOfKin,
    AddAttorney,
    AddGuardian,
    AddParent,
    RemoveMember,
    RemoveNextOfKin,
    RemoveAttorney,
    RemoveGuardian,
    RecordConsentOnBehalf,
    WithdrawConsentOnBehalf,
}

impl Rpc {
    /// The member the RPC adds or removes.
    fn newcomer(self) -> Who {
        match self {
            Rpc::AddMember | Rpc::RemoveMember => Who::Personnel("gp-new", MUNICIPALITY),
            _ => Who::Citizen(NEWCOMER),
        }
    }

    /// Their membership, as AddMember takes it.
    fn membership(self) -> proto::Member {
        let (role, basis) = match self {
            Rpc::AddMember | Rpc::RemoveMember => {
                (proto::MemberRole::Gp, proto::RepresentativeBasis::Unspecified)
            }
            Rpc::AddNextOfKin | Rpc::RemoveNextOfKin => {
                (proto::MemberRole::NextOfKin, proto::RepresentativeBasis::Unspecified)
            }
            Rpc::AddAttorney | Rpc::RemoveAttorney => {
                (proto::MemberRole::Representative, proto::RepresentativeBasis::PowerOfAttorney)
            }
            Rpc::AddGuardian | Rpc::RemoveGuardian => {
                (proto::MemberRole::Representative, proto::RepresentativeBasis::Guardian)
            }
            _ => (proto::MemberRole::Representative, proto::RepresentativeBasis::Parent),
        };
        proto::Member {
            basis_reference: "SF-2026/1234".into(),
            representative_basis: basis as i32,
            ..self.newcomer().as_member(role)
        }
    }

    /// Who may add the membership a removal needs: the patient for their own relations, unit
    /// staff for the rest.
    fn adder(self, t: &Target) -> Who {
        match self {
            Rpc::RemoveNextOfKin | Rpc::RemoveAttorney => t.patient.clone(),
            _ => t.staff.clone(),
        }
    }
}

struct Target {
    label: &'static str,
    plan: String,
    staff: Who,
    patient: Who,
}

async fn target(
    server: &TestServer,
    label: &'static str,
    staff: Who,
    org: &'static str,
    patient: &'static str,
    coordinator: Who,
) -> Target {
    let plan = server.create_plan(&staff, org, patient).await;
    server.add_member(&staff, &plan, &coordinator, proto::MemberRole::Coordinator).await;
    let t = Target { label, plan, staff, patient: Who::Citizen(patient) };
    reset_consent(server, &t).await;
    t
}

async fn world(server: &TestServer) -> [Target; 3] {
    let staff = Who::Personnel("unit-staff", MUNICIPALITY);
    let staff_b = Who::Personnel("unit-staff-b", OTHER_MUNICIPALITY);
    for (org, who, role) in [
        (MUNICIPALITY, &staff, OrgRole::UnitStaff),
        (OTHER_MUNICIPALITY, &staff_b, OrgRole::UnitStaff),
        (MUNICIPALITY, &Who::Personnel("admin", MUNICIPALITY), OrgRole::Admin),
        (HOSPITAL, &Who::Personnel("discharge", HOSPITAL), OrgRole::Referrer),
    ] {
        server.bootstrap_grant(org, &who.subject(), role).await;
    }
    let own = target(
        server,
        "own plan",
        staff.clone(),
        MUNICIPALITY,
        PATIENT,
        Who::Personnel("coordinator", MUNICIPALITY),
    )
    .await;
    server
        .add_member(&staff, &own.plan, &Who::Personnel("nav-adviser", NAV), proto::MemberRole::Nav)
        .await;
    server
        .add_member(
            &staff,
            &own.plan,
            &Who::Citizen(NEXT_OF_KIN),
            proto::MemberRole::Representative,
        )
        .await;
    let same_org = target(
        server,
        "plan of the same org",
        staff,
        MUNICIPALITY,
        OTHER_PATIENT,
        Who::Personnel("coordinator-2", MUNICIPALITY),
    )
    .await;
    let other_org = target(
        server,
        "plan of another org",
        staff_b,
        OTHER_MUNICIPALITY,
        PATIENT,
        Who::Personnel("coordinator-b", OTHER_MUNICIPALITY),
    )
    .await;
    [own, same_org, other_org]
}

/// Puts consent given on the patient's behalf in force, covering NAV, as the unit records it
/// for a patient who cannot answer: straight through the store, since once the patient's side
/// has decided nobody else may through the API.
async fn reset_consent(server: &TestServer, t: &Target) {
    let id = ResourceId::parse(t.plan.trim_start_matches("plans/")).unwrap();
    let consent = NewConsent::parse(
        &[NAV.to_owned()],
        Some(("Eva Nordmann, mother", "The patient was unconscious")),
        false,
    )
    .unwrap();
    let staff = Subject::parse("s", &t.staff.subject()).unwrap();
    server
        .store
        .write_with(async |session| {
            let plan = samvirke::auth::PlanPass::operator_for(session, id).await?;
            session.record_consent(&plan, &consent, "unit_staff", &staff, Instant::now()).await
        })
        .await
        .unwrap();
}

/// The membership of the newcomer on `t`, as its adder makes it, for a removal to end.
async fn add_newcomer(server: &TestServer, t: &Target, rpc: Rpc) -> String {
    server
        .members(Some(&rpc.adder(t)))
        .add_member(proto::AddMemberRequest {
            parent: t.plan.clone(),
            member: Some(rpc.membership()),
        })
        .await
        .expect("adding the membership to remove")
        .into_inner()
        .member
        .unwrap()
        .name
}

/// Ends the newcomer's open membership on `t` after an allowed add, so the next caller can add
/// it again; as unit staff for theirs, as the patient for the patient's.
async fn undo_add(server: &TestServer, t: &Target, rpc: Rpc) {
    let remover = match rpc {
        Rpc::AddNextOfKin | Rpc::AddAttorney => t.patient.clone(),
        _ => t.staff.clone(),
    };
    let members = server
        .members(Some(&t.staff))
        .list_members(proto::ListMembersRequest { parent: t.plan.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .members;
    let newcomer = rpc.newcomer().subject();
    for m in members.into_iter().filter(|m| m.subject == newcomer) {
        server
            .members(Some(&remover))
            .remove_member(proto::RemoveMemberRequest { name: m.name, etag: String::new() })
            .await
            .expect("ending the added membership");
    }
}

async fn call(server: &TestServer, who: Option<&Who>, t: &Target, rpc: Rpc) -> Code {
    match rpc {
        Rpc::AddMember
        | Rpc::AddNextOfKin
        | Rpc::AddAttorney
        | Rpc::AddGuardian
        | Rpc::AddParent => {
            let outcome = code(
                &server
                    .members(who)
                    .add_member(proto::AddMemberRequest {
                        parent: t.plan.clone(),
                        member: Some(rpc.membership()),
                    })
                    .await,
            );
            if outcome == OK {
                undo_add(server, t, rpc).await;
            }
            outcome
        }
        Rpc::RemoveMember | Rpc::RemoveNextOfKin | Rpc::RemoveAttorney | Rpc::RemoveGuardian => {
            let name = add_newcomer(server, t, rpc).await;
            let outcome = code(
                &server
                    .members(who)
                    .remove_member(proto::RemoveMemberRequest {
                        name: name.clone(),
                        etag: String::new(),
                    })
                    .await,
            );
            if outcome != OK {
                let remover = rpc.adder(t);
                server
                    .members(Some(&remover))
                    .remove_member(proto::RemoveMemberRequest { name, etag: String::new() })
                    .await
                    .expect("ending the membership a refused removal left");
            }
            outcome
        }
        Rpc::RecordConsentOnBehalf => {
            let etag = server.get_plan(&t.staff, &t.plan).await.etag;
            let outcome = code(
                &server
                    .plans(who)
                    .record_consent(proto::RecordConsentRequest {
                        name: t.plan.clone(),
                        etag,
                        consent: Some(proto::Consent {
                            recipients: vec![NAV.into(), SCHOOL.into()],
                            on_behalf: Some(proto::ConsentOnBehalf {
                                given_by: "Eva Nordmann, mother".into(),
                                reason: "The patient was unconscious".into(),
                            }),
                            ..Default::default()
                        }),
                    })
                    .await,
            );
            if outcome == OK {
                reset_consent(server, t).await;
            }
            outcome
        }
        Rpc::WithdrawConsentOnBehalf => {
            let etag = server.get_plan(&t.staff, &t.plan).await.etag;
            let outcome = code(
                &server
                    .plans(who)
                    .withdraw_consent(proto::WithdrawConsentRequest {
                        name: t.plan.clone(),
                        etag,
                        reason: String::new(),
                    })
                    .await,
            );
            if outcome == OK {
                reset_consent(server, t).await;
            }
            outcome
        }
    }
}

async fn check(server: &TestServer, world: &[Target; 3], rpc: Rpc, own: &Row) {
    let expected = [*own, same_org(own, rpc), other_org(own, rpc)];
    for (t, expected) in world.iter().zip(expected) {
        let mut actual = Vec::new();
        for name in CALLERS {
            let who = caller(name, rpc);
            let members = server.row_count("members").await;
            let consents = server.row_count("consents").await;
            let outcome = call(server, who.as_ref(), t, rpc).await;
            if outcome != OK && matches!(rpc, Rpc::RecordConsentOnBehalf) {
                assert_eq!(server.row_count("consents").await, consents, "{rpc:?} as {name}");
            }
            if outcome != OK && !removes(rpc) && rpc != Rpc::WithdrawConsentOnBehalf {
                assert_eq!(server.row_count("members").await, members, "{rpc:?} as {name}");
            }
            actual.push(outcome);
        }
        check_matrix_row(&CALLERS, &format!("{rpc:?}"), t.label, &expected, &actual);
    }
}

on_both_backends! {
    async fn adding_members_by_kind(server: TestServer) {
        let world = world(&server).await;
        for (rpc, own) in [
            (Rpc::AddMember, &ADD_MEMBER_OWN),
            (Rpc::AddNextOfKin, &ADD_NEXT_OF_KIN_OWN),
            (Rpc::AddAttorney, &ADD_ATTORNEY_OWN),
            (Rpc::AddGuardian, &ADD_GUARDIAN_OWN),
            (Rpc::AddParent, &ADD_PARENT_OWN),
        ] {
            check(&server, &world, rpc, own).await;
        }
    }
}

on_both_backends! {
    async fn ending_members_by_kind(server: TestServer) {
        let world = world(&server).await;
        for (rpc, own) in [
            (Rpc::RemoveMember, &REMOVE_MEMBER_OWN),
            (Rpc::RemoveNextOfKin, &REMOVE_NEXT_OF_KIN_OWN),
            (Rpc::RemoveAttorney, &REMOVE_ATTORNEY_OWN),
            (Rpc::RemoveGuardian, &REMOVE_GUARDIAN_OWN),
        ] {
            check(&server, &world, rpc, own).await;
        }
    }
}

on_both_backends! {
    async fn consent_on_the_patients_behalf(server: TestServer) {
        let world = world(&server).await;
        for rpc in [Rpc::RecordConsentOnBehalf, Rpc::WithdrawConsentOnBehalf] {
            check(&server, &world, rpc, &CONSENT_OWN).await;
        }
    }
}

/// Every caller of the matrix is a different person.
#[test]
fn callers_are_distinct() {
    let mut seen: Vec<String> =
        CALLERS.iter().filter_map(|c| caller(c, Rpc::AddMember)).map(|w| w.subject()).collect();
    seen.sort();
    let before = seen.len();
    seen.dedup();
    assert_eq!(before, seen.len(), "two callers of the matrix are one person");
}
