//! Reading SAML 2.0 metadata documents with roxmltree.

use super::cert::{self, KeyUse};
use super::read::{
    artifact_resolution, bool_attr, check_unique, children, endpoint, index_attr, indexed_endpoint,
    is, optional_bool, single_logout_services, Findings,
};
use super::{
    problem, AcsEndpoint, AttributeConsumingService, Endpoint, IdpMetadata, MetadataError, Parsed,
    PeerCert, Problem, Role, Severity, SpMetadata, BINDING_HTTP_ARTIFACT, BINDING_HTTP_POST,
    BINDING_HTTP_REDIRECT, MAX_FILE_BYTES, SERVICE_ID_ATTRIBUTE,
};
use chrono::{DateTime, NaiveDateTime, Utc};
use roxmltree::{Document, Node, ParsingOptions};
use std::io::Read;
use std::path::Path;

pub(crate) const NS_MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
pub(crate) const NS_DS: &str = "http://www.w3.org/2000/09/xmldsig#";
pub(crate) const NS_MDUI: &str = "urn:oasis:names:tc:SAML:metadata:ui";
pub(crate) const NS_SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const NS_XML: &str = "http://www.w3.org/XML/1998/namespace";
pub(crate) const PROTOCOL_SAML2: &str = "urn:oasis:names:tc:SAML:2.0:protocol";

/// Reads and parses one file; every failure becomes a problem.
pub(crate) fn load_file(
    file: &Path,
    role: Role,
    now: DateTime<Utc>,
    problems: &mut Vec<Problem>,
) -> Parsed {
    match read_limited(file) {
        Ok(text) => parse_text(&text, file, role, now, problems),
        Err(kind) => {
            problems.push(problem(file, None, Severity::Error, kind));
            Parsed::default()
        }
    }
}

fn read_limited(file: &Path) -> Result<String, MetadataError> {
    let unreadable = |e: std::io::Error| MetadataError::Unreadable(e.to_string());
    let f = std::fs::File::open(file).map_err(unreadable)?;
    let size = f.metadata().map_err(unreadable)?.len();
    let too_large = |size| MetadataError::TooLarge {
        size,
        limit: MAX_FILE_BYTES,
    };
    if size > MAX_FILE_BYTES {
        return Err(too_large(size));
    }
    // The file may grow after the size check: never read more than the limit + 1.
    let mut bytes = Vec::new();
    f.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    String::from_utf8(bytes).map_err(|e| MetadataError::NotXml(e.to_string()))
}

pub(crate) fn parse_text(
    text: &str,
    file: &Path,
    role: Role,
    now: DateTime<Utc>,
    problems: &mut Vec<Problem>,
) -> Parsed {
    if text.len() as u64 > MAX_FILE_BYTES {
        let kind = MetadataError::TooLarge {
            size: text.len() as u64,
            limit: MAX_FILE_BYTES,
        };
        problems.push(problem(file, None, Severity::Error, kind));
        return Parsed::default();
    }
    parse_any_size(text, file, role, now, problems)
}

/// [`parse_text`] without the size limit of a file in the folders: for a signed aggregate, whose
/// size its reader has bounded.
pub(crate) fn parse_any_size(
    text: &str,
    file: &Path,
    role: Role,
    now: DateTime<Utc>,
    problems: &mut Vec<Problem>,
) -> Parsed {
    let mut parsed = Parsed::default();
    let mut fail = |kind| problems.push(problem(file, None, Severity::Error, kind));
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // roxmltree accepts an empty `<!DOCTYPE x>`; metadata never needs one, so any is refused.
    if text.contains("<!DOCTYPE") {
        fail(MetadataError::DtdPresent);
        return parsed;
    }
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: u32::MAX,
        ..ParsingOptions::default()
    };
    let doc = match Document::parse_with_options(text, options) {
        Ok(d) => d,
        Err(roxmltree::Error::DtdDetected) => {
            fail(MetadataError::DtdPresent);
            return parsed;
        }
        Err(e) => {
            fail(MetadataError::NotXml(e.to_string()));
            return parsed;
        }
    };
    let mut ctx = Ctx {
        file,
        role,
        now,
        problems,
        out: &mut parsed,
    };
    let root = doc.root_element();
    if is(root, NS_MD, "EntityDescriptor") || is(root, NS_MD, "EntitiesDescriptor") {
        ctx.walk(root, None);
    } else {
        let found = qname(root);
        ctx.report(
            None,
            Severity::Error,
            MetadataError::UnexpectedRoot { found },
        );
    }
    parsed
}

