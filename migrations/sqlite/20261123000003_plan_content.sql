-- The whole plan: the patient's sections, contacts, review date, lifecycle reason, signature,
-- consent, goals, measures, and the history of revisions.

-- version is the etag of the plan's own fields; revision (from the foundation) now counts every
-- change to the plan, its goals, measures and group; content_revision is the last revision that
-- changed content, so a signature can tell whether it still covers the plan.
ALTER TABLE plans ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE plans ADD COLUMN content_revision BIGINT NOT NULL DEFAULT 1;
ALTER TABLE plans ADD COLUMN status_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE plans ADD COLUMN important_to_me TEXT NOT NULL DEFAULT '';
ALTER TABLE plans ADD COLUMN resources_and_strengths TEXT NOT NULL DEFAULT '';
ALTER TABLE plans ADD COLUMN what_works_now TEXT NOT NULL DEFAULT '';
ALTER TABLE plans ADD COLUMN what_i_need TEXT NOT NULL DEFAULT '';
ALTER TABLE plans ADD COLUMN first_priority TEXT NOT NULL DEFAULT '';
ALTER TABLE plans ADD COLUMN thoughts_on_illness TEXT NOT NULL DEFAULT '';
ALTER TABLE plans ADD COLUMN admission_agreement TEXT NOT NULL DEFAULT '';
-- A JSON array of {name, role, organisation, phone, note}: always written whole.
ALTER TABLE plans ADD COLUMN contacts TEXT NOT NULL DEFAULT '[]';
-- YYYY-MM-DD, which sorts as dates do.
ALTER TABLE plans ADD COLUMN next_review_date TEXT;
ALTER TABLE plans ADD COLUMN signed_revision BIGINT;
ALTER TABLE plans ADD COLUMN sign_time BIGINT;
ALTER TABLE plans ADD COLUMN signed_by TEXT;
CREATE INDEX plans_by_review ON plans (organisation_id, next_review_date);

-- Every consent ever recorded; at most one in force (not withdrawn) per plan.
CREATE TABLE consents (
    id                 TEXT   NOT NULL PRIMARY KEY,
    organisation_id    TEXT   NOT NULL,
    plan_id            TEXT   NOT NULL REFERENCES plans (id),
    recipients         TEXT   NOT NULL,
    on_behalf_given_by TEXT,
    on_behalf_reason   TEXT,
    recorded_by        TEXT   NOT NULL,
    recorded_subject   TEXT   NOT NULL,
    give_time          BIGINT NOT NULL,
    withdraw_time      BIGINT,
    withdrawn_subject  TEXT,
    withdraw_reason    TEXT
);
CREATE UNIQUE INDEX consents_one_in_force ON consents (plan_id) WHERE withdraw_time IS NULL;

-- The recipients of the consent in force, one row each, for the access query's EXISTS. Rows go
-- when the consent is withdrawn or replaced, in the same transaction.
CREATE TABLE consent_recipients (
    plan_id         TEXT NOT NULL REFERENCES plans (id),
    recipient       TEXT NOT NULL,
    organisation_id TEXT NOT NULL,
    consent_id      TEXT NOT NULL REFERENCES consents (id),
    PRIMARY KEY (plan_id, recipient)
);

CREATE TABLE goals (
    id              TEXT   NOT NULL PRIMARY KEY,
    organisation_id TEXT   NOT NULL,
    plan_id         TEXT   NOT NULL REFERENCES plans (id),
    text            TEXT   NOT NULL,
    priority        BIGINT NOT NULL,
    status          TEXT   NOT NULL CHECK (status IN ('proposed', 'agreed', 'achieved', 'dropped')),
    target_date     TEXT,
    revision        BIGINT NOT NULL,
    create_time     BIGINT NOT NULL,
    update_time     BIGINT NOT NULL,
    created_by      TEXT   NOT NULL
);
CREATE INDEX goals_by_plan ON goals (plan_id, id);

CREATE TABLE goal_adjustments (
    id               TEXT   NOT NULL PRIMARY KEY,
    organisation_id  TEXT   NOT NULL,
    plan_id          TEXT   NOT NULL,
    goal_id          TEXT   NOT NULL REFERENCES goals (id),
    author           TEXT   NOT NULL,
    author_relations TEXT   NOT NULL,
    reason           TEXT   NOT NULL,
    proposed_text    TEXT   NOT NULL,
    previous_text    TEXT   NOT NULL,
    new_text         TEXT   NOT NULL,
    previous_status  TEXT,
    new_status       TEXT,
    create_time      BIGINT NOT NULL
);
CREATE INDEX goal_adjustments_by_goal ON goal_adjustments (goal_id, id);

CREATE TABLE measures (
    id                    TEXT   NOT NULL PRIMARY KEY,
    organisation_id       TEXT   NOT NULL,
    plan_id               TEXT   NOT NULL REFERENCES plans (id),
    goal_id               TEXT   NOT NULL REFERENCES goals (id),
    description           TEXT   NOT NULL,
    responsible_member_id TEXT   NOT NULL REFERENCES members (id),
    start_date            TEXT,
    end_date              TEXT,
    frequency             TEXT   NOT NULL,
    status                TEXT   NOT NULL CHECK (status IN ('planned', 'ongoing', 'done', 'cancelled')),
    revision              BIGINT NOT NULL,
    create_time           BIGINT NOT NULL,
    update_time           BIGINT NOT NULL,
    created_by            TEXT   NOT NULL
);
CREATE INDEX measures_by_plan ON measures (plan_id, id);
CREATE INDEX measures_by_goal ON measures (goal_id);

CREATE TABLE measure_evaluations (
    id               TEXT   NOT NULL PRIMARY KEY,
    organisation_id  TEXT   NOT NULL,
    plan_id          TEXT   NOT NULL,
    measure_id       TEXT   NOT NULL REFERENCES measures (id),
    date             TEXT   NOT NULL,
    text             TEXT   NOT NULL,
    author           TEXT   NOT NULL,
    author_relations TEXT   NOT NULL,
    create_time      BIGINT NOT NULL
);
CREATE INDEX measure_evaluations_by_measure ON measure_evaluations (measure_id, id);

-- One row per history revision. snapshot is the plan as GetPlan returned it then (plan, goals,
-- measures), encoded as the samvirke.v1 GetPlanResponse message: protobuf's own compatibility
-- rules keep old snapshots readable as the contract grows. Identities are filtered on the way
-- out, as for the current plan.
CREATE TABLE plan_revisions (
    id               TEXT   NOT NULL PRIMARY KEY,
    organisation_id  TEXT   NOT NULL,
    plan_id          TEXT   NOT NULL REFERENCES plans (id),
    revision         BIGINT NOT NULL,
    author           TEXT   NOT NULL,
    author_relations TEXT   NOT NULL,
    changes          TEXT   NOT NULL,
    snapshot         BLOB   NOT NULL,
    create_time      BIGINT NOT NULL,
    UNIQUE (plan_id, revision)
);
CREATE INDEX plan_revisions_by_plan ON plan_revisions (plan_id, id);
