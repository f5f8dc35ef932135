//! The output directory: where dealsim may write, and how a command's new files replace the
//! ones it wrote before without ever touching a file it did not write.
//!
//! # What is dealsim's
//!
//! A directory is a dealsim output when it holds [`MANIFEST_FILE`], which dealsim writes: the
//! files it wrote there, each with the command that wrote it. dealsim writes into a directory
//! that does not exist (it creates it), that is empty, or that holds a manifest; it refuses any
//! other directory, anything that is not a directory, and a directory that is or holds one of
//! the command's inputs (the scenario file, a shard directory being merged). Nothing is guessed
//! from file names. Files a user adds to a dealsim output are the user's: the directory stays a
//! dealsim output, and those files are never replaced, moved or removed. A file dealsim is
//! about to write whose name is taken by a file the manifest does not list is a refusal too.
//!
//! A command replaces the files it writes and removes the files its kind of command wrote before
//! and no longer writes: a run (`run`, `compare`, `merge`, `run --shard`) replaces the previous
//! run's set whole (a `comparison.csv` or `paths.parquet` it does not write again goes), while
//! `sensitivity` replaces only its own `sensitivity.csv` and leaves a run's files beside it.
//! Removal follows the manifest only, and only for names inside the directory (no `..`, no
//! absolute path), through real directories (never a symbolic link), of regular files (a name
//! that has become a link or a directory is left alone).
//!
//! # How a set of files replaces another
//!
//! Every new file is first written in full to a temporary file in the directory itself,
//! `.dealsim-tmp-` and 16 hex digits, so that the final step is a rename within one file system:
//! a reader sees the old file or the new one, never a part. `paths.parquet`, written while the
//! run goes, is such a temporary from the start. When every new file is written and synced, the
//! commit, under an exclusive lock on the directory (so concurrent commands commit one after the
//! other, each leaving a complete set), goes:
//!
//! 1. the new manifest, listing the new set and carrying a `commit` section (each temporary and
//!    the name it becomes, each stale file to remove), is written to a temporary, synced and
//!    renamed over the manifest: this rename is the commit point;
//! 2. the temporaries are renamed into place, stale files removed;
//! 3. the manifest is written again without its `commit` section.
//!
//! Stopped before the commit point, the previous set is untouched (only temporaries were added)
//! and the previous manifest describes it. Stopped after it, the new set is complete on disk
//! (every file is either in place or still in its temporary, whole) and the manifest says which
//! renames remain: every command that writes into the directory finishes them first, under the
//! lock, before anything else (renaming is idempotent: a temporary already moved is gone). A
//! reader can see a mix of old and new files only if a process dies between steps 1 and 3, a
//! span of renames with no data written, and only until the next command. A directory cannot be
//! swapped whole instead: it may hold the user's own files, and `--out` may be a symbolic link.
//!
//! # Temporaries
//!
//! Each live temporary is held under an exclusive file lock by the process writing it. Ctrl-C,
//! SIGTERM and SIGHUP remove this process's temporaries ([`abandon_unfinished`], which waits for
//! a commit under way to finish). A temporary left by a killed process has no lock: the next
//! command writing into that directory removes it, and only files of that exact name pattern,
//! only in that directory, are ever removed that way. Temporaries are created and dead ones
//! removed under the directory lock, so a temporary cannot be taken for dead between its
//! creation and its lock.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::hash::{BuildHasher, RandomState};
use std::io::{self, Write as _};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde::{Deserialize, Serialize};

/// What marks a directory as a dealsim output, and lists the files dealsim wrote there.
pub const MANIFEST_FILE: &str = ".dealsim-manifest.json";
/// Every temporary file's name starts with this and ends with 16 hex digits.
pub const TEMP_PREFIX: &str = ".dealsim-tmp-";
const TEMP_DIGITS: usize = 16;
/// The most names a refusal lists of a directory's foreign files.
const NAMES_SHOWN: usize = 3;
/// The longest file name most file systems take, in bytes: checked before the commit point,
/// so that no rename after it fails for a name.
const MAX_NAME_BYTES: usize = 255;

/// The command that wrote a file, as the manifest records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Writer {
    #[serde(rename = "run")]
    Run,
    #[serde(rename = "run --shard")]
    Shard,
    #[serde(rename = "compare")]
    Compare,
    #[serde(rename = "merge")]
    Merge,
    #[serde(rename = "sensitivity")]
    Sensitivity,
}

impl Writer {
    /// Whether a file `earlier` wrote belongs to the set this command writes whole: the runs
    /// replace each other's results, `sensitivity` only its own.
    fn replaces_set_of(self, earlier: Writer) -> bool {
        (self == Writer::Sensitivity) == (earlier == Writer::Sensitivity)
    }
}

/// Something a command reads, which its output directory must not be or contain.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    /// What it is, for the message: "the scenario file", "the shard directory".
    pub what: &'static str,
    pub path: &'a Path,
}

