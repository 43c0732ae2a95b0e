//! The casbin policy: what each relation and organisation role may do. The model and policy
//! files are embedded, so the binary runs anywhere, and may be replaced from a folder at start.
//! Role grants from the database become the model's `g` lines; every grant or revoke bumps an
//! epoch in the database, and a node that sees a newer epoch rebuilds its enforcer and swaps it in,
//! so readers never wait on a lock held across an await.
//!
//! Each enforcer comes with its decisions table (`Decisions`): casbin answers a question once,
//! and the answer is kept with the enforcer that gave it, so a new policy or a new grant epoch,
//! which brings a new enforcer, starts a new table. casbin stays the source of truth; the table
//! only spares evaluating its matcher again for a question already asked.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use casbin::{CoreApi, DefaultModel, Enforcer, MgmtApi, StringAdapter};

use crate::domain::Error;
use crate::domain::member::{MemberRole, RepresentativeBasis};
use crate::domain::organisation::{OrgRole, RoleGrant};
pub use crate::domain::relation::Relation;
use crate::domain::stored_enum;

stored_enum! {
    /// What a policy line is about.
    Object {
        Plan = "plan",
        PatientSections = "patient_sections",
        Contacts = "contacts",
        Consent = "consent",
        ConsentOnBehalf = "consent_on_behalf",
        Goal = "goal",
        GoalWords = "goal_words",
        Measure = "measure",
        MeasureProgress = "measure_progress",
        Member = "member",
        NextOfKin = "next_of_kin",
        RepresentativePowerOfAttorney = "representative_power_of_attorney",
        RepresentativeGuardian = "representative_guardian",
        RepresentativeParent = "representative_parent",
        CoordinatorWish = "coordinator_wish",
        Coordinator = "coordinator",
        Meeting = "meeting",
        Referral = "referral",
        SentReferral = "sent_referral",
        RoleGrant = "role_grant",
        Complaint = "complaint",
        Organisation = "organisation",
        AccessLog = "access_log",
        Language = "language",
        Block = "block",
        BlockNotice = "block_notice",
        AccessScope = "access_scope",
        ChildCoordinatorApplication = "child_coordinator_application",
        PlanTransfer = "plan_transfer",
        IncomingPlanTransfer = "incoming_plan_transfer",
    }
}

stored_enum! {
    /// What a policy line allows.
    Action {
        Create = "create",
        Read = "read",
        ReadIdentity = "read_identity",
        Add = "add",
        Remove = "remove",
        Grant = "grant",
        Revoke = "revoke",
        File = "file",
        Review = "review",
        Reconsider = "reconsider",
        Forward = "forward",
        Decide = "decide",
        Withdraw = "withdraw",
        Update = "update",
        Delete = "delete",
        Activate = "activate",
        Close = "close",
        Decline = "decline",
        Reopen = "reopen",
        Sign = "sign",
        Record = "record",
        Adjust = "adjust",
        Appoint = "appoint",
        Barred = "barred",
        Accept = "accept",
        Return = "return",
        Cancel = "cancel",
    }
}

impl Action {
    /// Whether the action only reads: `read` and `read_identity`.
    pub fn is_read(self) -> bool {
        matches!(self, Action::Read | Action::ReadIdentity)
    }
}

impl Object {
    /// The object that decides who may add or end a membership in `role`, on `basis` for a
    /// representative: each kind of relation has writers of its own.
    pub fn of_membership(role: MemberRole, basis: Option<RepresentativeBasis>) -> Object {
        match (role, basis) {
            (MemberRole::Representative, Some(RepresentativeBasis::Guardian)) => {
                Object::RepresentativeGuardian
            }
            (MemberRole::Representative, Some(RepresentativeBasis::Parent)) => {
                Object::RepresentativeParent
            }
            (MemberRole::Representative, _) => Object::RepresentativePowerOfAttorney,
            (MemberRole::NextOfKin, _) => Object::NextOfKin,
            _ => Object::Member,
        }
    }
}

/// The texts of the casbin model and policy.
#[derive(Clone, Debug)]
pub struct Policy {
    model: String,
    policy: String,
}

impl Policy {
    /// The policy shipped in `policies/`, compiled into the binary.
    pub fn embedded() -> Self {
        Policy {
            model: include_str!("../../policies/model.conf").into(),
            policy: include_str!("../../policies/policy.csv").into(),
        }
    }

