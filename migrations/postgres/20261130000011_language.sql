-- The patient's language and need for an interpreter (BCP 47 tags; empty when not recorded, and
-- an empty interpreter language means no interpreter is needed), and whether a meeting has one
-- booked.
ALTER TABLE plans ADD COLUMN preferred_language TEXT NOT NULL DEFAULT '';
ALTER TABLE plans ADD COLUMN interpreter_language TEXT NOT NULL DEFAULT '';
ALTER TABLE meetings ADD COLUMN interpreter_booked BIGINT NOT NULL DEFAULT 0;
