-- A groepsbeheerder manages the users and grants of the groups they administer: which groups
-- those are is recorded per group membership.
ALTER TABLE group_members ADD COLUMN admin BOOLEAN NOT NULL DEFAULT FALSE;
