//! The change feed (ListPlanChanges, WatchPlanChanges): the events of the plans the caller may
//! read *when each is delivered*, and the steps of the complaints they may read (their own, or
//! those about them). The store's SQL keeps to the plans the policy lets the caller
//! read now; each plan in a page then goes through the guard like any read (which logs it, so
//! the patient sees who follows their plan), and each event is narrowed to the caller's sight.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use super::Context;
use crate::auth::{Action, Object, PlanPass};
use crate::domain::change::{PlanChange, Position};
use crate::domain::ids::ResourceId;
use crate::domain::principal::Principal;
use crate::domain::scope::Within;
use crate::domain::{Error, Result};
use crate::store::Following;

/// Where a client follows the feed from, and how much it takes at once.
#[derive(Clone, Copy, Debug)]
pub struct FollowChanges {
    /// The position of the last event it processed; `None` for the oldest kept.
    pub after: Option<Position>,
    /// Only this plan's events.
    pub plan: Option<ResourceId>,
    /// The most events one page holds.
    pub page_size: u32,
    /// Ask the guard about `plan` before reading, even when no event comes: what a call does
    /// (ListPlanChanges, a stream's start). A stream's later polls ask only when an event of the
    /// plan comes, so that an idle stream does not fill the patient's access log.
    pub check_plan_now: bool,
}

/// One page of the feed.
#[derive(Debug)]
pub struct ChangesPage {
    /// The events, oldest first, as the caller may see them.
    pub changes: Vec<PlanChange>,
    /// Where the next page starts: past these, and past any event this read passed over.
    pub next: Position,
}

impl Context {
    /// ListPlanChanges, and each poll of WatchPlanChanges. `FAILED_PRECONDITION` for a
    /// position retention has pruned, `INVALID_ARGUMENT` for one past the feed's end;
    /// following one plan, `NOT_FOUND` once the caller may not read it (at the latest with its
    /// next event). Each plan whose events a page delivers is
    /// asked of the guard, and logged, once per page.
    pub async fn list_plan_changes(
        &self,
        who: &Principal,
        follow: FollowChanges,
    ) -> Result<ChangesPage> {
        self.read(async |s, now| {
            let mut passes: HashMap<ResourceId, Option<PlanPass>> = HashMap::new();
            let filter;
            let following = match follow.plan {
                Some(plan) => {
                    if follow.check_plan_now {
                        let pass = self.guard.plan(s, who, plan, Object::Plan, Action::Read, now);
                        passes.insert(plan, Some(pass.await?));
                    }
                    Following::Plan(plan)
                }
                None => {
                    filter = self.guard.read_filter(s, Object::Plan).await?;
                    Following::Readable(&filter)
                }
            };
            let limit = i64::from(follow.page_size);
            let (read, next) = s.list_changes(following, who, follow.after, limit, now).await?;
            let mut complaints: HashMap<ResourceId, bool> = HashMap::new();
            let mut changes = Vec::with_capacity(read.len());
            for change in read {
                let Some(plan) = change.plan else {
                    // A complaint's step: for those the complaint lets read it, whole.
                    let Some(complaint) = change.complaint() else { continue };
                    if let Entry::Vacant(slot) = complaints.entry(complaint) {
                        let pass = self.guard.complaint(s, who, complaint, Action::Read, now);
                        slot.insert(match pass.await {
                            Ok(_) => true,
                            Err(Error::NotFound(_)) => false,
                            Err(e) => return Err(e),
                        });
                    }
                    if complaints[&complaint] {
                        changes.push(change);
                    }
                    continue;
                };
                if let Entry::Vacant(slot) = passes.entry(plan) {
                    let pass = self.guard.plan(s, who, plan, Object::Plan, Action::Read, now);
                    slot.insert(match pass.await {
                        Ok(pass) => Some(pass),
                        // Access ended between the SQL and the guard: the plan's events stop.
                        Err(Error::NotFound(_)) if follow.plan.is_none() => None,
                        Err(e) => return Err(e),
                    });
                }
                if let Some(Some(pass)) = passes.get(&plan)
                    && let Some(shown) = change.within(pass.sight())
                {
                    changes.push(shown);
                }
            }
            Ok(ChangesPage { changes, next })
        })
        .await
    }
}
