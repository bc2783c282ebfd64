//! `poort member`: members of organisations, their roles and blocks.

use super::{open, parse_role, ActorArg};
use crate::grants::Role;
use clap::Subcommand;
use std::path::Path;

#[derive(Subcommand, Debug)]
pub enum MemberCommand {
    /// Make a person a member of an organisation.
    Add {
        #[arg(long)]
        org: String,
        #[arg(long)]
        person: String,
        /// Roles: hoofdbeheerder, beheerder, groepsbeheerder, gebruiker, lezer.
        #[arg(long = "role", value_parser = parse_role)]
        roles: Vec<Role>,
        #[command(flatten)]
        actor: ActorArg,
    },
    /// Replace a member's roles.
    Roles {
        #[arg(long)]
        org: String,
        #[arg(long)]
        person: String,
        #[arg(long = "role", value_parser = parse_role)]
        roles: Vec<Role>,
        #[command(flatten)]
        actor: ActorArg,
    },
    /// Block a member in the whole organisation.
    Block {
        #[arg(long)]
        org: String,
        #[arg(long)]
        person: String,
        #[command(flatten)]
        actor: ActorArg,
    },
    /// Lift a block.
    Unblock {
        #[arg(long)]
        org: String,
        #[arg(long)]
        person: String,
        #[command(flatten)]
        actor: ActorArg,
    },
}

pub(super) async fn run(config: &Path, command: MemberCommand) -> anyhow::Result<()> {
    let (_, registry) = open(config).await?;
    let sql = registry.sql();
    match command {
        MemberCommand::Add {
            org,
            person,
            roles,
            actor,
        } => {
            registry
                .write(sql.add_member(&actor.actor(), &org, &person, &roles))
                .await?;
            println!("{person} is a member of {org}");
        }
        MemberCommand::Roles {
            org,
            person,
            roles,
            actor,
        } => {
            registry
                .write(sql.set_roles(&actor.actor(), &org, &person, &roles))
                .await?;
            println!("roles of {person} in {org} set");
        }
        MemberCommand::Block { org, person, actor } => {
            registry
                .write(sql.set_member_blocked(&actor.actor(), &org, &person, true))
                .await?;
            println!("{person} blocked in {org}");
        }
        MemberCommand::Unblock { org, person, actor } => {
            registry
                .write(sql.set_member_blocked(&actor.actor(), &org, &person, false))
                .await?;
            println!("{person} unblocked in {org}");
        }
    }
    Ok(())
}
