-- Self-service and approvals (issue 14): organisations activated by their appointed hoofdbeheerder,
-- bevoegd vertegenwoordigers as a trade-register extract gives them, and the requests people make
-- and others sign off. Keep in step with ../sqlite/20261206000000_self_service.sql.

-- NULL: registered by an operator, waiting for its hoofdbeheerder's first login. Organisations made
-- before this migration count as active since they were made.
ALTER TABLE organisations ADD COLUMN activated_at TIMESTAMPTZ;
UPDATE organisations SET activated_at = created_at;
-- The organisation's setting: a director with joint authority needs a second director's signature.
ALTER TABLE organisations ADD COLUMN joint_needs_two BOOLEAN NOT NULL DEFAULT FALSE;

-- Bevoegd vertegenwoordigers (directors) as an extract of the trade register names them; bound to
-- a person (person_id) at their first login, when the AD's attributes match name and birth date.
CREATE TABLE representatives (
    id              TEXT PRIMARY KEY,
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    given_names     TEXT NOT NULL CHECK (given_names <> ''),
    family_name     TEXT NOT NULL CHECK (family_name <> ''),
    date_of_birth   TEXT NOT NULL CHECK (date_of_birth ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'),
    authority       TEXT NOT NULL CHECK (authority IN ('sole', 'joint')),
    person_id       TEXT REFERENCES persons (id),
    imported_at     TIMESTAMPTZ NOT NULL,
    bound_at        TIMESTAMPTZ
);
CREATE INDEX representatives_organisation ON representatives (organisation_id);
CREATE INDEX representatives_person ON representatives (person_id);
CREATE INDEX representatives_birth ON representatives (date_of_birth);

-- What a person asks of an organisation: a grant, to be linked to it, or a renewal of a grant.
CREATE TABLE requests (
    id               TEXT PRIMARY KEY,
    organisation_id  TEXT NOT NULL REFERENCES organisations (id),
    person_id        TEXT NOT NULL REFERENCES persons (id),
    kind             TEXT NOT NULL CHECK (kind IN ('grant', 'link', 'renewal')),
    -- renewal: the grant renewed
    grant_id         TEXT REFERENCES grants (id),
    level            TEXT CHECK (level IS NULL OR level IN ('EH2', 'EH2+', 'EH3', 'EH4')),
    validity_years   INTEGER CHECK (validity_years IS NULL OR validity_years IN (1, 3, 5)),
    motivation       TEXT,
    state            TEXT NOT NULL
        CHECK (state IN ('open', 'awaiting_second', 'approved', 'declined', 'withdrawn', 'expired')),
    -- the first director's person ID while awaiting_second
    first_signer     TEXT,
    created_at       TIMESTAMPTZ NOT NULL,
    expires_at       TIMESTAMPTZ NOT NULL,
    decided_at       TIMESTAMPTZ,
    decided_by       TEXT,
    reason           TEXT,
    granted_level    TEXT,
    granted_validity INTEGER
);
-- The approvals list: an organisation's open requests, oldest first, paged by (created_at, id).
CREATE INDEX requests_organisation ON requests (organisation_id, state, created_at, id);
CREATE INDEX requests_person ON requests (person_id, created_at);

-- The scopes a grant request asks for: all services, one provider, or one service each.
CREATE TABLE request_scopes (
    request_id   TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    scope_kind   TEXT NOT NULL CHECK (scope_kind IN ('all_services', 'provider', 'service')),
    provider     TEXT,
    service_uuid TEXT,
    PRIMARY KEY (request_id, position)
);

-- A person's recent logins in Mijn poort: the trail's login decisions by their identities.
CREATE INDEX audit_actor ON audit (actor, id);
