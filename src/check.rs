//! `poort check`: every problem with config, keys, metadata, catalogue and grants, with its file.

use crate::config::{Config, ServiceConfig};
use crate::keys::{DecryptionKey, PseudonymSecret, SigningKey};
use crate::metadata::{MetadataSet, Severity};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// One finding of `poort check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub file: PathBuf,
    pub error: bool,
    pub message: String,
}

/// Checks everything a start needs. An empty result means poort will start cleanly.
pub async fn check(config_path: &Path, config: &Config) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    let mut err = |file: &Path, message: String| {
        out.push(Finding {
            file: file.to_path_buf(),
            error: true,
            message,
        })
    };
    let k = &config.keys;
    match SigningKey::load(&k.signing_key, &k.signing_cert) {
        Ok(key) if config.server.production && crate::devcerts::is_dev_cert(&key.cert_der) => err(
            &k.signing_cert,
            "development certificate in production mode".into(),
        ),
        Ok(_) => {}
        Err(e) => err(&k.signing_key, e.to_string()),
    }
    match DecryptionKey::load(&k.encryption_key, &k.encryption_cert) {
        Ok(key) if config.server.production && crate::devcerts::is_dev_cert(&key.cert_der) => err(
            &k.encryption_cert,
            "development certificate in production mode".into(),
        ),
        Ok(_) => {}
        Err(e) => err(&k.encryption_key, e.to_string()),
    }
    if let Err(e) = PseudonymSecret::load(&k.pseudonym_secret) {
        err(&k.pseudonym_secret, e.to_string());
    }
    for section in Config::unknown_sections(config_path) {
        let hint = if section == "grants" {
            " (the grants file is now [register] seed, the register [register] database)"
        } else {
            ""
        };
        err(
            config_path,
            format!("unknown section [{section}] is ignored{hint}"),
        );
    }
    let db = &config.register.database;
    if !(db.starts_with("sqlite:")
        || db.starts_with("postgres://")
        || db.starts_with("postgresql://")
        || !db.contains("://"))
    {
        err(
            config_path,
            format!("[register] database {db:?}: use sqlite://PATH or postgres://…"),
        );
    }
    if let Err(e) = crate::saml::backchannel::BackChannel::new(&config.backchannel) {
        err(config_path, e.to_string());
    }
    // The edge: trusted proxies and [limits] as the server reads them at start, and what
    // production must not run with.
    if let Err(e) = crate::web::limits::Limits::from_config(config) {
        err(config_path, e.to_string());
    }
    if let Err(e) = crate::web::security::check_production(config) {
        err(config_path, e.to_string());
    }
    // The operator API's token hashes (never the tokens themselves).
    for message in config.operator.problems() {
        err(config_path, message);
    }
    // The login session's limits, within the scheme's.
    for message in config.login_session.problems() {
        err(config_path, message);
    }
    // The supplier's theme, as the stylesheet is built at start.
    if let Err(e) = config.theme.css() {
        let file = match &e {
            crate::config::ThemeError::File { path, .. } => path.as_path(),
            _ => config_path,
        };
        err(file, e.to_string());
    }
    if let Some(seed) = &config.register.seed {
        if let Err(e) = crate::grants::load_grants_file(seed) {
            err(seed, e.to_string());
        }
    }
    // The folders and the aggregates, as a start would read them (nothing written to disk).
    let live = crate::federation::LiveMetadata::inspect(
        &config.saml.sp_metadata_dir,
        &config.saml.idp_metadata_dir,
        &config.metadata_aggregates,
        chrono::Utc::now(),
    )
    .await;
    let md = live.now();
    // Each aggregate fetched once, by the read above: how it was had.
    for (source, had) in config.metadata_aggregates.iter().zip(live.at_start()) {
        match had {
            Ok(None) => {}
            Ok(Some(warning)) => warnings.push(Finding {
                file: PathBuf::from(&source.source),
                error: false,
                message: format!("metadata aggregate: {warning}"),
            }),
            Err(e) => err(
                Path::new(&source.source),
                format!("metadata aggregate: {e}"),
            ),
        }
    }
    // The effective catalogue: each signed catalogue read and checked, ServiceIDs and
    // ServiceUUIDs defined once across it and the `[[service]]` entries.
    for p in crate::catalogue::load(config, &md).await.problems {
        err(Path::new(&p.origin), p.message);
    }
    for source in config.catalogues.iter().filter(|s| s.is_url()) {
        if source.cache_file.is_none() {
            warnings.push(Finding {
                file: PathBuf::from(&source.source),
                error: false,
                message: "service catalogue from a URL without cache_file: while the URL cannot \
                          be read, poort starts without its services"
                    .into(),
            });
        }
    }
    for message in catalogue_problems(&config.services, &md, &config.saml.sp_metadata_dir) {
        err(config_path, message);
    }
    for dv in &config.dvs {
        if !md.sps.contains_key(&dv.entity_id) {
            err(
                config_path,
                match refused_in(&md, &dv.entity_id) {
                    Some(files) => format!(
                        "[[dv]] {}: its metadata in {files} was refused; see the errors there",
                        dv.entity_id
                    ),
                    None => format!("[[dv]] {} has no metadata", dv.entity_id),
                },
            );
        }
    }
    if md.idps.is_empty() && config.oidc_providers.is_empty() {
        err(
            &config.saml.idp_metadata_dir,
            "no identity provider metadata".into(),
        );
    }
    for message in oidc_provider_problems(config, &md) {
        err(config_path, message);
    }
    for (file, error, message) in oidc_client_problems(config, config_path) {
        if error {
            err(&file, message);
        } else {
            warnings.push(Finding {
                file,
                error: false,
                message,
            });
        }
    }
    out.extend(warnings);
    for p in &md.problems {
        out.push(Finding {
            file: p.file.clone(),
            error: p.severity == Severity::Error,
            message: p.message.clone(),
        });
    }
    out
}

