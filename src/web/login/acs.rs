//! AD -> poort: the Response checked, the decision, the organisation choice, and the signed
//! answer to the DV.

use super::*;

#[derive(Deserialize)]
pub struct AcsForm {
    #[serde(rename = "SAMLResponse")]
    saml_response: Option<String>,
    #[serde(rename = "SAMLart")]
    saml_art: Option<String>,
}

/// `POST /saml/acs`: a Response (HTTP-POST) or an artifact (HTTP-Artifact by POST).
pub async fn acs(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    Form(form): Form<AcsForm>,
) -> Response {
    let ctx = Ctx::new(&headers);
    let acs_url = state.config.url(uri.path());
    match (form.saml_response, form.saml_art) {
        (Some(raw), None) => {
            let text = match binding::decode_post(&raw) {
                Ok(t) => t,
                Err(e) => {
                    return fail(&state, &ctx, LoginError::BadMessage(e.to_string()), None).await
                }
            };
            check_ad_answer(&state, &ctx, &text, None, &acs_url).await
        }
        (None, Some(art)) => by_artifact(&state, &ctx, &art, &acs_url).await,
        (Some(_), Some(_)) => {
            let e = LoginError::BadMessage("both SAMLResponse and SAMLart".into());
            fail(&state, &ctx, e, None).await
        }
        (None, None) => {
            let e = LoginError::BadMessage("no SAMLResponse or SAMLart".into());
            fail(&state, &ctx, e, None).await
        }
    }
}

#[derive(Deserialize)]
pub struct ArtifactQuery {
    #[serde(rename = "SAMLart")]
    saml_art: Option<String>,
}

/// `GET /saml/acs?SAMLart=…`: an AD's artifact by HTTP GET.
pub async fn acs_artifact_get(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    Query(q): Query<ArtifactQuery>,
) -> Response {
    let ctx = Ctx::new(&headers);
    let acs_url = state.config.url(uri.path());
    match q.saml_art {
        Some(art) => by_artifact(&state, &ctx, &art, &acs_url).await,
        None => {
            fail(
                &state,
                &ctx,
                LoginError::BadMessage("no SAMLart".into()),
                None,
            )
            .await
        }
    }
}

/// An AD's answer by artifact: resolved at the AD, then checked like any other.
async fn by_artifact(state: &AppState, ctx: &Ctx, art: &str, acs_url: &str) -> Response {
    match artifact::resolve_ad_response(state, art).await {
        Ok((ad, text)) => check_ad_answer(state, ctx, &text, Some(ad), acs_url).await,
        Err(e) => fail(state, ctx, e, None).await,
    }
}

