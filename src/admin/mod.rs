//! The beheermodule's service layer: who may enter it for which organisation, and the admin
//! session. The web UI (`web::admin`) sits on top of this.
//!
//! The module is a service behind poort itself: an administrator logs in like anyone else (AD
//! choice, level check, organisation choice), and the decision core decides with the same rules.
//! What it decides on are not grants but the person's memberships with an administering role,
//! each seen as a grant for the admin service (level EH4, so that only the authenticated level
//! limits), held by the membership and suspended when the membership is blocked.

pub mod activation;
pub mod grants;
pub mod links;
pub mod members;
pub mod notify;
pub mod organisation;

use crate::config::Config;
use crate::domain::decision::{self, Decision};
use crate::domain::level::{Comparison, Level};
use crate::domain::login::AuthnResult;
use crate::grants::db::sql;
use crate::grants::{GrantStatus, HeldGrant, Organisation, Pool, Role, Scope, ServiceRef};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// Roles that may enter the admin module (gebruiker may not).
pub const ADMIN_ROLES: [Role; 4] = [
    Role::Hoofdbeheerder,
    Role::Beheerder,
    Role::Groepsbeheerder,
    Role::Lezer,
];

/// The admin module as a service of the catalogue.
pub fn service(config: &Config) -> ServiceRef {
    ServiceRef {
        service_id: config.url("/admin"),
        uuid: config.admin.service_uuid.clone(),
        provider: config.saml.idp_entity_id.clone(),
        level: config.admin.level,
    }
}

/// One membership of the person, as the admin module sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub organisation: Organisation,
    pub roles: Vec<Role>,
    pub blocked: bool,
}

const MEMBERSHIPS_SQL: &str = "\
SELECT m.id, m.person_id, o.kvk, o.rsin, o.name, m.blocked
  FROM identity_links l
  JOIN memberships m ON m.person_id = l.person_id
  JOIN organisations o ON o.id = m.organisation_id
 WHERE l.idp = $1 AND l.subject = $2
 ORDER BY o.kvk";

const ROLES_SQL: &str = "\
SELECT r.membership_id, r.role
  FROM membership_roles r
  JOIN memberships m ON m.id = r.membership_id
  JOIN identity_links l ON l.person_id = m.person_id
 WHERE l.idp = $1 AND l.subject = $2";

type MembershipRow = (String, String, String, Option<String>, String, bool);

/// The person behind an identity link and their memberships (with roles).
pub async fn memberships(
    pool: &Pool,
    idp: &str,
    subject: &str,
) -> Result<(Option<String>, Vec<Membership>), sqlx::Error> {
    let rows: Vec<MembershipRow> = sql(MEMBERSHIPS_SQL)
        .bind(idp)
        .bind(subject)
        .fetch_all(pool)
        .await?;
    let roles: Vec<(String, String)> = sql(ROLES_SQL)
        .bind(idp)
        .bind(subject)
        .fetch_all(pool)
        .await?;
    let person = rows.first().map(|r| r.1.clone());
    let memberships = rows
        .into_iter()
        .map(|(id, _, kvk, rsin, name, blocked)| Membership {
            organisation: Organisation { kvk, rsin, name },
            roles: roles
                .iter()
                .filter(|(m, _)| *m == id)
                .filter_map(|(_, r)| r.parse().ok())
                .collect(),
            blocked,
        })
        .collect();
    Ok((person, memberships))
}

/// The person's membership of one organisation as it is now: whether it is blocked, and its
/// roles; `None` when they are no longer a member. An admin session re-reads it on every
/// request, so a blocked or demoted administrator loses access at once, not at the session's end.
pub async fn current_membership(
    pool: &Pool,
    person: &str,
    kvk: &str,
) -> Result<Option<(bool, Vec<Role>)>, sqlx::Error> {
    const SQL: &str = "SELECT m.blocked, r.role FROM memberships m \
        JOIN organisations o ON o.id = m.organisation_id \
        LEFT JOIN membership_roles r ON r.membership_id = m.id \
        WHERE m.person_id = $1 AND o.kvk = $2";
    let rows: Vec<(bool, Option<String>)> = sql(SQL).bind(person).bind(kvk).fetch_all(pool).await?;
    let Some((blocked, _)) = rows.first() else {
        return Ok(None);
    };
    let mut roles: Vec<Role> = rows
        .iter()
        .filter_map(|(_, r)| r.clone())
        .filter_map(|r| r.parse().ok())
        .collect();
    roles.sort_by_key(|r| *r as u8);
    Ok(Some((*blocked, roles)))
}

