//! Plan transfers: proposals to move a plan to another responsible organisation, the query that
//! loads one for the guard, and the move itself.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Execute, Run, Session, Statement, blocks, db, stored};
use crate::auth::{OrgPass, PlanPass, TransferPass};
use crate::domain::ids::{OrgNumber, ResourceId};
use crate::domain::page::Page;
use crate::domain::principal::Principal;
use crate::domain::time::Instant;
use crate::domain::transfer::{NewTransfer, PlanTransfer, TransferState};
use crate::domain::{Error, Result};

const COLUMNS: &str = "t.id, t.organisation_id, t.plan_id, t.to_organisation, t.reason, t.state, \
     t.response, t.assignment_id, t.create_time, t.response_time";

/// A transfer, with the role grants' epoch when it was read.
#[derive(Debug)]
pub struct TransferAccessRow {
    /// The transfer.
    pub transfer: PlanTransfer,
    /// The role grants' epoch at the time of the query.
    pub grants_epoch: i64,
}

impl Session {
    /// Stores a proposal to move the plan `pass` is for, by `who`; `FAILED_PRECONDITION` when
    /// one is pending already.
    pub async fn insert_transfer(
        &mut self,
        pass: &PlanPass,
        new: &NewTransfer,
        who: &Principal,
        now: Instant,
    ) -> Result<PlanTransfer> {
        pass.covers(new.plan)?;
        let pending = Statement::new(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM plan_transfers WHERE plan_id = ",
        )
        .bind(pass.id().to_string())
        .sql(" AND state = ")
        .bind(TransferState::Proposed.as_str())
        .one(self)
        .await?;
        if pending.try_get::<i64, _>("n").map_err(db)? > 0 {
            return Err(Error::FailedPrecondition(
                "the plan has a transfer pending: it must be answered first".into(),
            ));
        }
        let transfer = PlanTransfer {
            id: ResourceId::generate(),
            plan: pass.id(),
            from: pass.organisation().clone(),
            to: new.to.clone(),
            reason: new.reason.clone(),
            state: TransferState::Proposed,
            response: String::new(),
            assignment: None,
            create_time: now,
            response_time: None,
        };
        sqlx::query(
            "INSERT INTO plan_transfers (id, organisation_id, plan_id, to_organisation, reason, \
             state, response, assignment_id, proposed_by, answered_by, create_time, \
             response_time) VALUES ($1, $2, $3, $4, $5, $6, '', NULL, $7, '', $8, NULL)",
        )
        .bind(transfer.id.to_string())
        .bind(transfer.from.as_str())
        .bind(transfer.plan.to_string())
        .bind(transfer.to.as_str())
        .bind(transfer.reason.as_str())
        .bind(transfer.state.as_str())
        .bind(who.subject.as_stored())
        .bind(now.0)
        .run(self)
        .await?;
        Ok(transfer)
    }

    /// The transfer `id`, for the guard, which decides who may see it.
    pub async fn transfer_access(&mut self, id: ResourceId) -> Result<Option<TransferAccessRow>> {
        let row = Statement::new(&format!(
            "SELECT {COLUMNS}, (SELECT e.epoch FROM role_grants_epoch e WHERE e.id = 1) \
             AS grants_epoch FROM plan_transfers t WHERE t.id = "
        ))
        .bind(id.to_string())
        .optional(self)
        .await?;
        row.map(|row| {
            Ok(TransferAccessRow {
                transfer: transfer_from_row(&row)?,
                grants_epoch: row.try_get("grants_epoch").map_err(db)?,
            })
        })
        .transpose()
    }

    /// The transfers of the plan `pass` is for after the page's position, oldest first; one
    /// more than the page.
    pub async fn plan_transfers(
        &mut self,
        pass: &PlanPass,
        page: Page,
    ) -> Result<Vec<PlanTransfer>> {
        let statement = Statement::new(&format!("SELECT {COLUMNS} FROM plan_transfers t WHERE "))
            .sql("t.plan_id = ")
            .bind(pass.id().to_string());
        let rows = statement.page("t.", Some(page)).all(self).await?;
        rows.iter().map(transfer_from_row).collect()
    }

