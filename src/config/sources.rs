//! Where services and trusted metadata come from: `[[service]]` entries, signed service
//! catalogues (`[[catalogue]]`) and signed metadata aggregates (`[[metadata_aggregate]]`).

use crate::domain::attributes;
use crate::domain::grant::ServiceRef;
use crate::domain::identifiers::IdentifierType;
use crate::domain::level::Level;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// One service of the catalogue.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceConfig {
    /// `urn:etoegang:DV:<OIN>:services:<index>`
    pub id: String,
    /// What grants are registered against.
    pub uuid: String,
    pub name_nl: String,
    pub name_en: String,
    /// Entity ID of the DV that offers it.
    pub provider: String,
    /// The AttributeConsumingServiceIndex by which the DV names it.
    pub acs_index: u16,
    pub level: Level,
    /// The provider's OrganizationDisplayName (Dutch, then English), where the catalogue gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description_nl: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description_en: Option<String>,
    /// EntityConcernedTypesAllowed: the identifiers of the organisation the service accepts
    /// (`urn:etoegang:1.9:EntityConcernedID:KvKnr`, `…:RSIN`, …); empty means the KvK number.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entity_concerned_types: Vec<String>,
    /// The attributes the service asks for, beyond the organisation's identifier.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requested_attributes: Vec<RequestedAttribute>,
    /// SSOSupport: whether a login for this service may be completed from a session.
    #[serde(default)]
    pub sso_support: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy_policy_url: Option<String>,
    /// Where the service is defined (the config file or a catalogue's file or URL), for messages.
    #[serde(skip)]
    pub origin: String,
}

/// A signed service catalogue (`esc:ServiceCatalogue`) and the certificate its signature must
/// verify with (the Beheerorganisatie's, an HM's or a DV's, as the scheme allows). It is read
/// again every `refresh_seconds`; a new edition replaces the one in use only when it passes every
/// check, so a bad one leaves the last good one in use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogueSource {
    /// A file, or an `https://` URL.
    pub source: String,
    /// PEM certificate that signed it.
    pub trust_cert: PathBuf,
    /// Where the last good copy is kept, so poort starts with the catalogue's services when the
    /// source cannot be had (a URL unreachable, a bad edition published). Optional, so that
    /// configurations written before it stay valid and a local file, which is its own copy,
    /// needs none; `poort check` warns about a URL without one, since poort would then start
    /// without that catalogue's services whenever the URL is down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_file: Option<PathBuf>,
    /// The time between two refreshes.
    #[serde(default = "default_catalogue_refresh")]
    pub refresh_seconds: u64,
    /// The first wait after a failed refresh; it doubles up to `refresh_seconds`.
    #[serde(default = "default_aggregate_retry")]
    pub retry_seconds: u64,
}

impl CatalogueSource {
    /// A catalogue read from `source`, verified with `trust_cert`, refreshed at the default
    /// pace, with no copy on disk.
    pub fn new(source: impl Into<String>, trust_cert: impl Into<PathBuf>) -> CatalogueSource {
        CatalogueSource {
            source: source.into(),
            trust_cert: trust_cert.into(),
            cache_file: None,
            refresh_seconds: default_catalogue_refresh(),
            retry_seconds: default_aggregate_retry(),
        }
    }

    /// Whether the catalogue is fetched over the network (rather than read from a file).
    pub fn is_url(&self) -> bool {
        self.source.starts_with("https://") || self.source.starts_with("http://")
    }
}

/// A signed metadata aggregate (`md:EntitiesDescriptor`): the scheme's network metadata of ADs,
/// or a DV's own signed metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AggregateSource {
    /// A file, or an `https://` URL.
    pub source: String,
    /// PEM certificate(s) its signature must verify with.
    pub trust_cert: PathBuf,
    /// Whose metadata it holds: `ad` (identity providers) or `dv` (service providers).
    pub role: AggregateRole,
    /// Where the last good copy is kept, so poort starts without the network.
    pub cache_file: PathBuf,
    /// The longest time between two refreshes; a shorter `cacheDuration` refreshes sooner.
    #[serde(default = "default_aggregate_refresh")]
    pub refresh_seconds: u64,
    /// The first wait after a failed refresh; it doubles up to `refresh_seconds`.
    #[serde(default = "default_aggregate_retry")]
    pub retry_seconds: u64,
    /// A copy without `validUntil` ahead is refused anyway; one older than this is stale too.
    #[serde(default = "default_aggregate_max_age")]
    pub max_age_seconds: u64,
}

