//! Grants as listed and exported: filtered by organisation, person, status, service, validity,
//! the holder's name or the groups a groepsbeheerder administers, paged by the database.

use crate::domain::grant::{GrantStatus, Organisation, ServiceRef};
use crate::domain::level::Level;
use crate::grants::db::{like_pattern, Args, Sql};
use crate::grants::error::corrupt;
use crate::grants::error::WriteError;
use crate::grants::sql::{scope_from_columns, status_text, SqlRegister};
use crate::grants::views::{GrantRecord, Holder};
use chrono::{DateTime, Utc};
use std::str::FromStr;

/// Which grants to list; every field narrows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrantFilter {
    /// KvK number.
    pub organisation: Option<String>,
    /// Grants this person holds, directly or through a group.
    pub person: Option<String>,
    pub status: Option<GrantStatus>,
    /// Grants whose scope covers this catalogue service (by ServiceUUID).
    pub service: Option<ServiceRef>,
    /// One grant by its ID.
    pub id: Option<String>,
    /// In force at this instant (active and not ended) or not (revoked or ended).
    pub in_force: Option<(bool, DateTime<Utc>)>,
    /// Part of the holder's name (the person's or the group's), case-insensitive.
    pub search: Option<String>,
    /// Only grants held by these groups (by name) or by their members: a groepsbeheerder's view.
    pub groups: Option<Vec<String>>,
}

impl SqlRegister {
    /// Grants matching the filter, by organisation name, then ID.
    pub async fn list_grants(&self, filter: &GrantFilter) -> Result<Vec<GrantRecord>, WriteError> {
        Ok(self.grants_where(filter, None).await?.0)
    }

    /// One page of the grants matching the filter (`offset`, `limit`), and how many match in
    /// all: the database pages, so an organisation with 100,000 grants reads only the page.
    pub async fn list_grants_page(
        &self,
        filter: &GrantFilter,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<GrantRecord>, usize), WriteError> {
        self.grants_where(filter, Some((offset, limit))).await
    }