/// Checks an AD's Response (from whichever binding) and concludes the login. `from` is the AD
/// whose ArtifactResolutionService gave it, when it came by artifact.
async fn check_ad_answer(
    state: &AppState,
    ctx: &Ctx,
    text: &str,
    from: Option<&IdpMetadata>,
    acs_url: &str,
) -> Response {
    let irt = match sp::in_response_to(text) {
        Ok(i) => i,
        Err(e) => return fail(state, ctx, LoginError::BadMessage(e.to_string()), None).await,
    };
    let flow = match take_upstream_flow(state, ctx, &irt).await {
        Ok(f) => f,
        Err(e) => return fail(state, ctx, e, None).await,
    };
    let (Some(idp_id), Some(request_id)) = (flow.idp.clone(), flow.upstream_request_id.clone())
    else {
        return fail(state, ctx, LoginError::UnknownFlow, None).await;
    };
    if from.is_some_and(|f| f.entity_id != idp_id) {
        let e = LoginError::AdAnswerRejected(
            "the artifact comes from another identity provider than the login went to".into(),
        );
        return fail(state, ctx, e, Some(&flow)).await;
    }
    let Some(idp) = from.or_else(|| state.metadata.idp(&idp_id)) else {
        return fail(state, ctx, LoginError::UnknownFlow, None).await;
    };
    let certs: Vec<Vec<u8>> = idp.signing_keys.iter().map(|c| c.der.clone()).collect();
    let now = Utc::now();
    let expectations = Expectations {
        idp_entity_id: &idp.entity_id,
        idp_certs: &certs,
        sp_entity_id: &state.config.saml.sp_entity_id,
        acs_url,
        request_id: &request_id,
        decryption_key: &state.decryption.key,
        now,
        clock_skew: Duration::seconds(state.config.saml.clock_skew_seconds),
    };
    let verifying = std::time::Instant::now();
    let checked = tracing::info_span!("ad_answer.verify", ad = %idp.entity_id, protocol = "saml")
        .in_scope(|| sp::check_response(text, &expectations));
    state.metrics.step("ad_answer_verify", verifying);
    let assertion = match checked {
        Ok(AdOutcome::Authenticated(a)) => a,
        Ok(AdOutcome::Cancelled) => return cancelled(state, ctx, &flow).await,
        Ok(AdOutcome::Failed { status, .. }) => {
            return fail(state, ctx, LoginError::AdFailed(status), Some(&flow)).await
        }
        Err(e) => {
            return fail(
                state,
                ctx,
                LoginError::AdAnswerRejected(e.to_string()),
                Some(&flow),
            )
            .await
        }
    };
    let replay_key = format!("assertion:{}:{}", idp.entity_id, assertion.assertion_id);
    match state
        .replay
        .first_use(&replay_key, assertion.not_on_or_after, now)
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            let e = LoginError::AdAnswerRejected("assertion replayed".into());
            return fail(state, ctx, e, Some(&flow)).await;
        }
        Err(e) => return fail(state, ctx, LoginError::Internal(e.to_string()), Some(&flow)).await,
    }
    let result = AuthnResult {
        idp: idp.entity_id.clone(),
        subject: assertion.subject,
        level: assertion.level,
        authn_instant: assertion.authn_instant,
    };
    conclude(state, ctx, flow, result, now).await
}

pub async fn choose_organisation(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<FlowQuery>,
) -> Response {
    let ctx = Ctx::new(&headers);
    let flow = match load(&state, &ctx, &q.flow, false).await {
        Ok(f) if !f.candidates.is_empty() => f,
        Ok(_) => return fail(&state, &ctx, LoginError::UnknownFlow, None).await,
        Err(e) => return fail(&state, &ctx, e, None).await,
    };
    let choices: Vec<OrgChoice> = flow
        .candidates
        .iter()
        .map(|c| OrgChoice {
            kvk: c.organisation.kvk.clone(),
            name: c.organisation.name.clone(),
            level: c.level_used.to_string(),
        })
        .collect();
    let service = ctx.lang.pick(&flow.service_name.0, &flow.service_name.1);
    state
        .pages
        .choose_organisation(ctx.lang, &flow.id, &choices, service)
}

#[derive(Deserialize)]
pub struct OrgForm {
    flow: String,
    organisation: String,
}

pub async fn chosen_organisation(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(form): Form<OrgForm>,
) -> Response {
    let ctx = Ctx::new(&headers);
    let flow = match load(&state, &ctx, &form.flow, true).await {
        Ok(f) => f,
        Err(e) => return fail(&state, &ctx, e, None).await,
    };
    // Only an organisation the decision offered can be chosen.
    let Some(candidate) = flow
        .candidates
        .iter()
        .find(|c| c.organisation.kvk == form.organisation)
        .cloned()
    else {
        return fail(
            &state,
            &ctx,
            LoginError::Denied(crate::domain::decision::DenyReason::NoGrant),
            Some(&flow),
        )
        .await;
    };
    answer(&state, &ctx, &flow, &candidate).await
}

