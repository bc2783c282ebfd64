//! An organisation's members as the admin module lists and changes them: one page of the list
//! (searched and filtered by the database), a member's details, and removing a member.

use super::*;

/// Where a member stands in the organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberStatus {
    /// Invited, not logged in yet: no identity is bound to them.
    Invited,
    Active,
    /// Blocked for the whole organisation.
    Blocked,
}

impl MemberStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::Invited => "invited",
            MemberStatus::Active => "active",
            MemberStatus::Blocked => "blocked",
        }
    }
}

impl FromStr for MemberStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "invited" => Ok(MemberStatus::Invited),
            "active" => Ok(MemberStatus::Active),
            "blocked" => Ok(MemberStatus::Blocked),
            other => Err(format!(
                "unknown status {other:?}: use invited, active or blocked"
            )),
        }
    }
}

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

/// A member's own details, as an administrator may correct them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct MemberDetails {
    pub name: String,
    pub email: String,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
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

/// A group of the organisation that `$person` is in and the acting administrator administers
/// (the first by ID), so that a groepsbeheerder may act on members of their groups.
macro_rules! admin_group_of {
    ($tx:ident, $actor:expr, $person:expr, $org_id:expr) => {{
        match $actor {
            Actor::Admin(admin) => {
                let found: Option<String> = sqlx::query_scalar(
                    "SELECT gm.group_id FROM group_members gm \
                       JOIN memberships m ON m.id = gm.membership_id \
                      WHERE m.person_id = $1 AND m.organisation_id = $3 AND gm.group_id IN ( \
                        SELECT a.group_id FROM group_members a \
                          JOIN memberships am ON am.id = a.membership_id \
                         WHERE am.person_id = $2 AND a.admin AND NOT a.blocked) \
                      ORDER BY gm.group_id LIMIT 1",
                )
                .bind($person)
                .bind(admin)
                .bind($org_id)
                .fetch_optional(&mut *$tx)
                .await?;
                found
            }
            _ => None,
        }
    }};
}

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
        // Parameters: $1 KvK, $2 search pattern or NULL, $3 person or NULL; the status and the
        // group list (IDs are names bound as parameters from $4) become SQL text.
        let mut filter = String::from(
            "FROM memberships m JOIN persons p ON p.id = m.person_id \
             JOIN organisations o ON o.id = m.organisation_id \
             WHERE o.kvk = $1 \
               AND ($2 IS NULL OR lower(COALESCE(p.name, '')) LIKE $2 ESCAPE '\\' \
                    OR lower(COALESCE(p.email, '')) LIKE $2 ESCAPE '\\') \
               AND ($3 IS NULL OR m.person_id = $3)",
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
        let groups = query.groups.clone().unwrap_or_default();
        if query.groups.is_some() {
            let marks: Vec<String> = (0..groups.len()).map(|i| format!("${}", i + 4)).collect();
            let list = if marks.is_empty() {
                "NULL".to_string()
            } else {
                marks.join(", ")
            };
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
        let count_sql = format!("SELECT COUNT(*) {filter}");
        let search = query
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(like_pattern);
        // The page is chosen by membership ID first (filter, sort, skip on two columns), and
        // only its rows get their details: the link count, roles and groups.
        let order = "ORDER BY lower(COALESCE(p.name, p.email, '')), m.person_id";
        // The page's IDs and, in the same pass, how many match.
        let ids_sql =
            format!("SELECT m.id, CAST(COUNT(*) OVER () AS BIGINT) {filter} {order} {paging}");
        macro_rules! bound {
            ($q:expr) => {{
                let mut q = $q.bind(kvk).bind(search.clone()).bind(query.person.clone());
                for g in &groups {
                    q = q.bind(g.clone());
                }
                q
            }};
        }
        macro_rules! fetch {
            ($p:expr) => {{
                let ids = bound!(sqlx::query_as::<_, (String, i64)>(sqlx::AssertSqlSafe(
                    ids_sql.clone()
                )))
                .fetch_all($p)
                .await?;
                let total = match ids.first() {
                    Some((_, total)) => *total,
                    // An empty page (or none asked for) says nothing of the total.
                    None => {
                        bound!(sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(
                            count_sql.clone()
                        )))
                        .fetch_one($p)
                        .await?
                    }
                };
                // The rows in the IDs' order, a chunk at a time (an organisation may have
                // more members than a statement may have parameters).
                let mut rows: Vec<MemberRow> = Vec::with_capacity(ids.len());
                for chunk in ids.chunks(500) {
                    let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
                    let mut q = sqlx::query_as::<_, MemberRow>(sqlx::AssertSqlSafe(format!(
                        "SELECT {MEMBER_COLUMNS} FROM memberships m \
                         JOIN persons p ON p.id = m.person_id \
                         WHERE m.id IN ({}) {order}",
                        marks.join(", ")
                    )));
                    for (id, _) in chunk {
                        q = q.bind(id.clone());
                    }
                    rows.extend(q.fetch_all($p).await?);
                }
                let mut roles: Vec<(String, String)> = Vec::new();
                let mut in_groups: Vec<(String, String, bool)> = Vec::new();
                for chunk in rows.chunks(500) {
                    let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
                    let marks = marks.join(", ");
                    let mut rq =
                        sqlx::query_as::<_, (String, String)>(sqlx::AssertSqlSafe(format!(
                            "SELECT membership_id, role FROM membership_roles \
                             WHERE membership_id IN ({marks})"
                        )));
                    let mut gq =
                        sqlx::query_as::<_, (String, String, bool)>(sqlx::AssertSqlSafe(format!(
                            "SELECT gm.membership_id, g.name, gm.blocked FROM group_members gm \
                             JOIN groups g ON g.id = gm.group_id \
                             WHERE gm.membership_id IN ({marks}) ORDER BY g.name"
                        )));
                    for row in chunk {
                        rq = rq.bind(row.0.clone());
                        gq = gq.bind(row.0.clone());
                    }
                    roles.extend(rq.fetch_all($p).await?);
                    in_groups.extend(gq.fetch_all($p).await?);
                }
                (rows, total, roles, in_groups)
            }};
        }
        let (rows, total, roles, in_groups) = match self.pool() {
            Pool::Sqlite(p) => fetch!(p),
            Pool::Postgres(p) => fetch!(p),
        };
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
        Ok(match self.pool() {
            Pool::Sqlite(p) => {
                sqlx::query_scalar(SQL)
                    .bind(kvk)
                    .bind(person)
                    .fetch_all(p)
                    .await?
            }
            Pool::Postgres(p) => {
                sqlx::query_scalar(SQL)
                    .bind(kvk)
                    .bind(person)
                    .fetch_all(p)
                    .await?
            }
        })
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

    /// Corrects a member's name, e-mail address, phone or language. A person who is also a
    /// member elsewhere keeps their details there too, so only an organisation that has them
    /// alone may change them ([`WriteError::SharedPerson`]).
    pub async fn update_member(
        &self,
        actor: &Actor,
        kvk: &str,
        person: &str,
        details: &MemberDetails,
    ) -> Result<((), Touched), WriteError> {
        let name = details.name.trim();
        let email = details.email.trim();
        in_tx!(self.pool(), |tx| {
            let (org_id, _) = organisation!(tx, kvk);
            let group = admin_group_of!(tx, actor, person, &org_id);
            authorise!(
                tx,
                actor,
                &org_id,
                kvk,
                Need::ManageGroup,
                group.as_deref(),
                "change users"
            );
            membership!(tx, person, &org_id).ok_or_else(|| {
                WriteError::HolderInOtherOrganisation {
                    holder: format!("person {person}"),
                    organisation: kvk.to_string(),
                }
            })?;
            if name.is_empty() {
                return Err(WriteError::Empty { what: "name" });
            }
            super::invitations::check_email(email)?;
            let elsewhere: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM memberships WHERE person_id = $1 AND organisation_id <> $2",
            )
            .bind(person)
            .bind(&org_id)
            .fetch_one(&mut *tx)
            .await?;
            if elsewhere > 0 {
                return Err(WriteError::SharedPerson(person.to_string()));
            }
            let taken: Option<String> = sqlx::query_scalar(
                "SELECT p.id FROM persons p JOIN memberships m ON m.person_id = p.id \
                 WHERE m.organisation_id = $1 AND lower(p.email) = lower($2) AND p.id <> $3",
            )
            .bind(&org_id)
            .bind(email)
            .bind(person)
            .fetch_optional(&mut *tx)
            .await?;
            if taken.is_some() {
                return Err(WriteError::DuplicateEmail {
                    email: email.to_string(),
                    organisation: kvk.to_string(),
                });
            }
            type Row = (
                Option<String>,
                Option<String>,
                Option<String>,
                Option<String>,
            );
            let before: Row =
                sqlx::query_as("SELECT name, email, phone, language FROM persons WHERE id = $1")
                    .bind(person)
                    .fetch_one(&mut *tx)
                    .await?;
            let phone = details
                .phone
                .as_deref()
                .map(str::trim)
                .filter(|p| !p.is_empty());
            let language = match details.language.as_deref() {
                Some("en") => Some("en"),
                Some(_) => Some("nl"),
                None => before.3.as_deref(),
            };
            sqlx::query(
                "UPDATE persons SET name = $1, email = $2, phone = $3, language = $4 WHERE id = $5",
            )
            .bind(name)
            .bind(email)
            .bind(phone)
            .bind(language)
            .bind(person)
            .execute(&mut *tx)
            .await?;
            audit!(
                tx,
                actor,
                &org_id,
                "member.update",
                json(&(person, &before)),
                json(&(person, (name, email, phone, language)))
            );
            // A name is not part of anyone's grant set: nothing cached changes.
            Ok(((), Touched::default()))
        })
    }

    /// Removes a member from the organisation: their roles, group places, the grants they hold
    /// here and an open invitation go; the person, their other memberships and the audit trail
    /// stay. An administrator cannot remove themselves nor the last hoofdbeheerder.
    pub async fn remove_member(
        &self,
        actor: &Actor,
        kvk: &str,
        person: &str,
        now: DateTime<Utc>,
    ) -> Result<((), Touched), WriteError> {
        in_tx!(self.pool(), |tx| {
            let (org_id, _) = organisation!(tx, kvk);
            authorise!(tx, actor, &org_id, kvk, Need::Manage, None, "remove users");
            if *actor == Actor::Admin(person.to_string()) {
                return Err(WriteError::RemoveSelf);
            }
            let membership = membership!(tx, person, &org_id).ok_or_else(|| {
                WriteError::HolderInOtherOrganisation {
                    holder: format!("person {person}"),
                    organisation: kvk.to_string(),
                }
            })?;
            let roles: Vec<String> =
                sqlx::query_scalar("SELECT role FROM membership_roles WHERE membership_id = $1")
                    .bind(&membership)
                    .fetch_all(&mut *tx)
                    .await?;
            if roles
                .iter()
                .any(|r| r == "hoofdbeheerder" || r == "beheerder")
            {
                authorise!(
                    tx,
                    actor,
                    &org_id,
                    kvk,
                    Need::Appoint,
                    None,
                    "remove administrators"
                );
            }
            let touched = links!(tx, LINKS_OF_PERSON, person);
            let had = hoofdbeheerders!(tx, &org_id);
            let grants: Vec<String> =
                sqlx::query_scalar("SELECT id FROM grants WHERE membership_id = $1 ORDER BY id")
                    .bind(&membership)
                    .fetch_all(&mut *tx)
                    .await?;
            sqlx::query("DELETE FROM grants WHERE membership_id = $1")
                .bind(&membership)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE invitations SET withdrawn_at = $1 WHERE person_id = $2 \
                 AND organisation_id = $3 AND accepted_at IS NULL AND withdrawn_at IS NULL",
            )
            .bind(now)
            .bind(person)
            .bind(&org_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM memberships WHERE id = $1")
                .bind(&membership)
                .execute(&mut *tx)
                .await?;
            if matches!(actor, Actor::Admin(_)) && had > 0 && hoofdbeheerders!(tx, &org_id) == 0 {
                return Err(WriteError::LastHoofdbeheerder(kvk.to_string()));
            }
            audit!(
                tx,
                actor,
                &org_id,
                "member.remove",
                json(&(person, &roles, &grants)),
                None::<String>
            );
            Ok(((), Touched { links: touched }))
        })
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
        let role = parse_role(role)
            .map_err(|e| WriteError::Database(sqlx::Error::Protocol(e.to_string())))?;
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
