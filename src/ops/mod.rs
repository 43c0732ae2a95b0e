//! The use cases: one function per RPC, each taking a command the wire adapter has validated
//! and returning domain values. Every one runs in one session (`Store::read_with` or
//! `write_with`), asks the guard first, and reaches the store only through the pass the guard
//! hands out. Nothing here knows gRPC or SQL.

pub mod access_event;
pub mod block;
pub mod changes;
pub mod child_coordinator;
pub mod complaint;
pub mod coordinator;
mod edit;
mod export;
pub mod goal;
pub mod measure;
pub mod meeting;
pub mod member;
pub mod organisation;
pub mod plan;
pub mod referral;
pub mod scope;
pub mod transfer;

pub use edit::{ChangeKind, edit_plan};

use crate::auth::{Action, Guard, Object, PlanPass};
use crate::domain::ids::ResourceId;
use crate::domain::page::Page;
use crate::domain::principal::Principal;
use crate::domain::scope::{Sight, Within};
use crate::domain::time::Instant;
use crate::domain::{Error, Result};
use crate::store::{Session, Store};

/// What every use case needs: the store and the guard in front of it.
#[derive(Clone)]
pub struct Context {
    /// The database.
    pub store: Store,
    /// The access path.
    pub guard: Guard,
}

/// A value read through a plan's pass, with whether its reader may see identity numbers in it
/// (the patient's, citizen members', citizen authors').
#[derive(Debug)]
pub struct Shown<T> {
    /// The value.
    pub value: T,
    /// Whether identity numbers in it may be shown to the reader.
    pub identities: bool,
}

impl<T: Within> Shown<T> {
    /// `value`, shown as `pass` allows: narrowed to the reader's sight (`domain::scope`), with
    /// identity numbers only if they may see them. `NOT_FOUND` when the reader may not see the
    /// value at all. Every value a use case answers with about a plan comes through here.
    pub fn by(pass: &PlanPass, value: T) -> Result<Self> {
        let value = value.within(pass.sight()).ok_or(Error::NotFound(T::WHAT))?;
        Ok(Shown { value, identities: pass.identities() })
    }

    /// Each of `values` the reader sees, shown as `pass` allows; the others are absent.
    pub fn all_by(pass: &PlanPass, values: impl IntoIterator<Item = T>) -> Vec<Self> {
        let sight = pass.sight();
        let seen = values.into_iter().filter_map(|v| v.within(sight));
        seen.map(|value| Shown { value, identities: pass.identities() }).collect()
    }
}

/// A page shows the items the reader sees; its token still continues after the last item read,
/// so a page may hold fewer items than asked for (AIP-158).
impl<T: Within> Within for Listed<T> {
    const WHAT: &'static str = T::WHAT;

    fn within(self, sight: &Sight) -> Option<Self> {
        Some(Listed { items: self.items.within(sight)?, next_page_token: self.next_page_token })
    }
}

/// One page of a list, and the token of the next (empty on the last).
#[derive(Debug)]
pub struct Listed<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// The token that continues the list.
    pub next_page_token: String,
}

impl<T> Listed<T> {
    /// The page of `items`, which the store read with one item more than `page` holds when
    /// there are more; `id` names each item in the next page's token.
    pub fn page(mut items: Vec<T>, page: Page, id: impl Fn(&T) -> ResourceId) -> Self {
        let next_page_token = page.next_token(&mut items, id);
        Listed { items, next_page_token }
    }
}

/// An item of a plan a request names (a goal, a measure, a meeting), and the etag the caller
/// read of it.
#[derive(Debug, Clone, Copy)]
pub struct ItemRef {
    /// The plan.
    pub plan: ResourceId,
    /// The item.
    pub item: ResourceId,
    /// Its etag as read.
    pub etag: i64,
}

impl ItemRef {
    /// Checks that `revision`, an item's as loaded, is still the one the caller read of it;
    /// `ABORTED` names `what` otherwise (AIP-154).
    pub fn check(&self, revision: i64, what: &str) -> Result<()> {
        if revision == self.etag {
            Ok(())
        } else {
            Err(Error::Aborted(format!("the {what} changed since it was read: read it again")))
        }
    }
}

/// What a change to a plan asks of the policy: each pair is asked and logged on its own, after
/// the caller was found to read the plan.
pub type Wants = [(Object, Action)];

impl Context {
    /// The pass to `plan` for a caller who must read it and also hold each of `wants`.
    pub(crate) async fn plan_pass(
        &self,
        session: &mut Session,
        who: &Principal,
        plan: ResourceId,
        wants: &Wants,
        now: Instant,
    ) -> Result<PlanPass> {
        let pass = self.guard.plan(session, who, plan, Object::Plan, Action::Read, now).await?;
        for &(object, action) in wants {
            self.guard.require(session, &pass, who, object, action, now).await?;
        }
        Ok(pass)
    }

    /// Runs `work` in one write transaction (`Store::write_with`), with the request's time.
    pub(crate) async fn write<T>(
        &self,
        work: impl AsyncFnOnce(&mut Session, Instant) -> Result<T> + Clone,
    ) -> Result<T> {
        let now = Instant::now();
        self.store.write_with(async |s| work(s, now).await).await
    }

    /// Runs `work` in a read session (`Store::read_with`), with the request's time.
    pub(crate) async fn read<T>(
        &self,
        work: impl AsyncFnOnce(&mut Session, Instant) -> Result<T>,
    ) -> Result<T> {
        let now = Instant::now();
        self.store.read_with(async |s| work(s, now).await).await
    }

    /// Runs `read` in a read session, with the pass of a caller the guard lets do `action` to
    /// `object` of `plan`; what it reads is shown as the pass allows.
    pub(crate) async fn read_plan<T: Within>(
        &self,
        who: &Principal,
        plan: ResourceId,
        (object, action): (Object, Action),
        read: impl AsyncFnOnce(&mut Session, &PlanPass) -> Result<T>,
    ) -> Result<Shown<T>> {
        let now = Instant::now();
        self.store
            .read_with(async |s| {
                let pass = self.guard.plan(s, who, plan, object, action, now).await?;
                let value = read(s, &pass).await?;
                Shown::by(&pass, value)
            })
            .await
    }
}

/// Reading a plan and all in it.
pub(crate) const READ: (Object, Action) = (Object::Plan, Action::Read);

/// The pairs of `wants` once each, in order.
pub(crate) fn distinct(wants: impl IntoIterator<Item = (Object, Action)>) -> Vec<(Object, Action)> {
    let mut all: Vec<(Object, Action)> = Vec::new();
    for want in wants {
        if !all.contains(&want) {
            all.push(want);
        }
    }
    all
}
