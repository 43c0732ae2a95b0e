-- A family's application for a child coordinator (barnekoordinator, pasient- og
-- brukerrettighetsloven § 2-5 c). organisation_id is the municipality applied to (the tenant).
-- child_id is '' while the child is expected; expected_birth_date is then set. applicant is the
-- parent's stored subject. The coordinator_* columns hold the coordinator chosen on acceptance
-- ('' before); assignment_id and plan_id the appointment on the child's plan, once made.
CREATE TABLE child_coordinator_applications (
    id                       TEXT   NOT NULL PRIMARY KEY,
    organisation_id          TEXT   NOT NULL,
    child_id                 TEXT   NOT NULL,
    child_display_name       TEXT   NOT NULL,
    expected_birth_date      TEXT,
    needs                    TEXT   NOT NULL,
    applicant                TEXT   NOT NULL,
    applicant_display_name   TEXT   NOT NULL,
    state                    TEXT   NOT NULL CHECK (state IN ('submitted', 'accepted', 'declined')),
    plan_id                  TEXT   REFERENCES plans (id),
    assignment_id            TEXT,
    coordinator_subject      TEXT   NOT NULL,
    coordinator_display_name TEXT   NOT NULL,
    coordinator_organisation TEXT   NOT NULL,
    coordinator_wish_followed BIGINT NOT NULL,
    coordinator_reason       TEXT   NOT NULL,
    response                 TEXT   NOT NULL,
    revision                 BIGINT NOT NULL,
    create_time              BIGINT NOT NULL,
    response_time            BIGINT
);
CREATE INDEX child_coordinator_applications_by_organisation
    ON child_coordinator_applications (organisation_id, id);
CREATE INDEX child_coordinator_applications_by_applicant
    ON child_coordinator_applications (applicant, id);

-- A complaint of kind no_child_coordinator can name the application it is about.
ALTER TABLE complaints ADD COLUMN child_coordinator_application_id TEXT;
