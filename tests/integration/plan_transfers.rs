//! PlanTransferService: a plan moves with the patient to another municipality. The
//! responsible unit proposes, the patient's consent must cover the new municipality, whose unit
//! accepts (appointing a coordinator) or declines; on acceptance the old organisation's members
//! end and the history stays whole; both sides and the patient see what happened.

use samvirke::domain::organisation::OrgRole;
use samvirke::proto;
use tonic::Code;

use super::common::*;

fn new_staff() -> Who {
    Who::Personnel("unit-staff-b", OTHER_MUNICIPALITY)
}

fn new_coordinator() -> Who {
    Who::Personnel("coordinator-b", OTHER_MUNICIPALITY)
}

/// The patient's plan in the municipality, with its coordinator and NAV on the group under
/// consent; unit staff in both municipalities.
async fn world(server: &TestServer) -> String {
    server.bootstrap_grant(MUNICIPALITY, &staff().subject(), OrgRole::UnitStaff).await;
    server.bootstrap_grant(OTHER_MUNICIPALITY, &new_staff().subject(), OrgRole::UnitStaff).await;
    let plan = server.create_plan(&staff(), MUNICIPALITY, PATIENT).await;
    server.appoint_coordinator(&staff(), &plan, &coordinator()).await;
    server.add_member(&staff(), &plan, &nav(), proto::MemberRole::Nav).await;
    server.give_consent(&Who::Citizen(PATIENT), &plan, &[NAV]).await;
    plan
}

async fn propose(
    server: &TestServer,
    by: &Who,
    plan: &str,
    to: &str,
) -> Result<proto::PlanTransfer, tonic::Status> {
    let transfer = proto::PlanTransfer {
        plan: plan.into(),
        to_organisation: to.into(),
        reason: "Pasienten har flyttet".into(),
        ..Default::default()
    };
    let request = proto::TransferPlanRequest { transfer: Some(transfer) };
    let answer = server.plan_transfers(Some(by)).transfer_plan(request).await;
    answer.map(|r| r.into_inner().transfer.unwrap())
}

async fn get(
    server: &TestServer,
    by: &Who,
    name: &str,
) -> Result<proto::PlanTransfer, tonic::Status> {
    let request = proto::GetPlanTransferRequest { name: name.into() };
    let answer = server.plan_transfers(Some(by)).get_plan_transfer(request).await;
    answer.map(|r| r.into_inner().transfer.unwrap())
}

async fn accept(
    server: &TestServer,
    by: &Who,
    name: &str,
) -> Result<proto::AcceptPlanTransferResponse, tonic::Status> {
    let request = proto::AcceptPlanTransferRequest {
        name: name.into(),
        coordinator: Some(new_coordinator().as_assignment()),
        comment: "Velkommen".into(),
    };
    server.plan_transfers(Some(by)).accept_plan_transfer(request).await.map(|r| r.into_inner())
}

