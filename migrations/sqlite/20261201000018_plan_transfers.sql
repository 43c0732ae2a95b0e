-- Proposals to move a plan to another responsible organisation (PlanTransferService).
-- organisation_id is the organisation responsible when it was proposed (the tenant);
-- to_organisation the receiving municipality. state is proposed, accepted or declined;
-- response the answer's comment or reason; assignment_id the coordinator appointed on
-- acceptance. At most one proposal per plan is pending.
CREATE TABLE plan_transfers (
    id              TEXT   NOT NULL PRIMARY KEY,
    organisation_id TEXT   NOT NULL,
    plan_id         TEXT   NOT NULL REFERENCES plans (id),
    to_organisation TEXT   NOT NULL,
    reason          TEXT   NOT NULL,
    state           TEXT   NOT NULL CHECK (state IN ('proposed', 'accepted', 'declined')),
    response        TEXT   NOT NULL,
    assignment_id   TEXT,
    proposed_by     TEXT   NOT NULL,
    answered_by     TEXT   NOT NULL,
    create_time     BIGINT NOT NULL,
    response_time   BIGINT
);
CREATE INDEX plan_transfers_by_plan ON plan_transfers (plan_id, id);
CREATE INDEX plan_transfers_by_receiver ON plan_transfers (to_organisation, id);
