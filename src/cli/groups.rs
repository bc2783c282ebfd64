//! `poort group`: groups of members within an organisation, and blocks per group.

use super::{open, ActorArg};
use clap::Subcommand;
use std::path::Path;

#[derive(Subcommand, Debug)]
pub enum GroupCommand {
    /// Add a group to an organisation.
    Create {
        #[arg(long)]
        org: String,
        #[arg(long)]
        name: String,
        #[command(flatten)]
        actor: ActorArg,
    },
    /// Put a member in a group.
    Add {
        #[arg(long)]
        org: String,
        #[arg(long)]
        group: String,
        #[arg(long)]
        person: String,
        /// As administrator of the group (a groepsbeheerder then manages it).
        #[arg(long)]
        admin: bool,
        #[command(flatten)]
        actor: ActorArg,
    },
    /// Block a member for this group only.
    Block {
        #[arg(long)]
        org: String,
        #[arg(long)]
        group: String,
        #[arg(long)]
        person: String,
        #[command(flatten)]
        actor: ActorArg,
    },
    /// Lift a group block.
    Unblock {
        #[arg(long)]
        org: String,
        #[arg(long)]
        group: String,
        #[arg(long)]
        person: String,
        #[command(flatten)]
        actor: ActorArg,
    },
}

pub(super) async fn run(config: &Path, command: GroupCommand) -> anyhow::Result<()> {
    let (_, registry) = open(config).await?;
    let sql = registry.sql();
    match command {
        GroupCommand::Create { org, name, actor } => {
            registry
                .write(sql.create_group(&actor.actor(), &org, &name))
                .await?;
            println!("group {name:?} created in {org}");
        }
        GroupCommand::Add {
            org,
            group,
            person,
            admin,
            actor,
        } => {
            registry
                .write(sql.add_to_group(&actor.actor(), &org, &group, &person, admin))
                .await?;
            println!("{person} added to group {group:?}");
        }
        GroupCommand::Block {
            org,
            group,
            person,
            actor,
        } => {
            registry
                .write(sql.set_group_member_blocked(&actor.actor(), &org, &group, &person, true))
                .await?;
            println!("{person} blocked in group {group:?}");
        }
        GroupCommand::Unblock {
            org,
            group,
            person,
            actor,
        } => {
            registry
                .write(sql.set_group_member_blocked(&actor.actor(), &org, &group, &person, false))
                .await?;
            println!("{person} unblocked in group {group:?}");
        }
    }
    Ok(())
}
