//! Access scopes (`domain::scope`): kept per plan, and asked about in the same query that loads
//! a caller's relations to a plan or lists the plans they may see.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Execute, Run, Session, Statement, db, stored};
use crate::auth::PlanPass;
use crate::domain::ids::{OrgNumber, ResourceId};
use crate::domain::limits::Holding;
use crate::domain::member::MemberRole;
use crate::domain::principal::Principal;
use crate::domain::scope::{AccessScope, Parts, ScopeTarget, Scoped};
use crate::domain::time::Instant;
use crate::domain::{Error, Result};

const COLUMNS: &str = "id, plan_id, subject, scoped_organisation, member_id, parts, expire_time, created_by, \
     create_time";

/// A scope's parts in the packed column, with a bit that says the scope exists.
const PRESENT: i64 = 1 << 6;
/// Where an organisation's scope sits in the packed column, above a person's.
const ORGANISATION_SHIFT: i64 = 1 << 7;

/// Appends `NOT (…)`: the membership `m` has not lapsed at `now`. A membership lapses when a
/// scope on it, the person's (whatever organisation they serve for) or their organisation's,
/// has expired: it then grants nothing. Scopes never narrow those who run the plan, so a
/// coordinator's membership does not lapse, nor a representative's while their powers last.
pub(super) fn not_lapsed(statement: Statement, now: Instant) -> Statement {
    statement
        .sql("NOT (m.role <> ")
        .bind(MemberRole::Coordinator.as_str())
        .sql(" AND NOT (m.role = ")
        .bind(MemberRole::Representative.as_str())
        .sql(" AND (m.powers_end_time IS NULL OR m.powers_end_time > ")
        .bind(now.0)
        .sql(
            ")) AND EXISTS (SELECT 1 FROM access_scopes s WHERE s.plan_id = m.plan_id \
             AND s.subject IN (m.subject, '') AND s.scoped_organisation IN ('', m.acting_organisation) \
             AND s.expire_time IS NOT NULL AND s.expire_time <= ",
        )
        .bind(now.0)
        .sql("))")
}

/// Appends `, (…) AS scopes`: the caller's scopes on plan `p`, packed in one integer (NULL
/// when none): the person's (whatever organisation they act for) parts with the `PRESENT` bit
/// in the low bits, the organisation's they act for above them. Read back with `unpack`.
pub(super) fn scopes_column(statement: Statement, who: &Principal) -> Statement {
    statement
        .sql(&format!(
            ", (SELECT CAST(SUM(CASE WHEN s.subject = '' THEN (s.parts + {PRESENT}) * \
             {ORGANISATION_SHIFT} ELSE s.parts + {PRESENT} END) AS BIGINT) FROM access_scopes s \
             WHERE s.plan_id = p.id AND s.subject IN ("
        ))
        .subject(who)
        .sql(", '') AND s.scoped_organisation IN ('', ")
        .acting(who)
        .sql(")) AS scopes")
}

/// The parts the caller's scopes give, from the column `scopes_column` made: `None` when no
/// scope names them, else what every scope that does gives.
pub(super) fn unpack(packed: Option<i64>) -> Option<Parts> {
    let packed = packed?;
    let person = packed % ORGANISATION_SHIFT;
    let organisation = packed / ORGANISATION_SHIFT;
    [person, organisation]
        .into_iter()
        .filter(|p| p & PRESENT != 0)
        .map(|p| Parts::from_stored(p & (PRESENT - 1)))
        .reduce(Parts::intersect)
}

impl Session {
    /// Stores a new scope on the plan `pass` is for: a person's (`subject`, stored, with
    /// `organisation` ''), which follows them whatever organisation they serve for, or an
    /// organisation's (`subject` ''). `ALREADY_EXISTS` when the person, or the organisation, has
    /// one; `FAILED_PRECONDITION` when the plan holds as many as it may.
    #[tracing::instrument(skip_all)]
    pub async fn insert_scope(
        &mut self,
        pass: &PlanPass,
        scope: &AccessScope,
        subject: &str,
        organisation: &str,
    ) -> Result<()> {
        pass.covers(scope.plan)?;
        self.check_room(Holding::Scopes, pass, scope.create_time).await?;
        let taken = Statement::new("SELECT id FROM access_scopes WHERE plan_id = ")
            .bind(scope.plan.to_string())
            .sql(" AND subject = ")
            .bind(subject.to_owned())
            .sql(" AND scoped_organisation = ")
            .bind(organisation.to_owned())
            .optional(self)
            .await?;
        if taken.is_some() {
            return Err(Error::AlreadyExists(
                "they have an access scope on this plan already: delete it first".into(),
            ));
        }
        let member = match &scope.target {
            ScopeTarget::Member(id) => id.to_string(),
            ScopeTarget::Organisation(_) => String::new(),
        };
        Statement::new(
            "INSERT INTO access_scopes (id, organisation_id, plan_id, subject, \
             scoped_organisation, member_id, parts, expire_time, created_by, create_time) VALUES (",
        )
        .bind(scope.id.to_string())
        .sql(", ")
        .bind(pass.plan().organisation.as_str().to_owned())
        .sql(", ")
        .bind(scope.plan.to_string())
        .sql(", ")
        .bind(subject.to_owned())
        .sql(", ")
        .bind(organisation.to_owned())
        .sql(", ")
        .bind(member)
        .sql(", ")
        .bind(scope.parts.bits())
        .sql(", ")
        .bind(scope.expire_time.map(|t| t.0))
        .sql(", ")
        .bind(scope.created_by.clone())
        .sql(", ")
        .bind(scope.create_time.0)
        .sql(")")
        .run(self)
        .await?;
        Ok(())
    }

