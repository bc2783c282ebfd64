//! Reading a service catalogue that passed its signature and schema checks into plain values.
//! What the schema lets through by namespace (saml:AuthnContextClassRef, md:KeyDescriptor,
//! xml:lang) is checked here.

use super::NS_ESC;
use crate::saml::xml::{self, NS_DS, NS_MD, NS_SAML};
use chrono::{DateTime, Utc};
use roxmltree::Node;

const NS_XML: &str = "http://www.w3.org/XML/1998/namespace";

/// Text in one language: (`xml:lang`, text).
pub type Localized = Vec<(String, String)>;

/// A whole catalogue.
#[derive(Debug, Clone)]
pub struct CatalogueDocument {
    /// `urn:etoegang:<version>:service-catalogue:<P|T>:<sequence>` (or an older form).
    pub version: String,
    pub issue_instant: DateTime<Utc>,
    pub providers: Vec<Provider>,
}

/// An `esc:ServiceProvider`: a DV with its services.
#[derive(Debug, Clone)]
pub struct Provider {
    /// ServiceProviderID: the DV's OIN.
    pub oin: String,
    pub names: Localized,
    pub definitions: Vec<Definition>,
    pub instances: Vec<Instance>,
}

/// An `esc:ServiceDefinition`: what a service is.
#[derive(Debug, Clone)]
pub struct Definition {
    /// ServiceUUID: what grants are registered against.
    pub uuid: String,
    pub names: Localized,
    pub descriptions: Localized,
    /// saml:AuthnContextClassRef: the level the service needs.
    pub level_uri: String,
    pub entity_concerned_types: Vec<String>,
    pub restrictions: Vec<String>,
    pub requested_attributes: Vec<RequestedAttribute>,
}

/// An `esc:RequestedAttribute`.
#[derive(Debug, Clone)]
pub struct RequestedAttribute {
    pub name: String,
    pub required: bool,
    pub purposes: Localized,
}

/// An `esc:ServiceInstance`: where and how a DV runs a service.
#[derive(Debug, Clone)]
pub struct Instance {
    /// `urn:etoegang:DV:<OIN>:services:<index>`
    pub service_id: String,
    /// The instance's own ServiceUUID.
    pub uuid: String,
    /// InstanceOfService: the ServiceUUID of its definition.
    pub instance_of: Option<String>,
    pub urls: Localized,
    pub privacy_policy_urls: Localized,
    /// The HMs through which the service is offered (HerkenningsmakelaarId and the additional ones).
    pub brokers: Vec<String>,
    pub sso_support: bool,
    pub certificates: usize,
    pub classifiers: Vec<String>,
}

/// What is wrong with a catalogue whose schema was right.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ContentError(pub String);

fn err(message: impl Into<String>) -> ContentError {
    ContentError(message.into())
}

/// Reads the catalogue from its root element.
pub fn document(root: Node<'_, '_>) -> Result<CatalogueDocument, ContentError> {
    if !xml::is(root, NS_ESC, "ServiceCatalogue") {
        return Err(err("the root element is not esc:ServiceCatalogue"));
    }
    let version = root
        .attribute((NS_ESC, "Version"))
        .ok_or_else(|| err("esc:Version is missing"))?
        .to_string();
    let issued = root
        .attribute((NS_ESC, "IssueInstant"))
        .ok_or_else(|| err("esc:IssueInstant is missing"))?;
    let issue_instant = xml::parse_instant(issued)
        .ok_or_else(|| err(format!("esc:IssueInstant {issued:?} is not a time")))?;
    let providers = xml::children(root, NS_ESC, "ServiceProvider")
        .map(provider)
        .collect::<Result<_, _>>()?;
    Ok(CatalogueDocument {
        version,
        issue_instant,
        providers,
    })
}

fn provider(node: Node<'_, '_>) -> Result<Provider, ContentError> {
    let oin = required_text(node, "ServiceProviderID")?;
    let names = localized(node, "OrganizationDisplayName")?;
    let definitions = xml::children(node, NS_ESC, "ServiceDefinition")
        .map(definition)
        .collect::<Result<_, _>>()
        .map_err(|e| err(format!("provider {oin}: {e}")))?;
    let instances = xml::children(node, NS_ESC, "ServiceInstance")
        .map(instance)
        .collect::<Result<_, _>>()
        .map_err(|e| err(format!("provider {oin}: {e}")))?;
    Ok(Provider {
        oin,
        names,
        definitions,
        instances,
    })
}

