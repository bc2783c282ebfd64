//! The last good copy of a fetched document on disk, so poort starts without the network. It is
//! written only after the document passed its checks, and atomically (a temporary file renamed
//! over the old one), so a crash mid-write never leaves half a copy; whoever reads it checks it
//! again.

use std::io::Write;
use std::path::Path;
use std::time::SystemTime;

/// Writes `bytes` to `path` atomically.
pub fn store(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => dir,
        None => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// The copy at `path` (at most `max` bytes) and when it was written (the file's modification
/// time), if there is one.
pub fn load(path: &Path, max: usize) -> std::io::Result<Option<(Vec<u8>, SystemTime)>> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if meta.len() > max as u64 {
        return Err(std::io::Error::other(format!(
            "the copy is larger than {} MiB, more than the document may be",
            max / 1024 / 1024
        )));
    }
    let bytes = std::fs::read(path)?;
    Ok(Some((bytes, meta.modified()?)))
}
