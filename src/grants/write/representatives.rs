//! Bevoegd vertegenwoordigers (directors, as an extract of the trade register names them):
//! an operator imports an organisation's extract, which replaces its list; a director is bound
//! to a person at their first login whose AD attributes match (the rule is
//! `domain::representative`). A director with sole authority becomes hoofdbeheerder of the
//! organisation, and activates it if it was waiting.
//!
//! The extract is the whole current list: a row of the same person as before (equal given
//! names, family name and birth date, compared folded) keeps its ID and binding and takes the
//! authority the extract gives; the others go, and the new ones come. Taking a director off the
//! list leaves the memberships and roles they have: those are the organisation's to change.
//! The audit trail has one row per organisation with the counts, never names or dates.

use super::{activate_if_pending, add_roles, find_membership, insert_link};
use super::{commit_touching, operator_only, Actor, Record, Touching};
use super::{insert_membership, link_holder};
use crate::domain::grant::{Organisation, Role, Touched};
use crate::domain::representative::{Asserted, ExtractKey};
use crate::domain::request::Authority;
use crate::grants::check::{check_authority, check_date_of_birth, check_kvk};
use crate::grants::db::{sql, On, Tx};
use crate::grants::error::{ImportError, WriteError};
use crate::grants::read::representatives::{authority_text, stored_authority};
use crate::grants::sql::SqlRegister;
use crate::grants::views::ExtractApplied;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A bevoegd vertegenwoordiger as an extract gives them; the register checks every field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRepresentative {
    pub given_names: String,
    pub family_name: String,
    /// `YYYY-MM-DD`.
    pub date_of_birth: String,
    /// `sole` or `joint`.
    pub authority: String,
}

/// One row of an import of extracts: the organisation, the director, and the row's number
/// (the file's line, or the position in a list) that a refusal names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepresentativeRow {
    pub line: usize,
    pub kvk: String,
    pub representative: NewRepresentative,
}

/// What a binding at login did in one organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepresentativeBinding {
    /// The representative's ID.
    pub representative: String,
    /// The person now bound (register ID): the identity's, or made for it.
    pub person: String,
    pub organisation: Organisation,
    pub authority: Authority,
    /// Sole authority: the person was given the hoofdbeheerder's role now (false when they
    /// had it).
    pub became_hoofdbeheerder: bool,
    /// The organisation was waiting for activation and is active now.
    pub activated: bool,
}

/// A row that passed its checks, as stored.
struct Checked<'a> {
    row: &'a NewRepresentative,
    key: ExtractKey,
    date_of_birth: String,
    authority: Authority,
}

