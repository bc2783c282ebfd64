//! The in-process register: built once from a grants file, read-only, no setup needed.

use super::file::{load_grants_file, GrantsFile, GrantsFileError};
use super::{Register, RegisterError};
use crate::domain::grant::{HeldGrant, PersonGrants};
use async_trait::async_trait;
use std::collections::HashMap;
use std::path::Path;

/// A register held in memory, indexed by identity link (AD entity ID, subject).
#[derive(Debug, Clone, Default)]
pub struct MemoryRegister {
    /// Identity link -> person ID.
    links: HashMap<(String, String), String>,
    /// Person ID -> everything the decision needs, assembled once at load time.
    persons: HashMap<String, PersonGrants>,
}

impl MemoryRegister {
    /// Builds the register from a grants file, validating it first (the fields are public, so
    /// a file built in code may not have passed through [`load_grants_file`]).
    pub fn from_grants_file(file: &GrantsFile) -> Result<MemoryRegister, GrantsFileError> {
        file.validate()?;

        let organisations: HashMap<&str, _> = file
            .organisations
            .iter()
            .map(|o| (o.kvk.as_str(), o.to_organisation()))
            .collect();
        let memberships: HashMap<(&str, &str), _> = file
            .memberships
            .iter()
            .map(|m| ((m.person.as_str(), m.organisation.as_str()), m))
            .collect();

        let mut persons: HashMap<String, PersonGrants> = file
            .persons
            .iter()
            .map(|p| {
                let grants = PersonGrants {
                    person_id: Some(p.id.clone()),
                    grants: Vec::new(),
                };
                (p.id.clone(), grants)
            })
            .collect();
        for g in &file.grants {
            // `validate` guarantees all three exist; skipping keeps this free of panics anyway.
            let (Some(organisation), Some(membership), Some(person)) = (
                organisations.get(g.organisation.as_str()),
                memberships.get(&(g.person.as_str(), g.organisation.as_str())),
                persons.get_mut(&g.person),
            ) else {
                continue;
            };
            person.grants.push(HeldGrant {
                grant_id: g.id.clone(),
                organisation: organisation.clone(),
                scope: g.scope.clone(),
                level: g.level,
                valid_from: g.valid_from,
                valid_until: g.valid_until,
                status: g.status,
                holder_blocked: membership.blocked,
                last_used_at: g.last_used_at,
                roles: membership.roles.clone(),
            });
        }

        let links = file
            .persons
            .iter()
            .flat_map(|p| {
                p.links
                    .iter()
                    .map(|l| ((l.idp.clone(), l.subject.clone()), p.id.clone()))
            })
            .collect();
        Ok(MemoryRegister { links, persons })
    }

    /// Reads, validates and loads a grants file.
    pub fn load(path: impl AsRef<Path>) -> Result<MemoryRegister, GrantsFileError> {
        MemoryRegister::from_grants_file(&load_grants_file(path)?)
    }

    /// The grants of an identity link, without going through the async trait.
    pub fn lookup(&self, idp: &str, subject: &str) -> PersonGrants {
        self.links
            .get(&(idp.to_string(), subject.to_string()))
            .and_then(|person| self.persons.get(person))
            .cloned()
            .unwrap_or_default()
    }
}

