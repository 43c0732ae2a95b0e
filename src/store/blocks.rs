//! Blocks (`domain::block`): kept per plan, and asked about in the same query that loads a
//! caller's relations to a plan or lists the plans they may see.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Execute, Run, Session, Statement, db, stored};
use crate::auth::PlanPass;
use crate::domain::block::{Block, BlockTarget};
use crate::domain::ids::{OrgNumber, ResourceId};
use crate::domain::limits::Holding;
use crate::domain::principal::Principal;
use crate::domain::subject::Subject;
use crate::domain::time::Instant;
use crate::domain::{Error, Result};

const COLUMNS: &str = "id, plan_id, subject, blocked_organisation, display_name, reason, created_by, create_time, \
     lift_time";

/// Appends `EXISTS (…)`: a block in force on plan `p` keeps the caller out, by their subject
/// or by the organisation they act for.
pub(super) fn keeps_out(statement: Statement, who: &Principal) -> Statement {
    keeps_out_of(statement, who, "p.id")
}

/// The condition, on a block `b` in force on the plan whose id is in `plan_column`, that it
/// keeps out the subject and acting organisation in the columns named (a membership's or an
/// assignment's), up to the open `(` of the alternatives; the caller closes it.
fn in_force_on(statement: Statement, plan_column: &str) -> Statement {
    statement.sql(&format!(
        "EXISTS (SELECT 1 FROM blocks b WHERE b.plan_id = {plan_column} AND b.lift_time IS NULL AND ("
    ))
}

/// Appends `EXISTS (…)`: a block in force on the plan whose id is in `plan_column` keeps out
/// whoever the columns `subject_column` and `organisation_column` name (a stored subject and
/// the organisation they act for).
pub(super) fn keeps_out_row(
    statement: Statement,
    plan_column: &str,
    subject_column: &str,
    organisation_column: &str,
) -> Statement {
    in_force_on(statement, plan_column).sql(&format!(
        "b.subject = {subject_column} OR (b.blocked_organisation <> '' \
         AND b.blocked_organisation = {organisation_column})))"
    ))
}

/// Appends `EXISTS (…)`: a block in force on the plan whose id is in `plan_column` keeps the
/// caller out: by their subject; as the citizen whose identity number their token carries
/// (personnel HelseID vouches for are the same person as that citizen); or by the
/// organisation they act for.
pub(super) fn keeps_out_of(statement: Statement, who: &Principal, plan_column: &str) -> Statement {
    let person = who.person.as_ref().or(who.national_id.as_ref());
    let as_citizen =
        person.map(|id| Subject::citizen(id).as_stored().to_owned()).unwrap_or_default();
    in_force_on(statement, plan_column)
        .sql("b.subject = ")
        .subject(who)
        .sql(" OR (b.subject <> '' AND b.subject = ")
        .bind(as_citizen)
        .sql(") OR (b.blocked_organisation <> '' AND b.blocked_organisation = ")
        .acting(who)
        .sql(")))")
}

impl Session {
    /// Stores a new block on the plan `pass` is for; FAILED_PRECONDITION when the plan holds
    /// as many blocks in force as it may.
    #[tracing::instrument(skip_all)]
    pub async fn insert_block(&mut self, pass: &PlanPass, block: &Block) -> Result<()> {
        pass.covers(block.plan)?;
        self.check_room(Holding::Blocks, pass, block.create_time).await?;
        let (subject, organisation) = match &block.target {
            BlockTarget::Subject(s) => (s.as_stored().to_owned(), String::new()),
            BlockTarget::Organisation(o) => (String::new(), o.as_str().to_owned()),
        };
        Statement::new(
            "INSERT INTO blocks (id, organisation_id, plan_id, subject, blocked_organisation, \
             display_name, reason, created_by, create_time) VALUES (",
        )
        .bind(block.id.to_string())
        .sql(", ")
        .bind(pass.plan().organisation.as_str().to_owned())
        .sql(", ")
        .bind(block.plan.to_string())
        .sql(", ")
        .bind(subject)
        .sql(", ")
        .bind(organisation)
        .sql(", ")
        .bind(block.display_name.clone())
        .sql(", ")
        .bind(block.reason.clone())
        .sql(", ")
        .bind(block.created_by.clone())
        .sql(", ")
        .bind(block.create_time.0)
        .sql(")")
        .run(self)
        .await?;
        Ok(())
    }

    /// The plan's blocks, in force and, when `lifted`, lifted too, oldest first; at most as
    /// many as a plan may hold in force, and as many lifted.
    #[tracing::instrument(skip_all)]
    pub async fn list_blocks(&mut self, pass: &PlanPass, lifted: bool) -> Result<Vec<Block>> {
        let mut statement = Statement::of_plan(COLUMNS, "blocks", "", pass);
        if !lifted {
            statement = statement.sql(" AND lift_time IS NULL");
        }
        let cap = Holding::Blocks.cap() * if lifted { 10 } else { 1 };
        let statement = statement.sql(" ORDER BY id LIMIT ").bind(cap);
        statement.all(self).await?.iter().map(block_from_row).collect()
    }

    /// One block of the plan; NOT_FOUND when the plan has no such block.
    #[tracing::instrument(skip_all)]
    pub async fn block(&mut self, pass: &PlanPass, id: ResourceId) -> Result<Block> {
        let of_plan = Statement::of_plan(COLUMNS, "blocks", "", pass);
        block_from_row(&self.item_row(of_plan.item("", id), "block").await?)
    }

    /// Lifts a block in force; FAILED_PRECONDITION when it was lifted already.
    #[tracing::instrument(skip_all)]
    pub async fn lift_block(
        &mut self,
        pass: &PlanPass,
        block: &Block,
        by: &Subject,
        now: Instant,
    ) -> Result<()> {
        pass.covers(block.plan)?;
        let lifted = Statement::new("UPDATE blocks SET lift_time = ")
            .bind(now.0)
            .sql(", lifted_by = ")
            .bind(by.as_stored().to_owned())
            .sql(" WHERE id = ")
            .bind(block.id.to_string())
            .sql(" AND lift_time IS NULL")
            .run(self)
            .await?;
        if lifted != 1 {
            return Err(Error::FailedPrecondition("the block was lifted already".into()));
        }
        Ok(())
    }
}

fn block_from_row(row: &AnyRow) -> Result<Block> {
    let text = |name: &str| row.try_get::<String, _>(name).map_err(db);
    let subject = text("subject")?;
    let target = if subject.is_empty() {
        let org = text("blocked_organisation")?;
        BlockTarget::Organisation(stored("blocked organisation", OrgNumber::parse("", &org).ok())?)
    } else {
        BlockTarget::Subject(Subject::from_stored(subject))
    };
    Ok(Block {
        id: stored("block id", ResourceId::parse(&text("id")?))?,
        plan: stored("plan id", ResourceId::parse(&text("plan_id")?))?,
        target,
        display_name: text("display_name")?,
        reason: text("reason")?,
        created_by: text("created_by")?,
        create_time: Instant(row.try_get("create_time").map_err(db)?),
        lift_time: row.try_get::<Option<i64>, _>("lift_time").map_err(db)?.map(Instant),
    })
}
