//! BlockService (sperring): the patient keeps a person or an organisation out of their plan.
//! A block takes effect on the blocked's next call, for every RPC and every list, whatever
//! they hold, the coordinator's role included; the coordinating unit is told; lifting gives
//! back what the blocked held; each block and lift is in the plan's history.

use samvirke::domain::organisation::OrgRole;
use samvirke::proto;
use tonic::{Code, Status};

use super::common::*;

fn nav_system() -> Who {
    Who::System("nav-system", NAV)
}

/// A plan of the patient's with a coordinator, a NAV adviser and NAV's system on the group
/// under consent, a representative, and a goal.
async fn world(server: &TestServer) -> String {
    server.bootstrap_grant(MUNICIPALITY, &staff().subject(), OrgRole::UnitStaff).await;
    let plan = server.create_plan(&staff(), MUNICIPALITY, PATIENT).await;
    server.appoint_coordinator(&staff(), &plan, &coordinator()).await;
    server.add_member(&staff(), &plan, &nav(), proto::MemberRole::Nav).await;
    server.add_member(&staff(), &plan, &nav_system(), proto::MemberRole::Nav).await;
    let patient = Who::Citizen(PATIENT);
    server.give_consent(&patient, &plan, &[NAV]).await;
    let representative = Who::Citizen(NEXT_OF_KIN);
    server.add_member(&patient, &plan, &representative, proto::MemberRole::Representative).await;
    server.create_goal(&patient, &plan, "Gå tur hver dag", 1).await.unwrap();
    plan
}

fn person(who: &Who) -> proto::Block {
    proto::Block { subject: who.subject(), display_name: "Ola".into(), ..Default::default() }
}

async fn block(
    server: &TestServer,
    by: &Who,
    plan: &str,
    block: proto::Block,
) -> Result<proto::Block, Status> {
    let request = proto::CreateBlockRequest { parent: plan.into(), block: Some(block) };
    let created = server.blocks(Some(by)).create_block(request).await;
    created.map(|r| r.into_inner().block.unwrap())
}

async fn lift(server: &TestServer, by: &Who, block: &str) -> Result<proto::Block, Status> {
    let request = proto::LiftBlockRequest { name: block.into() };
    server.blocks(Some(by)).lift_block(request).await.map(|r| r.into_inner().block.unwrap())
}

/// Whether `who` finds `plan` in ListPlans.
async fn listed(server: &TestServer, who: &Who, plan: &str) -> bool {
    let request = proto::ListPlansRequest { page_size: 500, ..Default::default() };
    let plans = server.plans(Some(who)).list_plans(request).await.unwrap().into_inner().plans;
    plans.iter().any(|p| p.name == plan)
}

