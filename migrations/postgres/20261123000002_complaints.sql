-- Complaints, and the organisation roles that handle them.

ALTER TABLE role_grants DROP CONSTRAINT role_grants_role_check;
ALTER TABLE role_grants ADD CONSTRAINT role_grants_role_check
    CHECK (role IN ('admin', 'unit_staff', 'complaint_handler', 'complaint_authority'));

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
