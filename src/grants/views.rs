//! What the register shows: the view types its listings return and its writes answer with
//! (a grant as listed, a member with their roles and groups, an organisation with its counts, a
//! link request as either side sees it, a member's newest invitation, a bevoegd
//! vertegenwoordiger). Plain values; the queries that fill them are in `read/`, by what they
//! list.

use crate::domain::grant::{GrantStatus, Organisation, Role, Scope};
use crate::domain::level::Level;
use crate::domain::request::Authority;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::str::FromStr;

/// Who holds a grant: a person's membership of the organisation, or a group of it (by name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Holder {
    Person(String),
    Group(String),
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Holder::Person(p) => write!(f, "person {p}"),
            Holder::Group(g) => write!(f, "group {g:?}"),
        }
    }
}

/// A grant as listed and exported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GrantRecord {
    pub id: String,
    pub organisation: Organisation,
    pub holder: Holder,
    pub scope: Scope,
    pub level: Level,
    pub valid_from: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    pub status: GrantStatus,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_by: Option<String>,
    /// The holding person's name, for lists (`None` for a group, or a person without one).
    pub holder_name: Option<String>,
}

/// Where a member stands in the organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberStatus {
    /// Invited, not logged in yet: no identity is bound to them.
    Invited,
    Active,
    /// Blocked for the whole organisation.
    Blocked,
}

impl MemberStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::Invited => "invited",
            MemberStatus::Active => "active",
            MemberStatus::Blocked => "blocked",
        }
    }
}

impl FromStr for MemberStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "invited" => Ok(MemberStatus::Invited),
            "active" => Ok(MemberStatus::Active),
            "blocked" => Ok(MemberStatus::Blocked),
            other => Err(format!(
                "unknown status {other:?}: use invited, active or blocked"
            )),
        }
    }
}

/// A member as shown with their organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberView {
    pub person: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub language: Option<String>,
    pub roles: Vec<Role>,
    pub blocked: bool,
    pub status: MemberStatus,
    /// The last login allowed for this organisation (any service, the admin module included).
    pub last_login: Option<DateTime<Utc>>,
    /// Groups of the organisation the member is in, and whether they are blocked there.
    pub groups: Vec<(String, bool)>,
}

/// Where an organisation stands: registered by an operator and waiting for its appointed
/// hoofdbeheerder's first login, or active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrganisationStatus {
    PendingActivation,
    Active,
}

impl OrganisationStatus {
    /// From the organisation's `activated_at`.
    pub fn of(activated_at: Option<DateTime<Utc>>) -> OrganisationStatus {
        match activated_at {
            Some(_) => OrganisationStatus::Active,
            None => OrganisationStatus::PendingActivation,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OrganisationStatus::PendingActivation => "pending_activation",
            OrganisationStatus::Active => "active",
        }
    }
}

impl FromStr for OrganisationStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending_activation" | "pending" => Ok(OrganisationStatus::PendingActivation),
            "active" => Ok(OrganisationStatus::Active),
            other => Err(format!(
                "unknown status {other:?}: use pending_activation or active"
            )),
        }
    }
}

/// An organisation in the operator's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrganisationListing {
    pub organisation: Organisation,
    pub status: OrganisationStatus,
    pub activated_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A bevoegd vertegenwoordiger as listed: names, authority and whether bound to a person at a
/// login; never the date of birth, which only the matching reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepresentativeView {
    pub id: String,
    pub given_names: String,
    pub family_name: String,
    pub authority: Authority,
    /// The person they were bound to at their first matching login (register ID).
    pub person: Option<String>,
    pub bound_at: Option<DateTime<Utc>>,
}

impl RepresentativeView {
    pub fn bound(&self) -> bool {
        self.person.is_some()
    }
}

/// What importing an organisation's extract did to its list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExtractApplied {
    pub kvk: String,
    /// Rows of the same person as before: ID and binding kept, authority as the extract says.
    pub kept: usize,
    pub added: usize,
    pub removed: usize,
}

/// An organisation with its members, groups and grant counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrganisationView {
    pub organisation: Organisation,
    pub status: OrganisationStatus,
    /// When its hoofdbeheerder's first login (or a sole director's) activated it.
    pub activated_at: Option<DateTime<Utc>>,
    /// A director with joint authority needs a second director's signature.
    pub joint_needs_two: bool,
    pub contact_name: Option<String>,
    pub contact_email: Option<String>,
    pub contact_phone: Option<String>,
    pub contact_address: Option<String>,
    pub members: Vec<MemberView>,
    pub groups: Vec<String>,
    pub grants_active: i64,
    pub grants_revoked: i64,
    /// Active grants whose validity has ended.
    pub grants_expired: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkRequestStatus {
    Pending,
    Approved,
    Declined,
    Withdrawn,
    Expired,
}

impl LinkRequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkRequestStatus::Pending => "pending",
            LinkRequestStatus::Approved => "approved",
            LinkRequestStatus::Declined => "declined",
            LinkRequestStatus::Withdrawn => "withdrawn",
            LinkRequestStatus::Expired => "expired",
        }
    }
}

/// A link request as either side sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkRequest {
    pub id: String,
    /// The organisation that asks.
    pub organisation: Organisation,
    /// The organisation where the person is known.
    pub other: Organisation,
    pub email: String,
    pub roles: Vec<Role>,
    pub requested_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub status: LinkRequestStatus,
    pub decided_at: Option<DateTime<Utc>>,
    /// The person: for the other side, the member the address names; for the asking side only
    /// once approved.
    pub person: Option<String>,
    /// That person's name, under the same rule.
    pub person_name: Option<String>,
}

/// The newest invitation made for a member, as their page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvitationState {
    pub id: String,
    pub email: String,
    pub expires_at: DateTime<Utc>,
    pub accepted: bool,
    pub withdrawn: bool,
}

/// A request (an extra grant, a link, a renewal) as Mijn poort, the approvals list and the API
/// show it: the domain's request (its state `Expired` once its 30 days passed undecided), with
/// the organisation, who asked and what came of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestView {
    pub request: crate::domain::request::Request,
    pub organisation: Organisation,
    pub requester_name: Option<String>,
    pub requester_email: Option<String>,
    /// The language the requester's mails are written in, if they chose one.
    pub requester_language: Option<String>,
    /// Why the requester asks, in their words.
    pub motivation: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    /// Who decided (`person:<ID>`, or the expiry job).
    pub decided_by: Option<String>,
    /// What an approval gave: level and validity, perhaps lowered.
    pub granted: Option<(Level, crate::domain::request::Validity)>,
}

/// A page of requests, oldest first, and how many match in all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestPage {
    pub requests: Vec<RequestView>,
    pub total: i64,
    /// Where the next page starts (`created_at` and ID of this page's last), if there is one.
    pub next: Option<(DateTime<Utc>, String)>,
}