fn default_aggregate_refresh() -> u64 {
    3600
}
fn default_catalogue_refresh() -> u64 {
    // Like the aggregates: the scheme publishes a new catalogue a few times a day at most.
    default_aggregate_refresh()
}
fn default_aggregate_retry() -> u64 {
    30
}
fn default_aggregate_max_age() -> u64 {
    // Twice the network metadata's cacheDuration (P7D).
    14 * 86_400
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AggregateRole {
    Ad,
    Dv,
}

/// An attribute a service asks for (a catalogue's `esc:RequestedAttribute`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestedAttribute {
    pub name: String,
    #[serde(default)]
    pub required: bool,
    /// Why the service asks for it (PurposeStatement), in Dutch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
}

impl ServiceConfig {
    /// A service with what every service has; what a catalogue adds is empty.
    pub fn new(
        id: impl Into<String>,
        uuid: impl Into<String>,
        (name_nl, name_en): (impl Into<String>, impl Into<String>),
        provider: impl Into<String>,
        acs_index: u16,
        level: Level,
    ) -> ServiceConfig {
        ServiceConfig {
            id: id.into(),
            uuid: uuid.into(),
            name_nl: name_nl.into(),
            name_en: name_en.into(),
            provider: provider.into(),
            acs_index,
            level,
            provider_name: None,
            description_nl: None,
            description_en: None,
            entity_concerned_types: Vec::new(),
            requested_attributes: Vec::new(),
            sso_support: false,
            privacy_policy_url: None,
            origin: String::new(),
        }
    }

    /// What the service asks for: the RequestedAttributes of its catalogue entry, then those its
    /// metadata's AttributeConsumingService names (`in_metadata`) that the entry does not.
    pub fn asks_for(&self, in_metadata: &[String]) -> Vec<attributes::RequestedAttribute> {
        let mut asked: Vec<attributes::RequestedAttribute> = self
            .requested_attributes
            .iter()
            .map(|a| attributes::RequestedAttribute {
                name: a.name.clone(),
                required: a.required,
            })
            .collect();
        for name in in_metadata {
            if !asked.iter().any(|a| &a.name == name) {
                asked.push(attributes::RequestedAttribute {
                    name: name.clone(),
                    required: false,
                });
            }
        }
        asked
    }

    /// The organisation identifiers the service is given, of the kinds poort can give: those its
    /// EntityConcernedTypesAllowed names (the KvK number when it names none), and those it asks
    /// for as attributes (`asked`, as [`ServiceConfig::asks_for`] gives them: DV metadata asks
    /// for `urn:etoegang:1.9:EntityConcernedID:RSIN` so). `Err` with what it names when none of
    /// its EntityConcernedTypesAllowed is a kind poort can give.
    pub fn identifier_types(
        &self,
        asked: &[attributes::RequestedAttribute],
    ) -> Result<Vec<IdentifierType>, String> {
        let mut kinds: Vec<IdentifierType> = self
            .entity_concerned_types
            .iter()
            .filter_map(|uri| IdentifierType::from_uri(uri))
            .collect();
        if kinds.is_empty() {
            if !self.entity_concerned_types.is_empty() {
                return Err(self.entity_concerned_types.join(", "));
            }
            kinds.push(IdentifierType::KvKnr);
        }
        kinds.extend(
            asked
                .iter()
                .filter_map(|a| IdentifierType::from_uri(&a.name)),
        );
        kinds.sort();
        kinds.dedup();
        Ok(kinds)
    }
}

impl From<&ServiceConfig> for ServiceRef {
    fn from(s: &ServiceConfig) -> ServiceRef {
        ServiceRef {
            service_id: s.id.clone(),
            uuid: s.uuid.clone(),
            provider: s.provider.clone(),
            level: s.level,
        }
    }
}
