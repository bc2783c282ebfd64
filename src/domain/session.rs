//! A person's login session at poort (the HM): what an AD's authentication left behind in one
//! browser, and the rules under which a later login in that browser may skip the AD (single
//! sign-on). The rules follow the afsprakenstelsel (pages *Single sign-on and user sessions*,
//! *Use cases Single Sign-On*, *Eisen voor geldigheid van verklaringen*; summed up in
//! docs/SESSIONS.md): never at EH4, never past `ForceAuthn`, `prompt=login` or `max_age`, only
//! for a service whose catalogue entry supports SSO, never above the level the AD reached, at
//! most two hours after the last use and four hours after the authentication. Grants are not
//! part of a session: every login is decided again.

use super::decision::reaches;
use super::level::{Comparison, Level};
use super::login::AuthnResult;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// The longest a session may go unused: the AD's own session limit ("The maximum life span of
/// a session at the AD is 2 hours", restarted by each use).
pub const MAX_IDLE: TimeDelta = TimeDelta::hours(2);

/// The longest after the AD's authentication that poort answers from it: a statement in a user
/// session "MOET binnen 4 uur ververst worden".
pub const MAX_ABSOLUTE: TimeDelta = TimeDelta::hours(4);

/// A login session: the AD's authentication, as poort verified it, and its times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginSession {
    pub id: String,
    /// What the AD asserted (subject, level reached, moment of authentication).
    pub authn: AuthnResult,
    /// The AD's identifiers of its own session, for the log-out message poort forwards to it.
    pub upstream: UpstreamSession,
    pub last_used: DateTime<Utc>,
    /// The services the session answered (their IDs), for the log-out bookkeeping.
    pub services: Vec<String>,
}

/// How the AD names the person's session, as its answer said.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamSession {
    /// The NameID as the AD sent it (value, Format, NameQualifier, SPNameQualifier).
    pub name_id: Option<UpstreamNameId>,
    /// The AuthnStatement's SessionIndex.
    pub session_index: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamNameId {
    pub value: String,
    pub format: Option<String>,
    pub name_qualifier: Option<String>,
    pub sp_name_qualifier: Option<String>,
}

/// How long sessions last here: each at most the scheme's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    pub idle: TimeDelta,
    pub absolute: TimeDelta,
}

impl SessionLimits {
    /// Limits from configured seconds, each capped at the scheme's.
    pub fn capped(idle_seconds: i64, absolute_seconds: i64) -> SessionLimits {
        SessionLimits {
            idle: TimeDelta::seconds(idle_seconds.max(0)).min(MAX_IDLE),
            absolute: TimeDelta::seconds(absolute_seconds.max(0)).min(MAX_ABSOLUTE),
        }
    }
}

/// What a new login asks of a session it might be answered from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReuseAsk<'a> {
    pub required_level: Level,
    pub comparison: Comparison,
    /// `ForceAuthn="true"` or `prompt=login`: the person must authenticate again.
    pub force_authn: bool,
    /// OIDC `max_age`: the authentication may be at most this old.
    pub max_age: Option<TimeDelta>,
    /// The service's catalogue entry supports single sign-on (`SSOSupport`).
    pub service_supports_sso: bool,
    /// The ADs this login may use (the requester's IDPList); empty: any.
    pub allowed_idps: &'a [String],
    /// The service asks for the person's attributes, which only the AD's answer to this login
    /// carries (a session keeps none).
    pub asks_attributes: bool,
}

/// Why a session cannot answer a login: the login goes to the AD instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoReuse {
    /// Idle or absolute limit passed.
    Expired,
    /// The requester asked for a new authentication.
    ForceAuthn,
    /// The authentication is older than the requester's `max_age`.
    TooOld,
    /// The service's catalogue entry does not support single sign-on.
    ServiceWithoutSso,
    /// Single sign-on is never allowed at EH4.
    Level4,
    /// The AD reached another level than this login requires.
    Level,
    /// The requester does not allow the session's AD.
    AdNotAllowed,
    /// The service asks for attributes.
    AttributesAsked,
}

