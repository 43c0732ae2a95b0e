//! Plans, and the one query that loads a plan together with the caller's relations to it.

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::{Session, db, stored};
use crate::domain::Error;
use crate::domain::ids::{NationalId, OrgNumber, ResourceId};
use crate::domain::organisation::OrgRole;
use crate::domain::page::Page;
use crate::domain::plan::{NewPlan, Plan, PlanKind, PlanStatus};
use crate::domain::principal::Principal;
use crate::domain::relation::Relation;
use crate::domain::subject::Subject;
use crate::domain::time::Instant;

// The caller's parameters $1 to $3 (see `caller_params`), then $4 now.
macro_rules! active_membership {
    () => {
        "EXISTS (SELECT 1 FROM members m WHERE m.plan_id = p.id AND m.subject = $2 \
         AND m.acting_organisation = $3 AND m.start_time <= $4 \
         AND (m.end_time IS NULL OR m.end_time > $4)"
    };
}

// A plan's columns and the caller's relations to it, for one plan or a list of them.
macro_rules! access_select {
    () => {
        concat!(
            "SELECT p.id, p.organisation_id, p.patient_id, p.patient_display_name, ",
            "p.kind, p.status, p.revision, p.create_time, p.update_time, ",
            "CAST(CASE WHEN p.patient_id = $1 THEN 1 ELSE 0 END AS BIGINT) AS is_owner, ",
            "CAST(CASE WHEN ",
            active_membership!(),
            ") THEN 1 ELSE 0 END AS BIGINT) AS is_member, ",
            "CAST(CASE WHEN ",
            active_membership!(),
            " AND m.role = 'coordinator') THEN 1 ELSE 0 END AS BIGINT) AS is_coordinator, ",
            "(SELECT e.epoch FROM role_grants_epoch e WHERE e.id = 1) AS grants_epoch ",
            "FROM plans p "
        )
    };
}

const ACCESS_QUERY: &str = concat!(access_select!(), "WHERE p.id = $5");

/// A plan with the caller's relations to it, as one query found them.
#[derive(Debug)]
pub struct PlanAccessRow {
    /// The plan.
    pub plan: Plan,
    /// The caller is the patient.
    pub owner: bool,
    /// The caller serves on the plan's group now, for the organisation they act for.
    pub member: bool,
    /// The caller is the plan's coordinator now.
    pub coordinator: bool,
    /// The role grants' epoch at the time of the query, to keep the policy fresh.
    pub grants_epoch: i64,
}

/// Which relations and organisation roles let a caller see an item in a list: the policy
/// decides, the SQL filters on it.
#[derive(Debug, Default)]
pub struct ReadFilter {
    /// Relations that grant read.
    pub relations: Vec<Relation>,
    /// Roles that grant read, in the organisation the caller acts for.
    pub org_roles: Vec<OrgRole>,
}

impl ReadFilter {
    /// Whether `relation` grants read.
    pub fn grants(&self, relation: Relation) -> bool {
        self.relations.contains(&relation)
    }

    /// The roles as an SQL list of their fixed names, never caller input.
    pub(super) fn role_list(&self) -> String {
        let roles: Vec<String> = self
            .org_roles
            .iter()
            .map(|r| format!("'{}'", r.as_str()))
            .collect();
        roles.join(", ")
    }
}

