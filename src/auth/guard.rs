//! The access path every RPC takes: load the target and the caller's relations to it in one
//! query, ask the policy, log the decision in the request's session, then hand the caller a
//! pass (`pass.rs`), which the store demands.
//! A target the caller may not read is `NOT_FOUND`, exactly as an absent one, so ids cannot be
//! probed.

use std::sync::Arc;

use super::pass::{
    ApplicationPass, ComplaintPass, OrgPass, PlanPass, ReferralPass, TransferPass, names,
};
use super::policy::{Action, Authorizer, Object, Relation};
use crate::domain::Error;
use crate::domain::child_coordinator::{Application, Child};
use crate::domain::ids::{OrgNumber, ResourceId};
use crate::domain::principal::Principal;
use crate::domain::scope::{Parts, Sight};
use crate::domain::subject::{Subject, SubjectKind};
use crate::domain::time::Instant;
use crate::store::{
    AccessEntry, ApplicationAccessRow, ComplaintAccessRow, PlanAccessRow, ReadFilter,
    ReferralAccessRow, Session,
};

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
    /// allow `action` on `object`. In their own case (`party`) the caller's roles, and the
    /// relations an office gives (`Relation::is_official`: serving on the group, coordinating,
    /// being responsible for a measure, having referred), allow reading only: an official is
    /// disqualified from preparing or deciding a case they are a party to (forvaltningsloven
    /// § 6 first paragraph a), so what they do there they do as the citizen they are.
    fn allowed(
        &self,
        relations: &[Relation],
        who: &Principal,
        organisations: &[Option<&OrgNumber>],
        party: bool,
        object: Object,
        action: Action,
    ) -> Result<bool, Error> {
        let roles_count = !party || action.is_read();
        let held =
            relations.iter().filter(|r| roles_count || !r.is_official()).map(|r| (r.as_str(), ""));
        let roles = organisations
            .iter()
            .flatten()
            .filter(|org| roles_count && who.acts_for(org))
            .map(|org| (who.subject.as_stored(), org.as_str()));
        self.authz.allows(held.chain(roles), object, action)
    }

    /// Whether `relations` and the caller's roles in the plan's organisation allow `action` on
    /// `object` of the plan.
    fn on_plan(
        &self,
        plan: &crate::domain::plan::Plan,
        relations: &[Relation],
        who: &Principal,
        object: Object,
        action: Action,
    ) -> Result<bool, Error> {
        let party = who.is(&Subject::citizen(&plan.patient));
        self.allowed(relations, who, &[Some(&plan.organisation)], party, object, action)
    }

    /// A pass for the plan of `row` with `relations`, asking once whether they may see
    /// identities; it sees the whole plan until `scoped` narrows it.
    fn plan_pass(
        &self,
        plan: crate::domain::plan::Plan,
        relations: Vec<Relation>,
        who: &Principal,
    ) -> Result<PlanPass, Error> {
        let identities =
            self.on_plan(&plan, &relations, who, Object::Plan, Action::ReadIdentity)?;
        Ok(PlanPass { plan, relations, identities, sight: Sight::Whole })
    }

    /// Whether a scope on the caller narrows what `pass` shows: it narrows the `member`
    /// relation only, never those who run the plan (the patient, their representatives, the
    /// coordinator, and whoever reads the plan by their role in its organisation).
    fn scope_applies(&self, pass: &PlanPass, who: &Principal) -> Result<bool, Error> {
        let runs = [Relation::Owner, Relation::Representative, Relation::Coordinator];
        if runs.iter().any(|r| pass.holds(*r)) || !pass.holds(Relation::Member) {
            return Ok(false);
        }
        Ok(!self.on_plan(&pass.plan, &[], who, Object::Plan, Action::Read)?)
    }

    /// `pass` narrowed to `parts` when a scope applies to the caller, with the items that are
    /// their own (`Session::own_items`) and the newest revision they see, so that every RPC,
    /// a list's too, shows them the plan alike.
    async fn scoped(
        &self,
        session: &mut Session,
        mut pass: PlanPass,
        who: &Principal,
        parts: Option<Parts>,
    ) -> Result<PlanPass, Error> {
        let Some(parts) = parts else { return Ok(pass) };
        if !self.scope_applies(&pass, who)? {
            return Ok(pass);
        }
        let scoped = session.own_items(&pass, who, parts).await?;
        pass.sight = Sight::Scoped(scoped);
        let seen = session.newest_revision_seen(&pass, &pass.sight).await?;
        if let Sight::Scoped(scoped) = &mut pass.sight {
            scoped.seen = seen;
        }
        Ok(pass)
    }

    /// Checks that `who` may do `action` to `object` of `plan`, and hands out the pass. Someone
    /// who may not read the plan gets `NOT_FOUND`; someone who may read it but not do this gets
    /// `PERMISSION_DENIED`. Each question is asked of the policy once.
    pub async fn plan(
        &self,
        session: &mut Session,
        who: &Principal,
        plan: ResourceId,
        object: Object,
        action: Action,
        now: Instant,
    ) -> Result<PlanPass, Error> {
        let row = session.plan_access(plan, who, now).await?.ok_or(Error::NotFound("plan"))?;
        self.refresh(session, row.grants_epoch).await?;
        if row.blocked {
            // A block overrides every relation and role: to the blocked, the plan is as absent
            // as one that does not exist. The refusal is logged, for the patient to see.
            let pass = self.plan_pass(row.plan, Vec::new(), who)?;
            let refused = plan_entry(&pass, who, object, action, false);
            let entry = AccessEntry { relations: Relation::Blocked.as_str().into(), ..refused };
            self.record(session, entry, now).await?;
            return Err(Error::NotFound("plan"));
        }
        let relations = plan_relations(&row);
        let pass = self.plan_pass(row.plan, relations, who)?;
        let pass = self.scoped(session, pass, who, row.scope).await?;
        let may_read = self.may(&pass, who, Object::Plan, Action::Read)?;
        let allowed = if (object, action) == (Object::Plan, Action::Read) {
            may_read
        } else {
            may_read && self.may(&pass, who, object, action)?
        };
        self.record(session, plan_entry(&pass, who, object, action, allowed), now).await?;
        let party = who.is(&Subject::citizen(&pass.plan.patient));
        decision(allowed, may_read, party, object, action, "plan")?;
        Ok(pass)
    }

    /// Checks that the caller, whose pass to the plan is established, may also do `action` to
    /// `object`, logging the decision; `PERMISSION_DENIED` if not, since they may read the plan.
    pub async fn require(
        &self,
        session: &mut Session,
        pass: &PlanPass,
        who: &Principal,
        object: Object,
        action: Action,
        now: Instant,
    ) -> Result<(), Error> {
        let allowed = self.may(pass, who, object, action)?;
        self.record(session, plan_entry(pass, who, object, action, allowed), now).await?;
        decision(allowed, true, party_to_plan(pass, who), object, action, "plan")
    }

    /// Like `require`, for a relation on the plan the caller holds: with the `self` relation
    /// when `own` (a membership of their own, which anyone may end).
    #[allow(clippy::too_many_arguments)]
    pub async fn require_on_relation(
        &self,
        session: &mut Session,
        pass: &PlanPass,
        who: &Principal,
        own: bool,
        object: Object,
        action: Action,
        now: Instant,
    ) -> Result<(), Error> {
        let mut relations = pass.relations.clone();
        if own {
            relations.push(Relation::OwnRelation);
        }
        let allowed = self.on_plan(&pass.plan, &relations, who, object, action)?;
        let entry = AccessEntry {
            relations: names(&relations),
            ..plan_entry(pass, who, object, action, allowed)
        };
        self.record(session, entry, now).await?;
        decision(allowed, true, party_to_plan(pass, who), object, action, "plan")
    }

    /// The pass with the `responsible` relation added when the caller is, now, the member
    /// responsible for `measure`.
    pub async fn responsibility(
        &self,
        session: &mut Session,
        pass: PlanPass,
        who: &Principal,
        measure: &crate::domain::measure::Measure,
        now: Instant,
    ) -> Result<PlanPass, Error> {
        if !session.is_responsible(&pass, measure, who, now).await? {
            return Ok(pass);
        }
        let sight = pass.sight;
        let mut relations = pass.relations;
        relations.push(Relation::Responsible);
        Ok(PlanPass { sight, ..self.plan_pass(pass.plan, relations, who)? })
    }

    /// The pass for a plan the caller has just created through `org`, in which they hold
    /// `relations` (the referral's requester) or none (unit staff, by their role).
    pub async fn created_plan(
        &self,
        session: &mut Session,
        org: &OrgPass,
        plan: crate::domain::plan::Plan,
        relations: Vec<Relation>,
        who: &Principal,
        now: Instant,
    ) -> Result<PlanPass, Error> {
        if plan.organisation != org.organisation && relations.is_empty() {
            return Err(Error::internal("a plan was created outside its pass"));
        }
        let pass = self.plan_pass(plan, relations, who)?;
        // The decision was the organisation's; the plan's own log names its creation too, so
        // the patient sees who made it.
        self.record(session, plan_entry(&pass, who, Object::Plan, Action::Create, true), now)
            .await?;
        Ok(pass)
    }

    /// Whether the caller, with the pass already established, may also do `action` to
    /// `object`.
    pub fn may(
        &self,
        pass: &PlanPass,
        who: &Principal,
        object: Object,
        action: Action,
    ) -> Result<bool, Error> {
        self.on_plan(&pass.plan, &pass.relations, who, object, action)
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
    ) -> Result<ComplaintPass, Error> {
        let row =
            session.complaint_access(complaint, who).await?.ok_or(Error::NotFound("complaint"))?;
        self.refresh(session, row.grants_epoch).await?;
        let pass = complaint_pass(row);
        let may_read = self.may_on_complaint(&pass, who, Action::Read)?;
        let allowed =
            may_read && (action == Action::Read || self.may_on_complaint(&pass, who, action)?);
        self.record(session, complaint_entry(&pass, who, action, allowed), now).await?;
        let party = party_to_complaint(&pass, who);
        decision(allowed, may_read, party, Object::Complaint, action, "complaint")?;
        Ok(pass)
    }

    fn may_on_complaint(
        &self,
        pass: &ComplaintPass,
        who: &Principal,
        action: Action,
    ) -> Result<bool, Error> {
        let complaint = &pass.complaint;
        self.allowed(
            &pass.relations,
            who,
            &[Some(&complaint.organisation), complaint.forwarded_to.as_ref()],
            party_to_complaint(pass, who),
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
    ) -> Result<ReferralPass, Error> {
        let row =
            session.referral_access(referral, who).await?.ok_or(Error::NotFound("referral"))?;
        self.refresh(session, row.grants_epoch).await?;
        if row.blocked {
            // The referral is of a plan a block keeps the caller out of: to them, it is absent.
            let r = &row.referral;
            let blocked = Relation::Blocked.as_str().into();
            let entry =
                item_entry(&r.municipality, r.plan, who, blocked, Object::Referral, action, false);
            self.record(session, entry, now).await?;
            return Err(Error::NotFound("referral"));
        }
        let relations = held(&[(row.requester, Relation::Requester)]);
        let r = &row.referral;
        let party = who.is(&Subject::citizen(&r.patient));
        let may = |action| -> Result<bool, Error> {
            let (sending, receiving) = ([Some(&r.health_trust)], [Some(&r.municipality)]);
            Ok(self.allowed(&relations, who, &sending, party, Object::SentReferral, action)?
                || self.allowed(&[], who, &receiving, party, Object::Referral, action)?)
        };
        let may_read = may(Action::Read)?;
        let allowed = may_read && (action == Action::Read || may(action)?);
        let relations = names(&relations);
        let entry =
            item_entry(&r.municipality, r.plan, who, relations, Object::Referral, action, allowed);
        self.record(session, entry, now).await?;
        decision(allowed, may_read, party, Object::Referral, action, "referral")?;
        Ok(ReferralPass { referral: row.referral })
    }

    /// Checks that `who` may do `action` to a plan transfer. The sending side reads and cancels
    /// it by its relations to the plan and its roles in the organisation that proposed it
    /// (`plan_transfer`), so it still sees what happened once the plan has moved; the receiving
    /// municipality's staff read and answer it by their roles there (`incoming_plan_transfer`).
    /// Someone who may not read it, or whom a block keeps out of the plan, gets `NOT_FOUND`.
    /// Logged under the plan.
    pub async fn transfer(
        &self,
        session: &mut Session,
        who: &Principal,
        id: ResourceId,
        action: Action,
        now: Instant,
    ) -> Result<TransferPass, Error> {
        const WHAT: &str = "plan transfer";
        let row = session.transfer_access(id).await?.ok_or(Error::NotFound(WHAT))?;
        self.refresh(session, row.grants_epoch).await?;
        let transfer = row.transfer;
        let plan = session.plan_access(transfer.plan, who, now).await?;
        let plan = plan.ok_or_else(|| Error::internal("a transfer of a plan that is not"))?;
        let party = who.is(&Subject::citizen(&plan.plan.patient));
        let relations = if plan.blocked { vec![Relation::Blocked] } else { plan_relations(&plan) };
        let (from, to) = ([Some(&transfer.from)], [Some(&transfer.to)]);
        let sending =
            |action| self.allowed(&relations, who, &from, party, Object::PlanTransfer, action);
        let receiving =
            |action| self.allowed(&[], who, &to, party, Object::IncomingPlanTransfer, action);
        let may_read = !plan.blocked && (sending(Action::Read)? || receiving(Action::Read)?);
        // Withdrawing a proposal is the sending side's, asked of its object; answering it the
        // receiving side's.
        let (object, allowed) = match action {
            Action::Read => (Object::IncomingPlanTransfer, may_read),
            Action::Cancel => (Object::PlanTransfer, may_read && sending(action)?),
            _ => (Object::IncomingPlanTransfer, may_read && receiving(action)?),
        };
        let relations = names(&relations);
        let entry =
            item_entry(&transfer.from, transfer.plan, who, relations, object, action, allowed);
        self.record(session, entry, now).await?;
        decision(allowed, may_read, party, object, action, WHAT)?;
        Ok(TransferPass { transfer, plan: plan.plan })
    }

    /// The pass to the plan of a transfer the guard let the receiving municipality answer: the
    /// plan as the guard loaded it with the transfer, with no relation of the caller's, for the
    /// move and its history alone. What the receiving side does on the plan afterwards it does
    /// through `plan`, by its role in the plan's new organisation.
    pub fn transferred_plan(
        &self,
        transfer: &TransferPass,
        who: &Principal,
    ) -> Result<PlanPass, Error> {
        self.plan_pass(transfer.plan.clone(), Vec::new(), who)
    }

    /// Checks that `who` may apply to `municipality` for a child coordinator: a citizen, for
    /// their family (policy `child_coordinator_application, create`). Logged under the
    /// municipality; a denial is `PERMISSION_DENIED`.
    pub async fn apply_for_child_coordinator(
        &self,
        session: &mut Session,
        who: &Principal,
        municipality: &OrgNumber,
        now: Instant,
    ) -> Result<(), Error> {
        let relations: &[Relation] = match who.subject.kind() {
            SubjectKind::Citizen => &[Relation::Citizen],
            _ => &[],
        };
        let target = OrganisationTarget { organisation: municipality, roles_in: None };
        let object = Object::ChildCoordinatorApplication;
        self.decide_in(session, who, target, relations, object, Action::Create, now).await
    }

    /// Checks that `who` may do `action` to an application for a child coordinator: its
    /// applicant by relation, the municipality's unit staff by role there. Someone who may not
    /// read it gets `NOT_FOUND`. The access log files it under the municipality, and under the
    /// child's plan once it has one.
    pub async fn application(
        &self,
        session: &mut Session,
        who: &Principal,
        id: ResourceId,
        action: Action,
        now: Instant,
    ) -> Result<ApplicationPass, Error> {
        const WHAT: &str = "child coordinator application";
        let row = session.application_access(id, who).await?.ok_or(Error::NotFound(WHAT))?;
        self.refresh(session, row.grants_epoch).await?;
        if row.blocked {
            // The application of a child whose plan a block keeps the caller out of is, to
            // them, absent, as the plan is. The refusal is logged, for the family to see.
            let blocked = [Relation::Blocked];
            let entry = application_entry(&row.application, who, &blocked, action, false);
            self.record(session, entry, now).await?;
            return Err(Error::NotFound(WHAT));
        }
        let relations = held(&[(row.applicant, Relation::Applicant)]);
        let a = &row.application;
        let object = Object::ChildCoordinatorApplication;
        let in_municipality = [Some(&a.municipality)];
        let party = who.is(&a.applicant)
            || matches!(&a.child, Child::Born(child) if who.is(&Subject::citizen(child)));
        let may = |action| self.allowed(&relations, who, &in_municipality, party, object, action);
        let may_read = may(Action::Read)?;
        let allowed = may_read && (action == Action::Read || may(action)?);
        let entry = application_entry(a, who, &relations, action, allowed);
        self.record(session, entry, now).await?;
        decision(allowed, may_read, party, object, action, WHAT)?;
        Ok(ApplicationPass { application: row.application })
    }

    /// Passes for the applications a list returned, whose SQL filter decided access, and the
    /// log of `who` reading them.
    pub async fn listed_applications(
        &self,
        session: &mut Session,
        who: &Principal,
        rows: Vec<ApplicationAccessRow>,
        now: Instant,
    ) -> Result<Vec<ApplicationPass>, Error> {
        let entries: Vec<_> = rows
            .iter()
            .map(|row| {
                let relations = held(&[(row.applicant, Relation::Applicant)]);
                application_entry(&row.application, who, &relations, Action::Read, true)
            })
            .collect();
        session.log_access(&self.all_stamped(entries), now);
        Ok(rows.into_iter().map(|row| ApplicationPass { application: row.application }).collect())
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
        let target = OrganisationTarget { organisation, roles_in: None };
        self.decide_in(session, who, target, relations, Object::Complaint, Action::File, now).await
    }

    /// Checks that `who` may do `action` to `object` in `organisation`, through a role they
    /// hold there and act for it now, and hands out the pass. Organisation numbers are public,
    /// so a denial is `PERMISSION_DENIED`.
    pub async fn organisation(
        &self,
        session: &mut Session,
        who: &Principal,
        organisation: &OrgNumber,
        object: Object,
        action: Action,
        now: Instant,
    ) -> Result<OrgPass, Error> {
        let epoch = session.grants_epoch().await?;
        self.refresh(session, epoch).await?;
        let target = OrganisationTarget { organisation, roles_in: Some(organisation) };
        self.decide_in(session, who, target, &[], object, action, now).await?;
        Ok(OrgPass { organisation: organisation.clone() })
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
        let target = OrganisationTarget { organisation, roles_in: None };
        let relations = [Relation::Caller];
        self.decide_in(session, who, target, &relations, Object::Organisation, Action::Read, now)
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
        let allowed = self.allowed(relations, who, &[target.roles_in], false, object, action)?;
        let entry = AccessEntry {
            organisation: target.organisation,
            plan: None,
            complaint: None,
            who,
            relations: names(relations),
            object: object.as_str(),
            action: action.as_str(),
            allowed,
            roles: String::new(),
        };
        self.record(session, entry, now).await?;
        decision(allowed, true, false, object, action, "organisation")
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
        Ok(ReadFilter { relations, org_roles })
    }

    /// Passes for the plans a list returned, whose SQL filter decided access, and the log of
    /// `who` reading them.
    pub async fn listed_plans(
        &self,
        session: &mut Session,
        who: &Principal,
        rows: Vec<PlanAccessRow>,
        now: Instant,
    ) -> Result<Vec<PlanPass>, Error> {
        let mut passes = Vec::with_capacity(rows.len());
        for row in rows {
            let relations = plan_relations(&row);
            let pass = self.plan_pass(row.plan, relations, who)?;
            passes.push(self.scoped(session, pass, who, row.scope).await?);
        }
        self.record_listed(session, who, &passes, now).await?;
        Ok(passes)
    }

    /// Passes for the plans of an organisation's work list, which `org` lets the caller read
    /// by their role there, and the log of `who` reading them.
    pub async fn listed_org_plans(
        &self,
        session: &mut Session,
        who: &Principal,
        org: &OrgPass,
        plans: Vec<crate::domain::plan::Plan>,
        now: Instant,
    ) -> Result<Vec<PlanPass>, Error> {
        let passes = plans
            .into_iter()
            .filter(|plan| plan.organisation == org.organisation)
            .map(|plan| self.plan_pass(plan, Vec::new(), who))
            .collect::<Result<Vec<_>, _>>()?;
        self.record_listed(session, who, &passes, now).await?;
        Ok(passes)
    }

    async fn record_listed(
        &self,
        session: &mut Session,
        who: &Principal,
        passes: &[PlanPass],
        now: Instant,
    ) -> Result<(), Error> {
        let entries: Vec<_> = passes
            .iter()
            .map(|pass| plan_entry(pass, who, Object::Plan, Action::Read, true))
            .collect();
        session.log_access(&self.all_stamped(entries), now);
        Ok(())
    }

    /// Logs that `who` read the referrals a list returned, under the plans they requested.
    pub async fn listed_referrals(
        &self,
        session: &mut Session,
        who: &Principal,
        rows: Vec<ReferralAccessRow>,
        now: Instant,
    ) -> Result<Vec<ReferralPass>, Error> {
        let entries: Vec<_> = rows
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
                roles: String::new(),
            })
            .collect();
        session.log_access(&self.all_stamped(entries), now);
        Ok(rows.into_iter().map(|row| ReferralPass { referral: row.referral }).collect())
    }

    /// Passes for the complaints a list returned, and the log of `who` reading them.
    pub async fn listed_complaints(
        &self,
        session: &mut Session,
        who: &Principal,
        rows: Vec<ComplaintAccessRow>,
        now: Instant,
    ) -> Result<Vec<ComplaintPass>, Error> {
        let passes: Vec<ComplaintPass> = rows.into_iter().map(complaint_pass).collect();
        let entries: Vec<_> =
            passes.iter().map(|pass| complaint_entry(pass, who, Action::Read, true)).collect();
        session.log_access(&self.all_stamped(entries), now);
        Ok(passes)
    }

    /// `entries`, each `stamped`.
    fn all_stamped<'a>(&self, entries: Vec<AccessEntry<'a>>) -> Vec<AccessEntry<'a>> {
        entries.into_iter().map(|e| self.stamped(e)).collect()
    }

    /// `entry` with the organisation roles its caller holds where they act, as they are now:
    /// the log keeps them, so the patient later sees the role as it was.
    fn stamped<'a>(&self, mut entry: AccessEntry<'a>) -> AccessEntry<'a> {
        let (subject, acting) = (entry.who.subject.as_stored(), entry.who.acting_organisation());
        if !acting.is_empty() {
            entry.roles = self.authz.roles_in(subject, acting).join(",");
        }
        entry
    }

    async fn record(
        &self,
        session: &mut Session,
        entry: AccessEntry<'_>,
        now: Instant,
    ) -> Result<(), Error> {
        let entry = self.stamped(entry);
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
        session.log_access(std::slice::from_ref(&entry), now);
        Ok(())
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
/// see, `NOT_FOUND` for one they may not. `party` says the caller is a party to the case, whose
/// roles did not count (`Guard::allowed`), so the refusal says why.
fn decision(
    allowed: bool,
    may_read: bool,
    party: bool,
    object: Object,
    action: Action,
    target: &'static str,
) -> Result<(), Error> {
    let why = match party {
        true => ": nobody handles their own case in an official role (forvaltningsloven § 6)",
        false => "",
    };
    match (allowed, may_read) {
        (true, _) => Ok(()),
        (false, true) => Err(Error::PermissionDenied(format!(
            "you may not {} this {}{why}",
            action.as_str().replace('_', " "),
            object.as_str().replace('_', " ")
        ))),
        (false, false) => Err(Error::NotFound(target)),
    }
}

/// Whether the caller is the patient of the plan `pass` is for (`Guard::allowed`).
fn party_to_plan(pass: &PlanPass, who: &Principal) -> bool {
    who.is(&Subject::citizen(&pass.plan.patient))
}

/// Whether the caller is the complaint's complainant or its patient (`Guard::allowed`).
fn party_to_complaint(pass: &ComplaintPass, who: &Principal) -> bool {
    let complaint = &pass.complaint;
    who.is(&complaint.complainant) || who.is(&Subject::citizen(&complaint.patient))
}

fn held(flags: &[(bool, Relation)]) -> Vec<Relation> {
    flags.iter().filter_map(|(held, relation)| held.then_some(*relation)).collect()
}

/// The access-log entry of `who` doing `action` to `object` of the plan `pass` is for.
fn plan_entry<'a>(
    pass: &'a PlanPass,
    who: &'a Principal,
    object: Object,
    action: Action,
    allowed: bool,
) -> AccessEntry<'a> {
    let mut relations = names(&pass.relations);
    if !pass.sight.is_whole() {
        relations.push_str(if relations.is_empty() { "" } else { "," });
        relations.push_str(Relation::Scoped.as_str());
    }
    AccessEntry {
        organisation: &pass.plan.organisation,
        plan: Some(pass.plan.id),
        complaint: None,
        who,
        relations,
        object: object.as_str(),
        action: action.as_str(),
        allowed,
        roles: String::new(),
    }
}

