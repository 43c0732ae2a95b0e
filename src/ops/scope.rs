//! Access scopes (`domain::scope`): CreateAccessScope, ListAccessScopes, DeleteAccessScope. The
//! patient and their representatives decide what a member, or an organisation's members, see
//! of the plan and for how long; the guard narrows the pass (`auth::guard`) and `Shown::by`
//! narrows every answer to it.

use super::{ChangeKind, Context, Shown, edit_plan};
use crate::auth::{Action, Object};
use crate::domain::ids::ResourceId;
use crate::domain::member::MemberRole;
use crate::domain::principal::Principal;
use crate::domain::scope::{AccessScope, NewAccessScope, ScopeTarget};
use crate::domain::{Error, Result};

impl Context {
    /// CreateAccessScope: narrows what `new`'s target sees of the plan from the next call on.
    /// Refuses those who run the plan (the coordinator, a representative, the responsible
    /// organisation), a membership that has ended, and a target that has a scope already.
    pub async fn create_access_scope(
        &self,
        who: &Principal,
        plan: ResourceId,
        new: NewAccessScope,
    ) -> Result<Shown<AccessScope>> {
        let wants = [(Object::AccessScope, Action::Create)];
        self.write(async |s, now| {
            let pass = self.plan_pass(s, who, plan, &wants, now).await?;
            let (subject, organisation) = match &new.target {
                ScopeTarget::Member(id) => {
                    let member = s.member(&pass, *id).await?;
                    if member.end_time.is_some_and(|end| end <= now) {
                        return Err(Error::FailedPrecondition(
                            "the membership has ended: there is no access to scope".into(),
                        ));
                    }
                    // A representative runs the plan with the patient while their powers last
                    // (a parent's end when the child turns 16); after that, they are a member.
                    let powers = member.powers_end_time.is_none_or(|end| end > now);
                    let representing = member.role == MemberRole::Representative && powers;
                    if member.role == MemberRole::Coordinator || representing {
                        return Err(Error::FailedPrecondition(format!(
                            "the {} runs the plan with the patient and sees it whole: end the \
                             role first, or block them",
                            member.role.as_str()
                        )));
                    }
                    // The person's scope, whatever organisation they serve for.
                    (member.subject.as_stored().to_owned(), String::new())
                }
                ScopeTarget::Organisation(o) if *o == pass.plan().organisation => {
                    return Err(Error::invalid(
                        "access_scope.organisation",
                        "is the plan's responsible organisation, which runs the plan: scope the \
                         members serving for it",
                    ));
                }
                ScopeTarget::Organisation(o) if s.organisation(o).await?.is_none() => {
                    return Err(Error::invalid(
                        "access_scope.organisation",
                        "must be an organisation of the registry",
                    ));
                }
                ScopeTarget::Organisation(o) => (String::new(), o.as_str().to_owned()),
            };
            let expire_time = match new.expire_time {
                Some(at) => Some(NewAccessScope::expiry("access_scope.expire_time", at, now)?),
                None => None,
            };
            let scope = AccessScope {
                id: ResourceId::generate(),
                plan: pass.id(),
                target: new.target.clone(),
                parts: new.parts,
                expire_time,
                created_by: who.subject.as_stored().to_owned(),
                create_time: now,
            };
            let (_, pass) = edit_plan(s, &pass, who, ChangeKind::Record, now, async |s, _| {
                s.insert_scope(&pass, &scope, &subject, &organisation).await?;
                Ok(((), vec!["access scoped at the patient's request".to_owned()]))
            })
            .await?;
            Shown::by(&pass, scope)
        })
        .await
    }

    /// ListAccessScopes: the plan's scopes, lapsed ones too.
    pub async fn list_access_scopes(
        &self,
        who: &Principal,
        plan: ResourceId,
    ) -> Result<Shown<Vec<AccessScope>>> {
        self.read_plan(who, plan, (Object::AccessScope, Action::Read), async |s, pass| {
            s.list_scopes(pass).await
        })
        .await
    }

    /// DeleteAccessScope: its target regains what their membership gives.
    pub async fn delete_access_scope(
        &self,
        who: &Principal,
        plan: ResourceId,
        scope: ResourceId,
    ) -> Result<()> {
        let wants = [(Object::AccessScope, Action::Delete)];
        self.write(async |s, now| {
            let pass = self.plan_pass(s, who, plan, &wants, now).await?;
            let scope = s.scope(&pass, scope).await?;
            edit_plan(s, &pass, who, ChangeKind::Record, now, async |s, _| {
                s.delete_scope(&pass, &scope).await?;
                Ok(((), vec!["an access scope deleted".to_owned()]))
            })
            .await?;
            Ok(())
        })
        .await
    }
}
