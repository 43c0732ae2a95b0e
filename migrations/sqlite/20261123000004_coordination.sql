-- Coordinators, meetings and referrals, and the organisation roles that send referrals and
-- that local rules can name.

-- SQLite cannot alter a CHECK constraint, so role_grants is rebuilt with the new roles.
CREATE TABLE role_grants_new (
    id              TEXT   NOT NULL PRIMARY KEY,
    organisation_id TEXT   NOT NULL,
    subject         TEXT   NOT NULL,
    role            TEXT   NOT NULL CHECK (role IN ('admin', 'unit_staff', 'complaint_handler', 'complaint_authority', 'referrer', 'ward_staff')),
    granted_by      TEXT   NOT NULL,
    create_time     BIGINT NOT NULL,
    UNIQUE (organisation_id, subject, role)
);
INSERT INTO role_grants_new (id, organisation_id, subject, role, granted_by, create_time)
    SELECT id, organisation_id, subject, role, granted_by, create_time FROM role_grants;
DROP TABLE role_grants;
ALTER TABLE role_grants_new RENAME TO role_grants;
CREATE INDEX role_grants_by_subject ON role_grants (subject, organisation_id);

-- The patient's wish for a coordinator, and the referral a plan came from.
ALTER TABLE plans ADD COLUMN wish_display_name TEXT;
ALTER TABLE plans ADD COLUMN wish_organisation TEXT;
ALTER TABLE plans ADD COLUMN wish_note TEXT;
ALTER TABLE plans ADD COLUMN wish_time BIGINT;
ALTER TABLE plans ADD COLUMN referral_id TEXT;

-- Every appointment of a coordinator; the one without end_time is current, at most one per
-- plan. member_id is the coordinator's membership, ended with the appointment.
CREATE TABLE coordinator_assignments (
    id                  TEXT   NOT NULL PRIMARY KEY,
    organisation_id     TEXT   NOT NULL,
    plan_id             TEXT   NOT NULL REFERENCES plans (id),
    member_id           TEXT   NOT NULL REFERENCES members (id),
    subject             TEXT   NOT NULL,
    display_name        TEXT   NOT NULL,
    acting_organisation TEXT   NOT NULL,
    wish_followed       BIGINT NOT NULL,
    reason              TEXT   NOT NULL,
    appointed_by        TEXT   NOT NULL,
    start_time          BIGINT NOT NULL,
    end_time            BIGINT,
    end_reason          TEXT   NOT NULL
);
CREATE UNIQUE INDEX coordinator_assignments_one_current ON coordinator_assignments (plan_id)
    WHERE end_time IS NULL;
CREATE INDEX coordinator_assignments_by_subject ON coordinator_assignments (subject, plan_id);

-- Meetings of a plan's group. Member lists are JSON arrays of membership ids.
CREATE TABLE meetings (
    id               TEXT   NOT NULL PRIMARY KEY,
    organisation_id  TEXT   NOT NULL,
    plan_id          TEXT   NOT NULL REFERENCES plans (id),
    start_time       BIGINT NOT NULL,
    location         TEXT   NOT NULL,
    video_link       TEXT   NOT NULL,
    agenda           TEXT   NOT NULL,
    invited          TEXT   NOT NULL,
    attended         TEXT   NOT NULL,
    minutes          TEXT   NOT NULL,
    revision         BIGINT NOT NULL,
    create_time      BIGINT NOT NULL,
    update_time      BIGINT NOT NULL,
    created_by       TEXT   NOT NULL
);
CREATE INDEX meetings_by_plan ON meetings (plan_id, id);

-- Referrals from a health trust (from_organisation) to a municipality (organisation_id).
-- patient_goals is a JSON array of the patient's words.
CREATE TABLE referrals (
    id                 TEXT   NOT NULL PRIMARY KEY,
    organisation_id    TEXT   NOT NULL,
    from_organisation  TEXT   NOT NULL,
    requester          TEXT   NOT NULL,
    patient_id         TEXT   NOT NULL,
    patient_display_name TEXT NOT NULL,
    patient_goals      TEXT   NOT NULL,
    wants_plan         BIGINT NOT NULL,
    on_behalf_given_by TEXT,
    on_behalf_reason   TEXT,
    status             TEXT   NOT NULL CHECK (status IN ('sent', 'accepted', 'returned')),
    plan_id            TEXT   NOT NULL REFERENCES plans (id),
    response           TEXT   NOT NULL,
    responded_by       TEXT,
    create_time        BIGINT NOT NULL,
    response_time      BIGINT
);
CREATE INDEX referrals_by_organisation ON referrals (organisation_id, id);
CREATE INDEX referrals_by_sender ON referrals (from_organisation, id);
CREATE INDEX referrals_by_requester ON referrals (requester, id);
