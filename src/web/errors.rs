//! Everything that can stop a login, with the words a person reads and the SAML status a DV gets.

use super::limits::{Overload, Refusal};
use super::pages::ErrorText;
use crate::domain::decision::DenyReason;
use crate::saml::idp::{
    SamlStatus, STATUS_AUTHN_FAILED, STATUS_NO_AUTHN_CONTEXT, STATUS_REQUESTER,
    STATUS_REQUEST_DENIED, STATUS_REQUEST_UNSUPPORTED, STATUS_RESPONDER,
};
use axum::http::StatusCode;

/// Why a login stopped. Variants before the DV is verified get only an error page; the others
/// also return a SAML error Response to the DV's ACS from metadata.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("malformed login request: {0}")]
    BadMessage(String),
    #[error("RelayState longer than 80 bytes")]
    RelayStateTooLong,
    #[error("unknown requester {0}")]
    UnknownRequester(String),
    #[error("request could not be verified: {0}")]
    Unverifiable(String),
    #[error("AssertionConsumerService not in the requester's metadata")]
    AcsNotInMetadata,
    #[error("unknown or expired login session")]
    UnknownFlow,
    #[error("login session belongs to another browser")]
    OtherBrowser,
    #[error("request refused: {0}")]
    Refused(RequestProblem, String),
    #[error("identity provider's answer rejected: {0}")]
    AdAnswerRejected(String),
    #[error("identity provider reports failure: {0}")]
    AdFailed(String),
    #[error("identity provider unavailable: {0}")]
    AdUnavailable(String),
    #[error("login denied: {0:?}")]
    Denied(DenyReason),
    #[error("internal error: {0}")]
    Internal(String),
}

/// Problems with a verified DV's request, each with its SAML status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestProblem {
    Destination,
    Stale,
    Replayed,
    UnknownService,
    LevelAboveCatalogue,
    UnknownLevel,
    Passive,
    /// A passive login (IsPassive, prompt=none) that needs the person after all: the choice of
    /// organisation.
    NeedsInteraction,
    NoAvailableIdp,
    UnknownIdp,
}

impl std::fmt::Display for RequestProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

fn text(
    status: StatusCode,
    title: (&'static str, &'static str),
    what: (&str, &str),
    todo: (&str, &str),
) -> ErrorText {
    ErrorText {
        status,
        title,
        what: (what.0.to_string(), what.1.to_string()),
        todo: (todo.0.to_string(), todo.1.to_string()),
    }
}

/// A request poort did not answer within `[server] request_timeout_seconds`.
pub fn request_timeout() -> ErrorText {
    text(
        StatusCode::SERVICE_UNAVAILABLE,
        ("Dit duurde te lang", "This took too long"),
        (
            "poort kon uw verzoek niet op tijd afhandelen.",
            "poort could not handle your request in time.",
        ),
        (
            "Probeer het over enkele minuten opnieuw en noem bij contact het referentienummer.",
            "Try again in a few minutes and quote the reference number if you contact us.",
        ),
    )
}

const TITLE_REQUEST: (&str, &str) = (
    "Inlogverzoek niet geaccepteerd",
    "Login request not accepted",
);
const TITLE_REFUSED: (&str, &str) = ("Inloggen niet gelukt", "Login not possible");
const TODO_SERVICE: (&str, &str) = (
    "Ga terug naar de dienst en probeer het opnieuw. Blijft dit gebeuren, neem dan contact op met de dienst en noem het referentienummer.",
    "Go back to the service and try again. If this keeps happening, contact the service and quote the reference number.",
);

impl LoginError {
    /// The OAuth 2.0 / OpenID Connect error code and description for a client's redirect URI.
    pub fn oauth_error(&self) -> (&'static str, String) {
        match self {
            LoginError::Refused(RequestProblem::Passive, d) => ("login_required", d.clone()),
            LoginError::Refused(RequestProblem::NeedsInteraction, d) => {
                ("interaction_required", d.clone())
            }
            LoginError::Refused(_, d) => ("invalid_request", d.clone()),
            LoginError::Denied(reason) => ("access_denied", deny_code(reason).to_string()),
            LoginError::AdFailed(d) => ("access_denied", d.clone()),
            LoginError::AdUnavailable(_) => (
                "temporarily_unavailable",
                "the identity provider could not be reached".to_string(),
            ),
            // The reason is the check that failed (signature, issuer, nonce, ...): no person data.
            LoginError::AdAnswerRejected(reason) => (
                "access_denied",
                format!("the identity provider's answer was not accepted: {reason}"),
            ),
            LoginError::Internal(_) => ("server_error", "internal error".to_string()),
            other => ("invalid_request", other.to_string()),
        }
    }

