//! Plain data of the register, as the decision reads it.

use super::level::Level;
use chrono::{DateTime, Months, Utc};
use serde::{Deserialize, Serialize};

/// An organisation a person can act for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organisation {
    /// KvK number: 8 digits.
    pub kvk: String,
    /// RSIN: 9 digits, optional.
    pub rsin: Option<String>,
    pub name: String,
}

/// What a grant covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Scope {
    /// All services of all providers.
    AllServices,
    /// All services of one provider (DV entity ID), including services it adds later.
    Provider { provider: String },
    /// One service, by its ServiceUUID.
    Service { uuid: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantStatus {
    Active,
    Revoked,
}

/// A grant is valid for at most 5 years (afsprakenstelsel: a machtiging runs 1, 3 or 5 years).
pub const MAX_VALIDITY: Months = Months::new(5 * 12);

/// The latest moment a validity that starts at `from` may end; `None` past the calendar's end.
pub fn validity_limit(from: DateTime<Utc>) -> Option<DateTime<Utc>> {
    from.checked_add_months(MAX_VALIDITY)
}

/// Roles a member has in an organisation (see docs/DOMAIN.md, "Roles").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Hoofdbeheerder,
    Beheerder,
    Groepsbeheerder,
    Gebruiker,
    Lezer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Hoofdbeheerder => "hoofdbeheerder",
            Role::Beheerder => "beheerder",
            Role::Groepsbeheerder => "groepsbeheerder",
            Role::Gebruiker => "gebruiker",
            Role::Lezer => "lezer",
        }
    }

    /// Every role, highest first.
    pub const ALL: [Role; 5] = [
        Role::Hoofdbeheerder,
        Role::Beheerder,
        Role::Groepsbeheerder,
        Role::Lezer,
        Role::Gebruiker,
    ];
}

/// A role name that is none of [`Role::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}: hoofdbeheerder, beheerder, groepsbeheerder, gebruiker or lezer")]
pub struct UnknownRole(pub String);

/// The one way a role is read from text (forms, the register's rows, the command line): its
/// lower-case name exactly.
impl std::str::FromStr for Role {
    type Err = UnknownRole;

    fn from_str(text: &str) -> Result<Role, UnknownRole> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == text)
            .ok_or_else(|| UnknownRole(text.to_string()))
    }
}

/// One grant held by the person (through their membership or one of their groups), with the
/// state of its holder, as the decision needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldGrant {
    pub grant_id: String,
    pub organisation: Organisation,
    pub scope: Scope,
    pub level: Level,
    pub valid_from: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    pub status: GrantStatus,
    /// The member is blocked for the whole organisation, or for the group that holds this grant.
    pub holder_blocked: bool,
    /// Last successful use; a grant unused for 24 months lapses.
    pub last_used_at: Option<DateTime<Utc>>,
    /// The member's roles in this organisation.
    pub roles: Vec<Role>,
}

/// The person behind an identity link and every grant they hold.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PersonGrants {
    /// The register's ID of the person; `None` when the identity link is unknown.
    pub person_id: Option<String>,
    pub grants: Vec<HeldGrant>,
}

/// A service as the decision sees it: from the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRef {
    pub service_id: String,
    pub uuid: String,
    /// Entity ID of the DV that offers the service.
    pub provider: String,
    /// The level the catalogue sets for this service.
    pub level: Level,
}

/// An identity link: the AD's entity ID and the person's subject there. Logins look grants up
/// by it, so it is also the key of a cached grant set.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IdentityKey {
    pub idp: String,
    pub subject: String,
}

impl IdentityKey {
    pub fn new(idp: impl Into<String>, subject: impl Into<String>) -> IdentityKey {
        IdentityKey {
            idp: idp.into(),
            subject: subject.into(),
        }
    }
}

/// What a register write changed, as the cache needs to know it: every identity link whose
/// grant set (what [`super::Register::grants_for`] returns) may differ after the write.
/// Computed inside the write's transaction, so it matches what was committed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Touched {
    pub links: std::collections::BTreeSet<IdentityKey>,
}

impl Touched {
    pub fn is_empty(&self) -> bool {
        self.links.is_empty()
    }

    pub fn extend(&mut self, other: Touched) {
        self.links.extend(other.links);
    }
}
