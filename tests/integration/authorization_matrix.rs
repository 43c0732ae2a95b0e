//! The authorization matrix: every RPC × every relation × own plan, another plan of the same
//! organisation, and a plan of another organisation. Expected outcomes are written in the tables
//! below, not derived from the policy: a policy edit that changes who may do what must change
//! this file too.

use samvirke::domain::organisation::OrgRole;
use samvirke::proto;
use tonic::Code;

use super::common::*;

/// The callers, in the order of every row below.
const CALLERS: [&str; 14] = [
    "owner",
    "member",
    "member_acting_for_another_org",
    "ended_member",
    "coordinator",
    "unit_staff",
    "unit_staff_other_org",
    "admin",
    "stranger_citizen",
    "stranger_personnel",
    "no_token",
    "blocked_member",
    "scoped_member",
    "expired_member",
];

fn caller(name: &str) -> Option<Who> {
    Some(match name {
        "owner" => Who::Citizen(PATIENT),
        "member" => Who::Personnel("nav-adviser", NAV),
        "member_acting_for_another_org" => Who::Personnel("nav-adviser", SCHOOL),
        "ended_member" => Who::Personnel("teacher", SCHOOL),
        "coordinator" => Who::Personnel("coordinator", MUNICIPALITY),
        "unit_staff" => Who::Personnel("unit-staff", MUNICIPALITY),
        "unit_staff_other_org" => Who::Personnel("unit-staff-b", OTHER_MUNICIPALITY),
        "admin" => Who::Personnel("admin", MUNICIPALITY),
        "stranger_citizen" => Who::Citizen(STRANGER),
        "stranger_personnel" => Who::Personnel("doctor", HOSPITAL),
        "no_token" => return None,
        "blocked_member" => Who::Personnel("blocked-adviser", NAV),
        "scoped_member" => Who::Personnel("scoped-adviser", NAV),
        "expired_member" => Who::Personnel("lapsed-adviser", NAV),
        other => panic!("unknown caller {other}"),
    })
}

/// The plans of the matrix. `own` is the patient's plan in the municipality, which the member,
/// ended member and coordinator serve on; `same_org` is another patient's plan in the same
/// municipality; `other_org` is the same patient's plan in another municipality.
struct World {
    own: String,
    same_org: String,
    other_org: String,
}

