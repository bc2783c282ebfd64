//! Trusted peer metadata: DVs (SAML service providers) in `metadata/sp/*.xml`, ADs (identity
//! providers) in `metadata/idp/*.xml`, and poort's own published metadata ([`publish`]).
//!
//! Loading never fails as a whole: a bad file or entity becomes a [`Problem`] and the rest still
//! loads, so one broken peer cannot take the others down. An entity with an `Error` problem is
//! not in the [`MetadataSet`] (fail closed); `Warning`s leave it in.

mod cert;
mod parse;
pub mod publish;
mod read;

use chrono::{DateTime, Utc};
use openssl::pkey::{PKey, Public};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use cert::MIN_RSA_BITS;

/// Largest metadata file accepted; real metadata is a few tens of kilobytes.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

// The binding URIs, under the names metadata code uses; defined once in `saml::xml`.
pub use crate::saml::xml::{
    BINDING_ARTIFACT as BINDING_HTTP_ARTIFACT, BINDING_POST as BINDING_HTTP_POST,
    BINDING_REDIRECT as BINDING_HTTP_REDIRECT, BINDING_SOAP,
};
/// poort's earlier form: the RequestedAttribute whose AttributeValue names the DV's service
/// (still read, with a warning; the scheme's form is a RequestedAttribute named by the ServiceID).
pub const SERVICE_ID_ATTRIBUTE: &str = "urn:etoegang:core:ServiceID";

/// A peer's certificate from `ds:X509Certificate`, with the key poort verifies or encrypts with.
#[derive(Clone, Debug)]
pub struct PeerCert {
    pub der: Vec<u8>,
    pub subject: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    pub public_key: PKey<Public>,
}

/// An `md:AssertionConsumerService` of a DV.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcsEndpoint {
    pub index: u16,
    pub binding: String,
    pub location: String,
    pub is_default: bool,
}

impl AcsEndpoint {
    /// poort answers DVs over the HTTP-Artifact binding (the scheme's rule) or HTTP-POST.
    pub fn is_usable(&self) -> bool {
        self.binding == BINDING_HTTP_POST || self.binding == BINDING_HTTP_ARTIFACT
    }

    pub fn is_artifact(&self) -> bool {
        self.binding == BINDING_HTTP_ARTIFACT
    }
}

/// An indexed endpoint such as `md:ArtifactResolutionService` (SOAP binding).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexedEndpoint {
    pub index: u16,
    pub binding: String,
    pub location: String,
    pub is_default: bool,
}

/// The ArtifactResolutionService with this `EndpointIndex` (from an artifact), SOAP only.
pub fn artifact_resolution_service(
    endpoints: &[IndexedEndpoint],
    index: u16,
) -> Option<&IndexedEndpoint> {
    endpoints
        .iter()
        .find(|e| e.index == index && e.binding == BINDING_SOAP)
}

/// An `md:AttributeConsumingService` of a DV: one service it offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttributeConsumingService {
    pub index: u16,
    pub is_default: bool,
    /// `md:ServiceName` as (xml:lang, text).
    pub names: Vec<(String, String)>,
    /// `Name` of each `md:RequestedAttribute` that asks for an attribute (not those naming the
    /// service itself).
    pub requested_attributes: Vec<String>,
    /// The ServiceIDs this service names. The scheme's form (*DV metadata for HM*): the `Name`
    /// of a `md:RequestedAttribute` is the ServiceID itself (`urn:etoegang:DV:<OIN>:services:<n>`).
    /// poort's earlier form, still read with a deprecation warning: the `saml:AttributeValue`s
    /// of a `urn:etoegang:core:ServiceID` RequestedAttribute.
    pub service_ids: Vec<String>,
}

