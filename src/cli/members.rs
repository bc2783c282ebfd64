//! `poort member`: members of organisations, their roles and blocks.

use super::{open, parse_role, ActorArg};
use crate::grants::{Registry, Role};
use clap::{Args, Subcommand};
use std::path::Path;

#[derive(Subcommand, Debug)]
pub enum MemberCommand {
    /// Make a person a member of an organisation.
    Add(MemberRoles),
    /// Replace a member's roles.
    Roles(MemberRoles),
    /// Block a member in the whole organisation.
    Block(Member),
    /// Lift a block.
    Unblock(Member),
}

/// A member and the roles they are to have.
#[derive(Args, Debug)]
pub struct MemberRoles {
    #[arg(long)]
    org: String,
    #[arg(long)]
    person: String,
    /// Roles: hoofdbeheerder, beheerder, groepsbeheerder, gebruiker, lezer.
    #[arg(long = "role", value_parser = parse_role)]
    roles: Vec<Role>,
    #[command(flatten)]
    actor: ActorArg,
}

/// A member of an organisation.
#[derive(Args, Debug)]
pub struct Member {
    #[arg(long)]
    org: String,
    #[arg(long)]
    person: String,
    #[command(flatten)]
    actor: ActorArg,
}

pub(super) async fn run(config: &Path, command: MemberCommand) -> anyhow::Result<()> {
    let (_, registry) = open(config).await?;
    let sql = registry.sql();
    match command {
        MemberCommand::Add(m) => {
            registry
                .write(sql.add_member(&m.actor.actor(), &m.org, &m.person, &m.roles))
                .await?;
            println!("{} is a member of {}", m.person, m.org);
        }
        MemberCommand::Roles(m) => {
            registry
                .write(sql.set_roles(&m.actor.actor(), &m.org, &m.person, &m.roles))
                .await?;
            println!("roles of {} in {} set", m.person, m.org);
        }
        MemberCommand::Block(m) => set_blocked(&registry, m, true).await?,
        MemberCommand::Unblock(m) => set_blocked(&registry, m, false).await?,
    }
    Ok(())
}

async fn set_blocked(registry: &Registry, m: Member, blocked: bool) -> anyhow::Result<()> {
    let sql = registry.sql();
    registry
        .write(sql.set_member_blocked(&m.actor.actor(), &m.org, &m.person, blocked))
        .await?;
    let done = if blocked { "blocked" } else { "unblocked" };
    println!("{} {done} in {}", m.person, m.org);
    Ok(())
}