/// Checks one organisation's rows: every field, and the same person twice. The checked rows,
/// or every refusal with its row's number.
fn check_rows<'a>(
    rows: &[(usize, &'a NewRepresentative)],
    now: DateTime<Utc>,
) -> (Vec<Checked<'a>>, Vec<(usize, WriteError)>) {
    let today = now.date_naive();
    let mut good = Vec::new();
    let mut bad = Vec::new();
    let mut seen: BTreeMap<ExtractKey, usize> = BTreeMap::new();
    for &(line, row) in rows {
        let checked = (|| {
            if row.given_names.trim().is_empty() {
                return Err(WriteError::Empty {
                    what: "given names",
                });
            }
            if row.family_name.trim().is_empty() {
                return Err(WriteError::Empty {
                    what: "family name",
                });
            }
            let date_of_birth = check_date_of_birth(&row.date_of_birth, today)?;
            let authority = check_authority(&row.authority)?;
            // A name of punctuation only folds to nothing: it names nobody.
            let key = ExtractKey::of(&row.given_names, &row.family_name, &date_of_birth).ok_or(
                WriteError::Empty {
                    what: "given names or family name (letters)",
                },
            )?;
            if let Some(&first) = seen.get(&key) {
                return Err(WriteError::DuplicateRepresentative { first });
            }
            seen.insert(key.clone(), line);
            Ok(Checked {
                row,
                key,
                date_of_birth,
                authority,
            })
        })();
        match checked {
            Ok(c) => good.push(c),
            Err(e) => bad.push((line, e)),
        }
    }
    (good, bad)
}

/// Replaces the organisation's list with the checked rows; what it did, with its audit row.
async fn replace_list(
    tx: &mut Tx,
    actor: &Actor,
    (org_id, kvk): (&str, &str),
    rows: &[Checked<'_>],
    now: DateTime<Utc>,
) -> Result<ExtractApplied, WriteError> {
    type Stored = (String, String, String, String);
    let stored: Vec<Stored> = sql(
        "SELECT id, given_names, family_name, date_of_birth FROM representatives \
         WHERE organisation_id = $1 ORDER BY id",
    )
    .bind(org_id)
    .fetch_all(&mut *tx)
    .await?;
    // The rows as they are, by the person they name (the first of two alike stays).
    let mut existing: BTreeMap<ExtractKey, String> = BTreeMap::new();
    let mut removed_ids = Vec::new();
    for (id, given, family, born) in stored {
        match ExtractKey::of(&given, &family, &born) {
            Some(key) if !existing.contains_key(&key) => {
                existing.insert(key, id);
            }
            _ => removed_ids.push(id),
        }
    }
    let (mut kept, mut added) = (0, 0);
    for c in rows {
        let given_names = c.row.given_names.trim();
        let family_name = c.row.family_name.trim();
        match existing.remove(&c.key) {
            Some(id) => {
                sql(
                    "UPDATE representatives SET given_names = $1, family_name = $2, \
                     date_of_birth = $3, authority = $4, imported_at = $5 WHERE id = $6",
                )
                .bind(given_names)
                .bind(family_name)
                .bind(c.date_of_birth.as_str())
                .bind(authority_text(c.authority))
                .bind(now)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
                kept += 1;
            }
            None => {
                sql(
                    "INSERT INTO representatives (id, organisation_id, given_names, family_name, \
                     date_of_birth, authority, imported_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(uuid::Uuid::new_v4().to_string())
                .bind(org_id)
                .bind(given_names)
                .bind(family_name)
                .bind(c.date_of_birth.as_str())
                .bind(authority_text(c.authority))
                .bind(now)
                .execute(&mut *tx)
                .await?;
                added += 1;
            }
        }
    }
    removed_ids.extend(existing.into_values());
    for id in &removed_ids {
        sql("DELETE FROM representatives WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    let applied = ExtractApplied {
        kvk: kvk.to_string(),
        kept,
        added,
        removed: removed_ids.len(),
    };
    // Counts only: the trail names no director.
    Record::new(actor, org_id, "representatives.import")
        .after(&(kept, added, applied.removed))
        .append(tx)
        .await?;
    Ok(applied)
}

/// Replaces each organisation's list with its rows, all or nothing: every refusal is collected
/// with its row's number first.
async fn apply_extracts(
    tx: &mut Tx,
    actor: &Actor,
    extracts: &[(String, Vec<&RepresentativeRow>)],
    now: DateTime<Utc>,
) -> Result<Vec<ExtractApplied>, ImportError> {
    let mut bad = Vec::new();
    let mut ready = Vec::new();
    for (kvk, rows) in extracts {
        let lines: Vec<(usize, &NewRepresentative)> =
            rows.iter().map(|r| (r.line, &r.representative)).collect();
        let (checked, refused) = check_rows(&lines, now);
        bad.extend(refused);
        let org = match check_kvk(kvk) {
            Err(e) => Err(e),
            Ok(()) => sql("SELECT id FROM organisations WHERE kvk = $1")
                .bind(kvk.as_str())
                .scalar_optional::<String>(&mut *tx)
                .await?
                .ok_or_else(|| WriteError::UnknownOrganisation(kvk.clone())),
        };
        match org {
            Ok(org_id) => ready.push((org_id, kvk, checked)),
            Err(e) => bad.extend(rows.iter().map(|r| {
                (
                    r.line,
                    match &e {
                        WriteError::InvalidKvk(k) => WriteError::InvalidKvk(k.clone()),
                        _ => WriteError::UnknownOrganisation(kvk.clone()),
                    },
                )
            })),
        }
    }
    if !bad.is_empty() {
        bad.sort_by_key(|(line, _)| *line);
        return Err(ImportError::Rows(bad));
    }
    let mut applied = Vec::with_capacity(ready.len());
    for (org_id, kvk, checked) in ready {
        let done = replace_list(tx, actor, (&org_id, kvk), &checked, now).await;
        applied.push(done.map_err(|e| match e {
            WriteError::Database(e) => ImportError::Database(e),
            other => ImportError::Refused(other),
        })?);
    }
    Ok(applied)
}

impl SqlRegister {
    /// Imports extracts of the trade register (operators only): the rows of each organisation
    /// named replace its list (see the module's doc); organisations not named keep theirs. All
    /// or nothing: every bad row is reported with its number.
    pub async fn import_representatives(
        &self,
        actor: &Actor,
        rows: &[RepresentativeRow],
        now: DateTime<Utc>,
    ) -> Result<(Vec<ExtractApplied>, Touched), ImportError> {
        operator_only(actor, "import bevoegd vertegenwoordigers").map_err(ImportError::Refused)?;
        let mut extracts: Vec<(String, Vec<&RepresentativeRow>)> = Vec::new();
        for row in rows {
            let kvk = row.kvk.trim();
            match extracts.iter_mut().find(|(k, _)| k == kvk) {
                Some((_, list)) => list.push(row),
                None => extracts.push((kvk.to_string(), vec![row])),
            }
        }
        let mut transaction = self.pool().begin_write().await?;
        let applied = apply_extracts(&mut transaction, actor, &extracts, now).await?;
        transaction.commit().await?;
        // Directors are in nobody's grant set.
        Ok((applied, Touched::default()))
    }

    /// Replaces one organisation's list with `list` (operators only); an empty list removes
    /// them all. Rows are numbered from 1 in refusals.
    pub async fn replace_representatives(
        &self,
        actor: &Actor,
        kvk: &str,
        list: &[NewRepresentative],
        now: DateTime<Utc>,
    ) -> Result<(ExtractApplied, Touched), ImportError> {
        operator_only(actor, "import bevoegd vertegenwoordigers").map_err(ImportError::Refused)?;
        let rows: Vec<RepresentativeRow> = list
            .iter()
            .enumerate()
            .map(|(i, r)| RepresentativeRow {
                line: i + 1,
                kvk: kvk.to_string(),
                representative: r.clone(),
            })
            .collect();
        let mut transaction = self.pool().begin_write().await?;
        let known: Option<String> = sql("SELECT id FROM organisations WHERE kvk = $1")
            .bind(kvk)
            .scalar_optional(&mut transaction)
            .await?;
        if known.is_none() {
            return Err(ImportError::Refused(WriteError::UnknownOrganisation(
                kvk.to_string(),
            )));
        }
        let extracts = vec![(kvk.to_string(), rows.iter().collect())];
        let mut applied = apply_extracts(&mut transaction, actor, &extracts, now).await?;
        transaction.commit().await?;
        let applied = applied.pop().ok_or_else(|| {
            ImportError::Refused(WriteError::UnknownOrganisation(kvk.to_string()))
        })?;
        Ok((applied, Touched::default()))
    }

    /// At a login: binds the identity (`idp`, `subject`) to every director not bound yet whom
    /// the AD's attributes match (`domain::representative`: first name, family name with its
    /// infix, birth date), one per organisation; two matching rows in one organisation bind
    /// neither. An identity not linked yet gets a person of its own (named as the extract
    /// names them). A director with sole authority becomes hoofdbeheerder (a member, if they
    /// were none) and activates an organisation that was waiting. What it bound, by KvK number.
    pub async fn bind_representative(
        &self,
        idp: &str,
        subject: &str,
        first_name: &str,
        family_name: &str,
        date_of_birth: &str,
        now: DateTime<Utc>,
    ) -> Result<(Vec<RepresentativeBinding>, Touched), WriteError> {
        let Some(asserted) = Asserted::of(first_name, family_name, date_of_birth) else {
            // Without the three attributes nobody can be recognised.
            return Ok((Vec::new(), Touched::default()));
        };
        // Most logins match nobody: that is found by a read, so a login takes the register's
        // write lock only when there is someone to bind (read again under the lock).
        if matching_directors(self.pool(), &asserted).await?.is_empty() {
            return Ok((Vec::new(), Touched::default()));
        }
        let actor = Actor::Invitee(format!("{idp}#{subject}"));
        let mut transaction = self.pool().begin_write().await?;
        let tx = &mut transaction;
        let by_organisation = matching_directors(&mut *tx, &asserted).await?;
        let mut person = link_holder(tx, idp, subject).await?;
        let mut bound = Vec::new();
        for (kvk, mut matches) in by_organisation {
            if matches.len() > 1 {
                tracing::info!(
                    organisation = %kvk,
                    rows = matches.len(),
                    "representative binding ambiguous: nothing bound in this organisation"
                );
                continue;
            }
            let Some((id, org_id, kvk, rsin, org_name, given, family, authority)) = matches.pop()
            else {
                continue;
            };
            let authority = stored_authority(&authority)?;
            let person = match person.clone() {
                Some(p) => p,
                None => {
                    let made = uuid::Uuid::new_v4().to_string();
                    sql("INSERT INTO persons (id, name, created_at) VALUES ($1, $2, $3)")
                        .bind(&made)
                        .bind(format!("{} {}", given.trim(), family.trim()))
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    insert_link(tx, idp, subject, &made, now).await?;
                    Record::outside_organisations(&actor, "person.link")
                        .after(&(&made, idp, subject))
                        .append(tx)
                        .await?;
                    person = Some(made.clone());
                    made
                }
            };
            sql("UPDATE representatives SET person_id = $1, bound_at = $2 WHERE id = $3")
                .bind(&person)
                .bind(now)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            Record::new(&actor, &org_id, "representative.bind")
                .after(&(&id, &person, authority_text(authority)))
                .append(tx)
                .await?;
            let (mut became_hoofdbeheerder, mut activated) = (false, false);
            if authority == Authority::Sole {
                became_hoofdbeheerder =
                    appoint_hoofdbeheerder(tx, &actor, &person, (&org_id, &kvk), now).await?;
                activated = activate_if_pending(tx, &actor, &org_id, now).await?;
            }
            bound.push(RepresentativeBinding {
                representative: id,
                person,
                organisation: Organisation {
                    kvk,
                    rsin,
                    name: org_name,
                },
                authority,
                became_hoofdbeheerder,
                activated,
            });
        }
        match person.filter(|_| !bound.is_empty()) {
            Some(p) => commit_touching(transaction, bound, Touching::Person(&p)).await,
            None => Ok((bound, Touched::default())),
        }
    }
}

/// A director row not bound yet, with their organisation: (row ID, organisation ID, KvK number,
/// RSIN, organisation name, given names, family name, authority).
type Candidate = (
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    String,
);

/// The unbound directors the asserted attributes match, by KvK number.
async fn matching_directors<'c>(
    on: impl Into<On<'c>>,
    asserted: &Asserted,
) -> Result<BTreeMap<String, Vec<Candidate>>, WriteError> {
    let born = asserted.date_of_birth().format("%Y-%m-%d").to_string();
    let candidates: Vec<Candidate> = sql(
        "SELECT r.id, r.organisation_id, o.kvk, o.rsin, o.name, r.given_names, \
                r.family_name, r.authority \
           FROM representatives r JOIN organisations o ON o.id = r.organisation_id \
          WHERE r.person_id IS NULL AND r.date_of_birth = $1 ORDER BY o.kvk, r.id",
    )
    .bind(born.as_str())
    .fetch_all(on)
    .await?;
    let mut by_organisation: BTreeMap<String, Vec<Candidate>> = BTreeMap::new();
    for c in candidates {
        if asserted.matches(&c.5, &c.6, &born) {
            by_organisation.entry(c.2.clone()).or_default().push(c);
        }
    }
    Ok(by_organisation)
}

/// Makes `person` hoofdbeheerder of the organisation (internal ID, KvK number): a member with
/// that role, or the role added to their membership. Whether the role is new.
async fn appoint_hoofdbeheerder(
    tx: &mut Tx,
    actor: &Actor,
    person: &str,
    (org_id, kvk): (&str, &str),
    now: DateTime<Utc>,
) -> Result<bool, WriteError> {
    let roles = [Role::Hoofdbeheerder];
    match find_membership(tx, person, org_id).await? {
        None => {
            insert_membership(tx, person, org_id, kvk, &roles, now).await?;
        }
        Some(membership) => {
            let has: Option<String> = sql(
                "SELECT role FROM membership_roles WHERE membership_id = $1 \
                 AND role = 'hoofdbeheerder'",
            )
            .bind(&membership)
            .scalar_optional(&mut *tx)
            .await?;
            if has.is_some() {
                return Ok(false);
            }
            add_roles(tx, &membership, &roles).await?;
        }
    }
    Record::new(actor, org_id, "member.appoint")
        .after(&(person, Role::Hoofdbeheerder.as_str(), "sole authority"))
        .append(tx)
        .await?;
    Ok(true)
}
