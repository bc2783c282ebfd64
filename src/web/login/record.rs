//! What a login that ends leaves behind: its decision in the audit trail (written in the
//! background) and its outcome, reason, protocol pair and duration in `/metrics`.

use super::flow::{Ctx, PendingFlow};
use crate::domain::decision::Candidate;
use crate::domain::login::AnswerTo;
use crate::web::AppState;
use chrono::{Duration, Utc};

/// Records a login decision in the audit trail (written in the background).
pub(super) fn audit_decision(
    state: &AppState,
    ctx: &Ctx,
    flow: &PendingFlow,
    kvk: Option<&str>,
    action: &'static str,
    mut detail: serde_json::Value,
) {
    let actor = match &flow.result {
        Some(r) => format!("identity:{}#{}", r.idp, r.subject),
        None => "identity:unknown".to_string(),
    };
    detail["service"] = flow.service.service_id.clone().into();
    detail["requester"] = flow.intent.requester.clone().into();
    detail["reference"] = ctx.reference.clone().into();
    count_end(
        state,
        flow,
        action,
        detail["reason"].as_str().unwrap_or_default(),
    );
    state
        .login_audit
        .record(crate::grants::audit::LoginDecision {
            at: Utc::now(),
            actor,
            kvk: kvk.map(str::to_string),
            action: action.into(),
            detail: detail.to_string(),
            identity: flow
                .result
                .as_ref()
                .map(|r| (r.idp.clone(), r.subject.clone())),
        });
}

/// Counts a login that ended with a decision in `/metrics`: its outcome, reason, protocol pair
/// and how long it took from its start.
pub(super) fn count_end(state: &AppState, flow: &PendingFlow, action: &str, reason: &str) {
    let requester = match flow.intent.answer {
        AnswerTo::Saml { .. } => "saml",
        AnswerTo::Oidc { .. } => "oidc",
        AnswerTo::Admin => "admin",
        AnswerTo::Invitation { .. } => "invitation",
        AnswerTo::SelfService { .. } => "mijn",
    };
    let ad = match flow.idp.as_deref() {
        Some(idp) if state.upstream_oidc.get(idp).is_some() => "oidc",
        Some(_) => "saml",
        None => "none",
    };
    let started = flow.expires_at - Duration::seconds(state.config.saml.flow_lifetime_seconds);
    state.metrics.login_ended(&crate::metrics::LoginEnd {
        outcome: if action.ends_with("refused") {
            "refused"
        } else {
            "allowed"
        },
        reason,
        protocols: &format!("{requester}-{ad}"),
        dv: &flow.intent.requester,
        ad: flow.idp.as_deref().unwrap_or_default(),
        seconds: Some((Utc::now() - started).num_milliseconds() as f64 / 1000.0),
    });
}

/// Records an allowed login in the audit trail.
pub(super) fn allowed(state: &AppState, ctx: &Ctx, flow: &PendingFlow, candidate: &Candidate) {
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
