//! `poort org` (or `poort organisations`): create an organisation (active at once), or register
//! one with its appointed hoofdbeheerder that waits for their first login (the activation mail
//! queued) and send that link again; list them with their status, show one (status, members,
//! roles, groups, grant counts), change its name, RSIN or contact data, and its directors'
//! signature setting.

use super::{open, ActorArg};
use crate::grants::{
    NewOrganisation, NewRegistration, OrganisationChanges, OrganisationStatus, Registry,
};
use clap::{ArgGroup, Subcommand};
use std::path::Path;

#[derive(Subcommand, Debug)]
pub enum OrgCommand {
    /// Create an organisation, active at once (its hoofdbeheerder added with `member add`).
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
    /// Register an organisation that waits for its appointed hoofdbeheerder: their activation
    /// link (24 hours, once) is mailed, and their first login through it activates it.
    Register {
        #[arg(long)]
        kvk: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        rsin: Option<String>,
        /// The hoofdbeheerder's name, as the mail addresses them.
        #[arg(long)]
        hoofdbeheerder_name: String,
        /// Where the activation link goes.
        #[arg(long)]
        hoofdbeheerder_email: String,
        /// The mails' language.
        #[arg(long, value_parser = ["nl", "en"], default_value = "nl")]
        language: String,
    },
    /// Send a new activation link to an organisation still waiting (the old one stops working).
    ResendActivation {
        #[arg(long)]
        kvk: String,
    },
    /// List the organisations with their status.
    List {
        /// Only those with this status.
        #[arg(long, value_parser = ["pending_activation", "active"])]
        status: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Whether a director with joint authority needs a second director's signature.
    #[command(group(ArgGroup::new("setting").required(true).args(["two", "one"])))]
    JointSignatures {
        #[arg(long)]
        kvk: String,
        /// A second director's signature is needed.
        #[arg(long)]
        two: bool,
        /// A director with joint authority signs alone.
        #[arg(long)]
        one: bool,
    },
    /// Show an organisation: status, members, roles, groups, grant counts.
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

pub(super) async fn run(config_path: &Path, command: OrgCommand) -> anyhow::Result<()> {
    let (config, registry) = open(config_path).await?;
    let sql = registry.sql();
    let mailer = crate::mail::Mailer::new(sql.pool().clone());
    let operations = crate::admin::activation::Operations {
        registry: &registry,
        mailer: &mailer,
        config: &config,
    };
    match command {
        OrgCommand::Register {
            kvk,
            name,
            rsin,
            hoofdbeheerder_name,
            hoofdbeheerder_email,
            language,
        } => {
            let new = NewRegistration {
                kvk,
                name,
                rsin,
                hoofdbeheerder_name,
                hoofdbeheerder_email,
                language: Some(language),
            };
            let (i, sent) = operations.register(&ActorArg::operator(), &new).await?;
            println!(
                "organisation {} registered, not yet active: it becomes active at its \
                 hoofdbeheerder's first login through the activation link",
                i.organisation.kvk
            );
            activation_sent(&i, sent);
        }
        OrgCommand::ResendActivation { kvk } => {
            let (i, sent) = operations
                .resend_activation(&ActorArg::operator(), &kvk)
                .await?;
            println!("organisation {kvk}: a new activation link, the old one no longer works");
            activation_sent(&i, sent);
        }
        OrgCommand::List { status, json } => list(&registry, status.as_deref(), json).await?,
        OrgCommand::JointSignatures { kvk, two, .. } => {
            operations
                .set_joint_needs_two(&ActorArg::operator(), &kvk, two)
                .await?;
            let setting = if two {
                "a director with joint authority needs a second director's signature"
            } else {
                "a director with joint authority signs alone"
            };
            println!("organisation {kvk}: {setting}");
        }
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
            println!("status    {}", status_line(view.status, view.activated_at));
            println!(
                "signing   {}",
                if view.joint_needs_two {
                    "joint authority needs a second director"
                } else {
                    "joint authority signs alone"
                }
            );
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

/// What the command says of a mailed activation link: where it stands, never the address.
fn activation_sent(i: &crate::grants::Invitation, sent: bool) {
    let until = i.expires_at.format("%Y-%m-%d %H:%M UTC");
    if sent {
        println!(
            "activation mail queued (invitation {}); the link works once, until {until}",
            i.id
        );
    } else {
        println!(
            "the activation mail could not be queued (invitation {}); send it again with \
             `poort organisations resend-activation --kvk {}`",
            i.id, i.organisation.kvk
        );
    }
}

fn status_line(
    status: OrganisationStatus,
    activated_at: Option<chrono::DateTime<chrono::Utc>>,
) -> String {
    match (status, activated_at) {
        (OrganisationStatus::Active, Some(at)) => {
            format!("active since {}", at.format("%Y-%m-%d %H:%M UTC"))
        }
        (OrganisationStatus::Active, None) => "active".into(),
        (OrganisationStatus::PendingActivation, _) => {
            "pending_activation (waiting for its hoofdbeheerder's first login)".into()
        }
    }
}

async fn list(registry: &Registry, status: Option<&str>, json: bool) -> anyhow::Result<()> {
    let status = status
        .map(str::parse::<OrganisationStatus>)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let list = registry.sql().list_organisations(status).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    for o in &list {
        let since = o
            .activated_at
            .map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_default();
        println!(
            "{:<9} {:<19} {:<10} {}",
            o.organisation.kvk,
            o.status.as_str(),
            since,
            o.organisation.name
        );
    }
    Ok(())
}
