-- The register (docs/DOMAIN.md, "Grants (machtigingen)"). Timestamps are UTC, stored as RFC 3339 text.
-- Keep in step with ../postgres/20261122000000_register.sql.

CREATE TABLE organisations (
    id            TEXT PRIMARY KEY,
    kvk           TEXT NOT NULL UNIQUE CHECK (length(kvk) = 8 AND kvk NOT GLOB '*[^0-9]*'),
    -- 9 digits; the eleven-test is checked by the application.
    rsin          TEXT CHECK (rsin IS NULL OR (length(rsin) = 9 AND rsin NOT GLOB '*[^0-9]*')),
    name          TEXT NOT NULL CHECK (name <> ''),
    contact_name  TEXT,
    contact_email TEXT,
    contact_phone TEXT,
    created_at    TEXT NOT NULL
);

CREATE TABLE persons (
    id         TEXT PRIMARY KEY,
    name       TEXT,
    email      TEXT,
    created_at TEXT NOT NULL
);

-- AD entity ID + upstream subject.
CREATE TABLE identity_links (
    idp        TEXT NOT NULL,
    subject    TEXT NOT NULL,
    person_id  TEXT NOT NULL REFERENCES persons (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    PRIMARY KEY (idp, subject)
);
CREATE INDEX identity_links_person ON identity_links (person_id);

CREATE TABLE groups (
    id              TEXT PRIMARY KEY,
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    name            TEXT NOT NULL CHECK (name <> ''),
    created_at      TEXT NOT NULL,
    UNIQUE (organisation_id, name),
    UNIQUE (id, organisation_id)
);

-- A person in an organisation; blocked suspends them for the whole organisation.
CREATE TABLE memberships (
    id              TEXT PRIMARY KEY,
    person_id       TEXT NOT NULL REFERENCES persons (id),
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    blocked         BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      TEXT NOT NULL,
    UNIQUE (person_id, organisation_id),
    UNIQUE (id, organisation_id)
);
CREATE INDEX memberships_organisation ON memberships (organisation_id);

CREATE TABLE membership_roles (
    membership_id TEXT NOT NULL REFERENCES memberships (id) ON DELETE CASCADE,
    role          TEXT NOT NULL
        CHECK (role IN ('hoofdbeheerder', 'beheerder', 'groepsbeheerder', 'gebruiker', 'lezer')),
    PRIMARY KEY (membership_id, role)
);

-- A membership in a group of the same organisation; blocked suspends it for this group only.
CREATE TABLE group_members (
    membership_id   TEXT NOT NULL,
    group_id        TEXT NOT NULL,
    organisation_id TEXT NOT NULL,
    blocked         BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (membership_id, group_id),
    FOREIGN KEY (membership_id, organisation_id) REFERENCES memberships (id, organisation_id) ON DELETE CASCADE,
    FOREIGN KEY (group_id, organisation_id) REFERENCES groups (id, organisation_id) ON DELETE CASCADE
);
CREATE INDEX group_members_group ON group_members (group_id);

-- Held by a membership or by a group (exactly one), of the grant's organisation.
CREATE TABLE grants (
    id              TEXT PRIMARY KEY,
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    membership_id   TEXT,
    group_id        TEXT,
    scope_kind      TEXT NOT NULL CHECK (scope_kind IN ('all_services', 'provider', 'service')),
    provider        TEXT,
    service_uuid    TEXT,
    level           TEXT NOT NULL CHECK (level IN ('EH2', 'EH2+', 'EH3', 'EH4')),
    valid_from      TEXT NOT NULL,
    valid_until     TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
    created_by      TEXT,
    created_at      TEXT NOT NULL,
    last_used_at    TEXT,
    CHECK ((membership_id IS NULL) <> (group_id IS NULL)),
    CHECK ((scope_kind = 'all_services' AND provider IS NULL AND service_uuid IS NULL)
        OR (scope_kind = 'provider' AND provider IS NOT NULL AND service_uuid IS NULL)
        OR (scope_kind = 'service' AND service_uuid IS NOT NULL AND provider IS NULL)),
    CHECK (julianday(valid_until) > julianday(valid_from)),
    CHECK (julianday(valid_until) <= julianday(valid_from, '+5 years')),
    FOREIGN KEY (membership_id, organisation_id) REFERENCES memberships (id, organisation_id),
    FOREIGN KEY (group_id, organisation_id) REFERENCES groups (id, organisation_id)
);
CREATE INDEX grants_membership ON grants (membership_id);
CREATE INDEX grants_group ON grants (group_id);
CREATE INDEX grants_organisation ON grants (organisation_id);

-- 24-hour invitation links; only a hash of the token is kept.
CREATE TABLE invitations (
    id              TEXT PRIMARY KEY,
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    email           TEXT NOT NULL,
    token_hash      TEXT NOT NULL UNIQUE,
    created_by      TEXT,
    created_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    accepted_at     TEXT,
    accepted_by     TEXT REFERENCES persons (id)
);

-- Append-only: no foreign keys, so that the history outlives what it describes.
CREATE TABLE audit (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    at              TEXT NOT NULL,
    actor           TEXT NOT NULL,
    organisation_id TEXT,
    action          TEXT NOT NULL,
    before          TEXT,
    after           TEXT
);
CREATE INDEX audit_organisation ON audit (organisation_id, at);

CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit is append-only');
END;

CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit is append-only');
END;
