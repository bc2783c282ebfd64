//! What can go wrong when writing to the register: one [`WriteError`] for each way a write (or a
//! listing) can be refused, its short code for logs and metrics, and the same refusal without
//! personal data ([`WriteError::redacted`]); an import's [`ImportError`] names every bad row.

use crate::domain::level::Level;
use chrono::{DateTime, Utc};

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("invalid KvK number {0:?}: a KvK number has exactly 8 digits")]
    InvalidKvk(String),
    #[error("invalid RSIN {0:?}: an RSIN has 9 digits and passes the eleven-test")]
    InvalidRsin(String),
    #[error("{what} must not be empty")]
    Empty { what: &'static str },
    #[error("validity ends ({until}) before it starts ({from})")]
    EndsBeforeStart {
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    },
    #[error("validity from {from} until {until} is longer than 5 years")]
    ValidityTooLong {
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    },
    #[error("renewal by {0} years: choose 1, 3 or 5")]
    RenewalYears(u32),
    #[error("no service with ServiceUUID {0} in the service catalogue")]
    UnknownService(String),
    #[error("no provider {0} in the service catalogue")]
    UnknownProvider(String),
    #[error("no organisation with KvK number {0}")]
    UnknownOrganisation(String),
    #[error("no person {0}")]
    UnknownPerson(String),
    #[error("no group {group:?} in organisation {organisation}")]
    UnknownGroup { organisation: String, group: String },
    #[error("no grant {0}")]
    UnknownGrant(String),
    #[error("an organisation with KvK number {0} already exists")]
    DuplicateOrganisation(String),
    #[error("person {person} is already a member of organisation {organisation}")]
    DuplicateMember {
        person: String,
        organisation: String,
    },
    #[error("organisation {organisation} already has a group {group:?}")]
    DuplicateGroup { organisation: String, group: String },
    #[error("person {person} is already in group {group:?}")]
    DuplicateGroupMember { person: String, group: String },
    #[error("identity {subject:?} at {idp} is already linked to person {person}")]
    LinkTaken {
        idp: String,
        subject: String,
        person: String,
    },
    #[error(
        "grant {existing} already gives this holder this scope and level for an overlapping period"
    )]
    DuplicateGrant { existing: String },
    #[error("a grant with ID {0} already exists")]
    DuplicateGrantId(String),
    #[error("level {level} is above the granting administrator's own level ({})", admin_level.map(|l| l.to_string()).unwrap_or_else(|| "none".into()))]
    AboveAdminLevel {
        level: Level,
        admin_level: Option<Level>,
    },
    #[error("{holder} is not a member of organisation {organisation}")]
    HolderInOtherOrganisation {
        holder: String,
        organisation: String,
    },
    #[error("{actor} may not {action} in organisation {organisation}")]
    NotAllowed {
        actor: String,
        action: &'static str,
        organisation: String,
    },
    #[error("{actor} may not {action}: only an operator may")]
    OperatorOnly { actor: String, action: &'static str },
    #[error("organisation {0} must keep at least one hoofdbeheerder")]
    LastHoofdbeheerder(String),
    #[error("{0:?} is not an e-mail address")]
    InvalidEmail(String),
    #[error("{email} is already the e-mail address of a user of organisation {organisation}")]
    DuplicateEmail { email: String, organisation: String },
    #[error("no such invitation")]
    InvitationUnknown,
    #[error("this invitation has already been used")]
    InvitationUsed,
    #[error("this invitation has expired")]
    InvitationExpired,
    #[error("this invitation was withdrawn")]
    InvitationWithdrawn,
    #[error("grant {0} is revoked; reactivate it first")]
    GrantRevoked(String),
    #[error("person {0} is also a member of another organisation; their details cannot be changed from here")]
    SharedPerson(String),
    #[error("administrators cannot remove themselves")]
    RemoveSelf,
    #[error("an organisation cannot link its own members")]
    LinkOwnOrganisation,
    #[error("no such link request")]
    LinkRequestUnknown,
    #[error("this link request was already {0}")]
    LinkRequestDecided(String),
    #[error("this link request has expired")]
    LinkRequestExpired,
    #[error("no such request")]
    RequestUnknown,
    #[error("{0}")]
    SignRefused(crate::domain::request::SignRefusal),
    #[error("an open request for this is already waiting ({0})")]
    DuplicateRequest(String),
    #[error("only the person who asked can withdraw a request")]
    NotTheRequester,
    #[error("organisation {0} is not yet active: its hoofdbeheerder has not logged in yet")]
    OrganisationNotActive(String),
    // Activation of organisations and their bevoegd vertegenwoordigers (issue 14).
    #[error("organisation {0} is already active")]
    AlreadyActive(String),
    #[error("this activation link has expired")]
    ActivationExpired,
    #[error("language {0:?}: use nl or en")]
    InvalidLanguage(String),
    #[error("{0:?} is not a date of birth: write a real date as YYYY-MM-DD")]
    InvalidDateOfBirth(String),
    #[error("the date of birth {0} lies in the future")]
    DateOfBirthInFuture(String),
    #[error("authority {0:?}: use sole or joint")]
    InvalidAuthority(String),
    #[error(
        "the same person (given names, family name and date of birth) is already in the extract, at row {first}"
    )]
    DuplicateRepresentative { first: usize },
    #[error("register database: {0}")]
    Database(#[from] sqlx::Error),
}

