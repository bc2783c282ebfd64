//! The operator API under `/api/v1/operator/`: what the operator does from the command line,
//! for the operator's own systems. Its callers are known by a bearer token whose SHA-256 is in
//! `[operator] api_token_sha256` ([`access`]); an admin session's cookie does not open it, and
//! its tokens open none of the session's routes. It registers an organisation with its
//! appointed hoofdbeheerder and sends the activation link again ([`organisations`]), shows an
//! organisation with its status, keeps its directors' signature setting, and puts and reads its
//! bevoegd vertegenwoordigers ([`representatives`]). Every refusal is a problem with a reason
//! code; the operations are in the one list of `super::contract`, under the `operator`
//! security scheme of the document.

pub mod access;
pub mod organisations;
pub mod representatives;
pub mod wire;

use std::collections::BTreeMap;
use utoipa::openapi::{ContentBuilder, RefOr, ResponseBuilder};

/// The `operator` security scheme: a bearer token.
pub struct BearerToken;

impl utoipa::Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "operator",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A token whose SHA-256 is listed in [operator] api_token_sha256 \
                         (poort operator-token makes one).",
                    ))
                    .build(),
            ),
        );
    }
}

fn problems(statuses: &[(u16, &str)]) -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
    statuses
        .iter()
        .map(|(status, description)| {
            let content = ContentBuilder::new()
                .schema(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                    "Problem",
                )))
                .build();
            let response = ResponseBuilder::new()
                .description(*description)
                .content("application/problem+json", content)
                .build();
            (status.to_string(), RefOr::T(response))
        })
        .collect()
}

const UNAUTHENTICATED: (u16, &str) = (
    401,
    "no bearer token, or one that is not listed (reason missing_token or invalid_token)",
);
const NOT_FOUND: (u16, &str) = (404, "no organisation with this KvK number");
const INTERNAL: (u16, &str) = (500, "poort failed; quote the reference");

/// What an operator's read can answer besides its result.
pub struct OperatorReadProblems;

impl utoipa::IntoResponses for OperatorReadProblems {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
        problems(&[UNAUTHENTICATED, NOT_FOUND, INTERNAL])
    }
}

/// What an operator's change can answer besides its result.
pub struct OperatorWriteProblems;

impl utoipa::IntoResponses for OperatorWriteProblems {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
        problems(&[
            (
                400,
                "the body is not of the documented shape (malformed_body)",
            ),
            UNAUTHENTICATED,
            NOT_FOUND,
            (
                409,
                "conflicts with the register (duplicate_organisation, already_active, ...)",
            ),
            (
                422,
                "a value is refused (invalid_kvk, invalid_email, invalid_date_of_birth, ...)",
            ),
            INTERNAL,
        ])
    }
}
