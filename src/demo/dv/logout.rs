//! The demo DV's log-out (afsprakenstelsel page *Single Log-out*): `GET /logout` ends the DV's
//! side (it keeps no session: nothing to end) and sends the browser to poort's
//! SingleLogoutService with a signed LogoutRequest (HTTP-Redirect) naming the NameID and
//! SessionIndex poort gave; `GET /slo` takes poort's LogoutResponse, checks its signature with
//! poort's metadata and shows how the log-out ended.

use super::DemoDv;
use crate::demo::{page, query_params, signed_by_poort, PageError};
use crate::domain::session::UpstreamNameId;
use crate::metadata::publish::NAMEID_PERSISTENT;
use crate::saml::binding::{self, RedirectMessage};
use crate::saml::logout::{LogoutMessage, OutgoingLogoutRequest};
use crate::saml::xml::{self, escape};
use axum::extract::{RawQuery, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{Duration, Utc};
use std::sync::Arc;

/// `GET /logout?name_id=…&session_index=…` (the outcome page's button).
pub(super) async fn logout(
    State(dv): State<Arc<DemoDv>>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let query = query.unwrap_or_default();
    let params = query_params(&query);
    let name_id = params
        .get("name_id")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| PageError::bad_request("no name_id: log in first"))?;
    let keys = dv.poort_keys().await?;
    let name_id = UpstreamNameId {
        value: name_id.clone(),
        format: Some(NAMEID_PERSISTENT.to_string()),
        name_qualifier: keys.entity_id.clone(),
        sp_name_qualifier: Some(dv.entity_id.clone()),
    };
    let destination = dv.poort_slo_url();
    let now = Utc::now();
    let request = OutgoingLogoutRequest {
        id: &xml::new_id(),
        issuer: &dv.entity_id,
        destination: &destination,
        name_id: &name_id,
        session_index: params.get("session_index").map(String::as_str),
        now,
        not_on_or_after: now + Duration::minutes(5),
    }
    .write(None)
    .map_err(|e| PageError::internal(format!("cannot write the LogoutRequest: {e}")))?;
    let url = binding::redirect_url(
        &destination,
        "SAMLRequest",
        &request,
        Some("demo-logout"),
        &dv.key,
    )
    .map_err(|e| PageError::internal(format!("cannot sign the LogoutRequest: {e}")))?;
    Ok(Redirect::to(&url).into_response())
}

/// `GET /slo`: poort's LogoutResponse (HTTP-Redirect), its signature checked.
pub(super) async fn slo(
    State(dv): State<Arc<DemoDv>>,
    RawQuery(query): RawQuery,
) -> Result<Html<String>, PageError> {
    let query = query.ok_or_else(|| PageError::bad_request("no SAMLResponse in the query"))?;
    let message = RedirectMessage::decode(&query, "SAMLResponse")
        .map_err(|e| PageError::bad_request(format!("cannot decode the LogoutResponse: {e}")))?;
    let keys = dv.poort_keys().await?;
    signed_by_poort(&message, &keys, "LogoutResponse")?;
    let LogoutMessage::Response(response) = LogoutMessage::parse(&message.xml)
        .map_err(|e| PageError::bad_request(format!("not a LogoutResponse: {e}")))?
        .message
    else {
        return Err(PageError::bad_request(
            "a LogoutRequest, not a LogoutResponse",
        ));
    };
    let title = if response.succeeded() {
        "Uitgelogd <span class=\"en\" lang=\"en\">/ Logged out</span>"
    } else {
        "Niet overal uitgelogd <span class=\"en\" lang=\"en\">/ Not logged out everywhere</span>"
    };
    let second = response.status.1.as_deref().unwrap_or("—");
    let body = format!(
        "<h1>{title}</h1><table><tr><th>Status</th><td><code>{}</code></td></tr>\
         <tr><th>Tweede status / Second status</th><td><code>{}</code></td></tr>\
         <tr><th>InResponseTo</th><td><code>{}</code></td></tr></table>\
         <p><a href=\"./\">Opnieuw inloggen / Log in again</a></p>",
        escape(&response.status.0),
        escape(second),
        escape(&response.in_response_to),
    );
    Ok(page("Demo-dienstverlener / Demo service provider", &body))
}
