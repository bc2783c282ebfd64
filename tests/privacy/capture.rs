//! Capturing poort's log: standard output goes to a file while the worlds run.

use super::*;

extern "C" {
    pub(crate) fn dup(fd: i32) -> i32;
    pub(crate) fn dup2(from: i32, to: i32) -> i32;
}

/// Standard output (file descriptor 1) redirected to a file; [`Captured::stop`] puts it back
/// and returns what was written.
pub(crate) struct Captured {
    pub(crate) path: PathBuf,
    pub(crate) saved: i32,
}

impl Captured {
    pub(crate) fn start(dir: &Path) -> Captured {
        let path = dir.join("poort.log");
        let file = std::fs::File::create(&path).unwrap();
        std::io::stdout().flush().unwrap();
        // SAFETY: plain descriptor calls on descriptors this process owns.
        let saved = unsafe { dup(1) };
        assert!(saved >= 0, "cannot keep standard output");
        assert!(
            unsafe { dup2(file.as_raw_fd(), 1) } >= 0,
            "cannot redirect standard output"
        );
        Captured { path, saved }
    }

    pub(crate) fn stop(self) -> String {
        let _ = std::io::stdout().flush();
        // SAFETY: as above; `saved` is the original standard output.
        unsafe { dup2(self.saved, 1) };
        std::fs::read_to_string(&self.path).unwrap()
    }
}
