//! `poort catalogue`: the effective service catalogue (the config file's `[[service]]` entries
//! and the signed catalogues of `[[catalogue]]`), and every problem with its file.

use crate::catalogue::Effective;
use crate::config::Config;
use anyhow::bail;
use clap::Subcommand;
use std::path::Path;

#[derive(Subcommand, Debug)]
pub enum CatalogueCommand {
    /// Print every service poort offers, where it is defined, and every problem found.
    Show,
    /// Print every problem with its file; exit non-zero when there is one.
    Check,
}

pub(super) async fn run(config_path: &Path, command: CatalogueCommand) -> anyhow::Result<()> {
    let config = Config::load(config_path)?;
    let metadata = crate::federation::LiveMetadata::inspect(
        &config.saml.sp_metadata_dir,
        &config.saml.idp_metadata_dir,
        &config.metadata_aggregates,
        chrono::Utc::now(),
    )
    .await
    .now();
    let effective = crate::catalogue::load(&config, &metadata).await;
    if let CatalogueCommand::Show = command {
        print_services(&effective);
    }
    for p in &effective.problems {
        println!("error: {p}");
    }
    let count = effective.problems.len();
    match command {
        CatalogueCommand::Check if count > 0 => {
            bail!("{count} problem(s) in the service catalogue")
        }
        CatalogueCommand::Check => {
            println!("{} service(s), no problems", effective.services.len());
            Ok(())
        }
        CatalogueCommand::Show => Ok(()),
    }
}

fn print_services(effective: &Effective) {
    for s in &effective.services {
        println!("{}", s.id);
        println!("  ServiceUUID   {}", s.uuid);
        println!("  name          {} / {}", s.name_nl, s.name_en);
        if let Some(name) = &s.provider_name {
            println!("  provider      {name}");
        }
        println!("  DV            {} (index {})", s.provider, s.acs_index);
        println!("  level         {}", s.level);
        let identifiers = if s.entity_concerned_types.is_empty() {
            "KvK number (default)".to_string()
        } else {
            s.entity_concerned_types.join(", ")
        };
        println!("  identifiers   {identifiers}");
        for a in &s.requested_attributes {
            let required = if a.required { " (required)" } else { "" };
            println!("  attribute     {}{required}", a.name);
        }
        println!(
            "  single sign-on {}",
            if s.sso_support { "yes" } else { "no" }
        );
        println!("  defined in    {}", s.origin);
    }
    println!(
        "{} service(s); {} of other brokers left out",
        effective.services.len(),
        effective.skipped.len()
    );
}
