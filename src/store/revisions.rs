//! The plan's history: one row per revision, with who made it and what changed, and the
//! versions of the items each revision changed, from which any revision is rebuilt.

use sqlx::Row;

use super::{Execute, Run, Session, Statement, db, stored};
use crate::auth::PlanPass;
use crate::domain::ids::ResourceId;
use crate::domain::page::Page;
use crate::domain::scope::Within;
use crate::domain::time::Instant;
use crate::domain::{Result, stored_enum};

/// One revision of a plan's history, without its snapshot.
#[derive(Debug)]
pub struct RevisionRow {
    /// Its id, for paging.
    pub id: ResourceId,
    /// The history revision.
    pub revision: i64,
    /// Who made it (a stored subject).
    pub author: String,
    /// Their relations to the plan then.
    pub author_relations: String,
    /// What changed, one line each.
    pub changes: Vec<String>,
    /// When.
    pub time: Instant,
}

/// A revision shows with the lines of what changed that the reader's sight covers
/// (`Sight::sees_change`), and its author as the sight shows authors; one that changed nothing
/// the reader sees is absent, so that its time tells nothing either.
impl crate::domain::scope::Within for RevisionRow {
    const WHAT: &'static str = "revision";

    fn within(mut self, sight: &crate::domain::scope::Sight) -> Option<Self> {
        let changed = !self.changes.is_empty();
        self.changes.retain(|line| sight.sees_change(line));
        if changed && self.changes.is_empty() {
            return None;
        }
        if !sight.shows_author(&self.author) {
            self.author.clear();
            self.author_relations.clear();
        }
        Some(self)
    }
}

/// What a change to a plan touches: its content, which a signature covers (the patient's
/// sections, contacts, goals and measures), or only the record around it (status, consent,
/// members, meetings, coordinators), which leaves a signature standing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// The content a signature covers.
    Content,
    /// Only the record around the content.
    Record,
}

/// A change about to be written to a plan's history.
#[derive(Debug)]
pub struct NewRevision<'a> {
    /// Who made the change (a stored subject).
    pub author: &'a str,
    /// Their relations to the plan.
    pub author_relations: &'a str,
    /// What changed, one line each.
    pub changes: &'a [String],
    /// What it touches.
    pub kind: ChangeKind,
}

impl Session {
    /// Gives the plan its next history revision and returns it. The update also takes the
    /// plan's row lock, so concurrent changes to one plan number their revisions in order.
    #[tracing::instrument(skip_all)]
    pub async fn next_revision(
        &mut self,
        pass: &PlanPass,
        kind: ChangeKind,
        now: Instant,
    ) -> Result<i64> {
        sqlx::query_scalar(
            "UPDATE plans SET revision = revision + 1, update_time = $1, content_revision = \
             CASE WHEN $2 = 1 THEN revision + 1 ELSE content_revision END WHERE id = $3 \
             RETURNING revision",
        )
        .bind(now.0)
        .bind(i64::from(kind == ChangeKind::Content))
        .bind(pass.id().to_string())
        .one(self)
        .await
    }

    /// Writes a revision of the plan; what it changed is in its item versions.
    #[tracing::instrument(skip_all)]
    pub async fn insert_revision(
        &mut self,
        pass: &PlanPass,
        change: &NewRevision<'_>,
        revision: i64,
        now: Instant,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO plan_revisions (id, organisation_id, plan_id, revision, author, \
             author_relations, changes, snapshot, create_time) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(ResourceId::generate().to_string())
        .bind(pass.organisation().as_str())
        .bind(pass.id().to_string())
        .bind(revision)
        .bind(change.author)
        .bind(change.author_relations)
        .bind(change.changes.join("\n"))
        .bind(Vec::<u8>::new())
        .bind(now.0)
        .run(self)
        .await?;
        Ok(())
    }

    /// The plan's revisions the pass's sight shows (`RevisionRow::within`) after the page's
    /// position, oldest first; one more than the page. For a scoped reader it reads on past
    /// the revisions they may not see until the page is full or the history ends, so a page
    /// is never short of what follows: its length tells nothing of the hidden ones.
    #[tracing::instrument(skip_all)]
    pub async fn list_revisions(
        &mut self,
        pass: &PlanPass,
        page: Page,
    ) -> Result<Vec<RevisionRow>> {
        let wanted = usize::try_from(page.limit()).unwrap_or(usize::MAX);
        // A scoped reader's page may lie behind many hidden revisions: read on in batches of
        // `HIDDEN_BATCH`, so the statements a page takes grow with the history by a five-
        // hundredth, not by the page size.
        let mut batch = match pass.sight().is_whole() {
            true => page,
            false => Page::unscoped(page.size.max(HIDDEN_BATCH), page.after),
        };
        let batch_rows = usize::try_from(batch.limit()).unwrap_or(usize::MAX);
        let mut shown = Vec::new();
        loop {
            let read = self.revisions(pass, batch).await?;
            let last = read.last().map(|r| r.id);
            let ended = read.len() < batch_rows;
            shown.extend(read.into_iter().filter_map(|r| r.within(pass.sight())));
            match last {
                Some(id) if !ended && shown.len() < wanted => batch = batch.after_item(id),
                _ => break,
            }
        }
        shown.truncate(wanted);
        Ok(shown)
    }

