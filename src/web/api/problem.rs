//! The API's one error type: an RFC 9457 problem detail (`application/problem+json`) with a
//! reference number, and how each refusal of the session, the services and the register reads
//! as one. Every handler returns `Result<_, Problem>`, so `?` is all it takes to answer.

use crate::admin::grants::GrantError;
use crate::admin::members::MemberError;
use crate::domain::request::SignRefusal;
use crate::grants::WriteError;
use crate::selfservice::RequestError;
use crate::telemetry::correlation;
use crate::web::admin::SessionError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::openapi::{ContentBuilder, RefOr, ResponseBuilder};
use utoipa::ToSchema;

/// A problem detail as the API answers it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// `/api/v1/problems/<kind>`: unauthenticated, forbidden, not-found, conflict, invalid,
    /// internal or unavailable.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short title of the kind.
    pub title: String,
    /// The HTTP status again.
    #[schema(value_type = u16)]
    pub status: u16,
    /// What went wrong, specifically.
    pub detail: String,
    /// A reference number to quote to the operator; the server's log lines of this request
    /// carry it.
    pub reference: String,
    /// Why, as a short code a program can act on (`own_request`, `already_active`,
    /// `invalid_date_of_birth`, `invalid_token`, …), where the refusal has one.
    // Boxed: one more `String` would make every `Result<_, Problem>` too large to return well.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub reason: Option<Box<str>>,
}

impl Problem {
    /// A problem with a new reference number, which the request's later log lines carry.
    pub fn new(status: StatusCode, kind: &str, title: &str, detail: impl Into<String>) -> Problem {
        let reference = correlation::new_reference();
        correlation::note_reference(&reference);
        Problem::with_reference(status, kind, title, detail, reference)
    }

    /// A problem under a reference number already made (and logged) by the caller.
    pub fn with_reference(
        status: StatusCode,
        kind: &str,
        title: &str,
        detail: impl Into<String>,
        reference: String,
    ) -> Problem {
        Problem {
            kind: format!("/api/v1/problems/{kind}"),
            title: title.to_string(),
            status: status.as_u16(),
            detail: detail.into(),
            reference,
            reason: None,
        }
    }

    /// The same problem, saying `detail`.
    pub fn with_detail(self, detail: &str) -> Problem {
        Problem {
            detail: detail.to_string(),
            ..self
        }
    }

    /// The same problem, with its reason code.
    pub(crate) fn because(mut self, reason: &str) -> Problem {
        self.reason = Some(reason.into());
        self
    }

    pub(crate) fn not_found(what: &str) -> Problem {
        Problem::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            format!("no {what} in your organisation"),
        )
    }

    pub(crate) fn forbidden(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed", detail)
    }

    /// A request the API cannot read (a malformed body or query): 400.
    pub(crate) fn bad_request(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, "invalid", "Invalid input", detail)
    }

    /// A readable request whose values the register or the API's rules refuse: 422.
    pub(crate) fn invalid(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            "Invalid input",
            detail,
        )
    }

    /// A failure of poort itself, logged with the reference; the detail says what did not
    /// happen.
    pub(crate) fn internal(cause: &dyn std::fmt::Display, detail: &str) -> Problem {
        let p = Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            detail,
        );
        tracing::error!(reference = %p.reference, "api: {cause}");
        p
    }

    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let mut response = (status, Json(self)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}

impl From<SessionError> for Problem {
    fn from(e: SessionError) -> Problem {
        match e {
            SessionError::None => Problem::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Not logged in",
                "log in to the admin module first (/admin/login)",
            )
            .because("no_session"),
            SessionError::Store(d) => {
                let p = Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Session store unavailable",
                    "the session could not be read; try again in a few minutes",
                );
                tracing::error!(reference = %p.reference, "api session: {d}");
                p
            }
        }
    }
}

impl From<MemberError> for Problem {
    fn from(e: MemberError) -> Problem {
        match e {
            MemberError::NotFound => Problem::not_found("such member"),
            MemberError::Write(w) => w.into(),
        }
    }
}

impl From<GrantError> for Problem {
    fn from(e: GrantError) -> Problem {
        match e {
            GrantError::NotFound => Problem::not_found("such grant"),
            GrantError::Write(w) => w.into(),
            GrantError::Rows(mut rows) if rows.len() == 1 => Problem::from(rows.remove(0).1),
            GrantError::Rows(rows) => {
                // The most telling refusal decides the status; every one is in the detail.
                let detail = rows
                    .iter()
                    .map(|(l, e)| format!("scope {l}: {e}"))
                    .collect::<Vec<_>>()
                    .join("; ");
                let mut p = rows
                    .into_iter()
                    .next()
                    .map(|(_, e)| Problem::from(e))
                    .unwrap_or_else(|| Problem::invalid(""));
                p.detail = detail;
                p
            }
        }
    }
}

