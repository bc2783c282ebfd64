//! Notices by e-mail: a grant revoked (to the people who held it), a user blocked (to them), and
//! grants expiring within two months (to the organisation's hoofdbeheerders and beheerders, once
//! per validity period). People without an e-mail address get none; a failed mail is logged.

use crate::grants::Pool;
use crate::mail::{Mail, Mailer};
use chrono::{DateTime, TimeDelta, Utc};

/// Reminders go out this long before a grant ends.
pub const REMIND_BEFORE: TimeDelta = TimeDelta::days(61);

/// Someone to write to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub name: String,
    pub email: String,
    pub language: Option<String>,
}

type PersonRow = (Option<String>, Option<String>, Option<String>);

fn recipients(rows: Vec<PersonRow>) -> Vec<Recipient> {
    rows.into_iter()
        .filter_map(|(name, email, language)| {
            Some(Recipient {
                name: name.unwrap_or_default(),
                email: email.filter(|e| !e.is_empty())?,
                language,
            })
        })
        .collect()
}

macro_rules! fetch {
    ($pool:expr, $sql:expr, $($bind:expr),*) => {
        match $pool {
            Pool::Sqlite(p) => sqlx::query_as::<_, PersonRow>($sql)$(.bind($bind))*.fetch_all(p).await?,
            Pool::Postgres(p) => sqlx::query_as::<_, PersonRow>($sql)$(.bind($bind))*.fetch_all(p).await?,
        }
    };
}

const HOLDERS: &str = "\
SELECT p.name, p.email, p.language FROM grants g
  JOIN memberships m ON m.id = g.membership_id JOIN persons p ON p.id = m.person_id
 WHERE g.id = $1
UNION
SELECT p.name, p.email, p.language FROM grants g
  JOIN group_members gm ON gm.group_id = g.group_id
  JOIN memberships m ON m.id = gm.membership_id JOIN persons p ON p.id = m.person_id
 WHERE g.id = $1";

const PERSON: &str = "SELECT name, email, language FROM persons WHERE id = $1";

const MANAGERS: &str = "\
SELECT DISTINCT p.name, p.email, p.language FROM memberships m
  JOIN membership_roles r ON r.membership_id = m.id
  JOIN organisations o ON o.id = m.organisation_id
  JOIN persons p ON p.id = m.person_id
 WHERE o.kvk = $1 AND r.role IN ('hoofdbeheerder', 'beheerder') AND NOT m.blocked";

fn pick(language: Option<&str>, nl: String, en: String) -> String {
    if language == Some("en") {
        en
    } else {
        nl
    }
}

async fn send_all(mailer: &Mailer, mails: Vec<Mail>) -> usize {
    let mut sent = 0;
    for mail in mails {
        match mailer.send(&mail).await {
            Ok(()) => sent += 1,
            Err(e) => tracing::error!(to = %mail.to, "notice not sent: {e}"),
        }
    }
    sent
}

/// A grant was revoked: tell the people who held it.
pub async fn grant_revoked(
    pool: &Pool,
    mailer: &Mailer,
    grant: &str,
    organisation: &str,
) -> Result<usize, sqlx::Error> {
    let people = recipients(fetch!(pool, HOLDERS, grant));
    let mails = people
        .into_iter()
        .map(|r| {
            let lang = r.language.as_deref();
            Mail {
                subject: pick(lang, format!("Machtiging ingetrokken ({organisation})"), format!("Authorisation revoked ({organisation})")),
                body: pick(
                    lang,
                    format!("Beste {},\n\nUw machtiging {grant} namens {organisation} is ingetrokken. U kunt daarmee niet meer inloggen bij de diensten die zij dekte.\n\nVragen? Neem contact op met de beheerder van uw organisatie.\n", r.name),
                    format!("Dear {},\n\nYour authorisation {grant} on behalf of {organisation} has been revoked. You can no longer log in with it to the services it covered.\n\nQuestions? Contact your organisation's administrator.\n", r.name),
                ),
                to_name: Some(r.name),
                to: r.email,
            }
        })
        .collect();
    Ok(send_all(mailer, mails).await)
}