async fn world(server: &TestServer) -> World {
    let admin = caller("admin").unwrap();
    let staff = caller("unit_staff").unwrap();
    let staff_b = caller("unit_staff_other_org").unwrap();
    server.bootstrap_grant(MUNICIPALITY, &admin.subject(), OrgRole::Admin).await;
    // The municipality's unit staff are granted through the API, as an admin would.
    server
        .organisations(Some(&admin))
        .grant_role(proto::GrantRoleRequest {
            parent: format!("organisations/{MUNICIPALITY}"),
            role_grant: Some(proto::RoleGrant {
                subject: staff.subject(),
                role: proto::OrganisationRole::UnitStaff as i32,
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    server.bootstrap_grant(OTHER_MUNICIPALITY, &staff_b.subject(), OrgRole::UnitStaff).await;
    let own = server.create_plan(&staff, MUNICIPALITY, PATIENT).await;
    let same_org = server.create_plan(&staff, MUNICIPALITY, OTHER_PATIENT).await;
    let other_org = server.create_plan(&staff_b, OTHER_MUNICIPALITY, PATIENT).await;
    let member = caller("member").unwrap();
    let coordinator = caller("coordinator").unwrap();
    let teacher = caller("ended_member").unwrap();
    server.add_member(&staff, &own, &member, proto::MemberRole::Nav).await;
    server.add_member(&staff, &own, &coordinator, proto::MemberRole::Coordinator).await;
    let ended = server.add_member(&staff, &own, &teacher, proto::MemberRole::School).await;
    server
        .members(Some(&staff))
        .remove_member(proto::RemoveMemberRequest { name: ended, etag: String::new() })
        .await
        .unwrap();
    // The patient shares the plan with NAV, whose adviser serves on it; another NAV adviser
    // serves on it too, but the patient blocked them.
    server.give_consent(&caller("owner").unwrap(), &own, &[NAV]).await;
    let blocked = caller("blocked_member").unwrap();
    server.add_member(&staff, &own, &blocked, proto::MemberRole::Nav).await;
    server
        .blocks(caller("owner").as_ref())
        .create_block(proto::CreateBlockRequest {
            parent: own.clone(),
            block: Some(proto::Block {
                subject: blocked.subject(),
                display_name: "NAV-veilederen".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    // Two more NAV advisers serve on it: the patient lets one see only the goals and measures,
    // and let the other see the plan for a second, which has passed.
    let owner = caller("owner").unwrap();
    let scoped = caller("scoped_member").unwrap();
    let member = server.add_member(&staff, &own, &scoped, proto::MemberRole::Nav).await;
    let goals = [proto::PlanPart::GoalsAndMeasures];
    let target = proto::access_scope::Target::Member(member);
    server.scope(&owner, &own, target, &goals, None).await.unwrap();
    let lapsed = caller("expired_member").unwrap();
    let member = server.add_member(&staff, &own, &lapsed, proto::MemberRole::Nav).await;
    let target = proto::access_scope::Target::Member(member);
    let second = Some(std::time::Duration::from_secs(1));
    server.scope(&owner, &own, target, &goals, second).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    World { own, same_org, other_org }
}

/// Outcomes by caller, in `CALLERS` order.
type Row = [Code; 14];

const READ_OWN: Row = [OK, OK, NF, NF, OK, OK, NF, NF, NF, NF, UA, NF, OK, NF];
const READ_SAME_ORG: Row = [NF, NF, NF, NF, NF, OK, NF, NF, NF, NF, UA, NF, NF, NF];
const READ_OTHER_ORG: Row = [OK, NF, NF, NF, NF, NF, OK, NF, NF, NF, UA, NF, NF, NF];

const MANAGE_GROUP_OWN: Row = [PD, PD, NF, NF, OK, OK, NF, NF, NF, NF, UA, NF, PD, NF];
/// RemoveMember names a membership: to the member scoped without the group, it is absent.
const REMOVE_MEMBER_OWN: Row = [PD, PD, NF, NF, OK, OK, NF, NF, NF, NF, UA, NF, NF, NF];
const MANAGE_GROUP_SAME_ORG: Row = [NF, NF, NF, NF, NF, OK, NF, NF, NF, NF, UA, NF, NF, NF];
const MANAGE_GROUP_OTHER_ORG: Row = [PD, NF, NF, NF, NF, NF, OK, NF, NF, NF, UA, NF, NF, NF];

/// The access log (ListAccessEvents): the patient's alone among these callers; those who may
/// read the plan otherwise are refused PERMISSION_DENIED.
const READ_LOG_OWN: Row = [OK, PD, NF, NF, PD, PD, NF, NF, NF, NF, UA, NF, PD, NF];
const READ_LOG_SAME_ORG: Row = [NF, NF, NF, NF, NF, PD, NF, NF, NF, NF, UA, NF, NF, NF];
const READ_LOG_OTHER_ORG: Row = [OK, NF, NF, NF, NF, NF, PD, NF, NF, NF, UA, NF, NF, NF];

/// Access scopes: the patient's side sets them; those who run the plan read them.
const READ_SCOPES_OWN: Row = [OK, PD, NF, NF, OK, OK, NF, NF, NF, NF, UA, NF, PD, NF];
const READ_SCOPES_SAME_ORG: Row = [NF, NF, NF, NF, NF, OK, NF, NF, NF, NF, UA, NF, NF, NF];
const READ_SCOPES_OTHER_ORG: Row = [OK, NF, NF, NF, NF, NF, OK, NF, NF, NF, UA, NF, NF, NF];
const SET_SCOPES_OWN: Row = [OK, PD, NF, NF, PD, PD, NF, NF, NF, NF, UA, NF, PD, NF];
const SET_SCOPES_SAME_ORG: Row = [NF, NF, NF, NF, NF, PD, NF, NF, NF, NF, UA, NF, NF, NF];
const SET_SCOPES_OTHER_ORG: Row = [OK, NF, NF, NF, NF, NF, PD, NF, NF, NF, UA, NF, NF, NF];

const CREATE_IN_MUNICIPALITY: Row = [PD, PD, PD, PD, PD, OK, PD, PD, PD, PD, UA, PD, PD, PD];
const CREATE_IN_OTHER: Row = [PD, PD, PD, PD, PD, PD, OK, PD, PD, PD, UA, PD, PD, PD];

const ROLES_IN_MUNICIPALITY: Row = [PD, PD, PD, PD, PD, PD, PD, OK, PD, PD, UA, PD, PD, PD];
const ROLES_IN_OTHER: Row = [PD, PD, PD, PD, PD, PD, PD, PD, PD, PD, UA, PD, PD, PD];

/// Which of (own, same_org, other_org) each caller finds in ListPlans; `None` for an error.
const LISTED: [Option<[bool; 3]>; 14] = [
    Some([true, false, true]),
    Some([true, false, false]),
    Some([false, false, false]),
    Some([false, false, false]),
    Some([true, false, false]),
    Some([true, true, false]),
    Some([false, false, true]),
    Some([false, false, false]),
    Some([false, false, false]),
    Some([false, false, false]),
    None,
    Some([false, false, false]),
    Some([true, false, false]),
    Some([false, false, false]),
];

fn check(rpc: &str, target: &str, expected: &Row, actual: &[Code]) {
    check_matrix_row(&CALLERS, rpc, target, expected, actual);
}

/// The staff member who runs `plan`'s group, to set up each remove.
fn plan_staff(world: &World, plan: &str) -> Who {
    if plan == world.other_org {
        caller("unit_staff_other_org").unwrap()
    } else {
        caller("unit_staff").unwrap()
    }
}

on_both_backends! {
    async fn plan_rpcs(server: TestServer) {
        let world = world(&server).await;
        let targets = [
            (
                "own plan",
                &world.own,
                [
                    READ_OWN,
                    MANAGE_GROUP_OWN,
                    REMOVE_MEMBER_OWN,
                    READ_LOG_OWN,
                    READ_SCOPES_OWN,
                    SET_SCOPES_OWN,
                ],
            ),
            (
                "plan of the same org",
                &world.same_org,
                [
                    READ_SAME_ORG,
                    MANAGE_GROUP_SAME_ORG,
                    MANAGE_GROUP_SAME_ORG,
                    READ_LOG_SAME_ORG,
                    READ_SCOPES_SAME_ORG,
                    SET_SCOPES_SAME_ORG,
                ],
            ),
            (
                "plan of another org",
                &world.other_org,
                [
                    READ_OTHER_ORG,
                    MANAGE_GROUP_OTHER_ORG,
                    MANAGE_GROUP_OTHER_ORG,
                    READ_LOG_OTHER_ORG,
                    READ_SCOPES_OTHER_ORG,
                    SET_SCOPES_OTHER_ORG,
                ],
            ),
        ];
        for (target, plan, [read, manage, remove_member, read_log, read_scopes, set_scopes]) in
            targets
        {
            let mut list_scopes = Vec::new();
            let mut create_scope = Vec::new();
            let mut get = Vec::new();
            let mut access_events = Vec::new();
            let mut list_members = Vec::new();
            let mut add = Vec::new();
            let mut remove = Vec::new();
            for (i, name) in CALLERS.iter().enumerate() {
                let who = caller(name);
                get.push(code(
                    &server
                        .plans(who.as_ref())
                        .get_plan(proto::GetPlanRequest { name: plan.clone(), revision: 0 })
                        .await,
                ));
                access_events.push(code(
                    &server
                        .access_events(who.as_ref())
                        .list_access_events(proto::ListAccessEventsRequest {
                            parent: plan.clone(),
                            ..Default::default()
                        })
                        .await,
                ));
                list_members.push(code(
                    &server
                        .members(who.as_ref())
                        .list_members(proto::ListMembersRequest {
                            parent: plan.clone(),
                            ..Default::default()
                        })
                        .await,
                ));

                let members_before = server.row_count("members").await;
                let added = server
                    .members(who.as_ref())
                    .add_member(proto::AddMemberRequest {
                        parent: plan.clone(),
                        member: Some(proto::Member {
                            subject: format!("personnel:added-{i}"),
                            display_name: "Added".into(),
                            role: proto::MemberRole::Other as i32,
                            organisation: NAV.into(),
                            ..Default::default()
                        }),
                    })
                    .await;
                if added.is_err() {
                    assert_eq!(server.row_count("members").await, members_before, "{name} add wrote");
                }
                add.push(code(&added));

                // A fresh membership to remove for every caller.
                let staff = plan_staff(&world, plan);
                let victim = server
                    .members(Some(&staff))
                    .add_member(proto::AddMemberRequest {
                        parent: plan.clone(),
                        member: Some(proto::Member {
                            subject: format!("personnel:victim-{i}"),
                            display_name: "Victim".into(),
                            role: proto::MemberRole::Other as i32,
                            organisation: NAV.into(),
                            ..Default::default()
                        }),
                    })
                    .await
                    .unwrap()
                    .into_inner()
                    .member
                    .unwrap();
                let removed = server
                    .members(who.as_ref())
                    .remove_member(proto::RemoveMemberRequest {
                        name: victim.name.clone(),
                        etag: String::new(),
                    })
                    .await;
                if removed.is_err() {
                    let current = server
                        .members(Some(&staff))
                        .list_members(proto::ListMembersRequest {
                            parent: plan.clone(),
                            ..Default::default()
                        })
                        .await
                        .unwrap()
                        .into_inner()
                        .members;
                    assert!(current.iter().any(|m| m.name == victim.name), "{name} remove ended it");
                }
                remove.push(code(&removed));

                list_scopes.push(code(
                    &server
                        .access_scopes(who.as_ref())
                        .list_access_scopes(proto::ListAccessScopesRequest { parent: plan.clone() })
                        .await,
                ));
                // A fresh membership to scope for every caller.
                let scoped = Who::Personnel(Box::leak(format!("scoped-{i}").into_boxed_str()), NAV);
                let member = server.add_member(&staff, plan, &scoped, proto::MemberRole::Nav).await;
                let scopes_before = server.row_count("access_scopes").await;
                let created = server
                    .access_scopes(who.as_ref())
                    .create_access_scope(proto::CreateAccessScopeRequest {
                        parent: plan.clone(),
                        access_scope: Some(proto::AccessScope {
                            target: Some(proto::access_scope::Target::Member(member)),
                            parts: vec![proto::PlanPart::GoalsAndMeasures as i32],
                            ..Default::default()
                        }),
                    })
                    .await;
                if created.is_err() {
                    let after = server.row_count("access_scopes").await;
                    assert_eq!(after, scopes_before, "{name} scope wrote");
                }
                create_scope.push(code(&created));
            }
            check("ListAccessScopes", target, &read_scopes, &list_scopes);
            check("CreateAccessScope", target, &set_scopes, &create_scope);
            check("GetPlan", target, &read, &get);
            check("ListAccessEvents", target, &read_log, &access_events);
            check("ListMembers", target, &read, &list_members);
            check("AddMember", target, &manage, &add);
            check("RemoveMember", target, &remove_member, &remove);
        }
    }
}

on_both_backends! {
    async fn list_plans(server: TestServer) {
        let world = world(&server).await;
        for (name, expected) in CALLERS.iter().zip(LISTED) {
            let who = caller(name);
            let listed = server
                .plans(who.as_ref())
                .list_plans(proto::ListPlansRequest::default())
                .await;
            match expected {
                None => assert_eq!(code(&listed), UA, "{name}"),
                Some(visible) => {
                    let names: Vec<String> =
                        listed.unwrap().into_inner().plans.into_iter().map(|p| p.name).collect();
                    let expected: Vec<&String> = [&world.own, &world.same_org, &world.other_org]
                        .into_iter()
                        .zip(visible)
                        .filter_map(|(plan, seen)| seen.then_some(plan))
                        .collect();
                    assert_eq!(names.iter().collect::<Vec<_>>(), expected, "ListPlans as {name}");
                }
            }
        }
    }
}

on_both_backends! {
    async fn organisation_rpcs(server: TestServer) {
        let _world = world(&server).await;
        let targets = [
            ("the municipality", MUNICIPALITY, CREATE_IN_MUNICIPALITY, ROLES_IN_MUNICIPALITY),
            ("another municipality", OTHER_MUNICIPALITY, CREATE_IN_OTHER, ROLES_IN_OTHER),
        ];
        for (target, org, create_row, roles_row) in targets {
            let (mut create, mut grant, mut revoke, mut list) = (vec![], vec![], vec![], vec![]);
            for (i, name) in CALLERS.iter().enumerate() {
                let who = caller(name);
                let plans_before = server.row_count("plans").await;
                let created = server
                    .plans(who.as_ref())
                    .create_plan(proto::CreatePlanRequest {
                        plan: Some(proto::Plan {
                            organisation: org.into(),
                            patient_id: NEXT_OF_KIN.into(),
                            patient_display_name: "Per Hansen".into(),
                            kind: proto::PlanKind::Palliative as i32,
                            ..Default::default()
                        }),
                    })
                    .await;
                if created.is_err() {
                    assert_eq!(server.row_count("plans").await, plans_before, "{name} create wrote");
                }
                create.push(code(&created));

                let grants_before = server.row_count("role_grants").await;
                let granted = server
                    .organisations(who.as_ref())
                    .grant_role(proto::GrantRoleRequest {
                        parent: format!("organisations/{org}"),
                        role_grant: Some(proto::RoleGrant {
                            subject: format!("personnel:granted-{i}"),
                            role: proto::OrganisationRole::UnitStaff as i32,
                            ..Default::default()
                        }),
                    })
                    .await;
                if granted.is_err() {
                    assert_eq!(server.row_count("role_grants").await, grants_before, "{name} grant wrote");
                }
                grant.push(code(&granted));

                let victim = server
                    .bootstrap_grant(org, &format!("personnel:revoked-{i}"), OrgRole::UnitStaff)
                    .await;
                let grants_before = server.row_count("role_grants").await;
                let revoked = server
                    .organisations(who.as_ref())
                    .revoke_role(proto::RevokeRoleRequest { name: victim })
                    .await;
                if revoked.is_err() {
                    assert_eq!(server.row_count("role_grants").await, grants_before, "{name} revoke deleted");
                }
                revoke.push(code(&revoked));

                list.push(code(
                    &server
                        .organisations(who.as_ref())
                        .list_role_grants(proto::ListRoleGrantsRequest {
                            parent: format!("organisations/{org}"),
                            ..Default::default()
                        })
                        .await,
                ));
            }
            check("CreatePlan", target, &create_row, &create);
            check("GrantRole", target, &roles_row, &grant);
            check("RevokeRole", target, &roles_row, &revoke);
            check("ListRoleGrants", target, &roles_row, &list);
        }
    }
}
