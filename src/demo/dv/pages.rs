//! The demo DV's routes: the start page, starting a login, the ACS (by POST and, for artifacts,
//! by GET), the DV's ArtifactResolutionService and its metadata.

use super::{AcsOutcome, DemoDv};
use crate::demo::artifact::{self, artifact_url, single};
use crate::demo::{auto_post, page, parse_form, DemoBindings, PageError, DEMO_SERVICES};
use crate::domain::level::Level;
use crate::saml::binding;
use crate::saml::xml::{escape, BINDING_ARTIFACT};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The demo DV's routes.
pub fn router(state: Arc<DemoDv>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/login", get(login))
        .route("/acs", get(acs_get).post(acs))
        .route("/ars", axum::routing::post(ars))
        .route("/logout", get(super::logout::logout))
        .route("/slo", get(super::logout::slo))
        .route("/metadata", get(metadata_route))
        .with_state(state)
}

async fn metadata_route(State(dv): State<Arc<DemoDv>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
        dv.metadata(),
    )
        .into_response()
}

/// How the DV sends its AuthnRequest to poort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SendBy {
    /// HTTP-Artifact: the browser carries `SAMLart`; poort resolves it at `/ars`.
    Artifact,
    Redirect,
    Post,
}

impl SendBy {
    fn value(self) -> &'static str {
        match self {
            SendBy::Artifact => "artifact",
            SendBy::Redirect => "redirect",
            SendBy::Post => "post",
        }
    }

    /// What the DV offers in `bindings`, the default first.
    fn offered(bindings: DemoBindings) -> &'static [SendBy] {
        match bindings {
            DemoBindings::Artifact => &[SendBy::Artifact, SendBy::Redirect, SendBy::Post],
            DemoBindings::PostRedirect => &[SendBy::Redirect, SendBy::Post],
        }
    }
}

