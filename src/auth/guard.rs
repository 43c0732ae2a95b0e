//! The access path every RPC takes: load the target and the caller's relations in one query,
//! ask the policy, log the decision in the request's session, then let the caller act. A plan the
//! caller may not read is `NOT_FOUND`, exactly as an absent one, so ids cannot be probed.

use std::sync::Arc;

use super::policy::{Action, Authorizer, Object, Relation};
use crate::domain::Error;
use crate::domain::ids::{OrgNumber, ResourceId};
use crate::domain::plan::Plan;
use crate::domain::principal::Principal;
use crate::domain::time::Instant;
use crate::store::{AccessEntry, PlanAccessRow, ReadFilter, Session};

/// A plan the caller was allowed to act on, with the relations that allowed it.
#[derive(Debug)]
pub struct PlanAccess {
    /// The plan as loaded in this session.
    pub plan: Plan,
    /// The caller's relations to it.
    pub relations: Vec<Relation>,
    /// Whether the caller acts for the plan's organisation, so its roles there count.
    acts_for_plan_organisation: bool,
}

/// Authorizes requests against the policy and records each decision in the access log.
#[derive(Clone)]
pub struct Guard {
    authz: Arc<Authorizer>,
}

impl Guard {
    /// A guard over `authz`.
    pub fn new(authz: Arc<Authorizer>) -> Self {
        Guard { authz }
    }

    /// Checks that `who` may do `action` to `object` of `plan`. Someone who may not read the
    /// plan gets `NOT_FOUND`; someone who may read it but not do this gets `PERMISSION_DENIED`.
    pub async fn plan(
        &self,
        session: &mut Session,
        who: &Principal,
        plan: ResourceId,
        object: Object,
        action: Action,
        now: Instant,
    ) -> Result<PlanAccess, Error> {
        let row = session
            .plan_access(plan, who, now)
            .await?
            .ok_or(Error::NotFound("plan"))?;
        self.refresh(session, row.grants_epoch).await?;
        let access = PlanAccess::of(row, who);
        let may_read = self.may(&access, who, Object::Plan, Action::Read)?;
        let allowed = may_read && self.may(&access, who, object, action)?;
        let entry = AccessEntry {
            organisation: &access.plan.organisation,
            plan: Some(access.plan.id),
            who,
            relations: access.relation_names(),
            object: object.as_str(),
            action: action.as_str(),
            allowed,
        };
        self.record(session, entry, now).await?;
        match (allowed, may_read) {
            (true, _) => Ok(access),
            (false, true) => Err(Error::PermissionDenied(format!(
                "you may not {} this {}",
                action.as_str(),
                object.as_str()
            ))),
            (false, false) => Err(Error::NotFound("plan")),
        }
    }

    /// Whether the caller, with the access already established, may also do `action` to
    /// `object` (for example see the patient's identity number).
    pub fn may(
        &self,
        access: &PlanAccess,
        who: &Principal,
        object: Object,
        action: Action,
    ) -> Result<bool, Error> {
        let relations = access.relations.iter().map(|r| r.as_str());
        let own = access
            .acts_for_plan_organisation
            .then(|| who.subject.as_stored());
        self.authz.allows(
            relations.chain(own),
            access.plan.organisation.as_str(),
            object,
            action,
        )
    }

    /// Whether the caller may see identity numbers on the plan: the patient's, and those of
    /// citizen members.
    pub fn may_see_identities(&self, access: &PlanAccess, who: &Principal) -> Result<bool, Error> {
        self.may(access, who, Object::Plan, Action::ReadIdentity)
    }

    /// Checks that `who` may do `action` to `object` in `organisation`, through a role they
    /// hold there and act for it now. Organisation numbers are public, so a denial is
    /// `PERMISSION_DENIED`.
    pub async fn organisation(
        &self,
        session: &mut Session,
        who: &Principal,
        organisation: &OrgNumber,
        object: Object,
        action: Action,
        now: Instant,
    ) -> Result<(), Error> {
        let epoch = session.grants_epoch().await?;
        self.refresh(session, epoch).await?;
        let allowed = who.acts_for(organisation)
            && self.authz.allows(
                [who.subject.as_stored()],
                organisation.as_str(),
                object,
                action,
            )?;
        let entry = AccessEntry {
            organisation,
            plan: None,
            who,
            relations: String::new(),
            object: object.as_str(),
            action: action.as_str(),
            allowed,
        };
        self.record(session, entry, now).await?;
        if allowed {
            Ok(())
        } else {
            Err(Error::PermissionDenied(format!(
                "you may not {} a {} in this organisation",
                action.as_str(),
                object.as_str()
            )))
        }
    }

    /// Which relations and roles let a caller see a plan in a list, as the policy says now.
    pub async fn plan_read_filter(&self, session: &mut Session) -> Result<ReadFilter, Error> {
        let epoch = session.grants_epoch().await?;
        self.refresh(session, epoch).await?;
        let (relations, org_roles) = self.authz.granting(Object::Plan, Action::Read)?;
        Ok(ReadFilter {
            owner: relations.contains(&Relation::Owner),
            member: relations.contains(&Relation::Member),
            coordinator: relations.contains(&Relation::Coordinator),
            org_roles,
        })
    }

    /// Logs that `who` read the plans a list returned. The list's SQL filter decided access.
    pub async fn record_listed(
        &self,
        session: &mut Session,
        who: &Principal,
        plans: &[PlanAccess],
        now: Instant,
    ) -> Result<(), Error> {
        let entries: Vec<_> = plans
            .iter()
            .map(|access| AccessEntry {
                organisation: &access.plan.organisation,
                plan: Some(access.plan.id),
                who,
                relations: access.relation_names(),
                object: Object::Plan.as_str(),
                action: Action::Read.as_str(),
                allowed: true,
            })
            .collect();
        session.log_access(&entries, now).await
    }

    async fn record(
        &self,
        session: &mut Session,
        entry: AccessEntry<'_>,
        now: Instant,
    ) -> Result<(), Error> {
        tracing::info!(
            target: "samvirke::access",
            subject = %entry.who.subject,
            organisation = %entry.organisation,
            plan = ?entry.plan.map(|p| p.to_string()),
            relations = %entry.relations,
            object = entry.object,
            action = entry.action,
            allowed = entry.allowed,
            "access decision"
        );
        if !entry.allowed {
            session.note_denial();
        }
        session.log_access(std::slice::from_ref(&entry), now).await
    }

    async fn refresh(&self, session: &mut Session, epoch: i64) -> Result<(), Error> {
        if self.authz.is_stale(epoch) {
            let (epoch, grants) = session.all_grants().await?;
            self.authz.install(epoch, &grants).await?;
        }
        Ok(())
    }
}

impl PlanAccess {
    /// The access a loaded row gives `who`; whether it allows anything is the guard's question.
    pub fn of(row: PlanAccessRow, who: &Principal) -> Self {
        let relations = [
            (row.owner, Relation::Owner),
            (row.member, Relation::Member),
            (row.coordinator, Relation::Coordinator),
        ]
        .into_iter()
        .filter_map(|(held, relation)| held.then_some(relation))
        .collect();
        PlanAccess {
            relations,
            acts_for_plan_organisation: who.acts_for(&row.plan.organisation),
            plan: row.plan,
        }
    }

    fn relation_names(&self) -> String {
        let names: Vec<_> = self.relations.iter().map(|r| r.as_str()).collect();
        names.join(",")
    }
}