    /// A short code for the audit trail and logs: why the login stopped (no person data).
    pub fn reason_code(&self) -> String {
        match self {
            LoginError::Denied(reason) => deny_code(reason).to_string(),
            LoginError::Refused(p, _) => format!("request_{}", format!("{p:?}").to_lowercase()),
            LoginError::AdAnswerRejected(_) => "ad_answer_rejected".into(),
            LoginError::AdFailed(_) => "ad_failed".into(),
            LoginError::AdUnavailable(_) => "ad_unavailable".into(),
            LoginError::UnknownFlow => "unknown_flow".into(),
            LoginError::OtherBrowser => "other_browser".into(),
            LoginError::Internal(_) => "internal_error".into(),
            LoginError::BadMessage(_)
            | LoginError::RelayStateTooLong
            | LoginError::UnknownRequester(_)
            | LoginError::Unverifiable(_)
            | LoginError::AcsNotInMetadata => "bad_request".into(),
        }
    }

    /// The SAML status for the DV, or `None` when the DV cannot be answered (not verified).
    pub fn saml_status(&self) -> Option<SamlStatus> {
        let (top, second, message): (&'static str, &'static str, String) = match self {
            LoginError::BadMessage(_)
            | LoginError::RelayStateTooLong
            | LoginError::UnknownRequester(_)
            | LoginError::Unverifiable(_)
            | LoginError::AcsNotInMetadata
            | LoginError::UnknownFlow
            | LoginError::OtherBrowser
            | LoginError::Internal(_) => return None,
            LoginError::Refused(p, detail) => {
                let (top, second) = match p {
                    RequestProblem::UnknownLevel => (STATUS_REQUESTER, STATUS_NO_AUTHN_CONTEXT),
                    RequestProblem::LevelAboveCatalogue => {
                        (STATUS_REQUESTER, STATUS_REQUEST_UNSUPPORTED)
                    }
                    RequestProblem::Passive | RequestProblem::NeedsInteraction => {
                        (STATUS_RESPONDER, crate::saml::idp::STATUS_NO_PASSIVE)
                    }
                    RequestProblem::NoAvailableIdp | RequestProblem::UnknownIdp => {
                        (STATUS_RESPONDER, crate::saml::idp::STATUS_NO_AVAILABLE_IDP)
                    }
                    RequestProblem::Replayed => (STATUS_REQUESTER, STATUS_REQUEST_DENIED),
                    _ => (STATUS_REQUESTER, STATUS_REQUEST_UNSUPPORTED),
                };
                (top, second, detail.clone())
            }
            LoginError::AdAnswerRejected(_) => (
                STATUS_RESPONDER,
                STATUS_AUTHN_FAILED,
                "The identity provider's answer was not accepted".to_string(),
            ),
            LoginError::AdFailed(_) => (
                STATUS_RESPONDER,
                STATUS_AUTHN_FAILED,
                "Authentication failed".to_string(),
            ),
            LoginError::AdUnavailable(_) => (
                STATUS_RESPONDER,
                STATUS_AUTHN_FAILED,
                "The identity provider could not be reached".to_string(),
            ),
            LoginError::Denied(reason) => match reason {
                DenyReason::LevelTooLow { achieved, required }
                | DenyReason::LevelNotExact { achieved, required } => (
                    STATUS_RESPONDER,
                    STATUS_NO_AUTHN_CONTEXT,
                    format!("Level of assurance {achieved} does not meet the required {required}"),
                ),
                other => (
                    STATUS_RESPONDER,
                    STATUS_REQUEST_DENIED,
                    format!("No valid authorisation: {}", deny_code(other)),
                ),
            },
        };
        Some(SamlStatus {
            top,
            second: Some(second),
            message,
        })
    }