/// A trusted DV (entity with an `md:SPSSODescriptor`).
#[derive(Clone, Debug)]
pub struct SpMetadata {
    pub entity_id: String,
    /// All endpoints in document order; only [`AcsEndpoint::is_usable`] ones may receive answers.
    pub acs: Vec<AcsEndpoint>,
    /// Every usable `md:SingleLogoutService`: where poort answers this DV's LogoutRequest
    /// (none: poort ends the log-out with a page of its own).
    pub slo: Vec<Endpoint>,
    pub attribute_consuming_services: Vec<AttributeConsumingService>,
    /// `md:ArtifactResolutionService`s (SOAP): where poort resolves this DV's artifacts
    /// (an AuthnRequest sent by artifact).
    pub artifact_resolution: Vec<IndexedEndpoint>,
    pub signing_keys: Vec<PeerCert>,
    pub encryption_keys: Vec<PeerCert>,
    pub authn_requests_signed: bool,
    pub want_assertions_signed: bool,
    /// The earliest validUntil of the entity and its enclosing EntitiesDescriptors.
    pub valid_until: Option<DateTime<Utc>>,
    /// The file it came from (for logs and `poort check`).
    pub file: PathBuf,
}

impl SpMetadata {
    /// The usable ACS for an `AssertionConsumerServiceIndex`; without an index the default
    /// (SAML metadata 2.2.3: `isDefault="true"`, else the first usable one).
    pub fn acs(&self, index: Option<u16>) -> Option<&AcsEndpoint> {
        let mut usable = self.acs.iter().filter(|a| a.is_usable());
        match index {
            Some(i) => usable.find(|a| a.index == i),
            None => {
                let all: Vec<&AcsEndpoint> = usable.collect();
                all.iter()
                    .find(|a| a.is_default)
                    .or_else(|| all.first())
                    .copied()
            }
        }
    }

    /// The usable ACS whose `Location` equals `url` exactly (AuthnRequests may name the URL).
    pub fn acs_by_location(&self, url: &str) -> Option<&AcsEndpoint> {
        self.acs.iter().find(|a| a.is_usable() && a.location == url)
    }

    /// The ServiceID a request names by its `AttributeConsumingServiceIndex`: with an index, that
    /// service's; without, the service with `isDefault="true"` (the first if several), else the
    /// only service. A DV with several services and no default must give the index.
    pub fn service_id(&self, attribute_consuming_service_index: Option<u16>) -> Option<&str> {
        let all = &self.attribute_consuming_services;
        let service = match attribute_consuming_service_index {
            Some(i) => all.iter().find(|s| s.index == i),
            None => all.iter().find(|s| s.is_default).or(match all.as_slice() {
                [only] => Some(only),
                _ => None,
            }),
        }?;
        service.service_ids.first().map(String::as_str)
    }

    /// The AttributeConsumingService for an index; without one the default (or the first).
    pub fn attribute_consuming_service(
        &self,
        index: Option<u16>,
    ) -> Option<&AttributeConsumingService> {
        let all = &self.attribute_consuming_services;
        match index {
            Some(i) => all.iter().find(|s| s.index == i),
            None => all.iter().find(|s| s.is_default).or_else(|| all.first()),
        }
    }
}

/// An endpoint (`md:SingleSignOnService`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub binding: String,
    pub location: String,
    /// `ResponseLocation`: where a response to a message from this peer goes, if not to
    /// `location` (a SingleLogoutService's LogoutResponse).
    pub response_location: Option<String>,
}

impl Endpoint {
    /// Where a response sent to this endpoint goes.
    pub fn response_url(&self) -> &str {
        self.response_location.as_deref().unwrap_or(&self.location)
    }
}

/// The SingleLogoutService poort sends a log-out message to: HTTP-Redirect where the peer has
/// one, else HTTP-POST (the front-channel bindings of SAML Profiles 2.0 §4.4.3).
pub fn logout_endpoint(slo: &[Endpoint]) -> Option<&Endpoint> {
    slo.iter()
        .find(|e| e.binding == BINDING_HTTP_REDIRECT)
        .or_else(|| slo.iter().find(|e| e.binding == BINDING_HTTP_POST))
}