/// The signed (and, if the DV has an encryption key, encrypted) answer to the DV.
/// The answer to the requester: a SAML Response, or an authorization code for an OIDC client.
pub(super) async fn answer(
    state: &AppState,
    ctx: &Ctx,
    flow: &PendingFlow,
    candidate: &Candidate,
) -> Response {
    if flow.intent.answer == AnswerTo::Admin {
        allowed(state, ctx, flow, candidate);
        return super::admin::open_session(state, ctx, flow, candidate).await;
    }
    if let AnswerTo::Oidc { .. } = &flow.intent.answer {
        return match crate::web::oidc::issue_code(state, flow, candidate).await {
            Ok(location) => {
                state.grant_uses.used(&candidate.grant_id, Utc::now());
                allowed(state, ctx, flow, candidate);
                tracing::info!(
                    reference = %ctx.reference, flow = %flow.id, client = %flow.intent.requester,
                    grant = %candidate.grant_id, level = %candidate.level_used,
                    "login allowed (OpenID Connect)"
                );
                Redirect::to(&location).into_response()
            }
            Err(e) => fail(state, ctx, e, Some(flow)).await,
        };
    }
    let signing = std::time::Instant::now();
    let answered = saml_answer(state, ctx, flow, candidate).await;
    state.metrics.step("answer_sign", signing);
    answered
}

/// Records an allowed login in the audit trail.
fn allowed(state: &AppState, ctx: &Ctx, flow: &PendingFlow, candidate: &Candidate) {
    let detail = serde_json::json!({
        "grant": candidate.grant_id,
        "level": candidate.level_used.name(),
    });
    let action = if flow.intent.answer == AnswerTo::Admin {
        "admin.login"
    } else {
        "login.allowed"
    };
    audit_decision(
        state,
        ctx,
        flow,
        Some(&candidate.organisation.kvk),
        action,
        detail,
    );
}

#[tracing::instrument(name = "answer.sign", skip_all, fields(dv = %flow.intent.requester))]
async fn saml_answer(
    state: &AppState,
    ctx: &Ctx,
    flow: &PendingFlow,
    candidate: &Candidate,
) -> Response {
    let run = || -> Result<String, LoginError> {
        let internal = |e: &dyn std::fmt::Display| LoginError::Internal(e.to_string());
        let result = flow.result.as_ref().ok_or(LoginError::UnknownFlow)?;
        let dv = state
            .metadata
            .sps
            .get(&flow.intent.requester)
            .ok_or_else(|| LoginError::UnknownRequester(flow.intent.requester.clone()))?;
        let AnswerTo::Saml {
            acs_url,
            request_id,
            ..
        } = &flow.intent.answer
        else {
            return Err(LoginError::Internal("not a SAML login".into()));
        };
        let pseudonym = state
            .pseudonyms
            .pseudonym(&dv.entity_id, &result.idp, &result.subject)
            .map_err(|e| internal(&e))?;
        let now = Utc::now();
        let content = AssertionContent {
            idp_entity_id: &state.config.saml.idp_entity_id,
            audience: &dv.entity_id,
            acs_url,
            in_response_to: request_id,
            pseudonym: &pseudonym,
            kvk: &candidate.organisation.kvk,
            company_name: &candidate.organisation.name,
            service_id: &flow.service.service_id,
            service_uuid: &flow.service.uuid,
            level_used: candidate.level_used,
            authenticating_authority: &result.idp,
            authn_instant: result.authn_instant,
            now,
            lifetime_seconds: state.config.saml.assertion_lifetime_seconds,
        };
        let assertion =
            idp::signed_assertion(&content, &state.signing).map_err(|e| internal(&e))?;
        let body = match dv.encryption_keys.first() {
            Some(cert) => encrypt::encrypt_assertion(&assertion, &cert.public_key)
                .map_err(|e| internal(&e))?,
            None => assertion,
        };
        let response = idp::signed_response(
            &state.config.saml.idp_entity_id,
            acs_url,
            request_id,
            None,
            Some(&body),
            now,
            &state.signing,
        )
        .map_err(|e| internal(&e))?;
        state.grant_uses.used(&candidate.grant_id, now);
        allowed(state, ctx, flow, candidate);
        tracing::info!(
            reference = %ctx.reference, flow = %flow.id, dv = %dv.entity_id,
            pseudonym = %pseudonym, grant = %candidate.grant_id, level = %candidate.level_used,
            "login allowed"
        );
        Ok(response)
    };
    let delivered = match run() {
        Ok(response) => to_dv(state, &flow.intent, response).await,
        Err(e) => Err(e),
    };
    match delivered {
        Ok(form) => deliver(state, ctx, form),
        Err(e) => fail(state, ctx, e, Some(flow)).await,
    }
}
