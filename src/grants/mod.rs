//! The register of organisations, persons and their grants (machtigingen).
//!
//! Every kind of register sits behind the [`Register`] trait. This issue ships the in-process
//! store loaded from `config/grants-dev.toml`; the persistent stores come next behind the same trait.

mod file;
mod memory;
mod model;

pub use file::{
    is_rsin, load_grants_file, GrantEntry, GrantsFile, GrantsFileError, IdentityLink,
    MembershipEntry, OrganisationEntry, PersonEntry,
};
pub use memory::MemoryRegister;
pub use model::*;

use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("register unavailable: {0}")]
    Unavailable(String),
}

/// Read access to the register, as the gateway needs it on every login.
#[async_trait]
pub trait Register: Send + Sync {
    /// Every grant held by the person behind this identity link (AD entity ID + upstream subject),
    /// with its organisation and the holder's state, whatever its status or validity: the decision
    /// filters, so that it can say precisely why a login is refused.
    async fn grants_for(&self, idp: &str, subject: &str) -> Result<PersonGrants, RegisterError>;
}