/// Why dealsim will not write into a directory (a refusal: nothing was touched), or why writing
/// failed.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("it is {kind}, not a directory")]
    NotADirectory { kind: &'static str },
    #[error("{} is {kind}, not a directory", parent.display())]
    ParentNotADirectory { parent: PathBuf, kind: &'static str },
    #[error("it {relation} {what} {}; choose a directory apart from the inputs", input.display())]
    HoldsInput { relation: &'static str, what: &'static str, input: PathBuf },
    #[error(
        "the directory holds files dealsim did not write ({names}); choose an empty or new directory, or a previous \
         dealsim output"
    )]
    Foreign { names: String },
    #[error("its {MANIFEST_FILE} is not one dealsim can use ({reason}); choose another directory")]
    Manifest { reason: String },
    #[error("it holds {name}, which dealsim did not write; move it away or choose another directory")]
    Taken { name: String },
    #[error("{name} in it is {kind}; dealsim writes only regular files, and only through directories it can see")]
    NotAFile { name: String, kind: &'static str },
    #[error("cannot write {name}: {reason}")]
    Unwritable { name: String, reason: &'static str },
    #[error("{action} {}: {source}", path.display())]
    Io { action: &'static str, path: PathBuf, source: io::Error },
    #[error(
        "the new output is complete and committed, but {action} {} failed ({source}); the next dealsim command that \
         writes into the directory puts the rest in place",
        path.display()
    )]
    Unfinished { action: &'static str, path: PathBuf, source: io::Error },
}

impl OutputError {
    /// Whether dealsim refused the directory (invalid input: nothing was touched) rather than
    /// failed to write to it.
    pub fn is_refusal(&self) -> bool {
        !matches!(self, OutputError::Io { .. } | OutputError::Unfinished { .. } | OutputError::Unwritable { .. })
    }
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> OutputError {
    let path = path.to_path_buf();
    move |source| OutputError::Io { action, path, source }
}

/// The manifest as stored.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Manifest {
    #[serde(default)]
    about: String,
    files: Vec<Entry>,
    /// Present from the commit point until every rename of the commit is done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    commit: Option<Commit>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    name: String,
    command: Writer,
}

#[derive(Debug, Serialize, Deserialize)]
struct Commit {
    moves: Vec<Move>,
    removes: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Move {
    from: String,
    to: String,
}

const ABOUT: &str = "The files dealsim wrote into this directory and the command that wrote each: dealsim \
                     replaces or removes these and no others. Other files here are left alone.";

impl Manifest {
    fn lists(&self, name: &str) -> bool {
        self.files.iter().any(|entry| entry.name == name)
    }

    /// Refuses a manifest whose names could reach outside the directory or into its temporaries.
    fn check(&self) -> Result<(), String> {
        let (moves, removes) = match &self.commit {
            Some(commit) => (commit.moves.as_slice(), commit.removes.as_slice()),
            None => (&[][..], &[][..]),
        };
        if let Some(step) = moves.iter().find(|step| !is_temp_name(&step.from)) {
            return Err(format!("`{}` is not a temporary file of dealsim's", step.from));
        }
        let names = self.files.iter().map(|entry| &entry.name).chain(moves.iter().map(|step| &step.to)).chain(removes);
        match names.into_iter().find(|name| !is_output_name(name)) {
            Some(name) => Err(format!("it lists `{name}`, which is not a name inside the directory")),
            None => Ok(()),
        }
    }
}

/// A relative name of plain components, none of them a temporary's or the manifest's.
fn is_output_name(name: &str) -> bool {
    let path = Path::new(name);
    !name.is_empty()
        && path.components().all(|component| match component {
            Component::Normal(part) => {
                let part = part.to_string_lossy();
                !part.starts_with(TEMP_PREFIX) && part != MANIFEST_FILE
            }
            _ => false,
        })
}

fn is_temp_name(name: &str) -> bool {
    name.strip_prefix(TEMP_PREFIX)
        .is_some_and(|digits| digits.len() == TEMP_DIGITS && digits.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The directory's manifest, if it has one; refuses a directory that holds anything but
/// temporaries without one.
fn inspect(dir: &Path) -> Result<Option<Manifest>, OutputError> {
    let mut others = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_error("reading", dir))? {
        let name = entry.map_err(io_error("reading", dir))?.file_name().to_string_lossy().into_owned();
        if name != MANIFEST_FILE && !is_temp_name(&name) {
            others.push(name);
        }
    }
    others.sort();
    let manifest = read_manifest(dir)?;
    if manifest.is_none() && !others.is_empty() {
        let mut names = others.iter().take(NAMES_SHOWN).cloned().collect::<Vec<_>>().join(", ");
        if others.len() > NAMES_SHOWN {
            names.push_str(", …");
        }
        return Err(OutputError::Foreign { names });
    }
    Ok(manifest)
}

fn read_manifest(dir: &Path) -> Result<Option<Manifest>, OutputError> {
    let path = dir.join(MANIFEST_FILE);
    match fs::symlink_metadata(&path) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(io_error("reading", &path)(error)),
        Ok(metadata) if !metadata.is_file() => {
            return Err(OutputError::Manifest { reason: "it is not a regular file".to_string() });
        }
        Ok(_) => {}
    }
    let bytes = fs::read(&path).map_err(io_error("reading", &path))?;
    let manifest: Manifest =
        serde_json::from_slice(&bytes).map_err(|error| OutputError::Manifest { reason: error.to_string() })?;
    manifest.check().map_err(|reason| OutputError::Manifest { reason })?;
    Ok(Some(manifest))
}

/// Whether `path` exists as a directory, following a symbolic link to one (writing through it is
/// what the user asked for); anything else there is a refusal.
fn check_is_directory(path: &Path) -> Result<bool, OutputError> {
    match fs::symlink_metadata(path) {
        // Under a file (`--out notes.txt/x`): [`check_can_create`] says which.
        Err(error) if matches!(error.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => {
            return Ok(false);
        }
        Err(error) => return Err(io_error("reading", path)(error)),
        Ok(_) => {}
    }
    match fs::metadata(path) {
        Ok(metadata) if metadata.is_dir() => Ok(true),
        Ok(metadata) => Err(OutputError::NotADirectory { kind: kind_of(&metadata) }),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            Err(OutputError::NotADirectory { kind: "a symbolic link to nothing" })
        }
        Err(error) => Err(io_error("reading", path)(error)),
    }
}

fn kind_of(metadata: &fs::Metadata) -> &'static str {
    if metadata.is_file() {
        "a file"
    } else if metadata.is_dir() {
        "a directory"
    } else if metadata.is_symlink() {
        "a symbolic link"
    } else {
        "a device, pipe or socket"
    }
}

/// A directory that does not exist yet can be created only under directories.
fn check_can_create(path: &Path) -> Result<(), OutputError> {
    for parent in path.ancestors().skip(1).filter(|parent| !parent.as_os_str().is_empty()) {
        match fs::metadata(parent) {
            Ok(metadata) if metadata.is_dir() => return Ok(()),
            Ok(metadata) => {
                return Err(OutputError::ParentNotADirectory {
                    parent: parent.to_path_buf(),
                    kind: kind_of(&metadata),
                });
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                if fs::symlink_metadata(parent).is_ok() {
                    let kind = "a symbolic link to nothing";
                    return Err(OutputError::ParentNotADirectory { parent: parent.to_path_buf(), kind });
                }
            }
            Err(error) => return Err(io_error("reading", parent)(error)),
        }
    }
    Ok(())
}

fn check_inputs(dir: &Path, inputs: &[Input<'_>]) -> Result<(), OutputError> {
    let dir = fs::canonicalize(dir).map_err(io_error("reading", dir))?;
    for input in inputs {
        // An input that cannot be resolved was not read either; the command reports it.
        let Ok(resolved) = fs::canonicalize(input.path) else { continue };
        if resolved.starts_with(&dir) {
            let relation = if resolved == dir { "is" } else { "holds" };
            return Err(OutputError::HoldsInput { relation, what: input.what, input: input.path.to_path_buf() });
        }
    }
    Ok(())
}

/// The temporaries and directories this process has made and not yet committed: what a signal
/// removes.
struct Unfinished {
    files: Vec<PathBuf>,
    /// Directories created for the output, outermost first; removed only when empty.
    directories: Vec<PathBuf>,
}

static UNFINISHED: Mutex<Unfinished> = Mutex::new(Unfinished { files: Vec::new(), directories: Vec::new() });

fn unfinished() -> MutexGuard<'static, Unfinished> {
    UNFINISHED.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Unfinished {
    fn remove_all(&mut self) -> usize {
        let removed = self.files.drain(..).filter(|file| fs::remove_file(file).is_ok()).count();
        for directory in self.directories.drain(..).rev() {
            let _ = fs::remove_dir(directory);
        }
        removed
    }
}

/// Holds off every commit until the process exits; see [`abandon_unfinished`].
pub struct Abandoned {
    _unfinished: MutexGuard<'static, Unfinished>,
    /// How many temporary files were removed.
    pub removed: usize,
}

/// For a signal handler that is about to exit: removes this process's temporary files and the
/// directories it created for them (when empty), after a commit under way has finished, and
/// keeps any other commit from starting while the returned guard lives.
pub fn abandon_unfinished() -> Abandoned {
    let mut unfinished = unfinished();
    let removed = unfinished.remove_all();
    Abandoned { _unfinished: unfinished, removed }
}

/// A temporary file in an output directory, removed when dropped unless committed.
pub struct TempFile {
    path: PathBuf,
    /// Holds the lock that tells other dealsim processes this temporary is live.
    file: File,
    committed: bool,
}

impl TempFile {
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn name(&self) -> String {
        self.path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.path);
            unfinished().files.retain(|file| file != &self.path);
        }
    }
}

