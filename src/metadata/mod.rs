//! Trusted peer metadata: DVs in `metadata/sp/`, ADs in `metadata/idp/`, indexed by entity ID.
//!
//! A bad file never stops the others from loading: it becomes a [`Problem`] that `poort check`
//! prints and `poort serve` logs.

pub mod publish;

use crate::saml::xml::{self, NS_DS, NS_MD};
use base64::Engine;
use chrono::{DateTime, Utc};
use openssl::pkey::{Id, PKey, Public};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const NS_MDUI: &str = "urn:oasis:names:tc:SAML:metadata:ui";
const MAX_FILE: u64 = 1024 * 1024;

/// A certificate from metadata: the key that peer signs or encrypts with.
#[derive(Clone)]
pub struct PeerCert {
    pub der: Vec<u8>,
    pub subject: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    pub public_key: PKey<Public>,
}

impl std::fmt::Debug for PeerCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerCert")
            .field("subject", &self.subject)
            .field("not_after", &self.not_after)
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct AcsEndpoint {
    pub index: u16,
    pub binding: String,
    pub location: String,
    pub is_default: bool,
}

#[derive(Debug, Clone)]
pub struct AttributeConsumingService {
    pub index: u16,
    pub is_default: bool,
    pub names: Vec<(String, String)>,
    /// Values of the RequestedAttribute `urn:etoegang:core:ServiceID`.
    pub service_ids: Vec<String>,
}

/// A DV: a service provider that sends people to poort.
#[derive(Debug, Clone)]
pub struct SpMetadata {
    pub entity_id: String,
    pub acs: Vec<AcsEndpoint>,
    pub attribute_consuming_services: Vec<AttributeConsumingService>,
    pub signing_keys: Vec<PeerCert>,
    pub encryption_keys: Vec<PeerCert>,
    pub authn_requests_signed: bool,
}

#[derive(Debug, Clone)]
pub struct Endpoint {
    pub binding: String,
    pub location: String,
}

/// An AD: an identity provider poort sends people to.
#[derive(Debug, Clone)]
pub struct IdpMetadata {
    pub entity_id: String,
    pub display_names: Vec<(String, String)>,
    pub sso: Vec<Endpoint>,
    pub signing_keys: Vec<PeerCert>,
}

impl IdpMetadata {
    /// The name people know the AD by, in `lang`, falling back to Dutch, English, any, the ID.
    pub fn display_name(&self, lang: &str) -> &str {
        [lang, "nl", "en"]
            .iter()
            .find_map(|l| self.display_names.iter().find(|(dl, _)| dl == l))
            .or(self.display_names.first())
            .map(|(_, n)| n.as_str())
            .unwrap_or(&self.entity_id)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Warning,
    Error,
}

#[derive(Debug, Clone)]
pub struct Problem {
    pub file: PathBuf,
    pub entity_id: Option<String>,
    pub severity: Severity,
    pub message: String,
}

/// All trusted peers.
#[derive(Debug, Default)]
pub struct MetadataSet {
    pub sps: HashMap<String, SpMetadata>,
    /// Sorted by Dutch display name: the order of the choice page.
    pub idps: Vec<IdpMetadata>,
    pub problems: Vec<Problem>,
}

#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    #[error("cannot read: {0}")]
    Read(#[from] std::io::Error),
    #[error("file is larger than 1 MiB")]
    TooLarge,
    #[error(transparent)]
    Xml(#[from] xml::XmlError),
    #[error("root is neither EntityDescriptor nor EntitiesDescriptor")]
    NotMetadata,
}

struct Loader<'a> {
    file: &'a Path,
    now: DateTime<Utc>,
    problems: Vec<Problem>,
}

impl Loader<'_> {
    fn problem(&mut self, entity: Option<&str>, severity: Severity, message: String) {
        self.problems.push(Problem {
            file: self.file.to_path_buf(),
            entity_id: entity.map(str::to_string),
            severity,
            message,
        });
    }

    fn certs(&mut self, entity: &str, role: roxmltree::Node<'_, '_>, usage: &str) -> Vec<PeerCert> {
        let mut out = Vec::new();
        for kd in xml::children(role, NS_MD, "KeyDescriptor") {
            let use_ = kd.attribute("use").unwrap_or(usage);
            if use_ != usage {
                continue;
            }
            for c in kd
                .descendants()
                .filter(|n| xml::is(*n, NS_DS, "X509Certificate"))
            {
                match self.cert(entity, &xml::text(c), usage) {
                    Some(cert) => out.push(cert),
                    None => continue,
                }
            }
        }
        out
    }

