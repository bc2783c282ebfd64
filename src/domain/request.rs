//! Requests and their sign-off ("tekenen"): what a person asks of an organisation, and who may
//! approve or decline it.
//!
//! A person asks for an extra grant at an organisation they belong to, to be linked to another
//! organisation, or to renew an expiring grant. An administrator of that organisation signs it
//! off (never above their own level; a groepsbeheerder only for the members of their groups), or
//! a bevoegd vertegenwoordiger (a director as registered in the trade register). Where the
//! organisation's setting says so, a director with joint authority needs a second signature.
//! An approval may lower the level and the validity asked for, never raise them; a decline
//! carries a reason. A request not decided within 30 days expires.
//!
//! Pure rules, as the decision: who the signer is (their capacity, level, groups) is found by
//! the caller, `now` is an argument.

use super::grant::{Role, Scope};
use super::level::Level;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// A request not decided within this time expires.
pub const REQUEST_LIFETIME: TimeDelta = TimeDelta::days(30);

/// How long a grant asked for (or renewed) runs: 1, 3 or 5 years (afsprakenstelsel).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Validity {
    #[serde(rename = "1")]
    OneYear,
    #[serde(rename = "3")]
    ThreeYears,
    #[serde(rename = "5")]
    FiveYears,
}

impl Validity {
    pub const ALL: [Validity; 3] = [Validity::OneYear, Validity::ThreeYears, Validity::FiveYears];

    pub const fn years(self) -> u32 {
        match self {
            Validity::OneYear => 1,
            Validity::ThreeYears => 3,
            Validity::FiveYears => 5,
        }
    }

    /// From a number of years: only 1, 3 and 5 exist.
    pub fn from_years(years: u32) -> Option<Validity> {
        Validity::ALL.into_iter().find(|v| v.years() == years)
    }
}

/// What is asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RequestKind {
    /// Grants at an organisation the requester belongs to: one per scope (all services, one
    /// provider's, or services from the catalogue), all at the same level and validity.
    Grant {
        scopes: Vec<Scope>,
        level: Level,
        validity: Validity,
    },
    /// To be linked to (become a member, gebruiker, of) the organisation.
    Link,
    /// Renewal of one of the requester's grants, at its level.
    Renewal {
        grant_id: String,
        level: Level,
        validity: Validity,
    },
}

impl RequestKind {
    /// Its name in the register, the API and the audit trail.
    pub fn as_str(&self) -> &'static str {
        match self {
            RequestKind::Grant { .. } => "grant",
            RequestKind::Link => "link",
            RequestKind::Renewal { .. } => "renewal",
        }
    }

    /// The level and validity asked for, where the request gives a grant.
    pub fn asks(&self) -> Option<(Level, Validity)> {
        match self {
            RequestKind::Grant {
                level, validity, ..
            }
            | RequestKind::Renewal {
                level, validity, ..
            } => Some((*level, *validity)),
            RequestKind::Link => None,
        }
    }
}

/// Where a request stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RequestState {
    /// Waiting for a signature.
    Open,
    /// Signed once by a director with joint authority; waiting for a second director.
    AwaitingSecondSignature {
        first: String,
    },
    Approved,
    Declined {
        reason: String,
    },
    /// Taken back by the requester before anyone signed it off.
    Withdrawn,
    Expired,
}

impl RequestState {
    /// Its name in the register, the API and the audit trail.
    pub fn as_str(&self) -> &'static str {
        match self {
            RequestState::Open => "open",
            RequestState::AwaitingSecondSignature { .. } => "awaiting_second",
            RequestState::Approved => "approved",
            RequestState::Declined { .. } => "declined",
            RequestState::Withdrawn => "withdrawn",
            RequestState::Expired => "expired",
        }
    }

    /// Still waiting for a signature (whatever the clock says).
    pub fn is_open(&self) -> bool {
        matches!(
            self,
            RequestState::Open | RequestState::AwaitingSecondSignature { .. }
        )
    }
}

/// A bevoegd vertegenwoordiger signs only after a login at this level or higher: the level at
/// which the scheme lets a person declare authority for an organisation.
pub const REPRESENTATIVE_LEVEL: Level = Level::Eh3;