    /// The transfers proposed to the organisation `org` is for, after the page's position,
    /// oldest first; one more than the page. Those of plans a block keeps `who` out of are not
    /// theirs to see, as GetPlanTransfer answers.
    pub async fn incoming_transfers(
        &mut self,
        org: &OrgPass,
        who: &Principal,
        page: Page,
    ) -> Result<Vec<PlanTransfer>> {
        let statement = Statement::new(&format!("SELECT {COLUMNS} FROM plan_transfers t WHERE "))
            .sql("t.to_organisation = ")
            .bind(org.organisation().as_str().to_owned())
            .sql(" AND NOT ");
        let statement = blocks::keeps_out_of(statement, who, "t.plan_id");
        let rows = statement.page("t.", Some(page)).all(self).await?;
        rows.iter().map(transfer_from_row).collect()
    }

    /// Records the answer, as `answered` holds it (the receiving municipality's, or the sending
    /// side's cancellation), to the transfer `pass` is for, still proposed when it was read;
    /// `ABORTED` when someone answered it since.
    pub async fn answer_transfer(
        &mut self,
        pass: &TransferPass,
        answered: &PlanTransfer,
        who: &Principal,
    ) -> Result<()> {
        let transfer = answered;
        if transfer.id != pass.transfer().id {
            return Err(Error::internal("an answer to another transfer than its pass's"));
        }
        let answered = sqlx::query(
            "UPDATE plan_transfers SET state = $1, response = $2, assignment_id = $3, \
             answered_by = $4, response_time = $5 WHERE id = $6 AND state = $7",
        )
        .bind(transfer.state.as_str())
        .bind(transfer.response.as_str())
        .bind(transfer.assignment.map(|a| a.to_string()))
        .bind(who.subject.as_stored())
        .bind(transfer.response_time.map(|t| t.0))
        .bind(transfer.id.to_string())
        .bind(TransferState::Proposed.as_str())
        .run(self)
        .await?;
        if answered != 1 {
            return Err(Error::Aborted("the transfer was answered since it was read".into()));
        }
        Ok(())
    }

    /// Makes `to` the responsible organisation of the plan `pass` is for, and ends the
    /// memberships of those serving for the organisation responsible until now. The rows made
    /// before keep the organisation they were made under: the history stays as it was.
    pub async fn move_plan(
        &mut self,
        pass: &PlanPass,
        to: &OrgNumber,
        now: Instant,
    ) -> Result<u64> {
        // The responsible organisation is one of the plan's own fields: its etag moves.
        Statement::new("UPDATE plans SET organisation_id = ")
            .bind(to.as_str().to_owned())
            .sql(", version = version + 1 WHERE id = ")
            .bind(pass.id().to_string())
            .run(self)
            .await?;
        Statement::new("UPDATE members SET end_time = ")
            .bind(now.0)
            .sql(", revision = revision + 1 WHERE plan_id = ")
            .bind(pass.id().to_string())
            .sql(" AND acting_organisation = ")
            .bind(pass.organisation().as_str().to_owned())
            .sql(" AND (end_time IS NULL OR end_time > ")
            .bind(now.0)
            .sql(")")
            .run(self)
            .await
    }
}

fn transfer_from_row(row: &AnyRow) -> Result<PlanTransfer> {
    let text = |name: &str| row.try_get::<String, _>(name).map_err(db);
    let optional = |name: &str| row.try_get::<Option<String>, _>(name).map_err(db);
    let org = |name: &str| -> Result<OrgNumber> {
        stored("organisation", OrgNumber::parse("", &text(name)?).ok())
    };
    Ok(PlanTransfer {
        id: stored("transfer id", ResourceId::parse(&text("id")?))?,
        plan: stored("plan id", ResourceId::parse(&text("plan_id")?))?,
        from: org("organisation_id")?,
        to: org("to_organisation")?,
        reason: text("reason")?,
        state: stored("transfer state", TransferState::from_stored(&text("state")?))?,
        response: text("response")?,
        assignment: optional("assignment_id")?
            .map(|a| stored("assignment id", ResourceId::parse(&a)))
            .transpose()?,
        create_time: Instant(row.try_get("create_time").map_err(db)?),
        response_time: row.try_get::<Option<i64>, _>("response_time").map_err(db)?.map(Instant),
    })
}
