//! ResponsibilityGroupService behaviour beyond the matrix: duplicates, ending, etags, history
//! and who sees whose identity.

use samvirke::domain::organisation::OrgRole;
use samvirke::proto;
use tonic::Code;

use super::common::*;

async fn plan_with_staff(server: &TestServer) -> (Who, String) {
    let staff = Who::Personnel("unit-staff", MUNICIPALITY);
    server.bootstrap_grant(MUNICIPALITY, &staff.subject(), OrgRole::UnitStaff).await;
    let plan = server.create_plan(&staff, MUNICIPALITY, PATIENT).await;
    (staff, plan)
}

on_both_backends! {
    async fn a_subject_serves_once_at_a_time(server: TestServer) {
        let (staff, plan) = plan_with_staff(&server).await;
        let nav = Who::Personnel("nav-adviser", NAV);
        let first = server.add_member(&staff, &plan, &nav, proto::MemberRole::Nav).await;
        let again = server
            .members(Some(&staff))
            .add_member(proto::AddMemberRequest {
                parent: plan.clone(),
                member: Some(nav.as_member(proto::MemberRole::Other)),
            })
            .await;
        assert_eq!(code(&again), Code::AlreadyExists);
        assert_eq!(server.row_count("members").await, 1);
        // Once ended, the same person may be added again; history keeps both.
        server
            .members(Some(&staff))
            .remove_member(proto::RemoveMemberRequest { name: first, etag: String::new() })
            .await
            .unwrap();
        server.add_member(&staff, &plan, &nav, proto::MemberRole::Nav).await;
        let current = server
            .members(Some(&staff))
            .list_members(proto::ListMembersRequest { parent: plan.clone(), ..Default::default() })
            .await
            .unwrap()
            .into_inner()
            .members;
        let history = server
            .members(Some(&staff))
            .list_members(proto::ListMembersRequest {
                parent: plan.clone(),
                show_ended: true,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .members;
        assert_eq!(current.len(), 1);
        assert_eq!(history.len(), 2);
        assert!(history[0].end_time.is_some() && current[0].end_time.is_none());
    }
}

on_both_backends! {
    async fn ending_checks_state_and_etag(server: TestServer) {
        let (staff, plan) = plan_with_staff(&server).await;
        let nav = Who::Personnel("nav-adviser", NAV);
        let added = server
            .members(Some(&staff))
            .add_member(proto::AddMemberRequest {
                parent: plan.clone(),
                member: Some(nav.as_member(proto::MemberRole::Nav)),
            })
            .await
            .unwrap()
            .into_inner()
            .member
            .unwrap();
        assert_eq!(added.etag, "1");
        let stale = server
            .members(Some(&staff))
            .remove_member(proto::RemoveMemberRequest { name: added.name.clone(), etag: "7".into() })
            .await;
        assert_eq!(code(&stale), Code::Aborted);
        let ended = server
            .members(Some(&staff))
            .remove_member(proto::RemoveMemberRequest { name: added.name.clone(), etag: "1".into() })
            .await
            .unwrap()
            .into_inner()
            .member
            .unwrap();
        assert!(ended.end_time.is_some());
        assert_eq!(ended.etag, "2");
        let twice = server
            .members(Some(&staff))
            .remove_member(proto::RemoveMemberRequest { name: added.name, etag: String::new() })
            .await;
        assert_eq!(code(&twice), Code::FailedPrecondition);
        // A membership name under another plan is not found.
        let other = server.create_plan(&staff, MUNICIPALITY, OTHER_PATIENT).await;
        let member_id = ended.name.rsplit('/').next().unwrap();
        let wrong_plan = server
            .members(Some(&staff))
            .remove_member(proto::RemoveMemberRequest {
                name: format!("{other}/members/{member_id}"),
                etag: String::new(),
            })
            .await;
        assert_eq!(code(&wrong_plan), Code::NotFound);
    }
}

on_both_backends! {
    async fn citizen_identities_are_hidden_from_providers(server: TestServer) {
        let (staff, plan) = plan_with_staff(&server).await;
        let nav = Who::Personnel("nav-adviser", NAV);
        server.add_member(&staff, &plan, &nav, proto::MemberRole::Nav).await;
        server
            .add_member(&staff, &plan, &Who::Citizen(NEXT_OF_KIN), proto::MemberRole::NextOfKin)
            .await;
        server.give_consent(&Who::Citizen(PATIENT), &plan, &[NAV]).await;
        let subjects = |members: Vec<proto::Member>| -> Vec<String> {
            members.into_iter().map(|m| m.subject).collect()
        };
        let as_nav = server
            .members(Some(&nav))
            .list_members(proto::ListMembersRequest { parent: plan.clone(), ..Default::default() })
            .await
            .unwrap()
            .into_inner()
            .members;
        assert_eq!(subjects(as_nav), ["personnel:nav-adviser", ""]);
        let as_patient = server
            .members(Some(&Who::Citizen(PATIENT)))
            .list_members(proto::ListMembersRequest { parent: plan.clone(), ..Default::default() })
            .await
            .unwrap()
            .into_inner()
            .members;
        assert_eq!(
            subjects(as_patient),
            ["personnel:nav-adviser".to_string(), format!("citizen:{NEXT_OF_KIN}")]
        );
    }
}

on_both_backends! {
    async fn a_next_of_kin_member_reads_the_plan(server: TestServer) {
        let (staff, plan) = plan_with_staff(&server).await;
        let kin = Who::Citizen(NEXT_OF_KIN);
        server.add_member(&staff, &plan, &kin, proto::MemberRole::NextOfKin).await;
        let got = server
            .plans(Some(&kin))
            .get_plan(proto::GetPlanRequest { name: plan, revision: 0 })
            .await
            .unwrap()
            .into_inner()
            .plan
            .unwrap();
        // Serving on the group is not the patient's authorisation to see their identity.
        assert_eq!(got.patient_id, "");
    }
}

on_both_backends! {
    async fn a_coordinator_manages_the_group(server: TestServer) {
        let (staff, plan) = plan_with_staff(&server).await;
        let coordinator = Who::Personnel("coordinator", MUNICIPALITY);
        server
            .add_member(&staff, &plan, &coordinator, proto::MemberRole::Coordinator)
            .await;
        let school = Who::Personnel("teacher", SCHOOL);
        let membership = server
            .add_member(&coordinator, &plan, &school, proto::MemberRole::School)
            .await;
        server
            .members(Some(&coordinator))
            .remove_member(proto::RemoveMemberRequest { name: membership, etag: String::new() })
            .await
            .unwrap();
    }
}