impl WriteError {
    /// A short code for the refusal (`link_taken`, `duplicate_email`, …), for logs and metrics.
    pub fn reason_code(&self) -> &'static str {
        use WriteError as W;
        match self {
            W::InvalidKvk(_) => "invalid_kvk",
            W::InvalidRsin(_) => "invalid_rsin",
            W::Empty { .. } => "empty",
            W::EndsBeforeStart { .. } => "ends_before_start",
            W::ValidityTooLong { .. } => "validity_too_long",
            W::RenewalYears(_) => "renewal_years",
            W::UnknownService(_) => "unknown_service",
            W::UnknownProvider(_) => "unknown_provider",
            W::UnknownOrganisation(_) => "unknown_organisation",
            W::UnknownPerson(_) => "unknown_person",
            W::UnknownGroup { .. } => "unknown_group",
            W::UnknownGrant(_) => "unknown_grant",
            W::DuplicateOrganisation(_) => "duplicate_organisation",
            W::DuplicateMember { .. } => "duplicate_member",
            W::DuplicateGroup { .. } => "duplicate_group",
            W::DuplicateGroupMember { .. } => "duplicate_group_member",
            W::LinkTaken { .. } => "link_taken",
            W::DuplicateGrant { .. } => "duplicate_grant",
            W::DuplicateGrantId(_) => "duplicate_grant_id",
            W::AboveAdminLevel { .. } => "above_admin_level",
            W::HolderInOtherOrganisation { .. } => "holder_in_other_organisation",
            W::NotAllowed { .. } => "not_allowed",
            W::OperatorOnly { .. } => "operator_only",
            W::LastHoofdbeheerder(_) => "last_hoofdbeheerder",
            W::InvalidEmail(_) => "invalid_email",
            W::DuplicateEmail { .. } => "duplicate_email",
            W::InvitationUnknown => "invitation_unknown",
            W::InvitationUsed => "invitation_used",
            W::InvitationExpired => "invitation_expired",
            W::InvitationWithdrawn => "invitation_withdrawn",
            W::GrantRevoked(_) => "grant_revoked",
            W::SharedPerson(_) => "shared_person",
            W::RemoveSelf => "remove_self",
            W::LinkOwnOrganisation => "link_own_organisation",
            W::LinkRequestUnknown => "link_request_unknown",
            W::LinkRequestDecided(_) => "link_request_decided",
            W::LinkRequestExpired => "link_request_expired",
            W::RequestUnknown => "request_unknown",
            W::SignRefused(refusal) => refusal.code(),
            W::DuplicateRequest(_) => "duplicate_request",
            W::NotTheRequester => "not_the_requester",
            W::OrganisationNotActive(_) => "organisation_not_active",
            W::AlreadyActive(_) => "already_active",
            W::ActivationExpired => "activation_expired",
            W::InvalidLanguage(_) => "invalid_language",
            W::InvalidDateOfBirth(_) => "invalid_date_of_birth",
            W::DateOfBirthInFuture(_) => "date_of_birth_in_future",
            W::InvalidAuthority(_) => "invalid_authority",
            W::DuplicateRepresentative { .. } => "duplicate_representative",
            W::Database(_) => "database",
        }
    }

    /// The error as a log line may carry it: register IDs, organisation KvK numbers and codes,
    /// never what a person typed or is known by (e-mail addresses, AD subjects, an invitee's
    /// identity, an operator's name). The full text stays for the admin's page, the API's
    /// answer and the operator's terminal.
    pub fn redacted(&self) -> RedactedWriteError<'_> {
        RedactedWriteError(self)
    }
}

/// [`WriteError::redacted`]: the refusal without personal data.
#[derive(Debug, Clone, Copy)]
pub struct RedactedWriteError<'a>(&'a WriteError);

impl std::fmt::Display for RedactedWriteError<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use WriteError as W;
        // An actor is `person:<register ID>` (said), or an operator's name or an invitee's
        // AD identity (not said).
        let actor = |a: &str| -> String {
            match a.strip_prefix("person:") {
                Some(_) => a.to_string(),
                None => a.split(':').next().unwrap_or("someone").to_string(),
            }
        };
        let code = self.0.reason_code();
        match self.0 {
            // What someone typed or is known by: the code says what was wrong.
            W::InvalidKvk(_)
            | W::InvalidRsin(_)
            | W::InvalidEmail(_)
            | W::InvalidDateOfBirth(_)
            | W::DateOfBirthInFuture(_)
            | W::InvalidAuthority(_)
            | W::InvalidLanguage(_) => {
                write!(f, "{code}: the value is not usable")
            }
            W::LinkTaken { idp, person, .. } => write!(
                f,
                "{code}: the identity at {idp} is already linked to person {person}"
            ),
            W::DuplicateEmail { organisation, .. } => write!(
                f,
                "{code}: the e-mail address is already that of a user of organisation \
                 {organisation}"
            ),
            W::NotAllowed {
                actor: a,
                action,
                organisation,
            } => write!(
                f,
                "{code}: {} may not {action} in organisation {organisation}",
                actor(a)
            ),
            W::OperatorOnly { actor: a, action } => {
                write!(f, "{code}: {} may not {action}", actor(a))
            }
            // The rest names register IDs, organisations, groups, grants and dates only.
            other => write!(f, "{code}: {other}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{} row(s) refused, nothing imported:\n{}", .0.len(), .0.iter().map(|(line, e)| format!("line {line}: {e}")).collect::<Vec<_>>().join("\n"))]
    Rows(Vec<(usize, WriteError)>),
    /// The import as a whole is refused (who imports may not, say), before any row.
    #[error(transparent)]
    Refused(WriteError),
    #[error("register database: {0}")]
    Database(#[from] sqlx::Error),
}

/// A stored value the register cannot read: a corrupt row.
pub(super) fn corrupt(what: String) -> WriteError {
    WriteError::Database(sqlx::Error::Protocol(what))
}