/// A trusted AD (entity with an `md:IDPSSODescriptor`).
#[derive(Clone, Debug)]
pub struct IdpMetadata {
    pub entity_id: String,
    /// (xml:lang, name) from `mdui:DisplayName`, else `md:OrganizationDisplayName`; empty when
    /// neither exists ([`IdpMetadata::display_name`] then gives the entity ID).
    pub display_names: Vec<(String, String)>,
    /// Every `md:SingleSignOnService`; at least one has the HTTP-Artifact, HTTP-Redirect or
    /// HTTP-POST binding.
    pub sso: Vec<Endpoint>,
    /// Every usable `md:SingleLogoutService`: where poort forwards a log-out to this AD
    /// (afsprakenstelsel page *Single Log-out*); none when it takes no log-out messages.
    pub slo: Vec<Endpoint>,
    /// `md:ArtifactResolutionService`s (SOAP): where poort resolves this AD's artifacts.
    pub artifact_resolution: Vec<IndexedEndpoint>,
    /// Never empty: an AD without a signing key is refused, so unsigned answers cannot pass.
    pub signing_keys: Vec<PeerCert>,
    pub want_authn_requests_signed: bool,
    /// The earliest validUntil of the entity and its enclosing EntitiesDescriptors.
    pub valid_until: Option<DateTime<Utc>>,
    pub file: PathBuf,
}

impl IdpMetadata {
    /// The name to show, in `lang`, falling back to Dutch, English, the first name, the entity ID.
    pub fn display_name(&self, lang: &str) -> &str {
        let find = |l: &str| {
            self.display_names
                .iter()
                .find(|(dl, _)| dl.eq_ignore_ascii_case(l))
                .map(|(_, n)| n.as_str())
        };
        find(lang)
            .or_else(|| find("nl"))
            .or_else(|| find("en"))
            .or_else(|| self.display_names.first().map(|(_, n)| n.as_str()))
            .unwrap_or(&self.entity_id)
    }

    /// Whether poort sends this AD its AuthnRequest by artifact and resolves the answer's
    /// artifact: it has an HTTP-Artifact SingleSignOnService and a SOAP ArtifactResolutionService
    /// (SAML Bindings 2.0 §3.6; afsprakenstelsel page *Bindings*).
    pub fn speaks_artifact(&self) -> bool {
        self.sso_endpoint(BINDING_HTTP_ARTIFACT).is_some()
            && self
                .artifact_resolution
                .iter()
                .any(|e| e.binding == BINDING_SOAP)
    }

    /// The first SingleLogoutService with this binding.
    pub fn slo_endpoint(&self, binding: &str) -> Option<&Endpoint> {
        self.slo.iter().find(|e| e.binding == binding)
    }