/// A new, empty, locked temporary in `dir`. The caller holds the directory lock.
fn create_temp(dir: &Path) -> Result<(PathBuf, File), OutputError> {
    static CREATED: AtomicU64 = AtomicU64::new(0);
    loop {
        let count = CREATED.fetch_add(1, Ordering::Relaxed);
        // Random per process (std seeds RandomState from the OS), distinct within it by count.
        let digits = RandomState::new().hash_one((std::process::id(), count));
        let path = dir.join(format!("{TEMP_PREFIX}{digits:0width$x}", width = TEMP_DIGITS));
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => {
                if let Err(error) = file.lock() {
                    let _ = fs::remove_file(&path);
                    return Err(io_error("locking", &path)(error));
                }
                return Ok((path, file));
            }
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
            Err(error) => return Err(io_error("creating", &path)(error)),
        }
    }
}

/// An exclusive lock on the directory itself, released when dropped.
fn lock_directory(dir: &Path) -> Result<File, OutputError> {
    let handle = File::open(dir).map_err(io_error("opening", dir))?;
    handle.lock().map_err(io_error("locking", dir))?;
    Ok(handle)
}

fn sync_directory(dir: &Path) -> Result<(), OutputError> {
    File::open(dir).and_then(|handle| handle.sync_all()).map_err(io_error("syncing", dir))
}

