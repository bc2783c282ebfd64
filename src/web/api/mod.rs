//! The admin module's JSON API under `/api/v1/`: the same session, the same service layer and
//! the same permission checks as the pages. Errors are RFC 9457 problem details
//! (`application/problem+json`, [`problem`]); lists are paginated ([`paging`]); a change
//! carries the session's CSRF token in `X-CSRF-Token` ([`access`]). The OpenAPI document at
//! `/api/v1/openapi.json` is generated from the handlers and the wire types ([`wire`] for
//! answers, [`bodies`] for requests), and made with the router from one list ([`contract`]).
//!
//! Every request acts for the organisation of the session only: an ID of another organisation's
//! grant answers 404, as an ID that does not exist does, so that guessing tells nothing.
//!
//! Under `/api/v1/me` ([`me`]) a person acts for themselves, in Mijn poort's session (a second
//! security scheme, `mijn_session`): their overview, their requests, and signing off what others
//! ask; answers in [`wire_me`], every refusal with a reason code.
//! The operator's routes under `/api/v1/operator/` ([`operator`]) are in the same list and
//! document, under a security scheme of their own (a bearer token): a session opens none of
//! them, and their token none of the session's.

pub mod access;
pub mod audit;
pub mod bodies;
pub mod contract;
pub mod grants;
pub mod invitations;
pub mod links;
pub mod me;
pub mod members;
pub mod operator;
pub mod organisation;
pub mod paging;
pub mod problem;
pub mod wire;
pub mod wire_me;

use crate::web::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use contract::Contract;
use operator::BearerToken;
pub use problem::Problem;
use serde::Deserialize;
use std::sync::Arc;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{IntoParams, OpenApi};

/// The header every change carries (documented once, named in each change's `params`).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Header)]
pub struct Csrf {
    /// The session's CSRF token (`csrf_token` of `GET /api/v1/session`).
    #[serde(rename = "X-CSRF-Token")]
    #[allow(dead_code)]
    x_csrf_token: String,
}

/// The document's frame: what it is, its types, and how a client is known (the admin
/// session's cookie, from logging in at `/admin/login`; the operator's routes a bearer token).
#[derive(OpenApi)]
#[openapi(
    info(title = "poort beheermodule API", version = "1",
        description = "The admin module of poort as JSON: members, grants, invitations, link requests, the organisation and its audit trail. Log in at /admin/login first; every change carries the session's CSRF token in X-CSRF-Token. Under /api/v1/me a person acts for themselves (Mijn poort): log in at /mijn/login; every change carries that session's CSRF token, and every refusal names its reason code. The operator's routes under /api/v1/operator/ take a bearer token instead (security scheme operator) and no session."),
    modifiers(&SessionCookie, &MijnSessionCookie, &BearerToken),
    security(("session" = [])),
    components(schemas(
        problem::Problem,
        wire::Role, wire::Level, wire::Organisation, wire::Session, wire::OrganisationSummary,
        wire::MemberStatus, wire::GroupMembership, wire::Member, wire::Holder, wire::Scope,
        wire::GrantStatus, wire::Grant, wire::Grants, wire::Invitation, wire::Withdrawn,
        wire::LinkRequestStatus, wire::LinkRequest, wire::LinkRequests, wire::AuditEntry,
        bodies::NewGrant, bodies::ScopeChoice, bodies::Renewal, bodies::Roles, bodies::Contact,
        bodies::MemberDetails, bodies::NewInvitation, bodies::NewLinkRequest,
        paging::MemberPage, paging::GrantPage, paging::AuditPage,
        wire_me::Me, wire_me::Membership, wire_me::OwnGrant, wire_me::OwnLogin,
        wire_me::ConcerningKind, wire_me::Concerning, wire_me::RequestKind,
        wire_me::RequestState, wire_me::Request, wire_me::Requests, wire_me::Overview,
        wire_me::ApprovalPage, wire_me::SignOutcome, wire_me::Signed,
        bodies::NewRequest, bodies::Approval, bodies::Decline,
        wire::OrganisationStatus,
        operator::wire::Appointee, operator::wire::NewRegistration,
        operator::wire::OperatorOrganisation, operator::wire::Activation,
        operator::wire::Registered, operator::wire::JointSignatures, operator::wire::Authority,
        operator::wire::Representative, operator::wire::Representatives,
        operator::wire::NewRepresentative, operator::wire::Extract, operator::wire::ExtractApplied,
    ))
)]
struct Frame;

/// The `session` security scheme: the admin session's cookie.
struct SessionCookie;

impl utoipa::Modify for SessionCookie {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            // In production the cookie is `__Host-poort_admin`; a browser sends it either way.
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("poort_admin"))),
        );
    }
}

/// The `mijn_session` security scheme: a person's own Mijn poort session cookie, for the
/// operations under `/api/v1/me`.
struct MijnSessionCookie;

