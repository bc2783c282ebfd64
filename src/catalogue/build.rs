//! The effective catalogue: the config file's `[[service]]` entries and the signed catalogues,
//! turned into the one list of services the rest of poort reads ([`ServiceConfig`]).
//!
//! A catalogue service becomes usable here only when it is whole:
//! - its ServiceInstance names this HM (HerkenningsmakelaarId or AdditionalHerkenningsmakelaarId);
//!   the scheme's catalogue lists every HM's services, and the others are left out quietly;
//! - it is an instance of a ServiceDefinition of the same catalogue (InstanceOfService), whose
//!   level is one poort knows;
//! - trusted DV metadata names its ServiceID in an md:AttributeConsumingService (page *DV
//!   metadata for HM*): that entity is the service's provider and the index is how it asks.
//!
//! A ServiceID defined twice, or a ServiceUUID defined by two ServiceDefinitions (or by a
//! definition and a `[[service]]` entry), is an error for both places: neither is used, so which
//! one wins never depends on the order of the files.

use super::parse::{in_language, CatalogueDocument, Definition, Instance, Provider};
use super::{Problem, ProblemKind};
use crate::config::{RequestedAttribute, ServiceConfig};
use crate::domain::level::Level;
use crate::metadata::MetadataSet;
use std::collections::HashMap;

/// The effective catalogue and what was found on the way.
#[derive(Debug, Default)]
pub struct Effective {
    pub services: Vec<ServiceConfig>,
    pub problems: Vec<Problem>,
    /// Services of the catalogues that are not offered through this HM.
    pub skipped: Vec<Skipped>,
}

/// A catalogue service left out because another HM offers it.
#[derive(Debug)]
pub struct Skipped {
    pub origin: String,
    pub service_id: String,
}

/// Builds the effective catalogue from the config file's services (`configured`), the signed
/// catalogues read (each with its origin), the trusted DV metadata and this HM's OIN.
pub fn effective(
    configured: &[ServiceConfig],
    catalogues: &[(&str, &CatalogueDocument)],
    metadata: &MetadataSet,
    hm_oin: &str,
) -> Effective {
    let mut out = Effective::default();
    let mut candidates: Vec<ServiceConfig> = configured.to_vec();
    // Where each ServiceUUID is defined: a `[[service]]` entry or a ServiceDefinition.
    let mut definitions: HashMap<String, Vec<String>> = HashMap::new();
    for s in configured {
        definitions
            .entry(s.uuid.clone())
            .or_default()
            .push(s.origin.clone());
    }
    for &(origin, document) in catalogues {
        for provider in &document.providers {
            for d in &provider.definitions {
                definitions
                    .entry(d.uuid.clone())
                    .or_default()
                    .push(origin.to_string());
            }
            for instance in &provider.instances {
                let offered_here = instance.brokers.iter().any(|b| b == hm_oin);
                if !offered_here {
                    out.skipped.push(Skipped {
                        origin: origin.to_string(),
                        service_id: instance.service_id.clone(),
                    });
                    continue;
                }
                match service(provider, instance, metadata, origin) {
                    Ok(s) => candidates.push(s),
                    Err(message) => out.problems.push(Problem {
                        origin: origin.to_string(),
                        message,
                        kind: ProblemKind::Service,
                    }),
                }
            }
        }
    }
    let twice_defined: Vec<&String> = definitions
        .iter()
        .filter(|(_, places)| places.len() > 1)
        .map(|(uuid, _)| uuid)
        .collect();
    for uuid in &twice_defined {
        let places = &definitions[*uuid];
        out.problems.push(Problem {
            origin: places.join(", "),
            message: format!("ServiceUUID {uuid} is defined {} times", places.len()),
            kind: ProblemKind::DefinedTwice(places.clone()),
        });
    }
    let mut ids: HashMap<&str, Vec<&str>> = HashMap::new();
    for s in &candidates {
        ids.entry(&s.id).or_default().push(&s.origin);
    }
    for (id, places) in ids.iter().filter(|(_, p)| p.len() > 1) {
        out.problems.push(Problem {
            origin: places.join(", "),
            message: format!("ServiceID {id} is defined {} times", places.len()),
            kind: ProblemKind::DefinedTwice(places.iter().map(|p| p.to_string()).collect()),
        });
    }
    out.services = candidates
        .iter()
        .filter(|s| ids[s.id.as_str()].len() == 1 && !twice_defined.contains(&&s.uuid))
        .cloned()
        .collect();
    out.problems
        .sort_by(|a, b| (&a.origin, &a.message).cmp(&(&b.origin, &b.message)));
    out
}

/// One catalogue service as poort uses it, or why it cannot be used.
fn service(
    provider: &Provider,
    instance: &Instance,
    metadata: &MetadataSet,
    origin: &str,
) -> Result<ServiceConfig, String> {
    let id = &instance.service_id;
    let of = instance
        .instance_of
        .as_deref()
        .ok_or_else(|| format!("ServiceInstance {id} has no InstanceOfService"))?;
    let definition: &Definition = provider
        .definitions
        .iter()
        .find(|d| d.uuid == of)
        .ok_or_else(|| {
            format!(
                "ServiceInstance {id}: no ServiceDefinition {of} of provider {} in this catalogue",
                provider.oin
            )
        })?;
    let level = Level::from_uri(&definition.level_uri)
        .map_err(|e| format!("ServiceDefinition {of}: {e}"))?;
    let mut named_by = metadata.sps.values().flat_map(|dv| {
        dv.attribute_consuming_services
            .iter()
            .filter(|acs| acs.service_ids.contains(id))
            .map(move |acs| (dv.entity_id.as_str(), acs.index))
    });
    let (provider_entity, acs_index) = named_by.next().ok_or_else(|| {
        format!(
            "ServiceInstance {id}: no trusted DV metadata names it \
             (an md:AttributeConsumingService with <md:RequestedAttribute Name=\"{id}\"/>)"
        )
    })?;
    if let Some((other, _)) = named_by.find(|(e, _)| *e != provider_entity) {
        return Err(format!(
            "ServiceInstance {id}: named by the metadata of two DVs ({provider_entity} and {other})"
        ));
    }
    let name = |lang| {
        in_language(&definition.names, lang)
            .unwrap_or(id)
            .to_string()
    };
    let mut s = ServiceConfig::new(
        id.clone(),
        definition.uuid.clone(),
        (name("nl"), name("en")),
        provider_entity,
        acs_index,
        level,
    );
    s.provider_name = in_language(&provider.names, "nl").map(str::to_string);
    s.description_nl = in_language(&definition.descriptions, "nl").map(str::to_string);
    s.description_en = in_language(&definition.descriptions, "en").map(str::to_string);
    s.entity_concerned_types = definition.entity_concerned_types.clone();
    s.requested_attributes = definition
        .requested_attributes
        .iter()
        .map(|a| RequestedAttribute {
            name: a.name.clone(),
            required: a.required,
            purpose: in_language(&a.purposes, "nl").map(str::to_string),
        })
        .collect();
    s.sso_support = instance.sso_support;
    s.privacy_policy_url = in_language(&instance.privacy_policy_urls, "nl").map(str::to_string);
    s.origin = origin.to_string();
    Ok(s)
}
