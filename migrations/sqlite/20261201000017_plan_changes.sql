-- The change feed's outbox (ListPlanChanges, WatchPlanChanges): one row per revision of a
-- plan's history, written in the transaction that makes the revision, so a change that rolls
-- back leaves no event and none that commits is missed. What changed is in the revision's
-- lines (plan_revisions.changes); etags holds the new etags of what it changed, one
-- `kind/id=etag` per line (`plan=N` for the plan's own fields).
--
-- Order: (txid, seq). SQLite has one writer at a time, so seq, taken in the writing
-- transaction, is already commit order; txid is 0.
CREATE TABLE plan_changes (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    txid            BIGINT NOT NULL,
    organisation_id TEXT   NOT NULL,
    plan_id         TEXT   NOT NULL,
    revision        BIGINT NOT NULL,
    etags           TEXT   NOT NULL,
    create_time     BIGINT NOT NULL
);
CREATE INDEX plan_changes_in_order ON plan_changes (txid, seq);
CREATE INDEX plan_changes_by_plan ON plan_changes (plan_id, txid, seq);
CREATE INDEX plan_changes_by_time ON plan_changes (create_time);

-- How far retention has pruned the feed: a cursor at or before (txid, seq) is older than the
-- feed keeps, and its client must read the plans again.
CREATE TABLE plan_changes_pruned (
    id   BIGINT NOT NULL PRIMARY KEY CHECK (id = 1),
    txid BIGINT NOT NULL,
    seq  BIGINT NOT NULL
);
INSERT INTO plan_changes_pruned (id, txid, seq) VALUES (1, 0, 0);
