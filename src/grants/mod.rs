//! The register of organisations, persons and their grants (machtigingen).
//!
//! Every kind of register sits behind the [`Register`] trait: the in-process store loaded from
//! `config/grants-dev.toml` ([`MemoryRegister`]) and the persistent one in SQLite or PostgreSQL
//! ([`SqlRegister`]). Every implementation must pass [`conformance`].

mod file;
mod memory;
mod model;
mod sql;

pub use file::{
    is_rsin, load_grants_file, GrantEntry, GrantsFile, GrantsFileError, IdentityLink,
    MembershipEntry, OrganisationEntry, PersonEntry,
};
pub use memory::MemoryRegister;
pub use model::*;
pub use sql::{Pool, SqlRegister, SqlRegisterError};

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

/// The shared conformance suite: every implementation of [`Register`] must pass it.
pub mod conformance {
    use super::*;
    use std::path::Path;

    /// AD entity ID of the development identity provider in `config/grants-dev.toml`.
    pub const DEV_IDP: &str = "urn:etoegang:AD:00000099990000000003:entities:1";
    /// Everyone in `config/grants-dev.toml`; their subject at [`DEV_IDP`] equals their ID.
    pub const DEV_PERSONS: [&str; 6] = ["anna", "bram", "carla", "daan", "eva", "femke"];

    /// The development grants file the suite seeds registers with.
    pub fn dev_file() -> GrantsFile {
        load_grants_file(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/grants-dev.toml"))
            .expect("config/grants-dev.toml loads")
    }

    /// Grants sorted by ID, roles in the order of [`Role`] without repeats: what stays when
    /// the storage order is set aside.
    pub fn normalised(mut grants: PersonGrants) -> PersonGrants {
        grants.grants.sort_by(|a, b| a.grant_id.cmp(&b.grant_id));
        for g in &mut grants.grants {
            g.roles.sort_by_key(|r| *r as u8);
            g.roles.dedup();
        }
        grants
    }

    /// `register` holds exactly [`dev_file`]: every person's grants equal the in-process
    /// register's, and unknown identity links have none.
    pub async fn dev_file_register(register: &dyn Register) {
        let expected = MemoryRegister::from_grants_file(&dev_file()).expect("dev file is valid");
        for person in DEV_PERSONS {
            let got = register
                .grants_for(DEV_IDP, person)
                .await
                .unwrap_or_else(|e| panic!("grants of {person}: {e}"));
            let want = expected.lookup(DEV_IDP, person);
            assert_eq!(want.person_id.as_deref(), Some(person));
            assert_eq!(normalised(got), normalised(want), "grants of {person}");
        }
        // The grants themselves, as a spot check that the comparison is not vacuous.
        let femke = register.grants_for(DEV_IDP, "femke").await.unwrap();
        assert_eq!(femke.grants.len(), 1);
        assert!(femke.grants[0].holder_blocked);
        let anna = register.grants_for(DEV_IDP, "anna").await.unwrap();
        assert_eq!(anna.grants.len(), 2);

        for (idp, subject) in [(DEV_IDP, "nobody"), ("urn:other-ad", "anna"), (DEV_IDP, "")] {
            let got = register.grants_for(idp, subject).await.unwrap();
            assert_eq!(got, PersonGrants::default(), "{idp} {subject:?}");
        }
    }
}
