//! DV -> poort: the AuthnRequest over either binding, checked, and the flow begun.

use super::*;

pub async fn sso_redirect(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let ctx = Ctx::new(&headers);
    let message = match RedirectMessage::decode(query.as_deref().unwrap_or(""), "SAMLRequest") {
        Ok(m) => m,
        Err(binding::BindingError::RelayStateTooLong) => {
            return fail(&state, &ctx, LoginError::RelayStateTooLong, None)
        }
        Err(e) => return fail(&state, &ctx, LoginError::BadMessage(e.to_string()), None),
    };
    let request = match AuthnRequest::parse(&message.xml) {
        Ok(r) => r,
        Err(e) => return fail(&state, &ctx, LoginError::BadMessage(e.to_string()), None),
    };
    let Some(dv) = state.metadata.sps.get(&request.issuer) else {
        return fail(
            &state,
            &ctx,
            LoginError::UnknownRequester(request.issuer),
            None,
        );
    };
    if message.is_signed() {
        let keys: Vec<_> = dv
            .signing_keys
            .iter()
            .map(|c| c.public_key.clone())
            .collect();
        if let Err(e) = message.verify(&keys) {
            return fail(&state, &ctx, LoginError::Unverifiable(e.to_string()), None);
        }
    } else if signature_required(&state, dv) {
        return fail(
            &state,
            &ctx,
            LoginError::Unverifiable("unsigned request".into()),
            None,
        );
    }
    let signed = message.is_signed();
    start(&state, ctx, dv, request, signed, message.relay_state).await
}

#[derive(Deserialize)]
pub struct SsoForm {
    #[serde(rename = "SAMLRequest")]
    saml_request: Option<String>,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

pub async fn sso_post(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(form): Form<SsoForm>,
) -> Response {
    let ctx = Ctx::new(&headers);
    let Some(raw) = form.saml_request else {
        return fail(
            &state,
            &ctx,
            LoginError::BadMessage("no SAMLRequest".into()),
            None,
        );
    };
    if form
        .relay_state
        .as_ref()
        .is_some_and(|r| r.len() > MAX_RELAY_STATE)
    {
        return fail(&state, &ctx, LoginError::RelayStateTooLong, None);
    }
    let text = match binding::decode_post(&raw) {
        Ok(t) => t,
        Err(e) => return fail(&state, &ctx, LoginError::BadMessage(e.to_string()), None),
    };
    let parsed = match AuthnRequest::parse(&text) {
        Ok(r) => r,
        Err(e) => return fail(&state, &ctx, LoginError::BadMessage(e.to_string()), None),
    };
    let Some(dv) = state.metadata.sps.get(&parsed.issuer) else {
        return fail(
            &state,
            &ctx,
            LoginError::UnknownRequester(parsed.issuer),
            None,
        );
    };
    let request = if parsed.has_signature {
        let certs: Vec<Vec<u8>> = dv.signing_keys.iter().map(|c| c.der.clone()).collect();
        match AuthnRequest::verify_enveloped(&text, &certs) {
            Ok(r) if r.issuer == dv.entity_id => r,
            Ok(_) => {
                return fail(
                    &state,
                    &ctx,
                    LoginError::Unverifiable("issuer changed".into()),
                    None,
                )
            }
            Err(e) => return fail(&state, &ctx, LoginError::Unverifiable(e.to_string()), None),
        }
    } else if signature_required(&state, dv) {
        return fail(
            &state,
            &ctx,
            LoginError::Unverifiable("unsigned request".into()),
            None,
        );
    } else {
        parsed
    };
    let signed = request.has_signature;
    start(&state, ctx, dv, request, signed, form.relay_state).await
}

fn signature_required(state: &AppState, dv: &SpMetadata) -> bool {
    !state
        .config
        .dv(&dv.entity_id)
        .is_some_and(|c| c.allow_unsigned_requests)
}

/// The ACS to answer at: by index, or by a URL that exactly matches the metadata, or the default.
fn resolve_acs<'a>(dv: &'a SpMetadata, request: &AuthnRequest) -> Option<&'a str> {
    let post = |b: &str| b == xml::BINDING_POST;
    if let Some(binding) = &request.protocol_binding {
        if !post(binding) {
            return None;
        }
    }
    let found = match (&request.acs_index, &request.acs_url) {
        (Some(_), Some(_)) => None,
        (Some(index), None) => dv.acs.iter().find(|a| a.index == *index),
        (None, Some(url)) => dv
            .acs
            .iter()
            .find(|a| a.location == *url && post(&a.binding)),
        (None, None) => dv
            .acs
            .iter()
            .filter(|a| post(&a.binding))
            .find(|a| a.is_default)
            .or_else(|| {
                dv.acs
                    .iter()
                    .filter(|a| post(&a.binding))
                    .min_by_key(|a| a.index)
            }),
    };
    found
        .filter(|a| post(&a.binding))
        .map(|a| a.location.as_str())
}