    async fn grants_where(
        &self,
        filter: &GrantFilter,
        page: Option<(usize, usize)>,
    ) -> Result<(Vec<GrantRecord>, usize), WriteError> {
        // Only the filters in use become SQL (a generic `$1 = '' OR …` would keep SQLite from
        // its indexes), and a page is chosen by grant ID first, joining only its 50 rows: an
        // organisation's 100,000 grants are counted and skipped in the index alone.
        let mut args = Args::default();
        let mut conds: Vec<String> = Vec::new();
        if let Some(kvk) = &filter.organisation {
            let p = args.push(kvk);
            conds.push(format!(
                "g.organisation_id = (SELECT id FROM organisations WHERE kvk = {p})"
            ));
        }
        if let Some(status) = filter.status {
            let p = args.push(status_text(status));
            conds.push(format!("g.status = {p}"));
        }
        if let Some(person) = &filter.person {
            let p = args.push(person);
            conds.push(format!(
                "(g.membership_id IN (SELECT id FROM memberships WHERE person_id = {p}) \
                  OR g.group_id IN (SELECT gm.group_id FROM group_members gm \
                     JOIN memberships pm ON pm.id = gm.membership_id WHERE pm.person_id = {p}))"
            ));
        }
        if let Some(id) = &filter.id {
            let p = args.push(id);
            conds.push(format!("g.id = {p}"));
        }
        if let Some(service) = &filter.service {
            let (provider, uuid) = (args.push(&service.provider), args.push(&service.uuid));
            conds.push(format!(
                "(g.scope_kind = 'all_services' \
                  OR (g.scope_kind = 'provider' AND g.provider = {provider}) \
                  OR (g.scope_kind = 'service' AND g.service_uuid = {uuid}))"
            ));
        }
        if let Some((in_force, at)) = filter.in_force {
            let p = args.push(at);
            conds.push(if in_force {
                format!("(g.status = 'active' AND g.valid_until > {p})")
            } else {
                format!("(g.status = 'revoked' OR g.valid_until <= {p})")
            });
        }
        let search = filter
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        if let Some(text) = search {
            let p = args.push(like_pattern(text));
            conds.push(format!(
                "lower(COALESCE(p.name, gr.name, '')) LIKE {p} ESCAPE '\\'"
            ));
        }
        if let Some(groups) = &filter.groups {
            let list = args.list(groups);
            conds.push(format!(
                "(g.group_id IN (SELECT id FROM groups WHERE organisation_id = g.organisation_id \
                                 AND name IN ({list})) \
                  OR g.membership_id IN (SELECT gm.membership_id FROM group_members gm \
                     JOIN groups sg ON sg.id = gm.group_id \
                    WHERE sg.organisation_id = g.organisation_id AND sg.name IN ({list})))"
            ));
        }
        let filters = if conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conds.join(" AND "))
        };
        // Within one organisation the ID orders alone (and an index serves it).
        let by_organisation = filter.organisation.is_none();
        let order = if by_organisation {
            " ORDER BY o.name, g.id"
        } else {
            " ORDER BY g.id"
        };
        let mut joins = String::new();
        if by_organisation {
            joins.push_str(" JOIN organisations o ON o.id = g.organisation_id");
        }
        if search.is_some() {
            joins.push_str(
                " LEFT JOIN memberships m ON m.id = g.membership_id \
                  LEFT JOIN persons p ON p.id = m.person_id \
                  LEFT JOIN groups gr ON gr.id = g.group_id",
            );
        }
        const COLUMNS: &str = "SELECT g.id, o.kvk, o.rsin, o.name, m.person_id, gr.name, \
            g.scope_kind, g.provider, g.service_uuid, g.level, g.valid_from, g.valid_until, \
            g.status, g.last_used_at, g.created_by, p.name \
            FROM grants g JOIN organisations o ON o.id = g.organisation_id \
            LEFT JOIN memberships m ON m.id = g.membership_id \
            LEFT JOIN persons p ON p.id = m.person_id \
            LEFT JOIN groups gr ON gr.id = g.group_id";
        let (text, count) = match page {
            Some((offset, limit)) => (
                format!(
                    "{COLUMNS} WHERE g.id IN (SELECT g.id FROM grants g{joins}{filters}{order} \
                     LIMIT {limit} OFFSET {offset}){order}"
                ),
                Some(format!("SELECT COUNT(*) FROM grants g{joins}{filters}")),
            ),
            None => (format!("{COLUMNS}{filters}{order}"), None),
        };
        let rows: Vec<GrantRow> = Sql::assembled(text, args.clone())
            .fetch_all(self.pool())
            .await?;
        let total: Option<i64> = match count {
            Some(count) => Some(Sql::assembled(count, args).scalar(self.pool()).await?),
            None => None,
        };
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(grant_record(r)?);
        }
        let total = total.map_or(out.len(), |t| usize::try_from(t).unwrap_or(0));
        Ok((out, total))
    }
}

/// A row of the grant listing query.
type GrantRow = (
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    String,
    DateTime<Utc>,
    DateTime<Utc>,
    String,
    Option<DateTime<Utc>>,
    Option<String>,
    Option<String>,
);

fn grant_record(r: GrantRow) -> Result<GrantRecord, WriteError> {
    let Some(scope) = scope_from_columns(&r.6, r.7, r.8) else {
        return Err(corrupt(format!("grant {}: scope {:?}", r.0, r.6)));
    };
    let holder = match (r.4, r.5) {
        (Some(person), None) => Holder::Person(person),
        (None, Some(group)) => Holder::Group(group),
        _ => return Err(corrupt(format!("grant {}: no single holder", r.0))),
    };
    let level = Level::from_str(&r.9).map_err(|e| corrupt(format!("grant {}: {e}", r.0)))?;
    let status = match r.12.as_str() {
        "active" => GrantStatus::Active,
        "revoked" => GrantStatus::Revoked,
        other => return Err(corrupt(format!("grant {}: status {other:?}", r.0))),
    };
    let record = GrantRecord {
        id: r.0,
        organisation: Organisation {
            kvk: r.1,
            rsin: r.2,
            name: r.3,
        },
        holder,
        scope,
        level,
        valid_from: r.10,
        valid_until: r.11,
        status,
        last_used_at: r.13,
        created_by: r.14,
        holder_name: r.15,
    };
    Ok(record)
}
