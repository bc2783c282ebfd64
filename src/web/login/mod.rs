//! The login flow over HTTP, one step per file; a login reads top to bottom:
//!
//! 1. **Start**, by whoever asks: a SAML DV (`sso`), an OpenID Connect client (`oidc`), the admin
//!    module or an invitation link (`admin`). Each checks its request, makes the pending flow
//!    (`flow`) and hands it to `start`, which sends it on.
//! 2. **Upstream**: the AD chosen (`upstream`: the choice page, the request out).
//! 3. **The AD's answer**: a SAML Response posted or by artifact (`acs`, with `artifact` for the
//!    Artifact binding both ways), or an OIDC AD's code (`callback`), verified.
//! 4. **Conclusion** (`conclude`): the decision, then the organisation choice (`organisation`),
//!    the answer in the requester's own protocol (`answer/`: `saml`, `oidc`, `admin`,
//!    `invitation`), or the refusal (`refusal`). Every ending is recorded (`record`).
//! 5. **Log-out** (`logout/`): a DV's LogoutRequest or an OIDC client's log-out ends the
//!    browser's login session (`session`) and goes on to its AD.

mod acs;
mod admin;
mod answer;
mod artifact;
mod binding;
mod callback;
mod conclude;
mod flow;
mod logout;
mod oidc;
mod organisation;
mod record;
mod refusal;
mod session;
mod sso;
mod start;
mod upstream;

pub use acs::{acs, acs_artifact_get};
pub use admin::{admin_login, invitation_link, self_service_login};
pub use artifact::artifact_resolution_service;
pub use callback::oidc_callback;
pub use logout::{end_session, end_session_form, slo_post, slo_redirect};
pub use oidc::{authorize, authorize_form};
pub use organisation::{choose_organisation, chosen_organisation};
pub use sso::{sso_post, sso_redirect};
pub use upstream::{choose_idp, chosen_idp};
