//! What replicas share: a throwaway redis-server on a free port (nothing kept on disk), and a
//! fresh PostgreSQL database, dropped when the run ends.

use crate::process::free_port;
use crate::Error;
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct ThrowawayRedis {
    pub port: u16,
    child: Child,
}

impl ThrowawayRedis {
    pub fn start() -> Result<ThrowawayRedis, Error> {
        let port = free_port()?;
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("redis-server (needed for --replicas): {e}"))?;
        let redis = ThrowawayRedis { port, child };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !redis.answers() {
            if Instant::now() > deadline {
                return Err("redis-server did not start".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(redis)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn answers(&self) -> bool {
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
        if s.write_all(b"PING\r\n").is_err() {
            return false;
        }
        let mut buf = [0u8; 7];
        s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
    }
}

impl Drop for ThrowawayRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh database on the server of `admin_url` (its maintenance database).
pub struct FreshPostgres {
    pub url: String,
    pub name: String,
    admin_url: String,
}

impl FreshPostgres {
    pub fn create(admin_url: &str) -> Result<FreshPostgres, Error> {
        let name = format!("poort_load_{}", uuid::Uuid::new_v4().simple());
        psql(admin_url, &format!("CREATE DATABASE {name}"))?;
        let mut url = url::Url::parse(admin_url)?;
        url.set_path(&name);
        Ok(FreshPostgres {
            url: url.to_string(),
            name,
            admin_url: admin_url.to_string(),
        })
    }

    /// The server processes serving this database now (one per pooled connection).
    pub fn backends(&self) -> Result<Vec<u32>, Error> {
        self.pids(&format!("WHERE datname = '{}'", self.name))
    }

    /// Every process of the server that `pg_stat_activity` shows: all backends (of any
    /// database) and the background processes (WAL writer, checkpointer, …).
    pub fn server_processes(&self) -> Result<Vec<u32>, Error> {
        self.pids("")
    }

    fn pids(&self, filter: &str) -> Result<Vec<u32>, Error> {
        let out = psql(
            &self.admin_url,
            &format!("SELECT pid FROM pg_stat_activity {filter}"),
        )?;
        Ok(out.lines().filter_map(|l| l.trim().parse().ok()).collect())
    }
}

/// Runs one statement with psql; its output (unaligned, tuples only).
fn psql(url: &str, sql: &str) -> Result<String, Error> {
    let out = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql])
        .output()
        .map_err(|e| format!("psql (needed for --replicas): {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "PostgreSQL at {url} refused {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl Drop for FreshPostgres {
    fn drop(&mut self) {
        let dropped = psql(
            &self.admin_url,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
        if let Err(e) = dropped {
            eprintln!("loadgen: database {} not dropped: {e}", self.name);
        }
    }
}
