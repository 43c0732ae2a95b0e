//! Applications for a child coordinator (`domain::child_coordinator`), and the one query that
//! loads one together with the caller's relation to it.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Execute, Run, Session, Statement, Visible, blocks, db, stored};
use crate::auth::ApplicationPass;
use crate::domain::child_coordinator::{Application, ApplicationState, Child, NewApplication};
use crate::domain::coordinator::{CoordinatorKind, NewAssignment};
use crate::domain::date::Date;
use crate::domain::ids::{NationalId, OrgNumber, ResourceId};
use crate::domain::organisation::OrgRole;
use crate::domain::page::Page;
use crate::domain::principal::Principal;
use crate::domain::subject::Subject;
use crate::domain::time::Instant;
use crate::domain::{Error, Result};

const COLUMNS: &str = "a.id, a.organisation_id, a.child_id, a.child_display_name, \
     a.expected_birth_date, a.needs, a.applicant, a.applicant_display_name, a.state, a.plan_id, \
     a.assignment_id, a.coordinator_subject, a.coordinator_display_name, \
     a.coordinator_organisation, a.coordinator_wish_followed, a.coordinator_reason, a.response, \
     a.revision, a.create_time, a.response_time";

/// An application with the caller's relation to it, as one query found them.
#[derive(Debug)]
pub struct ApplicationAccessRow {
    /// The application.
    pub application: Application,
    /// The caller applied.
    pub applicant: bool,
    /// A block on the child's plan keeps the caller out.
    pub blocked: bool,
    /// The role grants' epoch at the time of the query.
    pub grants_epoch: i64,
}

/// An application's columns and the caller's relation to it, up to and including `FROM`.
fn access_select(statement: Statement, who: &Principal) -> Statement {
    let statement = statement
        .sql(&format!("SELECT {COLUMNS}, CAST(CASE WHEN a.applicant = "))
        .subject(who)
        .sql(" THEN 1 ELSE 0 END AS BIGINT) AS is_applicant, CAST(CASE WHEN ");
    // A block on the child's plan keeps the blocked out of its application too.
    blocks::keeps_out_of(statement, who, "a.plan_id").sql(
        " THEN 1 ELSE 0 END AS BIGINT) AS is_blocked, \
         (SELECT e.epoch FROM role_grants_epoch e WHERE e.id = 1) AS grants_epoch \
         FROM child_coordinator_applications a ",
    )
}

impl Session {
    /// Stores a new application by `applicant`, SUBMITTED. The guard has let them apply.
    /// `FAILED_PRECONDITION` when they have as many waiting as one may.
    #[tracing::instrument(skip_all)]
    pub async fn insert_application(
        &mut self,
        new: &NewApplication,
        applicant: &Subject,
        most_waiting: i64,
        now: Instant,
    ) -> Result<Application> {
        let waiting = Statement::new(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM child_coordinator_applications \
             WHERE applicant = ",
        )
        .bind(applicant.as_stored().to_owned())
        .sql(" AND state = ")
        .bind(ApplicationState::Submitted.as_str())
        .one(self)
        .await?;
        if waiting.try_get::<i64, _>("n").map_err(db)? >= most_waiting {
            return Err(Error::FailedPrecondition(format!(
                "you have {most_waiting} applications waiting for an answer, as many as one may"
            )));
        }
        let application = Application {
            id: ResourceId::generate(),
            municipality: new.municipality.clone(),
            child: new.child.clone(),
            child_display_name: new.child_display_name.clone(),
            needs: new.needs.clone(),
            applicant: applicant.clone(),
            applicant_display_name: new.applicant_display_name.clone(),
            state: ApplicationState::Submitted,
            plan: None,
            assignment: None,
            coordinator: None,
            response: String::new(),
            revision: 1,
            create_time: now,
            response_time: None,
        };
        let (child_id, due) = child_columns(&application.child);
        Statement::new(
            "INSERT INTO child_coordinator_applications (id, organisation_id, child_id, \
             child_display_name, expected_birth_date, needs, applicant, applicant_display_name, \
             state, coordinator_subject, coordinator_display_name, coordinator_organisation, \
             coordinator_wish_followed, coordinator_reason, response, revision, create_time) \
             VALUES (",
        )
        .bind(application.id.to_string())
        .sql(", ")
        .bind(application.municipality.as_str().to_owned())
        .sql(", ")
        .bind(child_id)
        .sql(", ")
        .bind(application.child_display_name.clone())
        .sql(", ")
        .bind(due)
        .sql(", ")
        .bind(application.needs.clone())
        .sql(", ")
        .bind(applicant.as_stored().to_owned())
        .sql(", ")
        .bind(application.applicant_display_name.clone())
        .sql(", ")
        .bind(ApplicationState::Submitted.as_str())
        .sql(", '', '', '', 0, '', '', 1, ")
        .bind(now.0)
        .sql(")")
        .run(self)
        .await?;
        Ok(application)
    }

