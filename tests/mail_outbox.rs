//! Mail goes through the register's outbox: an admin action queues it and returns at once, even
//! when the SMTP server hangs; the mail worker sends it within its time limit, tries a failing
//! server again after growing pauses and finally gives the message up, with no e-mail address
//! in what it records or logs; two workers on one database never send a message twice.

mod common;

use chrono::{DateTime, TimeDelta, Utc};
use poort::config::MailConfig;
use poort::grants::Pool;
use poort::mail::{retry_pause, Mail, MailWorker, Mailer};
use poort::metrics::Metrics;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Everything this test binary logs (poort at every level, the rest from info), as text.
fn logs() -> String {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    let buffer = LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        #[derive(Clone)]
        struct Capture(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Capture {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let capture = Capture(buffer.clone());
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("info,poort=trace"))
            .with_ansi(false)
            .with_writer(move || capture.clone())
            .init();
        buffer
    });
    String::from_utf8_lossy(&buffer.lock().unwrap()).into_owned()
}

/// An SMTP server that accepts connections and never says a word; how many it accepted.
async fn hanging_smtp() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            open.push(socket);
        }
    });
    (port, accepted)
}

/// An SMTP server that refuses every recipient for now (451), repeating the address in its
/// answer as real servers do; how many recipients it refused.
async fn refusing_smtp() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let refused = Arc::new(AtomicUsize::new(0));
    let count = refused.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let count = count.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 fake ESMTP\r\n").await?;
                while let Some(line) = lines.next_line().await? {
                    let upper = line.to_ascii_uppercase();
                    let answer = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                        "250 fake".to_string()
                    } else if upper.starts_with("RCPT TO:") {
                        count.fetch_add(1, Ordering::SeqCst);
                        let to = &line["RCPT TO:".len()..];
                        format!("451 4.7.1 {to}: recipient temporarily rejected")
                    } else if upper.starts_with("QUIT") {
                        write.write_all(b"221 bye\r\n").await?;
                        break;
                    } else if upper.starts_with("MAIL FROM:")
                        || upper.starts_with("RSET")
                        || upper.starts_with("NOOP")
                    {
                        "250 ok".to_string()
                    } else {
                        "502 not implemented".to_string()
                    };
                    write.write_all(format!("{answer}\r\n").as_bytes()).await?;
                }
                Ok::<_, std::io::Error>(())
            });
        }
    });
    (port, refused)
}

/// One row of the outbox as a test looks at it.
#[derive(Debug)]
struct Row {
    id: i64,
    attempts: i32,
    last_error: Option<String>,
    next_attempt_at: DateTime<Utc>,
    sent: bool,
    failed: bool,
    recipient: String,
    body: String,
}

type RawRow = (
    i64,
    i32,
    Option<String>,
    DateTime<Utc>,
    bool,
    bool,
    String,
    String,
);

async fn rows(pool: &Pool) -> Vec<Row> {
    const SQL: &str = "SELECT id, attempts, last_error, next_attempt_at, sent_at IS NOT NULL, \
                              failed_at IS NOT NULL, recipient, body \
                         FROM mail_outbox ORDER BY id";
    let raw: Vec<RawRow> = match pool {
        Pool::Sqlite(p) => sqlx::query_as(SQL).fetch_all(p).await,
        Pool::Postgres(p) => sqlx::query_as(SQL).fetch_all(p).await,
    }
    .unwrap();
    raw.into_iter()
        .map(
            |(id, attempts, last_error, next_attempt_at, sent, failed, recipient, body)| Row {
                id,
                attempts,
                last_error,
                next_attempt_at,
                sent,
                failed,
                recipient,
                body,
            },
        )
        .collect()
}

