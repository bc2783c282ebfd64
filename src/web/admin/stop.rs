//! What stops an admin page short, as a type: handlers return [`Page`] and use `?`, as axum's
//! examples do with an error that is `IntoResponse`. A stop is the page said instead: a failure
//! with its reference ([`Admin::failed`]), a refusal for the session's roles, a form without
//! the session's token, something not found.

use super::Admin;
use crate::grants::WriteError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// The page that answers instead of the one asked for (boxed: a response is large).
#[derive(Debug)]
pub struct Stop(Box<Response>);

/// An admin page, or what stopped it.
pub type Page = Result<Response, Stop>;

impl From<Response> for Stop {
    fn from(response: Response) -> Stop {
        Stop(Box::new(response))
    }
}

impl IntoResponse for Stop {
    fn into_response(self) -> Response {
        *self.0
    }
}

impl Admin {
    /// A register failure that is nobody's input: logged with a reference (in words without
    /// personal data: [`ForLog`]), a page that says nothing was changed.
    pub fn failed(&self, what: &str, e: &dyn ForLog) -> Stop {
        let reference = crate::telemetry::new_reference();
        crate::telemetry::note_reference(&reference);
        tracing::error!(
            %reference,
            organisation = %self.session.organisation.kvk,
            "admin {what}: {}",
            e.for_log()
        );
        let (nl, en) = (
            format!("Dit kon nu niet worden uitgevoerd; er is niets gewijzigd. Probeer het opnieuw. Referentie: {reference}."),
            format!("This could not be done now; nothing was changed. Try again. Reference: {reference}."),
        );
        self.stop(
            StatusCode::INTERNAL_SERVER_ERROR,
            ("Er ging iets mis", "Something went wrong"),
            (&nl, &en),
        )
    }

    /// A page in the session's language that says why the one asked for is not shown.
    pub fn stop(&self, status: StatusCode, title: (&str, &str), text: (&str, &str)) -> Stop {
        let page = (self.state.pages).admin_message(self.lang, status, title, text);
        page.into()
    }

    /// The refusal page for the session's roles.
    pub fn not_allowed(&self) -> Stop {
        self.stop(
            StatusCode::FORBIDDEN,
            ("Niet toegestaan", "Not allowed"),
            (
                "Uw rollen in deze organisatie staan dit niet toe.",
                "Your roles in this organisation do not allow this.",
            ),
        )
    }

    /// Nothing, when `allowed`; the refusal page for the session's roles otherwise.
    pub fn require(&self, allowed: bool) -> Result<(), Stop> {
        if allowed {
            Ok(())
        } else {
            Err(self.not_allowed())
        }
    }
}

/// A register result as a page takes it: its value, or [`Admin::failed`] for `what`.
pub trait OrFailed<T> {
    fn or_failed(self, admin: &Admin, what: &str) -> Result<T, Stop>;
}

impl<T, E: ForLog> OrFailed<T> for Result<T, E> {
    fn or_failed(self, admin: &Admin, what: &str) -> Result<T, Stop> {
        self.map_err(|e| admin.failed(what, &e))
    }
}

/// A failure as a log line may say it: register IDs, organisation KvK numbers and reason
/// codes, never an e-mail address, a name or an AD subject ([`WriteError::redacted`]).
pub trait ForLog {
    fn for_log(&self) -> String;
}

impl ForLog for WriteError {
    fn for_log(&self) -> String {
        self.redacted().to_string()
    }
}

impl ForLog for crate::admin::members::MemberError {
    fn for_log(&self) -> String {
        match self {
            Self::Write(e) => e.for_log(),
            other => other.to_string(),
        }
    }
}

impl ForLog for crate::admin::grants::GrantError {
    fn for_log(&self) -> String {
        match self {
            Self::Write(e) => e.for_log(),
            Self::Rows(rows) => rows
                .iter()
                .map(|(scope, e)| format!("scope {scope}: {}", e.redacted()))
                .collect::<Vec<_>>()
                .join("; "),
            other => other.to_string(),
        }
    }
}

/// Database errors name tables and constraints, never the values.
impl ForLog for sqlx::Error {
    fn for_log(&self) -> String {
        self.to_string()
    }
}
