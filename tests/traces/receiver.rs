//! The OTLP receiver: `tests/otel/receiver.py` in its venv, writing every span it gets to a file.

use super::*;

/// `tests/otel/receiver.py` in its venv, on ports of its own choosing, appending every span it
/// receives to a file as a JSON line.
pub(crate) struct Receiver {
    pub(crate) child: Child,
    pub(crate) out: PathBuf,
    pub(crate) grpc: u16,
    pub(crate) http: u16,
}

/// Makes (or checks) the receiver's venv, once per test process.
pub(crate) fn prepare_venv() -> PathBuf {
    static READY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    READY
        .get_or_init(|| {
            let setup = common::repo_file("tests/otel/setup.sh");
            let out = Command::new("bash")
                .arg(&setup)
                .output()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", setup.display()));
            assert!(
                out.status.success(),
                "{} failed (python3 with venv and PyPI are needed):\n{}",
                setup.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            common::repo_file("tests/otel/.venv/bin/python")
        })
        .clone()
}

impl Receiver {
    pub(crate) fn start(dir: &Path) -> Receiver {
        let python = prepare_venv();
        let out = dir.join("spans.jsonl");
        let mut child = Command::new(python)
            .arg(common::repo_file("tests/otel/receiver.py"))
            .arg("--out")
            .arg(&out)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the OTLP receiver starts");
        // Its one line, `grpc=PORT http=PORT`, once both servers listen.
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = match rx.recv_timeout(LIMIT) {
            Ok(line) if !line.is_empty() => line,
            other => {
                let _ = child.kill();
                panic!("the OTLP receiver did not start: {other:?}");
            }
        };
        let port = |key: &str| -> u16 {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(key))
                .and_then(|p| p.parse().ok())
                .unwrap_or_else(|| panic!("no {key} in the receiver's line {line:?}"))
        };
        Receiver {
            grpc: port("grpc="),
            http: port("http="),
            out,
            child,
        }
    }

    /// Every span received so far (whole lines only: the receiver appends whole lines).
    pub(crate) fn spans(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(&self.out).unwrap_or_default();
        text.split_inclusive('\n')
            .filter(|l| l.ends_with('\n'))
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