struct Ctx<'a> {
    file: &'a Path,
    role: Role,
    now: DateTime<Utc>,
    problems: &'a mut Vec<Problem>,
    out: &'a mut Parsed,
}

impl Ctx<'_> {
    fn report(&mut self, entity_id: Option<&str>, severity: Severity, kind: MetadataError) {
        self.problems
            .push(problem(self.file, entity_id, severity, kind));
    }

    /// `valid_until`: the earliest validUntil of the enclosing EntitiesDescriptors.
    fn walk(&mut self, node: Node, valid_until: Option<DateTime<Utc>>) {
        if is(node, NS_MD, "EntitiesDescriptor") {
            let element = match node.attribute("Name") {
                Some(n) => format!("md:EntitiesDescriptor Name={n:?}"),
                None => "md:EntitiesDescriptor".to_string(),
            };
            let own = match valid_until_of(node, &element, self.now) {
                Ok(v) => v,
                Err(kind) => {
                    // Everything inside is out of date or undatable: report once, skip it all.
                    self.report(None, Severity::Error, kind);
                    return;
                }
            };
            if !self.role.reads_group(node.attribute("Name")) {
                return;
            }
            let inherited = earliest(valid_until, own);
            for child in node.children().filter(|c| c.is_element()) {
                if is(child, NS_MD, "EntityDescriptor") || is(child, NS_MD, "EntitiesDescriptor") {
                    self.walk(child, inherited);
                }
            }
        } else {
            self.entity(node, valid_until);
        }
    }

    /// `inherited`: the earliest validUntil of the enclosing EntitiesDescriptors.
    fn entity(&mut self, node: Node, inherited: Option<DateTime<Utc>>) {
        let Some(entity_id) = node
            .attribute("entityID")
            .map(str::trim)
            .filter(|s| !s.is_empty())
        else {
            self.report(None, Severity::Error, MetadataError::NoEntityId);
            return;
        };
        let mut f = Findings::default();
        let valid_until = match valid_until_of(node, "md:EntityDescriptor", self.now) {
            Ok(own) => earliest(inherited, own),
            Err(kind) => {
                f.fatal(kind);
                inherited
            }
        };
        // An entity with a fatal finding is left out (fail closed); its findings are reported.
        // The two arms are alike on purpose: they differ only in the descriptor type they build.
        let file = self.file.to_path_buf();
        match self.role {
            Role::Sp => {
                let read = sp(node, entity_id, self.now, &mut f).filter(|_| !f.fatal);
                if let Some(sp) = read {
                    self.out.sps.push(SpMetadata {
                        file,
                        valid_until,
                        ..sp
                    });
                }
            }
            Role::Idp => {
                let read = idp(node, entity_id, self.now, &mut f).filter(|_| !f.fatal);
                if let Some(idp) = read {
                    self.out.idps.push(IdpMetadata {
                        file,
                        valid_until,
                        ..idp
                    });
                }
            }
        }
        for (severity, kind) in f.list {
            self.report(Some(entity_id), severity, kind);
        }
    }
}

/// The first role descriptor `name` of the entity that supports SAML 2.0.
fn role_descriptor<'a, 'i>(
    entity: Node<'a, 'i>,
    name: &'static str,
    expected: &'static str,
    now: DateTime<Utc>,
    f: &mut Findings,
) -> Option<Node<'a, 'i>> {
    let desc = children(entity, NS_MD, name).find(|d| {
        d.attribute("protocolSupportEnumeration")
            .is_some_and(|p| p.split_ascii_whitespace().any(|x| x == PROTOCOL_SAML2))
    });
    let Some(desc) = desc else {
        f.fatal(MetadataError::NoRoleDescriptor { expected });
        return None;
    };
    if let Err(kind) = valid_until_of(desc, expected, now) {
        f.fatal(kind);
    }
    Some(desc)
}

