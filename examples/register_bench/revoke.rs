//! `register_bench revoke`: time from a revocation's commit until every watcher process
//! refuses the login; and `watch`, one such watcher.

use crate::generate::{person_id, GENERATED_IDP};
use crate::{
    bench_config, clear_prefix, load_config, person_count, print_table, Error, Figures, LoginCase,
};
use poort::domain::decision::Decision;
use poort::grants::{outbox, GrantStatus, Pool, Register, Registry, SqlRegister, Touched};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn unix_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or_default()
}

/// A watcher: for each `watch <subject>` on stdin, resolves the login until it is allowed
/// three times running (so the set is cached), says `ready`, then resolves in a tight loop
/// until it is refused and says `refused <unix µs> <resolutions>`.
pub async fn watch(
    database: &str,
    redis: Option<String>,
    prefix: &str,
    config: &std::path::Path,
) -> Result<(), Error> {
    let base = load_config(config)?;
    let case = LoginCase::from_config(&base)?;
    let registry = Registry::open(&bench_config(&base, database, redis, prefix)).await?;
    let register = registry.register();
    // Plain blocking I/O: a watcher does one thing at a time.
    let mut stdout = std::io::stdout();
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let Some(subject) = line.strip_prefix("watch ") else {
            break;
        };
        let resolve = || async {
            let held = register.grants_for(GENERATED_IDP, subject).await?;
            Ok::<_, Error>(case.decide(subject, &held.grants))
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut allowed = 0;
        while allowed < 3 {
            match resolve().await? {
                Decision::Allow(_) => allowed += 1,
                other => {
                    allowed = 0;
                    if Instant::now() > deadline {
                        return Err(format!("{subject} never allowed: {other:?}").into());
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        }
        stdout.write_all(b"ready\n")?;
        stdout.flush()?;
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut resolutions = 0u64;
        loop {
            let decision = resolve().await?;
            resolutions += 1;
            if !matches!(decision, Decision::Allow(_)) {
                let line = format!("refused {} {resolutions}\n", unix_micros());
                stdout.write_all(line.as_bytes())?;
                stdout.flush()?;
                break;
            }
            if Instant::now() > deadline {
                stdout.write_all(b"timeout\n")?;
                stdout.flush()?;
                break;
            }
        }
    }
    Ok(())
}

/// A watcher process and its pipes. Blocking reads: the watcher bounds its own waits (it says
/// `timeout`), and nothing else runs in this process meanwhile.
struct Watcher {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl Watcher {
    fn send(&mut self, line: &str) -> Result<(), Error> {
        writeln!(self.stdin, "{line}")?;
        self.stdin.flush()?;
        Ok(())
    }

    fn expect(&mut self) -> Result<String, Error> {
        match self.lines.next() {
            Some(line) => Ok(line?),
            None => Err("a watcher exited (its error is above)".into()),
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A person whose login the catalogue's first service allows through exactly one grant whose
/// revocation alone refuses it; with that grant's ID.
async fn pick_case(
    sql: &SqlRegister,
    case: &LoginCase,
    rng: &mut StdRng,
    persons: u32,
) -> Result<(String, String), Error> {
    for _ in 0..100_000 {
        let subject = person_id(rng.random_range(0..persons));
        let held = sql.grants_for(GENERATED_IDP, &subject).await?;
        let Decision::Allow(candidate) = case.decide(&subject, &held.grants) else {
            continue;
        };
        let mut after = held.grants.clone();
        for g in &mut after {
            if g.grant_id == candidate.grant_id {
                g.status = GrantStatus::Revoked;
            }
        }
        if !matches!(case.decide(&subject, &after), Decision::Allow(_)) {
            return Ok((subject, candidate.grant_id));
        }
    }
    Err("no person found whose login one revocation refuses".into())
}

pub async fn revoke(
    database: &str,
    redis: Option<String>,
    watchers: usize,
    rounds: usize,
    seed: u64,
    config_path: &std::path::Path,
) -> Result<(), Error> {
    let base = load_config(config_path)?;
    let case = LoginCase::from_config(&base)?;
    let prefix = format!("poort-bench-{}", uuid::Uuid::new_v4().simple());
    let mode = if redis.is_some() {
        "Redis"
    } else {
        "in-process caches fed by the database outbox"
    };
    let registry = Registry::open(&bench_config(&base, database, redis.clone(), &prefix)).await?;
    let persons = person_count(registry.sql()).await?;
    let exe = std::env::current_exe()?;
    let mut procs = Vec::new();
    for _ in 0..watchers {
        let mut cmd = std::process::Command::new(&exe);
        cmd.arg("watch")
            .arg("--database")
            .arg(database)
            .arg("--prefix")
            .arg(&prefix)
            .arg("--config")
            .arg(config_path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(url) = &redis {
            cmd.arg("--redis").arg(url);
        }
        let mut child = cmd.spawn()?;
        let stdin = child.stdin.take().ok_or("watcher stdin")?;
        let stdout = child.stdout.take().ok_or("watcher stdout")?;
        procs.push(Watcher {
            child,
            stdin,
            lines: BufReader::new(stdout).lines(),
        });
    }
    println!(
        "{watchers} watcher processes, {rounds} rounds, {database}, cache: {mode}; deciding for {}",
        case.service.service_id
    );
    let mut rng = StdRng::seed_from_u64(seed);
    let mut all = Vec::new();
    let mut slowest_per_round = Vec::new();
    let mut invalidation = Vec::new();
    let mut resolutions = 0u64;
    for round in 0..rounds {
        let (subject, grant) = pick_case(registry.sql(), &case, &mut rng, persons).await?;
        for w in &mut procs {
            w.send(&format!("watch {subject}"))?;
        }
        for w in &mut procs {
            let line = w.expect()?;
            if line != "ready" {
                return Err(format!("round {round}: watcher said {line:?}").into());
            }
        }
        let sql = registry.sql().clone();
        let grant_id = grant.clone();
        let committed = registry
            .write(async move {
                let changed: sqlx::Result<u64> = match sql.pool() {
                    Pool::Sqlite(p) => {
                        sqlx::query("UPDATE grants SET status = 'revoked' WHERE id = $1")
                            .bind(&grant_id)
                            .execute(p)
                            .await
                            .map(|r| r.rows_affected())
                    }
                    Pool::Postgres(p) => {
                        sqlx::query("UPDATE grants SET status = 'revoked' WHERE id = $1")
                            .bind(&grant_id)
                            .execute(p)
                            .await
                            .map(|r| r.rows_affected())
                    }
                };
                let committed = unix_micros();
                if changed? != 1 {
                    return Err::<_, Error>(format!("grant {grant_id} not revoked").into());
                }
                let links = outbox::holders_of_grant(sql.pool(), &grant_id).await?;
                Ok((
                    committed,
                    Touched {
                        links: links.into_iter().collect(),
                    },
                ))
            })
            .await?;
        invalidation.push(Duration::from_micros(
            (unix_micros() - committed).max(0) as u64
        ));
        let mut slowest = Duration::ZERO;
        for w in &mut procs {
            let line = w.expect()?;
            let mut words = line.split(' ');
            let (Some("refused"), Some(at), Some(n)) = (words.next(), words.next(), words.next())
            else {
                return Err(
                    format!("round {round} ({subject}, {grant}): watcher said {line:?}").into(),
                );
            };
            let at: i64 = at.parse()?;
            resolutions += n.parse::<u64>()?;
            let delay = Duration::from_micros((at - committed).max(0) as u64);
            slowest = slowest.max(delay);
            all.push(delay);
        }
        slowest_per_round.push(slowest);
    }
    drop(procs);
    if let Some(url) = &redis {
        let mut conn = redis::Client::open(url.as_str())?
            .get_multiplexed_async_connection()
            .await?;
        clear_prefix(&mut conn, &prefix).await?;
    }
    println!(
        "watchers resolved {:.0} times per round each while waiting",
        resolutions as f64 / (rounds * watchers).max(1) as f64
    );
    print_table(&[
        Figures::new(
            "commit → invalidation done (this process)",
            invalidation,
            None,
        ),
        Figures::new("commit → refusal, every watcher and round", all, None),
        Figures::new(
            "commit → refusal by the last watcher, per round",
            slowest_per_round,
            None,
        ),
    ]);
    Ok(())
}
