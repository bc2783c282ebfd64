//! Choosing an AD, and poort -> AD: the signed AuthnRequest over the AD's binding.

use super::*;

pub async fn choose_idp(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<FlowQuery>,
) -> Response {
    let ctx = Ctx::new(&headers);
    let flow = match load(&state, &ctx, &q.flow, false).await {
        Ok(f) => f,
        Err(e) => return fail(&state, &ctx, e, None),
    };
    let last = cookie(&headers, LAST_IDP_COOKIE).and_then(|v| hex::decode(v).ok());
    let mut choices: Vec<IdpChoice> = state
        .metadata
        .idps
        .iter()
        .filter(|i| flow.intent.allowed_idps.contains(&i.entity_id))
        .map(|i| IdpChoice {
            entity_id: i.entity_id.clone(),
            name: i.display_name(ctx.lang.code()).to_string(),
            last: last.as_deref() == Some(i.entity_id.as_bytes()),
        })
        .collect();
    // The last choice comes first.
    choices.sort_by_key(|c| !c.last);
    let service = ctx.lang.pick(&flow.service_name.0, &flow.service_name.1);
    state
        .pages
        .choose_idp(ctx.lang, &flow.id, &choices, service)
}

#[derive(Deserialize)]
pub struct IdpForm {
    flow: String,
    idp: String,
}

pub async fn chosen_idp(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(form): Form<IdpForm>,
) -> Response {
    let ctx = Ctx::new(&headers);
    let flow = match load(&state, &ctx, &form.flow, false).await {
        Ok(f) => f,
        Err(e) => return fail(&state, &ctx, e, None),
    };
    if !flow.intent.allowed_idps.contains(&form.idp) {
        let e = LoginError::Refused(
            RequestProblem::UnknownIdp,
            "unknown identity provider".into(),
        );
        return fail(&state, &ctx, e, Some(&flow));
    }
    let mut response = send_to_idp(&state, &ctx, flow, &form.idp).await;
    set_cookie(
        &state,
        &mut response,
        LAST_IDP_COOKIE,
        &hex::encode(form.idp.as_bytes()),
        365 * 24 * 3600,
    );
    response
}

pub(super) async fn send_to_idp(
    state: &AppState,
    ctx: &Ctx,
    mut flow: PendingFlow,
    idp_id: &str,
) -> Response {
    let Some(idp) = state.metadata.idps.iter().find(|i| i.entity_id == idp_id) else {
        let e = LoginError::Refused(
            RequestProblem::UnknownIdp,
            "unknown identity provider".into(),
        );
        return fail(state, ctx, e, Some(&flow));
    };
    let upstream_id = xml::new_id();
    flow.idp = Some(idp.entity_id.clone());
    flow.upstream_request_id = Some(upstream_id.clone());
    if let Err(e) = save(state, &flow).await {
        return fail(state, ctx, e, Some(&flow));
    }
    let link = state
        .flows
        .put(
            &format!("upstream:{upstream_id}"),
            flow.id.clone().into_bytes(),
            flow.expires_at,
        )
        .await;
    if let Err(e) = link {
        return fail(state, ctx, LoginError::Internal(e.to_string()), Some(&flow));
    }
    match upstream_request(state, ctx.lang, &flow, idp, &upstream_id) {
        Ok(response) => {
            tracing::info!(reference = %ctx.reference, flow = %flow.id, idp = %idp.entity_id, "sent to identity provider");
            response
        }
        Err(e) => fail(state, ctx, e, Some(&flow)),
    }
}

fn upstream_request(
    state: &AppState,
    lang: Lang,
    flow: &PendingFlow,
    idp: &IdpMetadata,
    upstream_id: &str,
) -> Result<Response, LoginError> {
    let internal = |e: &dyn std::fmt::Display| LoginError::Internal(e.to_string());
    let cfg = &state.config;
    let acs = cfg.url("/saml/acs");
    let redirect = idp.sso.iter().find(|e| e.binding == xml::BINDING_REDIRECT);
    let post = idp.sso.iter().find(|e| e.binding == xml::BINDING_POST);
    let now = Utc::now();
    if let Some(endpoint) = redirect {
        let request = sp::authn_request(
            upstream_id,
            &cfg.saml.sp_entity_id,
            &endpoint.location,
            &acs,
            flow.intent.required_level,
            flow.intent.comparison,
            flow.intent.force_authn,
            now,
            None,
        )
        .map_err(|e| internal(&e))?;
        let url = binding::redirect_url(
            &endpoint.location,
            "SAMLRequest",
            &request,
            None,
            &state.signing,
        )
        .map_err(|e| internal(&e))?;
        return Ok(Redirect::to(&url).into_response());
    }
    let endpoint =
        post.ok_or_else(|| LoginError::Internal("AD has no usable SSO endpoint".into()))?;
    let request = sp::authn_request(
        upstream_id,
        &cfg.saml.sp_entity_id,
        &endpoint.location,
        &acs,
        flow.intent.required_level,
        flow.intent.comparison,
        flow.intent.force_authn,
        now,
        Some(&state.signing),
    )
    .map_err(|e| internal(&e))?;
    let form = PostForm {
        action: endpoint.location.clone(),
        fields: vec![("SAMLRequest".to_string(), binding::encode_post(&request))],
    };
    Ok(state.pages.post_form(lang, &form))
}
