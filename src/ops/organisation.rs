//! Organisations: the registry, and the roles people and systems hold in them.

use super::{Context, Listed};
use crate::auth::{Action, Object};
use crate::domain::ids::{OrgNumber, ResourceId};
use crate::domain::organisation::{OrgRole, Organisation, RoleGrant};
use crate::domain::page::Page;
use crate::domain::principal::Principal;
use crate::domain::subject::Subject;
use crate::domain::{Error, Result};

impl Context {
    /// GetOrganisation: public reference data from the registry.
    pub async fn get_organisation(
        &self,
        who: &Principal,
        number: OrgNumber,
    ) -> Result<Organisation> {
        self.read(async |s, now| {
            self.guard.registry(s, who, &number, now).await?;
            s.organisation(&number).await?.ok_or(Error::NotFound("organisation"))
        })
        .await
    }

    /// GrantRole: by the organisation's role administrators, never to oneself, and only a role
    /// the organisation's kind holds.
    pub async fn grant_role(
        &self,
        who: &Principal,
        organisation: OrgNumber,
        subject: Subject,
        role: OrgRole,
    ) -> Result<RoleGrant> {
        self.write(async |s, now| {
            self.guard
                .organisation(s, who, &organisation, Object::RoleGrant, Action::Grant, now)
                .await?;
            who.refuse_own(&subject, "grants a role")?;
            let kinds = role.held_in();
            let held = s.organisation(&organisation).await?;
            if !held.is_some_and(|org| kinds.contains(&org.kind)) {
                let names: Vec<String> = kinds.iter().map(|k| k.wire_name()).collect();
                return Err(Error::FailedPrecondition(format!(
                    "this role may be held only in an organisation of the registry of kind {}",
                    names.join(" or ")
                )));
            }
            s.insert_grant(&organisation, &subject, role, &who.subject, now).await
        })
        .await
    }

    /// RevokeRole: by the organisation's role administrators, never their own.
    pub async fn revoke_role(
        &self,
        who: &Principal,
        organisation: OrgNumber,
        id: ResourceId,
    ) -> Result<()> {
        self.write(async |s, now| {
            let org = self
                .guard
                .organisation(s, who, &organisation, Object::RoleGrant, Action::Revoke, now)
                .await?;
            let grant = s.grant(&org, id).await?;
            who.refuse_own(&grant.subject, "revokes a role")?;
            s.delete_grant(&org, id).await
        })
        .await
    }

    /// ListRoleGrants.
    pub async fn list_role_grants(
        &self,
        who: &Principal,
        organisation: OrgNumber,
        page: Page,
    ) -> Result<Listed<RoleGrant>> {
        self.read(async |s, now| {
            let org = self
                .guard
                .organisation(s, who, &organisation, Object::RoleGrant, Action::Read, now)
                .await?;
            let mut grants = s.list_grants(&org, page).await?;
            let next_page_token = page.next_token(&mut grants, |g| g.id);
            Ok(Listed { items: grants, next_page_token })
        })
        .await
    }
}
