//! The responsibility group (ansvarsgruppe): who serves on a plan, and the plans a caller
//! serves on.

use super::{ChangeKind, Context, Listed, Shown, edit_plan};
use crate::auth::{Action, Object};
use crate::domain::date::Date;
use crate::domain::ids::ResourceId;
use crate::domain::member::{Member, MemberRole, NewMember};
use crate::domain::names::plan_item;
use crate::domain::page::Page;
use crate::domain::plan::{Plan, PlanStatus};
use crate::domain::principal::Principal;
use crate::domain::relation::Relation;
use crate::domain::scope::{Sight, Within};
use crate::domain::subject::Subject;
use crate::domain::time::Instant;
use crate::domain::{Error, Result};
use crate::store::{PlanListFilter, ReadFilter};

/// How a membership reads in the plan's history: its name, role and basis.
pub(crate) fn described(member: &Member) -> String {
    let name = plan_item(member.plan, "members", member.id);
    match member.basis {
        Some(basis) => format!("{name} ({}, {})", member.role.as_str(), basis.as_str()),
        None => format!("{name} ({})", member.role.as_str()),
    }
}

/// A plan the caller serves on, with their membership of it.
#[derive(Debug)]
pub struct MyPlan {
    /// The plan.
    pub plan: Plan,
    /// The caller's membership, when they serve as a member (not only as the patient).
    pub membership: Option<Member>,
}

/// The plan as the caller's sight allows, with their own membership, which they always see.
impl Within for MyPlan {
    const WHAT: &'static str = "plan";

    fn within(self, sight: &Sight) -> Option<Self> {
        let membership = self.membership.map(|mut m| {
            if !sight.shows_author(m.added_by.as_stored()) {
                m.added_by = Subject::from_stored(String::new());
            }
            m
        });
        Some(MyPlan { plan: self.plan.within(sight)?, membership })
    }
}

impl Context {
    /// AddMember: each kind of relation by its own writers (the policy's object for the role
    /// and basis); never oneself, never the patient, never on a closed plan.
    pub async fn add_member(
        &self,
        who: &Principal,
        plan: ResourceId,
        new: NewMember,
    ) -> Result<Shown<Member>> {
        let object = Object::of_membership(new.role, new.basis);
        let now = Instant::now();
        new.check_not_backdated(now)?;
        self.store
            .write_with(async |s| {
                let mut new = new.clone();
                let pass = self.guard.plan(s, who, plan, object, Action::Add, now).await?;
                who.refuse_own(&new.subject, "adds a member")?;
                if let Some(organisation) = &new.organisation
                    && s.organisation(organisation).await?.is_none()
                {
                    return Err(Error::invalid(
                        "member.organisation",
                        "must be an organisation of the registry",
                    ));
                }
                if new.subject == Subject::citizen(&pass.plan().patient) {
                    return Err(Error::invalid(
                        "member.subject",
                        "is the plan's patient, who owns the plan and never serves as its member",
                    ));
                }
                if pass.plan().status == PlanStatus::Closed {
                    return Err(Error::FailedPrecondition(
                        "the plan is PLAN_STATUS_CLOSED: its group takes no new members".into(),
                    ));
                }
                new.limit_parent_to_minor(&pass.plan().patient, Date::today_in_norway(now))?;
                let (member, _) =
                    edit_plan(s, &pass, who, ChangeKind::Record, now, async |s, _| {
                        let member = s.insert_member(&pass, &new, &who.subject, now).await?;
                        let line = format!("member added: {}", described(&member));
                        Ok((member, vec![line]))
                    })
                    .await?;
                Shown::by(&pass, member)
            })
            .await
    }

    /// RemoveMember: by the writers of the membership's kind, or by the member themselves; a
    /// coordinator leaves only through ReplaceCoordinator.
    pub async fn remove_member(
        &self,
        who: &Principal,
        plan: ResourceId,
        member: ResourceId,
        etag: Option<i64>,
    ) -> Result<Shown<Member>> {
        self.write(async |s, now| {
            let pass = self.plan_pass(s, who, plan, &[], now).await?;
            let current = s.member(&pass, member).await?;
            if current.role == MemberRole::Coordinator {
                return Err(Error::FailedPrecondition(
                    "a coordinator leaves the group only through CoordinatorService: \
                     ReplaceCoordinator"
                        .into(),
                ));
            }
            // Anyone may end a relation of their own; nobody may create one.
            let own = who.is(&current.subject);
            let object = Object::of_membership(current.role, current.basis);
            self.guard.require_on_relation(s, &pass, who, own, object, Action::Remove, now).await?;
            let (ended, _) = edit_plan(s, &pass, who, ChangeKind::Record, now, async |s, _| {
                let ended = s.end_member(&pass, member, etag, now).await?;
                let line = format!("member removed: {}", described(&ended));
                Ok((ended, vec![line]))
            })
            .await?;
            Shown::by(&pass, ended)
        })
        .await
    }

    /// ListMembers: the group now, or with those whose membership ended.
    pub async fn list_members(
        &self,
        who: &Principal,
        plan: ResourceId,
        show_ended: bool,
        page: Page,
    ) -> Result<Shown<Listed<Member>>> {
        let now = Instant::now();
        self.read_plan(who, plan, (Object::Member, Action::Read), async |s, pass| {
            let mut members = s.list_members(pass, show_ended, page, now).await?;
            // The coordinating unit is told whom the patient blocked, so coordination goes on
            // around them.
            if self.guard.may(pass, who, Object::BlockNotice, Action::Read)? {
                let blocks = s.list_blocks(pass, false).await?;
                for member in &mut members {
                    let (subject, org) = (member.subject.as_stored(), member.organisation.as_ref());
                    member.blocked = blocks.iter().any(|b| b.keeps_out(subject, org));
                }
            }
            Ok(Listed::page(members, page, |m| m.id))
        })
        .await
    }

    /// ListMyPlans: the plans the caller serves on, read through the member relations the
    /// policy lets read, filtered in SQL.
    pub async fn list_my_plans(
        &self,
        who: &Principal,
        page: Page,
    ) -> Result<Listed<Shown<MyPlan>>> {
        self.read(async |s, now| {
            let filter = self.guard.read_filter(s, Object::Plan).await?;
            let serving = ReadFilter {
                relations: filter
                    .relations
                    .into_iter()
                    .filter(|r| {
                        matches!(
                            r,
                            Relation::Member | Relation::Coordinator | Relation::Representative
                        )
                    })
                    .collect(),
                org_roles: Vec::new(),
            };
            let mut rows =
                s.list_plans(&serving, &PlanListFilter::default(), who, page, now).await?;
            let next_page_token = page.next_token(&mut rows, |r| r.plan.id);
            let passes = self.guard.listed_plans(s, who, rows, now).await?;
            let mut items = Vec::new();
            for pass in passes {
                let membership = s.my_membership(&pass, who, now).await?;
                let plan = pass.plan().clone();
                items.push(Shown::by(&pass, MyPlan { plan, membership })?);
            }
            Ok(Listed { items, next_page_token })
        })
        .await
    }
}