on_both_backends! {
    async fn a_plan_moves_to_another_municipality_with_its_history(server: TestServer) {
        let plan = world(&server).await;
        let patient = Who::Citizen(PATIENT);
        // The patient's consent must cover the new municipality first.
        let uncovered = propose(&server, &staff(), &plan, OTHER_MUNICIPALITY).await;
        assert_eq!(code(&uncovered), Code::FailedPrecondition);
        server.give_consent(&patient, &plan, &[NAV, OTHER_MUNICIPALITY]).await;
        // Only the responsible unit proposes; others who read the plan may not, strangers
        // cannot tell it exists; the receiver must be another municipality.
        assert_eq!(code(&propose(&server, &nav(), &plan, OTHER_MUNICIPALITY).await), Code::PermissionDenied);
        assert_eq!(code(&propose(&server, &new_staff(), &plan, OTHER_MUNICIPALITY).await), Code::NotFound);
        let to_nav = propose(&server, &staff(), &plan, NAV).await.unwrap_err();
        assert_eq!(violated_fields(&to_nav), ["transfer.to_organisation"]);
        let to_itself = propose(&server, &staff(), &plan, MUNICIPALITY).await.unwrap_err();
        assert_eq!(violated_fields(&to_itself), ["transfer.to_organisation"]);
        let proposed = propose(&server, &staff(), &plan, OTHER_MUNICIPALITY).await.unwrap();
        assert_eq!(proposed.state, proto::PlanTransferState::Proposed as i32);
        assert_eq!(proposed.from_organisation, MUNICIPALITY);
        let twice = propose(&server, &staff(), &plan, OTHER_MUNICIPALITY).await;
        assert_eq!(code(&twice), Code::FailedPrecondition, "one pending at a time");

        // The receiving unit sees it in its list, not yet the plan; strangers see nothing.
        let incoming = server
            .plan_transfers(Some(&new_staff()))
            .list_plan_transfers(proto::ListPlanTransfersRequest { incoming: true, ..Default::default() })
            .await
            .unwrap()
            .into_inner()
            .transfers;
        assert_eq!(incoming, std::slice::from_ref(&proposed));
        let not_yet = server.plans(Some(&new_staff())).get_plan(proto::GetPlanRequest { name: plan.clone(), revision: 0 }).await;
        assert_eq!(code(&not_yet), Code::NotFound);
        assert_eq!(code(&get(&server, &Who::Citizen(STRANGER), &proposed.name).await), Code::NotFound);
        assert_eq!(get(&server, &patient, &proposed.name).await.unwrap(), proposed);
        // The sending side cannot answer it.
        assert_eq!(code(&accept(&server, &staff(), &proposed.name).await), Code::PermissionDenied);

        let accepted = accept(&server, &new_staff(), &proposed.name).await.unwrap();
        let transfer = accepted.transfer.unwrap();
        assert_eq!(transfer.state, proto::PlanTransferState::Accepted as i32);
        assert_eq!(transfer.coordinator_assignment, accepted.coordinator.unwrap().name);
        assert_eq!(code(&accept(&server, &new_staff(), &proposed.name).await), Code::FailedPrecondition);

        // The plan is the new municipality's: its staff and coordinator read it; the old
        // organisation's staff and coordinator no longer do; NAV, under consent, still does.
        let moved = server.get_plan(&new_coordinator(), &plan).await;
        assert_eq!(moved.organisation, OTHER_MUNICIPALITY);
        server.get_plan(&new_staff(), &plan).await;
        server.get_plan(&nav(), &plan).await;
        for old in [staff(), coordinator()] {
            let gone = server.plans(Some(&old)).get_plan(proto::GetPlanRequest { name: plan.clone(), revision: 0 }).await;
            assert_eq!(code(&gone), Code::NotFound, "{old:?}");
        }
        // Both sides and the patient see what happened.
        assert_eq!(get(&server, &staff(), &proposed.name).await.unwrap(), transfer);
        assert_eq!(get(&server, &patient, &proposed.name).await.unwrap(), transfer);
        // The history is whole: from the plan's creation to the move and the new appointment.
        let lines = server.history_lines(&patient, &plan).await;
        assert_eq!(lines.first().map(String::as_str), Some("plan created"), "{lines:?}");
        let moved_line = format!("plan transferred from {MUNICIPALITY} to {OTHER_MUNICIPALITY}");
        assert!(lines.iter().any(|l| l.starts_with(&moved_line)), "{lines:?}");
        assert!(lines.iter().any(|l| l.starts_with("coordinator appointment ended")), "{lines:?}");
        let group = proto::ListMembersRequest { parent: plan.clone(), show_ended: true, ..Default::default() };
        let group = server.members(Some(&new_staff())).list_members(group).await.unwrap().into_inner().members;
        let old_coordinator = group.iter().find(|m| m.subject == coordinator().subject()).unwrap();
        assert!(old_coordinator.end_time.is_some(), "the old organisation's members end");
        let nav_member = group.iter().find(|m| m.subject == nav().subject()).unwrap();
        assert!(nav_member.end_time.is_none(), "NAV serves on");
    }
}

