//! Mijn poort's service layer: the person's own session, and what every person does for
//! themselves (see their organisations, grants, logins and requests; ask for a grant, a link or a
//! renewal; sign off what others ask, where they administer or represent an organisation). The
//! web pages (`web::mijn`) and the API (`web::api::me`) sit on top of this and call the same
//! functions, so both check and mail alike.
//!
//! Unlike the admin session, a person session acts for no organisation: it is the person, at
//! the level their login reached. Each request re-reads what it shows, and every write checks
//! the person's rights in the register (`grants::write::requests`) at that moment.

pub mod expiry;
pub mod notify;
pub mod representatives;
pub mod requests;

use crate::config::Config;
use crate::domain::level::Level;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

pub use requests::{RequestError, SelfService};

/// A person signed in to Mijn poort; kept in the flow store (shared by replicas) under a random
/// ID that is the cookie's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonSession {
    pub id: String,
    /// The register's person ID.
    pub person_id: String,
    /// The person's name as the register knows it (for the page header).
    pub name: Option<String>,
    /// The level the login reached: what signing off may rely on.
    pub level: Level,
    pub created_at: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Synchronizer token every form and state-changing API call must carry.
    pub csrf: String,
}

impl PersonSession {
    pub fn new(
        person_id: String,
        name: Option<String>,
        level: Level,
        now: DateTime<Utc>,
    ) -> PersonSession {
        PersonSession {
            id: hex::encode(rand::random::<[u8; 32]>()),
            person_id,
            name,
            level,
            created_at: now,
            last_seen: now,
            csrf: hex::encode(rand::random::<[u8; 32]>()),
        }
    }

    /// When the session ends if nothing happens: the admin module's idle timeout from the last
    /// request, never later than its absolute timeout from the login.
    pub fn expires_at(&self, config: &Config) -> DateTime<Utc> {
        let idle = self.last_seen + TimeDelta::seconds(config.admin.idle_timeout_seconds);
        let absolute = self.created_at + TimeDelta::seconds(config.admin.absolute_timeout_seconds);
        idle.min(absolute)
    }

    pub fn store_key(id: &str) -> String {
        format!("mijn-session:{id}")
    }
}

/// Where a login for Mijn poort may send the person afterwards: a path of Mijn poort itself,
/// nothing else (no open redirect).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path)
            if (path == "/mijn" || path.starts_with("/mijn/"))
                && !path.contains("//")
                && !path.contains('\\')
                && path.chars().all(|c| c.is_ascii_graphic()) =>
        {
            path.to_string()
        }
        _ => "/mijn".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_of_mijn_poort_are_followed_after_login() {
        for ok in ["/mijn", "/mijn/approvals/abc", "/mijn/renew/g-1?x=1"] {
            assert_eq!(safe_next(Some(ok)), ok);
        }
        for bad in [
            None,
            Some("https://evil.example/mijn"),
            Some("//evil.example/mijn"),
            Some("/mijn//evil.example"),
            Some("/mijnx"),
            Some("/admin"),
            Some("/mijn/\\evil"),
            Some("/mijn/a b"),
        ] {
            assert_eq!(safe_next(bad), "/mijn", "{bad:?}");
        }
    }
}