/// A request to an organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub id: String,
    /// The person who asked (the register's person ID).
    pub requester: String,
    /// KvK number of the organisation asked.
    pub organisation: String,
    pub kind: RequestKind,
    pub created_at: DateTime<Utc>,
    pub state: RequestState,
}

impl Request {
    /// The moment it expires unless decided.
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.created_at + REQUEST_LIFETIME
    }

    /// Still waiting for a signature at `now`.
    pub fn is_pending(&self, now: DateTime<Utc>) -> bool {
        matches!(
            self.state,
            RequestState::Open | RequestState::AwaitingSecondSignature { .. }
        ) && now < self.expires_at()
    }
}

/// A bevoegd vertegenwoordiger's authority, as the trade register gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Authority {
    /// Alleen/zelfstandig bevoegd: signs alone.
    Sole,
    /// Gezamenlijk bevoegd: signs with another director where the organisation requires it.
    Joint,
}

/// In what capacity someone signs, as the caller found it in the register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Capacity {
    /// A member with an administrator's role. `level` is their own level in the organisation
    /// (the highest of their usable grants there); `manages_requester` whether the requester is
    /// in one of their groups (what a groepsbeheerder may sign for).
    Administrator {
        role: Role,
        level: Level,
        manages_requester: bool,
    },
    /// A bevoegd vertegenwoordiger of the organisation.
    Representative(Authority),
}

/// Who signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signer {
    pub person: String,
    pub capacity: Capacity,
}

/// The organisation's setting for its directors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SignOffPolicy {
    /// A director with joint authority needs a second director's signature.
    pub joint_needs_two: bool,
}

/// What the signer decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    /// Approve; a grant with at most the level and validity asked for (`None`: as asked).
    Approve {
        level: Option<Level>,
        validity: Option<Validity>,
    },
    Decline {
        reason: String,
    },
}

/// What a signature does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SignedOff {
    /// Approved: for a grant or renewal, with this level and validity.
    Approved(Option<(Level, Validity)>),
    /// The first of two signatures; the request waits for another director.
    FirstOfTwo,
    Declined {
        reason: String,
    },
}

/// Why a signature is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum SignRefusal {
    #[error("the request is no longer waiting for a signature")]
    NotPending,
    #[error("the request expired 30 days after it was made")]
    Expired,
    #[error("nobody signs off their own request")]
    OwnRequest,
    #[error("a {0} cannot sign off requests")]
    NotAnAdministrator(String),
    #[error("a groepsbeheerder signs off only for the members of their groups")]
    NotTheirGroup,
    #[error("a groepsbeheerder cannot link a person to the organisation")]
    LinkNeedsBeheerder,
    #[error("the grant asks for level {asked}, above the signer's own level {own}")]
    AboveOwnLevel { asked: Level, own: Level },
    #[error("an approval may lower the level or the validity asked for, never raise them")]
    Raised,
    #[error("a decline needs a reason")]
    NoReason,
    #[error("the second signature must come from another director")]
    SameDirector,
    #[error("a bevoegd vertegenwoordiger signs after a login at EH3 or higher; this one reached {reached}")]
    RepresentativeLevel { reached: Level },
}

impl SignRefusal {
    /// A short code for the refusal, for the API, logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            SignRefusal::NotPending => "request_not_pending",
            SignRefusal::Expired => "request_expired",
            SignRefusal::OwnRequest => "own_request",
            SignRefusal::NotAnAdministrator(_) => "not_an_administrator",
            SignRefusal::NotTheirGroup => "not_their_group",
            SignRefusal::LinkNeedsBeheerder => "link_needs_beheerder",
            SignRefusal::AboveOwnLevel { .. } => "above_own_level",
            SignRefusal::Raised => "raised",
            SignRefusal::NoReason => "no_reason",
            SignRefusal::SameDirector => "same_director",
            SignRefusal::RepresentativeLevel { .. } => "representative_level",
        }
    }
}

