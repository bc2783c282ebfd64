//! People: the identity links of a person, and whose links a change touches (the statements a
//! write runs to say what it [`crate::domain::grant::Touched`]).

use crate::domain::grant::IdentityKey;
use crate::grants::db::sql;
use crate::grants::error::WriteError;
use crate::grants::sql::SqlRegister;

pub(in crate::grants) const LINKS_OF_PERSON: &str =
    "SELECT idp, subject FROM identity_links WHERE person_id = $1";
pub(in crate::grants) const LINKS_OF_GROUP: &str = "SELECT l.idp, l.subject FROM group_members gm \
    JOIN memberships m ON m.id = gm.membership_id \
    JOIN identity_links l ON l.person_id = m.person_id WHERE gm.group_id = $1";
/// Identity links of everyone who holds a grant: its member, or every member of its group.
pub(in crate::grants) const HOLDERS_OF_GRANT: &str = "SELECT l.idp, l.subject FROM grants g \
       JOIN memberships m ON m.id = g.membership_id \
       JOIN identity_links l ON l.person_id = m.person_id WHERE g.id = $1 \
     UNION \
     SELECT l.idp, l.subject FROM grants g \
       JOIN group_members gm ON gm.group_id = g.group_id \
       JOIN memberships m ON m.id = gm.membership_id \
       JOIN identity_links l ON l.person_id = m.person_id WHERE g.id = $1";
pub(in crate::grants) const LINKS_OF_ORGANISATION: &str =
    "SELECT l.idp, l.subject FROM memberships m \
    JOIN identity_links l ON l.person_id = m.person_id WHERE m.organisation_id = $1";

impl SqlRegister {
    /// The identity links of a person (empty for an unknown person).
    pub async fn identity_links(&self, person: &str) -> Result<Vec<IdentityKey>, WriteError> {
        let rows: Vec<(String, String)> = sql(LINKS_OF_PERSON)
            .bind(person)
            .fetch_all(self.pool())
            .await?;
        Ok(rows
            .into_iter()
            .map(|(idp, subject)| IdentityKey { idp, subject })
            .collect())
    }
}
