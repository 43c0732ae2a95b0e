//! OrganisationService behaviour beyond the matrix: grants work at once and stop at once.

use samvirke::domain::organisation::OrgRole;
use samvirke::proto;
use tonic::Code;

use super::common::*;

fn grant(org: &str, subject: &str, role: proto::OrganisationRole) -> proto::GrantRoleRequest {
    proto::GrantRoleRequest {
        parent: format!("organisations/{org}"),
        role_grant: Some(proto::RoleGrant {
            subject: subject.into(),
            role: role as i32,
            ..Default::default()
        }),
    }
}

fn new_plan() -> proto::CreatePlanRequest {
    new_plan_of(MUNICIPALITY, PATIENT)
}

on_both_backends! {
    async fn granting_and_revoking_take_effect_at_once(server: TestServer) {
        let admin = Who::Personnel("admin", MUNICIPALITY);
        server.bootstrap_grant(MUNICIPALITY, &admin.subject(), OrgRole::Admin).await;
        let staff = Who::Personnel("new-staff", MUNICIPALITY);
        assert_eq!(code(&server.plans(Some(&staff)).create_plan(new_plan()).await), Code::PermissionDenied);

        let granted = server
            .organisations(Some(&admin))
            .grant_role(grant(MUNICIPALITY, &staff.subject(), proto::OrganisationRole::UnitStaff))
            .await
            .unwrap()
            .into_inner()
            .role_grant
            .unwrap();
        assert_eq!(granted.granted_by, admin.subject());
        assert_eq!(granted.organisation, MUNICIPALITY);
        let plan = server.plans(Some(&staff)).create_plan(new_plan()).await.unwrap().into_inner().plan.unwrap();

        let again = server
            .organisations(Some(&admin))
            .grant_role(grant(MUNICIPALITY, &staff.subject(), proto::OrganisationRole::UnitStaff))
            .await;
        assert_eq!(code(&again), Code::AlreadyExists);

        let listed = server
            .organisations(Some(&admin))
            .list_role_grants(proto::ListRoleGrantsRequest {
                parent: format!("organisations/{MUNICIPALITY}"),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .role_grants;
        assert_eq!(listed.len(), 2);

        server
            .organisations(Some(&admin))
            .revoke_role(proto::RevokeRoleRequest { name: granted.name.clone() })
            .await
            .unwrap();
        assert_eq!(code(&server.plans(Some(&staff)).create_plan(new_plan()).await), Code::PermissionDenied);
        let read = server
            .plans(Some(&staff))
            .get_plan(proto::GetPlanRequest { name: plan.name, revision: 0 })
            .await;
        assert_eq!(code(&read), Code::NotFound);
        let twice = server
            .organisations(Some(&admin))
            .revoke_role(proto::RevokeRoleRequest { name: granted.name })
            .await;
        assert_eq!(code(&twice), Code::NotFound);
    }
}

on_both_backends! {
    async fn a_revoke_on_one_node_holds_on_another(server: TestServer) {
        // A second server node on the same database: its policy must not keep a revoked role.
        let admin = Who::Personnel("admin", MUNICIPALITY);
        server.bootstrap_grant(MUNICIPALITY, &admin.subject(), OrgRole::Admin).await;
        let staff = Who::Personnel("staff", MUNICIPALITY);
        let granted = server
            .organisations(Some(&admin))
            .grant_role(grant(MUNICIPALITY, &staff.subject(), proto::OrganisationRole::UnitStaff))
            .await
            .unwrap()
            .into_inner()
            .role_grant
            .unwrap();
        let other_node = server.second_node().await;
        other_node.plans(Some(&staff)).create_plan(new_plan()).await.unwrap();
        server
            .organisations(Some(&admin))
            .revoke_role(proto::RevokeRoleRequest { name: granted.name })
            .await
            .unwrap();
        let after = other_node.plans(Some(&staff)).create_plan(new_plan()).await;
        assert_eq!(code(&after), Code::PermissionDenied);
        other_node.stop().await;
    }
}

on_both_backends! {
    async fn roles_are_not_granted_to_citizens(server: TestServer) {
        let admin = Who::Personnel("admin", MUNICIPALITY);
        server.bootstrap_grant(MUNICIPALITY, &admin.subject(), OrgRole::Admin).await;
        let refused = server
            .organisations(Some(&admin))
            .grant_role(grant(MUNICIPALITY, &format!("citizen:{PATIENT}"), proto::OrganisationRole::Admin))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&refused), ["role_grant.subject"]);
        assert!(!refused.message().contains(PATIENT));
        assert_eq!(server.row_count("role_grants").await, 1);
    }
}

on_both_backends! {
    async fn who_may_see_a_plan_changes_on_every_node_at_the_next_call(server: TestServer) {
        // Node B has verified NAV's token and served it; consent and membership then change on
        // node A. Node B keeps no decision: its next call of NAV follows each change.
        let staff = Who::Personnel("staff", MUNICIPALITY);
        server.bootstrap_grant(MUNICIPALITY, &staff.subject(), OrgRole::UnitStaff).await;
        let plan = server.create_plan(&staff, MUNICIPALITY, PATIENT).await;
        let nav = Who::System("nav-system", NAV);
        let membership = server.add_member(&staff, &plan, &nav, proto::MemberRole::Nav).await;
        let patient = Who::Citizen(PATIENT);
        server.give_consent(&patient, &plan, &[NAV]).await;
        let node_b = server.second_node().await;
        let read = |node: &TestServer| {
            let mut client = node.plans(Some(&nav));
            let name = plan.clone();
            async move {
                let got = client.get_plan(proto::GetPlanRequest { name, revision: 0 }).await;
                got.map(|_| Code::Ok).unwrap_or_else(|s| s.code())
            }
        };
        assert_eq!(read(&node_b).await, Code::Ok);

        let etag = server.get_plan(&patient, &plan).await.etag;
        server
            .plans(Some(&patient))
            .withdraw_consent(proto::WithdrawConsentRequest {
                name: plan.clone(),
                etag,
                reason: String::new(),
            })
            .await
            .unwrap();
        assert_eq!(read(&node_b).await, Code::NotFound, "consent withdrawn on node A");

        server.give_consent(&patient, &plan, &[NAV]).await;
        assert_eq!(read(&node_b).await, Code::Ok, "consent given again on node A");

        server
            .members(Some(&staff))
            .remove_member(proto::RemoveMemberRequest { name: membership, etag: String::new() })
            .await
            .unwrap();
        assert_eq!(read(&node_b).await, Code::NotFound, "membership ended on node A");
        node_b.stop().await;
    }
}