    /// The first SingleSignOnService with this binding.
    pub fn sso_endpoint(&self, binding: &str) -> Option<&Endpoint> {
        self.sso.iter().find(|e| e.binding == binding)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Loaded anyway; the caller decides (e.g. an expired certificate, which SAML pins anyway).
    Warning,
    /// The file, entity or certificate concerned was not loaded.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// What is wrong, one variant per kind so callers and tests can match.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error("the folder or file could not be read: {0}")]
    Unreadable(String),
    #[error("the file is {size} bytes, over the limit of {limit} bytes")]
    TooLarge { size: u64, limit: u64 },
    #[error("the file is not well-formed XML (UTF-8): {0}")]
    NotXml(String),
    #[error("the file has a DOCTYPE (DTD); metadata with a DTD is refused")]
    DtdPresent,
    #[error("the root element is {found}, not md:EntityDescriptor or md:EntitiesDescriptor")]
    UnexpectedRoot { found: String },
    #[error("md:EntityDescriptor has no entityID attribute")]
    NoEntityId,
    #[error("entity ID is already defined in {}; this md:EntityDescriptor is ignored", first_file.display())]
    DuplicateEntityId { first_file: PathBuf },
    #[error("md:EntityDescriptor has no {expected} supporting SAML 2.0")]
    NoRoleDescriptor { expected: &'static str },
    #[error("{element} validUntil {valid_until} has passed; the entity is ignored")]
    Expired {
        element: String,
        valid_until: DateTime<Utc>,
    },
    #[error("{element} has an invalid {attribute} attribute {value:?}")]
    InvalidAttribute {
        element: String,
        attribute: &'static str,
        value: String,
    },
    #[error("{element} Location {location:?} is not an absolute http(s) URL; endpoint ignored")]
    InvalidEndpoint { element: String, location: String },
    #[error("{element} index {index} is used more than once")]
    DuplicateIndex { element: String, index: u16 },
    #[error("md:SPSSODescriptor has no usable md:AssertionConsumerService (HTTP-Artifact or HTTP-POST binding)")]
    NoUsableAcs,
    #[error(
        "md:IDPSSODescriptor has no md:SingleSignOnService with the HTTP-Artifact, HTTP-Redirect or HTTP-POST binding"
    )]
    NoSsoEndpoint,
    #[error(
        "md:IDPSSODescriptor has no md:ArtifactResolutionService with the SOAP binding; {why}"
    )]
    NoArtifactResolutionService { why: &'static str },
    #[error("md:ArtifactResolutionService index {index} has the binding {binding}, not SOAP (SAML Bindings 2.0 §3.6: artifacts are resolved over SOAP); endpoint ignored")]
    ArtifactResolutionNotSoap { index: u16, binding: String },
    #[error("md:AttributeConsumingService index {index} names its service in poort's earlier form (AttributeValue of urn:etoegang:core:ServiceID); use <md:RequestedAttribute Name=\"{service_id}\"/> as the afsprakenstelsel's 'DV metadata for HM' page does")]
    EarlierServiceIdForm { index: u16, service_id: String },
    #[error("more than one {element} has isDefault=\"true\"; the first, index {chosen}, is the default (SAML Metadata 2.0 §2.2.3)")]
    SeveralDefaults { element: String, chosen: u16 },
    #[error("{element} has no usable signing key (md:KeyDescriptor use=\"signing\" or without use, with a ds:X509Certificate)")]
    NoSigningKey { element: String },
    #[error("{element} has no ds:KeyInfo/ds:X509Data/ds:X509Certificate; ignored")]
    NoCertificate { element: String },
    #[error("{element}: the ds:X509Certificate is not parseable: {reason}")]
    CertificateUnparseable { element: String, reason: String },
    #[error("{element}: the certificate expired at {not_after}")]
    CertificateExpired {
        element: String,
        not_after: DateTime<Utc>,
    },
    #[error("{element}: the certificate is not valid before {not_before}")]
    CertificateNotYetValid {
        element: String,
        not_before: DateTime<Utc>,
    },
    #[error("{element}: the certificate's key usage lacks {required}; certificate ignored")]
    KeyUsageMismatch {
        element: String,
        required: &'static str,
    },
    #[error("{element}: the {algorithm} key has {bits} bits, under the minimum of {minimum}; certificate ignored")]
    WeakKey {
        element: String,
        algorithm: &'static str,
        bits: u32,
        minimum: u32,
    },
    #[error("{element}: the certificate's key type {algorithm} is not supported (RSA or EC only); certificate ignored")]
    UnsupportedKey { element: String, algorithm: String },
}

