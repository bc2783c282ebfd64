//! What /proc says about processes and the machine: CPU ticks, resident memory, how busy.

use crate::Error;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// utime + stime of a process (all its threads), in clock ticks.
pub fn cpu_ticks(pid: &str) -> Result<u64, Error> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) start at field 3 (state).
    let rest = &stat[stat.rfind(')').ok_or("bad /proc stat")? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Ok(f[11].parse::<u64>()? + f[12].parse::<u64>()?)
}

/// Busy and total ticks of the whole machine (all cores), from /proc/stat.
pub fn machine_ticks() -> Result<(u64, u64), Error> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let line = stat.lines().next().ok_or("empty /proc/stat")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v[3] + v.get(4).copied().unwrap_or(0);
    Ok((total - idle, total))
}

/// One `kB` field of /proc/PID/status (`VmRSS`, `VmHWM`).
pub fn status_kb(pid: u32, field: &str) -> Result<u64, Error> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let key = format!("{field}:");
    let line = status
        .lines()
        .find(|l| l.starts_with(&key))
        .ok_or_else(|| format!("no {field}: process {pid} has exited"))?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .ok_or_else(|| format!("bad {field}"))?
        .parse()?)
}

/// Resident set size in kB, from /proc/PID/status.
pub fn rss_kb(pid: u32) -> Result<u64, Error> {
    status_kb(pid, "VmRSS")
}

/// The peak resident set size since the process started (`VmHWM`), in kB.
pub fn hwm_kb(pid: u32) -> Result<u64, Error> {
    status_kb(pid, "VmHWM")
}

/// Others' work on a shared machine skews every figure: waits (at most `limit` seconds) for a
/// quiet second; returns how many cores were busy in the last second.
pub async fn wait_quiet(cores: usize, limit: f64) -> Result<(f64, f64), Error> {
    let waited = Instant::now();
    loop {
        let m0 = machine_ticks()?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let m1 = machine_ticks()?;
        let busy = (m1.0 - m0.0) as f64 / (m1.1 - m0.1).max(1) as f64 * cores as f64;
        if busy < 0.25 || waited.elapsed().as_secs_f64() >= limit {
            return Ok((busy, waited.elapsed().as_secs_f64() - 1.0));
        }
    }
}

/// CPU ticks of every process now, with its command name.
pub fn all_processes() -> HashMap<u32, (String, u64)> {
    let mut out = HashMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        if let Ok(ticks) = cpu_ticks(&pid.to_string()) {
            out.insert(pid, (stat[open + 1..close].to_string(), ticks));
        }
    }
    out
}

/// The CPU of processes outside `ours` between two [`all_processes`], and the five that used
/// the most, as "name (pid) seconds". Only processes alive at the end are seen (a process that
/// began in between counts whole); what ended in between (a short compiler run) is busy time
/// nobody is named for.
pub fn busiest_others(
    before: &HashMap<u32, (String, u64)>,
    after: &HashMap<u32, (String, u64)>,
    ours: &[u32],
    clk_tck: f64,
) -> (f64, Vec<String>) {
    let mut used: Vec<(u64, String)> = after
        .iter()
        .filter(|(pid, _)| !ours.contains(pid))
        .filter_map(|(pid, (name, t1))| {
            let t0 = before.get(pid).map_or(0, |(_, t)| *t);
            (*t1 > t0).then(|| (t1 - t0, format!("{name} ({pid})")))
        })
        .collect();
    used.sort_by_key(|u| std::cmp::Reverse(u.0));
    let total = used.iter().map(|(t, _)| *t).sum::<u64>() as f64 / clk_tck;
    let top = used
        .iter()
        .take(5)
        .map(|(t, name)| format!("{name} {:.2} s", *t as f64 / clk_tck))
        .collect();
    (total, top)
}
