//! `poort audit`: check the hash chain of the audit trail.

use super::open;
use anyhow::anyhow;
use clap::Subcommand;
use std::path::Path;

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Check the hash chain of the whole audit trail: an edited or removed entry is reported
    /// with its ID (exit status 1). Prints the count and the head hash to keep elsewhere.
    Verify,
}

pub(super) async fn run(config: &Path, command: AuditCommand) -> anyhow::Result<()> {
    let (_, registry) = open(config).await?;
    match command {
        AuditCommand::Verify => {
            let report = crate::grants::audit::verify(registry.sql().pool()).await?;
            if let Some(broken) = &report.broken {
                return Err(anyhow!(
                    "audit trail broken: {broken} (checked {} entries)",
                    report.entries
                ));
            }
            println!(
                "audit trail intact: {} entries ({} from before the chain), head {}",
                report.entries, report.unchained, report.head
            );
        }
    }
    Ok(())
}
