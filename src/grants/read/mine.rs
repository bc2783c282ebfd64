//! What a person sees of themselves in Mijn poort: their memberships with roles, their recent
//! logins (the trail's login decisions by their identities), and the invitations and link
//! requests of other organisations that name their e-mail address. Their grants come from
//! `read::grants` and their requests from `read::requests`.

use crate::domain::grant::{Organisation, Role};
use crate::grants::db::{sql, Args, Sql};
use crate::grants::error::{corrupt, WriteError};
use crate::grants::sql::{parse_role, SqlRegister};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// One of the person's memberships.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OwnMembership {
    pub organisation: Organisation,
    pub roles: Vec<Role>,
    pub blocked: bool,
    /// Registered by an operator and not yet activated by its hoofdbeheerder.
    pub active: bool,
    /// Whether the person is a bevoegd vertegenwoordiger of it, and with which authority
    /// (`sole` over `joint` when the extract names them twice).
    pub authority: Option<String>,
}

/// A login as the trail recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OwnLogin {
    pub at: DateTime<Utc>,
    /// `login.allowed`, `login.refused`, `admin.login` or `mijn.login`.
    pub action: String,
    /// The organisation acted for, when the login got that far.
    pub organisation: Option<String>,
    /// The service's ID and, for a refusal, its reason code.
    pub service: Option<String>,
    pub reason: Option<String>,
}

/// Something another organisation sent that names the person's address, still open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Concerning {
    /// `invitation` or `link_request`.
    pub kind: &'static str,
    pub organisation: Organisation,
    pub expires_at: DateTime<Utc>,
}

impl SqlRegister {
    /// Every organisation the person belongs to or represents, by name.
    pub async fn own_memberships(&self, person: &str) -> Result<Vec<OwnMembership>, WriteError> {
        type Row = (
            String,
            Option<String>,
            String,
            Option<bool>,
            Option<DateTime<Utc>>,
            Option<String>,
        );
        let rows: Vec<Row> = sql("SELECT o.kvk, o.rsin, o.name, m.blocked, o.activated_at, \
                    (SELECT MAX(r.authority) FROM representatives r \
                      WHERE r.organisation_id = o.id AND r.person_id = $1) \
               FROM organisations o LEFT JOIN memberships m \
                 ON m.organisation_id = o.id AND m.person_id = $1 \
              WHERE m.id IS NOT NULL OR o.id IN \
                    (SELECT organisation_id FROM representatives WHERE person_id = $1) \
              ORDER BY o.name, o.kvk")
        .bind(person)
        .fetch_all(self.pool())
        .await?;
        let roles: Vec<(String, String)> = sql("SELECT o.kvk, r.role FROM membership_roles r \
               JOIN memberships m ON m.id = r.membership_id \
               JOIN organisations o ON o.id = m.organisation_id WHERE m.person_id = $1")
        .bind(person)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|(kvk, rsin, name, blocked, activated, authority)| {
                let mut own: Vec<Role> = roles
                    .iter()
                    .filter(|(k, _)| *k == kvk)
                    .map(|(_, r)| parse_role(r).map_err(|e| corrupt(e.to_string())))
                    .collect::<Result<_, _>>()?;
                own.sort_by_key(|r| *r as u8);
                Ok(OwnMembership {
                    organisation: Organisation { kvk, rsin, name },
                    roles: own,
                    blocked: blocked.unwrap_or(false),
                    active: activated.is_some(),
                    authority,
                })
            })
            .collect()
    }

    /// The person an identity is linked to, and their name.
    pub async fn person_of_identity(
        &self,
        idp: &str,
        subject: &str,
    ) -> Result<Option<(String, Option<String>)>, WriteError> {
        Ok(sql(
            "SELECT p.id, p.name FROM identity_links l JOIN persons p ON p.id = l.person_id \
                WHERE l.idp = $1 AND l.subject = $2",
        )
        .bind(idp)
        .bind(subject)
        .fetch_optional(self.pool())
        .await?)
    }

    /// The person's `limit` newest logins, by any of their identities.
    pub async fn own_logins(&self, person: &str, limit: i64) -> Result<Vec<OwnLogin>, WriteError> {
        let actors: Vec<String> = sql(
            "SELECT 'identity:' || idp || '#' || subject FROM identity_links WHERE person_id = $1",
        )
        .bind(person)
        .scalars(self.pool())
        .await?;
        if actors.is_empty() {
            return Ok(Vec::new());
        }
        // The newest `limit` of each identity from the (actor, id) index, then the newest of
        // those: a person with years of logins reads `limit` rows an identity, not all of them.
        let mut args = Args::default();
        let limit = args.push(limit);
        let newest: Vec<String> = actors
            .into_iter()
            .map(|actor| {
                let actor = args.push(actor);
                format!(
                    "SELECT id FROM (SELECT id FROM audit WHERE actor = {actor} \
                       AND action IN ('login.allowed', 'login.refused', 'admin.login', 'mijn.login') \
                     ORDER BY id DESC LIMIT {limit}) newest"
                )
            })
            .collect();
        type Row = (DateTime<Utc>, String, Option<String>, Option<String>);
        let rows: Vec<Row> = Sql::assembled(
            format!(
                "SELECT a.at, a.action, o.kvk, a.after FROM audit a \
                   LEFT JOIN organisations o ON o.id = a.organisation_id \
                  WHERE a.id IN ({}) ORDER BY a.id DESC LIMIT {limit}",
                newest.join(" UNION ALL ")
            ),
            args,
        )
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(at, action, organisation, detail)| {
                let detail: serde_json::Value = detail
                    .and_then(|d| serde_json::from_str(&d).ok())
                    .unwrap_or_default();
                let text = |k: &str| detail[k].as_str().map(str::to_string);
                OwnLogin {
                    at,
                    action,
                    organisation,
                    service: text("service"),
                    reason: text("reason"),
                }
            })
            .collect())
    }

    /// Open invitations and link requests of other organisations that name the person's
    /// e-mail address.
    pub async fn concerning(
        &self,
        person: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Concerning>, WriteError> {
        type Row = (String, String, Option<String>, String, DateTime<Utc>);
        let rows: Vec<Row> = sql(
            "SELECT 'invitation', o.kvk, o.rsin, o.name, i.expires_at FROM invitations i \
               JOIN organisations o ON o.id = i.organisation_id \
               JOIN persons invited ON invited.id = i.person_id \
               JOIN persons me ON me.id = $1 AND lower(me.email) = lower(invited.email) \
              WHERE i.accepted_at IS NULL AND i.withdrawn_at IS NULL AND i.expires_at > $2 \
                AND invited.id <> me.id \
             UNION ALL \
             SELECT 'link_request', o.kvk, o.rsin, o.name, r.expires_at FROM link_requests r \
               JOIN organisations o ON o.id = r.organisation_id \
               JOIN persons me ON me.id = $1 AND lower(me.email) = lower(r.email) \
              WHERE r.outcome IS NULL AND r.expires_at > $2 \
             ORDER BY 5",
        )
        .bind(person)
        .bind(now)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(kind, kvk, rsin, name, expires_at)| Concerning {
                kind: if kind == "invitation" {
                    "invitation"
                } else {
                    "link_request"
                },
                organisation: Organisation { kvk, rsin, name },
                expires_at,
            })
            .collect())
    }
}
