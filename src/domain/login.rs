//! The values that pass through every login, whatever the protocols on either side.
//!
//! `AuthnIntent` is what a service provider asked for; `AuthnResult` is what the identity provider
//! asserted. Protocol adapters build these; the decision core reads them and never sees XML.

use super::attributes::{Attribute, RequestedAttribute};
use super::identifiers::IdentifierType;
use super::level::{Comparison, Level};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How the answer goes back to the requester.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AnswerTo {
    /// A SAML Response to the requester's ACS: by artifact (HTTP-Artifact binding, the
    /// scheme's rule) or posted (HTTP-POST, for generic SAML peers).
    Saml {
        /// The ACS URL, resolved from the DV's metadata (never taken unverified from a request).
        acs_url: String,
        /// The ID of the AuthnRequest, for InResponseTo.
        request_id: String,
        /// RelayState, kept byte for byte (at most 80 bytes).
        relay_state: Option<String>,
        /// The ACS has the HTTP-Artifact binding: the Response waits at poort's
        /// ArtifactResolutionService and the browser carries its artifact.
        #[serde(default)]
        artifact: bool,
    },
    /// An authorization code (or an OAuth error) sent to an OpenID Connect client's redirect
    /// URI, which was matched exactly against the client's registration.
    Oidc {
        client_id: String,
        redirect_uri: String,
        state: Option<String>,
        nonce: Option<String>,
        /// PKCE S256 challenge the token request must answer.
        code_challenge: Option<String>,
        /// The scopes granted (those asked for that poort supports), space-separated.
        scope: String,
    },
    /// A session in poort's own admin module.
    Admin,
    /// A first login through an invitation link: binds the identity to the invited person.
    Invitation { token: String },
    /// A session in Mijn poort, the person's own pages; then on to `next` (a path of Mijn poort).
    SelfService { next: String },
}

/// What a service provider asked for, after its request was verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthnIntent {
    /// Entity ID of the requesting DV.
    pub requester: String,
    /// ServiceID of the requested service (from the catalogue).
    pub service_id: String,
    /// The effective required level: the catalogue level, or the lower level the DV asked for.
    pub required_level: Level,
    pub comparison: Comparison,
    pub answer: AnswerTo,
    pub force_authn: bool,
    pub is_passive: bool,
    /// Identity providers the requester allows (Scoping/IDPList); empty means any.
    pub allowed_idps: Vec<String>,
    /// The attributes the service asks for (catalogue entry and metadata).
    #[serde(default)]
    pub requested_attributes: Vec<RequestedAttribute>,
    /// The organisation identifiers the service accepts (EntityConcernedTypesAllowed); empty
    /// means the KvK number.
    #[serde(default)]
    pub identifiers: Vec<IdentifierType>,
}

/// What an identity provider asserted, after its answer was verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthnResult {
    /// Entity ID of the identity provider.
    pub idp: String,
    /// The person's subject at that identity provider.
    pub subject: String,
    /// The level the identity provider asserted.
    pub level: Level,
    pub authn_instant: DateTime<Utc>,
    /// The attributes it asserted besides the subject (what poort passes on is decided by
    /// [`super::attributes::release`]).
    #[serde(default)]
    pub attributes: Vec<Attribute>,
}