fn sp(entity: Node, entity_id: &str, now: DateTime<Utc>, f: &mut Findings) -> Option<SpMetadata> {
    let element = "md:SPSSODescriptor";
    let desc = role_descriptor(entity, "SPSSODescriptor", element, now, f)?;
    let authn_requests_signed = bool_attr(desc, "AuthnRequestsSigned", element, f);
    let want_assertions_signed = bool_attr(desc, "WantAssertionsSigned", element, f);
    let (signing_keys, encryption_keys) = keys_with_signing(desc, Role::Sp, element, now, f);

    let artifact_resolution = artifact_resolution(desc, f);
    let slo = single_logout_services(desc, f);

    let acs: Vec<AcsEndpoint> = children(desc, NS_MD, "AssertionConsumerService")
        .filter_map(|node| indexed_endpoint(node, "md:AssertionConsumerService", f))
        .map(|e| AcsEndpoint {
            index: e.index,
            binding: e.binding,
            location: e.location,
            is_default: e.is_default,
        })
        .collect();
    check_unique(
        acs.iter().map(|a| a.index),
        "md:AssertionConsumerService",
        f,
    );
    // An HTTP-Artifact ACS needs no ArtifactResolutionService of the DV's own: the DV resolves
    // poort's artifact at poort's. Other bindings (PAOS, HTTP-Redirect) stay listed, unused.
    if !acs.iter().any(AcsEndpoint::is_usable) {
        f.fatal(MetadataError::NoUsableAcs);
    }

    let mut services = Vec::new();
    for node in children(desc, NS_MD, "AttributeConsumingService") {
        let el = "md:AttributeConsumingService";
        let (Some(index), Some(is_default)) = (
            index_attr(node, el, f),
            optional_bool(node, "isDefault", el, f),
        ) else {
            continue;
        };
        let names = children(node, NS_MD, "ServiceName")
            .map(|n| (lang(n), text(n)))
            .filter(|(_, t)| !t.is_empty())
            .collect();
        let mut requested_attributes = Vec::new();
        let mut service_ids: Vec<String> = Vec::new();
        let mut add_service_id = |id: String| {
            if !service_ids.contains(&id) {
                service_ids.push(id);
            }
        };
        for ra in children(node, NS_MD, "RequestedAttribute") {
            let Some(name) = ra
                .attribute("Name")
                .map(str::trim)
                .filter(|n| !n.is_empty())
            else {
                f.warn(MetadataError::InvalidAttribute {
                    element: "md:RequestedAttribute".into(),
                    attribute: "Name",
                    value: String::new(),
                });
                continue;
            };
            if name == SERVICE_ID_ATTRIBUTE {
                // poort's earlier form: still read, so existing DVs keep working, but reported.
                let values: Vec<String> = children(ra, NS_SAML, "AttributeValue")
                    .map(text)
                    .filter(|v| !v.is_empty())
                    .collect();
                if let Some(first) = values.first() {
                    f.warn(MetadataError::EarlierServiceIdForm {
                        index,
                        service_id: first.clone(),
                    });
                }
                values.into_iter().for_each(&mut add_service_id);
            } else if is_service_id(name) {
                // The scheme's form (afsprakenstelsel, *DV metadata for HM*): the Name is the
                // ServiceID; the service's other RequestedAttributes are what it asks for.
                add_service_id(name.to_string());
            } else {
                requested_attributes.push(name.to_string());
            }
        }
        services.push(AttributeConsumingService {
            index,
            is_default,
            names,
            requested_attributes,
            service_ids,
        });
    }
    check_unique(
        services.iter().map(|s| s.index),
        "md:AttributeConsumingService",
        f,
    );
    let defaults: Vec<u16> = services
        .iter()
        .filter(|s| s.is_default)
        .map(|s| s.index)
        .collect();
    if let [chosen, _, ..] = defaults.as_slice() {
        // Not fatal: the first one wins (SAML Metadata 2.0 §2.2.3), but it is likely a mistake.
        f.warn(MetadataError::SeveralDefaults {
            element: "md:AttributeConsumingService".into(),
            chosen: *chosen,
        });
    }

    Some(SpMetadata {
        entity_id: entity_id.to_string(),
        acs,
        slo,
        artifact_resolution,
        attribute_consuming_services: services,
        signing_keys,
        encryption_keys,
        authn_requests_signed,
        want_assertions_signed,
        valid_until: None,
        file: Default::default(),
    })
}

/// The descriptor's keys (signing, encryption); one without a signing key rules the entity
/// out: without one an unsigned message could not be told from a forged one.
fn keys_with_signing(
    desc: Node,
    role: Role,
    element: &str,
    now: DateTime<Utc>,
    f: &mut Findings,
) -> (Vec<PeerCert>, Vec<PeerCert>) {
    let (signing, encryption) = keys(desc, role, now, f);
    if signing.is_empty() {
        f.fatal(MetadataError::NoSigningKey {
            element: element.into(),
        });
    }
    (signing, encryption)
}

