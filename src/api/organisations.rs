//! `samvirke.v1.OrganisationService`.

use tonic::Request;

use super::convert::{org_kind_out, org_role, org_role_out, timestamp};
use super::{Rpc, reply, take};
use crate::domain::names::{grant_name, organisation_name};
use crate::domain::organisation::{Organisation, RoleGrant};
use crate::domain::page::{Page, Scope};
use crate::domain::{Error, FieldViolation, Violations};
use crate::ops::Context;
use crate::proto::organisation_service_server::OrganisationService;
use crate::proto::{self, *};

/// The organisation service.
pub struct OrganisationApi(pub Context);

fn encode_grant(grant: &RoleGrant) -> proto::RoleGrant {
    proto::RoleGrant {
        name: format!("organisations/{}/roleGrants/{}", grant.organisation, grant.id),
        organisation: grant.organisation.to_string(),
        subject: grant.subject.as_stored().to_owned(),
        role: org_role_out(grant.role) as i32,
        create_time: Some(timestamp(grant.create_time)),
        granted_by: grant.granted_by.as_stored().to_owned(),
    }
}

fn encode_organisation(org: &Organisation) -> proto::Organisation {
    proto::Organisation {
        name: format!("organisations/{}", org.number),
        organisation_number: org.number.to_string(),
        display_name: org.name.clone(),
        kind: org_kind_out(org.kind) as i32,
    }
}

#[tonic::async_trait]
impl OrganisationService for OrganisationApi {
    async fn get_organisation(
        &self,
        r: Request<GetOrganisationRequest>,
    ) -> Rpc<GetOrganisationResponse> {
        let (who, req) = take(r)?;
        let number = organisation_name("name", &req.name)?;
        let org = self.0.get_organisation(&who, number).await?;
        reply(proto::GetOrganisationResponse { organisation: Some(encode_organisation(&org)) })
    }

    async fn grant_role(&self, r: Request<GrantRoleRequest>) -> Rpc<GrantRoleResponse> {
        let (who, req) = take(r)?;
        let grant = req.role_grant.ok_or_else(|| Error::invalid("role_grant", "must be set"))?;
        let mut v = Violations::default();
        let organisation = v.check(organisation_name("parent", &req.parent));
        let subject = v.check(RoleGrant::grantee("role_grant.subject", &grant.subject));
        let role = v.check(
            org_role(grant.role)
                .ok_or_else(|| FieldViolation::new("role_grant.role", "must be set")),
        );
        let ((organisation, subject), role) = v.ok(organisation.zip(subject).zip(role))?;
        let grant = self.0.grant_role(&who, organisation, subject, role).await?;
        reply(proto::GrantRoleResponse { role_grant: Some(encode_grant(&grant)) })
    }

    async fn revoke_role(&self, r: Request<RevokeRoleRequest>) -> Rpc<RevokeRoleResponse> {
        let (who, req) = take(r)?;
        let (organisation, id) = grant_name("name", &req.name)?;
        self.0.revoke_role(&who, organisation, id).await?;
        reply(proto::RevokeRoleResponse {})
    }

    async fn list_role_grants(
        &self,
        r: Request<ListRoleGrantsRequest>,
    ) -> Rpc<ListRoleGrantsResponse> {
        let (who, req) = take(r)?;
        let mut v = Violations::default();
        let organisation = v.check(organisation_name("parent", &req.parent));
        let scope = Scope::of("ListRoleGrants", &req.parent, "");
        let page = v.check_all(Page::parse(req.page_size, &req.page_token, scope));
        let (organisation, page) = v.ok(organisation.zip(page))?;
        let listed = self.0.list_role_grants(&who, organisation, page).await?;
        reply(proto::ListRoleGrantsResponse {
            role_grants: listed.items.iter().map(encode_grant).collect(),
            next_page_token: listed.next_page_token,
        })
    }
}
