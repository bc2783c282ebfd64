-- The admin module (issue 5): the organisation's postal address, each member's last login, requests
-- to link a person of another organisation, and an index for paging an organisation's grants.
-- Keep in step with ../postgres/20261130000000_admin_module.sql.
ALTER TABLE organisations ADD COLUMN contact_address TEXT;
ALTER TABLE memberships ADD COLUMN last_login_at TEXT;

-- An administrator of organisation_id asks to add a person known at other_organisation_id, named
-- by e-mail; an administrator of the other organisation approves or declines. Until then nothing
-- of the other organisation is shown to the asking side (not even whether the e-mail is known).
CREATE TABLE link_requests (
    id                    TEXT PRIMARY KEY,
    organisation_id       TEXT NOT NULL REFERENCES organisations (id),
    other_organisation_id TEXT NOT NULL REFERENCES organisations (id),
    email                 TEXT NOT NULL,
    roles                 TEXT NOT NULL,
    requested_by          TEXT NOT NULL,
    created_at            TEXT NOT NULL,
    expires_at            TEXT NOT NULL,
    decided_at            TEXT,
    decided_by            TEXT,
    outcome               TEXT CHECK (outcome IS NULL OR outcome IN ('approved', 'declined', 'withdrawn')),
    person_id             TEXT REFERENCES persons (id),
    CHECK (organisation_id <> other_organisation_id)
);
CREATE INDEX link_requests_organisation ON link_requests (organisation_id);
CREATE INDEX link_requests_other ON link_requests (other_organisation_id);

CREATE INDEX grants_organisation_page ON grants (organisation_id, id);
CREATE INDEX persons_email ON persons (email);
DROP INDEX grants_organisation;