fn idp(entity: Node, entity_id: &str, now: DateTime<Utc>, f: &mut Findings) -> Option<IdpMetadata> {
    let element = "md:IDPSSODescriptor";
    let desc = role_descriptor(entity, "IDPSSODescriptor", element, now, f)?;
    let want_authn_requests_signed = bool_attr(desc, "WantAuthnRequestsSigned", element, f);
    let (signing_keys, _) = keys_with_signing(desc, Role::Idp, element, now, f);
    let artifact_resolution = artifact_resolution(desc, f);
    let sso: Vec<Endpoint> = children(desc, NS_MD, "SingleSignOnService")
        .filter_map(|n| endpoint(n, "md:SingleSignOnService", f))
        .collect();
    let slo = single_logout_services(desc, f);
    let has = |binding: &str| sso.iter().any(|e| e.binding == binding);
    if !has(BINDING_HTTP_REDIRECT) && !has(BINDING_HTTP_POST) {
        if !has(BINDING_HTTP_ARTIFACT) {
            f.fatal(MetadataError::NoSsoEndpoint);
        } else if artifact_resolution.is_empty() {
            // Artifact only: poort sends its AuthnRequest by artifact and gets the answer by
            // artifact, which it can resolve only at the AD's SOAP ArtifactResolutionService
            // (SAML Bindings 2.0 §3.6; afsprakenstelsel page *Bindings*).
            f.fatal(MetadataError::NoArtifactResolutionService {
                why:
                    "its only md:SingleSignOnService poort can use has the HTTP-Artifact binding, \
                      and poort resolves the AD's artifacts there (SAML Bindings 2.0 §3.6)",
            });
        }
    }
    Some(IdpMetadata {
        entity_id: entity_id.to_string(),
        display_names: display_names(entity, desc),
        sso,
        slo,
        artifact_resolution,
        signing_keys,
        want_authn_requests_signed,
        valid_until: None,
        file: Default::default(),
    })
}

/// mdui:DisplayName (in the descriptor's Extensions, or tolerated in the entity's), else
/// md:OrganizationDisplayName.
fn display_names(entity: Node, desc: Node) -> Vec<(String, String)> {
    let mdui = |n: Node| -> Vec<(String, String)> {
        children(n, NS_MD, "Extensions")
            .flat_map(|e| children(e, NS_MDUI, "UIInfo"))
            .flat_map(|u| children(u, NS_MDUI, "DisplayName"))
            .map(|d| (lang(d), text(d)))
            .filter(|(_, t)| !t.is_empty())
            .collect()
    };
    let mut names = mdui(desc);
    if names.is_empty() {
        names = mdui(entity);
    }
    if names.is_empty() {
        names = children(entity, NS_MD, "Organization")
            .flat_map(|o| children(o, NS_MD, "OrganizationDisplayName"))
            .map(|d| (lang(d), text(d)))
            .filter(|(_, t)| !t.is_empty())
            .collect();
    }
    names
}