/// What is wrong with the service catalogue against the DVs' metadata (all errors).
///
/// A service is named by any md:AttributeConsumingService of its provider whose ServiceIDs hold
/// its ID, in the scheme's form (`<md:RequestedAttribute Name="<ServiceID>"/>`, afsprakenstelsel
/// page *DV metadata for HM*) or poort's earlier one; which index the DV uses is its own choice.
fn catalogue_problems(services: &[ServiceConfig], md: &MetadataSet, sp_dir: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for s in services {
        match md.sps.get(&s.provider) {
            None => problems.push(match refused_in(md, &s.provider) {
                Some(files) => format!(
                    "service {}: the metadata of provider {} in {files} was refused; see the errors there",
                    s.id, s.provider
                ),
                None => format!(
                    "service {}: provider {} has no metadata in {}",
                    s.id,
                    s.provider,
                    sp_dir.display()
                ),
            }),
            Some(dv) => {
                let named = dv
                    .attribute_consuming_services
                    .iter()
                    .any(|acs| acs.service_ids.contains(&s.id));
                if !named {
                    problems.push(format!(
                        "service {}: the metadata of {} has no md:AttributeConsumingService with <md:RequestedAttribute Name=\"{}\"/>",
                        s.id, s.provider, s.id
                    ));
                }
            }
        }
    }
    problems
}

/// The files whose metadata for an entity missing from the set was refused, if any: then the
/// catalogue finding points at them, and the errors themselves (e.g. no usable ACS) are
/// reported with their file.
fn refused_in(md: &MetadataSet, entity_id: &str) -> Option<String> {
    let files: std::collections::BTreeSet<String> = md
        .problems
        .iter()
        .filter(|p| p.severity == Severity::Error && p.entity_id.as_deref() == Some(entity_id))
        .map(|p| p.file.display().to_string())
        .collect();
    (!files.is_empty()).then(|| files.into_iter().collect::<Vec<_>>().join(", "))
}

/// What is wrong with the upstream OpenID Connect ADs (all errors).
fn oidc_provider_problems(config: &Config, md: &crate::metadata::MetadataSet) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen = HashSet::new();
    for p in &config.oidc_providers {
        let issuer = &p.issuer;
        if !seen.insert(issuer) {
            problems.push(format!("identity provider {issuer}: issuer appears twice"));
        }
        if md.idps.iter().any(|i| &i.entity_id == issuer) {
            problems.push(format!(
                "identity provider {issuer}: also a SAML identity provider's entity ID"
            ));
        }
        if let Err(e) = crate::oidc::upstream::check_config(p) {
            problems.push(format!("identity provider {issuer}: {e}"));
        }
        if config.server.production && issuer.starts_with("http://") {
            problems.push(format!(
                "identity provider {issuer}: plain http issuer in production"
            ));
        }
    }
    problems
}

