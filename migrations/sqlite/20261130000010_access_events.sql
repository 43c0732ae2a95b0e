-- The patient's view of the access log (ListAccessEvents): each row names the operation (the RPC)
-- it was logged for, so "read the plan" and "exported the plan" tell apart; rows logged before
-- this migration name none. The plan's rows are listed newest first, by time and then id.
ALTER TABLE access_log ADD COLUMN operation TEXT NOT NULL DEFAULT '';
DROP INDEX access_log_by_plan;
CREATE INDEX access_log_by_plan ON access_log (plan_id, time, id);