/// The access-log entry of `who`, holding `relations`, doing `action` to `object`, something of
/// the plan `plan` that `organisation` holds (a referral, a transfer).
fn item_entry<'a>(
    organisation: &'a OrgNumber,
    plan: ResourceId,
    who: &'a Principal,
    relations: String,
    object: Object,
    action: Action,
    allowed: bool,
) -> AccessEntry<'a> {
    AccessEntry {
        organisation,
        plan: Some(plan),
        complaint: None,
        who,
        relations,
        object: object.as_str(),
        action: action.as_str(),
        allowed,
        roles: String::new(),
    }
}

/// The access-log entry of `who` doing `action` to an application for a child coordinator.
fn application_entry<'a>(
    application: &'a Application,
    who: &'a Principal,
    relations: &[Relation],
    action: Action,
    allowed: bool,
) -> AccessEntry<'a> {
    AccessEntry {
        organisation: &application.municipality,
        plan: application.plan,
        complaint: None,
        who,
        relations: names(relations),
        object: Object::ChildCoordinatorApplication.as_str(),
        action: action.as_str(),
        allowed,
        roles: String::new(),
    }
}

/// The access-log entry of `who` doing `action` to the complaint `pass` is for.
fn complaint_entry<'a>(
    pass: &'a ComplaintPass,
    who: &'a Principal,
    action: Action,
    allowed: bool,
) -> AccessEntry<'a> {
    AccessEntry {
        organisation: &pass.complaint.organisation,
        plan: None,
        complaint: Some(pass.complaint.id),
        who,
        relations: names(&pass.relations),
        object: Object::Complaint.as_str(),
        action: action.as_str(),
        allowed,
        roles: String::new(),
    }
}

fn plan_relations(row: &PlanAccessRow) -> Vec<Relation> {
    held(&[
        (row.owner, Relation::Owner),
        (row.member, Relation::Member),
        (row.coordinator, Relation::Coordinator),
        (row.representative, Relation::Representative),
        (row.attorney, Relation::Attorney),
    ])
}

fn complaint_pass(row: ComplaintAccessRow) -> ComplaintPass {
    ComplaintPass {
        relations: held(&[
            (row.complainant, Relation::Complainant),
            (row.patient, Relation::ComplaintPatient),
        ]),
        complaint: row.complaint,
    }
}
