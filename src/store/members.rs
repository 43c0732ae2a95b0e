//! Memberships of responsibility groups.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Execute, Run, Session, Statement, db, is_unique_violation, stored};
use crate::auth::PlanPass;
use crate::domain::ids::{OrgNumber, ResourceId};
use crate::domain::limits::Holding;
use crate::domain::member::{Member, MemberRole, NewMember, RepresentativeBasis};
use crate::domain::page::Page;
use crate::domain::subject::Subject;
use crate::domain::time::Instant;
use crate::domain::{Error, Result};

// A membership's columns, with the name of the organisation it acts for from the registry.
const MEMBER_COLUMNS: &str = "m.id, m.plan_id, m.subject, m.display_name, m.role, \
     m.acting_organisation, m.start_time, m.end_time, m.basis, m.basis_reference, \
     m.powers_end_time, m.created_by, m.create_time, m.revision, o.name AS organisation_name";
const MEMBER_FROM: &str =
    "members m LEFT JOIN organisations o ON o.organisation_id = m.acting_organisation";

fn already_member() -> Error {
    Error::AlreadyExists("the subject already serves on this plan".into())
}

impl Session {
    /// Adds a member to `plan`'s group. A subject serves at most once at a time, and nobody
    /// a block on the plan keeps out serves at all (FAILED_PRECONDITION): no relation is made
    /// for the blocked, whoever would make it.
    #[tracing::instrument(skip_all)]
    pub async fn insert_member(
        &mut self,
        pass: &PlanPass,
        new: &NewMember,
        created_by: &Subject,
        now: Instant,
    ) -> Result<Member> {
        let plan = pass.plan();
        let serving: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(1 AS BIGINT) FROM members WHERE plan_id = $1 AND subject = $2 \
             AND (end_time IS NULL OR end_time > $3)",
        )
        .bind(plan.id.to_string())
        .bind(new.subject.as_stored())
        .bind(now.0)
        .optional(self)
        .await?;
        if serving.is_some() {
            return Err(already_member());
        }
        let blocks = self.list_blocks(pass, false).await?;
        if blocks.iter().any(|b| b.keeps_out(new.subject.as_stored(), new.organisation.as_ref())) {
            return Err(Error::FailedPrecondition(
                "the patient blocked them from the plan: they cannot serve on its group".into(),
            ));
        }
        self.check_room(Holding::Members, pass, now).await?;
        let organisation_name = match &new.organisation {
            Some(org) => self.organisation(org).await?.map(|o| o.name).unwrap_or_default(),
            None => String::new(),
        };
        let member = Member {
            blocked: false,
            organisation_name,
            id: ResourceId::generate(),
            plan: plan.id,
            subject: new.subject.clone(),
            display_name: new.display_name.clone(),
            role: new.role,
            organisation: new.organisation.clone(),
            start_time: new.start_time.unwrap_or(now),
            end_time: new.end_time,
            basis: new.basis,
            basis_reference: new.basis_reference.clone(),
            powers_end_time: new.powers_end_time,
            added_by: created_by.clone(),
            create_time: now,
            revision: 1,
        };
        sqlx::query(
            "INSERT INTO members (id, organisation_id, plan_id, subject, display_name, role, \
             acting_organisation, start_time, end_time, revision, create_time, created_by, basis, \
             basis_reference, powers_end_time) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(member.id.to_string())
        .bind(plan.organisation.as_str())
        .bind(plan.id.to_string())
        .bind(member.subject.as_stored())
        .bind(member.display_name.as_str())
        .bind(member.role.as_str())
        .bind(member.organisation.as_ref().map_or("", OrgNumber::as_str))
        .bind(member.start_time.0)
        .bind(member.end_time.map(|t| t.0))
        .bind(member.revision)
        .bind(now.0)
        .bind(created_by.as_stored())
        .bind(member.basis.map_or("", RepresentativeBasis::as_str))
        .bind(member.basis_reference.as_str())
        .bind(member.powers_end_time.map(|t| t.0))
        .execute(self.conn())
        .await
        .map_err(|e| if is_unique_violation(&e) { already_member() } else { db(e) })?;
        Ok(member)
    }

    /// One membership of `plan`, ended or not; `NOT_FOUND` when the caller's sight does not
    /// reach it (a scope without the group shows only their own).
    #[tracing::instrument(skip_all)]
    pub async fn member(&mut self, pass: &PlanPass, id: ResourceId) -> Result<Member> {
        if !pass.sight().sees_member(id) {
            return Err(crate::domain::Error::NotFound("member"));
        }
        let of_plan = Statement::of_plan(MEMBER_COLUMNS, MEMBER_FROM, "m.", pass);
        member_from_row(&self.item_row(of_plan.item("m.", id), "member").await?)
    }