async fn index(State(dv): State<Arc<DemoDv>>) -> Html<String> {
    let mut bindings = String::new();
    for (i, b) in SendBy::offered(dv.bindings).iter().enumerate() {
        let label = match b {
            SendBy::Artifact => "HTTP-Artifact (afsprakenstelsel / the scheme's binding)",
            SendBy::Redirect => "HTTP-Redirect",
            SendBy::Post => "HTTP-POST",
        };
        bindings.push_str(&format!(
            r#"<option value="{}"{}>{label}</option>"#,
            b.value(),
            if i == 0 { " selected" } else { "" }
        ));
    }
    let mut services = String::new();
    for s in DEMO_SERVICES {
        let mut levels =
            String::from(r#"<option value="" selected>catalogusniveau / catalogue level</option>"#);
        for l in Level::ALL {
            levels.push_str(&format!(
                r#"<option value="{0}">{0} (minimum)</option>"#,
                l.name()
            ));
        }
        services.push_str(&format!(
            concat!(
                "<form method=\"get\" action=\"{action}\"><fieldset><legend>{nl} <span class=\"en\" lang=\"en\">/ {en}</span></legend>",
                "<p class=\"hint\"><code>{sid}</code> — {level}</p>",
                "<input type=\"hidden\" name=\"service\" value=\"{index}\">",
                "<label>Binding van het verzoek <span class=\"en\" lang=\"en\">/ Binding of the request</span> <select name=\"binding\">{bindings}</select></label><br>",
                "<label><input type=\"checkbox\" name=\"force\" value=\"1\"> ForceAuthn</label><br>",
                "<label>Niveau <span class=\"en\" lang=\"en\">/ Level</span> <select name=\"level\">{levels}</select></label><br>",
                "<button type=\"submit\">Inloggen bij {nl} <span class=\"en\" lang=\"en\">/ Log in to {en}</span></button>",
                "</fieldset></form>"
            ),
            action = escape(&format!("{}/login", dv.base_url)),
            nl = escape(s.name_nl),
            en = escape(s.name_en),
            sid = escape(s.service_id),
            level = s.level,
            index = s.index,
            bindings = bindings,
            levels = levels,
        ));
    }
    let answer = match dv.bindings {
        DemoBindings::Artifact => {
            "Het antwoord komt per artefact. <span class=\"en\" lang=\"en\">The answer comes by artifact.</span>"
        }
        DemoBindings::PostRedirect => {
            "Het antwoord komt per HTTP-POST. <span class=\"en\" lang=\"en\">The answer comes by HTTP-POST.</span>"
        }
    };
    let body = format!(
        "<h1>Demo-dienstverlener <span class=\"en\" lang=\"en\">/ Demo service provider</span></h1>\
<p class=\"hint\">Logt in via poort op <code>{}</code>. {answer}</p>{services}",
        escape(&dv.poort_base_url)
    );
    page("Demo-dienstverlener / Demo service provider", &body)
}

async fn login(
    State(dv): State<Arc<DemoDv>>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let query = query.unwrap_or_default();
    let params = crate::demo::query_params(&query);
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let index: u16 = get("service")
        .and_then(|s| s.parse().ok())
        .filter(|i| DEMO_SERVICES.iter().any(|s| s.index == *i))
        .ok_or_else(|| PageError::bad_request("unknown service; pick one on the start page"))?;
    let level = match get("level") {
        None | Some("catalogue") => None,
        Some(l) => Some(
            l.parse::<Level>()
                .map_err(|e| PageError::bad_request(format!("level: {e}")))?,
        ),
    };
    let force = matches!(get("force"), Some("1" | "on" | "true"));
    let offered = SendBy::offered(dv.bindings);
    let by = match get("binding") {
        None => offered.first().copied().unwrap_or(SendBy::Redirect),
        Some(b) => *offered.iter().find(|o| o.value() == b).ok_or_else(|| {
            let names: Vec<&str> = offered.iter().map(|o| o.value()).collect();
            PageError::bad_request(format!(
                "unknown binding {b:?}; this demo DV sends by {}",
                names.join(", ")
            ))
        })?,
    };
    // Without poort's metadata its answer could not be checked: no login starts before then.
    let keys = dv
        .poort_metadata(by == SendBy::Artifact)
        .await
        .map_err(|e| {
            PageError::new(
                e.status,
                format!(
                    "the demo DV cannot log anybody in before it has poort's metadata: {}",
                    e.message
                ),
            )
        })?;
    let relay = format!("demo-{}", dv.counter.fetch_add(1, Ordering::Relaxed) + 1);
    match by {
        SendBy::Artifact => {
            let gateway = |what: &str| {
                PageError::new(
                    StatusCode::BAD_GATEWAY,
                    format!("poort's metadata has no {what}; send the request by binding=redirect or binding=post"),
                )
            };
            let poort_id = keys.entity_id.clone().ok_or_else(|| gateway("entity ID"))?;
            let sso = keys
                .sso_location(BINDING_ARTIFACT)
                .ok_or_else(|| gateway("HTTP-Artifact SingleSignOnService"))?;
            // Signed as well: the ArtifactResponse vouches for it, and poort checks a signature
            // the request carries.
            let (_, request) = dv
                .authn_request_to(sso, index, level, force, true)
                .map_err(|e| PageError::internal(format!("cannot write the AuthnRequest: {e}")))?;
            let art = dv.artifacts.issue(&dv.entity_id, request, &poort_id);
            let url = artifact_url(sso, &art, Some(&relay))?;
            Ok(Redirect::to(&url).into_response())
        }
        SendBy::Post => {
            let (_, request) = dv
                .authn_request(index, level, force, true)
                .map_err(|e| PageError::internal(format!("cannot write the AuthnRequest: {e}")))?;
            Ok(auto_post(
                &dv.poort_sso_url(),
                "SAMLRequest",
                &binding::encode_post(&request),
                Some(&relay),
            )
            .into_response())
        }
        SendBy::Redirect => {
            let (_, request) = dv
                .authn_request(index, level, force, false)
                .map_err(|e| PageError::internal(format!("cannot write the AuthnRequest: {e}")))?;
            let url = binding::redirect_url(
                &dv.poort_sso_url(),
                "SAMLRequest",
                &request,
                Some(&relay),
                &dv.key,
            )
            .map_err(|e| PageError::internal(format!("cannot sign the AuthnRequest: {e}")))?;
            Ok(Redirect::to(&url).into_response())
        }
    }
}

fn wants_json(query: Option<&str>, headers: &HeaderMap) -> bool {
    let by_query = query.is_some_and(|q| {
        url::form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "format" && v == "json")
    });
    let by_header = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    by_query || by_header
}

/// A `SAMLart` is 60 characters; anything much longer is refused before decoding.
const MAX_ARTIFACT: usize = 1024;

/// The outcome as JSON or as a page.
fn show(outcome: &AcsOutcome, json: bool) -> Response {
    if json {
        return Json(outcome).into_response();
    }
    outcome_page(outcome).into_response()
}

/// `POST /acs`: a Response (HTTP-POST) or an artifact (HTTP-Artifact by POST).
async fn acs(
    State(dv): State<Arc<DemoDv>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let json = wants_json(query.as_deref(), &headers);
    let form = parse_form(&body).map_err(|e| e.as_json(json))?;
    let relay_state = form.get("RelayState").cloned();
    if relay_state
        .as_ref()
        .is_some_and(|r| r.len() > binding::MAX_RELAY_STATE)
    {
        return Err(PageError::bad_request("RelayState is too long").as_json(json));
    }
    let outcome = match (form.get("SAMLResponse"), form.get("SAMLart")) {
        (Some(raw), None) => {
            let text = binding::decode_post(raw).map_err(|e| {
                PageError::bad_request(format!("cannot decode the Response: {e}")).as_json(json)
            })?;
            dv.check(&text, relay_state).await
        }
        (None, Some(art)) if art.len() <= MAX_ARTIFACT => dv.check_artifact(art, relay_state).await,
        (None, Some(_)) => Err(PageError::bad_request("SAMLart is too long")),
        (Some(_), Some(_)) => Err(PageError::bad_request(
            "the form holds both SAMLResponse and SAMLart",
        )),
        (None, None) => Err(PageError::bad_request(
            "no SAMLResponse or SAMLart in the form",
        )),
    }
    .map_err(|e| e.as_json(json))?;
    Ok(show(&outcome, json))
}

