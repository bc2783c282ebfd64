-- Identity links whose cached grant sets a write made stale (see src/grants/outbox.rs).
-- Redis mode: rows wait here until Redis has been told (a write that could not reach Redis).
-- In-process mode: the change feed by which every process learns of other processes' writes.
CREATE TABLE cache_outbox (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    idp        TEXT NOT NULL,
    subject    TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