    /// What the person reads.
    pub fn text(&self, service_name: Option<(&str, &str)>) -> ErrorText {
        let svc = service_name.unwrap_or(("de dienst", "the service"));
        match self {
            LoginError::BadMessage(_) | LoginError::RelayStateTooLong => text(
                StatusCode::BAD_REQUEST,
                TITLE_REQUEST,
                ("Het inlogverzoek dat uw browser meebracht is beschadigd of onvolledig.",
                 "The login request your browser brought along is damaged or incomplete."),
                TODO_SERVICE,
            ),
            LoginError::UnknownRequester(_) => text(
                StatusCode::BAD_REQUEST,
                TITLE_REQUEST,
                ("De dienst waar u vandaan komt is niet aangesloten bij poort. Daarom sturen wij u niet terug.",
                 "The service you came from is not connected to poort. For your safety we do not send you back to it."),
                ("Controleer het adres van de dienst waar u wilde inloggen, of neem contact op met die dienst.",
                 "Check the address of the service where you wanted to log in, or contact that service."),
            ),
            LoginError::Unverifiable(_) | LoginError::AcsNotInMetadata => text(
                StatusCode::BAD_REQUEST,
                TITLE_REQUEST,
                ("Het inlogverzoek kon niet worden gecontroleerd (ondertekening of terugkeeradres klopt niet). Daarom sturen wij u niet terug.",
                 "The login request could not be verified (its signature or return address is wrong). For your safety we do not send you back."),
                TODO_SERVICE,
            ),
            LoginError::UnknownFlow => text(
                StatusCode::BAD_REQUEST,
                ("Inlogsessie verlopen", "Login session expired"),
                ("Deze inlogpoging is niet (meer) bekend: ze is verlopen, al afgerond, of uw browser stuurde geen cookie mee.",
                 "This login attempt is not known (any more): it expired, was already completed, or your browser sent no cookie."),
                ("Begin opnieuw bij de dienst waar u wilde inloggen.",
                 "Start again at the service where you wanted to log in."),
            ),
            LoginError::OtherBrowser => text(
                StatusCode::FORBIDDEN,
                ("Inlogsessie hoort bij een andere browser", "Login session belongs to another browser"),
                ("Deze inlogpoging is in een andere browser of een ander venster begonnen.",
                 "This login attempt was started in another browser or window."),
                ("Begin opnieuw bij de dienst, in deze browser.",
                 "Start again at the service, in this browser."),
            ),
            LoginError::Refused(p, _) => {
                let (what_nl, what_en) = match p {
                    RequestProblem::LevelAboveCatalogue => (
                        format!("{} vraagt om een hoger betrouwbaarheidsniveau dan voor deze dienst is vastgesteld.", svc.0),
                        format!("{} asks for a higher level of assurance than is set for this service.", svc.1),
                    ),
                    RequestProblem::UnknownLevel => (
                        "Het gevraagde betrouwbaarheidsniveau is onbekend.".to_string(),
                        "The requested level of assurance is unknown.".to_string(),
                    ),
                    RequestProblem::Passive => (
                        "De dienst vroeg om inloggen zonder tussenkomst, maar daarvoor is geen actieve inlogsessie.".to_string(),
                        "The service asked to log in without interaction, but there is no active login session for that.".to_string(),
                    ),
                    RequestProblem::NeedsInteraction => (
                        "De dienst vroeg om inloggen zonder tussenkomst, maar u moet eerst kiezen namens welke organisatie u inlogt.".to_string(),
                        "The service asked to log in without interaction, but you first have to choose on behalf of which organisation you log in.".to_string(),
                    ),
                    RequestProblem::NoAvailableIdp | RequestProblem::UnknownIdp => (
                        "Geen van de inlogmiddelen die de dienst toestaat is bij poort aangesloten.".to_string(),
                        "None of the means of login the service allows is connected to poort.".to_string(),
                    ),
                    RequestProblem::UnknownService => (
                        "De dienst waarvoor u wilt inloggen staat niet in de dienstencatalogus.".to_string(),
                        "The service you want to log in to is not in the service catalogue.".to_string(),
                    ),
                    RequestProblem::Replayed => (
                        "Dit inlogverzoek is al eens gebruikt.".to_string(),
                        "This login request has already been used.".to_string(),
                    ),
                    RequestProblem::Destination | RequestProblem::Stale => (
                        "Het inlogverzoek is verlopen of niet voor poort bedoeld.".to_string(),
                        "The login request has expired or was not meant for poort.".to_string(),
                    ),
                };
                ErrorText {
                    status: StatusCode::BAD_REQUEST,
                    title: TITLE_REQUEST,
                    what: (what_nl, what_en),
                    todo: (TODO_SERVICE.0.to_string(), TODO_SERVICE.1.to_string()),
                }
            }
            LoginError::AdAnswerRejected(_) | LoginError::AdFailed(_) => text(
                StatusCode::BAD_REQUEST,
                TITLE_REFUSED,
                ("Het antwoord van uw inlogmiddel kon niet worden geaccepteerd.",
                 "The answer from your means of login could not be accepted."),
                ("Probeer opnieuw in te loggen. Blijft dit gebeuren, neem dan contact op met de leverancier van uw inlogmiddel en noem het referentienummer.",
                 "Try to log in again. If this keeps happening, contact the supplier of your means of login and quote the reference number."),
            ),
            LoginError::AdUnavailable(_) => text(
                StatusCode::BAD_GATEWAY,
                TITLE_REFUSED,
                ("Uw inlogmiddel is op dit moment niet bereikbaar.",
                 "Your means of login cannot be reached at the moment."),
                ("Probeer het over enkele minuten opnieuw, of kies een ander inlogmiddel.",
                 "Try again in a few minutes, or choose another means of login."),
            ),
            LoginError::Denied(reason) => deny_text(reason, svc),
            LoginError::Internal(_) => text(
                StatusCode::INTERNAL_SERVER_ERROR,
                ("Er ging iets mis", "Something went wrong"),
                ("Er ging bij poort iets mis. Uw gegevens zijn niet doorgegeven.",
                 "Something went wrong at poort. None of your data was passed on."),
                ("Probeer het over enkele minuten opnieuw en noem bij contact het referentienummer.",
                 "Try again in a few minutes and quote the reference number if you contact us."),
            ),
        }
    }
}

