//! A plan's access log as its patient reads it (ListAccessEvents): the entries about the plan,
//! newest first, each with what the database knows of who made it: the name and role they
//! serve on the plan's group under, their role in the organisation they acted for, and that
//! organisation's name. Subjects never leave the store: the caller learns only whether an
//! entry is the patient's or their own.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Run, Session, Statement, db, stored};
use crate::auth::PlanPass;
use crate::domain::Result;
use crate::domain::access_event::{AccessEventFilter, Accessor};
use crate::domain::ids::{OrgNumber, ResourceId};
use crate::domain::member::MemberRole;
use crate::domain::organisation::OrgRole;
use crate::domain::page::Page;
use crate::domain::principal::Principal;
use crate::domain::relation::Relation;
use crate::domain::subject::Subject;
use crate::domain::time::Instant;

/// One entry of a plan's access log, with its accessor as the patient may see them: the name
/// and role they served on the group under and the organisation roles they held, each as it
/// was when the entry was made.
#[derive(Debug)]
pub struct AccessEventRow {
    /// The entry's id.
    pub id: ResourceId,
    /// When.
    pub time: Instant,
    /// Who, as the patient may see them.
    pub accessor: Accessor,
    /// The policy's object and action.
    pub object: String,
    /// The policy's action.
    pub action: String,
    /// The RPC it was logged for; empty for old entries.
    pub operation: String,
    /// Whether it was allowed.
    pub allowed: bool,
    /// Whether the accessor saw the plan through an access scope: only the parts it gives.
    pub scoped: bool,
}

/// The membership of the entry's subject on the plan, acting for the organisation the entry
/// names, that was in force when the entry was made: `column` of it. Taken at the entry's
/// time, so that ending a membership and beginning another under a new name or role does not
/// relabel what was done under the old one.
fn membership(column: &str) -> String {
    format!(
        "(SELECT m.{column} FROM members m WHERE m.plan_id = a.plan_id AND m.subject = a.subject \
         AND m.acting_organisation = a.acting_organisation AND m.start_time <= a.time \
         AND (m.end_time IS NULL OR m.end_time > a.time) ORDER BY m.start_time DESC LIMIT 1)"
    )
}

impl Session {
    /// The entries about the plan `pass` is for that `filter` selects, newest first (by time,
    /// then id), after the page's position; one more than the page holds, so the caller knows
    /// whether another follows. `who` is the caller, whose own entries are marked.
    #[tracing::instrument(skip_all)]
    pub async fn list_access_events(
        &mut self,
        pass: &PlanPass,
        who: &Principal,
        filter: &AccessEventFilter,
        page: Page,
    ) -> Result<Vec<AccessEventRow>> {
        let plan = pass.plan();
        let patient = Subject::citizen(&plan.patient);
        let columns = format!(
            "SELECT a.id, a.time, a.subject, a.acting_organisation, a.object, a.action, \
             a.allowed, a.operation, a.roles, a.relations, {} AS member_name, {} AS member_role, \
             o.name AS organisation_name \
             FROM access_log a LEFT JOIN organisations o ON o.organisation_id = a.acting_organisation \
             WHERE a.plan_id = ",
            membership("display_name"),
            membership("role"),
        );
        let mut statement = Statement::new(&columns).bind(pass.id().to_string());
        if let Some(start) = filter.start {
            statement = statement.sql(" AND a.time >= ").bind(start.0);
        }
        if let Some(end) = filter.end {
            statement = statement.sql(" AND a.time < ").bind(end.0);
        }
        if let Some(organisation) = &filter.organisation {
            statement = statement.sql(" AND a.acting_organisation = ");
            statement = statement.bind(organisation.as_str().to_owned());
        }
        if filter.exclude_patient {
            statement = statement.sql(" AND a.subject <> ").bind(patient.as_stored().to_owned());
        }
        if let Some(after) = page.after {
            // Older than the last entry of the page before: by time, then by id.
            let after = after.to_string();
            let time_of = "(SELECT p.time FROM access_log p WHERE p.id = ";
            statement = statement.sql(&format!(" AND (a.time < {time_of}")).bind(after.clone());
            statement = statement.sql(&format!(") OR (a.time = {time_of}")).bind(after.clone());
            statement = statement.sql(") AND a.id < ").bind(after).sql("))");
        }
        // One call logs one row per plan (`LogRow::merge`), so a row is an event.
        let statement = statement.sql(" ORDER BY a.time DESC, a.id DESC LIMIT ").bind(page.limit());
        let rows = statement.all(self).await?;
        rows.iter().map(|row| event_from_row(row, plan, &patient, who)).collect()
    }
}

/// Which of several organisation roles an entry shows: the one most to do with plans first.
const SHOWN_FIRST: [OrgRole; 6] = [
    OrgRole::UnitStaff,
    OrgRole::WardStaff,
    OrgRole::Referrer,
    OrgRole::ComplaintHandler,
    OrgRole::ComplaintAuthority,
    OrgRole::Admin,
];

fn event_from_row(
    row: &AnyRow,
    plan: &crate::domain::plan::Plan,
    patient: &Subject,
    who: &Principal,
) -> Result<AccessEventRow> {
    let text = |name: &str| row.try_get::<String, _>(name).map_err(db);
    let optional = |name: &str| row.try_get::<Option<String>, _>(name).map_err(db);
    let subject = text("subject")?;
    let acting = text("acting_organisation")?;
    let is_patient = subject == patient.as_stored();
    let member_role = optional("member_role")?
        .map(|role| stored("member role", MemberRole::from_stored(&role)))
        .transpose()?;
    // The roles held when the entry was made, the one most to do with plans shown.
    let held = text("roles")?;
    let held: Vec<OrgRole> = held.split(',').filter_map(OrgRole::from_stored).collect();
    let organisation_role = SHOWN_FIRST.iter().copied().find(|r| held.contains(r));
    let display_name = match is_patient {
        true => plan.patient_display_name.clone(),
        false => optional("member_name")?.unwrap_or_default(),
    };
    let accessor = Accessor {
        display_name,
        member_role,
        organisation_role,
        organisation: OrgNumber::parse("acting_organisation", &acting).ok(),
        organisation_name: optional("organisation_name")?.unwrap_or_default(),
        patient: is_patient,
        caller: subject == who.subject.as_stored() && acting == who.acting_organisation(),
    };
    Ok(AccessEventRow {
        id: stored("access event id", ResourceId::parse(&text("id")?))?,
        time: Instant(row.try_get("time").map_err(db)?),
        accessor,
        object: text("object")?,
        action: text("action")?,
        operation: text("operation")?,
        allowed: row.try_get::<i64, _>("allowed").map_err(db)? == 1,
        scoped: text("relations")?.split(',').any(|r| r == Relation::Scoped.as_str()),
    })
}

#[cfg(test)]
mod tests {
    /// The access log is append-only: no statement of the server changes or deletes an entry.
    #[test]
    fn no_statement_changes_or_deletes_the_access_log() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let forbidden =
            [["UPDATE", "access_log"].join(" "), ["DELETE FROM", "access_log"].join(" ")];
        let mut folders = vec![root];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder).expect("source folder") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    folders.push(path);
                    continue;
                }
                let text = std::fs::read_to_string(&path).expect("source file").to_uppercase();
                for statement in &forbidden {
                    assert!(!text.contains(&statement.to_uppercase()), "{}", path.display());
                }
            }
        }
    }
}