    /// Whether the plan has `revision` and the pass's sight shows it.
    pub async fn revision_shown(&mut self, pass: &PlanPass, revision: i64) -> Result<bool> {
        let statement = Statement::of_plan(REVISION_COLUMNS, "plan_revisions", "", pass)
            .sql(" AND revision = ");
        let read = revision_rows(statement.bind(revision).all(self).await?)?;
        Ok(read.into_iter().any(|r| r.within(pass.sight()).is_some()))
    }

    /// The newest revision `sight` shows of the plan `pass` is for, and when it was made, read
    /// from the newest back: what a scoped reader is told of the plan's revision and update
    /// time, so that changes they may not see do not show as the plan moving.
    pub async fn newest_revision_seen(
        &mut self,
        pass: &PlanPass,
        sight: &crate::domain::scope::Sight,
    ) -> Result<Option<(i64, Instant)>> {
        const BATCH: i64 = 32;
        let mut before = i64::MAX;
        loop {
            let statement = Statement::of_plan(REVISION_COLUMNS, "plan_revisions", "", pass)
                .sql(" AND revision < ")
                .bind(before)
                .sql(" ORDER BY revision DESC LIMIT ")
                .bind(BATCH);
            let read = revision_rows(statement.all(self).await?)?;
            let Some(oldest) = read.last().map(|r| r.revision) else { return Ok(None) };
            let count = read.len();
            if let Some(seen) = read.into_iter().find_map(|r| r.within(sight)) {
                return Ok(Some((seen.revision, seen.time)));
            }
            if count < BATCH as usize {
                return Ok(None);
            }
            before = oldest;
        }
    }

    /// The plan's revisions after `page`'s position, in id order, one more than the page holds.
    async fn revisions(&mut self, pass: &PlanPass, page: Page) -> Result<Vec<RevisionRow>> {
        let of_plan = Statement::of_plan(REVISION_COLUMNS, "plan_revisions", "", pass);
        revision_rows(of_plan.page("", Some(page)).all(self).await?)
    }
}

/// How many revisions a scoped reader's history reads at once (`list_revisions`).
const HIDDEN_BATCH: u32 = 500;

/// The columns `revision_rows` reads.
const REVISION_COLUMNS: &str = "id, revision, author, author_relations, changes, create_time";

fn revision_rows(rows: Vec<sqlx::any::AnyRow>) -> Result<Vec<RevisionRow>> {
    rows.iter()
        .map(|row| {
            let text = |name: &str| row.try_get::<String, _>(name).map_err(db);
            Ok(RevisionRow {
                id: stored("revision id", ResourceId::parse(&text("id")?))?,
                revision: row.try_get("revision").map_err(db)?,
                author: text("author")?,
                author_relations: text("author_relations")?,
                changes: text("changes")?.lines().map(str::to_owned).collect(),
                time: Instant(row.try_get("create_time").map_err(db)?),
            })
        })
        .collect()
}

stored_enum! {
    /// What kind of item of a plan a history version holds.
    ItemKind {
        Plan = "plan",
        PlanSection = "plan_section",
        PlanContacts = "plan_contacts",
        Goal = "goal",
        GoalAdjustment = "goal_adjustment",
        Measure = "measure",
        MeasureEvaluation = "measure_evaluation",
    }
}

/// One version of one item of a plan, as a revision wrote it.
#[derive(Clone, Debug)]
pub struct ItemVersion {
    /// What kind of item.
    pub kind: ItemKind,
    /// The item's id within the plan (for adjustments and evaluations, `{parent}/{index}`).
    pub item_id: String,
    /// The goal or measure an adjustment or evaluation belongs to; empty otherwise.
    pub parent_id: String,
    /// The item's encoded state; `None` when the revision deleted it.
    pub state: Option<Vec<u8>>,
}