/// A short code for a deny reason, for logs and StatusMessages (no person data).
pub fn deny_code(reason: &DenyReason) -> &'static str {
    match reason {
        DenyReason::LevelTooLow { .. } => "level_too_low",
        DenyReason::LevelNotExact { .. } => "level_not_exact",
        DenyReason::NoGrant => "no_grant",
        DenyReason::GrantExpired => "grant_expired",
        DenyReason::GrantRevoked => "grant_revoked",
        DenyReason::HolderBlocked => "holder_blocked",
        DenyReason::GrantLapsed => "grant_lapsed",
        DenyReason::GrantLevelTooLow { .. } => "grant_level_too_low",
        DenyReason::NoAcceptedIdentifier { .. } => "no_accepted_identifier",
    }
}

fn deny_text(reason: &DenyReason, svc: (&str, &str)) -> ErrorText {
    let (what, todo) = match reason {
        DenyReason::LevelTooLow { achieved, required }
        | DenyReason::LevelNotExact { achieved, required } => (
            (
                format!("Uw inlogmiddel heeft betrouwbaarheidsniveau {achieved}. Voor {} is {required} nodig.", svc.0),
                format!("Your means of login reached level of assurance {achieved}. {} needs {required}.", svc.1),
            ),
            (
                format!("Vraag de leverancier van uw eHerkenningsmiddel om een middel op niveau {required} (een upgrade), of log in met een ander middel dat dit niveau heeft."),
                format!("Ask the supplier of your eHerkenning means for a means at level {required} (an upgrade), or log in with another means that has this level."),
            ),
        ),
        DenyReason::GrantLevelTooLow { grant_level, required } => (
            (
                format!("Uw machtiging voor {} heeft niveau {grant_level}; deze dienst vraagt {required}.", svc.0),
                format!("Your authorisation for {} has level {grant_level}; this service needs {required}.", svc.1),
            ),
            (
                "Vraag de beheerder van uw organisatie om uw machtiging op het vereiste niveau te registreren.".to_string(),
                "Ask your organisation's administrator to register your authorisation at the required level.".to_string(),
            ),
        ),
        DenyReason::NoGrant => (
            (
                format!("U bent niet gemachtigd om namens een organisatie {} te gebruiken.", svc.0),
                format!("You are not authorised to use {} on behalf of an organisation.", svc.1),
            ),
            (
                "Vraag de beheerder van uw organisatie om een machtiging voor deze dienst.".to_string(),
                "Ask your organisation's administrator for an authorisation for this service.".to_string(),
            ),
        ),
        DenyReason::GrantExpired => (
            (
                format!("Uw machtiging voor {} is verlopen of nog niet ingegaan.", svc.0),
                format!("Your authorisation for {} has expired or has not started yet.", svc.1),
            ),
            (
                "Vraag de beheerder van uw organisatie om uw machtiging te verlengen.".to_string(),
                "Ask your organisation's administrator to renew your authorisation.".to_string(),
            ),
        ),
        DenyReason::GrantRevoked => (
            (
                format!("Uw machtiging voor {} is ingetrokken.", svc.0),
                format!("Your authorisation for {} has been revoked.", svc.1),
            ),
            (
                "Neem contact op met de beheerder van uw organisatie.".to_string(),
                "Contact your organisation's administrator.".to_string(),
            ),
        ),
        DenyReason::HolderBlocked => (
            (
                "Uw account bij deze organisatie is geblokkeerd.".to_string(),
                "Your account at this organisation has been blocked.".to_string(),
            ),
            (
                "Neem contact op met de beheerder van uw organisatie.".to_string(),
                "Contact your organisation's administrator.".to_string(),
            ),
        ),
        DenyReason::NoAcceptedIdentifier { accepted } => {
            let kinds = accepted
                .iter()
                .map(|t| t.label())
                .collect::<Vec<_>>()
                .join(", ");
            (
                (
                    format!("{} herkent een organisatie alleen aan: {kinds}. Dat nummer staat voor uw organisatie niet in het register.", svc.0),
                    format!("{} recognises an organisation only by: {kinds}. That number is not registered for your organisation.", svc.1),
                ),
                (
                    "Vraag de beheerder van uw organisatie om het ontbrekende nummer te laten registreren.".to_string(),
                    "Ask your organisation's administrator to have the missing number registered.".to_string(),
                ),
            )
        }
        DenyReason::GrantLapsed => (
            (
                "Uw machtiging is 24 maanden niet gebruikt en daardoor vervallen.".to_string(),
                "Your authorisation was not used for 24 months and has lapsed.".to_string(),
            ),
            (
                "Vraag de beheerder van uw organisatie om de machtiging opnieuw te activeren.".to_string(),
                "Ask your organisation's administrator to reactivate the authorisation.".to_string(),
            ),
        ),
    };
    ErrorText {
        status: StatusCode::FORBIDDEN,
        title: TITLE_REFUSED,
        what,
        todo,
    }
}