/// Removes temporaries no live process holds. The caller holds the directory lock and has
/// finished any pending commit, whose temporaries are unlocked too.
fn remove_dead_temps(dir: &Path) -> Result<(), OutputError> {
    for entry in fs::read_dir(dir).map_err(io_error("reading", dir))? {
        let entry = entry.map_err(io_error("reading", dir))?;
        if !is_temp_name(&entry.file_name().to_string_lossy()) {
            continue;
        }
        let path = entry.path();
        if !fs::symlink_metadata(&path).is_ok_and(|metadata| metadata.is_file()) {
            continue;
        }
        let Ok(file) = File::open(&path) else { continue };
        if file.try_lock().is_ok() {
            fs::remove_file(&path).map_err(io_error("removing", &path))?;
        }
    }
    Ok(())
}

/// Writes the manifest through a temporary and renames it into place: the rename is atomic, so
/// a reader finds the old manifest or the new one.
fn write_manifest(dir: &Path, manifest: &Manifest) -> Result<(), OutputError> {
    let (path, mut file) = create_temp(dir)?;
    let written = serde_json::to_vec_pretty(manifest)
        .map_err(io::Error::other)
        .and_then(|bytes| file.write_all(&bytes))
        .and_then(|()| file.sync_all())
        .and_then(|()| fs::rename(&path, dir.join(MANIFEST_FILE)));
    if let Err(source) = written {
        let _ = fs::remove_file(&path);
        return Err(OutputError::Io { action: "writing", path: dir.join(MANIFEST_FILE), source });
    }
    sync_directory(dir)
}

/// Checks each directory on the way to `name` is a real directory (a symbolic link is never
/// followed) and, with `create`, creates the missing ones.
fn check_parents(dir: &Path, name: &str, create: bool) -> Result<(), OutputError> {
    let mut parent = dir.to_path_buf();
    let components: Vec<Component<'_>> = Path::new(name).components().collect();
    for (depth, component) in components.iter().enumerate().take(components.len().saturating_sub(1)) {
        parent.push(component);
        let shown = || components[..=depth].iter().collect::<PathBuf>().display().to_string();
        match fs::symlink_metadata(&parent) {
            Ok(metadata) if metadata.is_dir() => {}
            Ok(metadata) => return Err(OutputError::NotAFile { name: shown(), kind: kind_of(&metadata) }),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                if create {
                    fs::create_dir(&parent).map_err(io_error("creating", &parent))?;
                } else {
                    return Ok(());
                }
            }
            Err(error) => return Err(io_error("reading", &parent)(error)),
        }
    }
    Ok(())
}

/// Removes a file the manifest lists, if it is still a regular file reached through real
/// directories, and then its directory if that is left empty.
fn remove_written_file(dir: &Path, name: &str) -> Result<(), OutputError> {
    if check_parents(dir, name, false).is_err() {
        return Ok(());
    }
    let path = dir.join(name);
    if !fs::symlink_metadata(&path).is_ok_and(|metadata| metadata.is_file()) {
        return Ok(());
    }
    match fs::remove_file(&path) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => {
            return Err(OutputError::Unfinished { action: "removing", path, source: error });
        }
        _ => {}
    }
    let mut parent = Path::new(name).parent();
    while let Some(directory) = parent.filter(|directory| !directory.as_os_str().is_empty()) {
        if fs::remove_dir(dir.join(directory)).is_err() {
            break;
        }
        parent = directory.parent();
    }
    Ok(())
}

/// Carries out the renames and removals of a committed manifest, then drops its `commit`
/// section. Idempotent: a temporary already renamed is gone and is skipped.
fn finish_commit(dir: &Path, manifest: &mut Manifest) -> Result<(), OutputError> {
    let Some(commit) = manifest.commit.take() else { return Ok(()) };
    let mut touched = BTreeSet::new();
    for step in &commit.moves {
        let from = dir.join(&step.from);
        if !fs::symlink_metadata(&from).is_ok_and(|metadata| metadata.is_file()) {
            continue;
        }
        let unfinished = |error: OutputError| match error {
            OutputError::Io { action, path, source } => OutputError::Unfinished { action, path, source },
            other => other,
        };
        check_parents(dir, &step.to, true).map_err(unfinished)?;
        let to = dir.join(&step.to);
        fs::rename(&from, &to).map_err(|source| OutputError::Unfinished {
            action: "renaming to",
            path: to.clone(),
            source,
        })?;
        if let Some(parent) = to.parent() {
            touched.insert(parent.to_path_buf());
        }
    }
    for name in &commit.removes {
        remove_written_file(dir, name)?;
        if let Some(parent) = dir.join(name).parent() {
            touched.insert(parent.to_path_buf());
        }
    }
    // The manifest's own write syncs `dir`; a directory emptied and removed needs nothing.
    for directory in touched.iter().filter(|directory| directory.as_path() != dir && directory.is_dir()) {
        sync_directory(directory)?;
    }
    write_manifest(dir, manifest)
}

