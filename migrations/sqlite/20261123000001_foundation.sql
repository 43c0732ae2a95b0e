-- The foundation: plans, their responsibility groups, organisation role grants, the access log.
-- Instants are microseconds since the Unix epoch (BIGINT), alike on SQLite and PostgreSQL.
-- Every table carries organisation_id: the tenant the row belongs to.

CREATE TABLE plans (
    id                   TEXT    NOT NULL PRIMARY KEY,
    organisation_id      TEXT    NOT NULL,
    patient_id           TEXT    NOT NULL,
    patient_display_name TEXT    NOT NULL,
    kind                 TEXT    NOT NULL CHECK (kind IN ('general', 'palliative')),
    status               TEXT    NOT NULL CHECK (status IN ('requested', 'active', 'declined', 'closed')),
    revision             BIGINT  NOT NULL,
    create_time          BIGINT  NOT NULL,
    update_time          BIGINT  NOT NULL,
    created_by           TEXT    NOT NULL
);
CREATE INDEX plans_by_organisation ON plans (organisation_id, id);
CREATE INDEX plans_by_patient ON plans (patient_id, id);

-- organisation_id is the plan's organisation; acting_organisation the one the member acts for
-- ('' for citizens, who act for themselves).
CREATE TABLE members (
    id                  TEXT   NOT NULL PRIMARY KEY,
    organisation_id     TEXT   NOT NULL,
    plan_id             TEXT   NOT NULL REFERENCES plans (id),
    subject             TEXT   NOT NULL,
    display_name        TEXT   NOT NULL,
    role                TEXT   NOT NULL,
    acting_organisation TEXT   NOT NULL,
    start_time          BIGINT NOT NULL,
    end_time            BIGINT,
    revision            BIGINT NOT NULL,
    create_time         BIGINT NOT NULL,
    created_by          TEXT   NOT NULL
);
CREATE INDEX members_by_plan ON members (plan_id, id);
CREATE INDEX members_by_subject ON members (subject, plan_id);
-- One open-ended membership per subject and plan.
CREATE UNIQUE INDEX members_one_open ON members (plan_id, subject) WHERE end_time IS NULL;

CREATE TABLE role_grants (
    id              TEXT   NOT NULL PRIMARY KEY,
    organisation_id TEXT   NOT NULL,
    subject         TEXT   NOT NULL,
    role            TEXT   NOT NULL CHECK (role IN ('admin', 'unit_staff')),
    granted_by      TEXT   NOT NULL,
    create_time     BIGINT NOT NULL,
    UNIQUE (organisation_id, subject, role)
);
CREATE INDEX role_grants_by_subject ON role_grants (subject, organisation_id);

-- Bumped in the transaction of every grant and revoke, so each server node sees that its
-- in-memory policy is stale on the very next request and reloads it.
CREATE TABLE role_grants_epoch (
    id    BIGINT NOT NULL PRIMARY KEY CHECK (id = 1),
    epoch BIGINT NOT NULL
);
INSERT INTO role_grants_epoch (id, epoch) VALUES (1, 0);

-- Every read and write of a plan, and every organisation-level action, allowed or denied.
CREATE TABLE access_log (
    id                  TEXT   NOT NULL PRIMARY KEY,
    organisation_id     TEXT   NOT NULL,
    plan_id             TEXT,
    subject             TEXT   NOT NULL,
    acting_organisation TEXT   NOT NULL,
    relations           TEXT   NOT NULL,
    object              TEXT   NOT NULL,
    action              TEXT   NOT NULL,
    allowed             BIGINT NOT NULL,
    time                BIGINT NOT NULL
);
CREATE INDEX access_log_by_plan ON access_log (plan_id, time);
CREATE INDEX access_log_by_organisation ON access_log (organisation_id, time);
