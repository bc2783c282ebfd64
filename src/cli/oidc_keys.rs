//! `poort oidc`: poort's ID-token signing keys as OpenID Provider: rotate them, show them.

use crate::config::Config;
use clap::Subcommand;
use std::path::Path;

#[derive(Subcommand, Debug)]
pub enum OidcCommand {
    /// Rotate the ID-token signing keys: the announced next key signs from now on, the old one
    /// stays published until the tokens it signed have expired, and a new next key is made.
    /// Restart (or roll) the replicas afterwards; they share the key folder.
    RotateKeys,
    /// Show the published keys.
    Keys,
}

pub(super) async fn run(config_path: &Path, command: OidcCommand) -> anyhow::Result<()> {
    let config = Config::load(config_path)?;
    let dir = &config.oidc.keys_dir;
    let keys = match command {
        OidcCommand::RotateKeys => {
            let keys = crate::oidc::ProviderKeys::rotate(dir)?;
            println!("rotated the keys in {}", dir.display());
            keys
        }
        OidcCommand::Keys => crate::oidc::ProviderKeys::load(dir, false)?,
    };
    for set in [&keys.rs256, &keys.es256] {
        println!("{} current  {}", set.current.alg, set.current.kid);
        if let Some(next) = &set.next {
            println!("{} next     {}", next.alg, next.kid);
        }
        for old in &set.previous {
            println!("{} previous {}", old.alg, old.kid);
        }
    }
    Ok(())
}