    /// Loads an application and the caller's relation to it in one query; `None` when absent.
    #[tracing::instrument(skip_all)]
    pub async fn application_access(
        &mut self,
        id: ResourceId,
        who: &Principal,
    ) -> Result<Option<ApplicationAccessRow>> {
        let statement = access_select(Statement::new(""), who);
        let row = statement.sql("WHERE a.id = ").bind(id.to_string()).optional(self).await?;
        row.as_ref().map(access_from_row).transpose()
    }

    /// Lists the applications the caller may read, after the page's position, oldest first:
    /// their own when `own` (the applicant relation grants read), and their municipality's
    /// when they hold one of `org_roles` there; only those in `state` when given. One more than
    /// the page, so the caller knows whether another follows.
    #[tracing::instrument(skip_all)]
    pub async fn list_applications(
        &mut self,
        who: &Principal,
        own: bool,
        org_roles: &[OrgRole],
        state: Option<ApplicationState>,
        page: Page,
    ) -> Result<Vec<ApplicationAccessRow>> {
        let after = page.after.map(|id| id.to_string()).unwrap_or_default();
        let limit = page.limit();
        let page_of = |statement: Statement| {
            let statement = blocks::keeps_out_of(statement.sql(" AND NOT "), who, "a.plan_id");
            let mut statement = statement.sql(" AND a.id > ").bind(after.clone());
            if let Some(state) = state {
                statement = statement.sql(" AND a.state = ").bind(state.as_str());
            }
            statement.sql(" ORDER BY a.id LIMIT ").bind(limit)
        };
        let select =
            |s: Statement| s.sql("SELECT a.id AS id FROM child_coordinator_applications a WHERE ");
        let mut visible = Visible::new();
        if own {
            visible = visible.branch(|s| page_of(select(s).sql("a.applicant = ").subject(who)));
        }
        if !org_roles.is_empty() && who.organisation.is_some() {
            let filter = super::ReadFilter { relations: Vec::new(), org_roles: org_roles.to_vec() };
            visible = visible.branch(|s| {
                page_of(filter.held_in(select(s).sql("1 = 1"), "a.organisation_id", who))
            });
        }
        let Some(visible) = visible.finish() else {
            return Ok(Vec::new());
        };
        let statement = access_select(visible, who)
            .sql("WHERE a.id IN (SELECT id FROM visible) ORDER BY a.id LIMIT ")
            .bind(limit);
        statement.all(self).await?.iter().map(access_from_row).collect()
    }

