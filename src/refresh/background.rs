//! Heavy document work off the async workers: verifying and reading a large aggregate (0.8 s of
//! CPU for 10,000 entities) runs on a thread of its own at a lower CPU priority, so the logins
//! in progress on the same cores are served first and a refresh shows no latency spike.

/// Runs `work` on a new thread whose CPU priority is lowered (nice 10) and waits for it without
/// holding an async worker. `Err` only when no thread could be started or `work` panicked.
pub async fn at_low_priority<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let (done, result) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("poort-refresh".into())
        .spawn(move || {
            lower_priority();
            // The receiver is gone only when the refresh itself was dropped: nothing to tell.
            let _ = done.send(work());
        })
        .map_err(|e| format!("cannot start a refresh thread: {e}"))?;
    result
        .await
        .map_err(|_| "the refresh thread stopped without an answer".to_string())
}

/// Lowers this thread's priority (Linux: `setpriority` on the thread ID affects this thread
/// only). The thread ends with its work, so the priority is never raised again (which an
/// unprivileged process could not do anyway). Where this fails the work runs at normal priority.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid and setpriority take plain integers and touch only this thread's priority.
    unsafe {
        let tid = libc::gettid();
        let _ = libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 10);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_runs_on_a_lower_priority_thread_and_its_result_comes_back() {
        let (value, nice) = at_low_priority(|| {
            // SAFETY: reads this thread's own priority.
            let nice =
                unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) };
            (21 * 2, nice)
        })
        .await
        .unwrap();
        assert_eq!(value, 42);
        #[cfg(target_os = "linux")]
        assert!(nice >= 10, "nice {nice}");
        let _ = nice;
    }

    #[tokio::test]
    async fn a_panic_in_the_work_is_an_error_not_a_hang() {
        let result: Result<(), String> = at_low_priority(|| panic!("boom")).await;
        assert!(result.unwrap_err().contains("without an answer"));
    }
}
