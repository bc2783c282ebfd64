//! What `/api/v1/me` answers: a person's own session, their overview and their requests, as
//! wire types apart from the register's views (the split `wire` explains), converted with
//! `From`. Shared shapes (organisation, level, role, scope, holder) are `wire`'s.

use super::wire::{roles, GrantStatus, Holder, Level, Organisation, Role, Scope};
use crate::domain::request as domain;
use crate::grants;
use crate::selfservice::requests::Overview as OverviewView;
use crate::selfservice::PersonSession;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The person signed in to Mijn poort, and the CSRF token every change must carry.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Me {
    /// The person's ID in the register.
    pub person: String,
    pub name: Option<String>,
    /// The level the login reached: what signing off relies on.
    pub level: Level,
    /// For the `X-CSRF-Token` header of every change under `/api/v1/me`.
    pub csrf_token: String,
}

impl From<&PersonSession> for Me {
    fn from(s: &PersonSession) -> Me {
        Me {
            person: s.person_id.clone(),
            name: s.name.clone(),
            level: s.level.into(),
            csrf_token: s.csrf.clone(),
        }
    }
}

// Wire twin of `grants::read::mine::OwnMembership`, kept apart on purpose (see `wire`).
/// An organisation the person belongs to or represents.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Membership {
    pub organisation: Organisation,
    /// Their roles there (none for a bevoegd vertegenwoordiger who is no member).
    pub roles: Vec<Role>,
    /// Blocked in the whole organisation.
    pub blocked: bool,
    /// Whether the organisation is active (its hoofdbeheerder has logged in).
    pub active: bool,
    /// `sole` or `joint` where the person is a bevoegd vertegenwoordiger of it.
    pub authority: Option<String>,
}

impl From<&grants::read::mine::OwnMembership> for Membership {
    fn from(m: &grants::read::mine::OwnMembership) -> Membership {
        Membership {
            organisation: (&m.organisation).into(),
            roles: roles(&m.roles),
            blocked: m.blocked,
            active: m.active,
            authority: m.authority.clone(),
        }
    }
}

// Wire twin of `grants::GrantRecord` as its holder sees it, kept apart on purpose (see `wire`).
/// One of the person's grants, with the organisation it is for.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OwnGrant {
    pub id: String,
    pub organisation: Organisation,
    pub holder: Holder,
    pub scope: Scope,
    pub level: Level,
    pub valid_from: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    pub status: GrantStatus,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<&grants::GrantRecord> for OwnGrant {
    fn from(g: &grants::GrantRecord) -> OwnGrant {
        let grant = super::wire::Grant::from(g);
        OwnGrant {
            id: grant.id,
            organisation: (&g.organisation).into(),
            holder: grant.holder,
            scope: grant.scope,
            level: grant.level,
            valid_from: grant.valid_from,
            valid_until: grant.valid_until,
            status: grant.status,
            last_used_at: grant.last_used_at,
        }
    }
}

// Wire twin of `grants::read::mine::OwnLogin`, kept apart on purpose (see `wire`).
/// A login of the person's, as the audit trail recorded it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OwnLogin {
    pub at: DateTime<Utc>,
    /// `login.allowed`, `login.refused` or `admin.login`.
    pub action: String,
    /// KvK number of the organisation acted for, when the login got that far.
    pub organisation: Option<String>,
    /// The service's ID.
    pub service: Option<String>,
    /// A refusal's reason code.
    pub reason: Option<String>,
}

impl From<&grants::read::mine::OwnLogin> for OwnLogin {
    fn from(l: &grants::read::mine::OwnLogin) -> OwnLogin {
        OwnLogin {
            at: l.at,
            action: l.action.clone(),
            organisation: l.organisation.clone(),
            service: l.service.clone(),
            reason: l.reason.clone(),
        }
    }
}

/// What another organisation sent that names the person's e-mail address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConcerningKind {
    Invitation,
    LinkRequest,
}

// Wire twin of `grants::read::mine::Concerning`, kept apart on purpose (see `wire`).
/// An open invitation or link request of another organisation naming the person's address.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Concerning {
    pub kind: ConcerningKind,
    pub organisation: Organisation,
    pub expires_at: DateTime<Utc>,
}