/// `GET /acs?SAMLart=…&RelayState=…`: poort's answer by artifact (HTTP GET, SAML Bindings 2.0
/// §3.6.3).
async fn acs_get(
    State(dv): State<Arc<DemoDv>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let json = wants_json(query.as_deref(), &headers);
    let params: Vec<(String, String)> =
        url::form_urlencoded::parse(query.as_deref().unwrap_or_default().as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
    let art = single(&params, "SAMLart", MAX_ARTIFACT)
        .and_then(|a| {
            a.ok_or_else(|| {
                PageError::bad_request(
                    "no SAMLart in the query (the ACS takes an artifact by GET, or a Response or artifact by POST)",
                )
            })
        })
        .map_err(|e| e.as_json(json))?;
    let relay_state =
        single(&params, "RelayState", binding::MAX_RELAY_STATE).map_err(|e| e.as_json(json))?;
    let outcome = dv
        .check_artifact(&art, relay_state)
        .await
        .map_err(|e| e.as_json(json))?;
    Ok(show(&outcome, json))
}

/// `POST /ars`: the DV's ArtifactResolutionService, where poort resolves the AuthnRequests the
/// DV sent by artifact.
async fn ars(State(dv): State<Arc<DemoDv>>, body: Bytes) -> Response {
    let poort = match dv.poort_keys().await {
        Ok(k) => k,
        Err(e) => return artifact::server_fault(&dv.entity_id, &e.message),
    };
    let url = dv.ars_url();
    let ars = artifact::Ars {
        me: &dv.entity_id,
        key: &dv.key,
        url: &url,
        poort: &poort,
        store: &dv.artifacts,
    };
    artifact::answer_resolve(&ars, &body, Utc::now())
}

fn outcome_page(o: &AcsOutcome) -> Html<String> {
    let row =
        |k: &str, v: &str| format!("<tr><th>{}</th><td><code>{}</code></td></tr>", k, escape(v));
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".into());
    let mut rows = String::new();
    if o.success {
        rows.push_str(&row(
            "ActingSubjectID (pseudoniem / pseudonym)",
            &opt(&o.acting_subject_id),
        ));
        let legal = o
            .attributes
            .get(crate::saml::idp::ATTR_LEGAL_SUBJECT_ID)
            .map(|v| v.join(" + "));
        rows.push_str(&row("LegalSubjectID (KvK / RSIN)", &opt(&legal)));
        rows.push_str(&row("CompanyName", &opt(&o.company_name)));
        rows.push_str(&row("ServiceID", &opt(&o.service_id)));
        rows.push_str(&row("ServiceUUID", &opt(&o.service_uuid)));
        rows.push_str(&row("Niveau / Level", &opt(&o.level)));
        rows.push_str(&row(
            "AuthenticatingAuthority",
            &o.authenticating_authority.join(", "),
        ));
        rows.push_str(&row("NameID", &opt(&o.name_id)));
        // What the service asked for beyond poort's own attributes (from the AD).
        for (name, values) in &o.attributes {
            if !crate::domain::attributes::is_broker_attribute(name) {
                rows.push_str(&row(name, &values.join(", ")));
            }
        }
        let signed = match (o.response_signed, o.assertion_signed) {
            (true, true) => "Response + Assertion",
            (true, false) => "Response",
            _ => "Assertion",
        };
        rows.push_str(&row("Ondertekend / Signed", signed));
        rows.push_str(&row(
            "Versleuteld / Encrypted",
            if o.assertion_encrypted {
                "ja / yes"
            } else {
                "nee / no"
            },
        ));
    } else {
        rows.push_str(&row("Status", &o.status));
        rows.push_str(&row(
            "Tweede status / Second status",
            &opt(&o.second_status),
        ));
        rows.push_str(&row("StatusMessage", &opt(&o.status_message)));
    }
    rows.push_str(&row("Issuer", &opt(&o.issuer)));
    rows.push_str(&row("InResponseTo", &o.in_response_to));
    rows.push_str(&row("RelayState", &opt(&o.relay_state)));
    let title = if o.success {
        "Ingelogd <span class=\"en\" lang=\"en\">/ Logged in</span>"
    } else {
        "Niet ingelogd <span class=\"en\" lang=\"en\">/ Not logged in</span>"
    };
    // Single log-out: the DV's LogoutRequest names what poort gave it.
    let logout = match (&o.name_id, o.success) {
        (Some(name_id), true) => format!(
            r#"<form method="get" action="logout"><input type="hidden" name="name_id" value="{}"><input type="hidden" name="session_index" value="{}"><button type="submit">Uitloggen / Log out</button></form>"#,
            escape(name_id),
            escape(o.session_index.as_deref().unwrap_or_default()),
        ),
        _ => String::new(),
    };
    let body = format!(
        "<h1>{title}</h1><table>{rows}</table>{logout}<p><a href=\"./\">Opnieuw / Again</a></p>"
    );
    page("Demo-dienstverlener / Demo service provider", &body)
}