/// Each administering membership as a grant for the admin service.
pub fn admin_grants(
    service: &ServiceRef,
    memberships: &[Membership],
    now: DateTime<Utc>,
) -> Vec<HeldGrant> {
    memberships
        .iter()
        .filter(|m| m.roles.iter().any(|r| ADMIN_ROLES.contains(r)))
        .map(|m| HeldGrant {
            grant_id: format!("admin:{}", m.organisation.kvk),
            organisation: m.organisation.clone(),
            scope: Scope::Service {
                uuid: service.uuid.clone(),
            },
            level: Level::Eh4,
            valid_from: now - TimeDelta::days(1),
            valid_until: now + TimeDelta::days(1),
            status: GrantStatus::Active,
            holder_blocked: m.blocked,
            last_used_at: Some(now),
            roles: m.roles.clone(),
        })
        .collect()
}

/// The decision for entering the admin module: the person behind the link, and the decision.
pub async fn decide(
    pool: &Pool,
    service: &ServiceRef,
    result: &AuthnResult,
    now: DateTime<Utc>,
) -> Result<(Option<String>, Decision), sqlx::Error> {
    let (person, memberships) = memberships(pool, &result.idp, &result.subject).await?;
    let grants = admin_grants(service, &memberships, now);
    let decision = decision::decide(
        service.level,
        Comparison::Minimum,
        result,
        service,
        &grants,
        now,
    );
    Ok((person, decision))
}

/// A signed-in administrator acting for one organisation; kept in the flow store (shared by
/// replicas) under a random ID that is the cookie's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminSession {
    pub id: String,
    pub person_id: String,
    pub organisation: Organisation,
    pub roles: Vec<Role>,
    /// The level the login reached (min of authenticated and admin service level).
    pub level: Level,
    pub created_at: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Synchronizer token every form and state-changing API call must carry.
    pub csrf: String,
}

impl AdminSession {
    pub fn new(
        person_id: String,
        organisation: Organisation,
        roles: Vec<Role>,
        level: Level,
        now: DateTime<Utc>,
    ) -> AdminSession {
        AdminSession {
            id: hex::encode(rand::random::<[u8; 32]>()),
            person_id,
            organisation,
            roles,
            level,
            created_at: now,
            last_seen: now,
            csrf: hex::encode(rand::random::<[u8; 32]>()),
        }
    }

    /// When the session ends if nothing happens: the idle timeout from the last request, never
    /// later than the absolute timeout from the login.
    pub fn expires_at(&self, config: &Config) -> DateTime<Utc> {
        let idle = self.last_seen + TimeDelta::seconds(config.admin.idle_timeout_seconds);
        let absolute = self.created_at + TimeDelta::seconds(config.admin.absolute_timeout_seconds);
        idle.min(absolute)
    }

    pub fn store_key(id: &str) -> String {
        format!("admin-session:{id}")
    }

    pub fn has_any(&self, roles: &[Role]) -> bool {
        self.roles.iter().any(|r| roles.contains(r))
    }

    /// Whether the session sees the whole organisation (its users, grants and audit trail):
    /// hoofdbeheerder, beheerder and lezer do; a groepsbeheerder sees their groups only.
    pub fn sees_whole_organisation(&self) -> bool {
        self.has_any(&[Role::Hoofdbeheerder, Role::Beheerder, Role::Lezer])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn membership(kvk: &str, roles: &[Role], blocked: bool) -> Membership {
        Membership {
            organisation: Organisation {
                kvk: kvk.into(),
                rsin: None,
                name: kvk.into(),
            },
            roles: roles.to_vec(),
            blocked,
        }
    }

    #[test]
    fn only_administering_memberships_open_the_admin_module() {
        let service = ServiceRef {
            service_id: "admin".into(),
            uuid: "u".into(),
            provider: "p".into(),
            level: Level::Eh3,
        };
        let now = Utc::now();
        let grants = admin_grants(
            &service,
            &[
                membership("11111111", &[Role::Gebruiker], false),
                membership("22222222", &[Role::Lezer], false),
                membership("33333333", &[Role::Beheerder, Role::Gebruiker], true),
            ],
            now,
        );
        assert_eq!(grants.len(), 2);
        assert_eq!(grants[0].organisation.kvk, "22222222");
        assert!(grants[1].holder_blocked);
    }
}