/// An output directory being written: checked when opened, its files staged as temporaries and
/// committed together.
pub struct OutputDir {
    path: PathBuf,
    writer: Writer,
    /// Whether the directory exists, is locked once, and has had dead temporaries removed.
    prepared: bool,
    /// Directories this command created, outermost first, removed again when empty if it fails.
    created: Vec<PathBuf>,
    staged: Vec<(String, TempFile)>,
}

impl OutputDir {
    /// Checks that `writer` may write into `path` and touches nothing: a refusal
    /// ([`OutputError::is_refusal`]) leaves the file system as it was.
    pub fn open(path: &Path, writer: Writer, inputs: &[Input<'_>]) -> Result<OutputDir, OutputError> {
        if check_is_directory(path)? {
            check_inputs(path, inputs)?;
            inspect(path)?;
        } else {
            check_can_create(path)?;
        }
        Ok(OutputDir { path: path.to_path_buf(), writer, prepared: false, created: Vec::new(), staged: Vec::new() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Creates the directory if need be; finishes a commit a dead process left and removes its
    /// temporaries.
    fn prepare(&mut self) -> Result<(), OutputError> {
        if self.prepared {
            return Ok(());
        }
        let missing: Vec<PathBuf> = self
            .path
            .ancestors()
            .take_while(|ancestor| !ancestor.as_os_str().is_empty() && fs::symlink_metadata(ancestor).is_err())
            .map(Path::to_path_buf)
            .collect();
        unfinished().directories.extend(missing.iter().rev().cloned());
        self.created = missing.into_iter().rev().collect();
        fs::create_dir_all(&self.path).map_err(io_error("creating", &self.path))?;
        let _lock = lock_directory(&self.path)?;
        let mut manifest = inspect(&self.path)?;
        if let Some(manifest) = manifest.as_mut().filter(|manifest| manifest.commit.is_some()) {
            finish_commit(&self.path, manifest)?;
        }
        remove_dead_temps(&self.path)?;
        self.prepared = true;
        Ok(())
    }

    /// An empty temporary file in the directory, for a file written as the command goes;
    /// [`OutputDir::stage_file`] gives it its name.
    pub fn temp_file(&mut self) -> Result<TempFile, OutputError> {
        self.prepare()?;
        let mut unfinished = unfinished();
        let _lock = lock_directory(&self.path)?;
        let (path, file) = create_temp(&self.path)?;
        unfinished.files.push(path.clone());
        Ok(TempFile { path, file, committed: false })
    }

    /// Adds a file written to a temporary to the set to commit, as `name` (which may lie in a
    /// subdirectory: `charts/npv.png`).
    pub fn stage_file(&mut self, name: &str, temp: TempFile) -> Result<(), OutputError> {
        let unwritable = |reason| Err(OutputError::Unwritable { name: name.to_string(), reason });
        if !is_output_name(name) {
            return unwritable("it is not a plain name inside the directory");
        }
        if Path::new(name).components().any(|part| part.as_os_str().len() > MAX_NAME_BYTES) {
            return unwritable("its name is longer than 255 bytes");
        }
        self.staged.push((name.to_string(), temp));
        Ok(())
    }

    /// Writes `bytes` to a temporary and adds it to the set to commit, as `name`.
    pub fn stage(&mut self, name: &str, bytes: &[u8]) -> Result<(), OutputError> {
        let mut temp = self.temp_file()?;
        temp.file.write_all(bytes).map_err(io_error("writing", &temp.path))?;
        self.stage_file(name, temp)
    }

    /// Replaces this command's previous files with the staged ones and removes its stale ones,
    /// as described in the module documentation.
    pub fn commit(mut self) -> Result<(), OutputError> {
        self.prepare()?;
        let mut staged = std::mem::take(&mut self.staged);
        for (_, temp) in &staged {
            temp.file.sync_all().map_err(io_error("syncing", &temp.path))?;
        }
        // A signal waits for the commit to finish rather than remove temporaries it has named.
        let mut unfinished = unfinished();
        let _lock = lock_directory(&self.path)?;
        let mut previous = inspect(&self.path)?.unwrap_or_default();
        finish_commit(&self.path, &mut previous)?;
        for (name, _) in &staged {
            check_parents(&self.path, name, false)?;
            match fs::symlink_metadata(self.path.join(name)) {
                Ok(metadata) if metadata.is_file() && previous.lists(name) => {}
                Ok(metadata) if metadata.is_file() => return Err(OutputError::Taken { name: name.clone() }),
                Ok(metadata) => return Err(OutputError::NotAFile { name: name.clone(), kind: kind_of(&metadata) }),
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => return Err(io_error("reading", &self.path.join(name))(error)),
            }
        }
        let new_names: BTreeSet<&str> = staged.iter().map(|(name, _)| name.as_str()).collect();
        let (stale, kept): (Vec<Entry>, Vec<Entry>) = previous
            .files
            .into_iter()
            .filter(|entry| !new_names.contains(entry.name.as_str()))
            .partition(|entry| self.writer.replaces_set_of(entry.command));
        let mut files = kept;
        files.extend(new_names.iter().map(|name| Entry { name: name.to_string(), command: self.writer }));
        files.sort_by(|a, b| a.name.cmp(&b.name));
        let moves = staged.iter().map(|(name, temp)| Move { from: temp.name(), to: name.clone() }).collect();
        let removes = stale.into_iter().map(|entry| entry.name).collect();
        let mut manifest = Manifest { about: ABOUT.to_string(), files, commit: Some(Commit { moves, removes }) };
        sync_directory(&self.path)?;
        write_manifest(&self.path, &manifest)?;
        // Committed: the temporaries now belong to the manifest, which finishes their renames.
        for (_, temp) in &mut staged {
            temp.committed = true;
            unfinished.files.retain(|file| file != &temp.path);
        }
        unfinished.directories.retain(|directory| !self.created.contains(directory));
        self.created.clear();
        finish_commit(&self.path, &mut manifest)
    }
}

impl Drop for OutputDir {
    /// A command that fails before its commit leaves the directory as it found it.
    fn drop(&mut self) {
        self.staged.clear();
        let mut unfinished = unfinished();
        for directory in self.created.drain(..).rev() {
            let _ = fs::remove_dir(&directory);
            unfinished.directories.retain(|created| created != &directory);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_set(dir: &Path, writer: Writer, files: &[(&str, &str)]) -> Result<(), OutputError> {
        let mut output = OutputDir::open(dir, writer, &[])?;
        for (name, text) in files {
            output.stage(name, text.as_bytes())?;
        }
        output.commit()
    }

    fn read(dir: &Path, name: &str) -> String {
        fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    /// Every entry under `dir`, as relative names, sorted.
    fn tree(dir: &Path) -> Vec<String> {
        let mut names = Vec::new();
        let mut pending = vec![dir.to_path_buf()];
        while let Some(directory) = pending.pop() {
            for entry in fs::read_dir(&directory).unwrap() {
                let path = entry.unwrap().path();
                names.push(path.strip_prefix(dir).unwrap().display().to_string());
                if fs::symlink_metadata(&path).unwrap().is_dir() {
                    pending.push(path);
                }
            }
        }
        names.sort();
        names
    }

    fn listed(dir: &Path) -> Vec<(String, Writer)> {
        let manifest = read_manifest(dir).unwrap().expect("a manifest");
        assert!(manifest.commit.is_none(), "the commit was finished");
        manifest.files.into_iter().map(|entry| (entry.name, entry.command)).collect()
    }

    fn dead_temp(dir: &Path, digits: &str, text: &str) -> String {
        let name = format!("{TEMP_PREFIX}{digits}");
        fs::write(dir.join(&name), text).unwrap();
        name
    }

    #[test]
    fn a_new_directory_receives_the_files_and_a_manifest_listing_them() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("a/b");
        write_set(&out, Writer::Run, &[("summary.csv", "s"), ("charts/npv.png", "png")]).unwrap();
        assert_eq!(tree(&out), [MANIFEST_FILE, "charts", "charts/npv.png", "summary.csv"]);
        assert_eq!(listed(&out), [("charts/npv.png".into(), Writer::Run), ("summary.csv".into(), Writer::Run)]);
    }

    #[test]
    fn a_directory_of_other_files_is_refused_untouched() {
        let root = tempfile::tempdir().unwrap();
        for count in [1, 5] {
            let out = root.path().join(format!("docs-{count}"));
            fs::create_dir(&out).unwrap();
            for i in 0..count {
                fs::write(out.join(format!("note-{i}.txt")), "mine").unwrap();
            }
            let before = tree(&out);
            let error = write_set(&out, Writer::Run, &[("summary.csv", "s")]).unwrap_err();
            assert!(error.is_refusal());
            let expected = if count == 1 { "(note-0.txt)" } else { "(note-0.txt, note-1.txt, note-2.txt, …)" };
            assert!(error.to_string().contains(expected), "{error}");
            assert_eq!(tree(&out), before);
        }
    }

    #[test]
    fn what_is_not_a_directory_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("notes.txt");
        fs::write(&file, "mine").unwrap();
        let refusal = |path: &Path| OutputDir::open(path, Writer::Run, &[]).err().map(|e| e.to_string());
        assert_eq!(refusal(&file).as_deref(), Some("it is a file, not a directory"));
        assert!(refusal(&file.join("out")).unwrap().ends_with("notes.txt is a file, not a directory"));
        std::os::unix::fs::symlink(root.path().join("nowhere"), root.path().join("link")).unwrap();
        assert_eq!(
            refusal(&root.path().join("link")).as_deref(),
            Some("it is a symbolic link to nothing, not a directory")
        );
        assert!(refusal(Path::new("/dev/null")).unwrap().contains("a device, pipe or socket"));
    }

    #[test]
    fn a_directory_that_is_or_holds_an_input_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let scenarios = root.path().join("scenarios");
        fs::create_dir(&scenarios).unwrap();
        let scenario = scenarios.join("base.toml");
        fs::write(&scenario, "x").unwrap();
        std::os::unix::fs::symlink(&scenarios, root.path().join("linked")).unwrap();
        let input = Input { what: "the scenario file", path: &scenario };
        for out in [scenarios.clone(), root.path().to_path_buf(), root.path().join("linked"), scenarios.join(".")] {
            let error = OutputDir::open(&out, Writer::Run, &[input]).err().unwrap();
            assert!(matches!(error, OutputError::HoldsInput { relation: "holds", .. }), "{}: {error}", out.display());
        }
        let shard = Input { what: "the shard directory", path: &scenarios };
        let error = OutputDir::open(&scenarios, Writer::Merge, &[shard]).err().unwrap();
        assert!(error.to_string().starts_with("it is the shard directory"), "{error}");
    }

    #[test]
    fn a_run_replaces_the_runs_files_and_no_others() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("out");
        let first = [("summary.csv", "1"), ("comparison.csv", "1"), ("charts/npv.png", "1"), ("charts/old.png", "1")];
        write_set(&out, Writer::Run, &first).unwrap();
        write_set(&out, Writer::Sensitivity, &[("sensitivity.csv", "tornado")]).unwrap();
        fs::write(out.join("notes.txt"), "mine").unwrap();
        fs::write(out.join("charts/mine.png"), "mine").unwrap();
        write_set(&out, Writer::Merge, &[("summary.csv", "2"), ("charts/npv.png", "2")]).unwrap();
        assert_eq!(read(&out, "summary.csv"), "2");
        assert_eq!(read(&out, "charts/npv.png"), "2");
        assert_eq!(read(&out, "sensitivity.csv"), "tornado", "another command's file stays");
        assert_eq!(read(&out, "notes.txt"), "mine");
        assert_eq!(read(&out, "charts/mine.png"), "mine");
        assert!(!out.join("comparison.csv").exists() && !out.join("charts/old.png").exists(), "stale files go");
        let expected = [
            ("charts/npv.png".to_string(), Writer::Merge),
            ("sensitivity.csv".to_string(), Writer::Sensitivity),
            ("summary.csv".to_string(), Writer::Merge),
        ];
        assert_eq!(listed(&out), expected);
        // A run without charts removes them, and their directory once it is empty.
        fs::remove_file(out.join("charts/mine.png")).unwrap();
        write_set(&out, Writer::Run, &[("summary.csv", "3"), ("sensitivity.csv", "run's")]).unwrap();
        assert_eq!(tree(&out), [MANIFEST_FILE, "notes.txt", "sensitivity.csv", "summary.csv"]);
        assert_eq!(listed(&out)[0], ("sensitivity.csv".to_string(), Writer::Run));
    }

    #[test]
    fn sensitivity_replaces_only_its_own_file() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path();
        write_set(out, Writer::Run, &[("summary.csv", "run"), ("sensitivity.csv", "run")]).unwrap();
        write_set(out, Writer::Sensitivity, &[("sensitivity.csv", "tornado")]).unwrap();
        assert_eq!((read(out, "summary.csv"), read(out, "sensitivity.csv")), ("run".into(), "tornado".into()));
    }

    #[test]
    fn a_name_taken_by_a_file_dealsim_did_not_write_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path();
        write_set(out, Writer::Run, &[("summary.csv", "run")]).unwrap();
        fs::write(out.join("report.html"), "mine").unwrap();
        let before = tree(out);
        let error = write_set(out, Writer::Run, &[("summary.csv", "2"), ("report.html", "2")]).unwrap_err();
        assert!(matches!(&error, OutputError::Taken { name } if name == "report.html"), "{error}");
        assert_eq!((read(out, "report.html"), read(out, "summary.csv")), ("mine".into(), "run".into()));
        assert_eq!(tree(out), before, "no temporaries are left");
    }

    #[test]
    fn links_are_never_followed() {
        let root = tempfile::tempdir().unwrap();
        let (out, elsewhere) = (root.path().join("out"), root.path().join("elsewhere"));
        fs::create_dir(&elsewhere).unwrap();
        fs::write(elsewhere.join("npv.png"), "theirs").unwrap();
        fs::write(elsewhere.join("summary.csv"), "theirs").unwrap();
        write_set(&out, Writer::Run, &[("summary.csv", "1"), ("charts/npv.png", "1")]).unwrap();
        // The user replaces dealsim's files with links to their own.
        fs::remove_file(out.join("summary.csv")).unwrap();
        std::os::unix::fs::symlink(elsewhere.join("summary.csv"), out.join("summary.csv")).unwrap();
        fs::remove_dir_all(out.join("charts")).unwrap();
        std::os::unix::fs::symlink(&elsewhere, out.join("charts")).unwrap();
        let error = write_set(&out, Writer::Run, &[("charts/npv.png", "2")]).unwrap_err();
        assert!(error.to_string().starts_with("charts in it is a symbolic link"), "{error}");
        let error = write_set(&out, Writer::Run, &[("summary.csv", "2")]).unwrap_err();
        assert!(error.to_string().starts_with("summary.csv in it is a symbolic link"), "{error}");
        // Stale, both are left alone rather than followed.
        write_set(&out, Writer::Run, &[("run.json", "2")]).unwrap();
        assert!(fs::symlink_metadata(out.join("summary.csv")).unwrap().is_symlink());
        assert_eq!(read(&elsewhere, "npv.png"), "theirs");
        assert_eq!(read(&elsewhere, "summary.csv"), "theirs");
    }

    #[test]
    fn a_manifest_naming_anything_outside_the_directory_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("out");
        fs::create_dir(&out).unwrap();
        fs::write(root.path().join("precious"), "mine").unwrap();
        let outside = ["../precious", "/etc/passwd", "charts/../../precious", "", ".dealsim-manifest.json"];
        for name in outside {
            let manifest = serde_json::json!({ "files": [{ "name": name, "command": "run" }] });
            fs::write(out.join(MANIFEST_FILE), manifest.to_string()).unwrap();
            let error = write_set(&out, Writer::Run, &[("summary.csv", "1")]).unwrap_err();
            assert!(matches!(error, OutputError::Manifest { .. }), "{name}: {error}");
        }
        let moved = serde_json::json!({
            "files": [],
            "commit": { "moves": [{ "from": "../precious", "to": "summary.csv" }], "removes": [] }
        });
        fs::write(out.join(MANIFEST_FILE), moved.to_string()).unwrap();
        assert!(matches!(write_set(&out, Writer::Run, &[]), Err(OutputError::Manifest { .. })));
        fs::write(out.join(MANIFEST_FILE), "{ not json").unwrap();
        assert!(matches!(write_set(&out, Writer::Run, &[]), Err(OutputError::Manifest { .. })));
        assert_eq!(read(root.path(), "precious"), "mine");
        assert_eq!(tree(&out), [MANIFEST_FILE]);
    }

