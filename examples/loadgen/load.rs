//! The load: whole logins, pending flows and token requests on many tasks, counted and timed;
//! percentiles and one-thread rates.

use crate::login::{begin, client, code_from, login, through_ad, token_request, Target};
use crate::Error;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct Counts {
    pub ok: AtomicU64,
    pub failed: AtomicU64,
    pub verified: AtomicU64,
    /// Failures by kind (see [`kind`]).
    pub kinds: parking_lot::Mutex<BTreeMap<String, u64>>,
}

/// OIDC steps 1 to 3 without the token request: a fresh code.
async fn fresh_code(t: &Target, c: &reqwest::Client, n: usize) -> Result<String, Error> {
    code_from(through_ad(t, c, n).await?).await
}

/// `count` fresh codes, made on `concurrency` tasks.
pub async fn fresh_codes(t: &Arc<Target>, concurrency: usize, count: usize) -> (Vec<String>, u64) {
    let codes = Arc::new(parking_lot::Mutex::new(Vec::with_capacity(count)));
    let counts = Arc::new(Counts::default());
    let next = Arc::new(AtomicU64::new(0));
    on_tasks(concurrency, t.keep_alive, |_, c| {
        let (t, codes, counts, next) = (t.clone(), codes.clone(), counts.clone(), next.clone());
        async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= count as u64 {
                    break;
                }
                match fresh_code(&t, &c, n as usize).await {
                    Ok(code) => codes.lock().push(code),
                    Err(e) => report_error(&counts, &e),
                }
            }
        }
    })
    .await;
    let codes = std::mem::take(&mut *codes.lock());
    (codes, counts.failed.load(Ordering::Relaxed))
}

/// Redeems every code on `concurrency` tasks; the latencies.
pub async fn redeem_all(
    t: &Arc<Target>,
    concurrency: usize,
    codes: Vec<String>,
    verify_every: u64,
) -> (Arc<Counts>, Vec<Duration>) {
    let codes = Arc::new(codes);
    let counts = Arc::new(Counts::default());
    let next = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(parking_lot::Mutex::new(Vec::new()));
    on_tasks(concurrency, t.keep_alive, |_, c| {
        let (t, codes, counts, next, latencies) = (
            t.clone(),
            codes.clone(),
            counts.clone(),
            next.clone(),
            latencies.clone(),
        );
        async move {
            let mut mine = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let Some(code) = codes.get(n as usize) else {
                    break;
                };
                let started = Instant::now();
                match token_request(&t, &c, code, n % verify_every == 0, n as usize).await {
                    Ok(()) => {
                        mine.push(started.elapsed());
                        counts.ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => report_error(&counts, &e),
                }
            }
            latencies.lock().extend(mine);
        }
    })
    .await;
    let mut l = std::mem::take(&mut *latencies.lock());
    l.sort();
    (counts, l)
}

/// Runs `per_task(task, client)` on `n` tasks, each with its own browser.
pub async fn on_tasks<F, Fut>(n: usize, keep_alive: bool, per_task: F)
where
    F: Fn(usize, reqwest::Client) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let handles: Vec<_> = (0..n)
        .map(|i| tokio::spawn(per_task(i, client(keep_alive))))
        .collect();
    for h in handles {
        h.await.expect("task");
    }
}

pub fn report_error(counts: &Counts, e: &Error) {
    let mut text = e.to_string();
    // reqwest's own message names the URL only; the cause (refused, reset, timed out) is below.
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(&format!(" <- {cause}"));
        source = cause.source();
    }
    if counts.failed.fetch_add(1, Ordering::Relaxed) < 5 {
        eprintln!("loadgen: failure: {text}");
    }
    *counts.kinds.lock().entry(kind(&text)).or_default() += 1;
}

/// What kind of failure a message tells: its first two parts (`/saml/acs: expected …, got
/// 500 …`) and its causes, with long numbers (ports, IDs) as `#`, at most 160 characters.
pub fn kind(text: &str) -> String {
    let mut parts = text.split(" <- ");
    let head: Vec<&str> = parts
        .next()
        .unwrap_or_default()
        .splitn(3, ": ")
        .take(2)
        .collect();
    let mut k = head.join(": ");
    for cause in parts {
        k.push_str(" <- ");
        k.push_str(cause);
    }
    let mut out = String::new();
    let mut digits = String::new();
    for ch in k.chars().chain(std::iter::once(' ')) {
        if ch.is_ascii_digit() {
            digits.push(ch);
            continue;
        }
        out.push_str(if digits.len() >= 4 { "#" } else { &digits });
        digits.clear();
        out.push(ch);
    }
    out.pop();
    out.chars().take(160).collect()
}

