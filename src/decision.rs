//! The decision: a pure function over what was asked, what was asserted, and the person's grants.
//!
//! No I/O, no clock: `now` is an argument, so every rule is tested over its whole table.

use crate::flow::AuthnResult;
use crate::grants::{HeldGrant, Organisation, Role, ServiceRef};
use crate::level::{Comparison, Level};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An organisation the person may act for, with the grant that wins and the level used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    pub organisation: Organisation,
    pub grant_id: String,
    /// min(authenticated level, grant level).
    pub level_used: Level,
    pub roles: Vec<Role>,
}

/// Why a login is refused. The most specific reason found is reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DenyReason {
    /// The identity provider asserted a lower level than required.
    LevelTooLow { achieved: Level, required: Level },
    /// The requester asked for an exact level and the identity provider asserted another.
    LevelNotExact { achieved: Level, required: Level },
    /// The person holds no grant that covers this service at all.
    NoGrant,
    /// Grants cover the service, but all have expired (or are not yet valid).
    GrantExpired,
    /// Grants cover the service, but all have been revoked.
    GrantRevoked,
    /// Grants cover the service, but the member is blocked.
    HolderBlocked,
    /// Grants cover the service, but have not been used for 24 months.
    GrantLapsed,
    /// Grants cover the service, but their level is below the required level.
    GrantLevelTooLow { grant_level: Level, required: Level },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decision {
    Allow(Candidate),
    /// More than one organisation: the person chooses (candidates sorted by organisation name).
    ChooseOrganisation(Vec<Candidate>),
    Deny(DenyReason),
}

/// Decides a login.
///
/// `required` is the effective required level (catalogue level or the lower one the DV asked for),
/// `comparison` how the DV compares it.
pub fn decide(
    required: Level,
    comparison: Comparison,
    result: &AuthnResult,
    service: &ServiceRef,
    grants: &[HeldGrant],
    now: DateTime<Utc>,
) -> Decision {
    let _ = (required, comparison, result, service, grants, now);
    todo!("implemented by the decision work")
}