#[async_trait]
impl Register for MemoryRegister {
    async fn grants_for(&self, idp: &str, subject: &str) -> Result<PersonGrants, RegisterError> {
        Ok(self.lookup(idp, subject))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::decision::{decide, Candidate, Decision, DenyReason};
    use crate::domain::level::{Comparison, Level};
    use crate::domain::login::AuthnResult;
    use crate::grants::{Role, ServiceRef};
    use chrono::{DateTime, Utc};

    const AD: &str = "urn:etoegang:AD:00000099990000000003:entities:1";
    const DV: &str = "urn:etoegang:DV:00000099990000000002:entities:1";

    fn now() -> DateTime<Utc> {
        "2026-11-22T12:00:00Z".parse().unwrap()
    }

    fn service(index: u8, level: Level) -> ServiceRef {
        ServiceRef {
            service_id: format!("urn:etoegang:DV:00000099990000000002:services:{index}"),
            uuid: format!("5a1d3b0e-8c9f-4f5e-9b1a-00000000000{index}"),
            provider: DV.to_string(),
            level,
        }
    }

    fn register() -> MemoryRegister {
        MemoryRegister::load(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/grants-dev.toml"))
            .unwrap()
    }

    async fn login(register: &MemoryRegister, subject: &str, service: &ServiceRef) -> Decision {
        let grants = register.grants_for(AD, subject).await.unwrap();
        let result = AuthnResult {
            idp: AD.to_string(),
            subject: subject.to_string(),
            level: service.level,
            authn_instant: now(),
            attributes: Vec::new(),
        };
        decide(
            service.level,
            Comparison::Minimum,
            &result,
            service,
            &grants.grants,
            now(),
        )
    }

    #[tokio::test]
    async fn dev_file_outcomes_for_service_1_at_eh3() {
        let register = register();
        let s1 = service(1, Level::Eh3);

        let Decision::ChooseOrganisation(choice) = login(&register, "anna", &s1).await else {
            panic!("anna chooses an organisation");
        };
        let names: Vec<_> = choice
            .iter()
            .map(|c| c.organisation.name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "Bakkerij De Gouden Korst B.V.",
                "Installatiebedrijf Van Dijk"
            ]
        );
        assert_eq!(choice[0].organisation.kvk, "12345678");
        assert_eq!(choice[0].organisation.rsin.as_deref(), Some("805123453"));
        assert!(choice[0].roles.contains(&Role::Hoofdbeheerder));
        assert_eq!(choice[1].organisation.kvk, "87654321");
        assert!(choice.iter().all(|c| c.level_used == Level::Eh3));

        assert_eq!(
            login(&register, "bram", &s1).await,
            Decision::Deny(DenyReason::GrantLevelTooLow {
                grant_level: Level::Eh2Plus,
                required: Level::Eh3
            })
        );
        let expected = [
            ("carla", DenyReason::GrantExpired),
            ("daan", DenyReason::NoGrant),
            ("eva", DenyReason::GrantRevoked),
            ("femke", DenyReason::HolderBlocked),
            ("nobody", DenyReason::NoGrant),
        ];
        for (subject, reason) in expected {
            assert_eq!(
                login(&register, subject, &s1).await,
                Decision::Deny(reason),
                "{subject}"
            );
        }
    }

    #[tokio::test]
    async fn bram_is_allowed_for_service_2() {
        let register = register();
        let decision = login(&register, "bram", &service(2, Level::Eh2Plus)).await;
        let Decision::Allow(Candidate {
            organisation,
            grant_id,
            level_used,
            roles,
        }) = decision
        else {
            panic!("bram is allowed for service 2, got {decision:?}");
        };
        assert_eq!(organisation.name, "Stichting Groen Dak");
        assert_eq!(grant_id, "g-bram-groendak-s2");
        assert_eq!(level_used, Level::Eh2Plus);
        assert!(roles.contains(&Role::Gebruiker));
    }

    #[tokio::test]
    async fn unknown_and_grantless_identities() {
        let register = register();
        let unknown = register.grants_for(AD, "nobody").await.unwrap();
        assert_eq!(unknown, PersonGrants::default());
        // Same subject at another identity provider is another identity link.
        let elsewhere = register.grants_for("urn:other-ad", "anna").await.unwrap();
        assert_eq!(elsewhere.person_id, None);
        let daan = register.grants_for(AD, "daan").await.unwrap();
        assert_eq!(daan.person_id.as_deref(), Some("daan"));
        assert!(daan.grants.is_empty());
    }

    #[tokio::test]
    async fn passes_the_conformance_suite() {
        let register =
            MemoryRegister::from_grants_file(&crate::grants::conformance::dev_file()).unwrap();
        crate::grants::conformance::dev_file_register(&register).await;
    }

    #[test]
    fn femke_is_blocked_and_keeps_her_grant() {
        let femke = register().lookup(AD, "femke");
        assert_eq!(femke.grants.len(), 1);
        assert!(femke.grants[0].holder_blocked);
        assert_eq!(femke.grants[0].level, Level::Eh4);
    }
}
