//! The pages a person sees, rendered from the templates in `templates/` (embedded at build time).

use super::i18n::Lang;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use minijinja::{context, Environment};
use serde::Serialize;

tokio::task_local! {
    /// The path and query of the page being answered, when the language switch may lead back to
    /// it (see [`remember_page`]).
    static PAGE: Option<String>;
}

/// The pages whose address shows the same page again in the other language: the choices of a
/// login in progress, the admin module (not its invitation links, which start a login) and the
/// development mailbox. Never an endpoint that takes a one-time message (an artifact, a code).
const SWITCHABLE: &[&str] = &[
    "/login/idp",
    "/login/organisation",
    "/admin",
    "/mijn",
    "/dev/mailbox",
];

/// Middleware: remembers a GET request's address for the language switch of the page it gets.
pub async fn remember_page(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = request.uri().path();
    let switchable = request.method() == axum::http::Method::GET
        && !path.starts_with("/admin/invitation/")
        && SWITCHABLE
            .iter()
            .any(|p| path == *p || path.starts_with(&format!("{p}/")));
    let page = switchable
        .then(|| {
            request
                .uri()
                .path_and_query()
                .map(|pq| pq.as_str().to_string())
        })
        .flatten();
    PAGE.scope(page, next.run(request)).await
}

pub struct Pages {
    env: Environment<'static>,
    stylesheet: super::assets::Stylesheet,
}

/// A form that posts hidden fields to another site: the HTTP-POST binding.
#[derive(Debug, Clone, Serialize)]
pub struct PostForm {
    pub action: String,
    pub fields: Vec<(String, String)>,
}

/// An error as the person reads it: what happened, what they can do, and a reference for ops.
#[derive(Debug, Clone)]
pub struct ErrorText {
    pub status: StatusCode,
    pub title: (&'static str, &'static str),
    pub what: (String, String),
    pub todo: (String, String),
}

impl Pages {
    /// The pages, linking `stylesheet` (the design system's CSS with the supplier's theme).
    pub fn new(stylesheet: super::assets::Stylesheet) -> Result<Pages, minijinja::Error> {
        let mut env = Environment::new();
        for (name, source) in super::templates::ALL {
            env.add_template(name, source)?;
        }
        // What `base.html` gives every page: the stylesheet and the root element's classes.
        env.add_global("stylesheet", stylesheet.path().to_string());
        env.add_global("root_classes", super::assets::ROOT_CLASSES);
        // `t("Dutch", "English")`: the text in the page's language (`lang`), so the admin
        // module's templates carry both languages side by side.
        env.add_function(
            "t",
            |state: &minijinja::State, nl: String, en: String| -> String {
                let english = state
                    .lookup("lang")
                    .is_some_and(|l| l.as_str() == Some("en"));
                if english {
                    en
                } else {
                    nl
                }
            },
        );
        Ok(Pages { env, stylesheet })
    }

    pub fn stylesheet(&self) -> &super::assets::Stylesheet {
        &self.stylesheet
    }