    /// The plan's scopes, oldest first; at most as many as a plan may hold.
    #[tracing::instrument(skip_all)]
    pub async fn list_scopes(&mut self, pass: &PlanPass) -> Result<Vec<AccessScope>> {
        let statement = Statement::of_plan(COLUMNS, "access_scopes", "", pass)
            .sql(" ORDER BY id LIMIT ")
            .bind(Holding::Scopes.cap());
        statement.all(self).await?.iter().map(scope_from_row).collect()
    }

    /// One scope of the plan; `NOT_FOUND` when the plan has no such scope.
    #[tracing::instrument(skip_all)]
    pub async fn scope(&mut self, pass: &PlanPass, id: ResourceId) -> Result<AccessScope> {
        let of_plan = Statement::of_plan(COLUMNS, "access_scopes", "", pass);
        scope_from_row(&self.item_row(of_plan.item("", id), "access scope").await?)
    }

    /// Deletes a scope: its target regains what their relations give them.
    #[tracing::instrument(skip_all)]
    pub async fn delete_scope(&mut self, pass: &PlanPass, scope: &AccessScope) -> Result<()> {
        pass.covers(scope.plan)?;
        let deleted = Statement::new("DELETE FROM access_scopes WHERE id = ")
            .bind(scope.id.to_string())
            .run(self)
            .await?;
        if deleted != 1 {
            return Err(Error::NotFound("access scope"));
        }
        Ok(())
    }

    /// What of the plan `pass` is for is the caller's own, for a scoped sight: their
    /// memberships, ended ones and those for other organisations too, and the measures they
    /// are responsible for through any of them, with the goals those serve.
    #[tracing::instrument(skip_all)]
    pub async fn own_items(
        &mut self,
        pass: &PlanPass,
        who: &Principal,
        parts: Parts,
    ) -> Result<Scoped> {
        let id = |row: &AnyRow, column: &str| -> Result<ResourceId> {
            let text = row.try_get::<String, _>(column).map_err(db)?;
            stored("item id", ResourceId::parse(&text))
        };
        let subject = who.subject.as_stored().to_owned();
        let mut own = Scoped { parts, subject, ..Scoped::default() };
        let memberships = Statement::new("SELECT m.id FROM members m WHERE m.plan_id = ")
            .bind(pass.id().to_string())
            .sql(" AND m.subject = ")
            .subject(who);
        for row in memberships.all(self).await? {
            own.memberships.insert(id(&row, "id")?);
        }
        let measures = Statement::new(
            "SELECT ms.id, ms.goal_id FROM measures ms JOIN members m \
             ON m.id = ms.responsible_member_id WHERE ms.plan_id = ",
        )
        .bind(pass.id().to_string())
        .sql(" AND m.subject = ")
        .subject(who);
        for row in measures.all(self).await? {
            own.measures.insert(id(&row, "id")?);
            own.goals.insert(id(&row, "goal_id")?);
        }
        Ok(own)
    }
}

fn scope_from_row(row: &AnyRow) -> Result<AccessScope> {
    let text = |name: &str| row.try_get::<String, _>(name).map_err(db);
    let member = text("member_id")?;
    let target = if member.is_empty() {
        let org = text("scoped_organisation")?;
        ScopeTarget::Organisation(stored("scoped organisation", OrgNumber::parse("", &org).ok())?)
    } else {
        ScopeTarget::Member(stored("member id", ResourceId::parse(&member))?)
    };
    Ok(AccessScope {
        id: stored("access scope id", ResourceId::parse(&text("id")?))?,
        plan: stored("plan id", ResourceId::parse(&text("plan_id")?))?,
        target,
        parts: Parts::from_stored(row.try_get("parts").map_err(db)?),
        expire_time: row.try_get::<Option<i64>, _>("expire_time").map_err(db)?.map(Instant),
        created_by: text("created_by")?,
        create_time: Instant(row.try_get("create_time").map_err(db)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::scope::PlanPart;

    #[test]
    fn packed_scopes_unpack_to_what_each_gives() {
        let person = Parts::of([PlanPart::Meetings, PlanPart::GoalsAndMeasures]);
        let org = Parts::of([PlanPart::GoalsAndMeasures, PlanPart::Contacts]);
        let packed = |p: Option<Parts>, o: Option<Parts>| {
            p.map_or(0, |p| p.bits() + PRESENT)
                + o.map_or(0, |o| (o.bits() + PRESENT) * ORGANISATION_SHIFT)
        };
        assert_eq!(unpack(None), None);
        assert_eq!(unpack(Some(packed(Some(person), None))), Some(person));
        assert_eq!(unpack(Some(packed(None, Some(org)))), Some(org));
        assert_eq!(
            unpack(Some(packed(Some(person), Some(org)))),
            Some(Parts::of([PlanPart::GoalsAndMeasures]))
        );
        let nothing = Parts::default();
        assert_eq!(unpack(Some(packed(Some(nothing), None))), Some(nothing));
    }
}