    fn cert(&mut self, entity: &str, b64: &str, usage: &str) -> Option<PeerCert> {
        let cleaned: String = b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let Ok(der) = base64::engine::general_purpose::STANDARD.decode(cleaned) else {
            self.problem(
                Some(entity),
                Severity::Error,
                format!("{usage} X509Certificate is not valid base64"),
            );
            return None;
        };
        let parsed = match x509_parser::parse_x509_certificate(&der) {
            Ok((_, c)) => c,
            Err(e) => {
                self.problem(
                    Some(entity),
                    Severity::Error,
                    format!("{usage} X509Certificate cannot be parsed: {e}"),
                );
                return None;
            }
        };
        let not_before = DateTime::from_timestamp(parsed.validity().not_before.timestamp(), 0)?;
        let not_after = DateTime::from_timestamp(parsed.validity().not_after.timestamp(), 0)?;
        let subject = parsed.subject().to_string();
        if not_after < self.now {
            self.problem(Some(entity), Severity::Warning, format!("{usage} certificate {subject} expired on {not_after}; trusted because metadata pins it"));
        } else if not_before > self.now {
            self.problem(
                Some(entity),
                Severity::Warning,
                format!("{usage} certificate {subject} is not valid before {not_before}"),
            );
        }
        if let Ok(Some(ku)) = parsed.key_usage() {
            let ok = match usage {
                "signing" => ku.value.digital_signature(),
                _ => ku.value.key_encipherment() || ku.value.key_agreement(),
            };
            if !ok {
                self.problem(
                    Some(entity),
                    Severity::Error,
                    format!(
                        "{usage} certificate {subject} does not allow {usage} (key usage); ignored"
                    ),
                );
                return None;
            }
        }
        let public_key = openssl::x509::X509::from_der(&der)
            .and_then(|c| c.public_key())
            .ok()?;
        if public_key.id() == Id::RSA && public_key.bits() < 2048 {
            self.problem(
                Some(entity),
                Severity::Error,
                format!("{usage} certificate {subject} has an RSA key under 2048 bits; ignored"),
            );
            return None;
        }
        Some(PeerCert {
            der,
            subject,
            not_before,
            not_after,
            public_key,
        })
    }
}

fn u16_attr(n: roxmltree::Node<'_, '_>, name: &str) -> Option<u16> {
    n.attribute(name).and_then(|v| v.trim().parse().ok())
}

fn localized(n: roxmltree::Node<'_, '_>) -> (String, String) {
    let lang = n
        .attribute(("http://www.w3.org/XML/1998/namespace", "lang"))
        .unwrap_or("")
        .to_string();
    (lang, xml::text(n))
}

/// Loads every `*.xml` file in both folders.
pub fn load(sp_dir: &Path, idp_dir: &Path, now: DateTime<Utc>) -> MetadataSet {
    let mut set = MetadataSet::default();
    let mut seen: HashMap<String, PathBuf> = HashMap::new();
    for (dir, want_sp) in [(sp_dir, true), (idp_dir, false)] {
        let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
            Ok(rd) => rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "xml"))
                .collect(),
            Err(e) => {
                set.problems.push(Problem {
                    file: dir.to_path_buf(),
                    entity_id: None,
                    severity: Severity::Error,
                    message: format!("cannot read metadata folder: {e}"),
                });
                continue;
            }
        };
        files.sort();
        for file in files {
            let mut loader = Loader {
                file: &file,
                now,
                problems: Vec::new(),
            };
            if let Err(e) = load_file(&mut loader, &mut set, &mut seen, want_sp) {
                loader.problem(None, Severity::Error, e.to_string());
            }
            set.problems.append(&mut loader.problems);
        }
    }
    set.idps
        .sort_by(|a, b| a.display_name("nl").cmp(b.display_name("nl")));
    set
}

fn load_file(
    loader: &mut Loader<'_>,
    set: &mut MetadataSet,
    seen: &mut HashMap<String, PathBuf>,
    want_sp: bool,
) -> Result<(), MetadataError> {
    if std::fs::metadata(loader.file)?.len() > MAX_FILE {
        return Err(MetadataError::TooLarge);
    }
    let text = std::fs::read_to_string(loader.file)?;
    let doc = xml::parse(&text)?;
    let root = doc.root_element();
    if !xml::is(root, NS_MD, "EntityDescriptor") && !xml::is(root, NS_MD, "EntitiesDescriptor") {
        return Err(MetadataError::NotMetadata);
    }
    for entity in root
        .descendants()
        .filter(|n| xml::is(*n, NS_MD, "EntityDescriptor"))
    {
        let Some(entity_id) = entity.attribute("entityID").map(str::to_string) else {
            loader.problem(
                None,
                Severity::Error,
                "EntityDescriptor without entityID".into(),
            );
            continue;
        };
        let expired = entity
            .ancestors()
            .filter_map(|a| a.attribute("validUntil"))
            .filter_map(xml::parse_instant)
            .any(|t| t < loader.now);
        if expired {
            loader.problem(
                Some(&entity_id),
                Severity::Error,
                "validUntil has passed; entity ignored".into(),
            );
            continue;
        }
        if let Some(first) = seen.get(&entity_id) {
            let msg = format!(
                "entity ID also defined in {}; ignored here",
                first.display()
            );
            loader.problem(Some(&entity_id), Severity::Error, msg);
            continue;
        }
        let loaded = if want_sp {
            load_sp(loader, entity, &entity_id).map(|sp| {
                set.sps.insert(entity_id.clone(), sp);
            })
        } else {
            load_idp(loader, entity, &entity_id).map(|idp| set.idps.push(idp))
        };
        if loaded.is_some() {
            seen.insert(entity_id, loader.file.to_path_buf());
        }
    }
    Ok(())
}

