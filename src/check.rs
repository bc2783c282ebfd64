//! `poort check`: every problem with config, keys, metadata, catalogue and grants, with its file.

use crate::config::Config;
use crate::keys::{DecryptionKey, PseudonymSecret, SigningKey};
use crate::metadata::{self, Severity};
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
pub fn check(config_path: &Path, config: &Config) -> Vec<Finding> {
    let mut out = Vec::new();
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
    if let Some(seed) = &config.register.seed {
        if let Err(e) = crate::grants::load_grants_file(seed) {
            err(seed, e.to_string());
        }
    }
    let md = metadata::load(
        &config.saml.sp_metadata_dir,
        &config.saml.idp_metadata_dir,
        chrono::Utc::now(),
    );
    // The catalogue against the metadata.
    let mut ids = HashSet::new();
    let mut uuids = HashSet::new();
    for s in &config.services {
        if !ids.insert(&s.id) {
            err(
                config_path,
                format!("service {} appears twice in the catalogue", s.id),
            );
        }
        if !uuids.insert(&s.uuid) {
            err(
                config_path,
                format!("ServiceUUID {} is used by two services", s.uuid),
            );
        }
        match md.sps.get(&s.provider) {
            None => err(
                config_path,
                format!(
                    "service {}: provider {} has no metadata in {}",
                    s.id,
                    s.provider,
                    config.saml.sp_metadata_dir.display()
                ),
            ),
            Some(dv) => {
                let named = dv
                    .attribute_consuming_services
                    .iter()
                    .any(|acs| acs.index == s.acs_index && acs.service_ids.contains(&s.id));
                if !named {
                    err(
                        config_path,
                        format!("service {}: the metadata of {} has no AttributeConsumingService index {} naming it", s.id, s.provider, s.acs_index),
                    );
                }
            }
        }
    }
    for dv in &config.dvs {
        if !md.sps.contains_key(&dv.entity_id) {
            err(
                config_path,
                format!("[[dv]] {} has no metadata", dv.entity_id),
            );
        }
    }
    if md.idps.is_empty() {
        err(
            &config.saml.idp_metadata_dir,
            "no identity provider metadata".into(),
        );
    }
    for p in md.problems {
        out.push(Finding {
            file: p.file,
            error: p.severity == Severity::Error,
            message: p.message,
        });
    }
    out
}
