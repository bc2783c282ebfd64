//! The register of organisations, persons and their grants (machtigingen).
//!
//! Every kind of register sits behind the [`Register`] trait: the in-process store loaded from
//! `config/grants-dev.toml` ([`MemoryRegister`]) and the persistent one in SQLite or PostgreSQL
//! ([`SqlRegister`]). Every implementation must pass [`conformance`].

pub mod audit;
pub mod cache;
pub mod check;
pub mod db;
pub mod error;
pub mod exchange;
mod file;
pub mod lease;
mod memory;
mod migrations;
pub mod outbox;
pub mod read;
pub mod registry;
mod sql;
pub mod views;
pub mod write;

pub use crate::domain::grant::*;
pub use check::is_email_address;
pub use db::Pool;
pub use error::{ImportError, WriteError};
pub use file::{
    load_grants_file, GrantEntry, GrantsFile, GrantsFileError, IdentityLink, MembershipEntry,
    OrganisationEntry, PersonEntry,
};
pub use memory::MemoryRegister;
pub use read::{GrantFilter, MemberQuery};
pub use registry::{CachedRegister, Registry, RegistryError, UsageRecorder};
pub use sql::{NewGrant, SqlRegister, SqlRegisterError};
pub use views::{
    ExtractApplied, GrantRecord, Holder, InvitationState, LinkRequest, LinkRequestStatus,
    MemberStatus, MemberView, OrganisationListing, OrganisationStatus, OrganisationView,
    RepresentativeView, RequestPage, RequestView,
};
pub use write::{
    token_hash, Accepted, Actor, GrantRequest, ImportRow, Invitation, MemberDetails, NewInvitation,
    NewLinkRequest, NewOrganisation, NewRegistration, NewRepresentative, NewRequest,
    OrganisationChanges, Renewal, RepresentativeBinding, RepresentativeRow, SignedRequest,
    INVITATION_LIFETIME,
};

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

    /// Grants held through a group, on a [`SqlRegister`] seeded with [`dev_file`] (the file
    /// format has no groups, so these expectations are written out). Changes the register.
    pub async fn sql_groups(register: &SqlRegister) {
        let at = |s: &str| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
        let bakkerij = "12345678";
        let group = register.add_group(bakkerij, "Boekhouding").await.unwrap();
        register
            .add_group_member(&group, "eva", false)
            .await
            .unwrap();
        register
            .add_group_member(&group, "anna", true)
            .await
            .unwrap();
        // Bram is no member of the Bakkerij, so he cannot join its group.
        assert!(matches!(
            register.add_group_member(&group, "bram", false).await,
            Err(SqlRegisterError::NotAMember { .. })
        ));
        let grant = NewGrant {
            id: "g-group-bakkerij".to_string(),
            scope: Scope::Service {
                uuid: "5a1d3b0e-8c9f-4f5e-9b1a-000000000002".to_string(),
            },
            level: crate::domain::level::Level::Eh2Plus,
            valid_from: at("2026-01-01T00:00:00Z"),
            valid_until: at("2027-01-01T00:00:00Z"),
        };
        register.add_group_grant(&group, &grant).await.unwrap();
        assert!(matches!(
            register.add_group_grant("no-such-group", &grant).await,
            Err(SqlRegisterError::UnknownGroup(_))
        ));

        let held = |grants: &PersonGrants| {
            grants
                .grants
                .iter()
                .find(|g| g.grant_id == grant.id)
                .cloned()
        };
        let eva = register.grants_for(DEV_IDP, "eva").await.unwrap();
        assert_eq!(eva.grants.len(), 2);
        let eva_group = held(&eva).expect("eva holds the group grant");
        assert_eq!(
            eva_group,
            HeldGrant {
                grant_id: grant.id.clone(),
                organisation: Organisation {
                    kvk: bakkerij.to_string(),
                    rsin: Some("805123453".to_string()),
                    name: "Bakkerij De Gouden Korst B.V.".to_string(),
                },
                scope: grant.scope.clone(),
                level: grant.level,
                valid_from: grant.valid_from,
                valid_until: grant.valid_until,
                status: GrantStatus::Active,
                holder_blocked: false,
                last_used_at: None,
                roles: vec![Role::Gebruiker],
            }
        );

        // Anna is blocked for the group only: her own grants stay usable.
        let anna = normalised(register.grants_for(DEV_IDP, "anna").await.unwrap());
        assert_eq!(anna.grants.len(), 3);
        let anna_group = held(&anna).expect("anna holds the group grant");
        assert!(anna_group.holder_blocked);
        assert_eq!(anna_group.roles, [Role::Hoofdbeheerder, Role::Gebruiker]);
        assert!(anna
            .grants
            .iter()
            .filter(|g| g.grant_id != grant.id)
            .all(|g| !g.holder_blocked));

        // Blocked for the whole organisation: the group grant is suspended too.
        register
            .set_membership_blocked("eva", bakkerij, true)
            .await
            .unwrap();
        let eva = register.grants_for(DEV_IDP, "eva").await.unwrap();
        assert!(eva.grants.iter().all(|g| g.holder_blocked));
        register
            .set_membership_blocked("eva", bakkerij, false)
            .await
            .unwrap();
        let eva = register.grants_for(DEV_IDP, "eva").await.unwrap();
        assert!(!held(&eva).unwrap().holder_blocked);
    }

    /// A failing import leaves nothing behind, on a [`SqlRegister`] seeded with [`dev_file`].
    pub async fn sql_import_is_all_or_nothing(register: &SqlRegister) {
        let mut file = dev_file();
        // New rows first, then a grant ID that already exists: the database refuses the last
        // statement, after the new organisation, person and membership were written.
        file.organisations.retain(|o| o.kvk == "12345678");
        file.organisations[0].kvk = "99887766".to_string();
        file.organisations[0].rsin = None;
        file.persons.retain(|p| p.id == "anna");
        file.persons[0].id = "anna-2".to_string();
        file.persons[0].links[0].subject = "anna-2".to_string();
        file.memberships
            .retain(|m| m.person == "anna" && m.organisation == "12345678");
        file.memberships[0].person = "anna-2".to_string();
        file.memberships[0].organisation = "99887766".to_string();
        file.grants.retain(|g| g.id == "g-anna-bakkerij");
        file.grants[0].person = "anna-2".to_string();
        file.grants[0].organisation = "99887766".to_string();
        file.validate().expect("the file itself is valid");
        assert!(register.import(&file).await.is_err());
        assert_eq!(
            register.grants_for(DEV_IDP, "anna-2").await.unwrap(),
            PersonGrants::default()
        );
        // Importing the file again fails as a whole too, and changes nothing.
        assert!(register.import(&dev_file()).await.is_err());
        dev_file_register(register).await;

        // With a fresh grant ID the same file goes in.
        file.grants[0].id = "g-anna-2".to_string();
        register.import(&file).await.unwrap();
        let anna2 = register.grants_for(DEV_IDP, "anna-2").await.unwrap();
        assert_eq!(anna2.person_id.as_deref(), Some("anna-2"));
        assert_eq!(anna2.grants.len(), 1);
        assert_eq!(anna2.grants[0].organisation.kvk, "99887766");
    }
}

/// Resolution: the person's grants read from the register, decided for one login by the pure
/// [`crate::domain::decision::decide`]. What a login does between the identity provider's answer and
/// the organisation choice or refusal.
pub async fn resolve(
    register: &dyn Register,
    result: &crate::domain::login::AuthnResult,
    service: &ServiceRef,
    required: crate::domain::level::Level,
    comparison: crate::domain::level::Comparison,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<crate::domain::decision::Decision, RegisterError> {
    let grants = register.grants_for(&result.idp, &result.subject).await?;
    Ok(crate::domain::decision::decide(
        required,
        comparison,
        result,
        service,
        &grants.grants,
        now,
    ))
}
