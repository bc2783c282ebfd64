//! Mijn poort (`/mijn`): every person's own pages. The start page (organisations, roles,
//! grants, recent logins, requests, what concerns them), asking for a grant, a link or a
//! renewal (`ask`), and signing off what others ask (`sign`). Logging in is
//! `login::self_service_login` (the gateway's own flow, at the person's own level). Pages and
//! the API (`web::api::me`) call the same service layer, `selfservice`.

mod ask;
mod home;
mod session;
mod sign;

pub use super::admin::{day, done};
pub use session::{csrf_matches, current, Person, SessionError};

use super::admin::Stop;
use super::AppState;
use crate::selfservice::PersonSession;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use std::sync::Arc;

/// Mijn poort's pages, the login excepted (it is a login start, limited with the others).
pub fn routes() -> axum::Router<Arc<AppState>> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/mijn", get(home::home))
        .route("/mijn/logout", post(logout))
        .route("/mijn/requests/new", get(ask::new_request).post(ask::ask))
        .route(
            "/mijn/renew/{grant}",
            get(ask::renewal).post(ask::ask_renewal),
        )
        .route("/mijn/requests/{id}", get(sign::request))
        .route("/mijn/requests/{id}/withdraw", post(sign::withdraw))
        .route("/mijn/requests/{id}/sign", post(sign::sign))
        .route("/mijn/approvals", get(sign::approvals))
}

impl Person {
    /// A page of Mijn poort: `ctx` (which must hold `title`) with what every page shows: the
    /// person's name and level, the menu (this page's entry marked), the CSRF token and the
    /// notice a redirect after a change named.
    pub fn page(&self, template: &str, current: &str, ctx: minijinja::Value) -> Response {
        let lang = self.lang;
        let menu: Vec<minijinja::Value> = [
            ("/mijn", "Overzicht", "Overview"),
            ("/mijn/requests/new", "Aanvragen", "Ask"),
            ("/mijn/approvals", "Te tekenen", "To sign"),
        ]
        .into_iter()
        .map(|(href, nl, en)| {
            context! { href => href, label => lang.pick(nl, en), current => href == current }
        })
        .collect();
        self.state.pages.render(
            template,
            context! {
                lang => lang.code(),
                person_name => self.session.name,
                level => self.session.level.name(),
                csrf => self.session.csrf,
                menu => menu,
                ..ctx
            },
            None,
        )
    }

    /// The submitted form, when it carries this session's CSRF token.
    pub fn form(&self, body: &[u8]) -> Result<super::admin::Fields, super::admin::Stop> {
        let fields = super::admin::Fields::parse(body);
        if csrf_matches(&self.session, fields.get("csrf")) {
            Ok(fields)
        } else {
            Err(Stop::from(self.state.pages.mijn_message(
                self.lang,
                StatusCode::FORBIDDEN,
                ("Formulier verlopen", "Form expired"),
                (
                    "Dit formulier hoort niet (meer) bij uw sessie. Ga terug, laad de pagina opnieuw en probeer het nog eens.",
                    "This form does not (or no longer) belong to your session. Go back, reload the page and try again.",
                ),
            )))
        }
    }

    /// A clear page for a failure of the register or the store, with a reference for ops.
    pub fn failed(&self, what: &str, e: &dyn std::fmt::Display) -> Response {
        let reference = crate::telemetry::new_reference();
        tracing::error!(%reference, "Mijn poort {what}: {e}");
        let mut response = self.state.pages.mijn_message(
            self.lang,
            StatusCode::SERVICE_UNAVAILABLE,
            ("Er ging iets mis", "Something went wrong"),
            (
                &format!("Mijn poort kon dit nu niet doen. Probeer het over enkele minuten opnieuw. Referentie: {reference}"),
                &format!("Mijn poort could not do this now. Try again in a few minutes. Reference: {reference}"),
            ),
        );
        response.headers_mut().insert(
            "x-poort-reference",
            reference
                .parse()
                .unwrap_or(axum::http::HeaderValue::from_static("-")),
        );
        response
    }
}

/// The notice a page shows after a change, by key.
pub fn notice_text(lang: super::i18n::Lang, key: Option<&str>) -> Option<&'static str> {
    const NOTICES: &[(&str, &str, &str)] = &[
        (
            "asked",
            "Uw aanvraag is verstuurd. U krijgt bericht zodra erover is beslist.",
            "Your request has been sent. You will hear as soon as it is decided.",
        ),
        (
            "withdrawn",
            "Uw aanvraag is ingetrokken.",
            "Your request has been withdrawn.",
        ),
        (
            "approved",
            "De aanvraag is goedgekeurd.",
            "The request has been approved.",
        ),
        (
            "first_of_two",
            "Uw handtekening is gezet. De aanvraag wacht nu op een tweede bestuurder.",
            "Your signature has been recorded. The request now waits for a second director.",
        ),
        (
            "declined",
            "De aanvraag is afgewezen.",
            "The request has been declined.",
        ),
    ];
    let key = key?;
    NOTICES
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, nl, en)| lang.pick(nl, en))
}

#[derive(serde::Deserialize)]
pub struct LogoutForm {
    csrf: Option<String>,
}

/// `POST /mijn/logout`: ends the session everywhere (it lives in the shared store).
pub async fn logout(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    axum::extract::Form(form): axum::extract::Form<LogoutForm>,
) -> Response {
    let Ok(session) = current(&state, &headers).await else {
        return Redirect::to("/mijn/login").into_response();
    };
    if !csrf_matches(&session, form.csrf.as_deref()) {
        return (StatusCode::FORBIDDEN, "form expired").into_response();
    }
    // The cookie is cleared even when the store fails: the session then ends at its timeout.
    let _ = super::sessions::end::<PersonSession>(&state, &session.id).await;
    let lang = super::i18n::Lang::from_headers(&headers);
    let mut response = state.pages.mijn_message(
        lang,
        StatusCode::OK,
        ("Uitgelogd", "Logged out"),
        (
            "U bent uitgelogd bij Mijn poort.",
            "You have logged out of Mijn poort.",
        ),
    );
    super::sessions::clear_cookie::<PersonSession>(&state, &mut response);
    response
}