/// One finding while loading.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub entity_id: Option<String>,
    pub severity: Severity,
    pub kind: MetadataError,
    /// Plain English naming the element; the same as `kind.to_string()`.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.severity, self.file.display())?;
        if let Some(id) = &self.entity_id {
            write!(f, " ({id})")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Everything trusted, plus what was wrong.
#[derive(Debug, Default)]
pub struct MetadataSet {
    /// Shared, so a step that looked a peer up keeps it whole even if the set is swapped.
    pub sps: HashMap<String, Arc<SpMetadata>>,
    /// Sorted by Dutch display name (the order of the "choose your identity provider" page).
    pub idps: Vec<Arc<IdpMetadata>>,
    pub problems: Vec<Problem>,
    /// Entity ID by artifact SourceID (SHA-1 of the entity ID), made once at load, so a
    /// `SAMLart` finds its issuer without hashing every trusted entity per login.
    pub by_source_id: HashMap<[u8; 20], String>,
    /// Position in `idps` by entity ID, so looking an AD up takes the same time among ten
    /// thousand as among two.
    idp_index: HashMap<String, usize>,
}

impl MetadataSet {
    /// The trusted DV whose artifact SourceID this is.
    pub fn sp_by_source_id(&self, source_id: &[u8; 20]) -> Option<&Arc<SpMetadata>> {
        self.by_source_id.get(source_id).and_then(|e| self.sp(e))
    }

    /// The trusted AD whose artifact SourceID this is.
    pub fn idp_by_source_id(&self, source_id: &[u8; 20]) -> Option<&Arc<IdpMetadata>> {
        self.by_source_id.get(source_id).and_then(|e| self.idp(e))
    }

    pub fn sp(&self, entity_id: &str) -> Option<&Arc<SpMetadata>> {
        self.sps.get(entity_id)
    }

    pub fn idp(&self, entity_id: &str) -> Option<&Arc<IdpMetadata>> {
        self.idp_index
            .get(entity_id)
            .and_then(|&i| self.idps.get(i))
    }

    pub fn has_errors(&self) -> bool {
        self.problems.iter().any(|p| p.severity == Severity::Error)
    }
}

/// Loads every `*.xml` file of both folders (sorted by name, so the outcome is repeatable).
///
/// An entity ID defined twice keeps the first definition (by file name) and reports an Error on
/// the later one, so adding a file can never silently replace a trusted peer's keys.
pub fn load(sp_dir: &Path, idp_dir: &Path, now: DateTime<Utc>) -> MetadataSet {
    assemble(read_folders(sp_dir, idp_dir, now), Vec::new())
}

/// The parts of both folders, file by file in name order, with the problems of reading them.
pub fn read_folders(sp_dir: &Path, idp_dir: &Path, now: DateTime<Utc>) -> Vec<Parsed> {
    let mut parts = Vec::new();
    for (dir, role) in [(sp_dir, Role::Sp), (idp_dir, Role::Idp)] {
        let mut problems = Vec::new();
        let files = xml_files(dir, &mut problems);
        parts.push(Parsed {
            problems,
            ..Parsed::default()
        });
        for file in files {
            let mut problems = Vec::new();
            let mut parsed = parse::load_file(&file, role, now, &mut problems);
            parsed.problems = problems;
            parts.push(parsed);
        }
    }
    parts
}

/// The trusted set made of the folders' parts and then the aggregates' (in configuration order):
/// the first definition of an entity ID wins and a later one is an Error.
pub fn assemble(folders: Vec<Parsed>, aggregates: Vec<Parsed>) -> MetadataSet {
    let mut set = MetadataSet::default();
    let mut seen_sp: HashMap<String, PathBuf> = HashMap::new();
    let mut seen_idp: HashMap<String, PathBuf> = HashMap::new();
    for part in folders.into_iter().chain(aggregates) {
        set.problems.extend(part.problems);
        for sp in part.sps {
            if !duplicate(&mut seen_sp, &sp.entity_id, &sp.file, &mut set.problems) {
                set.sps.insert(sp.entity_id.clone(), Arc::new(sp));
            }
        }
        for idp in part.idps {
            if !duplicate(&mut seen_idp, &idp.entity_id, &idp.file, &mut set.problems) {
                set.idps.push(Arc::new(idp));
            }
        }
    }
    set.idps
        .sort_by_cached_key(|i| (i.display_name("nl").to_lowercase(), i.entity_id.clone()));
    set.idp_index = set
        .idps
        .iter()
        .enumerate()
        .map(|(i, idp)| (idp.entity_id.clone(), i))
        .collect();
    let entities = set.sps.keys().chain(set.idps.iter().map(|i| &i.entity_id));
    set.by_source_id = entities
        .map(|e| (crate::saml::artifact::source_id(e), e.clone()))
        .collect();
    set
}

/// Records `entity_id` as seen; if it was seen before, reports the duplicate and returns true.
fn duplicate(
    seen: &mut HashMap<String, PathBuf>,
    entity_id: &str,
    file: &Path,
    problems: &mut Vec<Problem>,
) -> bool {
    if let Some(first) = seen.get(entity_id) {
        let kind = MetadataError::DuplicateEntityId {
            first_file: first.clone(),
        };
        problems.push(problem(file, Some(entity_id), Severity::Error, kind));
        return true;
    }
    seen.insert(entity_id.to_string(), file.to_path_buf());
    false
}

/// The `*.xml` regular files of `dir`, sorted; an unreadable folder is one Error problem.
fn xml_files(dir: &Path, problems: &mut Vec<Problem>) -> Vec<PathBuf> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            let kind = MetadataError::Unreadable(e.to_string());
            problems.push(problem(dir, None, Severity::Error, kind));
            return Vec::new();
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("xml")) && p.is_file())
        .collect();
    files.sort();
    files
}

