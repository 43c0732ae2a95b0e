-- Complaints, and the organisation roles that handle them.

-- SQLite cannot alter a CHECK constraint, so role_grants is rebuilt with the new roles.
CREATE TABLE role_grants_new (
    id              TEXT   NOT NULL PRIMARY KEY,
    organisation_id TEXT   NOT NULL,
    subject         TEXT   NOT NULL,
    role            TEXT   NOT NULL CHECK (role IN ('admin', 'unit_staff', 'complaint_handler', 'complaint_authority')),
    granted_by      TEXT   NOT NULL,
    create_time     BIGINT NOT NULL,
    UNIQUE (organisation_id, subject, role)
);
INSERT INTO role_grants_new (id, organisation_id, subject, role, granted_by, create_time)
    SELECT id, organisation_id, subject, role, granted_by, create_time FROM role_grants;
DROP TABLE role_grants;
ALTER TABLE role_grants_new RENAME TO role_grants;
CREATE INDEX role_grants_by_subject ON role_grants (subject, organisation_id);

-- Complaints against an organisation, and every step of their handling. organisation_id is
-- the organisation complained against; forwarded_to the county governor once forwarded.
CREATE TABLE complaints (
    id                      TEXT   NOT NULL PRIMARY KEY,
    organisation_id         TEXT   NOT NULL,
    patient_id              TEXT   NOT NULL,
    complainant             TEXT   NOT NULL,
    representative_relation TEXT   NOT NULL,
    kind                    TEXT   NOT NULL,
    text                    TEXT   NOT NULL,
    plan_id                 TEXT   REFERENCES plans (id),
    learned_of              TEXT   NOT NULL,
    deadline                TEXT   NOT NULL,
    late                    BIGINT NOT NULL,
    state                   TEXT   NOT NULL,
    forwarded_to            TEXT,
    decision                TEXT,
    revision                BIGINT NOT NULL,
    create_time             BIGINT NOT NULL,
    update_time             BIGINT NOT NULL
);
CREATE INDEX complaints_by_organisation ON complaints (organisation_id, id);
CREATE INDEX complaints_by_authority ON complaints (forwarded_to, id);
CREATE INDEX complaints_by_complainant ON complaints (complainant, id);
CREATE INDEX complaints_by_patient ON complaints (patient_id, id);

-- from_state is '' for the filing; actor_organisation '' for citizens.
CREATE TABLE complaint_events (
    id                 TEXT   NOT NULL PRIMARY KEY,
    organisation_id    TEXT   NOT NULL,
    complaint_id       TEXT   NOT NULL REFERENCES complaints (id),
    time               BIGINT NOT NULL,
    actor              TEXT   NOT NULL,
    actor_organisation TEXT   NOT NULL,
    from_state         TEXT   NOT NULL,
    to_state           TEXT   NOT NULL,
    text               TEXT   NOT NULL
);
CREATE INDEX complaint_events_by_complaint ON complaint_events (complaint_id, id);

ALTER TABLE access_log ADD COLUMN complaint_id TEXT;
CREATE INDEX access_log_by_complaint ON access_log (complaint_id, time);