    /// A page from `template` with `ctx`, behind the strict content security policy (scripts
    /// only with `nonce`).
    pub fn render(&self, name: &str, ctx: minijinja::Value, nonce: Option<&str>) -> Response {
        // The language switch leads back here, where that shows the same page.
        let here = PAGE.try_with(Clone::clone).ok().flatten();
        let ctx = context! { here => here, ..ctx };
        match self.env.get_template(name).and_then(|t| t.render(ctx)) {
            Ok(body) => {
                let mut response = Html(body).into_response();
                let script = nonce
                    .map(|n| format!("script-src 'nonce-{n}'"))
                    .unwrap_or_else(|| "script-src 'none'".to_string());
                let csp = format!(
                    "default-src 'none'; style-src 'self'; {script}; base-uri 'none'; frame-ancestors 'none'"
                );
                if let Ok(v) = HeaderValue::from_str(&csp) {
                    response
                        .headers_mut()
                        .insert(header::CONTENT_SECURITY_POLICY, v);
                }
                response
                    .headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                response.headers_mut().insert(
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("no-referrer"),
                );
                response
            }
            Err(e) => {
                tracing::error!(template = name, error = %e, "page rendering failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "page rendering failed").into_response()
            }
        }
    }

    /// The auto-submitting form of the HTTP-POST binding (with a button when scripts are off).
    pub fn post_form(&self, lang: Lang, form: &PostForm) -> Response {
        let nonce = hex::encode(rand::random::<[u8; 16]>());
        self.render(
            "post_form.html",
            context! {
                lang => lang.code(),
                title => lang.pick("Doorsturen", "Continue"),
                action => form.action,
                fields => form.fields,
                noscript => lang.pick(
                    "JavaScript staat uit. Klik op de knop om verder te gaan.",
                    "JavaScript is off. Press the button to continue."),
                button => lang.pick("Verder", "Continue"),
                nonce => nonce,
            },
            Some(&nonce),
        )
    }

    pub fn choose_idp(
        &self,
        lang: Lang,
        flow: &str,
        idps: &[IdpChoice],
        service: &str,
    ) -> Response {
        self.render(
            "choose_idp.html",
            context! {
                lang => lang.code(),
                title => lang.pick("Kies uw inlogmiddel", "Choose how to log in"),
                intro => match lang {
                    Lang::Nl => format!("U logt in bij {service}. Kies de leverancier van uw eHerkenningsmiddel."),
                    Lang::En => format!("You are logging in to {service}. Choose the supplier of your eHerkenning means."),
                },
                action => "/login/idp",
                flow => flow,
                idps => idps,
                last_label => lang.pick("onthouden", "remembered"),
            },
            None,
        )
    }

    pub fn choose_organisation(
        &self,
        lang: Lang,
        flow: &str,
        organisations: &[OrgChoice],
        service: &str,
    ) -> Response {
        self.render(
            "choose_org.html",
            context! {
                lang => lang.code(),
                title => lang.pick("Kies de organisatie", "Choose the organisation"),
                intro => match lang {
                    Lang::Nl => format!("U mag voor meer dan één organisatie handelen bij {service}. Voor welke organisatie logt u nu in?"),
                    Lang::En => format!("You may act for more than one organisation at {service}. Which organisation are you logging in for?"),
                },
                action => "/login/organisation",
                flow => flow,
                organisations => organisations,
            },
            None,
        )
    }

    /// The development mailbox: the mails in the outbox folder, with their links.
    pub fn mailbox(&self, lang: Lang, mails: &[(String, Vec<String>)]) -> Response {
        let mails: Vec<minijinja::Value> = mails
            .iter()
            .map(|(text, links)| context! { text => text, links => links })
            .collect();
        self.render(
            "mailbox.html",
            context! {
                lang => lang.code(),
                title => lang.pick("Postvak (ontwikkeling)", "Mailbox (development)"),
                intro => lang.pick(
                    "De e-mails die poort zonder mailserver in zijn outbox-map schreef, nieuwste eerst.",
                    "The e-mails poort wrote to its outbox folder without a mail server, newest first."),
                mails => mails,
                empty => lang.pick("Nog geen e-mails.", "No e-mails yet."),
            },
            None,
        )
    }

    /// A short admin-module message (logged out, session expired, not allowed).
    /// A page of Mijn poort with one message and the way back to Mijn poort.
    pub fn mijn_message(
        &self,
        lang: Lang,
        status: StatusCode,
        title: (&str, &str),
        text: (&str, &str),
    ) -> Response {
        let mut response = self.render(
            "mijn/message.html",
            context! {
                lang => lang.code(),
                title => lang.pick(title.0, title.1),
                text => lang.pick(text.0, text.1),
            },
            None,
        );
        *response.status_mut() = status;
        response
    }

    pub fn admin_message(
        &self,
        lang: Lang,
        status: StatusCode,
        title: (&str, &str),
        text: (&str, &str),
    ) -> Response {
        let again = ("Opnieuw inloggen", "Log in again");
        self.admin_message_to(lang, status, title, text, ("/admin/login", again))
    }

    /// Like [`Pages::admin_message`], ending with a link of its own: (path, (Dutch, English)).
    pub fn admin_message_to(
        &self,
        lang: Lang,
        status: StatusCode,
        title: (&str, &str),
        text: (&str, &str),
        (link, label): (&str, (&str, &str)),
    ) -> Response {
        let mut response = self.render(
            "admin_message.html",
            context! {
                lang => lang.code(),
                title => lang.pick(title.0, title.1),
                text => lang.pick(text.0, text.1),
                link => link,
                again_label => lang.pick(label.0, label.1),
            },
            None,
        );
        *response.status_mut() = status;
        response
    }

    pub fn error(
        &self,
        lang: Lang,
        text: &ErrorText,
        reference: &str,
        back: Option<&PostForm>,
    ) -> Response {
        crate::telemetry::note_reference(reference);
        let mut response = self.render(
            "error.html",
            context! {
                lang => lang.code(),
                title => lang.pick(text.title.0, text.title.1),
                what => lang.pick(&text.what.0, &text.what.1),
                todo_label => lang.pick("Wat kunt u doen?", "What can you do?"),
                todo => lang.pick(&text.todo.0, &text.todo.1),
                reference_label => lang.pick("Referentienummer", "Reference number"),
                reference => reference,
                trace_label => lang.pick("Trace-ID", "Trace ID"),
                trace_id => crate::telemetry::trace_id(),
                back => back,
                back_label => lang.pick("Terug naar de dienst", "Back to the service"),
            },
            None,
        );
        *response.status_mut() = text.status;
        response
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct IdpChoice {
    pub entity_id: String,
    pub name: String,
    pub last: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct OrgChoice {
    pub kvk: String,
    pub name: String,
    pub level: String,
}