impl NoReuse {
    /// A short code, for traces and metrics.
    pub fn code(self) -> &'static str {
        match self {
            NoReuse::Expired => "expired",
            NoReuse::ForceAuthn => "force_authn",
            NoReuse::TooOld => "max_age",
            NoReuse::ServiceWithoutSso => "service_without_sso",
            NoReuse::Level4 => "level_4",
            NoReuse::Level => "level",
            NoReuse::AdNotAllowed => "ad_not_allowed",
            NoReuse::AttributesAsked => "attributes_asked",
        }
    }
}

impl LoginSession {
    /// A session opened by the AD's authentication `authn` at `now`.
    pub fn opened(
        id: String,
        authn: AuthnResult,
        upstream: UpstreamSession,
        now: DateTime<Utc>,
    ) -> LoginSession {
        LoginSession {
            id,
            authn,
            upstream,
            last_used: now,
            services: Vec::new(),
        }
    }

    /// When the session ends unless used again: the idle limit from its last use, or the
    /// absolute limit from the authentication, whichever comes first.
    pub fn ends_at(&self, limits: SessionLimits) -> DateTime<Utc> {
        (self.last_used + limits.idle).min(self.authn.authn_instant + limits.absolute)
    }

    /// Whether this session may answer a login asking `ask` at `now`, or why not. The first
    /// rule that fails is named, in this order: expiry, the requester's demand for a new
    /// authentication, EH4, the service, the AD, attributes, the level, `max_age`.
    pub fn may_answer(
        &self,
        ask: &ReuseAsk,
        limits: SessionLimits,
        now: DateTime<Utc>,
    ) -> Result<(), NoReuse> {
        if now >= self.ends_at(limits) {
            return Err(NoReuse::Expired);
        }
        if ask.force_authn {
            return Err(NoReuse::ForceAuthn);
        }
        if ask.required_level == Level::Eh4 || self.authn.level == Level::Eh4 {
            return Err(NoReuse::Level4);
        }
        if !ask.service_supports_sso {
            return Err(NoReuse::ServiceWithoutSso);
        }
        if !ask.allowed_idps.is_empty() && !ask.allowed_idps.contains(&self.authn.idp) {
            return Err(NoReuse::AdNotAllowed);
        }
        if ask.asks_attributes {
            return Err(NoReuse::AttributesAsked);
        }
        if !reaches(self.authn.level, ask.required_level, ask.comparison) {
            return Err(NoReuse::Level);
        }
        if ask
            .max_age
            .is_some_and(|max| now - self.authn.authn_instant > max)
        {
            return Err(NoReuse::TooOld);
        }
        Ok(())
    }

