-- When the "expires in two months" reminder for a grant went out (once per validity period:
-- a renewal clears it).
ALTER TABLE grants ADD COLUMN reminded_at TEXT;