    #[test]
    fn a_commit_cut_short_is_finished_by_the_next_command() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path();
        write_set(out, Writer::Run, &[("summary.csv", "old"), ("comparison.csv", "old"), ("run.json", "old")]).unwrap();
        // The state after the commit point, with one rename done, as a killed process leaves it.
        let summary = dead_temp(out, "00000000000000a1", "new");
        let chart = dead_temp(out, "00000000000000a2", "new");
        fs::rename(out.join(&summary), out.join("summary.csv")).unwrap();
        let files = ["charts/npv.png", "run.json", "summary.csv"]
            .map(|name| serde_json::json!({ "name": name, "command": "run" }));
        let manifest = serde_json::json!({
            "files": files,
            "commit": {
                "moves": [{ "from": summary, "to": "summary.csv" }, { "from": chart, "to": "charts/npv.png" }],
                "removes": ["comparison.csv"]
            }
        });
        fs::write(out.join(MANIFEST_FILE), manifest.to_string()).unwrap();
        write_set(out, Writer::Sensitivity, &[("sensitivity.csv", "tornado")]).unwrap();
        assert_eq!(
            tree(out),
            [MANIFEST_FILE, "charts", "charts/npv.png", "run.json", "sensitivity.csv", "summary.csv"]
        );
        assert_eq!((read(out, "summary.csv"), read(out, "charts/npv.png")), ("new".into(), "new".into()));
        assert_eq!(read(out, "run.json"), "old", "kept by the committed set");
        assert_eq!(listed(out).len(), 4);
    }

    #[test]
    fn dead_temporaries_go_and_live_ones_stay() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path();
        let dead = dead_temp(out, "0123456789abcdef", "left by a killed run");
        let live = dead_temp(out, "fedcba9876543210", "being written");
        let holder = File::open(out.join(&live)).unwrap();
        holder.lock().unwrap();
        fs::write(out.join(".dealsim-tmp-notes"), "not a temporary's name").unwrap();
        // Only temporaries: to dealsim the directory is empty.
        assert!(OutputDir::open(out, Writer::Run, &[]).is_err(), "the odd name is not dealsim's");
        fs::remove_file(out.join(".dealsim-tmp-notes")).unwrap();
        write_set(out, Writer::Run, &[("summary.csv", "1")]).unwrap();
        assert!(!out.join(dead).exists());
        assert_eq!(read(out, &live), "being written");
        drop(holder);
        write_set(out, Writer::Run, &[("summary.csv", "2")]).unwrap();
        assert_eq!(tree(out), [MANIFEST_FILE, "summary.csv"]);
    }

    #[test]
    fn a_command_that_fails_leaves_no_trace() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("new/out");
        let mut output = OutputDir::open(&out, Writer::Run, &[]).unwrap();
        let temp = output.temp_file().unwrap();
        assert!(temp.path().exists());
        output.stage("summary.csv", b"1").unwrap();
        drop(temp);
        drop(output);
        assert!(tree(root.path()).is_empty(), "{:?}", tree(root.path()));
        let mut output = OutputDir::open(&out, Writer::Run, &[]).unwrap();
        let long = "x".repeat(256);
        assert!(matches!(output.stage(&long, b"1"), Err(OutputError::Unwritable { .. })));
        assert!(matches!(output.stage("../x", b"1"), Err(OutputError::Unwritable { .. })));
    }

    #[test]
    fn a_link_to_a_directory_is_written_through() {
        let root = tempfile::tempdir().unwrap();
        let (real, link) = (root.path().join("real"), root.path().join("link"));
        fs::create_dir(&real).unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_set(&link, Writer::Run, &[("summary.csv", "1")]).unwrap();
        assert_eq!(read(&real, "summary.csv"), "1");
        assert!(fs::symlink_metadata(&link).unwrap().is_symlink());
    }
}
