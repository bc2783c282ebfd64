//! The decision: a pure function over what was asked, what was asserted, and the person's grants.
//!
//! No I/O, no clock: `now` is an argument, so every rule is tested over its whole table.
//!
//! Rules (docs/DOMAIN.md, "Levels of assurance" and "How the decision picks"):
//! 1. The level the identity provider asserted must reach the required level: at least it
//!    (`Comparison::Minimum`) or exactly it (`Comparison::Exact`).
//! 2. A grant covers the service when its scope is all services, the service's provider (only
//!    the provider is compared, so services the provider adds later are covered), or the
//!    service's UUID.
//! 3. A covering grant is usable when it is active, `valid_from <= now < valid_until`, its holder
//!    is not blocked, it has not lapsed (last use, or `valid_from` when never used, more than
//!    730 days before `now`), and the level used, min(asserted level, grant level), reaches the
//!    required level in the same comparison.
//! 4. Per organisation the best usable grant wins; one organisation allows, several let the
//!    person choose, none denies with the most useful reason (see [`Defect`]).
//! 5. An organisation the service cannot be told about (none of the identifiers it accepts is
//!    in the register) is no candidate ([`identifiable`]).

use super::grant::{GrantStatus, HeldGrant, Organisation, Role, Scope, ServiceRef};
use super::identifiers::{legal_subject_ids, IdentifierType};
use super::level::{Comparison, Level};
use super::login::AuthnResult;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// A grant unused for this long lapses ("24 months", fixed at 730 days so the rule does not
/// depend on calendar arithmetic). Exactly 730 days is still usable; one instant more is not.
pub const LAPSE_AFTER: TimeDelta = TimeDelta::days(730);

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
    /// Usable grants exist, but the service accepts only identifiers the register does not
    /// hold for any of those organisations (an RSIN-only service, say).
    NoAcceptedIdentifier { accepted: Vec<IdentifierType> },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decision {
    Allow(Candidate),
    /// More than one organisation: the person chooses (candidates sorted by organisation name,
    /// then KvK number).
    ChooseOrganisation(Vec<Candidate>),
    Deny(DenyReason),
}

/// What one grant means for one login; see [`explain`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum GrantVerdict {
    /// The grant's scope does not cover the service.
    NotCovering,
    /// The grant can be used, at this level.
    Usable { level_used: Level },
    /// The grant covers the service but cannot be used, for this reason.
    Unusable(DenyReason),
}

/// Why one covering grant cannot be used.
///
/// The variants are declared from least to most useful to the person, so that `Ord` ranks them:
/// `GrantLevelTooLow > HolderBlocked > GrantLapsed > GrantExpired > GrantRevoked`. When several
/// covering grants fail, the login reports the greatest defect: the grant "closest to working".
/// A level that is too low means the grant works, only at a lower level; a block is lifted by
/// an admin; a lapsed grant is reactivated; an expired grant must be renewed; a revoked grant
/// is gone. Between two level defects the higher grant level ranks higher (closer to working).
///
/// For a single grant with several defects the reverse holds: it reports its *least* useful
/// defect (checked first in [`explain`]), because fixing a lesser one would not make it work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Defect {
    Revoked,
    Expired,
    Lapsed,
    Blocked,
    LevelTooLow(Level),
}

impl Defect {
    fn reason(self, required: Level) -> DenyReason {
        match self {
            Defect::Revoked => DenyReason::GrantRevoked,
            Defect::Expired => DenyReason::GrantExpired,
            Defect::Lapsed => DenyReason::GrantLapsed,
            Defect::Blocked => DenyReason::HolderBlocked,
            Defect::LevelTooLow(grant_level) => DenyReason::GrantLevelTooLow {
                grant_level,
                required,
            },
        }
    }
}

enum Assessment {
    NotCovering,
    Usable(Level),
    Unusable(Defect),
}

/// Whether a grant scope covers a service. Only the provider is compared for a provider scope,
/// so a service the provider adds later is covered without touching the grant.
pub fn covers(scope: &Scope, service: &ServiceRef) -> bool {
    match scope {
        Scope::AllServices => true,
        Scope::Provider { provider } => *provider == service.provider,
        Scope::Service { uuid } => *uuid == service.uuid,
    }
}

/// Whether a level reaches the required one under the requester's comparison.
pub fn reaches(level: Level, required: Level, comparison: Comparison) -> bool {
    match comparison {
        Comparison::Minimum => level >= required,
        Comparison::Exact => level == required,
    }
}

