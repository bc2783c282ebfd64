//! The register commands of `poort`: organisations, persons, members, groups and grants.
//!
//! Each command opens the register named in the config (and its cache, so that a write made
//! here is invalidated on every running replica), does one thing, and prints the result. A
//! command that fails prints one clear line (every bad line, for imports) and exits non-zero.

use crate::config::{Config, ServiceConfig};
use crate::domain::decision::{decide, rule_checks};
use crate::domain::grant::UnknownRole;
use crate::domain::level::{Comparison, Level};
use crate::domain::login::AuthnResult;
use crate::grants::exchange::{self, GrantRow};
use crate::grants::{
    Actor, GrantFilter, GrantRecord, GrantRequest, GrantStatus, Holder, ImportError, ImportRow,
    NewOrganisation, OrganisationChanges, Registry, Renewal, Role, Scope, ServiceRef,
};
use anyhow::{anyhow, bail, Context};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};

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
    fn actor(&self) -> Actor {
        match &self.by {
            Some(person) => Actor::Admin(person.clone()),
            None => Actor::Operator(std::env::var("USER").unwrap_or_else(|_| "cli".into())),
        }
    }
}

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

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Csv,
    Json,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusArg {
    Active,
    Revoked,
}

#[derive(Subcommand, Debug)]
pub enum GrantsCommand {
    /// Give a grant to a member (--person) or a group (--group) of an organisation.
    Add {
        #[arg(long)]
        org: String,
        #[arg(long, conflicts_with = "group", required_unless_present = "group")]
        person: Option<String>,
        #[arg(long)]
        group: Option<String>,
        /// `all`, `provider:<DV entity ID>` or `service:<ServiceUUID>`.
        #[arg(long, value_parser = parse_scope)]
        scope: Scope,
        #[arg(long, value_parser = parse_level)]
        level: Level,
        /// Start (RFC 3339 or YYYY-MM-DD); default now.
        #[arg(long, value_parser = parse_instant)]
        from: Option<DateTime<Utc>>,
        /// End (RFC 3339 or YYYY-MM-DD).
        #[arg(long, value_parser = parse_instant, conflicts_with = "years", required_unless_present = "years")]
        until: Option<DateTime<Utc>>,
        /// Or a validity of 1 to 5 years from the start.
        #[arg(long)]
        years: Option<u32>,
        /// The grant's ID (default: made up).
        #[arg(long)]
        id: Option<String>,
        #[command(flatten)]
        actor: ActorArg,
    },
    /// Renew a grant by 1, 3 or 5 years, or until a date.
    Renew {
        grant: String,
        #[arg(long, conflicts_with = "until", required_unless_present = "until")]
        years: Option<u32>,
        #[arg(long, value_parser = parse_instant)]
        until: Option<DateTime<Utc>>,
        #[command(flatten)]
        actor: ActorArg,
    },
    /// Revoke a grant: refused on every replica from the next login on.
    Revoke {
        grant: String,
        #[command(flatten)]
        actor: ActorArg,
    },
    /// Make a revoked or lapsed grant active again.
    Reactivate {
        grant: String,
        #[command(flatten)]
        actor: ActorArg,
    },
    /// List grants.
    List {
        #[arg(long)]
        org: Option<String>,
        #[arg(long)]
        person: Option<String>,
        #[arg(long, value_enum)]
        status: Option<StatusArg>,
        /// Only grants that cover this service (ID or ServiceUUID from the catalogue).
        #[arg(long)]
        service: Option<String>,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Write grants as CSV or JSON, in the form `grants import` reads.
    Export {
        #[arg(long, value_enum, default_value = "csv")]
        format: Format,
        #[arg(long)]
        org: Option<String>,
        /// File to write (default: standard output).
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Read grants from a CSV, JSON or TOML (seed) file: all of them, or none.
    Import {
        file: PathBuf,
        /// Default: from the file's extension.
        #[arg(long, value_enum)]
        format: Option<Format>,
        #[command(flatten)]
        actor: ActorArg,
    },
    /// Why a login by this person to this service would be allowed or refused, rule by rule.
    Explain {
        #[arg(long)]
        person: String,
        /// Service ID or ServiceUUID from the catalogue.
        #[arg(long)]
        service: String,
        /// The level the identity provider asserts (default: the service's level).
        #[arg(long, value_parser = parse_level)]
        level: Option<Level>,
    },
}

#[derive(Subcommand, Debug)]
pub enum RegisterCommand {
    /// Fill an empty register with a synthetic population, for benchmarks: by default 1,000,000
    /// grants over 100,000 organisations and 300,000 persons; the same rows for the same seed
    /// and --now.
    Generate {
        /// Default: the config's [register] database. It must be empty.
        #[arg(long)]
        database: Option<String>,
        #[arg(long, default_value_t = 100_000)]
        organisations: u32,
        #[arg(long, default_value_t = 300_000)]
        persons: u32,
        #[arg(long, default_value_t = 1_000_000)]
        grants: u32,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The instant validity and use are drawn around (default: now).
        #[arg(long, value_parser = parse_instant)]
        now: Option<DateTime<Utc>>,
    },
}

pub async fn register(config_path: &Path, command: RegisterCommand) -> anyhow::Result<()> {
    use crate::grants::generate::{generate, GenerateSpec};
    match command {
        RegisterCommand::Generate {
            database,
            organisations,
            persons,
            grants,
            seed,
            now,
        } => {
            let database = match database {
                Some(url) => url,
                None => Config::load(config_path)?.register.database,
            };
            let mut spec = GenerateSpec {
                organisations,
                persons,
                grants,
                seed,
                ..GenerateSpec::default()
            };
            if let Some(now) = now {
                spec.now = now;
            }
            let register = crate::grants::registry::connect_database(&database)
                .await
                .with_context(|| format!("opening {database}"))?;
            println!(
                "generating into {database}: {organisations} organisations, {persons} persons, \
                 {grants} grants, seed {seed}, now {}",
                spec.now.to_rfc3339()
            );
            let report = generate(&register, &spec).await?;
            register.close().await;
            for t in &report.tables {
                println!(
                    "{:<18} {:>10} rows {:>8.1} s",
                    t.table,
                    t.rows,
                    t.elapsed.as_secs_f64()
                );
            }
            println!(
                "{} rows in {:.1} s ({:.0} rows/s)",
                report.rows(),
                report.elapsed.as_secs_f64(),
                report.rows_per_second()
            );
        }
    }
    Ok(())
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Check the hash chain of the whole audit trail: an edited or removed entry is reported
    /// with its ID (exit status 1). Prints the count and the head hash to keep elsewhere.
    Verify,
}

pub async fn audit(config: &Path, command: AuditCommand) -> anyhow::Result<()> {
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

#[derive(Subcommand, Debug)]
pub enum OidcCommand {
    /// Rotate the ID-token signing keys: the announced next key signs from now on, the old one
    /// stays published until the tokens it signed have expired, and a new next key is made.
    /// Restart (or roll) the replicas afterwards; they share the key folder.
    RotateKeys,
    /// Show the published keys.
    Keys,
}

pub async fn oidc(config_path: &Path, command: OidcCommand) -> anyhow::Result<()> {
    let config = Config::load(config_path)?;
    let dir = &config.oidc.keys_dir;
    let keys = match command {
        OidcCommand::RotateKeys => {
            let keys = crate::oidc::ProviderKeys::rotate(dir)?;
            println!("rotated the keys in {}", dir.display());
            keys
        }
        OidcCommand::Keys => crate::oidc::ProviderKeys::load(dir, false)?,
    };
    for set in [&keys.rs256, &keys.es256] {
        println!("{} current  {}", set.current.alg, set.current.kid);
        if let Some(next) = &set.next {
            println!("{} next     {}", next.alg, next.kid);
        }
        for old in &set.previous {
            println!("{} previous {}", old.alg, old.kid);
        }
    }
    Ok(())
}

/// A role on the command line, in any case (`--role Beheerder`).
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

async fn open(config: &Path) -> anyhow::Result<(Config, Registry)> {
    let config = Config::load(config)?;
    let registry = Registry::open(&config)
        .await
        .with_context(|| format!("opening the register {}", config.register.database))?;
    Ok((config, registry))
}

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

pub async fn org(config: &Path, command: OrgCommand) -> anyhow::Result<()> {
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
            let actor = ActorArg { by: None }.actor();
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

pub async fn person(config: &Path, command: PersonCommand) -> anyhow::Result<()> {
    let (_, registry) = open(config).await?;
    match command {
        PersonCommand::Link {
            person,
            idp,
            subject,
            name,
        } => {
            let actor = ActorArg { by: None }.actor();
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

pub async fn member(config: &Path, command: MemberCommand) -> anyhow::Result<()> {
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

pub async fn group(config: &Path, command: GroupCommand) -> anyhow::Result<()> {
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

fn record_row(g: &GrantRecord) -> GrantRow {
    let (person, group) = match &g.holder {
        Holder::Person(p) => (Some(p.clone()), None),
        Holder::Group(n) => (None, Some(n.clone())),
    };
    GrantRow {
        id: Some(g.id.clone()),
        organisation: g.organisation.kvk.clone(),
        person,
        group,
        scope: g.scope.clone(),
        level: g.level,
        valid_from: g.valid_from,
        valid_until: g.valid_until,
        status: g.status,
    }
}

fn scope_text(scope: &Scope) -> String {
    match scope {
        Scope::AllServices => "all services".into(),
        Scope::Provider { provider } => format!("provider {provider}"),
        Scope::Service { uuid } => format!("service {uuid}"),
    }
}

fn print_table(grants: &[GrantRecord]) {
    println!(
        "{:<36} {:<8} {:<20} {:<5} {:<10} {:<10} {:<7} scope",
        "grant", "kvk", "holder", "level", "from", "until", "status"
    );
    for g in grants {
        let holder = match &g.holder {
            Holder::Person(p) => p.clone(),
            Holder::Group(n) => format!("group:{n}"),
        };
        println!(
            "{:<36} {:<8} {:<20} {:<5} {:<10} {:<10} {:<7} {}",
            g.id,
            g.organisation.kvk,
            holder,
            g.level.to_string(),
            g.valid_from.format("%Y-%m-%d"),
            g.valid_until.format("%Y-%m-%d"),
            match g.status {
                GrantStatus::Active => "active",
                GrantStatus::Revoked => "revoked",
            },
            scope_text(&g.scope)
        );
    }
    println!("{} grant(s)", grants.len());
}

pub async fn grants(config_path: &Path, command: GrantsCommand) -> anyhow::Result<()> {
    let (config, registry) = open(config_path).await?;
    let sql = registry.sql();
    match command {
        GrantsCommand::Add {
            org,
            person,
            group,
            scope,
            level,
            from,
            until,
            years,
            id,
            actor,
        } => {
            let holder = match (person, group) {
                (Some(p), None) => Holder::Person(p),
                (None, Some(g)) => Holder::Group(g),
                _ => bail!("give the holder: --person or --group"),
            };
            let valid_from = from.unwrap_or_else(Utc::now);
            let valid_until = match (until, years) {
                (Some(u), _) => u,
                (None, Some(y)) if (1..=5).contains(&y) => valid_from
                    .checked_add_months(chrono::Months::new(y * 12))
                    .ok_or_else(|| anyhow!("validity out of range"))?,
                (None, Some(y)) => bail!("--years {y}: a grant is valid 1 to 5 years"),
                (None, None) => bail!("give --until or --years"),
            };
            let request = GrantRequest {
                id,
                organisation: org,
                holder,
                scope,
                level,
                valid_from,
                valid_until,
            };
            let id = registry
                .write(sql.add_grant(&actor.actor(), &config.services, &request))
                .await?;
            println!("grant {id} added");
        }
        GrantsCommand::Renew {
            grant,
            years,
            until,
            actor,
        } => {
            let renewal = match (years, until) {
                (Some(y), _) => Renewal::Years(y),
                (None, Some(u)) => Renewal::Until(u),
                (None, None) => bail!("give --years 1|3|5 or --until"),
            };
            let until = registry
                .write(sql.renew_grant(&actor.actor(), &grant, renewal))
                .await?;
            println!(
                "grant {grant} valid until {}",
                until.format("%Y-%m-%d %H:%M UTC")
            );
        }
        GrantsCommand::Revoke { grant, actor } => {
            registry
                .write(sql.revoke_grant(&actor.actor(), &grant))
                .await?;
            println!("grant {grant} revoked");
        }
        GrantsCommand::Reactivate { grant, actor } => {
            registry
                .write(sql.reactivate_grant(&actor.actor(), &grant))
                .await?;
            println!("grant {grant} active again");
        }
        GrantsCommand::List {
            org,
            person,
            status,
            service,
            format,
        } => {
            let service = match service {
                Some(key) => Some(service_ref(find_service(&config, &key)?)),
                None => None,
            };
            let filter = GrantFilter {
                organisation: org,
                person,
                status: status.map(|s| match s {
                    StatusArg::Active => GrantStatus::Active,
                    StatusArg::Revoked => GrantStatus::Revoked,
                }),
                service,
                ..GrantFilter::default()
            };
            let grants = sql.list_grants(&filter).await?;
            match format {
                Format::Table => print_table(&grants),
                Format::Csv => print!(
                    "{}",
                    exchange::to_csv(&grants.iter().map(record_row).collect::<Vec<_>>())
                ),
                Format::Json => println!(
                    "{}",
                    exchange::to_json(&grants.iter().map(record_row).collect::<Vec<_>>())
                ),
            }
        }
        GrantsCommand::Export {
            format,
            org,
            output,
        } => {
            let filter = GrantFilter {
                organisation: org,
                ..GrantFilter::default()
            };
            let rows: Vec<GrantRow> = sql
                .list_grants(&filter)
                .await?
                .iter()
                .map(record_row)
                .collect();
            let text = match format {
                Format::Json => exchange::to_json(&rows),
                Format::Csv | Format::Table => exchange::to_csv(&rows),
            };
            match output {
                Some(path) => {
                    std::fs::write(&path, text)
                        .with_context(|| format!("writing {}", path.display()))?;
                    eprintln!("{} grant(s) written to {}", rows.len(), path.display());
                }
                None => print!("{text}"),
            }
        }
        GrantsCommand::Import {
            file,
            format,
            actor,
        } => import(&config, &registry, &file, format, &actor.actor()).await?,
        GrantsCommand::Explain {
            person,
            service,
            level,
        } => explain(&config, &registry, &person, &service, level).await?,
    }
    Ok(())
}

async fn import(
    config: &Config,
    registry: &Registry,
    file: &Path,
    format: Option<Format>,
    actor: &Actor,
) -> anyhow::Result<()> {
    let ext = file
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if ext == "toml" && format.is_none() {
        // The seed format: organisations, persons, memberships and grants together.
        let seed = crate::grants::load_grants_file(file)?;
        registry.sql().import(&seed).await?;
        // Every identity in the file may have been cached as unknown until now.
        registry
            .invalidate(&crate::grants::Touched {
                links: seed
                    .persons
                    .iter()
                    .flat_map(|p| &p.links)
                    .map(|l| crate::grants::IdentityKey::new(&l.idp, &l.subject))
                    .collect(),
            })
            .await;
        println!(
            "imported {} organisation(s), {} person(s), {} grant(s) from {}",
            seed.organisations.len(),
            seed.persons.len(),
            seed.grants.len(),
            file.display()
        );
        return Ok(());
    }
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let format = format.unwrap_or(if ext == "json" {
        Format::Json
    } else {
        Format::Csv
    });
    let exchange::Parsed { rows, errors } = match format {
        Format::Json => exchange::read_json(&text),
        Format::Csv | Format::Table => exchange::read_csv(&text),
    };
    let rows: Vec<ImportRow> = rows
        .into_iter()
        .map(|(line, row)| ImportRow {
            line,
            status: row.status,
            request: GrantRequest {
                id: row.id,
                organisation: row.organisation,
                holder: match (row.person, row.group) {
                    (Some(p), _) => Holder::Person(p),
                    (None, Some(g)) => Holder::Group(g),
                    (None, None) => Holder::Person(String::new()),
                },
                scope: row.scope,
                level: row.level,
                valid_from: row.valid_from,
                valid_until: row.valid_until,
            },
        })
        .collect();
    if !errors.is_empty() {
        // What the register says of the rows that did read, too: one report, every bad row.
        let refused = registry
            .sql()
            .check_grants(actor, &config.services, &rows)
            .await?;
        let mut report: Vec<(usize, String)> = errors
            .into_iter()
            .map(|e| (e.line, e.message))
            .chain(refused.iter().map(|(line, e)| (*line, e.to_string())))
            .collect();
        report.sort_by_key(|(line, _)| *line);
        for (line, message) in &report {
            eprintln!("{}: line {line}: {message}", file.display());
        }
        bail!(
            "{} bad row(s) in {}; nothing imported",
            report.len(),
            file.display()
        );
    }
    let count = rows.len();
    let result = registry
        .write(async {
            registry
                .sql()
                .import_grants(actor, &config.services, &rows)
                .await
        })
        .await;
    match result {
        Ok(_) => {
            println!("imported {count} grant(s) from {}", file.display());
            Ok(())
        }
        Err(ImportError::Rows(bad)) => {
            for (line, e) in &bad {
                eprintln!("{}: line {line}: {e}", file.display());
            }
            bail!(
                "{} bad row(s) in {}; nothing imported",
                bad.len(),
                file.display()
            )
        }
        Err(e) => Err(e.into()),
    }
}

async fn explain(
    config: &Config,
    registry: &Registry,
    person: &str,
    service_key: &str,
    level: Option<Level>,
) -> anyhow::Result<()> {
    let service = find_service(config, service_key)?;
    let service_ref = service_ref(service);
    let links = registry.sql().identity_links(person).await?;
    let Some(link) = links.first() else {
        bail!("person {person} has no identity link (or does not exist)");
    };
    let achieved = level.unwrap_or(service.level);
    let now = Utc::now();
    // Read from the database itself: the explanation is about the truth, not the cache.
    let grants = crate::grants::Register::grants_for(registry.sql(), &link.idp, &link.subject)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    println!(
        "login by {person} ({} at {}) to {} \"{}\" of {}",
        link.subject, link.idp, service.id, service.name_en, service.provider
    );
    println!(
        "required level {} (the catalogue's); asserted level {achieved}; now {}",
        service.level,
        now.format("%Y-%m-%d %H:%M UTC")
    );
    if grants.grants.is_empty() {
        println!("\n{person} holds no grants at all.");
    }
    for g in &grants.grants {
        println!(
            "\ngrant {} for {} ({}), {}, level {}",
            g.grant_id,
            g.organisation.name,
            g.organisation.kvk,
            scope_text(&g.scope),
            g.level
        );
        let checks = rule_checks(
            service.level,
            Comparison::Minimum,
            achieved,
            &service_ref,
            g,
            now,
        );
        let mut failed = false;
        for c in &checks {
            let mark = if failed {
                "  -  "
            } else if c.passed {
                "  ok "
            } else {
                failed = true;
                "  NO "
            };
            println!("{mark} {:<28} {}", c.rule, c.detail);
        }
        println!(
            "  => {}",
            if failed {
                "not usable for this login"
            } else {
                "usable"
            }
        );
    }
    let result = AuthnResult {
        idp: link.idp.clone(),
        subject: link.subject.clone(),
        level: achieved,
        authn_instant: now,
    };
    let decision = decide(
        service.level,
        Comparison::Minimum,
        &result,
        &service_ref,
        &grants.grants,
        now,
    );
    println!();
    match decision {
        crate::domain::decision::Decision::Allow(c) => println!(
            "decision: ALLOWED for {} ({}) at {} with grant {}",
            c.organisation.name, c.organisation.kvk, c.level_used, c.grant_id
        ),
        crate::domain::decision::Decision::ChooseOrganisation(cs) => {
            println!("decision: ALLOWED; the person chooses the organisation:");
            for c in cs {
                println!(
                    "  {} ({}) at {} with grant {}",
                    c.organisation.name, c.organisation.kvk, c.level_used, c.grant_id
                );
            }
        }
        crate::domain::decision::Decision::Deny(reason) => {
            println!(
                "decision: REFUSED ({})",
                crate::web::errors::deny_code(&reason)
            )
        }
    }
    Ok(())
}