impl From<&grants::read::mine::Concerning> for Concerning {
    fn from(c: &grants::read::mine::Concerning) -> Concerning {
        Concerning {
            kind: if c.kind == "invitation" {
                ConcerningKind::Invitation
            } else {
                ConcerningKind::LinkRequest
            },
            organisation: (&c.organisation).into(),
            expires_at: c.expires_at,
        }
    }
}

// Wire twin of `domain::request::RequestKind`'s names, kept apart on purpose (see `wire`).
/// What a request asks for: grants at an organisation the person belongs to, to be linked to an
/// organisation, or the renewal of one of their grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    Grant,
    Link,
    Renewal,
}

// Wire twin of `domain::request::RequestState`'s names, kept apart on purpose (see `wire`).
/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    /// Waiting for a signature.
    Open,
    /// Signed by one director with joint authority; waiting for another director.
    AwaitingSecond,
    Approved,
    Declined,
    /// Taken back by the requester.
    Withdrawn,
    /// Not decided within 30 days.
    Expired,
}

// Wire twin of `grants::RequestView`, kept apart on purpose (see `wire`).
/// A request (aanvraag), as its requester and those who may sign it see it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Request {
    pub id: String,
    /// The organisation asked.
    pub organisation: Organisation,
    pub kind: RequestKind,
    /// A grant request: what it covers (one grant per scope).
    pub scopes: Vec<Scope>,
    /// A renewal: the grant renewed.
    pub grant: Option<String>,
    /// A grant or renewal: the level asked for.
    pub level: Option<Level>,
    /// A grant or renewal: 1, 3 or 5 years.
    pub validity_years: Option<u32>,
    /// Why, in the requester's words.
    pub motivation: Option<String>,
    /// The requester's person ID.
    pub requester: String,
    pub requester_name: Option<String>,
    pub requester_email: Option<String>,
    pub state: RequestState,
    /// `awaiting_second`: the director who signed first (person ID).
    pub first_signer: Option<String>,
    /// `declined`: why.
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Undecided by then, it expires.
    pub expires_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    /// `person:<ID>` of who decided, or the expiry job.
    pub decided_by: Option<String>,
    /// `approved` grant or renewal: the level given (perhaps lowered).
    pub granted_level: Option<Level>,
    /// `approved` grant or renewal: the years given (perhaps lowered).
    pub granted_validity_years: Option<u32>,
}

impl From<&grants::RequestView> for Request {
    fn from(v: &grants::RequestView) -> Request {
        let r = &v.request;
        let (kind, scopes, grant) = match &r.kind {
            domain::RequestKind::Grant { scopes, .. } => (
                RequestKind::Grant,
                scopes.iter().map(Scope::from).collect(),
                None,
            ),
            domain::RequestKind::Link => (RequestKind::Link, Vec::new(), None),
            domain::RequestKind::Renewal { grant_id, .. } => {
                (RequestKind::Renewal, Vec::new(), Some(grant_id.clone()))
            }
        };
        let asks = r.kind.asks();
        let (state, first_signer, reason) = match &r.state {
            domain::RequestState::Open => (RequestState::Open, None, None),
            domain::RequestState::AwaitingSecondSignature { first } => {
                (RequestState::AwaitingSecond, Some(first.clone()), None)
            }
            domain::RequestState::Approved => (RequestState::Approved, None, None),
            domain::RequestState::Declined { reason } => {
                (RequestState::Declined, None, Some(reason.clone()))
            }
            domain::RequestState::Withdrawn => (RequestState::Withdrawn, None, None),
            domain::RequestState::Expired => (RequestState::Expired, None, None),
        };
        Request {
            id: r.id.clone(),
            organisation: (&v.organisation).into(),
            kind,
            scopes,
            grant,
            level: asks.map(|(l, _)| l.into()),
            validity_years: asks.map(|(_, v)| v.years()),
            motivation: v.motivation.clone(),
            requester: r.requester.clone(),
            requester_name: v.requester_name.clone(),
            requester_email: v.requester_email.clone(),
            state,
            first_signer,
            reason,
            created_at: r.created_at,
            expires_at: v.expires_at,
            decided_at: v.decided_at,
            decided_by: v.decided_by.clone(),
            granted_level: v.granted.map(|(l, _)| l.into()),
            granted_validity_years: v.granted.map(|(_, v)| v.years()),
        }
    }
}

