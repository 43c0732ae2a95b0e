//! Complaints and their history.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::plans::ReadFilter;
use super::{Execute, Run, Session, Statement, Visible, db, stored};
use crate::auth::ComplaintPass;
use crate::domain::complaint::{
    Complaint, ComplaintEvent, ComplaintKind, ComplaintState, NewComplaint, Outcome,
    RepresentativeRelation,
};
use crate::domain::date::Date;
use crate::domain::ids::{NationalId, OrgNumber, ResourceId};
use crate::domain::page::Page;
use crate::domain::principal::Principal;
use crate::domain::relation::Relation;
use crate::domain::subject::Subject;
use crate::domain::time::Instant;
use crate::domain::{Error, Result};

/// A complaint's columns and the caller's relations to it, up to and including `FROM`.
fn complaint_select(statement: Statement, who: &Principal) -> Statement {
    statement
        .sql(
            "SELECT c.id, c.organisation_id, c.patient_id, c.complainant, \
             c.representative_relation, c.kind, c.text, c.plan_id, c.learned_of, c.deadline, \
             c.late, c.patient_named, c.child_coordinator_application_id, c.state, c.forwarded_to, c.decision, c.revision, \
             c.create_time, c.update_time, CAST(CASE WHEN c.complainant = ",
        )
        .subject(who)
        .sql(" THEN 1 ELSE 0 END AS BIGINT) AS is_complainant, CAST(CASE WHEN c.patient_id = ")
        .national_id(who)
        .sql(
            " THEN 1 ELSE 0 END AS BIGINT) AS is_patient, \
             (SELECT e.epoch FROM role_grants_epoch e WHERE e.id = 1) AS grants_epoch \
             FROM complaints c ",
        )
}

/// A complaint with the caller's relations to it, as one query found them.
#[derive(Debug)]
pub struct ComplaintAccessRow {
    /// The complaint.
    pub complaint: Complaint,
    /// The caller filed it.
    pub complainant: bool,
    /// The caller is the patient it concerns.
    pub patient: bool,
    /// The role grants' epoch at the time of the query.
    pub grants_epoch: i64,
}

/// What a complaint list shows.
#[derive(Debug, Default)]
pub struct ComplaintListFilter {
    /// Who may see what, from the policy.
    pub read: ReadFilter,
    /// Only complaints waiting for the organisation (submitted, under review, returned).
    pub awaiting_organisation: bool,
    /// Only complaints filed before this instant.
    pub filed_before: Option<Instant>,
}

impl Session {
    /// Stores a filed complaint and the first step of its history.
    #[tracing::instrument(skip_all)]
    pub async fn insert_complaint(
        &mut self,
        new: &NewComplaint,
        complainant: &Principal,
        (deadline, late): (Date, bool),
        now: Instant,
    ) -> Result<Complaint> {
        let complaint = Complaint {
            id: ResourceId::generate(),
            organisation: new.organisation.clone(),
            patient: new
                .patient
                .clone()
                .ok_or_else(|| Error::internal("a complaint's patient was not resolved"))?,
            complainant: complainant.subject.clone(),
            representative: new.representative,
            kind: new.kind,
            text: new.text.clone(),
            plan: new.plan,
            application: new.application,
            learned_of: new.learned_of,
            deadline,
            late,
            patient_named: new.patient_named,
            state: ComplaintState::Submitted,
            forwarded_to: None,
            decision: None,
            revision: 1,
            create_time: now,
            update_time: now,
        };
        sqlx::query(
            "INSERT INTO complaints (id, organisation_id, patient_id, complainant, \
             representative_relation, kind, text, plan_id, learned_of, deadline, late, state, \
             revision, create_time, update_time, patient_named, child_coordinator_application_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
        )
        .bind(complaint.id.to_string())
        .bind(complaint.organisation.as_str())
        .bind(complaint.patient.expose())
        .bind(complaint.complainant.as_stored())
        .bind(complaint.representative.map_or("", RepresentativeRelation::as_str))
        .bind(complaint.kind.as_str())
        .bind(complaint.text.as_str())
        .bind(complaint.plan.map(|p| p.to_string()))
        .bind(complaint.learned_of.to_string())
        .bind(complaint.deadline.to_string())
        .bind(i64::from(complaint.late))
        .bind(complaint.state.as_str())
        .bind(complaint.revision)
        .bind(now.0)
        .bind(now.0)
        .bind(i64::from(complaint.patient_named))
        .bind(complaint.application.map(|a| a.to_string()))
        .run(self)
        .await?;
        self.insert_event(&complaint, None, complainant, "", now).await?;
        Ok(complaint)
    }