fn lapsed(grant: &HeldGrant, now: DateTime<Utc>) -> bool {
    let since = grant.last_used_at.unwrap_or(grant.valid_from);
    now.signed_duration_since(since) > LAPSE_AFTER
}

/// What one login asks of each of the person's grants: the required level and how it is
/// compared, the level the identity provider asserted, the service, and the moment.
struct Ask<'a> {
    required: Level,
    comparison: Comparison,
    achieved: Level,
    service: &'a ServiceRef,
    now: DateTime<Utc>,
}

impl<'a> Ask<'a> {
    fn new(
        required: Level,
        comparison: Comparison,
        achieved: Level,
        service: &'a ServiceRef,
        now: DateTime<Utc>,
    ) -> Ask<'a> {
        Ask {
            required,
            comparison,
            achieved,
            service,
            now,
        }
    }

    /// What the grant means for this login.
    fn assess(&self, grant: &HeldGrant) -> Assessment {
        let now = self.now;
        if !covers(&grant.scope, self.service) {
            return Assessment::NotCovering;
        }
        // Least useful defect first: see `Defect`.
        if grant.status != GrantStatus::Active {
            return Assessment::Unusable(Defect::Revoked);
        }
        if !(grant.valid_from <= now && now < grant.valid_until) {
            return Assessment::Unusable(Defect::Expired);
        }
        if lapsed(grant, now) {
            return Assessment::Unusable(Defect::Lapsed);
        }
        if grant.holder_blocked {
            return Assessment::Unusable(Defect::Blocked);
        }
        let level_used = self.achieved.min(grant.level);
        if !reaches(level_used, self.required, self.comparison) {
            return Assessment::Unusable(Defect::LevelTooLow(grant.level));
        }
        Assessment::Usable(level_used)
    }
}

/// What one grant means for a login, as [`decide`] sees it: for error pages, logs and the
/// admin module. The asserted level itself is not checked here (that is the first rule of
/// [`decide`]), only the grant.
pub fn explain(
    required: Level,
    comparison: Comparison,
    achieved: Level,
    service: &ServiceRef,
    grant: &HeldGrant,
    now: DateTime<Utc>,
) -> GrantVerdict {
    let ask = Ask::new(required, comparison, achieved, service, now);
    match ask.assess(grant) {
        Assessment::NotCovering => GrantVerdict::NotCovering,
        Assessment::Usable(level_used) => GrantVerdict::Usable { level_used },
        Assessment::Unusable(defect) => GrantVerdict::Unusable(defect.reason(required)),
    }
}

/// Orders two usable grants of one organisation: the greater wins. Highest level used, then
/// the latest `valid_until` (it stays usable longest), then the smallest grant ID, so the
/// choice never depends on the order the register returns grants in.
fn rank(a: (&HeldGrant, Level), b: (&HeldGrant, Level)) -> Ordering {
    a.1.cmp(&b.1)
        .then(a.0.valid_until.cmp(&b.0.valid_until))
        .then(b.0.grant_id.cmp(&a.0.grant_id))
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
    let achieved = result.level;
    if !reaches(achieved, required, comparison) {
        let reason = match comparison {
            Comparison::Minimum => DenyReason::LevelTooLow { achieved, required },
            Comparison::Exact => DenyReason::LevelNotExact { achieved, required },
        };
        return Decision::Deny(reason);
    }

    // Keyed by KvK number: that is what identifies an organisation.
    let mut winners: BTreeMap<&str, (&HeldGrant, Level)> = BTreeMap::new();
    let mut best_defect: Option<Defect> = None;
    let ask = Ask::new(required, comparison, achieved, service, now);
    for grant in grants {
        match ask.assess(grant) {
            Assessment::NotCovering => {}
            Assessment::Unusable(defect) => best_defect = best_defect.max(Some(defect)),
            Assessment::Usable(level_used) => {
                let entry = winners
                    .entry(grant.organisation.kvk.as_str())
                    .or_insert((grant, level_used));
                if rank((grant, level_used), *entry) == Ordering::Greater {
                    *entry = (grant, level_used);
                }
            }
        }
    }

    let mut candidates: Vec<Candidate> = winners
        .into_values()
        .map(|(grant, level_used)| Candidate {
            organisation: grant.organisation.clone(),
            grant_id: grant.grant_id.clone(),
            level_used,
            roles: grant.roles.clone(),
        })
        .collect();
    // Byte order of the name, then KvK: stable and locale-free.
    candidates.sort_by(|a, b| {
        a.organisation
            .name
            .cmp(&b.organisation.name)
            .then_with(|| a.organisation.kvk.cmp(&b.organisation.kvk))
    });

    if candidates.len() > 1 {
        return Decision::ChooseOrganisation(candidates);
    }
    match candidates.pop() {
        Some(only) => Decision::Allow(only),
        None => Decision::Deny(
            best_defect
                .map(|d| d.reason(required))
                .unwrap_or(DenyReason::NoGrant),
        ),
    }
}

