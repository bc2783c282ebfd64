-- Identity links whose cached grant sets a write made stale (see src/grants/outbox.rs).
-- Redis mode: rows wait here until Redis has been told (a write that could not reach Redis).
-- In-process mode: the change feed by which every process learns of other processes' writes.
CREATE TABLE cache_outbox (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    idp        TEXT NOT NULL,
    subject    TEXT NOT NULL,
    created_at TEXT NOT NULL
);
