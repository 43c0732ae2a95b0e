//! The access path every RPC takes: load the target and the caller's relations to it in one
//! query, ask the policy, log the decision in the request's session, then let the caller act.
//! A target the caller may not read is `NOT_FOUND`, exactly as an absent one, so ids cannot be
//! probed.

use std::sync::Arc;

use super::policy::{Action, Authorizer, Object, Relation};
use crate::domain::Error;
use crate::domain::complaint::Complaint;
use crate::domain::ids::{OrgNumber, ResourceId};
use crate::domain::plan::Plan;
use crate::domain::principal::Principal;
use crate::domain::referral::Referral;
use crate::domain::subject::{Subject, SubjectKind};
use crate::domain::time::Instant;
use crate::store::{
    AccessEntry, ComplaintAccessRow, PlanAccessRow, ReadFilter, ReferralAccessRow, Session,
};

/// A plan the caller was allowed to act on, with the relations that allowed it.
#[derive(Debug)]
pub struct PlanAccess {
    /// The plan as loaded in this session.
    pub plan: Plan,
    /// The caller's relations to it.
    pub relations: Vec<Relation>,
}

/// A complaint the caller was allowed to act on, with the relations that allowed it.
#[derive(Debug)]
pub struct ComplaintAccess {
    /// The complaint as loaded in this session.
    pub complaint: Complaint,
    /// The caller's relations to it.
    pub relations: Vec<Relation>,
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

    /// Whether relations, or the caller's roles in one of `organisations` they act for now,
    /// allow `action` on `object`.
    fn allowed(
        &self,
        relations: &[Relation],
        who: &Principal,
        organisations: &[Option<&OrgNumber>],
        object: Object,
        action: Action,
    ) -> Result<bool, Error> {
        let held = relations.iter().map(|r| (r.as_str(), ""));
        let roles = organisations
            .iter()
            .flatten()
            .filter(|org| who.acts_for(org))
            .map(|org| (who.subject.as_stored(), org.as_str()));
        self.authz.allows(held.chain(roles), object, action)
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
        let access = PlanAccess::from(row);
        let may_read = self.may(&access, who, Object::Plan, Action::Read)?;
        let allowed = may_read && self.may(&access, who, object, action)?;
        self.record(session, access.entry(who, object, action, allowed), now)
            .await?;
        decision(allowed, may_read, object, action, "plan")?;
        Ok(access)
    }

    /// Checks that the caller, whose access to the plan is established, may also do `action` to
    /// `object`, logging the decision; `PERMISSION_DENIED` if not, since they may read the plan.
    pub async fn require(
        &self,
        session: &mut Session,
        access: &PlanAccess,
        who: &Principal,
        object: Object,
        action: Action,
        now: Instant,
    ) -> Result<(), Error> {
        self.require_with(session, access, who, &[], object, action, now)
            .await
    }

    /// Like `require`, with `extra` relations the caller holds to the target at hand besides
    /// those to the plan (`self`, for a membership of their own).
    #[allow(clippy::too_many_arguments)]
    pub async fn require_with(
        &self,
        session: &mut Session,
        access: &PlanAccess,
        who: &Principal,
        extra: &[Relation],
        object: Object,
        action: Action,
        now: Instant,
    ) -> Result<(), Error> {
        let mut relations = access.relations.clone();
        relations.extend_from_slice(extra);
        let allowed = self.allowed(
            &relations,
            who,
            &[Some(&access.plan.organisation)],
            object,
            action,
        )?;
        let entry = AccessEntry {
            relations: names(&relations),
            ..access.entry(who, object, action, allowed)
        };
        self.record(session, entry, now).await?;
        decision(allowed, true, object, action, "plan")
    }

    /// Whether the caller, with the access already established, may also do `action` to
    /// `object`.
    pub fn may(
        &self,
        access: &PlanAccess,
        who: &Principal,
        object: Object,
        action: Action,
    ) -> Result<bool, Error> {
        self.allowed(
            &access.relations,
            who,
            &[Some(&access.plan.organisation)],
            object,
            action,
        )
    }

    /// Whether the caller may see identity numbers on the plan: the patient's, and those of
    /// citizen members.
    pub fn may_see_identities(&self, access: &PlanAccess, who: &Principal) -> Result<bool, Error> {
        self.may(access, who, Object::Plan, Action::ReadIdentity)
    }

    /// Checks that `who` may do `action` to a complaint: its complainant or patient by
    /// relation, its organisation's handlers, and the complaint authority it was forwarded to,
    /// by role. Someone who may not read it gets `NOT_FOUND`.
    pub async fn complaint(
        &self,
        session: &mut Session,
        who: &Principal,
        complaint: ResourceId,
        action: Action,
        now: Instant,
    ) -> Result<ComplaintAccess, Error> {
        let row = session
            .complaint_access(complaint, who)
            .await?
            .ok_or(Error::NotFound("complaint"))?;
        self.refresh(session, row.grants_epoch).await?;
        let access = ComplaintAccess::from(row);
        let may_read = self.may_on_complaint(&access, who, Action::Read)?;
        let allowed = may_read && self.may_on_complaint(&access, who, action)?;
        self.record(session, access.entry(who, action, allowed), now)
            .await?;
        decision(allowed, may_read, Object::Complaint, action, "complaint")?;
        Ok(access)
    }