    /// Writes the municipality's answer to the application `pass` is for, as `answered` holds
    /// it, if nobody answered it since it was loaded; `ABORTED` otherwise.
    #[tracing::instrument(skip_all)]
    pub async fn save_answer(
        &mut self,
        pass: &ApplicationPass,
        answered: &Application,
    ) -> Result<()> {
        let loaded = pass.application();
        if loaded.id != answered.id {
            return Err(Error::internal("an application was answered under another's pass"));
        }
        let (child_id, due) = child_columns(&answered.child);
        let coordinator = answered.coordinator.as_ref();
        let updated = Statement::new("UPDATE child_coordinator_applications SET state = ")
            .bind(answered.state.as_str())
            .sql(", child_id = ")
            .bind(child_id)
            .sql(", expected_birth_date = ")
            .bind(due)
            .sql(", plan_id = ")
            .bind(answered.plan.map(|p| p.to_string()))
            .sql(", assignment_id = ")
            .bind(answered.assignment.map(|a| a.to_string()))
            .sql(", coordinator_subject = ")
            .bind(coordinator.map_or(String::new(), |c| c.subject.as_stored().to_owned()))
            .sql(", coordinator_display_name = ")
            .bind(coordinator.map_or(String::new(), |c| c.display_name.clone()))
            .sql(", coordinator_organisation = ")
            .bind(coordinator.map_or(String::new(), |c| c.organisation.as_str().to_owned()))
            .sql(", coordinator_wish_followed = ")
            .bind(i64::from(coordinator.is_some_and(|c| c.wish_followed)))
            .sql(", coordinator_reason = ")
            .bind(coordinator.map_or(String::new(), |c| c.reason.clone()))
            .sql(", response = ")
            .bind(answered.response.clone())
            .sql(", response_time = ")
            .bind(answered.response_time.map(|t| t.0))
            .sql(", revision = revision + 1 WHERE id = ")
            .bind(answered.id.to_string())
            .sql(" AND revision = ")
            .bind(loaded.revision)
            .run(self)
            .await?;
        if updated != 1 {
            return Err(Error::Aborted(
                "the application was answered since it was read: read it again".into(),
            ));
        }
        Ok(())
    }
}

/// The child as stored: the identity number ('' while expected) and the expected date.
fn child_columns(child: &Child) -> (String, Option<String>) {
    match child {
        Child::Born(id) => (id.expose().to_owned(), None),
        Child::Expected(due) => (String::new(), Some(due.to_string())),
    }
}

fn access_from_row(row: &AnyRow) -> Result<ApplicationAccessRow> {
    let text = |name: &str| row.try_get::<String, _>(name).map_err(db);
    let optional = |name: &str| row.try_get::<Option<String>, _>(name).map_err(db);
    let id = |name: &str, text: String| stored(name, ResourceId::parse(&text));
    let child_id = text("child_id")?;
    let child = if child_id.is_empty() {
        let due = optional("expected_birth_date")?.unwrap_or_default();
        Child::Expected(stored("expected birth date", Date::from_stored(&due))?)
    } else {
        Child::Born(stored("child id", NationalId::parse("", &child_id).ok())?)
    };
    let coordinator_subject = text("coordinator_subject")?;
    let coordinator = if coordinator_subject.is_empty() {
        None
    } else {
        let organisation = text("coordinator_organisation")?;
        Some(NewAssignment {
            subject: Subject::from_stored(coordinator_subject),
            display_name: text("coordinator_display_name")?,
            organisation: stored(
                "coordinator organisation",
                OrgNumber::parse("", &organisation).ok(),
            )?,
            wish_followed: row.try_get::<i64, _>("coordinator_wish_followed").map_err(db)? == 1,
            reason: text("coordinator_reason")?,
            kind: CoordinatorKind::Child,
        })
    };
    let application = Application {
        id: id("application id", text("id")?)?,
        municipality: stored("municipality", OrgNumber::parse("", &text("organisation_id")?).ok())?,
        child,
        child_display_name: text("child_display_name")?,
        needs: text("needs")?,
        applicant: Subject::from_stored(text("applicant")?),
        applicant_display_name: text("applicant_display_name")?,
        state: stored("application state", ApplicationState::from_stored(&text("state")?))?,
        plan: optional("plan_id")?.map(|p| id("plan id", p)).transpose()?,
        assignment: optional("assignment_id")?.map(|a| id("assignment id", a)).transpose()?,
        coordinator,
        response: text("response")?,
        revision: row.try_get("revision").map_err(db)?,
        create_time: Instant(row.try_get("create_time").map_err(db)?),
        response_time: row.try_get::<Option<i64>, _>("response_time").map_err(db)?.map(Instant),
    };
    Ok(ApplicationAccessRow {
        application,
        applicant: row.try_get::<i64, _>("is_applicant").map_err(db)? == 1,
        blocked: row.try_get::<i64, _>("is_blocked").map_err(db)? == 1,
        grants_epoch: row.try_get("grants_epoch").map_err(db)?,
    })
}
