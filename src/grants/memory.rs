//! The in-process register: built once from a grants file, read-only, no setup needed.

use super::file::{load_grants_file, GrantsFile, GrantsFileError};
use super::model::{HeldGrant, PersonGrants};
use super::{Register, RegisterError};
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