/// A member was blocked for the whole organisation: tell them.
pub async fn member_blocked(
    pool: &Pool,
    mailer: &Mailer,
    person: &str,
    organisation: &str,
) -> Result<usize, sqlx::Error> {
    let people = recipients(fetch!(pool, PERSON, person));
    let mails = people
        .into_iter()
        .map(|r| {
            let lang = r.language.as_deref();
            Mail {
                subject: pick(lang, format!("Toegang geblokkeerd ({organisation})"), format!("Access blocked ({organisation})")),
                body: pick(
                    lang,
                    format!("Beste {},\n\nUw toegang namens {organisation} is geblokkeerd. U kunt niet meer namens deze organisatie inloggen tot een beheerder de blokkade opheft.\n", r.name),
                    format!("Dear {},\n\nYour access on behalf of {organisation} has been blocked. You cannot log in on its behalf until an administrator lifts the block.\n", r.name),
                ),
                to_name: Some(r.name),
                to: r.email,
            }
        })
        .collect();
    Ok(send_all(mailer, mails).await)
}

type ExpiringRow = (String, String, String, DateTime<Utc>);
/// A grant due for a reminder, and its end.
type Expiring = (String, DateTime<Utc>);

const EXPIRING: &str = "\
SELECT g.id, o.kvk, o.name, g.valid_until FROM grants g
  JOIN organisations o ON o.id = g.organisation_id
 WHERE g.status = 'active' AND g.reminded_at IS NULL AND g.valid_until > $1 AND g.valid_until <= $2
 ORDER BY o.kvk, g.valid_until";

const MARK: &str = "UPDATE grants SET reminded_at = $1 WHERE id = $2";

/// Sends the "expires within two months" reminders that are due: one mail per organisation to
/// its hoofdbeheerders and beheerders, listing the grants; each grant is reminded once per
/// validity period. Returns how many grants were reminded.
pub async fn remind_expiring(
    pool: &Pool,
    mailer: &Mailer,
    now: DateTime<Utc>,
) -> Result<usize, sqlx::Error> {
    let horizon = now + REMIND_BEFORE;
    let due: Vec<ExpiringRow> = match pool {
        Pool::Sqlite(p) => {
            sqlx::query_as(EXPIRING)
                .bind(now)
                .bind(horizon)
                .fetch_all(p)
                .await?
        }
        Pool::Postgres(p) => {
            sqlx::query_as(EXPIRING)
                .bind(now)
                .bind(horizon)
                .fetch_all(p)
                .await?
        }
    };
    let mut reminded = 0;
    let mut by_org: std::collections::BTreeMap<(String, String), Vec<Expiring>> =
        Default::default();
    for (id, kvk, name, until) in due {
        by_org.entry((kvk, name)).or_default().push((id, until));
    }
    for ((kvk, name), grants) in by_org {
        let managers = recipients(fetch!(pool, MANAGERS, &kvk));
        let list: String = grants
            .iter()
            .map(|(id, until)| format!("- {id}: {}\n", until.format("%Y-%m-%d")))
            .collect();
        let mails: Vec<Mail> = managers
            .into_iter()
            .map(|r| {
                let lang = r.language.as_deref();
                Mail {
                    subject: pick(lang, format!("Machtigingen verlopen binnenkort ({name})"), format!("Authorisations expire soon ({name})")),
                    body: pick(
                        lang,
                        format!("Beste {},\n\nDeze machtigingen van {name} verlopen binnen twee maanden:\n{list}\nVerleng ze in de beheermodule met 1, 3 of 5 jaar als ze nodig blijven.\n", r.name),
                        format!("Dear {},\n\nThese authorisations of {name} expire within two months:\n{list}\nRenew them in the admin module by 1, 3 or 5 years if they are still needed.\n", r.name),
                    ),
                    to_name: Some(r.name),
                    to: r.email,
                }
            })
            .collect();
        send_all(mailer, mails).await;
        // Marked whether or not a mail went: without managers with an address there is nobody
        // to tell, and trying daily would only repeat the log line.
        for (id, _) in &grants {
            match pool {
                Pool::Sqlite(p) => sqlx::query(MARK)
                    .bind(now)
                    .bind(id)
                    .execute(p)
                    .await
                    .map(|_| ())?,
                Pool::Postgres(p) => sqlx::query(MARK)
                    .bind(now)
                    .bind(id)
                    .execute(p)
                    .await
                    .map(|_| ())?,
            }
            reminded += 1;
        }
    }
    Ok(reminded)
}