on_both_backends! {
    async fn a_declined_transfer_leaves_the_plan_where_it_was(server: TestServer) {
        let plan = world(&server).await;
        server.give_consent(&Who::Citizen(PATIENT), &plan, &[NAV, OTHER_MUNICIPALITY]).await;
        let proposed = propose(&server, &staff(), &plan, OTHER_MUNICIPALITY).await.unwrap();
        let decline = |reason: &str| proto::DeclinePlanTransferRequest { name: proposed.name.clone(), reason: reason.into() };
        let blank = server.plan_transfers(Some(&new_staff())).decline_plan_transfer(decline(" ")).await.unwrap_err();
        assert_eq!(violated_fields(&blank), ["reason"]);
        let declined = server
            .plan_transfers(Some(&new_staff()))
            .decline_plan_transfer(decline("Pasienten bor ikke her"))
            .await
            .unwrap()
            .into_inner()
            .transfer
            .unwrap();
        assert_eq!(declined.state, proto::PlanTransferState::Declined as i32);
        assert_eq!(declined.response, "Pasienten bor ikke her");
        assert_eq!(server.get_plan(&staff(), &plan).await.organisation, MUNICIPALITY);
        assert_eq!(code(&accept(&server, &new_staff(), &proposed.name).await), Code::FailedPrecondition);
        // A new proposal may follow.
        propose(&server, &staff(), &plan, OTHER_MUNICIPALITY).await.unwrap();
    }
}

async fn incoming(
    server: &TestServer,
    by: &Who,
    page_token: &str,
) -> Result<proto::ListPlanTransfersResponse, tonic::Status> {
    let request = proto::ListPlanTransfersRequest {
        incoming: true,
        page_size: 1,
        page_token: page_token.into(),
        ..Default::default()
    };
    server.plan_transfers(Some(by)).list_plan_transfers(request).await.map(|r| r.into_inner())
}

