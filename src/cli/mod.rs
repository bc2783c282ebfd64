//! The register commands of `poort`: organisations, persons, members, groups, grants,
//! bevoegd vertegenwoordigers, the audit trail, the OpenID Provider's keys, the service
//! catalogue, and tokens of the operator API.
//!
//! Each command opens the register named in the config (and its cache, so that a write made
//! here is invalidated on every running replica), does one thing, and prints the result. A
//! command that fails prints one clear line (every bad line, for imports) and exits non-zero.
//!
//! This file holds the tree of command groups, the dispatch and what every group shares (the
//! config and actor flags, the parsers of roles, levels and scopes); each group has a file with
//! its arguments and what it does.

mod audit;
mod catalogue;
mod grants;
mod groups;
mod members;
mod oidc_keys;
mod operator;
mod organisations;
mod people;
mod representatives;

pub use audit::AuditCommand;
pub use catalogue::CatalogueCommand;
pub use grants::{Format, GrantsCommand, StatusArg};
pub use groups::GroupCommand;
pub use members::MemberCommand;
pub use oidc_keys::OidcCommand;
pub use organisations::OrgCommand;
pub use people::PersonCommand;
pub use representatives::RepresentativeCommand;

use crate::config::{Config, ServiceConfig};
use crate::domain::grant::UnknownRole;
use crate::domain::level::Level;
use crate::grants::{Actor, Registry, Role, Scope, ServiceRef};
use anyhow::{anyhow, Context};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};

/// The register command groups, flattened into `poort`'s own subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Organisations in the register: create, register for activation, list, show, change.
    #[command(visible_alias = "organisations")]
    Org {
        #[command(flatten)]
        config: ConfigArg,
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// Persons and their identities at identity providers.
    Person {
        #[command(flatten)]
        config: ConfigArg,
        #[command(subcommand)]
        command: PersonCommand,
    },
    /// Members of organisations: roles and blocks.
    Member {
        #[command(flatten)]
        config: ConfigArg,
        #[command(subcommand)]
        command: MemberCommand,
    },
    /// Groups of members within an organisation.
    Group {
        #[command(flatten)]
        config: ConfigArg,
        #[command(subcommand)]
        command: GroupCommand,
    },
    /// Bevoegd vertegenwoordigers (directors) from trade-register extracts: import, list.
    Representatives {
        #[command(flatten)]
        config: ConfigArg,
        #[command(subcommand)]
        command: RepresentativeCommand,
    },
    /// A new bearer token for the operator API, and the hash to list in the config.
    OperatorToken,
    /// Grants (machtigingen): add, renew, revoke, list, import, export, explain.
    Grants {
        #[command(flatten)]
        config: ConfigArg,
        #[command(subcommand)]
        command: GrantsCommand,
    },
    /// poort as OpenID Provider: rotate the ID-token signing keys.
    Oidc {
        #[command(flatten)]
        config: ConfigArg,
        #[command(subcommand)]
        command: OidcCommand,
    },
    /// The service catalogue: show the effective one, check it.
    Catalogue {
        #[command(flatten)]
        config: ConfigArg,
        #[command(subcommand)]
        command: CatalogueCommand,
    },
    /// The audit trail: check its hash chain.
    Audit {
        #[command(flatten)]
        config: ConfigArg,
        #[command(subcommand)]
        command: AuditCommand,
    },
}

impl Command {
    /// Runs the command to its end.
    pub async fn run(self) -> anyhow::Result<()> {
        match self {
            Command::Org { config, command } => organisations::run(&config.config, command).await,
            Command::Person { config, command } => people::run(&config.config, command).await,
            Command::Member { config, command } => members::run(&config.config, command).await,
            Command::Group { config, command } => groups::run(&config.config, command).await,
            Command::Grants { config, command } => grants::run(&config.config, command).await,
            Command::Representatives { config, command } => {
                representatives::run(&config.config, command).await
            }
            Command::OperatorToken => {
                operator::run();
                Ok(())
            }
            Command::Oidc { config, command } => oidc_keys::run(&config.config, command).await,
            Command::Audit { config, command } => audit::run(&config.config, command).await,
            Command::Catalogue { config, command } => catalogue::run(&config.config, command).await,
        }
    }
}

/// Where the config is; every register command takes it.
#[derive(Args, Debug, Clone)]
pub struct ConfigArg {
    #[arg(long, default_value = "config/poort.toml")]
    pub config: PathBuf,
}

/// Who acts: an operator by default; `--by PERSON` acts as that administrator, with their roles
/// and level.
#[derive(Args, Debug, Clone)]
pub struct ActorArg {
    /// Act as this person (an administrator of the organisation) instead of as operator.
    #[arg(long)]
    pub by: Option<String>,
}

impl ActorArg {
    /// The operator who runs the command (no `--by`).
    fn operator() -> Actor {
        ActorArg { by: None }.actor()
    }

    fn actor(&self) -> Actor {
        match &self.by {
            Some(person) => Actor::Admin(person.clone()),
            None => Actor::Operator(std::env::var("USER").unwrap_or_else(|_| "cli".into())),
        }
    }
}

/// A role on the command line, in any case (`--role Beheerder`): `Role::from_str` decides.
fn parse_role(text: &str) -> Result<Role, UnknownRole> {
    text.to_ascii_lowercase()
        .parse()
        .map_err(|_| UnknownRole(text.to_string()))
}

fn parse_level(text: &str) -> Result<Level, String> {
    text.parse::<Level>().map_err(|e| e.to_string())
}

fn parse_scope(text: &str) -> Result<Scope, String> {
    match text.split_once(':') {
        _ if text == "all" || text == "all_services" => Ok(Scope::AllServices),
        Some(("provider", p)) if !p.is_empty() => Ok(Scope::Provider {
            provider: p.to_string(),
        }),
        Some(("service", u)) if !u.is_empty() => Ok(Scope::Service {
            uuid: u.to_string(),
        }),
        _ => Err(format!(
            "scope {text:?}: use all, provider:<DV entity ID> or service:<ServiceUUID>"
        )),
    }
}

pub use crate::grants::exchange::parse_instant;

/// The config at `config` and the register it names.
async fn open(config: &Path) -> anyhow::Result<(Config, Registry)> {
    let config = Config::load(config)?;
    let registry = Registry::open(&config)
        .await
        .with_context(|| format!("opening the register {}", config.register.database))?;
    Ok((config, registry))
}

/// A service of the catalogue by its ID or ServiceUUID.
fn find_service<'a>(config: &'a Config, key: &str) -> anyhow::Result<&'a ServiceConfig> {
    config
        .services
        .iter()
        .find(|s| s.id == key || s.uuid == key)
        .ok_or_else(|| anyhow!("no service {key:?} in the catalogue (give its ID or ServiceUUID)"))
}

fn service_ref(s: &ServiceConfig) -> ServiceRef {
    ServiceRef::from(s)
}