fn load_sp(
    loader: &mut Loader<'_>,
    entity: roxmltree::Node<'_, '_>,
    id: &str,
) -> Option<SpMetadata> {
    let Some(role) = xml::child(entity, NS_MD, "SPSSODescriptor") else {
        loader.problem(
            Some(id),
            Severity::Error,
            "no SPSSODescriptor in a DV metadata file".into(),
        );
        return None;
    };
    let acs: Vec<AcsEndpoint> = xml::children(role, NS_MD, "AssertionConsumerService")
        .filter_map(|n| {
            Some(AcsEndpoint {
                index: u16_attr(n, "index")?,
                binding: n.attribute("Binding")?.to_string(),
                location: n.attribute("Location")?.to_string(),
                is_default: n.attribute("isDefault") == Some("true"),
            })
        })
        .collect();
    if !acs.iter().any(|a| a.binding == xml::BINDING_POST) {
        loader.problem(
            Some(id),
            Severity::Error,
            "no AssertionConsumerService with the HTTP-POST binding".into(),
        );
        return None;
    }
    let attribute_consuming_services = xml::children(role, NS_MD, "AttributeConsumingService")
        .filter_map(|n| {
            Some(AttributeConsumingService {
                index: u16_attr(n, "index")?,
                is_default: n.attribute("isDefault") == Some("true"),
                names: xml::children(n, NS_MD, "ServiceName")
                    .map(localized)
                    .collect(),
                service_ids: xml::children(n, NS_MD, "RequestedAttribute")
                    .filter(|r| r.attribute("Name") == Some("urn:etoegang:core:ServiceID"))
                    .flat_map(|r| {
                        r.children()
                            .filter(|v| v.is_element() && v.tag_name().name() == "AttributeValue")
                            .map(xml::text)
                    })
                    .collect(),
            })
        })
        .collect();
    let signing_keys = loader.certs(id, role, "signing");
    if signing_keys.is_empty() {
        loader.problem(
            Some(id),
            Severity::Warning,
            "no usable signing key: its requests cannot be verified".into(),
        );
    }
    let encryption_keys = loader.certs(id, role, "encryption");
    Some(SpMetadata {
        entity_id: id.to_string(),
        acs,
        attribute_consuming_services,
        signing_keys,
        encryption_keys,
        authn_requests_signed: role.attribute("AuthnRequestsSigned") == Some("true"),
    })
}

fn load_idp(
    loader: &mut Loader<'_>,
    entity: roxmltree::Node<'_, '_>,
    id: &str,
) -> Option<IdpMetadata> {
    let Some(role) = xml::child(entity, NS_MD, "IDPSSODescriptor") else {
        loader.problem(
            Some(id),
            Severity::Error,
            "no IDPSSODescriptor in an AD metadata file".into(),
        );
        return None;
    };
    let sso: Vec<Endpoint> = xml::children(role, NS_MD, "SingleSignOnService")
        .filter_map(|n| {
            Some(Endpoint {
                binding: n.attribute("Binding")?.to_string(),
                location: n.attribute("Location")?.to_string(),
            })
        })
        .filter(|e| e.binding == xml::BINDING_POST || e.binding == xml::BINDING_REDIRECT)
        .collect();
    if sso.is_empty() {
        loader.problem(
            Some(id),
            Severity::Error,
            "no SingleSignOnService with the HTTP-Redirect or HTTP-POST binding".into(),
        );
        return None;
    }
    let signing_keys = loader.certs(id, role, "signing");
    if signing_keys.is_empty() {
        loader.problem(
            Some(id),
            Severity::Error,
            "no usable signing key: its answers cannot be verified".into(),
        );
        return None;
    }
    let mut display_names: Vec<(String, String)> = role
        .descendants()
        .filter(|n| xml::is(*n, NS_MDUI, "DisplayName"))
        .map(localized)
        .collect();
    if display_names.is_empty() {
        display_names = entity
            .descendants()
            .filter(|n| xml::is(*n, NS_MD, "OrganizationDisplayName"))
            .map(localized)
            .collect();
    }
    Some(IdpMetadata {
        entity_id: id.to_string(),
        display_names,
        sso,
        signing_keys,
    })
}
