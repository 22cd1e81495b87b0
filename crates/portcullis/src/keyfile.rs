//! The master key: from `PORTCULLIS_MASTER_KEY`, or from a 0600 file in the data directory
//! that is created on first start.

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use portcullis_core::crypto::MasterKey;
use portcullis_server::config::ENV_MASTER_KEY;
use zeroize::Zeroizing;

/// Where the master key comes from, decided before anything is written.
pub enum KeyPlan {
    /// Given in the environment.
    Env(MasterKey),
    /// Read from an existing key file.
    File(MasterKey, PathBuf),
    /// No key yet: this one is written to the path once the store is open.
    Create(MasterKey, PathBuf),
}

/// Reads the key from the environment or `path` without writing anything.
pub fn plan(path: &Path) -> anyhow::Result<KeyPlan> {
    if let Ok(text) = std::env::var(ENV_MASTER_KEY)
        && !text.trim().is_empty()
    {
        let text = Zeroizing::new(text);
        let key = MasterKey::parse(&text).context(ENV_MASTER_KEY)?;
        return Ok(KeyPlan::Env(key));
    }
    match std::fs::metadata(path) {
        Ok(meta) => {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                bail!(
                    "the master key file {} is accessible by other users (mode {mode:o}); \
                     run `chmod 600 {}`",
                    path.display(),
                    path.display()
                );
            }
            let text =
                Zeroizing::new(std::fs::read_to_string(path).with_context(|| {
                    format!("cannot read the master key file {}", path.display())
                })?);
            let key = MasterKey::parse(&text)
                .with_context(|| format!("the master key file {}", path.display()))?;
            Ok(KeyPlan::File(key, path.to_owned()))
        }
        // Missing, or a parent is not a directory: creating the data directory reports that.
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            Ok(KeyPlan::Create(MasterKey::generate(), path.to_owned()))
        }
        Err(e) => {
            Err(e).with_context(|| format!("cannot read the master key file {}", path.display()))
        }
    }
}

/// Writes a new key file, readable by the owner only, and syncs it and its directory.
pub fn write_new(key: &MasterKey, path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        ensure_dir(dir)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create the master key file {}", path.display()))?;
    let text = key.to_text();
    file.write_all(text.as_bytes())
        .and_then(|_| file.write_all(b"\n"))
        .and_then(|_| file.sync_all())
        .with_context(|| format!("cannot write the master key file {}", path.display()))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Creates `dir` (0700) if needed and checks that files can be created in it.
pub fn ensure_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    let probe = dir.join(format!(".portcullis-write-test-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&probe)
        .with_context(|| format!("the data directory {} is not writable", dir.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_then_plan_reads_back_with_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("master.key");
        let KeyPlan::Create(key, p) = plan(&path).unwrap() else {
            panic!("expected a new key")
        };
        write_new(&key, &p).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let KeyPlan::File(again, _) = plan(&path).unwrap() else {
            panic!("expected the file")
        };
        assert_eq!(*again.to_text(), *key.to_text());
        // Never overwritten.
        assert!(write_new(&MasterKey::generate(), &path).is_err());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(plan(&path).is_err());
    }
}