/// Checks a verified DV's request and begins the flow.
async fn start(
    state: &Arc<AppState>,
    ctx: Ctx,
    dv: &SpMetadata,
    request: AuthnRequest,
    signed: bool,
    relay_state: Option<String>,
) -> Response {
    let Some(acs_url) = resolve_acs(dv, &request) else {
        return fail(state, &ctx, LoginError::AcsNotInMetadata, None);
    };
    let now = Utc::now();
    let cfg = &state.config;
    let skew = Duration::seconds(cfg.saml.clock_skew_seconds);
    // From here on the DV is verified and its ACS known: errors go back to it as SAML statuses.
    let mut flow = PendingFlow {
        id: xml::new_id(),
        browser: ctx
            .browser_cookie
            .clone()
            .filter(|c| c.len() == 32 && c.bytes().all(|b| b.is_ascii_hexdigit()))
            .unwrap_or_else(|| hex::encode(rand::random::<[u8; 16]>())),
        intent: AuthnIntent {
            requester: dv.entity_id.clone(),
            service_id: String::new(),
            required_level: crate::level::Level::Eh4,
            comparison: crate::level::Comparison::Minimum,
            answer: AnswerTo::Saml {
                acs_url: acs_url.to_string(),
                request_id: request.id.clone(),
                relay_state,
            },
            force_authn: request.force_authn,
            is_passive: request.is_passive,
            allowed_idps: Vec::new(),
        },
        service: ServiceRef {
            service_id: String::new(),
            uuid: String::new(),
            provider: dv.entity_id.clone(),
            level: crate::level::Level::Eh4,
        },
        service_name: (String::new(), String::new()),
        idp: None,
        upstream_request_id: None,
        upstream_oidc: None,
        person_id: None,
        result: None,
        candidates: Vec::new(),
        expires_at: now + Duration::seconds(cfg.saml.flow_lifetime_seconds),
    };
    let refuse = |p: RequestProblem, msg: String| LoginError::Refused(p, msg);

    let sso_url = cfg.url("/saml/sso");
    if request.destination.as_deref().is_some_and(|d| d != sso_url)
        // A signed message must say where it is going (SAML bindings 3.4.5.2, 3.5.5.2).
        || (signed && request.destination.is_none())
    {
        let e = refuse(
            RequestProblem::Destination,
            "Destination is not poort's SSO endpoint".into(),
        );
        return fail(state, &ctx, e, Some(&flow));
    }
    let max_age = Duration::seconds(cfg.saml.request_max_age_seconds);
    if request.issue_instant > now + skew || request.issue_instant + max_age + skew < now {
        let e = refuse(
            RequestProblem::Stale,
            "IssueInstant outside the accepted window".into(),
        );
        return fail(state, &ctx, e, Some(&flow));
    }
    let Some(service) = resolve_service(state, dv, &request) else {
        let e = refuse(
            RequestProblem::UnknownService,
            "AttributeConsumingServiceIndex names no service in the catalogue".into(),
        );
        return fail(state, &ctx, e, Some(&flow));
    };
    flow.intent.service_id = service.id.clone();
    flow.service = ServiceRef {
        service_id: service.id.clone(),
        uuid: service.uuid.clone(),
        provider: service.provider.clone(),
        level: service.level,
    };
    flow.service_name = (service.name_nl.clone(), service.name_en.clone());
    match request.requested_level() {
        Err(e) => {
            return fail(
                state,
                &ctx,
                refuse(RequestProblem::UnknownLevel, e.to_string()),
                Some(&flow),
            )
        }
        Ok(Some((level, _))) if level > service.level => {
            let e = refuse(
                RequestProblem::LevelAboveCatalogue,
                format!(
                    "Requested level {level} is above the service's level {}",
                    service.level
                ),
            );
            return fail(state, &ctx, e, Some(&flow));
        }
        Ok(Some((level, comparison))) => {
            flow.intent.required_level = level;
            flow.intent.comparison = comparison;
        }
        Ok(None) => flow.intent.required_level = service.level,
    }
    if request.is_passive {
        let e = refuse(
            RequestProblem::Passive,
            "poort cannot log in passively".into(),
        );
        return fail(state, &ctx, e, Some(&flow));
    }
    let idps: Vec<String> = all_idps(state)
        .into_iter()
        .filter(|id| request.idp_list.is_empty() || request.idp_list.contains(id))
        .collect();
    if idps.is_empty() {
        let e = refuse(
            RequestProblem::NoAvailableIdp,
            "none of the requested identity providers is available".into(),
        );
        return fail(state, &ctx, e, Some(&flow));
    }
    flow.intent.allowed_idps = idps;
    // A request ID is accepted once per DV.
    let replay_key = format!("request:{}:{}", dv.entity_id, request.id);
    match state
        .replay
        .first_use(&replay_key, request.issue_instant + max_age + skew * 2, now)
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            let e = refuse(
                RequestProblem::Replayed,
                "AuthnRequest ID already used".into(),
            );
            return fail(state, &ctx, e, Some(&flow));
        }
        Err(e) => {
            return fail(
                state,
                &ctx,
                LoginError::Internal(e.to_string()),
                Some(&flow),
            )
        }
    }
    tracing::info!(
        reference = %ctx.reference, flow = %flow.id, dv = %dv.entity_id,
        service = %flow.service.service_id, level = %flow.intent.required_level,
        "login started"
    );
    begin(state, ctx, flow).await
}

fn resolve_service<'a>(
    state: &'a AppState,
    dv: &SpMetadata,
    request: &AuthnRequest,
) -> Option<&'a crate::config::ServiceConfig> {
    let offered = state
        .config
        .services
        .iter()
        .filter(|s| s.provider == dv.entity_id);
    match request.attribute_consuming_service_index {
        Some(index) => offered.clone().find(|s| s.acs_index == index),
        None => {
            let all: Vec<_> = offered.collect();
            (all.len() == 1).then(|| all[0])
        }
    }
}
