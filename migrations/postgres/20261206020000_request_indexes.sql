-- The approvals list (issue 14's benchmark): the requests still waiting in the signer's
-- organisations, counted and paged by (created_at, id) from the index alone. Partial, so decided
-- requests (the growing history) are not in it; it holds every column the list filters on.
-- Keep in step with ../sqlite/20261206020000_request_indexes.sql.
CREATE INDEX requests_waiting
    ON requests (organisation_id, created_at, id, state, expires_at, person_id, first_signer, kind)
    WHERE state IN ('open', 'awaiting_second');