pub(crate) fn problem(
    file: &Path,
    entity_id: Option<&str>,
    severity: Severity,
    kind: MetadataError,
) -> Problem {
    Problem {
        file: file.to_path_buf(),
        entity_id: entity_id.map(str::to_string),
        severity,
        message: kind.to_string(),
        kind,
    }
}

/// Which folder a document came from: DV metadata is read for its `md:SPSSODescriptor`, AD
/// metadata for its `md:IDPSSODescriptor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Sp,
    Idp,
}

/// The prefix of the groups of the scheme's network metadata (page *Network metadata*): one
/// `md:EntitiesDescriptor` per role of the participants inside it.
const ROLE_GROUP: &str = "urn:etoegang:role:";

impl Role {
    /// Whether entities of this role are read from an `md:EntitiesDescriptor` named `name`. In
    /// the network metadata ADs are in `Authenticatiediensten` and the test DVs in
    /// `Dienstverleners`; the other groups (HMs, MRs, KRs, Interstelseldiensten) hold no peer of
    /// this kind for poort, and another HM's SPSSODescriptor must never make it a trusted DV.
    /// Any other name is read whole.
    pub fn reads_group(self, name: Option<&str>) -> bool {
        match name.and_then(|n| n.strip_prefix(ROLE_GROUP)) {
            None => true,
            Some(group) => match self {
                Role::Idp => group == "Authenticatiediensten",
                Role::Sp => group == "Dienstverleners",
            },
        }
    }
}

/// What one document yielded.
#[derive(Clone, Debug, Default)]
pub struct Parsed {
    pub sps: Vec<SpMetadata>,
    pub idps: Vec<IdpMetadata>,
    pub problems: Vec<Problem>,
}

/// Parses the signed content of a verified aggregate (any size; `origin` labels its problems).
pub fn parse_aggregate(signed: &str, origin: &Path, role: Role, now: DateTime<Utc>) -> Parsed {
    let mut problems = Vec::new();
    let mut parsed = parse::parse_any_size(signed, origin, role, now, &mut problems);
    parsed.problems = problems;
    parsed
}

/// Parses one metadata document held in memory (for tests and `poort check`); `file` only labels
/// problems. Duplicates across documents are [`load`]'s business.
pub fn parse_document(xml: &str, file: &Path, role: Role, now: DateTime<Utc>) -> Parsed {
    let mut problems = Vec::new();
    let mut parsed = parse::parse_text(xml, file, role, now, &mut problems);
    parsed.problems = problems;
    parsed
}
