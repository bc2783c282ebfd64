//! `poort org`: register an organisation, show one (members, roles, groups, grant counts),
//! change its name, RSIN or contact data.

use super::{open, ActorArg};
use crate::grants::{NewOrganisation, OrganisationChanges};
use clap::Subcommand;
use std::path::Path;

#[derive(Subcommand, Debug)]
pub enum OrgCommand {
    /// Register an organisation.
    Create {
        #[arg(long)]
        kvk: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        rsin: Option<String>,
        #[arg(long)]
        contact: Option<String>,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        phone: Option<String>,
    },
    /// Show an organisation: members, roles, groups, grant counts.
    Show {
        kvk: String,
        #[arg(long)]
        json: bool,
    },
    /// Change an organisation's name, RSIN or contact data.
    Update {
        kvk: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        rsin: Option<String>,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        phone: Option<String>,
        /// Postal address of the organisation's contact.
        #[arg(long)]
        address: Option<String>,
        #[command(flatten)]
        actor: ActorArg,
    },
}

pub(super) async fn run(config: &Path, command: OrgCommand) -> anyhow::Result<()> {
    let (_, registry) = open(config).await?;
    let sql = registry.sql();
    match command {
        OrgCommand::Create {
            kvk,
            name,
            rsin,
            contact,
            email,
            phone,
        } => {
            let new = NewOrganisation {
                kvk: kvk.clone(),
                rsin,
                name,
                contact_name: contact,
                contact_email: email,
                contact_phone: phone,
            };
            let actor = ActorArg::operator();
            registry
                .write(sql.create_organisation(&actor, &new))
                .await?;
            println!("organisation {kvk} created");
        }
        OrgCommand::Show { kvk, json } => {
            let view = sql.show_organisation(&kvk).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&view)?);
                return Ok(());
            }
            let o = &view.organisation;
            println!("{} (KvK {})", o.name, o.kvk);
            if let Some(rsin) = &o.rsin {
                println!("RSIN      {rsin}");
            }
            for (label, value) in [
                ("contact", &view.contact_name),
                ("e-mail", &view.contact_email),
                ("phone", &view.contact_phone),
                ("address", &view.contact_address),
            ] {
                if let Some(v) = value {
                    println!("{label:<9} {v}");
                }
            }
            println!(
                "grants    {} active, {} expired, {} revoked",
                view.grants_active, view.grants_expired, view.grants_revoked
            );
            println!("groups    {}", view.groups.join(", "));
            println!("members   {}", view.members.len());
            for m in &view.members {
                let roles: Vec<&str> = m.roles.iter().map(|r| r.as_str()).collect();
                let groups: Vec<String> = m
                    .groups
                    .iter()
                    .map(|(g, blocked)| {
                        if *blocked {
                            format!("{g} (blocked)")
                        } else {
                            g.clone()
                        }
                    })
                    .collect();
                println!(
                    "  {:<16} {:<24} {:<32} {}{}",
                    m.person,
                    m.name.as_deref().unwrap_or(""),
                    roles.join(","),
                    if m.blocked { "BLOCKED " } else { "" },
                    groups.join(", ")
                );
            }
        }
        OrgCommand::Update {
            kvk,
            name,
            rsin,
            email,
            phone,
            address,
            actor,
        } => {
            let changes = OrganisationChanges {
                name,
                rsin: rsin.map(Some),
                contact_email: email.map(Some),
                contact_phone: phone.map(Some),
                contact_address: address.map(Some),
                ..OrganisationChanges::default()
            };
            registry
                .write(sql.update_organisation(&actor.actor(), &kvk, &changes))
                .await?;
            println!("organisation {kvk} updated");
        }
    }
    Ok(())
}
