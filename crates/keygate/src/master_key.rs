//! The master key: `KEYGATE_MASTER_KEY`, or a key file created once (mode
//! 0600) in the data folder.

use crate::Failure;
use keygate_crypto::sealing::MasterKey;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The folder beside the SQLite file, or `keygate-data` for PostgreSQL.
pub(crate) fn data_dir(database_url: &str) -> PathBuf {
    if database_url.starts_with("sqlite:") {
        let path = keygate_store::sqlite::path_of(database_url);
        match Path::new(path).parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    } else {
        PathBuf::from("keygate-data")
    }
}

/// Returns the key and its hex form.
pub(crate) fn load(database_url: &str) -> Result<(MasterKey, String), Failure> {
    if let Ok(hex) = std::env::var("KEYGATE_MASTER_KEY") {
        let key = MasterKey::from_hex(&hex)
            .map_err(|e| Failure::Usage(format!("KEYGATE_MASTER_KEY: {e}")))?;
        return Ok((key, hex.trim().to_string()));
    }
    let dir = data_dir(database_url);
    let file = dir.join("master.key");
    if !file.exists() {
        std::fs::create_dir_all(&dir)
            .map_err(|e| Failure::Runtime(format!("cannot create {}: {e}", dir.display())))?;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        match opts.open(&file) {
            Ok(mut f) => {
                f.write_all(MasterKey::generate_hex().as_bytes())
                    .map_err(|e| {
                        Failure::Runtime(format!("cannot write {}: {e}", file.display()))
                    })?;
                tracing::info!(path = %file.display(), "created master key file");
            }
            // Another process created it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(Failure::Runtime(format!(
                    "cannot create {}: {e}",
                    file.display()
                )))
            }
        }
    }
    let hex = std::fs::read_to_string(&file)
        .map_err(|e| Failure::Runtime(format!("cannot read {}: {e}", file.display())))?;
    let key = MasterKey::from_hex(&hex)
        .map_err(|e| Failure::Runtime(format!("{}: {e}", file.display())))?;
    Ok((key, hex.trim().to_string()))
}