/// How a refused write reads over the API.
impl From<WriteError> for Problem {
    fn from(e: WriteError) -> Problem {
        use WriteError as W;
        // A person of another organisation answers as one who does not exist: the same status
        // and words, so that guessing person IDs tells nothing.
        if matches!(e, W::UnknownPerson(_) | W::HolderInOtherOrganisation { .. }) {
            return Problem::not_found("such person");
        }
        let (status, kind, title) = match &e {
            W::NotAllowed { .. } | W::AboveAdminLevel { .. } | W::OperatorOnly { .. } => {
                (StatusCode::FORBIDDEN, "forbidden", "Not allowed")
            }
            W::UnknownGrant(_)
            | W::InvitationUnknown
            | W::UnknownOrganisation(_)
            | W::UnknownGroup { .. }
            | W::LinkRequestUnknown => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            W::DuplicateOrganisation(_)
            | W::DuplicateMember { .. }
            | W::DuplicateGroup { .. }
            | W::DuplicateGroupMember { .. }
            | W::LinkTaken { .. }
            | W::DuplicateGrant { .. }
            | W::DuplicateGrantId(_)
            | W::DuplicateEmail { .. }
            | W::LastHoofdbeheerder(_)
            | W::InvitationUsed
            | W::InvitationWithdrawn
            | W::InvitationExpired
            | W::GrantRevoked(_)
            | W::SharedPerson(_)
            | W::LinkRequestDecided(_)
            | W::LinkRequestExpired
            | W::AlreadyActive(_)
            | W::ActivationExpired => (
                StatusCode::CONFLICT,
                "conflict",
                "Conflicts with the register",
            ),
            W::Database(_) => {
                return Problem::internal(
                    &e,
                    "the register could not be read or changed; nothing was changed",
                )
            }
            _ => (StatusCode::UNPROCESSABLE_ENTITY, "invalid", "Invalid input"),
        };
        Problem::new(status, kind, title, e.to_string()).because(e.reason_code())
    }
}

/// How a refused import of rows reads over the API: the first row's refusal decides the status
/// and the reason; every row's is in the detail, by its number.
impl From<crate::grants::ImportError> for Problem {
    fn from(e: crate::grants::ImportError) -> Problem {
        use crate::grants::ImportError as I;
        match e {
            I::Refused(w) => w.into(),
            I::Database(d) => Problem::internal(
                &d,
                "the register could not be read or changed; nothing was changed",
            ),
            I::Rows(rows) => {
                let detail = rows
                    .iter()
                    .map(|(n, e)| format!("row {n}: {e}"))
                    .collect::<Vec<_>>()
                    .join("; ");
                let mut p = rows
                    .into_iter()
                    .next()
                    .map(|(_, e)| Problem::from(e))
                    .unwrap_or_else(|| Problem::invalid(""));
                p.detail = format!("nothing was changed: {detail}");
                p
            }
        }
    }
}

/// How a refused action of a person in Mijn poort reads over `/api/v1/me`: always with its
/// reason code. Unlike the admin module's refusals, a person is told that they are no member of
/// the organisation they name (it is their own membership); a request they neither made nor may
/// sign is "not found", one body for every such ID. Statuses: 404 unknown, 403 not theirs to
/// sign (their own, above their level, the same director twice, a login below EH3 for a
/// director), 409 the register's state (decided, expired, a duplicate, an organisation not yet
/// active, a revoked grant), 422 a value refused.
impl From<RequestError> for Problem {
    fn from(e: RequestError) -> Problem {
        use SignRefusal as R;
        use WriteError as W;
        const FORBIDDEN: (StatusCode, &str, &str) =
            (StatusCode::FORBIDDEN, "forbidden", "Not allowed");
        const CONFLICT: (StatusCode, &str, &str) = (
            StatusCode::CONFLICT,
            "conflict",
            "Conflicts with the register",
        );
        const INVALID: (StatusCode, &str, &str) =
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid", "Invalid input");
        let w = match e {
            RequestError::NotFound | RequestError::Write(W::RequestUnknown) => {
                return Problem::request_unknown()
            }
            RequestError::Write(w) => w,
        };
        if let W::Database(_) = w {
            return Problem::internal(
                &w.redacted(),
                "the register could not be read or changed; nothing was changed",
            );
        }
        let (status, kind, title) = match &w {
            W::SignRefused(
                R::OwnRequest
                | R::NotAnAdministrator(_)
                | R::NotTheirGroup
                | R::LinkNeedsBeheerder
                | R::AboveOwnLevel { .. }
                | R::SameDirector
                | R::RepresentativeLevel { .. },
            ) => FORBIDDEN,
            W::SignRefused(R::NotPending | R::Expired)
            | W::DuplicateRequest(_)
            | W::DuplicateMember { .. }
            | W::DuplicateGrant { .. }
            | W::OrganisationNotActive(_)
            | W::GrantRevoked(_) => CONFLICT,
            _ => INVALID,
        };
        Problem::new(status, kind, title, w.to_string()).because(w.reason_code())
    }
}