    fn may_on_complaint(
        &self,
        access: &ComplaintAccess,
        who: &Principal,
        action: Action,
    ) -> Result<bool, Error> {
        let complaint = &access.complaint;
        self.allowed(
            &access.relations,
            who,
            &[
                Some(&complaint.organisation),
                complaint.forwarded_to.as_ref(),
            ],
            Object::Complaint,
            action,
        )
    }

    /// Checks that `who` may do `action` to a referral. The sending side (its requester by
    /// relation, the health trust's staff by role) is asked about `sent_referral`, the
    /// receiving municipality's staff about `referral`, each only in its own organisation, so
    /// that a role on one side never answers for the other. Someone who may not read it gets
    /// `NOT_FOUND`. The access log files it under the plan it requested.
    pub async fn referral(
        &self,
        session: &mut Session,
        who: &Principal,
        referral: ResourceId,
        action: Action,
        now: Instant,
    ) -> Result<Referral, Error> {
        let row = session
            .referral_access(referral, who)
            .await?
            .ok_or(Error::NotFound("referral"))?;
        self.refresh(session, row.grants_epoch).await?;
        let relations = held(&[(row.requester, Relation::Requester)]);
        let r = &row.referral;
        let may = |action| -> Result<bool, Error> {
            Ok(self.allowed(
                &relations,
                who,
                &[Some(&r.health_trust)],
                Object::SentReferral,
                action,
            )? || self.allowed(&[], who, &[Some(&r.municipality)], Object::Referral, action)?)
        };
        let may_read = may(Action::Read)?;
        let allowed = may_read && may(action)?;
        let entry = AccessEntry {
            organisation: &r.municipality,
            plan: Some(r.plan),
            complaint: None,
            who,
            relations: names(&relations),
            object: Object::Referral.as_str(),
            action: action.as_str(),
            allowed,
        };
        self.record(session, entry, now).await?;
        decision(allowed, may_read, Object::Referral, action, "referral")?;
        Ok(row.referral)
    }

    /// Whether the local rules in the policy bar `subject`, acting for `organisation`, from
    /// being appointed coordinator (for example ward staff, by their role there).
    pub fn barred_from_coordinating(
        &self,
        subject: &Subject,
        organisation: &OrgNumber,
    ) -> Result<bool, Error> {
        self.authz.allows(
            [(subject.as_stored(), organisation.as_str())],
            Object::Coordinator,
            Action::Barred,
        )
    }

    /// Checks that `who` may file a complaint against `organisation`.
    pub async fn file_complaint(
        &self,
        session: &mut Session,
        who: &Principal,
        organisation: &OrgNumber,
        now: Instant,
    ) -> Result<(), Error> {
        let relations: &[Relation] = match who.subject.kind() {
            SubjectKind::Citizen => &[Relation::Citizen],
            _ => &[],
        };
        let target = OrganisationTarget {
            organisation,
            roles_in: None,
        };
        self.decide_in(
            session,
            who,
            target,
            relations,
            Object::Complaint,
            Action::File,
            now,
        )
        .await
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
        let target = OrganisationTarget {
            organisation,
            roles_in: Some(organisation),
        };
        self.decide_in(session, who, target, &[], object, action, now)
            .await
    }

    /// Checks that `who` may read `organisation` in the registry: public reference data, which
    /// the policy opens to any caller. The decision is logged like any other.
    pub async fn registry(
        &self,
        session: &mut Session,
        who: &Principal,
        organisation: &OrgNumber,
        now: Instant,
    ) -> Result<(), Error> {
        let target = OrganisationTarget {
            organisation,
            roles_in: None,
        };
        let relations = [Relation::Caller];
        self.decide_in(
            session,
            who,
            target,
            &relations,
            Object::Organisation,
            Action::Read,
            now,
        )
        .await
    }

    /// Decides an organisation-level question from `relations` and the caller's roles in
    /// `target.roles_in`, and logs it under `target.organisation`; a denial is
    /// `PERMISSION_DENIED`.
    #[allow(clippy::too_many_arguments)]
    async fn decide_in(
        &self,
        session: &mut Session,
        who: &Principal,
        target: OrganisationTarget<'_>,
        relations: &[Relation],
        object: Object,
        action: Action,
        now: Instant,
    ) -> Result<(), Error> {
        let allowed = self.allowed(relations, who, &[target.roles_in], object, action)?;
        let entry = AccessEntry {
            organisation: target.organisation,
            plan: None,
            complaint: None,
            who,
            relations: names(relations),
            object: object.as_str(),
            action: action.as_str(),
            allowed,
        };
        self.record(session, entry, now).await?;
        decision(allowed, true, object, action, "organisation")
    }