/// Signing and encryption certificates of a role descriptor. A KeyDescriptor without `use`
/// serves both; a certificate unfit for one of those uses then only warns, unless it fits none.
fn keys(
    desc: Node,
    role: Role,
    now: DateTime<Utc>,
    f: &mut Findings,
) -> (Vec<PeerCert>, Vec<PeerCert>) {
    let mut signing = Vec::new();
    let mut encryption = Vec::new();
    for kd in children(desc, NS_MD, "KeyDescriptor") {
        let (element, uses): (String, &[KeyUse]) = match (kd.attribute("use"), role) {
            (Some("signing"), _) => (
                "md:KeyDescriptor use=\"signing\"".into(),
                &[KeyUse::Signing],
            ),
            // poort never encrypts to an AD: its encryption keys are irrelevant.
            (Some("encryption"), Role::Idp) => continue,
            (Some("encryption"), Role::Sp) => (
                "md:KeyDescriptor use=\"encryption\"".into(),
                &[KeyUse::Encryption],
            ),
            (None, Role::Idp) => ("md:KeyDescriptor".into(), &[KeyUse::Signing]),
            (None, Role::Sp) => (
                "md:KeyDescriptor".into(),
                &[KeyUse::Signing, KeyUse::Encryption],
            ),
            (Some(other), _) => {
                f.drop_part(MetadataError::InvalidAttribute {
                    element: "md:KeyDescriptor".into(),
                    attribute: "use",
                    value: other.to_string(),
                });
                continue;
            }
        };
        let certs: Vec<Node> = children(kd, NS_DS, "KeyInfo")
            .flat_map(|k| children(k, NS_DS, "X509Data"))
            .flat_map(|d| children(d, NS_DS, "X509Certificate"))
            .collect();
        if certs.is_empty() {
            f.warn(MetadataError::NoCertificate { element });
            continue;
        }
        for node in certs {
            let decoded = match cert::decode(&text(node), &element) {
                Ok(d) => d,
                Err(kind) => {
                    f.drop_part(kind);
                    continue;
                }
            };
            for (severity, kind) in decoded.validity_findings(&element, now) {
                f.list.push((severity, kind));
            }
            let mut unfit = Vec::new();
            for &key_use in uses {
                match decoded.fit_for(key_use, &element) {
                    Ok(()) => match key_use {
                        KeyUse::Signing => signing.push(decoded.cert.clone()),
                        KeyUse::Encryption => encryption.push(decoded.cert.clone()),
                    },
                    Err(kind) => unfit.push(kind),
                }
            }
            let fits_none = unfit.len() == uses.len();
            for kind in unfit {
                if fits_none {
                    f.drop_part(kind);
                } else {
                    f.warn(kind);
                }
            }
        }
    }
    (signing, encryption)
}

/// Whether `name` is a ServiceID, `urn:etoegang:DV:<OIN>:services:<n>` with both parts digits
/// (afsprakenstelsel, *DV metadata for HM*).
pub(crate) fn is_service_id(name: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    name.strip_prefix("urn:etoegang:DV:")
        .and_then(|rest| rest.split_once(":services:"))
        .is_some_and(|(oin, n)| digits(oin) && digits(n))
}

/// Ok(validUntil) if present and in the future; Err if invalid or passed.
fn valid_until_of(
    node: Node,
    element: &str,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, MetadataError> {
    let Some(value) = node.attribute("validUntil") else {
        return Ok(None);
    };
    let Some(valid_until) = parse_datetime(value) else {
        return Err(MetadataError::InvalidAttribute {
            element: element.to_string(),
            attribute: "validUntil",
            value: value.to_string(),
        });
    };
    if valid_until <= now {
        return Err(MetadataError::Expired {
            element: element.to_string(),
            valid_until,
        });
    }
    Ok(Some(valid_until))
}

fn earliest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// xs:dateTime; without a zone it is taken as UTC (SAML requires UTC).
pub(crate) fn parse_datetime(value: &str) -> Option<DateTime<Utc>> {
    let value = value.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(value) {
        return Some(dt.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|n| n.and_utc())
}

/// All text inside the element, trimmed.
fn text(node: Node) -> String {
    node.descendants()
        .filter(|d| d.is_text())
        .filter_map(|d| d.text())
        .collect::<String>()
        .trim()
        .to_string()
}

fn lang(node: Node) -> String {
    node.attribute((NS_XML, "lang")).unwrap_or("").to_string()
}

/// A readable name for an unexpected element.
fn qname(node: Node) -> String {
    match node.tag_name().namespace() {
        Some(ns) => format!("{{{ns}}}{}", node.tag_name().name()),
        None => node.tag_name().name().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::is_service_id;

    #[test]
    fn service_ids_are_recognised_exactly() {
        for good in [
            "urn:etoegang:DV:00000003244440010000:services:1",
            "urn:etoegang:DV:00000001234567890000:services:0001",
        ] {
            assert!(is_service_id(good), "{good}");
        }
        for bad in [
            "urn:etoegang:core:ServiceID",
            "urn:etoegang:1.9:EntityConcernedID:RSIN",
            "urn:etoegang:DV::services:1",
            "urn:etoegang:DV:0000000324444001000a:services:1",
            "urn:etoegang:DV:00000003244440010000:services:",
            "urn:etoegang:DV:00000003244440010000:services:1:x",
            "urn:etoegang:DV:00000003244440010000:entities:1",
            "urn:etoegang:AD:00000003244440010000:services:1",
            " urn:etoegang:DV:00000003244440010000:services:1",
        ] {
            assert!(!is_service_id(bad), "{bad}");
        }
    }
}