/// The codes `who` gets from RPCs of every service that name `plan` or something in it, each
/// a request that would pass validation.
async fn codes_of_every_service(
    server: &TestServer,
    who: &Who,
    plan: &str,
) -> Vec<(&'static str, Code)> {
    let name = || plan.to_owned();
    let patient = Who::Citizen(PATIENT);
    let goal = server
        .goals(Some(&patient))
        .list_goals(proto::ListGoalsRequest { parent: name(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .goals
        .remove(0)
        .name;
    let etag = server.get_plan(&patient, plan).await.etag;
    let mut codes = Vec::new();
    let plans = server.plans(Some(who));
    codes.push((
        "GetPlan",
        code(&plans.clone().get_plan(proto::GetPlanRequest { name: name(), revision: 0 }).await),
    ));
    codes.push((
        "UpdatePlan",
        code(&plans.clone().update_plan(important_to_me(plan, &etag, "x")).await),
    ));
    codes.push((
        "ListPlanRevisions",
        code(
            &plans
                .clone()
                .list_plan_revisions(proto::ListPlanRevisionsRequest {
                    parent: name(),
                    ..Default::default()
                })
                .await,
        ),
    ));
    codes.push((
        "ExportPlan",
        code(&plans.clone().export_plan(proto::ExportPlanRequest { name: name() }).await),
    ));
    codes.push((
        "ListConsents",
        code(
            &plans
                .clone()
                .list_consents(proto::ListConsentsRequest { parent: name(), ..Default::default() })
                .await,
        ),
    ));
    codes.push((
        "GetGoal",
        code(&server.goals(Some(who)).get_goal(proto::GetGoalRequest { name: goal.clone() }).await),
    ));
    codes.push((
        "ListMeasures",
        code(
            &server
                .measures(Some(who))
                .list_measures(proto::ListMeasuresRequest { parent: name(), ..Default::default() })
                .await,
        ),
    ));
    let members = server.members(Some(who));
    codes.push((
        "ListMembers",
        code(
            &members
                .clone()
                .list_members(proto::ListMembersRequest { parent: name(), ..Default::default() })
                .await,
        ),
    ));
    codes.push((
        "ListMeetings",
        code(
            &members
                .clone()
                .list_meetings(proto::ListMeetingsRequest { parent: name(), ..Default::default() })
                .await,
        ),
    ));
    codes.push((
        "ListCoordinatorAssignments",
        code(
            &server
                .coordinators(Some(who))
                .list_coordinator_assignments(proto::ListCoordinatorAssignmentsRequest {
                    parent: name(),
                    ..Default::default()
                })
                .await,
        ),
    ));
    codes.push((
        "ListAccessEvents",
        code(
            &server
                .access_events(Some(who))
                .list_access_events(proto::ListAccessEventsRequest {
                    parent: name(),
                    ..Default::default()
                })
                .await,
        ),
    ));
    codes.push((
        "ListBlocks",
        code(
            &server
                .blocks(Some(who))
                .list_blocks(proto::ListBlocksRequest { parent: name(), show_lifted: false })
                .await,
        ),
    ));
    codes
}

on_both_backends! {
    /// The matrix's "blocked" row: a blocked member, coordinator and organisation get, from
    /// every service, exactly what a stranger gets, NOT_FOUND; lifting gives back what they
    /// had.
    async fn a_block_keeps_them_out_of_every_rpc_and_list(server: TestServer) {
        let plan = world(&server).await;
        let patient = Who::Citizen(PATIENT);
        let stranger = Who::Personnel("doctor", HOSPITAL);
        let as_stranger = codes_of_every_service(&server, &stranger, &plan).await;
        assert!(as_stranger.iter().all(|(_, c)| *c == Code::NotFound), "{as_stranger:?}");
        let before = codes_of_every_service(&server, &nav(), &plan).await;
        assert_eq!(before.iter().find(|(rpc, _)| *rpc == "GetPlan").unwrap().1, Code::Ok);

        for (target, kept_out) in [
            (person(&nav()), vec![nav()]),
            (person(&coordinator()), vec![coordinator()]),
            (
                proto::Block { organisation: NAV.into(), display_name: "NAV".into(), ..Default::default() },
                vec![nav(), nav_system()],
            ),
        ] {
            let placed = block(&server, &patient, &plan, target).await.unwrap();
            for who in &kept_out {
                assert_eq!(codes_of_every_service(&server, who, &plan).await, as_stranger, "{who:?}");
                assert!(!listed(&server, who, &plan).await, "{who:?} lists the plan");
            }
            let lifted = lift(&server, &patient, &placed.name).await.unwrap();
            assert!(lifted.lift_time.is_some());
            for who in &kept_out {
                assert_eq!(code(&server.plans(Some(who)).get_plan(proto::GetPlanRequest { name: plan.clone(), revision: 0 }).await), Code::Ok, "{who:?}");
                assert!(listed(&server, who, &plan).await, "{who:?}");
            }
        }
        // Others were never affected.
        assert!(listed(&server, &staff(), &plan).await);
        assert_eq!(codes_of_every_service(&server, &nav(), &plan).await, before);
    }
}

on_both_backends! {
    async fn the_unit_is_told_and_the_patient_sees_it_all(server: TestServer) {
        let plan = world(&server).await;
        let patient = Who::Citizen(PATIENT);
        let placed = block(
            &server,
            &patient,
            &plan,
            proto::Block { reason: "Jeg vil ikke at NAV ser planen nå".into(), ..person(&nav()) },
        )
        .await
        .unwrap();
        assert!(placed.name.starts_with(&format!("{plan}/blocks/")));

        // The member list shows the block to the coordinator, unit staff and the patient.
        for reader in [coordinator(), staff(), patient.clone()] {
            let members = server
                .members(Some(&reader))
                .list_members(proto::ListMembersRequest { parent: plan.clone(), ..Default::default() })
                .await
                .unwrap()
                .into_inner()
                .members;
            let blocked: Vec<_> = members.iter().filter(|m| m.blocked).map(|m| m.subject.clone()).collect();
            assert_eq!(blocked, [nav().subject()], "{reader:?}");
        }
        // The patient lists the block; the refused attempt is in their access log.
        let listed = server
            .blocks(Some(&patient))
            .list_blocks(proto::ListBlocksRequest { parent: plan.clone(), show_lifted: false })
            .await
            .unwrap()
            .into_inner()
            .blocks;
        assert_eq!(listed, std::slice::from_ref(&placed));
        let refused = server.plans(Some(&nav())).get_plan(proto::GetPlanRequest { name: plan.clone(), revision: 0 }).await;
        assert_eq!(code(&refused), Code::NotFound);
        let events = server
            .access_events(Some(&patient))
            .list_access_events(proto::ListAccessEventsRequest { parent: plan.clone(), organisation: NAV.into(), ..Default::default() })
            .await
            .unwrap()
            .into_inner()
            .access_events;
        assert_eq!(events[0].description, "tried to read the plan and was refused");

        // Block and lift are in the history.
        lift(&server, &Who::Citizen(NEXT_OF_KIN), &placed.name).await.unwrap();
        let history = server
            .plans(Some(&patient))
            .list_plan_revisions(proto::ListPlanRevisionsRequest { parent: plan.clone(), page_size: 500, ..Default::default() })
            .await
            .unwrap()
            .into_inner()
            .revisions;
        let changes: Vec<_> = history.iter().flat_map(|r| r.changes.clone()).collect();
        assert!(changes.contains(&"access blocked at the patient's request".to_owned()), "{changes:?}");
        assert!(changes.contains(&"a block lifted".to_owned()), "{changes:?}");
        let all = server
            .blocks(Some(&patient))
            .list_blocks(proto::ListBlocksRequest { parent: plan.clone(), show_lifted: true })
            .await
            .unwrap()
            .into_inner()
            .blocks;
        assert_eq!(all.len(), 1);
        assert!(all[0].lift_time.is_some());
    }
}

on_both_backends! {
    async fn a_blocked_coordinator_puts_the_plan_on_the_units_list(server: TestServer) {
        let plan = world(&server).await;
        let patient = Who::Citizen(PATIENT);
        let without = |who: Who| {
            let server = server.clone();
            async move {
                let request = proto::ListCoordinatorAssignmentsRequest {
                    view: proto::AssignmentView::WithoutCoordinator as i32,
                    ..Default::default()
                };
                let entries = server.coordinators(Some(&who)).list_coordinator_assignments(request).await.unwrap().into_inner().entries;
                entries.into_iter().map(|e| e.plan.unwrap().name).collect::<Vec<_>>()
            }
        };
        assert!(without(staff()).await.is_empty());
        block(&server, &patient, &plan, person(&coordinator())).await.unwrap();
        assert_eq!(without(staff()).await, std::slice::from_ref(&plan));
        let mine = proto::ListCoordinatorAssignmentsRequest {
            view: proto::AssignmentView::MyPlans as i32,
            ..Default::default()
        };
        let theirs = server.coordinators(Some(&coordinator())).list_coordinator_assignments(mine).await.unwrap().into_inner().entries;
        assert!(theirs.is_empty(), "{theirs:?}");
        // The unit appoints another in their place.
        let next = Who::Personnel("coordinator-2", MUNICIPALITY);
        server
            .coordinators(Some(&staff()))
            .replace_coordinator(proto::ReplaceCoordinatorRequest {
                parent: plan.clone(),
                assignment: Some(next.as_assignment()),
                end_reason: "Sperret etter pasientens ønske".into(),
            })
            .await
            .unwrap();
        assert!(without(staff()).await.is_empty());
        // A unit staff member the patient blocked sees the plan in no list of the unit either.
        block(&server, &patient, &plan, person(&staff())).await.unwrap();
        assert!(!listed(&server, &staff(), &plan).await);
    }
}

on_both_backends! {
    async fn who_may_block_and_what_cannot_be(server: TestServer) {
        let plan = world(&server).await;
        let patient = Who::Citizen(PATIENT);
        let target = || person(&Who::Personnel("someone", SCHOOL));
        for (who, expected) in [
            (coordinator(), Code::PermissionDenied),
            (staff(), Code::PermissionDenied),
            (nav(), Code::PermissionDenied),
            (Who::Citizen(STRANGER), Code::NotFound),
            (Who::Personnel("doctor", HOSPITAL), Code::NotFound),
        ] {
            let blocks_before = server.row_count("blocks").await;
            assert_eq!(code(&block(&server, &who, &plan, target()).await), expected, "{who:?}");
            assert_eq!(server.row_count("blocks").await, blocks_before);
            let list = proto::ListBlocksRequest { parent: plan.clone(), show_lifted: true };
            assert_eq!(code(&server.blocks(Some(&who)).list_blocks(list).await), expected, "{who:?}");
        }
        let placed = block(&server, &Who::Citizen(NEXT_OF_KIN), &plan, target()).await.unwrap();
        assert_eq!(code(&block(&server, &patient, &plan, target()).await), Code::FailedPrecondition, "twice");
        for (who, expected) in [(coordinator(), Code::PermissionDenied), (nav(), Code::PermissionDenied)] {
            assert_eq!(code(&lift(&server, &who, &placed.name).await), expected, "{who:?}");
        }
        lift(&server, &patient, &placed.name).await.unwrap();
        assert_eq!(code(&lift(&server, &patient, &placed.name).await), Code::FailedPrecondition);
        let unknown = format!("{plan}/blocks/01a22ddd-0000-7000-8000-000000000000");
        assert_eq!(code(&lift(&server, &patient, &unknown).await), Code::NotFound);

        let blocks_before = server.row_count("blocks").await;
        for (bad, fields) in [
            (proto::Block { display_name: "x".into(), ..Default::default() }, vec!["block.subject"]),
            (
                proto::Block { organisation: NAV.into(), ..person(&nav()) },
                vec!["block.organisation"],
            ),
            (proto::Block { subject: "personnel:".into(), ..person(&nav()) }, vec!["block.subject"]),
            (proto::Block { display_name: String::new(), ..person(&nav()) }, vec!["block.display_name"]),
            (proto::Block { subject: format!("citizen:{PATIENT}"), ..person(&nav()) }, vec!["block.subject"]),
            (proto::Block { subject: format!("citizen:{NEXT_OF_KIN}"), ..person(&nav()) }, vec!["block.subject"]),
        ] {
            let by = if bad.subject.ends_with(NEXT_OF_KIN) { Who::Citizen(NEXT_OF_KIN) } else { patient.clone() };
            let refused = block(&server, &by, &plan, bad.clone()).await.unwrap_err();
            assert_eq!(refused.code(), Code::InvalidArgument, "{bad:?}: {refused:?}");
            assert_eq!(violated_fields(&refused), fields, "{bad:?}");
        }
let own = proto::Block {
            organisation: MUNICIPALITY.into(),
            display_name: "Kommunen".into(),
            ..Default::default()
        };
        let refused = block(&server, &patient, &plan, own).await.unwrap_err();
        assert_eq!(violated_fields(&refused), ["block.organisation"]);

        assert_eq!(server.row_count("blocks").await, blocks_before);
    }
}

/// A referral of the patient from the hospital, with the plan it makes.
async fn referred(server: &TestServer) -> (String, String) {
    let referrer = Who::Personnel("discharge-nurse", HOSPITAL);
    server.bootstrap_grant(HOSPITAL, &referrer.subject(), OrgRole::Referrer).await;
    server.bootstrap_grant(MUNICIPALITY, &staff().subject(), OrgRole::UnitStaff).await;
    let sent = server.refer(&referrer, PATIENT).await;
    (sent.name, sent.plan)
}

on_both_backends! {
    /// Found by trying: blocked unit staff could return the patient's referral. The call
    /// answered NOT_FOUND, refused at the plan, but what it had written before stayed: a
    /// write session committed whenever a refusal was logged. A refused request now changes
    /// nothing, its refusals are logged on their own (`store` tests the mechanism), and the
    /// blocked are refused at the referral already.
    async fn blocked_staff_cannot_return_the_referral(server: TestServer) {
        let (referral, plan) = referred(&server).await;
        let patient = Who::Citizen(PATIENT);
        let other_staff = Who::Personnel("unit-staff-2", MUNICIPALITY);
        server.bootstrap_grant(MUNICIPALITY, &other_staff.subject(), OrgRole::UnitStaff).await;
        block(&server, &patient, &plan, person(&other_staff)).await.unwrap();
        let log_before = server.row_count("access_log").await;
        let returned = server
            .referrals(Some(&other_staff))
            .return_referral(proto::ReturnReferralRequest {
                name: referral.clone(),
                reason: "Ikke vår".into(),
            })
            .await;
        assert_eq!(code(&returned), Code::NotFound);
        // The refusal is in the log, and nothing else the call did.
        assert_eq!(server.row_count("access_log").await, log_before + 1);
        let now = server
            .referrals(Some(&staff()))
            .get_referral(proto::GetReferralRequest { name: referral.clone() })
            .await
            .unwrap()
            .into_inner()
            .referral
            .unwrap();
        assert_eq!(now.status, proto::ReferralStatus::Sent as i32, "{now:?}");
        assert_eq!(now.response, "");
    }
}

on_both_backends! {
    /// Found by trying: the blocked could still read the referral of the plan (its patient,
    /// goals and status), and list it.
    async fn a_block_hides_the_plans_referral_too(server: TestServer) {
        let (referral, plan) = referred(&server).await;
        let referrer = Who::Personnel("discharge-nurse", HOSPITAL);
        block(&server, &Who::Citizen(PATIENT), &plan, person(&referrer)).await.unwrap();
        let got = server
            .referrals(Some(&referrer))
            .get_referral(proto::GetReferralRequest { name: referral.clone() })
            .await;
        assert_eq!(code(&got), Code::NotFound);
        let listed = server
            .referrals(Some(&referrer))
            .list_referrals(proto::ListReferralsRequest::default())
            .await
            .unwrap()
            .into_inner()
            .referrals;
        assert!(listed.is_empty(), "{listed:?}");
        // Unit staff, not blocked, still see it.
        let got = server
            .referrals(Some(&staff()))
            .get_referral(proto::GetReferralRequest { name: referral })
            .await;
        assert_eq!(code(&got), Code::Ok);
    }
}

on_both_backends! {
    /// Found by trying: a block on a citizen did not keep out the same person calling as
    /// personnel, whose token carries their identity number; and the blocked could be added
    /// to the group or appointed coordinator again.
    async fn a_block_holds_for_every_way_in(server: TestServer) {
        let plan = world(&server).await;
        let patient = Who::Citizen(PATIENT);
        let as_personnel = Who::PersonnelWithPid("kdoc", MUNICIPALITY, NEXT_OF_KIN);
        server.add_member(&staff(), &plan, &as_personnel, proto::MemberRole::Gp).await;
        assert_eq!(server.get_plan(&as_personnel, &plan).await.name, plan);
        block(&server, &patient, &plan, person(&Who::Citizen(NEXT_OF_KIN))).await.unwrap();
        let get = proto::GetPlanRequest { name: plan.clone(), revision: 0 };
        assert_eq!(code(&server.plans(Some(&as_personnel)).get_plan(get).await), Code::NotFound);
        assert!(!listed(&server, &as_personnel, &plan).await);

        let school = Who::Personnel("teacher", SCHOOL);
        block(&server, &patient, &plan, person(&school)).await.unwrap();
        let added = server
            .members(Some(&staff()))
            .add_member(proto::AddMemberRequest {
                parent: plan.clone(),
                member: Some(school.as_member(proto::MemberRole::School)),
            })
            .await;
        assert_eq!(code(&added), Code::FailedPrecondition);
        let blocked = Who::Personnel("coordinator-2", MUNICIPALITY);
        block(&server, &patient, &plan, person(&blocked)).await.unwrap();
        let replaced = server
            .coordinators(Some(&staff()))
            .replace_coordinator(proto::ReplaceCoordinatorRequest {
                parent: plan.clone(),
                assignment: Some(blocked.as_assignment()),
                end_reason: "Bytte".into(),
            })
            .await;
        assert_eq!(code(&replaced), Code::FailedPrecondition);
        // An organisation that is not in the registry cannot be blocked.
        let unknown =
            proto::Block { organisation: "999999999".into(), display_name: "X".into(), ..Default::default() };
        let refused = block(&server, &patient, &plan, unknown).await.unwrap_err();
        assert_eq!(violated_fields(&refused), ["block.organisation"]);
    }
}