async fn sqlite_register(dir: &std::path::Path) -> poort::grants::SqlRegister {
    let url = format!("sqlite://{}", dir.join("register.db").display());
    poort::grants::registry::connect_database(&url)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitation_returns_at_once_while_the_smtp_server_hangs() {
    logs();
    let (port, accepted) = hanging_smtp().await;
    let w = common::start_prepared(|_, config| {
        config.mail.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
        config.mail.send_timeout_seconds = 3;
    })
    .await;
    let pool = w.registry.sql().pool();
    let (anna, csrf) = common::admin_session(&w, "anna").await;
    let started = Instant::now();
    let r = anna
        .post(format!("{}/api/v1/invitations", w.poort))
        .header("X-CSRF-Token", &csrf)
        .json(
            &serde_json::json!({"name": "Gijs de Boer", "email": "gijs@bakkerij.example",
                                  "roles": ["gebruiker"]}),
        )
        .send()
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(r.status(), 201);
    let made: serde_json::Value = r.json().await.unwrap();
    // Queued is what the admin is told: the worker sends it.
    assert_eq!(made["mail_sent"], true, "{made}");
    assert!(
        took < Duration::from_secs(1),
        "the request waited for the SMTP server: {took:?}"
    );
    let queued = rows(pool).await;
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert!(!queued[0].sent && !queued[0].failed, "{queued:?}");

    // poort's worker takes it to the server, which never answers: after send_timeout_seconds
    // the attempt counts, and the mail waits for its next one.
    let deadline = Instant::now() + Duration::from_secs(20);
    let row = loop {
        let row = rows(pool).await.remove(0);
        if row.attempts >= 1 {
            break row;
        }
        assert!(
            Instant::now() < deadline,
            "the worker never finished its attempt: {row:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "gave up before the time limit"
    );
    assert!(
        accepted.load(Ordering::SeqCst) >= 1,
        "the worker never connected"
    );
    assert_eq!(row.attempts, 1, "{row:?}");
    assert_eq!(
        row.last_error.as_deref(),
        Some("no answer from the SMTP server within 3 s")
    );
    assert!(!row.sent && !row.failed, "{row:?}");
    assert!(
        row.next_attempt_at > Utc::now() + TimeDelta::seconds(30),
        "tried again at once: {row:?}"
    );
    assert!(!logs().contains("gijs@bakkerij.example"));
}

#[tokio::test]
async fn a_refusing_smtp_server_is_tried_again_then_given_up_without_personal_data() {
    const ADDRESS: &str = "geheim.adres@bakkerij.example";
    logs();
    let (port, refused) = refusing_smtp().await;
    let dir = tempfile::tempdir().unwrap();
    let register = sqlite_register(dir.path()).await;
    let pool = register.pool();
    let config = MailConfig {
        smtp_url: Some(format!("smtp://127.0.0.1:{port}")),
        send_timeout_seconds: 5,
        max_attempts: 3,
        outbox_dir: dir.path().join("mail"),
        ..Default::default()
    };
    let metrics = Arc::new(Metrics::default());
    let mailer = Mailer::new(pool.clone());
    let worker = mailer.worker(&config, "worker-1", metrics.clone()).unwrap();
    let id = mailer
        .enqueue(&Mail {
            to_name: Some("Geheim Persoon".into()),
            to: ADDRESS.into(),
            subject: "Toegang geblokkeerd".into(),
            body: "Beste Geheim Persoon, …".into(),
        })
        .await
        .unwrap();
    let only = |rows: Vec<Row>| {
        assert_eq!(rows.len(), 1, "{rows:?}");
        rows.into_iter().next().unwrap()
    };

    // The first attempt is refused (451): the mail waits a minute for its next one.
    let t0 = Utc::now();
    assert_eq!(worker.deliver_due(t0).await.unwrap(), 0);
    assert_eq!(refused.load(Ordering::SeqCst), 1);
    let row = only(rows(pool).await);
    assert_eq!(
        (row.id, row.attempts, row.sent, row.failed),
        (id, 1, false, false)
    );
    assert_eq!(
        row.last_error.as_deref(),
        Some("the SMTP server refused with code 451 (transient)")
    );
    assert!(row.next_attempt_at >= t0 + retry_pause(1), "{row:?}");
    assert_eq!(worker.counts().await.unwrap().queued, 1);
    assert_eq!(metrics.mail_outbox_queued.get(), 1);
    // Before then, a round leaves it alone.
    assert_eq!(
        worker
            .deliver_due(t0 + TimeDelta::seconds(30))
            .await
            .unwrap(),
        0
    );
    assert_eq!(refused.load(Ordering::SeqCst), 1);

    // The second attempt, after the pause; the next pause is longer.
    let t1 = t0 + retry_pause(1) + TimeDelta::seconds(1);
    assert_eq!(worker.deliver_due(t1).await.unwrap(), 0);
    assert_eq!(refused.load(Ordering::SeqCst), 2);
    let row = only(rows(pool).await);
    assert_eq!(row.attempts, 2);
    assert!(retry_pause(2) > retry_pause(1));
    assert!(row.next_attempt_at >= t1 + retry_pause(2), "{row:?}");
    assert!(!row.failed);

    // The third is the last (max_attempts = 3): the mail is given up, its body dropped.
    let t2 = t1 + retry_pause(2) + TimeDelta::seconds(1);
    assert_eq!(worker.deliver_due(t2).await.unwrap(), 0);
    assert_eq!(refused.load(Ordering::SeqCst), 3);
    let row = only(rows(pool).await);
    assert_eq!((row.attempts, row.sent, row.failed), (3, false, true));
    assert_eq!(row.body, "", "a given-up mail keeps no body");
    assert_eq!(
        row.recipient, ADDRESS,
        "kept for the operator who looks it up"
    );
    let counts = worker.counts().await.unwrap();
    assert_eq!((counts.queued, counts.failed), (0, 1));
    assert_eq!(metrics.mail_failed.get(), 1);
    assert_eq!(metrics.mail_sent.get(), 0);
    assert_eq!(metrics.mail_outbox_queued.get(), 0);
    let rendered = metrics.render();
    assert!(rendered.contains("poort_mail_failed_total 1"), "{rendered}");
    assert!(
        rendered.contains("poort_mail_outbox_queued 0"),
        "{rendered}"
    );
    // And never tried again.
    assert_eq!(
        worker.deliver_due(t2 + TimeDelta::days(1)).await.unwrap(),
        0
    );
    assert_eq!(refused.load(Ordering::SeqCst), 3);

    // The server's answers named the address; neither the recorded error nor the logs do.
    let error = row.last_error.unwrap_or_default();
    assert!(!error.contains('@') && !error.contains("geheim"), "{error}");
    let logs = logs();
    assert!(
        logs.contains(&format!("mail={id}")) && logs.contains("mail given up"),
        "the failure is logged by row id: {logs}"
    );
    assert!(
        !logs.contains("geheim"),
        "the address reached the logs: {logs}"
    );
}

/// Two replicas' workers (registers opened independently on one database) deliver 40 queued
/// mails at the same time: each exactly once.
async fn two_workers_send_each_message_once(url: &str) {
    let (a, b) = common::two_replicas(url).await;
    let dir = tempfile::tempdir().unwrap();
    let config = MailConfig {
        outbox_dir: dir.path().join("mail"),
        ..Default::default()
    };
    let mailer = Mailer::new(a.pool().clone());
    for i in 0..40 {
        mailer
            .enqueue(&Mail {
                to_name: None,
                to: format!("person{i}@example.org"),
                subject: format!("bericht {i}"),
                body: format!("nummer {i}\n"),
            })
            .await
            .unwrap();
    }
    let worker = |pool: &Pool, holder| {
        Arc::new(
            MailWorker::from_config(pool.clone(), &config, holder, Arc::new(Metrics::default()))
                .unwrap(),
        )
    };
    let (wa, wb) = (worker(a.pool(), "replica-a"), worker(b.pool(), "replica-b"));
    let now = Utc::now();
    let run = |w: Arc<MailWorker>| tokio::spawn(async move { w.deliver_due(now).await });
    let (sa, sb) = tokio::join!(run(wa.clone()), run(wb.clone()));
    let (sa, sb) = (sa.unwrap().unwrap(), sb.unwrap().unwrap());
    assert_eq!(sa + sb, 40, "replica a sent {sa}, b {sb}");

    let files = poort::mail::outbox(&config.outbox_dir);
    assert_eq!(files.len(), 40);
    let subjects: std::collections::BTreeSet<String> = files
        .iter()
        .filter_map(|(_, raw)| raw.lines().find(|l| l.starts_with("Subject:")))
        .map(str::to_string)
        .collect();
    assert_eq!(subjects.len(), 40, "a message was delivered twice");
    let rows = rows(a.pool()).await;
    assert!(rows.iter().all(|r| r.sent && r.attempts == 1), "{rows:?}");
    // A sent message keeps neither its recipient nor its body.
    assert!(rows
        .iter()
        .all(|r| r.recipient.is_empty() && r.body.is_empty()));
    // Nothing is left for either.
    assert_eq!(wa.deliver_due(Utc::now()).await.unwrap(), 0);
    assert_eq!(wb.deliver_due(Utc::now()).await.unwrap(), 0);
    assert_eq!(wa.counts().await.unwrap().queued, 0);
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_sqlite_send_each_message_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("register.db").display());
    two_workers_send_each_message_once(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_postgres_send_each_message_once() {
    let db = common::cluster::FreshPostgres::create();
    two_workers_send_each_message_once(&db.url).await;
}

#[tokio::test]
async fn an_unusable_address_is_refused_when_queued() {
    let dir = tempfile::tempdir().unwrap();
    let register = sqlite_register(dir.path()).await;
    let mailer = Mailer::new(register.pool().clone());
    let e = mailer
        .enqueue(&Mail {
            to_name: None,
            to: "not an address".into(),
            subject: "x".into(),
            body: "x".into(),
        })
        .await
        .unwrap_err();
    assert!(matches!(e, poort::mail::MailError::Address), "{e}");
    assert!(!e.to_string().contains("not an address"), "{e}");
    assert!(rows(register.pool()).await.is_empty());
}