    /// `model.conf` and `policy.csv` from a folder, for operators who change who may do what.
    pub fn from_dir(dir: &Path) -> Result<Self, Error> {
        let read = |name: &str| {
            std::fs::read_to_string(dir.join(name))
                .map_err(|e| Error::internal(format!("reading {}: {e}", dir.join(name).display())))
        };
        Ok(Policy { model: read("model.conf")?, policy: read("policy.csv")? })
    }
}

struct Snapshot {
    enforcer: Enforcer,
    epoch: i64,
    decisions: Decisions,
}

/// The most decisions one table keeps; past it, the table starts again. Relations times
/// objects times actions is a few hundred; each subject with role grants adds its own.
const MAX_DECISIONS: usize = 100_000;

/// One subject's decisions, by organisation (domain), then object and action.
type ByOrganisation = HashMap<String, HashMap<(Object, Action), bool>>;

/// casbin's answers so far, by subject, then organisation (domain), then object and action:
/// looked up without allocating, since the keys borrow as `&str`.
#[derive(Default)]
struct Decisions {
    by_subject: RwLock<HashMap<String, ByOrganisation>>,
    held: std::sync::atomic::AtomicUsize,
}

impl Snapshot {
    fn new(enforcer: Enforcer, epoch: i64) -> Self {
        Snapshot { enforcer, epoch, decisions: Decisions::default() }
    }

    /// Whether `subject` in `organisation` may do `action` to `object`: from the table, or
    /// from casbin, whose answer the table then keeps.
    fn decide(
        &self,
        subject: &str,
        organisation: &str,
        object: Object,
        action: Action,
    ) -> Result<bool, Error> {
        let known = {
            let table = self.decisions.by_subject.read().unwrap_or_else(|p| p.into_inner());
            table
                .get(subject)
                .and_then(|o| o.get(organisation))
                .and_then(|d| d.get(&(object, action)))
                .copied()
        };
        if let Some(allowed) = known {
            return Ok(allowed);
        }
        let allowed = self
            .enforcer
            .enforce((subject, organisation, object.as_str(), action.as_str()))
            .map_err(Error::internal)?;
        let mut table = self.decisions.by_subject.write().unwrap_or_else(|p| p.into_inner());
        use std::sync::atomic::Ordering::Relaxed;
        if self.decisions.held.load(Relaxed) >= MAX_DECISIONS {
            table.clear();
            self.decisions.held.store(0, Relaxed);
        }
        let decided = table
            .entry(subject.to_owned())
            .or_default()
            .entry(organisation.to_owned())
            .or_default()
            .insert((object, action), allowed);
        if decided.is_none() {
            self.decisions.held.fetch_add(1, Relaxed);
        }
        Ok(allowed)
    }
}

/// Answers "may this relation or subject do that here?" from the policy and the role grants.
pub struct Authorizer {
    policy: Policy,
    current: RwLock<Arc<Snapshot>>,
}

/// Epoch of an enforcer that holds no grants yet: older than any the database has.
const NO_GRANTS: i64 = -1;

