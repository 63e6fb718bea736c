//! Files that hold what a cluster said (recordings, results, debug logs, casts) are the
//! owner's alone: mode 0600, in directories meshtop creates with mode 0700. One place, so
//! every writer gets it.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use color_eyre::eyre::{Result, WrapErr};

const FILE_MODE: u32 = 0o600;
const DIR_MODE: u32 = 0o700;

/// Creates `dir` and any missing parents with mode 0700; a directory that exists is left as
/// it is (it may be one the user named, such as `--results-dir .`).
pub fn private_dir(dir: &Path) -> Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, DIR_MODE);
    b.create(dir).wrap_err_with(|| format!("creating {}", dir.display()))
}

/// meshtop's own directory (under `$XDG_DATA_HOME/meshtop`): created like [`private_dir`],
/// and made 0700 if an earlier version left it open to others.
pub fn own_dir(dir: &Path) -> Result<()> {
    private_dir(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir)
            .wrap_err_with(|| format!("reading {}", dir.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(DIR_MODE))
                .wrap_err_with(|| format!("making {} private (0700)", dir.display()))?;
        }
    }
    Ok(())
}

fn options() -> std::fs::OpenOptions {
    let mut o = std::fs::OpenOptions::new();
    o.write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, FILE_MODE);
    o
}

/// Creates (or truncates) `path` for writing, mode 0600; a file that was there before is
/// made 0600 too.
pub fn create(path: &Path) -> std::io::Result<File> {
    let f = options().create(true).truncate(true).open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
    }
    Ok(f)
}

/// Creates `path`, which must not exist yet, mode 0600.
pub fn create_new(path: &Path) -> std::io::Result<File> {
    options().create_new(true).open(path)
}

/// Writes `bytes` to `path` (replacing it), mode 0600.
pub fn write(path: &Path, bytes: impl AsRef<[u8]>) -> Result<()> {
    create(path)
        .and_then(|mut f| f.write_all(bytes.as_ref()))
        .wrap_err_with(|| format!("writing {}", path.display()))
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn files_are_0600_and_new_directories_0700() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        private_dir(&dir).unwrap();
        assert_eq!((mode(&tmp.path().join("a")), mode(&dir)), (0o700, 0o700));
        let f = dir.join("r.json");
        std::fs::write(&f, "old").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        write(&f, "new").unwrap();
        assert_eq!(
            (mode(&f), std::fs::read_to_string(&f).unwrap().as_str()),
            (0o600, "new")
        );
        let n = dir.join("n.json");
        create_new(&n).unwrap();
        assert_eq!(mode(&n), 0o600);
        assert_eq!(create_new(&n).unwrap_err().kind(), std::io::ErrorKind::AlreadyExists);
    }

    #[test]
    fn a_users_directory_is_left_as_it_is_and_meshtops_own_is_tightened() {
        let tmp = tempfile::tempdir().unwrap();
        let theirs = tmp.path().join("theirs");
        std::fs::create_dir(&theirs).unwrap();
        std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o755)).unwrap();
        private_dir(&theirs).unwrap();
        assert_eq!(mode(&theirs), 0o755);
        own_dir(&theirs).unwrap();
        assert_eq!(mode(&theirs), 0o700);
        assert!(
            format!(
                "{:#}",
                private_dir(&tmp.path().join("theirs/f/g").join("\0")).unwrap_err()
            )
            .contains("creating")
        );
    }
}