impl utoipa::Modify for MijnSessionCookie {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "mijn_session",
            // In production the cookie is `__Host-poort_mijn`; a browser sends it either way.
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("poort_mijn"))),
        );
    }
}

/// Every operation of the API, each with its description: the router and the document.
pub fn contract() -> Contract {
    Contract::new(Frame::openapi())
        .operation(organisation::__path_get_session, organisation::get_session)
        .operation(
            organisation::__path_get_organisation,
            organisation::get_organisation,
        )
        .operation(
            organisation::__path_update_organisation,
            organisation::update_organisation,
        )
        .operation(members::__path_list_members, members::list_members)
        .operation(members::__path_get_member, members::get_member)
        .operation(members::__path_update_member, members::update_member)
        .operation(members::__path_remove_member, members::remove_member)
        .operation(members::__path_block_member, members::block_member)
        .operation(members::__path_unblock_member, members::unblock_member)
        .operation(members::__path_set_roles, members::set_roles)
        .operation(members::__path_block_in_group, members::block_in_group)
        .operation(members::__path_unblock_in_group, members::unblock_in_group)
        .operation(invitations::__path_invite, invitations::invite)
        .operation(
            invitations::__path_resend_invitation,
            invitations::resend_invitation,
        )
        .operation(
            invitations::__path_withdraw_invitation,
            invitations::withdraw_invitation,
        )
        .operation(links::__path_list_link_requests, links::list_link_requests)
        .operation(links::__path_request_link, links::request_link)
        .operation(
            links::__path_approve_link_request,
            links::approve_link_request,
        )
        .operation(
            links::__path_decline_link_request,
            links::decline_link_request,
        )
        .operation(
            links::__path_withdraw_link_request,
            links::withdraw_link_request,
        )
        .operation(grants::__path_list_grants, grants::list_grants)
        .operation(grants::__path_get_grant, grants::get_grant)
        .operation(grants::__path_add_grants, grants::add_grants)
        .operation(grants::__path_renew_grants, grants::renew_grants)
        .operation(grants::__path_revoke_grant, grants::revoke_grant)
        .operation(grants::__path_reactivate_grant, grants::reactivate_grant)
        .operation(audit::__path_list_audit, audit::list_audit)
        .operation(audit::__path_audit_csv, audit::audit_csv)
        .operation(me::__path_get_me, me::get_me)
        .operation(me::__path_get_overview, me::get_overview)
        .operation(me::__path_list_requests, me::list_requests)
        .operation(me::__path_ask, me::ask)
        .operation(me::__path_get_request, me::get_request)
        .operation(me::__path_withdraw_request, me::withdraw_request)
        .operation(me::__path_list_approvals, me::list_approvals)
        .operation(me::__path_approve, me::approve)
        .operation(me::__path_decline, me::decline)
        .operation(
            operator::organisations::__path_register_organisation,
            operator::organisations::register_organisation,
        )
        .operation(
            operator::organisations::__path_get_organisation,
            operator::organisations::get_organisation,
        )
        .operation(
            operator::organisations::__path_resend_activation,
            operator::organisations::resend_activation,
        )
        .operation(
            operator::organisations::__path_set_joint_signatures,
            operator::organisations::set_joint_signatures,
        )
        .operation(
            operator::representatives::__path_get_representatives,
            operator::representatives::get_representatives,
        )
        .operation(
            operator::representatives::__path_put_representatives,
            operator::representatives::put_representatives,
        )
}

/// The API's routes: its operations, the document (served to anyone: it is no secret), and a
/// problem for anything else under `/api/`.
pub fn router() -> Router<Arc<AppState>> {
    let (operations, document) = contract().into_parts();
    // Written out once: the document does not change while poort runs.
    let document = serde_json::to_vec(&document)
        .map(Bytes::from)
        .map_err(|e| e.to_string());
    operations
        .layer(axum::middleware::from_fn(body_read_first))
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let document = document.clone();
                async move {
                    match document {
                        Ok(body) => {
                            ([(header::CONTENT_TYPE, "application/json")], body).into_response()
                        }
                        Err(e) => Problem::internal(&e, "The API document could not be written.")
                            .into_response(),
                    }
                }
            }),
        )
        .route("/api/{*rest}", any(not_found))
}

/// Reads the request's body before the handler runs (within `DefaultBodyLimit`), as the API
/// always has: a change refused for its session or CSRF token before its body is looked at
/// would otherwise leave the body unread, and the server would close a connection the client
/// may already be sending its next request on.
async fn body_read_first(request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    // The body alone, with the extensions that carry the body limit.
    let mut alone = Request::new(body);
    *alone.extensions_mut() = parts.extensions.clone();
    match Bytes::from_request(alone, &()).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(rejection) => rejection.into_response(),
    }
}

/// Anything else under `/api/`.
async fn not_found() -> Response {
    Problem::new(
        axum::http::StatusCode::NOT_FOUND,
        "not-found",
        "Not found",
        "no such endpoint",
    )
    .into_response()
}
