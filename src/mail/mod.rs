//! E-mail to people (invitations, notices, expiry reminders), with lettre.
//!
//! Nothing is sent inside a request: whoever wants a mail sent adds it to the register's
//! `mail_outbox` table ([`Mailer::enqueue`], a quick insert), and a [`MailWorker`] in every
//! process takes due messages from there, one worker per message across replicas, and delivers
//! them over SMTP when `[mail] smtp_url` is set, otherwise as `.eml` files in
//! `[mail] outbox_dir` (the embedded default; `poort demo` shows them at `/dev/mailbox`).
//!
//! Personal data stays out of logs, traces, metrics and error texts: a message is named by its
//! row id in the outbox, never by its address.

mod queue;
mod worker;

/// Queues a mail inside a caller's transaction, so that it is queued exactly when the write
/// that causes it commits; call [`Mailer::wake`] after the commit.
pub use queue::{enqueue_in as queue_in, OutboxCounts};
pub use worker::{retry_pause, MailWorker, SendFailure};

use crate::config::MailConfig;
use crate::grants::Pool;
use lettre::message::{header::ContentType, Mailbox};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The recipient's address does not parse (the address itself is personal data: not here).
    #[error("the recipient's e-mail address is not usable")]
    Address,
    /// `[mail] from` does not parse (configuration, not personal data).
    #[error("[mail] from {0:?} is not a usable address")]
    From(String),
    #[error("mail configuration: {0}")]
    Config(String),
    #[error("mail outbox: {0}")]
    Database(#[from] sqlx::Error),
}

/// One e-mail to one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub to_name: Option<String>,
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// Someone to write to: their name (if known), address and language (Dutch unless `en`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub name: Option<String>,
    pub email: String,
    pub language: Option<String>,
}

impl Recipient {
    /// Whether they read English (everyone else reads Dutch).
    pub fn english(&self) -> bool {
        self.language.as_deref() == Some("en")
    }

    /// The name a mail greets them by ("Beste …"), empty when unknown.
    pub fn dear(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }

    /// A mail to them in their language: `nl` and `en` are (subject, body).
    pub fn mail(&self, nl: (String, String), en: (String, String)) -> Mail {
        let (subject, body) = if self.english() { en } else { nl };
        Mail {
            to_name: self.name.clone(),
            to: self.email.clone(),
            subject,
            body,
        }
    }
}

/// What the request path holds: adds mails to the register's outbox and wakes this process's
/// worker, which sends them. Cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    pool: Pool,
    wake: Arc<Notify>,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Mailer")
    }
}

impl Mailer {
    /// A mailer over the register's database.
    pub fn new(pool: Pool) -> Mailer {
        Mailer {
            pool,
            wake: Arc::new(Notify::new()),
        }
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The worker that sends what this mailer queues (woken at once by each enqueue).
    pub fn worker(
        &self,
        config: &MailConfig,
        holder: &str,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Result<MailWorker, MailError> {
        MailWorker::from_config(self.pool.clone(), config, holder, metrics)
            .map(|w| w.woken_by(self.wake.clone()))
    }

    /// Queues one mail; its row id. Refuses an address that could never be delivered.
    pub async fn enqueue(&self, mail: &Mail) -> Result<i64, MailError> {
        check_address(&mail.to)?;
        let id = queue::enqueue(&self.pool, mail, chrono::Utc::now()).await?;
        self.wake();
        Ok(id)
    }

    /// Queues `mails`; how many were queued. One that cannot be queued is logged without its
    /// address, and the others still go.
    pub async fn enqueue_all(&self, mails: impl IntoIterator<Item = Mail>) -> usize {
        let mut queued = 0;
        for mail in mails {
            match self.enqueue(&mail).await {
                Ok(_) => queued += 1,
                Err(e) => tracing::error!("mail not queued: {e}"),
            }
        }
        queued
    }

    /// Tells this process's worker that mail was queued (by [`queue_in`] in a transaction).
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

fn check_address(address: &str) -> Result<lettre::Address, MailError> {
    address.parse().map_err(|_| MailError::Address)
}

/// Whether a message to `address` could be delivered at all (it parses as an address).
pub fn is_usable_address(address: &str) -> bool {
    check_address(address).is_ok()
}

/// How a message leaves poort: over SMTP, or as a file in the outbox folder.
pub enum Transport {
    Outbox {
        dir: PathBuf,
        from: Mailbox,
    },
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
        /// lettre's time limit, in seconds.
        timeout: u64,
    },
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Outbox { dir, .. } => write!(f, "Transport::Outbox({})", dir.display()),
            Transport::Smtp { .. } => write!(f, "Transport::Smtp"),
        }
    }
}