/// The person's own requests: every open one and the newest others.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Requests {
    /// Newest first.
    pub items: Vec<Request>,
}

/// Everything Mijn poort's start page shows.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Overview {
    pub memberships: Vec<Membership>,
    pub grants: Vec<OwnGrant>,
    /// The newest logins, newest first.
    pub logins: Vec<OwnLogin>,
    /// Every open request and the newest decided ones, newest first.
    pub requests: Vec<Request>,
    pub concerning: Vec<Concerning>,
    /// How many requests wait for the person's signature.
    pub to_sign: i64,
}

impl From<&OverviewView> for Overview {
    fn from(o: &OverviewView) -> Overview {
        Overview {
            memberships: o.memberships.iter().map(Into::into).collect(),
            grants: o.grants.iter().map(Into::into).collect(),
            logins: o.logins.iter().map(Into::into).collect(),
            requests: o.requests.iter().map(Into::into).collect(),
            concerning: o.concerning.iter().map(Into::into).collect(),
            to_sign: o.to_sign,
        }
    }
}

/// A page of the requests waiting for the person's signature, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApprovalPage {
    pub items: Vec<Request>,
    /// How many wait in all (within the organisation asked for, if any).
    pub total: i64,
    /// The `after` of the next page; absent on the last.
    pub next: Option<String>,
}

/// The cursor `after` for the page after `(created_at, id)`: `<RFC 3339, UTC>~<ID>`.
pub fn cursor(at: DateTime<Utc>, id: &str) -> String {
    format!("{}~{id}", at.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

/// A cursor read back, or `None` when it is not one.
pub fn read_cursor(after: &str) -> Option<(DateTime<Utc>, String)> {
    let (at, id) = after.split_once('~')?;
    let at = DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc);
    (!id.is_empty()).then(|| (at, id.to_string()))
}

impl From<grants::RequestPage> for ApprovalPage {
    fn from(p: grants::RequestPage) -> ApprovalPage {
        ApprovalPage {
            items: p.requests.iter().map(Into::into).collect(),
            total: p.total,
            next: p.next.map(|(at, id)| cursor(at, &id)),
        }
    }
}

/// What a signature did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignOutcome {
    /// Approved: the grants are made, the grant renewed or the person linked.
    Approved,
    /// The first of two directors' signatures; the request waits for another director.
    FirstOfTwo,
    Declined,
}

/// A request signed off, as it now stands.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Signed {
    pub outcome: SignOutcome,
    pub request: Request,
    /// The grants an approval made (a grant request) or renewed (a renewal), by ID.
    pub grants: Vec<String>,
}

impl From<&grants::SignedRequest> for Signed {
    fn from(s: &grants::SignedRequest) -> Signed {
        Signed {
            outcome: match s.signed {
                domain::SignedOff::Approved(_) => SignOutcome::Approved,
                domain::SignedOff::FirstOfTwo => SignOutcome::FirstOfTwo,
                domain::SignedOff::Declined { .. } => SignOutcome::Declined,
            },
            request: (&s.request).into(),
            grants: s.grants.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_as_the_row_it_names() {
        let at: DateTime<Utc> = "2026-12-06T10:11:12.123456Z".parse().unwrap();
        let c = cursor(at, "r-1");
        assert!(
            !c.contains('+'),
            "no character a query string would alter: {c}"
        );
        assert_eq!(read_cursor(&c), Some((at, "r-1".to_string())));
        for bad in ["", "r-1", "yesterday~r-1", "2026-12-06T10:11:12Z~"] {
            assert_eq!(read_cursor(bad), None, "{bad:?}");
        }
    }
}
