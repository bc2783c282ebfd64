//! What clients send: the request bodies of the API as wire types, read by [`Body`], which
//! answers a body it cannot read with a 400 problem saying what it should have been. Values
//! the body holds but the API or register refuses (an unknown level, an end past 5 years) are
//! checked by the handlers and answer 422.

use super::problem::Problem;
use super::wire::Role;
use super::wire_me::RequestKind;
// Named only in `#[schema(value_type = …)]`, which rustc does not count as a use; by its bare
// name, so that the document refers to the schema `Level`.
#[allow(unused_imports)]
use super::wire::Level;
use crate::grants;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A request body of the API, with the shape a 400 names.
pub trait Shape: DeserializeOwned {
    /// The body as a person would write it, for the 400's detail.
    const SHAPE: &'static str;
}

/// A JSON body read whatever its `Content-Type`, or a 400 problem.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: Shape> FromRequest<S> for Body<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| {
                Problem::bad_request(format!("the body could not be read: {e}"))
                    .because("unreadable_body")
            })?;
        serde_json::from_slice(&bytes).map(Body).map_err(|e| {
            Problem::bad_request(format!("the body is not {}: {e}", T::SHAPE))
                .because("malformed_body")
        })
    }
}

/// A grant to add: one per named service, all or nothing.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NewGrant {
    /// Held by this member (person ID) ...
    pub person: Option<String>,
    /// ... or by this group (name).
    pub group: Option<String>,
    pub scope: ScopeChoice,
    /// `EH2`, `EH2+`, `EH3` or `EH4`; never above the granting administrator's own level.
    #[schema(value_type = Level)]
    pub level: String,
    /// RFC 3339 or a date; default now.
    pub valid_from: Option<String>,
    /// Either an end (at most 5 years after the start) ...
    pub valid_until: Option<String>,
    /// ... or a number of years from the start: 1, 3 or 5.
    pub years: Option<u32>,
}

impl Shape for NewGrant {
    const SHAPE: &'static str = "a grant";
}

/// What a new grant covers: exactly one of `all`, `provider` or `services`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ScopeChoice {
    /// All services of all providers.
    #[serde(default)]
    pub all: bool,
    /// All services of this provider (DV entity ID).
    pub provider: Option<String>,
    /// These services (ServiceUUIDs): one grant each.
    #[serde(default)]
    pub services: Vec<String>,
}

/// Grants to renew, all or nothing.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Renewal {
    /// Grant IDs: at least one.
    pub ids: Vec<String>,
    /// 1, 3 or 5.
    pub years: u32,
}

impl Shape for Renewal {
    const SHAPE: &'static str = "{\"ids\": [...], \"years\": 1|3|5}";
}

/// A member's roles, replacing those they have.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Roles {
    pub roles: Vec<Role>,
}

impl Shape for Roles {
    const SHAPE: &'static str = "{\"roles\": [...]}";
}

/// The organisation's contact data: a field left out stays, `""` clears it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    pub contact_name: Option<String>,
    pub contact_email: Option<String>,
    pub contact_phone: Option<String>,
    pub contact_address: Option<String>,
}

impl Shape for Contact {
    const SHAPE: &'static str =
        "{\"contact_name\", \"contact_email\", \"contact_phone\", \"contact_address\"}";
}

// Wire twin of `grants::MemberDetails`, kept apart on purpose: a change to the register must not
// silently change what clients send (see `wire`).
/// A member's own details, as an administrator corrects them.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MemberDetails {
    pub name: String,
    pub email: String,
    #[serde(default)]
    pub phone: Option<String>,
    /// `nl` or `en`.
    #[serde(default)]
    pub language: Option<String>,
}

impl Shape for MemberDetails {
    const SHAPE: &'static str = "{\"name\", \"email\", \"phone\", \"language\"}";
}

impl From<MemberDetails> for grants::MemberDetails {
    fn from(d: MemberDetails) -> grants::MemberDetails {
        grants::MemberDetails {
            name: d.name,
            email: d.email,
            phone: d.phone,
            language: d.language,
        }
    }
}

