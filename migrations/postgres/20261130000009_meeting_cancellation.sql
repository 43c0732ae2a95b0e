-- A cancelled meeting stays on the plan's list, marked cancelled with its reason.
ALTER TABLE meetings ADD COLUMN cancel_time BIGINT;
ALTER TABLE meetings ADD COLUMN cancel_reason TEXT NOT NULL DEFAULT '';
