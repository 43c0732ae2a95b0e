//! Every change to a plan goes through `edit_plan`: it takes the plan's next history revision
//! (which also locks the plan's row, so concurrent changes number their revisions in order),
//! runs the change, and writes the revision with the versions of the items the change left
//! different (`snapshot.rs`), and the change feed's event (`store::changes`).

use crate::auth::{Action, Object, PlanPass};
use crate::domain::Result;
use crate::domain::ids::ResourceId;
use crate::domain::principal::Principal;
use crate::domain::scope::Within;
use crate::domain::time::Instant;
use crate::snapshot;
use crate::store::{NewRevision, Session};

pub use crate::store::ChangeKind;

/// Runs `change` on the plan `pass` is for, inside the caller's write session, and records it
/// in the plan's history as one revision. `change` gets the revision it makes (a signature
/// names it) and returns its value and what it changed, one line each, in words the history
/// shows. Returns the value and the pass with the plan as the change left it.
pub async fn edit_plan<T>(
    session: &mut Session,
    pass: &PlanPass,
    who: &Principal,
    kind: ChangeKind,
    now: Instant,
    change: impl AsyncFnOnce(&mut Session, i64) -> Result<(T, Vec<String>)>,
) -> Result<(T, PlanPass)> {
    let revision = session.next_revision(pass, kind, now).await?;
    let (value, changes) = change(session, revision).await?;
    let relations = pass.relation_names();
    let record = NewRevision {
        author: who.subject.as_stored(),
        author_relations: &relations,
        changes: &changes,
        kind,
    };
    let (plan, etags) = snapshot::record_items(session, pass, revision).await?;
    session.insert_revision(pass, &record, revision, now).await?;
    // The change feed's event, in the same transaction: it commits with the change or not at
    // all.
    session.insert_change(pass, revision, &etags, now).await?;
    Ok((value, pass.clone().updated(plan)?))
}

impl super::Context {
    /// The common course of adding an item to a plan (a goal, a measure): the guard must let
    /// the caller do `action` to `object` of the plan, the plan must be open, and `insert` adds
    /// the item as one change of the plan's content, returning it and the history's line.
    pub(crate) async fn add_item<I: Within>(
        &self,
        who: &Principal,
        plan: ResourceId,
        (object, action): (Object, Action),
        insert: impl AsyncFnOnce(&mut Session, &PlanPass, Instant) -> Result<(I, String)> + Clone,
    ) -> Result<super::Shown<I>> {
        self.write(async |s, now| {
            let pass = self.guard.plan(s, who, plan, object, action, now).await?;
            pass.plan().check_open()?;
            let (item, _) = edit_plan(s, &pass, who, ChangeKind::Content, now, async |s, _| {
                let (item, line) = insert(s, &pass, now).await?;
                Ok((item, vec![line]))
            })
            .await?;
            super::Shown::by(&pass, item)
        })
        .await
    }

    /// The common course of a change to one item of a plan (a goal, a measure), once the item
    /// is loaded under `pass`: the policy must allow `wants` and the plan must be open; then
    /// `change` acts on it (returning whether it stays, and the history's line), the item must
    /// still have been at the etag the caller read, the revision is recorded, and the item is
    /// read back with `reload` when it stays.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn edit_item<I: Within>(
        &self,
        session: &mut Session,
        pass: PlanPass,
        who: &Principal,
        at: super::ItemRef,
        wants: &super::Wants,
        (item, revision, what): (I, i64, &str),
        change: impl AsyncFnOnce(&mut Session, &PlanPass, I) -> Result<(bool, String)> + Clone,
        reload: impl AsyncFnOnce(&mut Session, &PlanPass) -> Result<I> + Clone,
    ) -> Result<Option<super::Shown<I>>> {
        let now = Instant::now();
        for &(object, action) in wants {
            self.guard.require(session, &pass, who, object, action, now).await?;
        }
        pass.plan().check_open()?;
        let (kept, _) = edit_plan(session, &pass, who, ChangeKind::Content, now, async |s, _| {
            // What the caller sent is judged first; a stale etag is told after (the
            // transaction then rolls back whatever the change wrote), as for a plan's fields.
            let (kept, line) = change(s, &pass, item).await?;
            at.check(revision, what)?;
            Ok((kept, vec![line]))
        })
        .await?;
        if !kept {
            return Ok(None);
        }
        let item = reload(session, &pass).await?;
        Ok(Some(super::Shown::by(&pass, item)?))
    }
}