impl Authorizer {
    /// Builds the enforcer from the policy, failing at start on a malformed model or policy.
    pub async fn new(policy: Policy) -> Result<Self, Error> {
        let enforcer = build(&policy, &[]).await?;
        Ok(Authorizer {
            policy,
            current: RwLock::new(Arc::new(Snapshot::new(enforcer, NO_GRANTS))),
        })
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether the grants held are older than `epoch`.
    pub fn is_stale(&self, epoch: i64) -> bool {
        self.snapshot().epoch < epoch
    }

    /// Rebuilds the enforcer with `grants` as of `epoch` and swaps it in, unless a newer one
    /// was installed meanwhile.
    pub async fn install(&self, epoch: i64, grants: &[RoleGrant]) -> Result<(), Error> {
        let enforcer = build(&self.policy, grants).await?;
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        if current.epoch < epoch {
            *current = Arc::new(Snapshot::new(enforcer, epoch));
            tracing::info!(epoch, grants = grants.len(), "policy reloaded");
        }
        Ok(())
    }

    /// The organisation roles `subject` holds in `organisation`, as the grants installed say.
    pub fn roles_in(&self, subject: &str, organisation: &str) -> Vec<String> {
        use casbin::RbacApi;
        let mut roles = self.snapshot().enforcer.get_roles_for_user(subject, Some(organisation));
        roles.sort();
        roles
    }

    /// Whether any of `subjects` may do `action` to `object`. Each subject comes with the
    /// organisation (casbin domain) it is asked about: a relation name counts anywhere, the
    /// caller's own subject reaches only the roles granted in that organisation.
    pub fn allows<'a>(
        &self,
        subjects: impl IntoIterator<Item = (&'a str, &'a str)>,
        object: Object,
        action: Action,
    ) -> Result<bool, Error> {
        let snapshot = self.snapshot();
        for (subject, organisation) in subjects {
            if snapshot.decide(subject, organisation, object, action)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The relations and organisation roles that, held, allow `action` on `object`: what a list
    /// filters on in SQL instead of checking row by row.
    pub fn granting(
        &self,
        object: Object,
        action: Action,
    ) -> Result<(Vec<Relation>, Vec<OrgRole>), Error> {
        let mut relations = Vec::new();
        for &r in Relation::ALL {
            if self.allows([(r.as_str(), "")], object, action)? {
                relations.push(r);
            }
        }
        let mut roles = Vec::new();
        for &r in OrgRole::ALL {
            if self.allows([(r.as_str(), "")], object, action)? {
                roles.push(r);
            }
        }
        Ok((relations, roles))
    }
}

async fn build(policy: &Policy, grants: &[RoleGrant]) -> Result<Enforcer, Error> {
    let model = DefaultModel::from_str(&policy.model)
        .await
        .map_err(|e| Error::internal(format!("casbin model: {e}")))?;
    let mut enforcer = Enforcer::new(model, StringAdapter::new(&policy.policy))
        .await
        .map_err(|e| Error::internal(format!("casbin policy: {e}")))?;
    // The string adapter cannot save; grants live in the database, not in the policy file.
    enforcer.enable_auto_save(false);
    if !grants.is_empty() {
        let lines = grants
            .iter()
            .map(|g| {
                vec![
                    g.subject.as_stored().to_owned(),
                    g.role.as_str().to_owned(),
                    g.organisation.as_str().to_owned(),
                ]
            })
            .collect();
        enforcer
            .add_grouping_policies(lines)
            .await
            .map_err(|e| Error::internal(format!("casbin grants: {e}")))?;
    }
    Ok(enforcer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn embedded_policy_loads_and_answers() {
        let authz = Authorizer::new(Policy::embedded()).await.unwrap();
        assert!(authz.allows([("owner", "")], Object::Plan, Action::Read).unwrap());
        assert!(!authz.allows([("member", "")], Object::Plan, Action::ReadIdentity).unwrap());
        let (relations, roles) = authz.granting(Object::Plan, Action::Read).unwrap();
        assert_eq!(
            relations,
            vec![
                Relation::Owner,
                Relation::Member,
                Relation::Representative,
                Relation::Coordinator
            ]
        );
        assert_eq!(roles, vec![OrgRole::UnitStaff]);
    }

    /// The decisions table answers as casbin does, asked once or twice, and a grant (a new
    /// epoch, a new enforcer) is seen at once.
    #[tokio::test]
    async fn the_decisions_table_answers_as_casbin_and_follows_grants() {
        let authz = Authorizer::new(Policy::embedded()).await.unwrap();
        let casbin = build(&Policy::embedded(), &[]).await.unwrap();
        for _ in 0..2 {
            for &relation in Relation::ALL {
                for &object in Object::ALL {
                    for &action in Action::ALL {
                        let expected = casbin
                            .enforce((relation.as_str(), "", object.as_str(), action.as_str()))
                            .unwrap();
                        let got = authz.allows([(relation.as_str(), "")], object, action).unwrap();
                        assert_eq!(got, expected, "{relation:?} {object:?} {action:?}");
                    }
                }
            }
        }
        let staff = crate::domain::subject::Subject::parse("s", "personnel:staff").unwrap();
        let org = crate::domain::ids::OrgNumber::parse("o", "910000004").unwrap();
        let asked = [(staff.as_stored(), org.as_str())];
        assert!(!authz.allows(asked, Object::Plan, Action::Create).unwrap());
        let grant = RoleGrant {
            id: crate::domain::ids::ResourceId::generate(),
            organisation: org.clone(),
            subject: staff.clone(),
            role: OrgRole::UnitStaff,
            create_time: crate::domain::time::Instant::now(),
            granted_by: staff.clone(),
        };
        authz.install(1, &[grant]).await.unwrap();
        assert!(authz.allows(asked, Object::Plan, Action::Create).unwrap());
        authz.install(2, &[]).await.unwrap();
        assert!(!authz.allows(asked, Object::Plan, Action::Create).unwrap());
    }
}