/// Rule 5: keeps the organisations the service can be named: those with at least one identifier
/// of a kind it accepts (`accepted` empty: the KvK number). When that leaves none, the login is
/// refused with [`DenyReason::NoAcceptedIdentifier`]; when it leaves one, that one is allowed.
pub fn identifiable(decision: Decision, accepted: &[IdentifierType]) -> Decision {
    let named = |c: &Candidate| {
        !legal_subject_ids(
            &c.organisation.kvk,
            c.organisation.rsin.as_deref(),
            accepted,
        )
        .is_empty()
    };
    let mut candidates = match decision {
        Decision::Deny(_) => return decision,
        Decision::Allow(c) => vec![c],
        Decision::ChooseOrganisation(cs) => cs,
    };
    candidates.retain(named);
    match candidates.len() {
        0 => Decision::Deny(DenyReason::NoAcceptedIdentifier {
            accepted: accepted.to_vec(),
        }),
        1 => candidates
            .pop()
            .map_or(Decision::Deny(DenyReason::NoGrant), Decision::Allow),
        _ => Decision::ChooseOrganisation(candidates),
    }
}

/// One rule of the decision as applied to one grant, for people reading why (`poort grants
/// explain`, the admin module).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleCheck {
    pub rule: &'static str,
    pub passed: bool,
    pub detail: String,
}

/// Every rule for one grant, in the order [`explain`] applies them, each with whether it holds
/// and the values it compared. The first that fails is the reason [`explain`] gives.
// The same parameters as `explain` on purpose: one question, answered as a verdict there and
// rule by rule here.
pub fn rule_checks(
    required: Level,
    comparison: Comparison,
    achieved: Level,
    service: &ServiceRef,
    grant: &HeldGrant,
    now: DateTime<Utc>,
) -> Vec<RuleCheck> {
    let check = |rule, passed, detail: String| RuleCheck {
        rule,
        passed,
        detail,
    };
    let scope = match &grant.scope {
        Scope::AllServices => "all services of all providers".to_string(),
        Scope::Provider { provider } => format!("all services of provider {provider}"),
        Scope::Service { uuid } => format!("service {uuid}"),
    };
    let since = grant.last_used_at.unwrap_or(grant.valid_from);
    let level_used = achieved.min(grant.level);
    vec![
        check(
            "scope covers the service",
            covers(&grant.scope, service),
            format!(
                "{scope}; the service is {} of {}",
                service.uuid, service.provider
            ),
        ),
        check(
            "grant is active",
            grant.status == GrantStatus::Active,
            format!("status {:?}", grant.status).to_lowercase(),
        ),
        check(
            "inside its validity",
            grant.valid_from <= now && now < grant.valid_until,
            format!(
                "valid from {} until {}; now {}",
                grant.valid_from.format("%Y-%m-%d %H:%M"),
                grant.valid_until.format("%Y-%m-%d %H:%M"),
                now.format("%Y-%m-%d %H:%M")
            ),
        ),
        check(
            "used in the last 24 months",
            !lapsed(grant, now),
            match grant.last_used_at {
                Some(t) => format!("last used {}", t.format("%Y-%m-%d")),
                None => format!("never used; valid since {}", since.format("%Y-%m-%d")),
            },
        ),
        check(
            "holder not blocked",
            !grant.holder_blocked,
            if grant.holder_blocked {
                "blocked in the organisation or in the group that holds the grant".into()
            } else {
                "not blocked".into()
            },
        ),
        check(
            "level high enough",
            reaches(level_used, required, comparison),
            format!(
                "used min(asserted {achieved}, grant {}) = {level_used}; required {} {required}",
                grant.level,
                match comparison {
                    Comparison::Minimum => "at least",
                    Comparison::Exact => "exactly",
                }
            ),
        ),
    ]
}
