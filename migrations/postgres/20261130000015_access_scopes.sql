-- Access scopes: the patient narrows what one person serving on the group (subject, whatever
-- organisation they serve for; scoped_organisation '') or everyone serving for an organisation
-- (subject '', scoped_organisation) sees of their plan, and for how long; organisation_id is
-- the plan's, the tenant, as on every table. parts is a bit set of plan parts
-- (domain::scope::PlanPart, in declaration order). A scope whose expire_time has passed grants
-- nothing. member_id is the membership a person's scope was given for ('' for an
-- organisation's). At most one scope per plan and person, and per plan and organisation. No
-- partial index: SQLite re-prepares a statement whose plan a bound value could change.
CREATE TABLE access_scopes (
    id                  TEXT   NOT NULL PRIMARY KEY,
    organisation_id     TEXT   NOT NULL,
    plan_id             TEXT   NOT NULL REFERENCES plans (id),
    subject             TEXT   NOT NULL,
    scoped_organisation TEXT   NOT NULL,
    member_id           TEXT   NOT NULL,
    parts               BIGINT NOT NULL,
    expire_time         BIGINT,
    created_by          TEXT   NOT NULL,
    create_time         BIGINT NOT NULL,
    UNIQUE (plan_id, subject, scoped_organisation)
);
