//! Keeping a document poort fetches (a metadata aggregate, a service catalogue) current: the
//! background loop with its backoff after a failure, the last good copy on disk (`copy`), and
//! the CPU work of reading a new edition off the async workers (`background`).

mod background;
pub mod copy;

pub use background::at_low_priority;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// The waits after failed refreshes: `first`, then doubling up to `longest`; reset by a success.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    longest: Duration,
    last: Option<Duration>,
}

impl Backoff {
    /// From the configured `retry_seconds` and `refresh_seconds` (each at least a second).
    pub fn new(retry_seconds: u64, refresh_seconds: u64) -> Backoff {
        Backoff {
            first: Duration::from_secs(retry_seconds.max(1)),
            longest: Duration::from_secs(refresh_seconds.max(1)),
            last: None,
        }
    }

    /// The wait after one more failure.
    pub fn failed(&mut self) -> Duration {
        let next = self
            .last
            .map_or(self.first, |last| (last * 2).min(self.longest));
        self.last = Some(next);
        next
    }

    pub fn succeeded(&mut self) {
        self.last = None;
    }
}

/// Runs `step` on `owner` after `first_wait`, and again and again until `owner` is dropped
/// elsewhere (the task holds it only while a step runs). A step says how long to wait:
/// `Ok(wait)` after a success; `Err(at_most)` after a failure, when the backoff's next wait is
/// taken, but no longer than `at_most`.
pub fn spawn<T, F, Fut>(
    owner: &Arc<T>,
    first_wait: Duration,
    mut backoff: Backoff,
    step: F,
) -> tokio::task::JoinHandle<()>
where
    T: Send + Sync + 'static,
    F: Fn(Arc<T>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Duration, Duration>> + Send,
{
    let weak = Arc::downgrade(owner);
    tokio::spawn(async move {
        let mut wait = first_wait;
        loop {
            tokio::time::sleep(wait).await;
            let Some(owner) = weak.upgrade() else { return };
            wait = match step(owner).await {
                Ok(next) => {
                    backoff.succeeded();
                    next
                }
                Err(at_most) => backoff.failed().min(at_most),
            };
            wait = wait.max(Duration::from_secs(1));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_after_each_failure_up_to_the_refresh_interval_and_a_success_resets_it() {
        let mut b = Backoff::new(30, 100);
        let waits: Vec<u64> = (0..4).map(|_| b.failed().as_secs()).collect();
        assert_eq!(waits, [30, 60, 100, 100]);
        b.succeeded();
        assert_eq!(b.failed().as_secs(), 30);
    }
}
