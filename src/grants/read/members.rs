//! An organisation's members as the admin module lists them: one page of the list (searched and
//! filtered by the database) with each member's roles and groups, one member, and the groups an
//! administrator administers.

use crate::domain::grant::Role;
use crate::grants::db::{like_pattern, sql, Args, Sql};
use crate::grants::error::corrupt;
use crate::grants::error::WriteError;
use crate::grants::sql::{parse_role, SqlRegister};
use crate::grants::views::{MemberStatus, MemberView};
use chrono::{DateTime, Utc};

/// Which members to list; every field narrows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberQuery {
    /// Part of the name or e-mail address, any case.
    pub search: Option<String>,
    pub status: Option<MemberStatus>,
    /// One person.
    pub person: Option<String>,
    /// Only members of these groups (a groepsbeheerder's view); `None`: everyone.
    pub groups: Option<Vec<String>>,
}

type MemberRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    bool,
    Option<DateTime<Utc>>,
    i64,
);

const MEMBER_COLUMNS: &str = "m.id, m.person_id, p.name, p.email, p.phone, p.language, m.blocked, \
     m.last_login_at, \
     CAST((SELECT COUNT(*) FROM identity_links l WHERE l.person_id = m.person_id) AS BIGINT)";

impl SqlRegister {
    /// One page of an organisation's members (by name) and how many match: the database
    /// searches, filters and pages, so a list of 10,000 members reads only the page.
    pub async fn list_members(
        &self,
        kvk: &str,
        query: &MemberQuery,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<MemberView>, usize), WriteError> {
        let search = query
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(like_pattern);
        // The KvK number, search pattern and person are parameters (NULL when not asked); the
        // status and the group list (names bound as parameters) become SQL text.
        let mut args = Args::default();
        let (kvk, search, person) = (
            args.push(kvk),
            args.push(search),
            args.push(query.person.as_deref()),
        );
        let mut filter = format!(
            "FROM memberships m JOIN persons p ON p.id = m.person_id \
             JOIN organisations o ON o.id = m.organisation_id \
             WHERE o.kvk = {kvk} \
               AND ({search} IS NULL OR lower(COALESCE(p.name, '')) LIKE {search} ESCAPE '\\' \
                    OR lower(COALESCE(p.email, '')) LIKE {search} ESCAPE '\\') \
               AND ({person} IS NULL OR m.person_id = {person})"
        );
        let linked = "EXISTS (SELECT 1 FROM identity_links l WHERE l.person_id = m.person_id)";
        match query.status {
            None => {}
            Some(MemberStatus::Blocked) => filter.push_str(" AND m.blocked"),
            Some(MemberStatus::Active) => {
                filter.push_str(&format!(" AND NOT m.blocked AND {linked}"))
            }
            Some(MemberStatus::Invited) => {
                filter.push_str(&format!(" AND NOT m.blocked AND NOT {linked}"))
            }
        }
        if let Some(groups) = &query.groups {
            let list = args.list(groups);
            filter.push_str(&format!(
                " AND m.id IN (SELECT gm.membership_id FROM group_members gm \
                   JOIN groups g ON g.id = gm.group_id \
                  WHERE g.organisation_id = m.organisation_id AND g.name IN ({list}))"
            ));
        }
        // `usize::MAX`: everyone (an organisation's whole list, e.g. `poort org show`).
        let paging = if limit == usize::MAX {
            String::new()
        } else {
            format!("LIMIT {limit} OFFSET {offset}")
        };
        // The page is chosen by membership ID first (filter, sort, skip on two columns), and
        // only its rows get their details: the link count, roles and groups.
        let order = "ORDER BY lower(COALESCE(p.name, p.email, '')), m.person_id";
        // The page's IDs and, in the same pass, how many match.
        let ids: Vec<(String, i64)> = Sql::assembled(
            format!("SELECT m.id, CAST(COUNT(*) OVER () AS BIGINT) {filter} {order} {paging}"),
            args.clone(),
        )
        .fetch_all(self.pool())
        .await?;
        let total = match ids.first() {
            Some((_, total)) => *total,
            // An empty page (or none asked for) says nothing of the total.
            None => {
                Sql::assembled(format!("SELECT COUNT(*) {filter}"), args)
                    .scalar(self.pool())
                    .await?
            }
        };
        // The rows in the IDs' order, a chunk at a time (an organisation may have more members
        // than a statement may have parameters).
        let mut rows: Vec<MemberRow> = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let mut args = Args::default();
            let list = args.list(chunk.iter().map(|(id, _)| id.as_str()));
            let text = format!(
                "SELECT {MEMBER_COLUMNS} FROM memberships m \
                 JOIN persons p ON p.id = m.person_id \
                 WHERE m.id IN ({list}) {order}"
            );
            let page: Vec<MemberRow> = Sql::assembled(text, args).fetch_all(self.pool()).await?;
            rows.extend(page);
        }
        let mut roles: Vec<(String, String)> = Vec::new();
        let mut in_groups: Vec<(String, String, bool)> = Vec::new();
        for chunk in rows.chunks(500) {
            let mut args = Args::default();
            let list = args.list(chunk.iter().map(|row| row.0.as_str()));
            let these: Vec<(String, String)> = Sql::assembled(
                format!(
                    "SELECT membership_id, role FROM membership_roles \
                     WHERE membership_id IN ({list})"
                ),
                args.clone(),
            )
            .fetch_all(self.pool())
            .await?;
            roles.extend(these);
            let these: Vec<(String, String, bool)> = Sql::assembled(
                format!(
                    "SELECT gm.membership_id, g.name, gm.blocked FROM group_members gm \
                     JOIN groups g ON g.id = gm.group_id \
                     WHERE gm.membership_id IN ({list}) ORDER BY g.name"
                ),
                args,
            )
            .fetch_all(self.pool())
            .await?;
            in_groups.extend(these);
        }
        let views = member_views(rows, &roles, &in_groups)?;
        Ok((views, usize::try_from(total).unwrap_or(0)))
    }

    /// The groups (by name) a person administers in the organisation: their group membership
    /// is marked `admin` and not blocked (what `authorise!` asks of a groepsbeheerder).
    pub async fn administered_groups(
        &self,
        kvk: &str,
        person: &str,
    ) -> Result<Vec<String>, WriteError> {
        const SQL: &str = "SELECT g.name FROM group_members gm \
             JOIN groups g ON g.id = gm.group_id \
             JOIN memberships m ON m.id = gm.membership_id \
             JOIN organisations o ON o.id = m.organisation_id \
            WHERE o.kvk = $1 AND m.person_id = $2 AND gm.admin AND NOT gm.blocked \
            ORDER BY g.name";
        Ok(sql(SQL).bind(kvk).bind(person).scalars(self.pool()).await?)
    }

    /// One member of the organisation, or `None`.
    pub async fn member(&self, kvk: &str, person: &str) -> Result<Option<MemberView>, WriteError> {
        let query = MemberQuery {
            person: Some(person.to_string()),
            ..Default::default()
        };
        Ok(self
            .list_members(kvk, &query, 0, 1)
            .await?
            .0
            .into_iter()
            .next())
    }
}

