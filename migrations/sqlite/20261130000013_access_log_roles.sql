-- The organisation roles the caller held, where they acted, when the entry was made
-- (comma-separated; empty for none), so the patient's view of the log shows the role as it was,
-- not as later grants and revocations left it.
ALTER TABLE access_log ADD COLUMN roles TEXT NOT NULL DEFAULT '';