/// Signs `request` off as `signer` at `now`. The caller stores the new state
/// ([`next_state`]) and, on an approval, makes the grant or the membership.
pub fn sign(
    request: &Request,
    signer: &Signer,
    verdict: &Verdict,
    policy: SignOffPolicy,
    now: DateTime<Utc>,
) -> Result<SignedOff, SignRefusal> {
    let first = match &request.state {
        RequestState::Open => None,
        RequestState::AwaitingSecondSignature { first } => Some(first.as_str()),
        RequestState::Expired => return Err(SignRefusal::Expired),
        _ => return Err(SignRefusal::NotPending),
    };
    if now >= request.expires_at() {
        return Err(SignRefusal::Expired);
    }
    if signer.person == request.requester {
        return Err(SignRefusal::OwnRequest);
    }
    let asked = request.kind.asks();
    let mut needs_second = false;
    match &signer.capacity {
        Capacity::Administrator {
            role,
            level,
            manages_requester,
        } => {
            match role {
                Role::Hoofdbeheerder | Role::Beheerder => {}
                Role::Groepsbeheerder => {
                    if request.kind == RequestKind::Link {
                        return Err(SignRefusal::LinkNeedsBeheerder);
                    }
                    if !manages_requester {
                        return Err(SignRefusal::NotTheirGroup);
                    }
                }
                other => return Err(SignRefusal::NotAnAdministrator(other.as_str().into())),
            }
            // Declining needs no level; giving does.
            if let (Verdict::Approve { level: lowered, .. }, Some((asked_level, _))) =
                (verdict, asked)
            {
                let giving = lowered.unwrap_or(asked_level);
                if giving > *level {
                    return Err(SignRefusal::AboveOwnLevel {
                        asked: giving,
                        own: *level,
                    });
                }
            }
        }
        Capacity::Representative(authority) => {
            needs_second = *authority == Authority::Joint && policy.joint_needs_two;
        }
    }
    // A second signature: another director's, whatever their authority.
    if let Some(first) = first {
        let director = matches!(signer.capacity, Capacity::Representative(_));
        if first == signer.person || !director {
            return Err(SignRefusal::SameDirector);
        }
        needs_second = false;
    }
    match verdict {
        Verdict::Decline { reason } => {
            let reason = reason.trim();
            if reason.is_empty() {
                return Err(SignRefusal::NoReason);
            }
            Ok(SignedOff::Declined {
                reason: reason.to_string(),
            })
        }
        Verdict::Approve { level, validity } => {
            let granted = match asked {
                None => None,
                Some((asked_level, asked_validity)) => {
                    let level = level.unwrap_or(asked_level);
                    let validity = validity.unwrap_or(asked_validity);
                    if level > asked_level || validity > asked_validity {
                        return Err(SignRefusal::Raised);
                    }
                    Some((level, validity))
                }
            };
            if needs_second {
                Ok(SignedOff::FirstOfTwo)
            } else {
                Ok(SignedOff::Approved(granted))
            }
        }
    }
}