impl Transport {
    /// SMTP when `smtp_url` is set (with lettre's own timeout at `timeout`, the worker's limit
    /// for one send), the outbox folder otherwise.
    pub fn from_config(config: &MailConfig, timeout: Duration) -> Result<Transport, MailError> {
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|_| MailError::From(config.from.clone()))?;
        match config.smtp_url.as_deref().filter(|u| !u.is_empty()) {
            Some(url) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    // lettre's message names the URL's part it disliked, which may hold the
                    // SMTP password: say only that it is wrong.
                    .map_err(|_| MailError::Config("[mail] smtp_url is not usable".into()))?
                    .timeout(Some(timeout))
                    .build();
                Ok(Transport::Smtp {
                    transport,
                    from,
                    timeout: timeout.as_secs(),
                })
            }
            None => Ok(Transport::Outbox {
                dir: config.outbox_dir.clone(),
                from,
            }),
        }
    }

    fn message(from: &Mailbox, mail: &Mail) -> Result<Message, SendFailure> {
        let address = check_address(&mail.to).map_err(|_| SendFailure::Address)?;
        let to = Mailbox::new(mail.to_name.clone(), address);
        Message::builder()
            .from(from.clone())
            .to(to)
            .subject(&mail.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body.clone())
            .map_err(|_| SendFailure::Compose)
    }

    /// Delivers one message. The failure says what went wrong without the server's words
    /// (an SMTP server's answer often repeats the address).
    pub async fn send(&self, mail: &Mail) -> Result<(), SendFailure> {
        let (Transport::Outbox { from, .. } | Transport::Smtp { from, .. }) = self;
        let message = Transport::message(from, mail)?;
        match self {
            Transport::Outbox { dir, .. } => {
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(|e| SendFailure::Folder(e.kind()))?;
                AsyncFileTransport::<Tokio1Executor>::new(dir)
                    .send(message)
                    .await
                    .map(|_| ())
                    .map_err(|_| SendFailure::Folder(std::io::ErrorKind::Other))
            }
            Transport::Smtp {
                transport, timeout, ..
            } => transport
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| SendFailure::from_smtp(&e, *timeout)),
        }
    }
}

/// The mails in an outbox folder, newest first: (file name, the raw message).
pub fn outbox(dir: &Path) -> Vec<(String, String)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut mails: Vec<(std::time::SystemTime, String, String)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .filter_map(|e| {
            let modified = e.metadata().and_then(|m| m.modified()).ok()?;
            let text = std::fs::read_to_string(e.path()).ok()?;
            Some((modified, e.file_name().to_string_lossy().into_owned(), text))
        })
        .collect();
    mails.sort_by_key(|m| std::cmp::Reverse(m.0));
    mails
        .into_iter()
        .map(|(_, name, text)| (name, text))
        .collect()
}

/// The invitation e-mail, in the person's language (Dutch unless `en`).
pub fn invitation(
    language: Option<&str>,
    to_name: &str,
    to: &str,
    organisation: &str,
    link: &str,
) -> Mail {
    let (subject, body) = if language == Some("en") {
        (
            format!("Invitation: access for {organisation}"),
            format!(
                "Dear {to_name},\n\nYou have been invited to log in with eHerkenning on behalf of \
                 {organisation}.\n\nLog in for the first time through this link (valid for 24 \
                 hours, usable once):\n{link}\n\nAfter that first login you log in directly at the \
                 services.\n\nDid you not expect this e-mail? Then you can ignore it.\n"
            ),
        )
    } else {
        (
            format!("Uitnodiging: toegang voor {organisation}"),
            format!(
                "Beste {to_name},\n\nU bent uitgenodigd om met eHerkenning in te loggen namens \
                 {organisation}.\n\nLog de eerste keer in via deze link (24 uur geldig, één keer \
                 te gebruiken):\n{link}\n\nDaarna logt u direct in bij de diensten.\n\nHad u deze \
                 e-mail niet verwacht? Dan kunt u hem negeren.\n"
            ),
        )
    };
    Mail {
        to_name: Some(to_name.to_string()),
        to: to.to_string(),
        subject,
        body,
    }
}

/// The activation e-mail to an organisation's appointed hoofdbeheerder, in their language
/// (Dutch unless `en`): the link, until when it works, and what following it does.
pub fn activation(
    language: Option<&str>,
    to_name: &str,
    to: &str,
    organisation: &str,
    link: &str,
    expires_at: chrono::DateTime<chrono::Utc>,
) -> Mail {
    let until = expires_at.format("%Y-%m-%d %H:%M UTC");
    let (subject, body) = if language == Some("en") {
        (
            format!("Activate {organisation} for eHerkenning"),
            format!(
                "Dear {to_name},\n\n{organisation} has been registered for eHerkenning, with you as \
                 its main administrator (hoofdbeheerder). The organisation is not active yet: it \
                 becomes active when you log in for the first time through this link (usable \
                 once, until {until}):\n{link}\n\nAfter that you manage the organisation's users \
                 and authorisations in the admin module, and may appoint other main \
                 administrators.\n\nHas the link expired? Ask poort's operator for a new \
                 one.\nDid you not expect this e-mail? Then you can ignore it.\n"
            ),
        )
    } else {
        (
            format!("Activeer {organisation} voor eHerkenning"),
            format!(
                "Beste {to_name},\n\n{organisation} is aangemeld voor eHerkenning, met u als \
                 hoofdbeheerder. De organisatie is nog niet actief: dat wordt zij zodra u voor \
                 het eerst inlogt via deze link (één keer te gebruiken, tot {until}):\n{link}\n\n\
                 Daarna beheert u de gebruikers en machtigingen van de organisatie in de \
                 beheermodule, en kunt u andere hoofdbeheerders aanstellen.\n\nIs de link \
                 verlopen? Vraag de beheerder van poort om een nieuwe.\nHad u deze e-mail niet \
                 verwacht? Dan kunt u hem negeren.\n"
            ),
        )
    };
    Mail {
        to_name: Some(to_name.to_string()),
        to: to.to_string(),
        subject,
        body,
    }
}
