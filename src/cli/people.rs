//! `poort person`: persons and their identities at identity providers.

use super::{open, ActorArg};
use clap::Subcommand;
use std::path::Path;

#[derive(Subcommand, Debug)]
pub enum PersonCommand {
    /// Link an identity (AD entity ID + subject) to a person, creating the person if new.
    Link {
        #[arg(long)]
        person: String,
        #[arg(long)]
        idp: String,
        #[arg(long)]
        subject: String,
        #[arg(long)]
        name: Option<String>,
    },
}

pub(super) async fn run(config: &Path, command: PersonCommand) -> anyhow::Result<()> {
    let (_, registry) = open(config).await?;
    match command {
        PersonCommand::Link {
            person,
            idp,
            subject,
            name,
        } => {
            let actor = ActorArg::operator();
            registry
                .write(
                    registry
                        .sql()
                        .link_person(&actor, &person, name.as_deref(), &idp, &subject),
                )
                .await?;
            println!("identity {subject} at {idp} linked to person {person}");
        }
    }
    Ok(())
}