fn definition(node: Node<'_, '_>) -> Result<Definition, ContentError> {
    let uuid = required_text(node, "ServiceUUID")?;
    let in_definition = |e: ContentError| err(format!("ServiceDefinition {uuid}: {e}"));
    let level_uri = xml::child(node, NS_SAML, "AuthnContextClassRef")
        .map(xml::text)
        .ok_or_else(|| err("saml:AuthnContextClassRef is missing"))
        .map_err(in_definition)?;
    let requested_attributes = xml::children(node, NS_ESC, "RequestedAttribute")
        .map(|a| {
            Ok(RequestedAttribute {
                name: a.attribute("Name").unwrap_or_default().to_string(),
                required: matches!(a.attribute("isRequired"), Some("true" | "1")),
                purposes: localized(a, "PurposeStatement")?,
            })
        })
        .collect::<Result<_, ContentError>>()
        .map_err(in_definition)?;
    Ok(Definition {
        names: localized(node, "ServiceName").map_err(in_definition)?,
        descriptions: localized(node, "ServiceDescription").map_err(in_definition)?,
        level_uri,
        entity_concerned_types: texts(node, "EntityConcernedTypesAllowed"),
        restrictions: texts(node, "ServiceRestrictionsAllowed"),
        requested_attributes,
        uuid,
    })
}

fn instance(node: Node<'_, '_>) -> Result<Instance, ContentError> {
    let service_id = required_text(node, "ServiceID")?;
    let in_instance = |e: ContentError| err(format!("ServiceInstance {service_id}: {e}"));
    let mut brokers = texts(node, "HerkenningsmakelaarId");
    brokers.extend(texts(node, "AdditionalHerkenningsmakelaarId"));
    let certificates = xml::children(node, NS_ESC, "ServiceCertificate")
        .map(|c| {
            let key = xml::child(c, NS_MD, "KeyDescriptor")
                .ok_or_else(|| err("esc:ServiceCertificate holds no md:KeyDescriptor"))?;
            key.descendants()
                .find(|n| xml::is(*n, NS_DS, "X509Certificate"))
                .map(|_| ())
                .ok_or_else(|| err("md:KeyDescriptor holds no ds:X509Certificate"))
        })
        .collect::<Result<Vec<()>, _>>()
        .map_err(in_instance)?
        .len();
    Ok(Instance {
        uuid: required_text(node, "ServiceUUID").map_err(in_instance)?,
        instance_of: xml::child(node, NS_ESC, "InstanceOfService").map(xml::text),
        urls: localized(node, "ServiceURL").map_err(in_instance)?,
        privacy_policy_urls: localized(node, "PrivacyPolicyURL").map_err(in_instance)?,
        brokers,
        sso_support: xml::child(node, NS_ESC, "SSOSupport")
            .is_some_and(|n| matches!(xml::text(n).as_str(), "true" | "1")),
        certificates,
        classifiers: xml::child(node, NS_ESC, "Classifiers")
            .map(|c| texts(c, "Classifier"))
            .unwrap_or_default(),
        service_id,
    })
}

fn required_text(node: Node<'_, '_>, local: &str) -> Result<String, ContentError> {
    xml::child(node, NS_ESC, local)
        .map(xml::text)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| err(format!("esc:{local} is missing or empty")))
}

fn texts(node: Node<'_, '_>, local: &str) -> Vec<String> {
    xml::children(node, NS_ESC, local).map(xml::text).collect()
}

/// Each element `local` with its `xml:lang`, which the scheme requires on localized text.
fn localized(node: Node<'_, '_>, local: &str) -> Result<Localized, ContentError> {
    xml::children(node, NS_ESC, local)
        .map(|n| {
            let lang = n
                .attribute((NS_XML, "lang"))
                .ok_or_else(|| err(format!("esc:{local} has no xml:lang")))?;
            Ok((lang.to_ascii_lowercase(), xml::text(n)))
        })
        .collect()
}

/// The text in `lang`, else in Dutch, else the first.
pub fn in_language<'a>(texts: &'a Localized, lang: &str) -> Option<&'a str> {
    texts
        .iter()
        .find(|(l, _)| l == lang)
        .or_else(|| texts.iter().find(|(l, _)| l == "nl"))
        .or_else(|| texts.first())
        .map(|(_, t)| t.as_str())
}
