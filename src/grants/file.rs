//! The development and seed file of the register (`config/grants-dev.toml`).
//!
//! ```toml
//! [[organisation]]
//! kvk = "12345678"
//! rsin = "805123453"          # optional
//! name = "Bakkerij De Gouden Korst B.V."
//!
//! [[person]]
//! id = "anna"
//! name = "Anna"               # optional, for people reading the file
//! links = [{ idp = "urn:etoegang:AD:00000099990000000003:entities:1", subject = "anna" }]
//!
//! [[membership]]
//! person = "anna"
//! organisation = "12345678"   # KvK number
//! roles = ["hoofdbeheerder", "gebruiker"]
//! blocked = false             # optional, default false
//!
//! [[grant]]
//! id = "g-anna-bakkerij"
//! person = "anna"
//! organisation = "12345678"
//! scope = { kind = "all_services" }   # | { kind = "provider", provider = "<DV entity ID>" }
//!                                     # | { kind = "service", uuid = "<ServiceUUID>" }
//! level = "EH3"
//! valid_from = "2026-01-01T00:00:00Z" # RFC 3339
//! valid_until = "2030-12-31T00:00:00Z"
//! status = "active"                   # | "revoked"
//! last_used_at = "2026-11-01T00:00:00Z"  # optional
//! ```
//!
//! A grant is held by the membership of its person in its organisation: the membership gives
//! the roles and the blocked state. Unknown keys are refused so that a typo cannot silently drop
//! a restriction.