/// What is wrong with the registered OpenID Connect clients: (file, is an error, message).
fn oidc_client_problems(config: &Config, config_path: &Path) -> Vec<(PathBuf, bool, String)> {
    let config_file = config_path.to_path_buf();
    let mut problems = Vec::new();
    let mut seen = HashSet::new();
    for c in &config.oidc_clients {
        let id = &c.client_id;
        let mut problem = |error: bool, message: String| {
            problems.push((
                config_file.clone(),
                error,
                format!("client {id}: {message}"),
            ))
        };
        if !seen.insert(id) {
            problem(true, "client_id appears twice".into());
        }
        if !config
            .services
            .iter()
            .any(|s| s.id == c.service || s.uuid == c.service)
        {
            problem(
                true,
                format!("service {} is not in the catalogue", c.service),
            );
        }
        if c.redirect_uris.is_empty() {
            problem(true, "no redirect_uris".into());
        }
        // RP-initiated log-out sends the browser to these exactly as to a redirect URI.
        for r in c.redirect_uris.iter().chain(&c.post_logout_redirect_uris) {
            match url::Url::parse(r) {
                Err(_) => problem(true, format!("redirect URI {r:?} is not an absolute URL")),
                Ok(u) if u.fragment().is_some() => problem(
                    true,
                    format!("redirect URI {r} has a fragment (RFC 6749 3.1.2)"),
                ),
                Ok(u)
                    if u.scheme() == "http"
                        && config.server.production
                        && !matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]")) =>
                {
                    problem(
                        true,
                        format!("redirect URI {r} is plain http in production"),
                    )
                }
                Ok(_) => {}
            }
        }
        match (&c.client_secret, &c.public_key) {
            (Some(_), Some(_)) => {
                problem(true, "give client_secret or public_key, not both".into())
            }
            (Some(secret), None) if secret.len() < 32 => problem(
                config.server.production,
                "client_secret is shorter than 32 characters".into(),
            ),
            (None, Some(path)) => {
                let readable = std::fs::read(path)
                    .ok()
                    .and_then(|pem| openssl::pkey::PKey::public_key_from_pem(&pem).ok());
                if readable.is_none() {
                    problem(
                        true,
                        format!(
                            "public_key {} is not a readable PEM public key",
                            path.display()
                        ),
                    );
                }
            }
            _ => {}
        }
        if c.allow_without_pkce {
            if c.client_secret.is_none() && c.public_key.is_none() {
                problem(
                    false,
                    "allow_without_pkce has no effect on a public client (no client_secret or public_key): it must still use PKCE".into(),
                );
            } else {
                problem(
                    false,
                    "allow_without_pkce lets this client leave out PKCE, which RFC 9700 and the NL GOV OIDC profile require; switch it off once the client sends code_challenge (S256)".into(),
                );
            }
        }
        if let Some(alg) = &c.id_token_signed_response_alg {
            if alg != "RS256" && alg != "ES256" {
                problem(
                    true,
                    format!("id_token_signed_response_alg {alg:?}: use RS256 or ES256"),
                );
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata;
    use std::path::Path;

    const DV: &str = "urn:etoegang:DV:00000003244440010000:entities:0001";

    /// A catalogue service from TOML, so the test does not depend on every field of the type.
    fn service(id: &str, provider: &str) -> ServiceConfig {
        toml::from_str(&format!(
            "id = \"{id}\"\nuuid = \"{id}-uuid\"\nname_nl = \"n\"\nname_en = \"n\"\n\
             provider = \"{provider}\"\nacs_index = 0\nlevel = \"EH3\"\n"
        ))
        .expect("service TOML")
    }

    fn set_with(sps: Vec<metadata::SpMetadata>, problems: Vec<metadata::Problem>) -> MetadataSet {
        metadata::assemble(
            vec![metadata::Parsed {
                sps,
                problems,
                ..Default::default()
            }],
            Vec::new(),
        )
    }

    fn dv(services: Vec<(u16, Vec<&str>)>) -> metadata::SpMetadata {
        metadata::SpMetadata {
            entity_id: DV.into(),
            acs: Vec::new(),
            slo: Vec::new(),
            attribute_consuming_services: services
                .into_iter()
                .map(|(index, ids)| metadata::AttributeConsumingService {
                    index,
                    is_default: false,
                    names: Vec::new(),
                    requested_attributes: Vec::new(),
                    service_ids: ids.into_iter().map(str::to_string).collect(),
                })
                .collect(),
            artifact_resolution: Vec::new(),
            signing_keys: Vec::new(),
            encryption_keys: Vec::new(),
            authn_requests_signed: true,
            want_assertions_signed: true,
            valid_until: None,
            file: "metadata/sp/dv.xml".into(),
        }
    }

    #[test]
    fn any_attribute_consuming_service_may_name_a_service() {
        let one = "urn:etoegang:DV:00000003244440010000:services:1";
        let two = "urn:etoegang:DV:00000003244440010000:services:2";
        // The catalogue's acs_index (0) is not where the DV names service 1: that is fine now.
        let md = set_with(vec![dv(vec![(0, vec![two]), (5, vec![one])])], Vec::new());
        let dir = Path::new("metadata/sp");
        assert!(catalogue_problems(&[service(one, DV), service(two, DV)], &md, dir).is_empty());

        let three = "urn:etoegang:DV:00000003244440010000:services:3";
        assert_eq!(
            catalogue_problems(&[service(three, DV)], &md, dir),
            vec![format!(
                "service {three}: the metadata of {DV} has no md:AttributeConsumingService with <md:RequestedAttribute Name=\"{three}\"/>"
            )]
        );
    }

    #[test]
    fn a_refused_provider_points_at_its_file() {
        let id = "urn:etoegang:DV:00000003244440010000:services:1";
        let dir = Path::new("metadata/sp");
        let refused = metadata::Problem {
            file: "metadata/sp/dv.xml".into(),
            entity_id: Some(DV.into()),
            severity: Severity::Error,
            kind: metadata::MetadataError::NoUsableAcs,
            message: metadata::MetadataError::NoUsableAcs.to_string(),
        };
        let md = set_with(Vec::new(), vec![refused]);
        assert_eq!(
            catalogue_problems(&[service(id, DV)], &md, dir),
            vec![format!(
                "service {id}: the metadata of provider {DV} in metadata/sp/dv.xml was refused; see the errors there"
            )]
        );
        let md = set_with(Vec::new(), Vec::new());
        assert_eq!(
            catalogue_problems(&[service(id, DV)], &md, dir),
            vec![format!(
                "service {id}: provider {DV} has no metadata in metadata/sp"
            )]
        );
    }
}