impl Problem {
    /// A request the person neither made nor may sign, or none at all: one answer for both.
    pub(crate) fn request_unknown() -> Problem {
        Problem::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            "no such request among your own or those you may sign",
        )
        .because("request_unknown")
    }
}

/// The problems an operation can answer, for its `responses` in the document.
fn problems(statuses: &[(u16, &str)]) -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
    statuses
        .iter()
        .map(|(status, description)| {
            let content = ContentBuilder::new()
                .schema(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                    "Problem",
                )))
                .build();
            let response = ResponseBuilder::new()
                .description(*description)
                .content("application/problem+json", content)
                .build();
            (status.to_string(), RefOr::T(response))
        })
        .collect()
}

const UNAUTHENTICATED: (u16, &str) = (401, "not logged in to the admin module");
const FORBIDDEN: (u16, &str) = (
    403,
    "the session's roles do not allow this, or the CSRF token is missing",
);
const NOT_FOUND: (u16, &str) = (404, "not in the session's organisation (or its view)");
const INTERNAL: (u16, &str) = (500, "poort failed; quote the reference");
const UNAVAILABLE: (u16, &str) = (503, "the session store is unavailable");

/// What a read can answer besides its result.
pub struct ReadProblems;

impl utoipa::IntoResponses for ReadProblems {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
        problems(&[
            (400, "a query parameter is malformed"),
            UNAUTHENTICATED,
            FORBIDDEN,
            NOT_FOUND,
            INTERNAL,
            UNAVAILABLE,
        ])
    }
}

/// What a change can answer besides its result.
pub struct WriteProblems;

impl utoipa::IntoResponses for WriteProblems {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
        problems(&[
            (400, "the body is not of the documented shape"),
            UNAUTHENTICATED,
            FORBIDDEN,
            NOT_FOUND,
            (
                409,
                "conflicts with the register (duplicate, last hoofdbeheerder, decided, ...)",
            ),
            (
                422,
                "a value is refused (level, validity, scope, e-mail address, ...)",
            ),
            INTERNAL,
            UNAVAILABLE,
        ])
    }
}

const ME_UNAUTHENTICATED: (u16, &str) =
    (401, "not logged in to Mijn poort (reason `not_logged_in`)");
const ME_NOT_FOUND: (u16, &str) = (
    404,
    "no such request among the person's own or those they may sign (reason `request_unknown`)",
);

/// What a read of `/api/v1/me` can answer besides its result.
pub struct MeReadProblems;

impl utoipa::IntoResponses for MeReadProblems {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
        problems(&[
            (400, "a query parameter is malformed"),
            ME_UNAUTHENTICATED,
            ME_NOT_FOUND,
            INTERNAL,
            UNAVAILABLE,
        ])
    }
}

/// What a change under `/api/v1/me` can answer besides its result; every refusal carries its
/// reason code.
pub struct MeWriteProblems;

impl utoipa::IntoResponses for MeWriteProblems {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
        problems(&[
            (400, "the body is not of the documented shape"),
            ME_UNAUTHENTICATED,
            (
                403,
                "the CSRF token is missing (`csrf_token`), or not the person's to sign: \
                 `own_request`, `above_own_level`, `same_director`, `representative_level`, \
                 `not_their_group`, `link_needs_beheerder`",
            ),
            ME_NOT_FOUND,
            (
                409,
                "conflicts with the register: `request_not_pending`, `request_expired`, \
                 `duplicate_request`, `duplicate_member`, `duplicate_grant`, \
                 `organisation_not_active`, `grant_revoked`",
            ),
            (
                422,
                "a value is refused: `no_reason`, `raised`, `invalid_level`, \
                 `invalid_validity`, `invalid_kvk`, `unknown_organisation`, \
                 `holder_in_other_organisation`, `unknown_service`, `unknown_provider`, \
                 `unknown_grant`, `empty`, `scope`",
            ),
            INTERNAL,
            UNAVAILABLE,
        ])
    }
}