    /// Loads a complaint and the caller's relations to it; `None` when absent.
    #[tracing::instrument(skip_all)]
    pub async fn complaint_access(
        &mut self,
        id: ResourceId,
        who: &Principal,
    ) -> Result<Option<ComplaintAccessRow>> {
        let statement = complaint_select(Statement::new(""), who);
        let row = statement.sql("WHERE c.id = ").bind(id.to_string()).optional(self).await?;
        row.as_ref().map(access_from_row).transpose()
    }

    /// Moves a complaint to `next`, recording the step. `ABORTED` when `expected_revision` is
    /// stale or someone else changed the complaint since it was loaded.
    #[allow(clippy::too_many_arguments)]
    #[tracing::instrument(skip_all)]
    pub async fn transition_complaint(
        &mut self,
        pass: &ComplaintPass,
        next: ComplaintState,
        expected_revision: Option<i64>,
        forwarded_to: Option<&OrgNumber>,
        decision: Option<Outcome>,
        actor: &Principal,
        text: &str,
        now: Instant,
    ) -> Result<Complaint> {
        let complaint = pass.complaint();
        let stale =
            || Error::Aborted("the complaint changed since it was read: read it again".into());
        if expected_revision.is_some_and(|rev| rev != complaint.revision) {
            return Err(stale());
        }
        let updated = sqlx::query(
            "UPDATE complaints SET state = $1, forwarded_to = COALESCE($2, forwarded_to), \
             decision = COALESCE($3, decision), revision = revision + 1, update_time = $4 \
             WHERE id = $5 AND revision = $6",
        )
        .bind(next.as_str())
        .bind(forwarded_to.map(|o| o.as_str().to_owned()))
        .bind(decision.map(|d| d.as_str().to_owned()))
        .bind(now.0)
        .bind(complaint.id.to_string())
        .bind(complaint.revision)
        .run(self)
        .await?;
        if updated != 1 {
            return Err(stale());
        }
        let mut changed = complaint.clone();
        changed.state = next;
        changed.forwarded_to = forwarded_to.cloned().or(changed.forwarded_to);
        changed.decision = decision.or(changed.decision);
        changed.revision += 1;
        changed.update_time = now;
        self.insert_event(&changed, Some(complaint.state), actor, text, now).await?;
        Ok(changed)
    }

    /// Records a step of the complaint's history, and its event in the change feed, in the
    /// step's transaction.
    async fn insert_event(
        &mut self,
        complaint: &Complaint,
        from: Option<ComplaintState>,
        actor: &Principal,
        text: &str,
        now: Instant,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO complaint_events (id, organisation_id, complaint_id, time, actor, \
             actor_organisation, from_state, to_state, text) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(ResourceId::generate().to_string())
        .bind(complaint.organisation.as_str())
        .bind(complaint.id.to_string())
        .bind(now.0)
        .bind(actor.subject.as_stored())
        .bind(actor.acting_organisation())
        .bind(from.map_or("", ComplaintState::as_str))
        .bind(complaint.state.as_str())
        .bind(text)
        .run(self)
        .await?;
        self.insert_complaint_change(complaint, now).await
    }

    /// A complaint's history, oldest first.
    #[tracing::instrument(skip_all)]
    pub async fn complaint_events(&mut self, pass: &ComplaintPass) -> Result<Vec<ComplaintEvent>> {
        let id = pass.id();
        let rows = sqlx::query(
            "SELECT time, actor, actor_organisation, from_state, to_state, text \
             FROM complaint_events WHERE complaint_id = $1 ORDER BY id",
        )
        .bind(id.to_string())
        .all(self)
        .await?;
        rows.iter()
            .map(|row| {
                let text = |name: &str| row.try_get::<String, _>(name).map_err(db);
                let acting = text("actor_organisation")?;
                let from = text("from_state")?;
                Ok(ComplaintEvent {
                    time: Instant(row.try_get("time").map_err(db)?),
                    actor: Subject::from_stored(text("actor")?),
                    actor_organisation: if acting.is_empty() {
                        None
                    } else {
                        Some(stored("organisation", OrgNumber::parse("", &acting).ok())?)
                    },
                    from: if from.is_empty() {
                        None
                    } else {
                        Some(stored("state", ComplaintState::from_stored(&from))?)
                    },
                    to: stored("state", ComplaintState::from_stored(&text("to_state")?))?,
                    text: text("text")?,
                })
            })
            .collect()
    }