/// Failures by kind, one line each.
pub fn kinds_text(counts: &Counts) -> String {
    let kinds = counts.kinds.lock();
    if kinds.is_empty() {
        return "none".to_string();
    }
    kinds
        .iter()
        .map(|(k, n)| format!("{n} x {k}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Creates `count` pending flows (DV requests that stop at the redirect to the AD).
pub async fn pending_flows(t: &Arc<Target>, concurrency: usize, count: usize) -> Arc<Counts> {
    let counts = Arc::new(Counts::default());
    let next = Arc::new(AtomicU64::new(0));
    on_tasks(concurrency, t.keep_alive, |_, c| {
        let (t, counts, next) = (t.clone(), counts.clone(), next.clone());
        async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= count as u64 {
                    break;
                }
                match begin(&t, &c, n as usize).await {
                    Ok(_) => counts.ok.fetch_add(1, Ordering::Relaxed),
                    Err(e) => {
                        report_error(&counts, &e);
                        0
                    }
                };
            }
        }
    })
    .await;
    counts
}

/// Whole logins on `concurrency` tasks until `deadline` (or `limit` logins); the latencies,
/// sorted.
pub async fn logins(
    t: &Arc<Target>,
    concurrency: usize,
    deadline: Instant,
    limit: u64,
    verify_every: u64,
) -> (Arc<Counts>, Vec<Duration>) {
    let (counts, timed) = timed_logins(t, concurrency, deadline, limit, verify_every, None).await;
    let mut l: Vec<Duration> = timed.into_iter().map(|(_, took)| took).collect();
    l.sort();
    (counts, l)
}

/// [`logins`], with when each login began: (start, latency) in the order they ended per task.
/// With `rate`, the tasks together begin at most that many logins a second, evenly spaced (a
/// task late for its turn begins at once, and the next turn is counted from then).
pub async fn timed_logins(
    t: &Arc<Target>,
    concurrency: usize,
    deadline: Instant,
    limit: u64,
    verify_every: u64,
    rate: Option<f64>,
) -> (Arc<Counts>, Vec<(Instant, Duration)>) {
    let counts = Arc::new(Counts::default());
    let next = Arc::new(AtomicU64::new(0));
    let timed = Arc::new(parking_lot::Mutex::new(Vec::new()));
    // Each task's turn comes every `every`; task i's first a fraction of that after the start.
    let every = rate.map(|r| Duration::from_secs_f64(concurrency as f64 / r));
    let start = Instant::now();
    on_tasks(concurrency, t.keep_alive, |i, c| {
        let (t, counts, next, timed) = (t.clone(), counts.clone(), next.clone(), timed.clone());
        let mut turn = every.map(|e| start + e * i as u32 / concurrency as u32);
        async move {
            let mut mine = Vec::new();
            while Instant::now() < deadline {
                if let (Some(at), Some(every)) = (turn, every) {
                    tokio::time::sleep_until(at.into()).await;
                    turn = Some(at.max(Instant::now()) + every);
                    if Instant::now() >= deadline {
                        break;
                    }
                }
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= limit {
                    break;
                }
                let verify = n % verify_every == 0;
                let started = Instant::now();
                match login(&t, &c, n as usize, verify).await {
                    Ok(()) => {
                        mine.push((started, started.elapsed()));
                        counts.ok.fetch_add(1, Ordering::Relaxed);
                        if verify {
                            counts.verified.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Err(e) => report_error(&counts, &e),
                }
            }
            timed.lock().extend(mine);
        }
    })
    .await;
    let timed = std::mem::take(&mut *timed.lock());
    (counts, timed)
}

pub fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

/// Operations per second of `op` on this thread, run for `seconds`.
pub fn rate(seconds: f64, mut op: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed().as_secs_f64() < seconds {
        for _ in 0..16 {
            op();
        }
        n += 16;
    }
    n as f64 / start.elapsed().as_secs_f64()
}