on_both_backends! {
    /// Found by the attacker on TransferPlan: the consent was asked only at the proposal, so a
    /// transfer the patient no longer consented to could be accepted; the receiving side could
    /// appoint anyone's coordinator, the old one too; a blocked receiver still listed the
    /// proposal, which nobody could then answer or withdraw; an incoming page token continued
    /// another municipality's list.
    async fn consent_block_and_coordinator_hold_until_the_plan_moves(server: TestServer) {
        let plan = world(&server).await;
        let patient = Who::Citizen(PATIENT);
        server.give_consent(&patient, &plan, &[NAV, OTHER_MUNICIPALITY]).await;
        let proposed = propose(&server, &staff(), &plan, OTHER_MUNICIPALITY).await.unwrap();

        // The coordinator acts for the plan's new organisation, never another.
        let mut old = coordinator().as_assignment();
        old.display_name = "Gammel koordinator".into();
        let request = proto::AcceptPlanTransferRequest { name: proposed.name.clone(), coordinator: Some(old), comment: String::new() };
        let refused = server.plan_transfers(Some(&new_staff())).accept_plan_transfer(request).await.unwrap_err();
        assert_eq!(violated_fields(&refused), ["coordinator.organisation"]);

        // Consent narrowed after the proposal: the plan does not move.
        server.give_consent(&patient, &plan, &[NAV]).await;
        let refused = accept(&server, &new_staff(), &proposed.name).await;
        assert_eq!(code(&refused), Code::FailedPrecondition);
        server.give_consent(&patient, &plan, &[NAV, OTHER_MUNICIPALITY]).await;

        // A block on the receiving organisation: the proposal leaves its list too.
        let listed = incoming(&server, &new_staff(), "").await.unwrap().transfers;
        assert_eq!(listed.len(), 1);
        let block = proto::Block {
            organisation: OTHER_MUNICIPALITY.into(),
            display_name: "Sørvik".into(),
            reason: "Nei".into(),
            ..Default::default()
        };
        let request = proto::CreateBlockRequest { parent: plan.clone(), block: Some(block) };
        server.blocks(Some(&patient)).create_block(request).await.unwrap();
        assert!(incoming(&server, &new_staff(), "").await.unwrap().transfers.is_empty());
        assert_eq!(code(&accept(&server, &new_staff(), &proposed.name).await), Code::NotFound);

        // The sending side withdraws it; only the sending side, only once.
        let cancel = |by: Who| {
            let mut client = server.plan_transfers(Some(&by));
            let name = proposed.name.clone();
            async move {
                let request = proto::CancelPlanTransferRequest { name, reason: "Pasienten ble boende".into() };
                client.cancel_plan_transfer(request).await.map(|r| r.into_inner().transfer.unwrap())
            }
        };
        assert_eq!(code(&cancel(coordinator()).await), Code::PermissionDenied);
        assert_eq!(code(&cancel(new_staff()).await), Code::NotFound, "blocked");
        let bad = server
            .plan_transfers(Some(&staff()))
            .cancel_plan_transfer(proto::CancelPlanTransferRequest { name: proposed.name.clone(), reason: String::new() })
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&bad), ["reason"]);
        let cancelled = cancel(staff()).await.unwrap();
        assert_eq!(cancelled.state, proto::PlanTransferState::Cancelled as i32);
        assert_eq!(cancelled.response, "Pasienten ble boende");
        assert_eq!(code(&cancel(staff()).await), Code::FailedPrecondition);
        assert_eq!(get(&server, &patient, &proposed.name).await.unwrap(), cancelled);
        let lines = server.history_lines(&patient, &plan).await;
        assert!(lines.iter().any(|l| l.starts_with(&format!("transfer to {OTHER_MUNICIPALITY} cancelled"))), "{lines:?}");
        assert_eq!(server.get_plan(&patient, &plan).await.organisation, MUNICIPALITY, "the plan stays");

        // Nothing pending: the plan may be proposed again once the block is lifted.
        let lifted = server.blocks(Some(&patient)).list_blocks(proto::ListBlocksRequest { parent: plan.clone(), ..Default::default() }).await;
        let name = lifted.unwrap().into_inner().blocks[0].name.clone();
        server.blocks(Some(&patient)).lift_block(proto::LiftBlockRequest { name }).await.unwrap();
        let again = propose(&server, &staff(), &plan, OTHER_MUNICIPALITY).await.unwrap();
        assert_eq!(again.state, proto::PlanTransferState::Proposed as i32);

        // An incoming list's page token continues only the municipality's own list.
        let second = server.create_plan(&staff(), MUNICIPALITY, OTHER_PATIENT).await;
        server.give_consent(&Who::Citizen(OTHER_PATIENT), &second, &[OTHER_MUNICIPALITY]).await;
        propose(&server, &staff(), &second, OTHER_MUNICIPALITY).await.unwrap();
        let first_page = incoming(&server, &new_staff(), "").await.unwrap();
        assert!(!first_page.next_page_token.is_empty());
        let elsewhere = Who::Personnel("unit-staff-c", MUNICIPALITY);
        server.bootstrap_grant(MUNICIPALITY, &elsewhere.subject(), OrgRole::UnitStaff).await;
        let foreign = incoming(&server, &elsewhere, &first_page.next_page_token).await.unwrap_err();
        assert_eq!(violated_fields(&foreign), ["page_token"]);
    }
}

on_both_backends! {
    /// Found by the second attack: a plan a referral requested could move before the referral
    /// was answered, and then nobody could answer it. The referral is answered first.
    async fn a_requested_plan_moves_only_once_its_referral_is_answered(server: TestServer) {
        server.bootstrap_grant(MUNICIPALITY, &staff().subject(), OrgRole::UnitStaff).await;
        let referrer = Who::Personnel("discharge-nurse", HOSPITAL);
        server.bootstrap_grant(HOSPITAL, &referrer.subject(), OrgRole::Referrer).await;
        let referral = server.refer(&referrer, PATIENT).await;
        let plan = referral.plan.clone();
        server.give_consent(&Who::Citizen(PATIENT), &plan, &[HOSPITAL, OTHER_MUNICIPALITY]).await;
        let pending = propose(&server, &staff(), &plan, OTHER_MUNICIPALITY).await;
        assert_eq!(code(&pending), Code::FailedPrecondition);
        server
            .referrals(Some(&staff()))
            .accept_referral(proto::AcceptReferralRequest {
                name: referral.name.clone(),
                coordinator: Some(coordinator().as_assignment()),
                ..Default::default()
            })
            .await
            .unwrap();
        let proposed = propose(&server, &staff(), &plan, OTHER_MUNICIPALITY).await.unwrap();
        assert_eq!(proposed.state, proto::PlanTransferState::Proposed as i32);
    }
}