use crate::domain::grant::{validity_limit, GrantStatus, Organisation, Role, Scope};
use crate::domain::identifiers::{is_kvk, is_rsin};
use crate::domain::level::Level;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantsFile {
    #[serde(default, rename = "organisation")]
    pub organisations: Vec<OrganisationEntry>,
    #[serde(default, rename = "person")]
    pub persons: Vec<PersonEntry>,
    #[serde(default, rename = "membership")]
    pub memberships: Vec<MembershipEntry>,
    #[serde(default, rename = "grant")]
    pub grants: Vec<GrantEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganisationEntry {
    /// KvK number: 8 digits; identifies the organisation in this file.
    pub kvk: String,
    /// RSIN: 9 digits passing the eleven-test.
    #[serde(default)]
    pub rsin: Option<String>,
    pub name: String,
}

impl OrganisationEntry {
    pub fn to_organisation(&self) -> Organisation {
        Organisation {
            kvk: self.kvk.clone(),
            rsin: self.rsin.clone(),
            name: self.name.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonEntry {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// Where poort's mails (invitations, requests to sign, reminders) go.
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub links: Vec<IdentityLink>,
}

/// A person's account at an identity provider.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityLink {
    /// Entity ID of the identity provider.
    pub idp: String,
    /// The person's subject there.
    pub subject: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MembershipEntry {
    pub person: String,
    /// KvK number of the organisation.
    pub organisation: String,
    #[serde(default)]
    pub roles: Vec<Role>,
    #[serde(default)]
    pub blocked: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantEntry {
    pub id: String,
    pub person: String,
    /// KvK number of the organisation.
    pub organisation: String,
    pub scope: Scope,
    pub level: Level,
    #[serde(deserialize_with = "instant::required")]
    pub valid_from: DateTime<Utc>,
    #[serde(deserialize_with = "instant::required")]
    pub valid_until: DateTime<Utc>,
    pub status: GrantStatus,
    #[serde(default, deserialize_with = "instant::optional")]
    pub last_used_at: Option<DateTime<Utc>>,
}

/// Instants as RFC 3339, written either as a string or as a TOML date-time with an offset
/// (people write both; chrono alone reads only strings). A local date-time has no offset and
/// would depend on the machine's zone, so it is refused.
mod instant {
    use chrono::{DateTime, Utc};
    use serde::de::Error;
    use serde::{Deserialize, Deserializer};

    pub fn required<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = match toml::Value::deserialize(d)? {
            toml::Value::String(s) => s,
            toml::Value::Datetime(dt) if dt.offset.is_some() && dt.time.is_some() => dt.to_string(),
            other => {
                return Err(D::Error::custom(format!(
                    "expected an RFC 3339 date and time with offset, found {other}"
                )))
            }
        };
        DateTime::parse_from_rfc3339(&text)
            .map(|dt| dt.with_timezone(&Utc))
            .map_err(|e| D::Error::custom(format!("{text:?}: {e}")))
    }

    pub fn optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        required(d).map(Some)
    }
}

/// Why a grants file was refused; each variant names the offending entry.
#[derive(Debug, thiserror::Error)]
pub enum GrantsFileError {
    #[error("grants file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("grants file {path}: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: Box<toml::de::Error>,
    },
    #[error("{entry}: field `{field}` is empty")]
    Empty { entry: String, field: &'static str },
    #[error("organisation {name:?}: KvK number {kvk:?} is not 8 digits")]
    InvalidKvk { name: String, kvk: String },
    #[error("organisation {kvk}: RSIN {rsin:?} is not 9 digits passing the eleven-test")]
    InvalidRsin { kvk: String, rsin: String },
    #[error("organisation {kvk} is listed twice")]
    DuplicateOrganisation { kvk: String },
    #[error("person {id:?} is listed twice")]
    DuplicatePerson { id: String },
    #[error("person {id:?}: `email` is not an e-mail address")]
    InvalidEmail { id: String },
    #[error("grant {id:?} is listed twice")]
    DuplicateGrant { id: String },
    #[error("identity link ({idp}, {subject}) belongs to both {first:?} and {second:?}")]
    DuplicateLink {
        idp: String,
        subject: String,
        first: String,
        second: String,
    },
    #[error("membership of {person:?} in {organisation} is listed twice")]
    DuplicateMembership {
        person: String,
        organisation: String,
    },
    #[error("{entry}: unknown person {person:?}")]
    UnknownPerson { entry: String, person: String },
    #[error("{entry}: unknown organisation {kvk:?}")]
    UnknownOrganisation { entry: String, kvk: String },
    #[error("grant {grant:?}: {person:?} is not a member of {organisation}")]
    NoMembership {
        grant: String,
        person: String,
        organisation: String,
    },
    #[error("grant {grant:?}: valid_until {valid_until} is not after valid_from {valid_from}")]
    ValidityEmpty {
        grant: String,
        valid_from: DateTime<Utc>,
        valid_until: DateTime<Utc>,
    },
    #[error("grant {grant:?}: valid from {valid_from} to {valid_until}, more than 5 years")]
    ValidityTooLong {
        grant: String,
        valid_from: DateTime<Utc>,
        valid_until: DateTime<Utc>,
    },
    #[error("grant {grant:?}: service scope {uuid:?} is not a UUID")]
    InvalidServiceUuid { grant: String, uuid: String },
}

/// Reads, parses and validates a grants file.
pub fn load_grants_file(path: impl AsRef<Path>) -> Result<GrantsFile, GrantsFileError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| GrantsFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path)
}

impl GrantsFile {
    /// Parses and validates a grants file held in memory (tests, embedded seeds).
    pub fn from_toml_str(text: &str) -> Result<GrantsFile, GrantsFileError> {
        parse(text, Path::new("<memory>"))
    }

    /// Checks every rule of the format; the first offending entry is reported.
    pub fn validate(&self) -> Result<(), GrantsFileError> {
        let mut kvks = HashSet::new();
        for org in &self.organisations {
            if !is_kvk(&org.kvk) {
                return Err(GrantsFileError::InvalidKvk {
                    name: org.name.clone(),
                    kvk: org.kvk.clone(),
                });
            }
            non_empty(&org.name, || format!("organisation {}", org.kvk), "name")?;
            if let Some(rsin) = &org.rsin {
                if !is_rsin(rsin) {
                    return Err(GrantsFileError::InvalidRsin {
                        kvk: org.kvk.clone(),
                        rsin: rsin.clone(),
                    });
                }
            }
            if !kvks.insert(org.kvk.as_str()) {
                return Err(GrantsFileError::DuplicateOrganisation {
                    kvk: org.kvk.clone(),
                });
            }
        }

        let mut persons = HashSet::new();
        let mut links: HashMap<(&str, &str), &str> = HashMap::new();
        for person in &self.persons {
            non_empty(&person.id, || "person".to_string(), "id")?;
            if !persons.insert(person.id.as_str()) {
                return Err(GrantsFileError::DuplicatePerson {
                    id: person.id.clone(),
                });
            }
            if person
                .email
                .as_deref()
                .is_some_and(|e| !super::check::is_email_address(e))
            {
                return Err(GrantsFileError::InvalidEmail {
                    id: person.id.clone(),
                });
            }
            for link in &person.links {
                let entry = || format!("person {:?}, identity link", person.id);
                non_empty(&link.idp, entry, "idp")?;
                non_empty(&link.subject, entry, "subject")?;
                let key = (link.idp.as_str(), link.subject.as_str());
                if let Some(first) = links.insert(key, person.id.as_str()) {
                    return Err(GrantsFileError::DuplicateLink {
                        idp: link.idp.clone(),
                        subject: link.subject.clone(),
                        first: first.to_string(),
                        second: person.id.clone(),
                    });
                }
            }
        }

        let known = |entry: &dyn Fn() -> String, person: &str, kvk: &str| {
            if !persons.contains(person) {
                return Err(GrantsFileError::UnknownPerson {
                    entry: entry(),
                    person: person.to_string(),
                });
            }
            if !kvks.contains(kvk) {
                return Err(GrantsFileError::UnknownOrganisation {
                    entry: entry(),
                    kvk: kvk.to_string(),
                });
            }
            Ok(())
        };

        let mut memberships = HashSet::new();
        for m in &self.memberships {
            let entry = || format!("membership of {:?} in {}", m.person, m.organisation);
            known(&entry, &m.person, &m.organisation)?;
            if !memberships.insert((m.person.as_str(), m.organisation.as_str())) {
                return Err(GrantsFileError::DuplicateMembership {
                    person: m.person.clone(),
                    organisation: m.organisation.clone(),
                });
            }
        }

        let mut grant_ids = HashSet::new();
        for g in &self.grants {
            non_empty(&g.id, || "grant".to_string(), "id")?;
            if !grant_ids.insert(g.id.as_str()) {
                return Err(GrantsFileError::DuplicateGrant { id: g.id.clone() });
            }
            let entry = || format!("grant {:?}", g.id);
            known(&entry, &g.person, &g.organisation)?;
            if !memberships.contains(&(g.person.as_str(), g.organisation.as_str())) {
                return Err(GrantsFileError::NoMembership {
                    grant: g.id.clone(),
                    person: g.person.clone(),
                    organisation: g.organisation.clone(),
                });
            }
            match &g.scope {
                Scope::AllServices => {}
                Scope::Provider { provider } => non_empty(provider, entry, "scope.provider")?,
                Scope::Service { uuid } => {
                    if uuid::Uuid::parse_str(uuid).is_err() {
                        return Err(GrantsFileError::InvalidServiceUuid {
                            grant: g.id.clone(),
                            uuid: uuid.clone(),
                        });
                    }
                }
            }
            if g.valid_until <= g.valid_from {
                return Err(GrantsFileError::ValidityEmpty {
                    grant: g.id.clone(),
                    valid_from: g.valid_from,
                    valid_until: g.valid_until,
                });
            }
            // Calendar years: valid from 2026-03-01 may run to 2031-03-01 inclusive.
            let latest = validity_limit(g.valid_from);
            if latest.is_none_or(|latest| g.valid_until > latest) {
                return Err(GrantsFileError::ValidityTooLong {
                    grant: g.id.clone(),
                    valid_from: g.valid_from,
                    valid_until: g.valid_until,
                });
            }
        }
        Ok(())
    }
}

fn parse(text: &str, path: &Path) -> Result<GrantsFile, GrantsFileError> {
    let file: GrantsFile = toml::from_str(text).map_err(|e| GrantsFileError::Parse {
        path: path.to_path_buf(),
        source: Box::new(e),
    })?;
    file.validate()?;
    Ok(file)
}

fn non_empty(
    value: &str,
    entry: impl FnOnce() -> String,
    field: &'static str,
) -> Result<(), GrantsFileError> {
    if value.trim().is_empty() {
        return Err(GrantsFileError::Empty {
            entry: entry(),
            field,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = r#"
        [[organisation]]
        kvk = "12345678"
        rsin = "805123453"
        name = "Bakkerij"

        [[person]]
        id = "anna"
        links = [{ idp = "urn:ad", subject = "anna" }]

        [[membership]]
        person = "anna"
        organisation = "12345678"
        roles = ["gebruiker"]

        [[grant]]
        id = "g1"
        person = "anna"
        organisation = "12345678"
        scope = { kind = "service", uuid = "5a1d3b0e-8c9f-4f5e-9b1a-000000000001" }
        level = "EH2+"
        valid_from = "2026-01-01T00:00:00Z"
        valid_until = "2031-01-01T00:00:00Z"
        status = "active"
    "#;

    fn with(from: &str, to: &str) -> Result<GrantsFile, GrantsFileError> {
        GrantsFile::from_toml_str(&VALID.replace(from, to))
    }

    #[test]
    fn valid_file_parses() {
        let file = GrantsFile::from_toml_str(VALID).unwrap();
        assert_eq!(file.grants[0].level, Level::Eh2Plus);
        assert_eq!(
            file.grants[0].scope,
            Scope::Service {
                uuid: "5a1d3b0e-8c9f-4f5e-9b1a-000000000001".into()
            }
        );
        assert!(!file.memberships[0].blocked);
        assert_eq!(file.grants[0].last_used_at, None);
    }

    #[test]
    fn native_toml_datetimes() {
        let file = with("\"2026-01-01T00:00:00Z\"", "2026-01-01T01:00:00+01:00").unwrap();
        assert_eq!(
            file.grants[0].valid_from,
            "2026-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        let used = VALID.replace(
            "status = \"active\"",
            "status = \"active\"\nlast_used_at = 2026-06-01T12:00:00Z",
        );
        let file = GrantsFile::from_toml_str(&used).unwrap();
        assert_eq!(
            file.grants[0].last_used_at,
            Some("2026-06-01T12:00:00Z".parse().unwrap())
        );
        for local in [
            "2026-01-01T00:00:00",
            "2026-01-01",
            "\"2026-01-01\"",
            "20260101",
        ] {
            let err = with("\"2026-01-01T00:00:00Z\"", local).unwrap_err();
            assert!(
                matches!(err, GrantsFileError::Parse { .. }),
                "{local}: {err}"
            );
        }
    }

    #[test]
    fn each_rule_names_the_offending_entry() {
        let cases: Vec<(Result<GrantsFile, GrantsFileError>, &str)> = vec![
            (with("kvk = \"12345678\"", "kvk = \"1234567\""), "Bakkerij"),
            (with("805123453", "805123454"), "805123454"),
            (
                with(
                    "person = \"anna\"\n        organisation",
                    "person = \"bob\"\n        organisation",
                ),
                "bob",
            ),
            (
                with(
                    "organisation = \"12345678\"\n        roles",
                    "organisation = \"99999999\"\n        roles",
                ),
                "99999999",
            ),
            (with("2031-01-01T00:00:00Z", "2031-01-01T00:00:01Z"), "g1"),
            (with("2031-01-01T00:00:00Z", "2026-01-01T00:00:00Z"), "g1"),
            (
                with(
                    "uuid = \"5a1d3b0e-8c9f-4f5e-9b1a-000000000001\"",
                    "uuid = \"service-1\"",
                ),
                "service-1",
            ),
            (with("subject = \"anna\"", "subject = \"\""), "anna"),
        ];
        for (result, needle) in cases {
            let err = result.unwrap_err();
            assert!(
                err.to_string().contains(needle),
                "{err} should name {needle}"
            );
        }
    }

    #[test]
    fn typed_errors() {
        assert!(matches!(
            with("kvk = \"12345678\"", "kvk = \"1234567a\""),
            Err(GrantsFileError::InvalidKvk { .. })
        ));
        assert!(matches!(
            with("805123453", "805123454"),
            Err(GrantsFileError::InvalidRsin { .. })
        ));
        assert!(matches!(
            with("2031-01-01T00:00:00Z", "2031-01-01T00:00:01Z"),
            Err(GrantsFileError::ValidityTooLong { .. })
        ));
        assert!(matches!(
            with("2031-01-01T00:00:00Z", "2026-01-01T00:00:00Z"),
            Err(GrantsFileError::ValidityEmpty { .. })
        ));
        assert!(matches!(
            with("valid_until", "vaild_until"),
            Err(GrantsFileError::Parse { .. })
        ));
        assert!(matches!(
            with("\"EH2+\"", "\"EH1\""),
            Err(GrantsFileError::Parse { .. })
        ));
        assert!(matches!(
            with("\"active\"", "\"paused\""),
            Err(GrantsFileError::Parse { .. })
        ));

        let twice = |table: &str| {
            let start = VALID.find(&format!("[[{table}]]")).unwrap();
            let end = VALID[start + 2..]
                .find("[[")
                .map_or(VALID.len(), |e| e + start + 2);
            format!("{VALID}\n{}", &VALID[start..end])
        };
        assert!(matches!(
            GrantsFile::from_toml_str(&twice("organisation")),
            Err(GrantsFileError::DuplicateOrganisation { .. })
        ));
        assert!(matches!(
            GrantsFile::from_toml_str(&twice("person")),
            Err(GrantsFileError::DuplicatePerson { .. })
        ));
        assert!(matches!(
            GrantsFile::from_toml_str(&twice("membership")),
            Err(GrantsFileError::DuplicateMembership { .. })
        ));
        assert!(matches!(
            GrantsFile::from_toml_str(&twice("grant")),
            Err(GrantsFileError::DuplicateGrant { .. })
        ));

        let bad_mail = format!("{VALID}\n[[person]]\nid = \"bob\"\nemail = \"bob at example\"\n");
        assert!(matches!(
            GrantsFile::from_toml_str(&bad_mail),
            Err(GrantsFileError::InvalidEmail { id }) if id == "bob"
        ));
        let good_mail = format!("{VALID}\n[[person]]\nid = \"bob\"\nemail = \"bob@example.org\"\n");
        assert!(GrantsFile::from_toml_str(&good_mail).is_ok());

        let other_person = format!("{VALID}\n[[person]]\nid = \"bob\"\nlinks = [{{ idp = \"urn:ad\", subject = \"anna\" }}]\n");
        match GrantsFile::from_toml_str(&other_person) {
            Err(GrantsFileError::DuplicateLink { first, second, .. }) => {
                assert_eq!((first.as_str(), second.as_str()), ("anna", "bob"));
            }
            other => panic!("expected a duplicate link, got {other:?}"),
        }

        let no_membership = format!("{VALID}\n[[person]]\nid = \"bob\"\n").replace(
            "person = \"anna\"\n        organisation = \"12345678\"\n        scope",
            "person = \"bob\"\n        organisation = \"12345678\"\n        scope",
        );
        assert!(matches!(
            GrantsFile::from_toml_str(&no_membership),
            Err(GrantsFileError::NoMembership { .. })
        ));
    }

    #[test]
    fn missing_file_is_a_read_error() {
        let err = load_grants_file("/nonexistent/grants.toml").unwrap_err();
        assert!(matches!(err, GrantsFileError::Read { .. }));
        assert!(err.to_string().contains("/nonexistent/grants.toml"));
    }

    #[test]
    fn dev_file_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/grants-dev.toml");
        let file = load_grants_file(path).unwrap();
        assert_eq!(file.organisations.len(), 3);
        assert_eq!(file.persons.len(), 6);
    }
}