impl Session {
    /// Stores a new plan.
    #[tracing::instrument(skip_all)]
    pub async fn insert_plan(
        &mut self,
        new: &NewPlan,
        created_by: &Subject,
        now: Instant,
    ) -> Result<Plan, Error> {
        let plan = Plan {
            id: ResourceId::generate(),
            organisation: new.organisation.clone(),
            patient: new.patient.clone(),
            patient_display_name: new.patient_display_name.clone(),
            kind: new.kind,
            status: PlanStatus::Requested,
            revision: 1,
            create_time: now,
            update_time: now,
        };
        sqlx::query(
            "INSERT INTO plans (id, organisation_id, patient_id, patient_display_name, kind, \
             status, revision, create_time, update_time, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(plan.id.to_string())
        .bind(plan.organisation.as_str())
        .bind(plan.patient.expose())
        .bind(plan.patient_display_name.as_str())
        .bind(plan.kind.as_str())
        .bind(plan.status.as_str())
        .bind(plan.revision)
        .bind(now.0)
        .bind(now.0)
        .bind(created_by.as_stored())
        .execute(self.conn())
        .await
        .map_err(db)?;
        Ok(plan)
    }

    /// Loads a plan and the caller's relations to it in one query; `None` when absent.
    #[tracing::instrument(skip_all)]
    pub async fn plan_access(
        &mut self,
        plan: ResourceId,
        who: &Principal,
        now: Instant,
    ) -> Result<Option<PlanAccessRow>, Error> {
        let row = super::caller_params(sqlx::query(ACCESS_QUERY), who)
            .bind(now.0)
            .bind(plan.to_string())
            .fetch_optional(self.conn())
            .await
            .map_err(db)?;
        row.as_ref().map(access_from_row).transpose()
    }

    /// Lists the plans `filter` lets the caller see, with the caller's relations to each, after
    /// the page's position; one more than the page size so the caller knows whether another
    /// page follows.
    #[tracing::instrument(skip_all)]
    pub async fn list_plans(
        &mut self,
        filter: &ReadFilter,
        who: &Principal,
        page: Page,
        now: Instant,
    ) -> Result<Vec<PlanAccessRow>, Error> {
        // One branch per source of visibility, each walking its own index in id order and
        // stopping after a page: the cost follows the page, not the number of plans.
        let mut branches: Vec<String> = Vec::new();
        if filter.grants(Relation::Owner) && who.national_id.is_some() {
            branches.push(
                "SELECT p.id AS id FROM plans p WHERE p.patient_id = $1 AND p.id > $5 \
                 ORDER BY p.id LIMIT $6"
                    .into(),
            );
        }
        // Every coordinator is a member: the member branch covers both when both grant read.
        let role_condition = match (
            filter.grants(Relation::Member),
            filter.grants(Relation::Coordinator),
        ) {
            (true, _) => Some(""),
            (false, true) => Some(" AND m.role = 'coordinator'"),
            (false, false) => None,
        };
        if let Some(role_condition) = role_condition {
            branches.push(format!(
                "SELECT m.plan_id AS id FROM members m WHERE m.subject = $2 \
                 AND m.acting_organisation = $3 AND m.start_time <= $4 \
                 AND (m.end_time IS NULL OR m.end_time > $4) AND m.plan_id > $5{role_condition} \
                 ORDER BY m.plan_id LIMIT $6"
            ));
        }
        if !filter.org_roles.is_empty() && who.organisation.is_some() {
            branches.push(format!(
                "SELECT p.id AS id FROM plans p WHERE p.organisation_id = $3 AND p.id > $5 \
                 AND EXISTS (SELECT 1 FROM role_grants g WHERE g.organisation_id = $3 \
                 AND g.subject = $2 AND g.role IN ({})) ORDER BY p.id LIMIT $6",
                filter.role_list()
            ));
        }
        let Some(visible) = super::union_of_pages(&branches) else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "{visible} {} WHERE p.id IN (SELECT id FROM visible) ORDER BY p.id LIMIT $6",
            access_select!(),
        );
        let rows = super::caller_params(sqlx::query(AssertSqlSafe(sql)), who)
            .bind(now.0)
            .bind(page.after.map(|id| id.to_string()).unwrap_or_default())
            .bind(i64::from(page.size) + 1)
            .fetch_all(self.conn())
            .await
            .map_err(db)?;
        rows.iter().map(access_from_row).collect()
    }
}

fn access_from_row(row: &AnyRow) -> Result<PlanAccessRow, Error> {
    let flag = |name: &str| row.try_get::<i64, _>(name).map(|v| v == 1).map_err(db);
    Ok(PlanAccessRow {
        plan: plan_from_row(row)?,
        owner: flag("is_owner")?,
        member: flag("is_member")?,
        coordinator: flag("is_coordinator")?,
        grants_epoch: row.try_get("grants_epoch").map_err(db)?,
    })
}

fn plan_from_row(row: &AnyRow) -> Result<Plan, Error> {
    let text = |name: &str| row.try_get::<String, _>(name).map_err(db);
    let id = text("id")?;
    Ok(Plan {
        id: stored("plan id", ResourceId::parse(&id))?,
        organisation: stored(
            "organisation",
            OrgNumber::parse("", &text("organisation_id")?).ok(),
        )?,
        patient: stored(
            "patient id",
            NationalId::parse("", &text("patient_id")?).ok(),
        )?,
        patient_display_name: text("patient_display_name")?,
        kind: stored("plan kind", PlanKind::from_stored(&text("kind")?))?,
        status: stored("plan status", PlanStatus::from_stored(&text("status")?))?,
        revision: row.try_get("revision").map_err(db)?,
        create_time: Instant(row.try_get("create_time").map_err(db)?),
        update_time: Instant(row.try_get("update_time").map_err(db)?),
    })
}