    /// The complaints the caller may see, oldest first, after the page's position; one more
    /// than the page size.
    #[tracing::instrument(skip_all)]
    pub async fn list_complaints(
        &mut self,
        filter: &ComplaintListFilter,
        who: &Principal,
        page: Page,
    ) -> Result<Vec<ComplaintAccessRow>> {
        let after = page.after.map(|id| id.to_string()).unwrap_or_default();
        let limit = page.limit();
        let page_of = |statement: Statement| {
            let mut statement = statement
                .sql(" AND c.id > ")
                .bind(after.clone())
                .sql(" AND c.create_time < ")
                .bind(filter.filed_before.map_or(i64::MAX, |t| t.0));
            if filter.awaiting_organisation {
                let states = [
                    ComplaintState::Submitted,
                    ComplaintState::UnderReview,
                    ComplaintState::Returned,
                ];
                statement = statement.sql(" AND c.state IN ").list(states.map(|s| s.as_str()));
            }
            statement.sql(" ORDER BY c.id LIMIT ").bind(limit)
        };
        let select = |s: Statement| s.sql("SELECT c.id AS id FROM complaints c WHERE ");
        // One branch per source of visibility, each on its own index and stopping after a page.
        let mut visible = Visible::new();
        if filter.read.grants(Relation::Complainant) {
            visible = visible.branch(|s| page_of(select(s).sql("c.complainant = ").subject(who)));
        }
        if filter.read.grants(Relation::ComplaintPatient) && who.national_id.is_some() {
            visible =
                visible.branch(|s| page_of(select(s).sql("c.patient_id = ").national_id(who)));
        }
        if !filter.read.org_roles.is_empty() && who.organisation.is_some() {
            for column in ["c.organisation_id", "c.forwarded_to"] {
                visible = visible
                    .branch(|s| page_of(filter.read.held_in(select(s).sql("1 = 1"), column, who)));
            }
        }
        let Some(visible) = visible.finish() else {
            return Ok(Vec::new());
        };
        let statement = complaint_select(visible, who)
            .sql("WHERE c.id IN (SELECT id FROM visible) ORDER BY c.id LIMIT ")
            .bind(limit);
        let rows = statement.all(self).await?;
        rows.iter().map(access_from_row).collect()
    }
}

fn access_from_row(row: &AnyRow) -> Result<ComplaintAccessRow> {
    let text = |name: &str| row.try_get::<String, _>(name).map_err(db);
    let optional = |name: &str| row.try_get::<Option<String>, _>(name).map_err(db);
    let flag = |name: &str| row.try_get::<i64, _>(name).map(|v| v == 1).map_err(db);
    let date = |name: &str| -> Result<Date> { stored("date", Date::from_stored(&text(name)?)) };
    let relation = text("representative_relation")?;
    let complaint = Complaint {
        id: stored("complaint id", ResourceId::parse(&text("id")?))?,
        organisation: stored("organisation", OrgNumber::parse("", &text("organisation_id")?).ok())?,
        patient: stored("patient id", NationalId::parse("", &text("patient_id")?).ok())?,
        complainant: Subject::from_stored(text("complainant")?),
        representative: if relation.is_empty() {
            None
        } else {
            Some(stored("relation", RepresentativeRelation::from_stored(&relation))?)
        },
        kind: stored("kind", ComplaintKind::from_stored(&text("kind")?))?,
        text: text("text")?,
        plan: optional("plan_id")?.map(|p| stored("plan id", ResourceId::parse(&p))).transpose()?,
        application: optional("child_coordinator_application_id")?
            .map(|a| stored("application id", ResourceId::parse(&a)))
            .transpose()?,
        learned_of: date("learned_of")?,
        deadline: date("deadline")?,
        late: flag("late")?,
        patient_named: flag("patient_named")?,
        state: stored("state", ComplaintState::from_stored(&text("state")?))?,
        forwarded_to: optional("forwarded_to")?
            .map(|o| stored("organisation", OrgNumber::parse("", &o).ok()))
            .transpose()?,
        decision: optional("decision")?
            .map(|d| stored("decision", Outcome::from_stored(&d)))
            .transpose()?,
        revision: row.try_get("revision").map_err(db)?,
        create_time: Instant(row.try_get("create_time").map_err(db)?),
        update_time: Instant(row.try_get("update_time").map_err(db)?),
    };
    Ok(ComplaintAccessRow {
        complaint,
        complainant: flag("is_complainant")?,
        patient: flag("is_patient")?,
        grants_epoch: row.try_get("grants_epoch").map_err(db)?,
    })
}
