-- A proposal the sending side withdraws before an answer is 'cancelled' (CancelPlanTransfer).
-- SQLite cannot change a CHECK constraint in place: the table is made anew with its rows.
CREATE TABLE plan_transfers_next (
    id              TEXT   NOT NULL PRIMARY KEY,
    organisation_id TEXT   NOT NULL,
    plan_id         TEXT   NOT NULL REFERENCES plans (id),
    to_organisation TEXT   NOT NULL,
    reason          TEXT   NOT NULL,
    state           TEXT   NOT NULL
        CHECK (state IN ('proposed', 'accepted', 'declined', 'cancelled')),
    response        TEXT   NOT NULL,
    assignment_id   TEXT,
    proposed_by     TEXT   NOT NULL,
    answered_by     TEXT   NOT NULL,
    create_time     BIGINT NOT NULL,
    response_time   BIGINT
);
INSERT INTO plan_transfers_next SELECT id, organisation_id, plan_id, to_organisation, reason,
    state, response, assignment_id, proposed_by, answered_by, create_time, response_time
    FROM plan_transfers;
DROP TABLE plan_transfers;
ALTER TABLE plan_transfers_next RENAME TO plan_transfers;
CREATE INDEX plan_transfers_by_plan ON plan_transfers (plan_id, id);
CREATE INDEX plan_transfers_by_receiver ON plan_transfers (to_organisation, id);
