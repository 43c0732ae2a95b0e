//! Every change to a plan goes through `edit_plan`: it takes the plan's next history revision
//! (which also locks the plan's row, so concurrent changes number their revisions in order),
//! runs the change, and writes the revision with the versions of the items the change left
//! different (`snapshot.rs`).

use crate::auth::PlanPass;
use crate::domain::Error;
use crate::domain::principal::Principal;
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
    change: impl AsyncFnOnce(&mut Session, i64) -> Result<(T, Vec<String>), Error>,
) -> Result<(T, PlanPass), Error> {
    let revision = session.next_revision(pass, kind, now).await?;
    let (value, changes) = change(session, revision).await?;
    let relations = pass.relation_names();
    let record = NewRevision {
        author: who.subject.as_stored(),
        author_relations: &relations,
        changes: &changes,
        kind,
    };
    snapshot::record_items(session, pass, revision).await?;
    session.insert_revision(pass, &record, revision, now).await?;
    let plan = session.reload_plan(pass).await?;
    Ok((value, pass.clone().updated(plan)?))
}