/// The state a request is in after `signed` by `signer`.
pub fn next_state(signed: &SignedOff, signer: &Signer) -> RequestState {
    match signed {
        SignedOff::Approved(_) => RequestState::Approved,
        SignedOff::FirstOfTwo => RequestState::AwaitingSecondSignature {
            first: signer.person.clone(),
        },
        SignedOff::Declined { reason } => RequestState::Declined {
            reason: reason.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Level::{Eh2Plus, Eh3, Eh4};

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn grant_request(level: Level, validity: Validity) -> Request {
        Request {
            id: "r1".into(),
            requester: "anna".into(),
            organisation: "12345678".into(),
            kind: RequestKind::Grant {
                scopes: vec![Scope::AllServices],
                level,
                validity,
            },
            created_at: t("2026-12-01T09:00:00Z"),
            state: RequestState::Open,
        }
    }

    fn admin(person: &str, role: Role, level: Level, manages_requester: bool) -> Signer {
        Signer {
            person: person.into(),
            capacity: Capacity::Administrator {
                role,
                level,
                manages_requester,
            },
        }
    }

    fn director(person: &str, authority: Authority) -> Signer {
        Signer {
            person: person.into(),
            capacity: Capacity::Representative(authority),
        }
    }

    const AS_ASKED: Verdict = Verdict::Approve {
        level: None,
        validity: None,
    };

    fn now() -> DateTime<Utc> {
        t("2026-12-05T12:00:00Z")
    }

    #[test]
    fn an_administrator_approves_up_to_their_own_level() {
        let r = grant_request(Eh3, Validity::ThreeYears);
        let policy = SignOffPolicy::default();
        for role in [Role::Hoofdbeheerder, Role::Beheerder] {
            assert_eq!(
                sign(
                    &r,
                    &admin("bob", role, Eh3, false),
                    &AS_ASKED,
                    policy,
                    now()
                ),
                Ok(SignedOff::Approved(Some((Eh3, Validity::ThreeYears))))
            );
        }
        assert_eq!(
            sign(
                &r,
                &admin("bob", Role::Beheerder, Eh2Plus, false),
                &AS_ASKED,
                policy,
                now()
            ),
            Err(SignRefusal::AboveOwnLevel {
                asked: Eh3,
                own: Eh2Plus
            })
        );
        // Lowered to their own level, it can be given; and a decline needs no level.
        let lowered = Verdict::Approve {
            level: Some(Eh2Plus),
            validity: Some(Validity::OneYear),
        };
        assert_eq!(
            sign(
                &r,
                &admin("bob", Role::Beheerder, Eh2Plus, false),
                &lowered,
                policy,
                now()
            ),
            Ok(SignedOff::Approved(Some((Eh2Plus, Validity::OneYear))))
        );
        let no = Verdict::Decline {
            reason: " Niet nodig voor uw functie ".into(),
        };
        assert_eq!(
            sign(
                &r,
                &admin("bob", Role::Beheerder, Eh2Plus, false),
                &no,
                policy,
                now()
            ),
            Ok(SignedOff::Declined {
                reason: "Niet nodig voor uw functie".into()
            })
        );
    }

    #[test]
    fn an_approval_never_raises_what_was_asked() {
        let r = grant_request(Eh2Plus, Validity::OneYear);
        let signer = admin("bob", Role::Hoofdbeheerder, Eh4, false);
        for raised in [
            Verdict::Approve {
                level: Some(Eh3),
                validity: None,
            },
            Verdict::Approve {
                level: None,
                validity: Some(Validity::FiveYears),
            },
        ] {
            assert_eq!(
                sign(&r, &signer, &raised, SignOffPolicy::default(), now()),
                Err(SignRefusal::Raised)
            );
        }
    }

    #[test]
    fn who_may_not_sign() {
        let r = grant_request(Eh2Plus, Validity::OneYear);
        let policy = SignOffPolicy::default();
        let sign_as = |s: &Signer, v: &Verdict| sign(&r, s, v, policy, now());
        assert_eq!(
            sign_as(&admin("anna", Role::Hoofdbeheerder, Eh4, false), &AS_ASKED),
            Err(SignRefusal::OwnRequest)
        );
        for role in [Role::Gebruiker, Role::Lezer] {
            assert_eq!(
                sign_as(&admin("bob", role, Eh4, true), &AS_ASKED),
                Err(SignRefusal::NotAnAdministrator(role.as_str().into()))
            );
        }
        assert_eq!(
            sign_as(&admin("bob", Role::Groepsbeheerder, Eh4, false), &AS_ASKED),
            Err(SignRefusal::NotTheirGroup)
        );
        assert!(sign_as(&admin("bob", Role::Groepsbeheerder, Eh4, true), &AS_ASKED).is_ok());
        let empty = Verdict::Decline {
            reason: "  ".into(),
        };
        assert_eq!(
            sign_as(&admin("bob", Role::Beheerder, Eh4, false), &empty),
            Err(SignRefusal::NoReason)
        );
        let link = Request {
            kind: RequestKind::Link,
            ..r.clone()
        };
        assert_eq!(
            sign(
                &link,
                &admin("bob", Role::Groepsbeheerder, Eh4, true),
                &AS_ASKED,
                policy,
                now()
            ),
            Err(SignRefusal::LinkNeedsBeheerder)
        );
        assert_eq!(
            sign(
                &link,
                &admin("bob", Role::Beheerder, Eh2Plus, false),
                &AS_ASKED,
                policy,
                now()
            ),
            Ok(SignedOff::Approved(None)),
            "a link gives no level: any beheerder may approve it"
        );
    }

    #[test]
    fn requests_expire_after_thirty_days_and_are_decided_once() {
        let r = grant_request(Eh2Plus, Validity::OneYear);
        let signer = admin("bob", Role::Beheerder, Eh4, false);
        let policy = SignOffPolicy::default();
        let last_moment = r.created_at + REQUEST_LIFETIME - TimeDelta::seconds(1);
        assert!(r.is_pending(last_moment));
        assert!(sign(&r, &signer, &AS_ASKED, policy, last_moment).is_ok());
        assert!(!r.is_pending(r.expires_at()));
        assert_eq!(
            sign(&r, &signer, &AS_ASKED, policy, r.expires_at()),
            Err(SignRefusal::Expired)
        );
        for state in [
            RequestState::Approved,
            RequestState::Declined { reason: "x".into() },
            RequestState::Withdrawn,
        ] {
            let decided = Request { state, ..r.clone() };
            assert_eq!(
                sign(&decided, &signer, &AS_ASKED, policy, now()),
                Err(SignRefusal::NotPending)
            );
        }
        // Marked expired by the expiry run: said so, whatever the clock.
        let marked = Request {
            state: RequestState::Expired,
            ..r.clone()
        };
        assert_eq!(
            sign(&marked, &signer, &AS_ASKED, policy, now()),
            Err(SignRefusal::Expired)
        );
    }

    #[test]
    fn directors_sign_alone_or_jointly_as_the_organisation_says() {
        let r = grant_request(Eh4, Validity::FiveYears);
        let two = SignOffPolicy {
            joint_needs_two: true,
        };
        // A sole director signs alone, whatever the level.
        assert_eq!(
            sign(
                &r,
                &director("dirk", Authority::Sole),
                &AS_ASKED,
                two,
                now()
            ),
            Ok(SignedOff::Approved(Some((Eh4, Validity::FiveYears))))
        );
        // A joint director alone suffices unless the organisation requires two.
        assert!(matches!(
            sign(
                &r,
                &director("dirk", Authority::Joint),
                &AS_ASKED,
                SignOffPolicy::default(),
                now()
            ),
            Ok(SignedOff::Approved(_))
        ));
        let first = director("dirk", Authority::Joint);
        let signed = sign(&r, &first, &AS_ASKED, two, now()).unwrap();
        assert_eq!(signed, SignedOff::FirstOfTwo);
        let waiting = Request {
            state: next_state(&signed, &first),
            ..r.clone()
        };
        assert!(waiting.is_pending(now()));
        // The second signature: another director; not the same one, not an administrator.
        assert_eq!(
            sign(&waiting, &first, &AS_ASKED, two, now()),
            Err(SignRefusal::SameDirector)
        );
        assert_eq!(
            sign(
                &waiting,
                &admin("bob", Role::Hoofdbeheerder, Eh4, false),
                &AS_ASKED,
                two,
                now()
            ),
            Err(SignRefusal::SameDirector)
        );
        assert_eq!(
            sign(
                &waiting,
                &director("els", Authority::Joint),
                &AS_ASKED,
                two,
                now()
            ),
            Ok(SignedOff::Approved(Some((Eh4, Validity::FiveYears))))
        );
        // One director's decline ends it.
        let no = Verdict::Decline {
            reason: "Geen akkoord".into(),
        };
        assert!(matches!(
            sign(
                &waiting,
                &director("els", Authority::Joint),
                &no,
                two,
                now()
            ),
            Ok(SignedOff::Declined { .. })
        ));
    }

    #[test]
    fn validity_is_one_three_or_five_years() {
        assert_eq!(Validity::from_years(3), Some(Validity::ThreeYears));
        assert_eq!(Validity::from_years(2), None);
        assert_eq!(
            Validity::ALL.map(Validity::years),
            [1, 3, 5],
            "the afsprakenstelsel's terms"
        );
    }
}
