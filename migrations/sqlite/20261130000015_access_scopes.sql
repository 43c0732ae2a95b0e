-- Access scopes: the patient narrows what one member (subject, acting for scoped_organisation,
-- '' for a citizen) or everyone serving for an organisation (subject '') sees of their plan, and
-- for how long; organisation_id is the plan's, the tenant, as on every table. parts is a bit set of plan parts (domain::scope::PlanPart, in declaration
-- order). A scope whose expire_time has passed grants nothing. member_id is the membership the
-- scope was given for ('' for an organisation's). At most one scope per plan and target.
CREATE TABLE access_scopes (
    id              TEXT   NOT NULL PRIMARY KEY,
    organisation_id TEXT   NOT NULL,
    plan_id         TEXT   NOT NULL REFERENCES plans (id),
    subject         TEXT   NOT NULL,
    scoped_organisation TEXT  NOT NULL,
    member_id       TEXT   NOT NULL,
    parts           BIGINT NOT NULL,
    expire_time     BIGINT,
    created_by      TEXT   NOT NULL,
    create_time     BIGINT NOT NULL,
    UNIQUE (plan_id, scoped_organisation, subject)
);
