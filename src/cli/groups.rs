//! `poort group`: groups of members within an organisation, and blocks per group.

use super::{open, ActorArg};
use crate::grants::Registry;
use clap::{Args, Subcommand};
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
        #[command(flatten)]
        member: GroupMember,
        /// As administrator of the group (a groepsbeheerder then manages it).
        #[arg(long)]
        admin: bool,
    },
    /// Block a member for this group only.
    Block(GroupMember),
    /// Lift a group block.
    Unblock(GroupMember),
}

/// A member of one of an organisation's groups.
#[derive(Args, Debug)]
pub struct GroupMember {
    #[arg(long)]
    org: String,
    #[arg(long)]
    group: String,
    #[arg(long)]
    person: String,
    #[command(flatten)]
    actor: ActorArg,
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
        GroupCommand::Add { member: m, admin } => {
            registry
                .write(sql.add_to_group(&m.actor.actor(), &m.org, &m.group, &m.person, admin))
                .await?;
            println!("{} added to group {:?}", m.person, m.group);
        }
        GroupCommand::Block(m) => set_blocked(&registry, m, true).await?,
        GroupCommand::Unblock(m) => set_blocked(&registry, m, false).await?,
    }
    Ok(())
}

async fn set_blocked(registry: &Registry, m: GroupMember, blocked: bool) -> anyhow::Result<()> {
    let actor = m.actor.actor();
    registry
        .write(
            registry
                .sql()
                .set_group_member_blocked(&actor, &m.org, &m.group, &m.person, blocked),
        )
        .await?;
    let done = if blocked { "blocked" } else { "unblocked" };
    println!("{} {done} in group {:?}", m.person, m.group);
    Ok(())
}
