//! E-mail to people (invitations, and later expiry reminders and notices), with lettre: over
//! SMTP when `[mail] smtp_url` is set, otherwise as `.eml` files in `[mail] outbox_dir`, which the
//! embedded defaults use and `poort demo` shows on a local mailbox page.

use crate::config::MailConfig;
use lettre::message::{header::ContentType, Mailbox};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("e-mail address {0:?} is not usable")]
    Address(String),
    #[error("composing the e-mail: {0}")]
    Build(String),
    #[error("sending the e-mail: {0}")]
    Send(String),
    #[error("mail configuration: {0}")]
    Config(String),
}

/// One e-mail to one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub to_name: Option<String>,
    pub to: String,
    pub subject: String,
    pub body: String,
}

pub enum Mailer {
    Outbox {
        dir: PathBuf,
        from: Mailbox,
    },
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
    },
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mailer::Outbox { dir, .. } => write!(f, "Mailer::Outbox({})", dir.display()),
            Mailer::Smtp { .. } => write!(f, "Mailer::Smtp"),
        }
    }
}

impl Mailer {
    pub fn from_config(config: &MailConfig) -> Result<Mailer, MailError> {
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|_| MailError::Address(config.from.clone()))?;
        match config.smtp_url.as_deref().filter(|u| !u.is_empty()) {
            Some(url) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| MailError::Config(e.to_string()))?
                    .build();
                Ok(Mailer::Smtp { transport, from })
            }
            None => Ok(Mailer::Outbox {
                dir: config.outbox_dir.clone(),
                from,
            }),
        }
    }

    fn message(from: &Mailbox, mail: &Mail) -> Result<Message, MailError> {
        let address = mail
            .to
            .parse()
            .map_err(|_| MailError::Address(mail.to.clone()))?;
        let to = Mailbox::new(mail.to_name.clone(), address);
        Message::builder()
            .from(from.clone())
            .to(to)
            .subject(&mail.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body.clone())
            .map_err(|e| MailError::Build(e.to_string()))
    }

    pub async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        match self {
            Mailer::Outbox { dir, from } => {
                let message = Mailer::message(from, mail)?;
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(|e| MailError::Send(format!("{}: {e}", dir.display())))?;
                AsyncFileTransport::<Tokio1Executor>::new(dir)
                    .send(message)
                    .await
                    .map(|_| ())
                    .map_err(|e| MailError::Send(e.to_string()))
            }
            Mailer::Smtp { transport, from } => {
                let message = Mailer::message(from, mail)?;
                transport
                    .send(message)
                    .await
                    .map(|_| ())
                    .map_err(|e| MailError::Send(e.to_string()))
            }
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