    /// The caller's membership of `plan` now, if any.
    #[tracing::instrument(skip_all)]
    pub async fn my_membership(
        &mut self,
        pass: &PlanPass,
        who: &crate::domain::principal::Principal,
        now: Instant,
    ) -> Result<Option<Member>> {
        let plan = pass.id();
        let sql = format!(
            "SELECT {MEMBER_COLUMNS} FROM {MEMBER_FROM} WHERE m.plan_id = $1 AND m.subject = $2 \
             AND m.acting_organisation = $3 AND m.start_time <= $4 \
             AND (m.end_time IS NULL OR m.end_time > $4) ORDER BY m.id LIMIT 1"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(plan.to_string())
            .bind(who.subject.as_stored())
            .bind(who.acting_organisation())
            .bind(now.0)
            .optional(self)
            .await?;
        row.as_ref().map(member_from_row).transpose()
    }

    /// Ends now the open memberships of `subject` acting for `organisation` on `plan`; how many
    /// it ended.
    #[tracing::instrument(skip_all)]
    pub async fn end_memberships_of(
        &mut self,
        pass: &PlanPass,
        subject: &Subject,
        organisation: &OrgNumber,
        now: Instant,
    ) -> Result<u64> {
        let plan = pass.id();
        let ended = sqlx::query(
            "UPDATE members SET end_time = $1, revision = revision + 1 WHERE plan_id = $2 \
             AND subject = $3 AND acting_organisation = $4 AND (end_time IS NULL OR end_time > $1)",
        )
        .bind(now.0)
        .bind(plan.to_string())
        .bind(subject.as_stored())
        .bind(organisation.as_str())
        .run(self)
        .await?;
        Ok(ended)
    }

    /// Ends a membership now. `FAILED_PRECONDITION` when it has ended already, `ABORTED` when
    /// `expected_revision` is given and stale.
    #[tracing::instrument(skip_all)]
    pub async fn end_member(
        &mut self,
        pass: &PlanPass,
        id: ResourceId,
        expected_revision: Option<i64>,
        now: Instant,
    ) -> Result<Member> {
        let _plan = pass.id();
        let mut member = self.member(pass, id).await?;
        if member.end_time.is_some_and(|end| end <= now) {
            return Err(Error::FailedPrecondition("the membership has already ended".into()));
        }
        if expected_revision.is_some_and(|rev| rev != member.revision) {
            return Err(stale());
        }
        // The revision condition makes a concurrent change lose here rather than be overwritten.
        let updated = sqlx::query(
            "UPDATE members SET end_time = $1, revision = revision + 1 \
             WHERE id = $2 AND revision = $3",
        )
        .bind(now.0)
        .bind(id.to_string())
        .bind(member.revision)
        .run(self)
        .await?;
        if updated != 1 {
            return Err(stale());
        }
        member.end_time = Some(now);
        member.revision += 1;
        Ok(member)
    }

    /// The members of `plan` after the page's position, current ones only unless `show_ended`;
    /// one more than the page size.
    #[tracing::instrument(skip_all)]
    pub async fn list_members(
        &mut self,
        pass: &PlanPass,
        show_ended: bool,
        page: Page,
        now: Instant,
    ) -> Result<Vec<Member>> {
        let mut of_plan = Statement::of_plan(MEMBER_COLUMNS, MEMBER_FROM, "m.", pass);
        if !show_ended {
            of_plan = of_plan.sql(" AND (m.end_time IS NULL OR m.end_time > ").bind(now.0).sql(")");
        }
        of_plan.page("m.", Some(page)).all(self).await?.iter().map(member_from_row).collect()
    }
}

fn stale() -> Error {
    Error::Aborted("the membership changed since it was read: read it again".into())
}

fn member_from_row(row: &AnyRow) -> Result<Member> {
    let text = |name: &str| row.try_get::<String, _>(name).map_err(db);
    let acting = text("acting_organisation")?;
    Ok(Member {
        blocked: false,
        id: stored("member id", ResourceId::parse(&text("id")?))?,
        plan: stored("plan id", ResourceId::parse(&text("plan_id")?))?,
        subject: Subject::from_stored(text("subject")?),
        display_name: text("display_name")?,
        role: stored("member role", MemberRole::from_stored(&text("role")?))?,
        organisation: if acting.is_empty() {
            None
        } else {
            Some(stored("organisation", OrgNumber::parse("", &acting).ok())?)
        },
        start_time: Instant(row.try_get("start_time").map_err(db)?),
        end_time: row.try_get::<Option<i64>, _>("end_time").map_err(db)?.map(Instant),
        basis: match text("basis")?.as_str() {
            "" => None,
            basis => Some(stored("representative basis", RepresentativeBasis::from_stored(basis))?),
        },
        basis_reference: text("basis_reference")?,
        powers_end_time: row.try_get::<Option<i64>, _>("powers_end_time").map_err(db)?.map(Instant),
        added_by: Subject::from_stored(text("created_by")?),
        organisation_name: row
            .try_get::<Option<String>, _>("organisation_name")
            .map_err(db)?
            .unwrap_or_default(),
        create_time: Instant(row.try_get("create_time").map_err(db)?),
        revision: row.try_get("revision").map_err(db)?,
    })
}
