-- E-mail waiting to be sent (see src/mail/queue.rs) and leases of periodic jobs (see
-- src/grants/lease.rs). Timestamps are UTC (timestamptz).
-- Keep in step with ../sqlite/20261202100000_mail_outbox.sql.

-- One message to one person. The request that causes it only adds the row; a mail worker
-- claims it (claimed_by / claimed_until: one worker at a time, across replicas), sends it and
-- marks it sent, or schedules the next attempt, or after the last attempt marks it failed.
-- last_error never holds personal data (no address, no server text); a sent message keeps
-- neither its recipient nor its body, a failed one not its body (an invitation link).
CREATE TABLE mail_outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recipient       TEXT NOT NULL,
    recipient_name  TEXT,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error      TEXT,
    sent_at         TIMESTAMPTZ,
    failed_at       TIMESTAMPTZ,
    claimed_by      TEXT,
    claimed_until   TIMESTAMPTZ
);
-- The messages still to send, in the order a worker takes them.
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at, id)
    WHERE sent_at IS NULL AND failed_at IS NULL;

-- A periodic job runs on the replica that holds its lease; another replica takes it over only
-- once it has expired (the holder stopped renewing).
CREATE TABLE job_leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
