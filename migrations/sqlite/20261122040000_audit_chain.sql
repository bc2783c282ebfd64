-- The audit trail as a hash chain (src/grants/audit.rs): each entry holds the previous entry's
-- hash and its own. Entries written before this migration have neither and stay unchained.
ALTER TABLE audit ADD COLUMN prev_hash TEXT;
ALTER TABLE audit ADD COLUMN hash TEXT;
