//! `poort grants explain`: why a login by a person to a service would be allowed or refused,
//! rule by rule, read from the database itself.

use super::scope_text;
use crate::cli::{find_service, service_ref};
use crate::config::Config;
use crate::domain::decision::{decide, rule_checks};
use crate::domain::level::{Comparison, Level};
use crate::domain::login::AuthnResult;
use crate::grants::Registry;
use anyhow::{anyhow, bail};
use chrono::Utc;

pub(super) async fn explain(
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
        attributes: Vec::new(),
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
