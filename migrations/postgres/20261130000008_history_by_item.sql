-- The plan's history grows with what changed. Each revision stores the items it changed, not a
-- copy of the whole plan: the plan's own fields, one of the patient's sections, the contacts, a
-- goal, a goal's adjustment, a measure or a measure's evaluation, as the item then was; a deleted item gets a row without a state. A
-- revision of the plan is the latest version of every item at or before it. Revisions written
-- before this migration keep their full snapshot in plan_revisions.snapshot; newer ones store an
-- empty one, and the first change of a plan after the migration writes every item once.
--
-- state holds the item encoded as its samvirke.v1 message (Plan without its revision, update
-- time, sections and contacts; a Plan holding only the contacts; Goal without adjustments,
-- GoalAdjustment, Measure without evaluations, Evaluation; a section as its UTF-8 text), as
-- plan_revisions.snapshot did; protobuf's compatibility rules keep old rows readable. digest is
-- its SHA-256, to tell whether an item changed without reading it back.
CREATE TABLE plan_item_versions (
    id              TEXT   NOT NULL PRIMARY KEY,
    organisation_id TEXT   NOT NULL,
    plan_id         TEXT   NOT NULL REFERENCES plans (id),
    revision        BIGINT NOT NULL,
    kind            TEXT   NOT NULL CHECK (kind IN ('plan', 'plan_section', 'plan_contacts',
                        'goal', 'goal_adjustment', 'measure', 'measure_evaluation')),
    item_id         TEXT   NOT NULL,
    parent_id       TEXT   NOT NULL,
    digest          TEXT   NOT NULL,
    state           BYTEA
);
CREATE INDEX plan_item_versions_by_item ON plan_item_versions (plan_id, kind, item_id, revision);
CREATE INDEX plan_item_versions_by_revision ON plan_item_versions (plan_id, revision);