impl ItemVersion {
    /// The digest that tells whether the item changed: SHA-256 of its state, empty when deleted.
    pub fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        match &self.state {
            Some(state) => Sha256::digest(state).iter().map(|b| format!("{b:02x}")).collect(),
            None => String::new(),
        }
    }
}

impl Session {
    /// The digest of the latest version of every item of `plan` the history holds, by kind and
    /// item id; empty for deleted items.
    #[tracing::instrument(skip_all)]
    pub async fn latest_item_digests(
        &mut self,
        pass: &PlanPass,
    ) -> Result<Vec<(ItemKind, String, String)>> {
        let plan = pass.id();
        let rows = sqlx::query(
            "SELECT v.kind, v.item_id, v.digest FROM plan_item_versions v WHERE v.plan_id = $1 \
             AND v.revision = (SELECT MAX(w.revision) FROM plan_item_versions w \
             WHERE w.plan_id = v.plan_id AND w.kind = v.kind AND w.item_id = v.item_id)",
        )
        .bind(plan.to_string())
        .all(self)
        .await?;
        rows.iter()
            .map(|row| {
                let text = |name: &str| row.try_get::<String, _>(name).map_err(db);
                Ok((
                    stored("item kind", ItemKind::from_stored(&text("kind")?))?,
                    text("item_id")?,
                    text("digest")?,
                ))
            })
            .collect()
    }

    /// Writes the versions a revision made.
    #[tracing::instrument(skip_all)]
    pub async fn insert_item_versions(
        &mut self,
        pass: &PlanPass,
        revision: i64,
        versions: &[ItemVersion],
    ) -> Result<()> {
        // A hundred rows a statement: well within both databases' limits on parameters.
        for chunk in versions.chunks(100) {
            let mut statement = Statement::new(
                "INSERT INTO plan_item_versions (id, organisation_id, plan_id, revision, kind, \
                 item_id, parent_id, digest, state) VALUES ",
            );
            for (i, v) in chunk.iter().enumerate() {
                statement = statement
                    .sql(if i == 0 { "(" } else { ", (" })
                    .bind(ResourceId::generate().to_string())
                    .sql(", ")
                    .bind(pass.organisation().as_str().to_owned())
                    .sql(", ")
                    .bind(pass.id().to_string())
                    .sql(", ")
                    .bind(revision)
                    .sql(", ")
                    .bind(v.kind.as_str())
                    .sql(", ")
                    .bind(v.item_id.clone())
                    .sql(", ")
                    .bind(v.parent_id.clone())
                    .sql(", ")
                    .bind(v.digest())
                    .sql(", ")
                    .bind(v.state.clone())
                    .sql(")");
            }
            statement.run(self).await?;
        }
        Ok(())
    }

    /// Every version of `plan`'s items at or before `revision`, oldest first.
    #[tracing::instrument(skip_all)]
    pub async fn item_versions_until(
        &mut self,
        pass: &PlanPass,
        revision: i64,
    ) -> Result<Vec<ItemVersion>> {
        let plan = pass.id();
        let rows = sqlx::query(
            "SELECT kind, item_id, parent_id, state FROM plan_item_versions \
             WHERE plan_id = $1 AND revision <= $2 ORDER BY revision, id",
        )
        .bind(plan.to_string())
        .bind(revision)
        .all(self)
        .await?;
        rows.iter()
            .map(|row| {
                let text = |name: &str| row.try_get::<String, _>(name).map_err(db);
                Ok(ItemVersion {
                    kind: stored("item kind", ItemKind::from_stored(&text("kind")?))?,
                    item_id: text("item_id")?,
                    parent_id: text("parent_id")?,
                    state: row.try_get::<Option<Vec<u8>>, _>("state").map_err(db)?,
                })
            })
            .collect()
    }

    /// One revision of the plan: when it was made, and its full snapshot when it was written
    /// before the history stored items (empty otherwise); `None` when there is no such revision.
    #[tracing::instrument(skip_all)]
    pub async fn revision_at(
        &mut self,
        pass: &PlanPass,
        revision: i64,
    ) -> Result<Option<(Instant, Vec<u8>)>> {
        let plan = pass.id();
        let row = sqlx::query(
            "SELECT create_time, snapshot FROM plan_revisions WHERE plan_id = $1 AND revision = $2",
        )
        .bind(plan.to_string())
        .bind(revision)
        .optional(self)
        .await?;
        row.map(|row| {
            Ok((
                Instant(row.try_get("create_time").map_err(db)?),
                row.try_get::<Vec<u8>, _>("snapshot").map_err(db)?,
            ))
        })
        .transpose()
    }
}
