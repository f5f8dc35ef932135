//! The output directory: files staged beside it and moved into place when a run is complete.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// A fresh directory beside `out` that receives a run's files and then replaces `out` whole, so
/// an interrupted or failed run never leaves a half-written result where the last good one was.
/// Dropped without [`Staging::commit`], it is removed.
pub struct Staging {
    out: PathBuf,
    parent: PathBuf,
    directory: tempfile::TempDir,
}

impl Staging {
    pub fn begin(out: &Path) -> io::Result<Staging> {
        let parent = match out.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&parent)?;
        let directory = tempfile::Builder::new().prefix(".dealsim-staging-").tempdir_in(&parent)?;
        Ok(Staging { out: out.to_path_buf(), parent, directory })
    }

    /// The directory the staged files will replace.
    pub fn destination(&self) -> &Path {
        &self.out
    }

    /// Where a file named `name` (which may hold a subdirectory, `charts/npv.png`) is staged.
    pub fn path(&self, name: &str) -> PathBuf {
        self.directory.path().join(name)
    }

    pub fn write(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let path = self.path(name);
        if let Some(directory) = path.parent() {
            fs::create_dir_all(directory)?;
        }
        fs::write(path, bytes)
    }

    /// Moves the staged files into place, replacing whatever `out` held.
    pub fn commit(self) -> io::Result<()> {
        let (out, parent) = (self.out, self.parent);
        let staged = self.directory.keep();
        if out.exists() {
            let previous = tempfile::Builder::new().prefix(".dealsim-previous-").tempdir_in(&parent)?.keep();
            fs::remove_dir(&previous)?;
            fs::rename(&out, &previous)?;
            if let Err(error) = fs::rename(&staged, &out) {
                // Put the previous result back rather than leave nothing.
                let _ = fs::rename(&previous, &out);
                let _ = fs::remove_dir_all(&staged);
                return Err(error);
            }
            fs::remove_dir_all(&previous)?;
        } else {
            fs::rename(&staged, &out)?;
        }
        Ok(())
    }
}

/// Writes every file through a [`Staging`] directory.
pub fn write_atomically(out: &Path, files: &[(&str, Vec<u8>)]) -> io::Result<()> {
    let staging = Staging::begin(out)?;
    for (name, bytes) in files {
        staging.write(name, bytes)?;
    }
    staging.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_an_existing_result_whole() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("result");
        write_atomically(&out, &[("a.csv", b"old".to_vec()), ("stale.csv", b"x".to_vec())]).unwrap();
        write_atomically(&out, &[("a.csv", b"new".to_vec())]).unwrap();
        assert_eq!(fs::read(out.join("a.csv")).unwrap(), b"new");
        assert!(!out.join("stale.csv").exists());
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no staging directories are left behind");
    }
}
