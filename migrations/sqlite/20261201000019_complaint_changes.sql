-- A complaint's steps in the change feed, for its complainant and the patient it concerns:
-- such a row has plan_id '' and revision the complaint's revision after the step, and names
-- the complaint here. Plan rows leave it NULL.
ALTER TABLE plan_changes ADD COLUMN complaint_id TEXT;
