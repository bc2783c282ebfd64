//! The worlds: the development register with UUIDs for IDs.

use super::*;

/// The seed file's person IDs (`anna`, …) and grant IDs (`g-anna-bakkerij`, …) as this world
/// has them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ids(pub(crate) HashMap<String, String>);

impl Ids {
    pub(crate) fn of(&self, seed_id: &str) -> &str {
        self.0
            .get(seed_id)
            .unwrap_or_else(|| panic!("no {seed_id} in the seed"))
    }
}

/// A copy of `config/grants-dev.toml` in `dir` with every person and grant ID a UUID (subjects,
/// names and everything else as they are); the IDs.
pub(crate) fn seed_with_uuids(dir: &Path) -> (PathBuf, Ids) {
    let text = std::fs::read_to_string(common::repo_file("config/grants-dev.toml")).unwrap();
    let mut ids = HashMap::new();
    let mut out = String::new();
    for line in text.lines() {
        let mapped = ["id = \"", "person = \""].iter().find_map(|key| {
            let rest = line.strip_prefix(key)?;
            let old = rest.strip_suffix('"')?;
            let new = ids
                .entry(old.to_string())
                .or_insert_with(|| uuid::Uuid::new_v4().to_string())
                .clone();
            Some(format!("{key}{new}\""))
        });
        out.push_str(mapped.as_deref().unwrap_or(line));
        out.push('\n');
    }
    let path = dir.join("grants-uuids.toml");
    std::fs::write(&path, out).unwrap();
    (path, Ids(ids))
}

/// Prepares a world on the UUID seed; its IDs.
pub(crate) fn on_uuid_seed(p: &common::Prepared, config: &mut Config) -> Ids {
    let (seed, ids) = seed_with_uuids(&p.dir);
    config.register.seed = Some(seed);
    ids
}

pub(crate) const RP: &str = "rp-privacy";
pub(crate) const RP_SECRET: &str = "a-long-client-secret-for-the-privacy-test";
pub(crate) const RP_CB: &str = "https://rp.example/cb";
pub(crate) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub(crate) const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

pub(crate) fn oidc_client() -> OidcClientConfig {
    common::oidc_rp::client_config(RP, Some(RP_SECRET), RP_CB)
}