/// What the person reads when a login start is refused ([`super::limits`] says why).
impl From<Refusal> for ErrorText {
    fn from(Refusal { why, retry_after }: Refusal) -> ErrorText {
        const TITLE_BUSY: (&str, &str) = ("poort is druk", "poort is busy");
        const TITLE_MANY: (&str, &str) = ("Te veel inlogpogingen", "Too many login attempts");
        let wait = || {
            (
                format!("Wacht {retry_after} seconden en probeer het dan opnieuw."),
                format!("Wait {retry_after} seconds, then try again."),
            )
        };
        let (title, what, todo) = match why {
            Overload::Busy => (
                TITLE_BUSY,
                ("poort verwerkt op dit moment te veel inlogpogingen tegelijk. Er is niets met uw gegevens gebeurd.".to_string(),
                 "poort is handling too many logins at once right now. Nothing was done with your data.".to_string()),
                ("Probeer het over een minuut opnieuw.".to_string(),
                 "Try again in a minute.".to_string()),
            ),
            Overload::TooManyOpen => (
                TITLE_MANY,
                ("Vanaf uw internetadres zijn te veel inlogpogingen begonnen die nog niet zijn afgerond.".to_string(),
                 "Too many logins have been started from your internet address that have not been finished.".to_string()),
                ("Rond een inlogpoging af die al openstaat, of probeer het over een minuut opnieuw. Deelt u een internetadres met veel anderen (een groot bedrijfsnetwerk), neem dan contact op met de dienst.".to_string(),
                 "Finish a login that is already open, or try again in a minute. If you share an internet address with many others (a large company network), contact the service.".to_string()),
            ),
            Overload::TooManyStarts => (
                TITLE_MANY,
                ("Vanaf uw internetadres zijn in korte tijd te veel inlogpogingen gestart.".to_string(),
                 "Too many logins were started from your internet address in a short time.".to_string()),
                wait(),
            ),
            Overload::TooManyAdminLogins => (
                TITLE_MANY,
                ("Vanaf uw internetadres is in korte tijd te vaak geprobeerd in te loggen bij de beheermodule.".to_string(),
                 "There were too many attempts to log in to the admin module from your internet address in a short time.".to_string()),
                wait(),
            ),
        };
        ErrorText {
            status: why.status(),
            title,
            what,
            todo,
        }
    }
}
