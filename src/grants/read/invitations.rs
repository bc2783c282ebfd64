//! Invitations: the newest one made for a member, as their page shows it.

use crate::grants::db::sql;
use crate::grants::error::WriteError;
use crate::grants::sql::SqlRegister;
use crate::grants::views::InvitationState;
use chrono::{DateTime, Utc};

impl SqlRegister {
    /// The newest invitation made for `person` in the organisation, if any.
    pub async fn invitation_of(
        &self,
        kvk: &str,
        person: &str,
    ) -> Result<Option<InvitationState>, WriteError> {
        const SQL: &str = "SELECT i.id, i.email, i.expires_at, i.accepted_at IS NOT NULL, \
                   i.withdrawn_at IS NOT NULL \
              FROM invitations i JOIN organisations o ON o.id = i.organisation_id \
             WHERE o.kvk = $1 AND i.person_id = $2 ORDER BY i.created_at DESC, i.id LIMIT 1";
        type Row = (String, String, DateTime<Utc>, bool, bool);
        let row: Option<Row> = sql(SQL)
            .bind(kvk)
            .bind(person)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(
            |(id, email, expires_at, accepted, withdrawn)| InvitationState {
                id,
                email,
                expires_at,
                accepted,
                withdrawn,
            },
        ))
    }
}