// Wire twin of `grants::NewInvitation`, kept apart on purpose: a change to the register must not
// silently change what clients send (see `wire`).
/// A person to invite; the invitation e-mail goes out at once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NewInvitation {
    pub name: String,
    pub email: String,
    /// `nl` or `en`, for the e-mails.
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub roles: Vec<Role>,
    /// Groups of the organisation (by name) the person joins.
    #[serde(default)]
    pub groups: Vec<String>,
}

impl Shape for NewInvitation {
    const SHAPE: &'static str = "an invitation";
}

impl From<NewInvitation> for grants::NewInvitation {
    fn from(i: NewInvitation) -> grants::NewInvitation {
        grants::NewInvitation {
            name: i.name,
            email: i.email,
            language: i.language,
            phone: i.phone,
            roles: super::wire::roles(&i.roles),
            groups: i.groups,
        }
    }
}

// Wire twin of `grants::NewLinkRequest`, kept apart on purpose: a change to the register must not
// silently change what clients send (see `wire`).
/// Ask the organisation with that KvK number to link its member with that e-mail address.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NewLinkRequest {
    /// KvK number of the organisation where the person is known.
    pub kvk: String,
    /// The person's e-mail address there.
    pub email: String,
    /// Their roles here once approved.
    #[serde(default)]
    pub roles: Vec<Role>,
}

impl Shape for NewLinkRequest {
    const SHAPE: &'static str = "{\"kvk\", \"email\", \"roles\"}";
}

impl From<NewLinkRequest> for grants::NewLinkRequest {
    fn from(r: NewLinkRequest) -> grants::NewLinkRequest {
        grants::NewLinkRequest {
            kvk: r.kvk,
            email: r.email,
            roles: super::wire::roles(&r.roles),
        }
    }
}

/// What a person asks for (`POST /api/v1/me/requests`), by `kind`:
/// `grant` (`organisation`, `scope`, `level`, `validity_years`): grants at an organisation they
/// belong to; `link` (`organisation`): to be linked to an organisation; `renewal` (`grant`,
/// `validity_years`): one of their own grants renewed at its level.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NewRequest {
    pub kind: RequestKind,
    /// `grant`, `link`: KvK number of the organisation asked.
    pub organisation: Option<String>,
    /// `grant`: what the grants cover (one grant per service named).
    pub scope: Option<ScopeChoice>,
    /// `grant`: `EH2`, `EH2+`, `EH3` or `EH4`.
    #[schema(value_type = Option<Level>)]
    pub level: Option<String>,
    /// `grant`, `renewal`: 1, 3 or 5.
    pub validity_years: Option<u32>,
    /// `renewal`: the ID of one of the person's own grants.
    pub grant: Option<String>,
    /// Why, in the person's words (optional; shown to those who sign).
    pub motivation: Option<String>,
}

impl Shape for NewRequest {
    const SHAPE: &'static str = "{\"kind\": \"grant\"|\"link\"|\"renewal\", \"organisation\", \
                                  \"scope\", \"level\", \"validity_years\", \"grant\", \
                                  \"motivation\"}";
}

/// An approval: as asked, or lowered (never raised) in level or validity. The body may be left
/// out: as asked.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// At most the level asked for.
    #[schema(value_type = Option<Level>)]
    pub level: Option<String>,
    /// At most the years asked for: 1, 3 or 5.
    pub validity_years: Option<u32>,
}

impl Shape for Approval {
    const SHAPE: &'static str = "{\"level\", \"validity_years\"} (both optional)";
}

/// A decline, with the reason the requester is told (required).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decline {
    /// Why; the requester reads it. Empty is refused (`no_reason`).
    #[serde(default)]
    pub reason: String,
}

impl Shape for Decline {
    const SHAPE: &'static str = "{\"reason\": \"...\"}";
}

/// A JSON body that may be left out (no bytes, or `null`): then `T::default()`. Otherwise as
/// [`Body`].
pub struct OptionalBody<T>(pub T);

impl<S: Send + Sync, T: Shape + Default> FromRequest<S> for OptionalBody<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| Problem::bad_request(format!("the body could not be read: {e}")))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalBody(T::default()));
        }
        serde_json::from_slice::<Option<T>>(&bytes)
            .map(|body| OptionalBody(body.unwrap_or_default()))
            .map_err(|e| Problem::bad_request(format!("the body is not {}: {e}", T::SHAPE)))
    }
}
