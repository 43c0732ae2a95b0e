//! Statements numbered as they are bound. sqlx's `QueryBuilder` writes `?` for the `Any`
//! driver, which PostgreSQL refuses; `Statement` writes `$1`, `$2`, … in the order values are
//! bound, so no statement depends on a numbering kept in another file, and enum values go in
//! as parameters rather than quoted into the text.
//!
//! ```text
//! Statement::new("SELECT id FROM goals WHERE plan_id = ").bind(plan).sql(" AND id > ").bind(after)
//! ```

use std::fmt::Write;

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::error::BoxDynError;
use sqlx::{Any, Arguments, AssertSqlSafe, Encode, Type};

use super::{Execute, Run, Session};
use crate::auth::PlanPass;
use crate::domain::ids::ResourceId;
use crate::domain::page::Page;
use crate::domain::principal::Principal;
use crate::domain::{Error, Result};

/// A statement under construction: its text, and the values bound so far.
pub(crate) struct Statement {
    sql: String,
    args: AnyArguments,
    error: Option<BoxDynError>,
}

impl Statement {
    /// A statement beginning with `sql`.
    pub(crate) fn new(sql: &str) -> Self {
        Statement { sql: sql.to_owned(), args: AnyArguments::default(), error: None }
    }

    /// Appends text.
    pub(crate) fn sql(mut self, sql: &str) -> Self {
        self.sql.push_str(sql);
        self
    }

    /// Appends the next parameter's placeholder and binds `value` to it.
    pub(crate) fn bind<T>(mut self, value: T) -> Self
    where
        T: 'static + Send + Encode<'static, Any> + Type<Any>,
    {
        if let Err(e) = self.args.add(value) {
            self.error.get_or_insert(e);
        }
        let _ = write!(self.sql, "${}", self.args.len());
        self
    }

    /// `SELECT columns FROM from WHERE plan_id =` the plan `pass` is for; `alias` qualifies the
    /// plan's and the items' id columns (`"m."`, or `""`).
    pub(crate) fn of_plan(columns: &str, from: &str, alias: &str, pass: &PlanPass) -> Self {
        let select = format!("SELECT {columns} FROM {from} WHERE {alias}plan_id = ");
        Statement::new(&select).bind(pass.id().to_string())
    }

    /// Narrows a statement of `of_plan` to the item `id`.
    pub(crate) fn item(self, alias: &str, id: ResourceId) -> Self {
        self.sql(&format!(" AND {alias}id = ")).bind(id.to_string())
    }

    /// Pages a statement of `of_plan` by id: the items after the page's position, in id order,
    /// one more than the page holds; all of them when `page` is `None`.
    pub(crate) fn page(self, alias: &str, page: Option<Page>) -> Self {
        let after = page.and_then(|p| p.after).map(|id| id.to_string()).unwrap_or_default();
        let limit = page.map_or(i64::MAX, |p| p.limit());
        let order = format!(" ORDER BY {alias}id LIMIT ");
        self.sql(&format!(" AND {alias}id > ")).bind(after).sql(&order).bind(limit)
    }

    /// Binds the caller's national identity number, or `''` (which no row holds) for a caller
    /// without one.
    pub(crate) fn national_id(self, who: &Principal) -> Self {
        let id = who.national_id.as_ref().map(|id| id.expose().to_owned()).unwrap_or_default();
        self.bind(id)
    }

    /// Binds the caller's stored subject.
    pub(crate) fn subject(self, who: &Principal) -> Self {
        self.bind(who.subject.as_stored().to_owned())
    }

    /// Binds the organisation the caller acts for now, or `''`.
    pub(crate) fn acting(self, who: &Principal) -> Self {
        self.bind(who.acting_organisation().to_owned())
    }

    /// Appends `(…)` binding each of `values`; `values` must not be empty.
    pub(crate) fn list<T>(self, values: impl IntoIterator<Item = T>) -> Self
    where
        T: 'static + Send + Encode<'static, Any> + Type<Any>,
    {
        let mut statement = self.sql("(");
        for (i, value) in values.into_iter().enumerate() {
            statement = if i == 0 { statement } else { statement.sql(", ") }.bind(value);
        }
        statement.sql(")")
    }

    fn query(self) -> Result<sqlx::query::Query<'static, Any, AnyArguments>> {
        match self.error {
            Some(e) => Err(Error::internal(e)),
            None => Ok(sqlx::query_with(AssertSqlSafe(self.sql), self.args)),
        }
    }
}

impl Run<AnyRow> for Statement {
    async fn all(self, session: &mut Session) -> Result<Vec<AnyRow>> {
        self.query()?.all(session).await
    }
    async fn optional(self, session: &mut Session) -> Result<Option<AnyRow>> {
        self.query()?.optional(session).await
    }
    async fn one(self, session: &mut Session) -> Result<AnyRow> {
        self.query()?.one(session).await
    }
}

impl Execute for Statement {
    async fn run(self, session: &mut Session) -> Result<u64> {
        self.query()?.run(session).await
    }
}

impl Session {
    /// Deletes the item `id` of `table` if its revision is still `expected`, with the rows of
    /// `trail` whose `column` names it (a goal's adjustments, a measure's evaluations); whether
    /// it was there at that revision. The names are the store's own, never a caller's.
    pub(crate) async fn delete_with_trail(
        &mut self,
        (table, trail, column): (&str, &str, &str),
        id: ResourceId,
        expected: i64,
    ) -> Result<bool, Error> {
        let steps = Statement::new(&format!("DELETE FROM {trail} WHERE {column} = "));
        steps.bind(id.to_string()).run(self).await?;
        let item = Statement::new(&format!("DELETE FROM {table} WHERE id = ")).bind(id.to_string());
        Ok(item.sql(" AND revision = ").bind(expected).run(self).await? == 1)
    }

    /// The row of the one item `statement` selects; `NOT_FOUND` naming `what` when there is none.
    pub(crate) async fn item_row(
        &mut self,
        statement: Statement,
        what: &'static str,
    ) -> Result<AnyRow> {
        statement.optional(self).await?.ok_or(Error::NotFound(what))
    }
}

/// `WITH visible(id) AS (…)`: the union of branches, each a query of ids in id order that stops
/// after a page. The first page of the union lies within the first page of each branch, so a
/// list costs a few pages of index walks whatever the table holds.
pub(crate) struct Visible {
    statement: Statement,
    branches: usize,
}

impl Visible {
    /// A union with no branches yet.
    pub(crate) fn new() -> Self {
        Visible { statement: Statement::new("WITH visible(id) AS ("), branches: 0 }
    }

    /// Adds the branch `branch` appends: a query of one column, `id`.
    pub(crate) fn branch(mut self, branch: impl FnOnce(Statement) -> Statement) -> Self {
        let separator = if self.branches == 0 { "" } else { " UNION " };
        let open = self.statement.sql(separator).sql("SELECT id FROM (");
        self.statement = branch(open).sql(&format!(") AS branch{}", self.branches));
        self.branches += 1;
        self
    }

    /// The `WITH` clause, ready for the query that reads `visible`; `None` when there are no
    /// branches: the caller sees nothing.
    pub(crate) fn finish(self) -> Option<Statement> {
        (self.branches > 0).then(|| self.statement.sql(") "))
    }
}