/// Members with their roles and groups, from one page's rows.
fn member_views(
    rows: Vec<MemberRow>,
    roles: &[(String, String)],
    in_groups: &[(String, String, bool)],
) -> Result<Vec<MemberView>, WriteError> {
    let mut roles_of: std::collections::HashMap<&str, Vec<Role>> = Default::default();
    for (m, role) in roles {
        let role = parse_role(role).map_err(|e| corrupt(e.to_string()))?;
        roles_of.entry(m.as_str()).or_default().push(role);
    }
    let mut groups_of: std::collections::HashMap<&str, Vec<(String, bool)>> = Default::default();
    for (m, g, b) in in_groups {
        groups_of
            .entry(m.as_str())
            .or_default()
            .push((g.clone(), *b));
    }
    let mut out = Vec::with_capacity(rows.len());
    for (membership, person, name, email, phone, language, blocked, last_login, links) in rows {
        let mut member_roles = roles_of.remove(membership.as_str()).unwrap_or_default();
        member_roles.sort_by_key(|r| *r as u8);
        let status = if blocked {
            MemberStatus::Blocked
        } else if links == 0 {
            MemberStatus::Invited
        } else {
            MemberStatus::Active
        };
        out.push(MemberView {
            person,
            name,
            email,
            phone,
            language,
            roles: member_roles,
            blocked,
            status,
            last_login,
            groups: groups_of.remove(membership.as_str()).unwrap_or_default(),
        });
    }
    Ok(out)
}
