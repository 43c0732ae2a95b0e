-- Blocks (sperring): the patient keeps a named person (subject) or a whole organisation
-- (blocked_organisation) out of their plan; the other of the two is ''. A block stands until
-- lifted; lifted blocks are kept, as the plan's history keeps them.
CREATE TABLE blocks (
    id                   TEXT   NOT NULL PRIMARY KEY,
    organisation_id      TEXT   NOT NULL,
    plan_id              TEXT   NOT NULL REFERENCES plans (id),
    subject              TEXT   NOT NULL,
    blocked_organisation TEXT   NOT NULL,
    display_name         TEXT   NOT NULL,
    reason               TEXT   NOT NULL,
    created_by           TEXT   NOT NULL,
    create_time          BIGINT NOT NULL,
    lift_time            BIGINT,
    lifted_by            TEXT
);
CREATE INDEX blocks_by_plan ON blocks (plan_id, id);
