//! The small readers metadata parsing is built from (`parse.rs`): what was found wrong in an
//! entity (`Findings`), its endpoints (SingleLogoutService, ArtifactResolutionService, any
//! indexed endpoint), and the attributes they carry (index, xs:boolean), each problem reported.

use super::{Endpoint, IndexedEndpoint, MetadataError, Severity, BINDING_SOAP};
use crate::saml::xml::NS_MD;
use roxmltree::Node;

/// Findings inside one entity, and whether any of them rules the entity out.
#[derive(Default)]
pub(super) struct Findings {
    pub(super) list: Vec<(Severity, MetadataError)>,
    pub(super) fatal: bool,
}

impl Findings {
    pub(super) fn warn(&mut self, kind: MetadataError) {
        self.list.push((Severity::Warning, kind));
    }
    /// An error that drops only the part concerned (a certificate, an endpoint).
    pub(super) fn drop_part(&mut self, kind: MetadataError) {
        self.list.push((Severity::Error, kind));
    }
    /// An error that drops the whole entity.
    pub(super) fn fatal(&mut self, kind: MetadataError) {
        self.list.push((Severity::Error, kind));
        self.fatal = true;
    }
}

/// Every `md:SingleLogoutService` of a role descriptor: where a log-out goes (afsprakenstelsel
/// page *Single Log-out*).
pub(super) fn single_logout_services(desc: Node, f: &mut Findings) -> Vec<Endpoint> {
    children(desc, NS_MD, "SingleLogoutService")
        .filter_map(|n| endpoint(n, "md:SingleLogoutService", f))
        .collect()
}

/// Binding and Location of an endpoint; Location must be an absolute http(s) URL because poort
/// sends people (and their assertions) there.
pub(super) fn endpoint(node: Node, element: &str, f: &mut Findings) -> Option<Endpoint> {
    let Some(binding) = node
        .attribute("Binding")
        .map(str::trim)
        .filter(|b| !b.is_empty())
    else {
        f.drop_part(MetadataError::InvalidAttribute {
            element: element.into(),
            attribute: "Binding",
            value: String::new(),
        });
        return None;
    };
    let location = node.attribute("Location").unwrap_or("").trim();
    let ok = url::Url::parse(location)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
    if !ok {
        f.drop_part(MetadataError::InvalidEndpoint {
            element: element.into(),
            location: location.to_string(),
        });
        return None;
    }
    // Where responses go, when not to Location (SAML Metadata 2.0 §2.2.2): single log-out.
    let response_location = node
        .attribute("ResponseLocation")
        .map(str::trim)
        .filter(|l| url::Url::parse(l).is_ok_and(|u| matches!(u.scheme(), "http" | "https")))
        .map(str::to_string);
    Some(Endpoint {
        binding: binding.to_string(),
        location: location.to_string(),
        response_location,
    })
}

/// An indexed endpoint (SAML Metadata 2.0 §2.2.3: index, isDefault, Binding, Location); every
/// problem with it is reported, and any drops it.
pub(super) fn indexed_endpoint(
    node: Node,
    element: &str,
    f: &mut Findings,
) -> Option<IndexedEndpoint> {
    let (Some(index), Some(is_default), Some(endpoint)) = (
        index_attr(node, element, f),
        optional_bool(node, "isDefault", element, f),
        endpoint(node, element, f),
    ) else {
        return None;
    };
    Some(IndexedEndpoint {
        index,
        binding: endpoint.binding,
        location: endpoint.location,
        is_default,
    })
}

/// The SOAP `md:ArtifactResolutionService`s of a role descriptor (SAML Metadata 2.0 §2.4.1,
/// any SSODescriptor). An index used twice rules the entity out (an artifact's EndpointIndex
/// would be ambiguous); another binding cannot resolve artifacts (SAML Bindings 2.0 §3.6), so
/// such an endpoint is reported and left out.
pub(super) fn artifact_resolution(desc: Node, f: &mut Findings) -> Vec<IndexedEndpoint> {
    let element = "md:ArtifactResolutionService";
    let all: Vec<IndexedEndpoint> = children(desc, NS_MD, "ArtifactResolutionService")
        .filter_map(|node| indexed_endpoint(node, element, f))
        .collect();
    check_unique(all.iter().map(|e| e.index), element, f);
    all.into_iter()
        .filter(|e| {
            let soap = e.binding == BINDING_SOAP;
            if !soap {
                f.warn(MetadataError::ArtifactResolutionNotSoap {
                    index: e.index,
                    binding: e.binding.clone(),
                });
            }
            soap
        })
        .collect()
}

pub(super) fn index_attr(node: Node, element: &str, f: &mut Findings) -> Option<u16> {
    let value = node.attribute("index").unwrap_or("");
    match value.trim().parse::<u16>() {
        Ok(i) => Some(i),
        Err(_) => {
            f.drop_part(MetadataError::InvalidAttribute {
                element: element.into(),
                attribute: "index",
                value: value.to_string(),
            });
            None
        }
    }
}

/// An xs:boolean attribute defaulting to false; an invalid value drops the part (None).
pub(super) fn optional_bool(
    node: Node,
    attribute: &'static str,
    element: &str,
    f: &mut Findings,
) -> Option<bool> {
    match node.attribute(attribute).map(str::trim) {
        None | Some("false") | Some("0") => Some(false),
        Some("true") | Some("1") => Some(true),
        Some(other) => {
            f.drop_part(MetadataError::InvalidAttribute {
                element: element.into(),
                attribute,
                value: other.to_string(),
            });
            None
        }
    }
}

/// A descriptor's xs:boolean; an invalid value rules the entity out (its intent is unknown).
pub(super) fn bool_attr(
    node: Node,
    attribute: &'static str,
    element: &str,
    f: &mut Findings,
) -> bool {
    let mut part = Findings::default();
    let value = optional_bool(node, attribute, element, &mut part);
    for (_, kind) in part.list {
        f.fatal(kind);
    }
    value.unwrap_or(false)
}

pub(super) fn check_unique(indexes: impl Iterator<Item = u16>, element: &str, f: &mut Findings) {
    let mut seen = std::collections::BTreeSet::new();
    let mut reported = std::collections::BTreeSet::new();
    for index in indexes {
        if !seen.insert(index) && reported.insert(index) {
            // An index that names two endpoints makes the request ambiguous.
            f.fatal(MetadataError::DuplicateIndex {
                element: element.into(),
                index,
            });
        }
    }
}

pub(super) fn is(node: Node, ns: &str, name: &str) -> bool {
    node.is_element() && node.tag_name().namespace() == Some(ns) && node.tag_name().name() == name
}

pub(super) fn children<'a, 'i: 'a>(
    node: Node<'a, 'i>,
    ns: &'static str,
    name: &'static str,
) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children().filter(move |c| is(*c, ns, name))
}
