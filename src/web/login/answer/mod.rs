//! The answer to each kind of requester, once the decision allowed the login: a SAML DV, an
//! OpenID Connect client, the admin module, an invitation. Refusals are `refusal`'s.

pub(super) mod admin;
pub(super) mod invitation;
pub(super) mod mijn;
pub(super) mod oidc;
pub(super) mod saml;