    /// Which relations and roles let a caller see an `object` in a list, as the policy says
    /// now: what the list's SQL filters on.
    pub async fn read_filter(
        &self,
        session: &mut Session,
        object: Object,
    ) -> Result<ReadFilter, Error> {
        let epoch = session.grants_epoch().await?;
        self.refresh(session, epoch).await?;
        let (relations, org_roles) = self.authz.granting(object, Action::Read)?;
        Ok(ReadFilter {
            relations,
            org_roles,
        })
    }

    /// Logs that `who` read the plans a list returned. The list's SQL filter decided access.
    pub async fn record_listed_plans(
        &self,
        session: &mut Session,
        who: &Principal,
        plans: &[PlanAccess],
        now: Instant,
    ) -> Result<(), Error> {
        let entries: Vec<_> = plans
            .iter()
            .map(|access| access.entry(who, Object::Plan, Action::Read, true))
            .collect();
        session.log_access(&entries, now).await
    }

    /// Logs that `who` read the referrals a list returned, under the plans they requested.
    pub async fn record_listed_referrals(
        &self,
        session: &mut Session,
        who: &Principal,
        referrals: &[ReferralAccessRow],
        now: Instant,
    ) -> Result<(), Error> {
        let entries: Vec<_> = referrals
            .iter()
            .map(|row| AccessEntry {
                organisation: &row.referral.municipality,
                plan: Some(row.referral.plan),
                complaint: None,
                who,
                relations: if row.requester {
                    Relation::Requester.as_str().to_owned()
                } else {
                    String::new()
                },
                object: Object::Referral.as_str(),
                action: Action::Read.as_str(),
                allowed: true,
            })
            .collect();
        session.log_access(&entries, now).await
    }

    /// Logs that `who` read the complaints a list returned.
    pub async fn record_listed_complaints(
        &self,
        session: &mut Session,
        who: &Principal,
        complaints: &[ComplaintAccess],
        now: Instant,
    ) -> Result<(), Error> {
        let entries: Vec<_> = complaints
            .iter()
            .map(|access| access.entry(who, Action::Read, true))
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
            complaint = ?entry.complaint.map(|c| c.to_string()),
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

/// Where an organisation-level question is asked: the organisation it is logged under, and the
/// one whose role grants count (none when only relations do).
struct OrganisationTarget<'a> {
    organisation: &'a OrgNumber,
    roles_in: Option<&'a OrgNumber>,
}

/// The answer to an access question: allowed, `PERMISSION_DENIED` for a target the caller may
/// see, `NOT_FOUND` for one they may not.
fn decision(
    allowed: bool,
    may_read: bool,
    object: Object,
    action: Action,
    target: &'static str,
) -> Result<(), Error> {
    match (allowed, may_read) {
        (true, _) => Ok(()),
        (false, true) => Err(Error::PermissionDenied(format!(
            "you may not {} this {}",
            action.as_str(),
            object.as_str()
        ))),
        (false, false) => Err(Error::NotFound(target)),
    }
}

fn names(relations: &[Relation]) -> String {
    let names: Vec<_> = relations.iter().map(|r| r.as_str()).collect();
    names.join(",")
}

fn held(flags: &[(bool, Relation)]) -> Vec<Relation> {
    flags
        .iter()
        .filter_map(|(held, relation)| held.then_some(*relation))
        .collect()
}

impl PlanAccess {
    /// The caller's relations, comma-separated, as the access log and the history keep them.
    pub fn relation_names(&self) -> String {
        names(&self.relations)
    }

    /// The access-log entry of `who` doing `action` to `object` of this plan.
    fn entry<'a>(
        &'a self,
        who: &'a Principal,
        object: Object,
        action: Action,
        allowed: bool,
    ) -> AccessEntry<'a> {
        AccessEntry {
            organisation: &self.plan.organisation,
            plan: Some(self.plan.id),
            complaint: None,
            who,
            relations: names(&self.relations),
            object: object.as_str(),
            action: action.as_str(),
            allowed,
        }
    }
}

impl ComplaintAccess {
    /// The access-log entry of `who` doing `action` to this complaint.
    fn entry<'a>(&'a self, who: &'a Principal, action: Action, allowed: bool) -> AccessEntry<'a> {
        AccessEntry {
            organisation: &self.complaint.organisation,
            plan: None,
            complaint: Some(self.complaint.id),
            who,
            relations: names(&self.relations),
            object: Object::Complaint.as_str(),
            action: action.as_str(),
            allowed,
        }
    }
}

impl From<PlanAccessRow> for PlanAccess {
    fn from(row: PlanAccessRow) -> Self {
        PlanAccess {
            relations: held(&[
                (row.owner, Relation::Owner),
                (row.member, Relation::Member),
                (row.coordinator, Relation::Coordinator),
                (row.representative, Relation::Representative),
                (row.attorney, Relation::Attorney),
            ]),
            plan: row.plan,
        }
    }
}

impl From<ComplaintAccessRow> for ComplaintAccess {
    fn from(row: ComplaintAccessRow) -> Self {
        ComplaintAccess {
            relations: held(&[
                (row.complainant, Relation::Complainant),
                (row.patient, Relation::ComplaintPatient),
            ]),
            complaint: row.complaint,
        }
    }
}