    /// The session used for a login to `service` at `now`: its idle time starts again.
    pub fn used(&mut self, service: &str, now: DateTime<Utc>) {
        self.last_used = now;
        if !self.services.iter().any(|s| s == service) {
            self.services.push(service.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap_or_default()
            + TimeDelta::minutes(minutes)
    }

    fn session(level: Level) -> LoginSession {
        let authn = AuthnResult {
            idp: "ad-1".into(),
            subject: "s".into(),
            level,
            authn_instant: at(0),
            attributes: Vec::new(),
        };
        LoginSession::opened("id".into(), authn, UpstreamSession::default(), at(0))
    }

    fn ask(level: Level) -> ReuseAsk<'static> {
        ReuseAsk {
            required_level: level,
            comparison: Comparison::Minimum,
            force_authn: false,
            max_age: None,
            service_supports_sso: true,
            allowed_idps: &[],
            asks_attributes: false,
        }
    }

    const LIMITS: SessionLimits = SessionLimits {
        idle: MAX_IDLE,
        absolute: MAX_ABSOLUTE,
    };

    #[test]
    fn a_session_answers_within_its_limits_and_each_rule_says_why_not() {
        let s = session(Level::Eh3);
        assert_eq!(s.may_answer(&ask(Level::Eh3), LIMITS, at(10)), Ok(()));
        assert_eq!(s.may_answer(&ask(Level::Eh2), LIMITS, at(10)), Ok(()));
        assert_eq!(s.may_answer(&ask(Level::Eh2Plus), LIMITS, at(10)), Ok(()));
        let exact = ReuseAsk {
            comparison: Comparison::Exact,
            ..ask(Level::Eh2)
        };
        assert_eq!(s.may_answer(&exact, LIMITS, at(10)), Err(NoReuse::Level));
        assert_eq!(
            s.may_answer(&ask(Level::Eh4), LIMITS, at(10)),
            Err(NoReuse::Level4)
        );
        assert_eq!(
            session(Level::Eh4).may_answer(&ask(Level::Eh2), LIMITS, at(10)),
            Err(NoReuse::Level4)
        );
        let forced = ReuseAsk {
            force_authn: true,
            ..ask(Level::Eh2)
        };
        assert_eq!(
            s.may_answer(&forced, LIMITS, at(10)),
            Err(NoReuse::ForceAuthn)
        );
        let no_sso = ReuseAsk {
            service_supports_sso: false,
            ..ask(Level::Eh2)
        };
        assert_eq!(
            s.may_answer(&no_sso, LIMITS, at(10)),
            Err(NoReuse::ServiceWithoutSso)
        );
        let other_ads = ["ad-2".to_string()];
        let listed = ReuseAsk {
            allowed_idps: &other_ads,
            ..ask(Level::Eh2)
        };
        assert_eq!(
            s.may_answer(&listed, LIMITS, at(10)),
            Err(NoReuse::AdNotAllowed)
        );
        let attributes = ReuseAsk {
            asks_attributes: true,
            ..ask(Level::Eh2)
        };
        assert_eq!(
            s.may_answer(&attributes, LIMITS, at(10)),
            Err(NoReuse::AttributesAsked)
        );
        let fresh = ReuseAsk {
            max_age: Some(TimeDelta::minutes(5)),
            ..ask(Level::Eh2)
        };
        assert_eq!(s.may_answer(&fresh, LIMITS, at(10)), Err(NoReuse::TooOld));
        let zero = ReuseAsk {
            max_age: Some(TimeDelta::zero()),
            ..ask(Level::Eh2)
        };
        assert_eq!(s.may_answer(&zero, LIMITS, at(1)), Err(NoReuse::TooOld));
    }

    #[test]
    fn idle_time_restarts_with_use_but_never_past_four_hours_from_the_authentication() {
        let mut s = session(Level::Eh3);
        assert_eq!(
            s.may_answer(&ask(Level::Eh3), LIMITS, at(120)),
            Err(NoReuse::Expired)
        );
        s.used("svc-1", at(100));
        s.used("svc-2", at(200));
        s.used("svc-1", at(230));
        assert_eq!(s.services, ["svc-1", "svc-2"]);
        assert_eq!(s.may_answer(&ask(Level::Eh3), LIMITS, at(239)), Ok(()));
        assert_eq!(s.ends_at(LIMITS), at(240));
        assert_eq!(
            s.may_answer(&ask(Level::Eh3), LIMITS, at(240)),
            Err(NoReuse::Expired)
        );
    }

    #[test]
    fn configured_limits_never_exceed_the_schemes() {
        assert_eq!(SessionLimits::capped(86_400, 86_400), LIMITS);
        let short = SessionLimits::capped(600, 3_600);
        assert_eq!(
            (short.idle, short.absolute),
            (TimeDelta::minutes(10), TimeDelta::hours(1))
        );
        assert_eq!(SessionLimits::capped(-5, -5).idle, TimeDelta::zero());
    }
}
