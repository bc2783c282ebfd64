-- Invitations name the person they were made for (created, without an identity link, when
-- invited); the person's language and phone are kept for mails and the admin module.
ALTER TABLE invitations ADD COLUMN person_id TEXT REFERENCES persons (id);
ALTER TABLE invitations ADD COLUMN withdrawn_at TEXT;
ALTER TABLE persons ADD COLUMN language TEXT;
ALTER TABLE persons ADD COLUMN phone TEXT;
