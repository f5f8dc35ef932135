//! The shards a merge reads: shard directories given one by one or found one level under the
//! directory that holds a run's shards, the check that they are every shard of the run once,
//! their fold into the run's aggregates one shard at a time, and where the merged outputs go by
//! default.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::engine::{self, Aggregates, MergeError};
use crate::io::shard_file::{ShardFile, ShardFileError, ShardHeader};
use crate::scenario::Scenario;

/// What `run --shard` writes into its output directory.
pub const SHARD_FILE: &str = "shard.dealsim";
/// The default output of a merge, inside the directory that holds the shards: beside them, and
/// never that directory itself, which is not a dealsim output.
pub const MERGED_DIR: &str = "merged";

/// A shard directory and its shard file's header: what a merge checks before it reads the
/// statistics.
#[derive(Debug)]
pub struct ShardDir {
    pub path: PathBuf,
    pub header: ShardHeader,
}

impl ShardDir {
    /// How messages name it.
    pub fn label(&self) -> String {
        self.path.display().to_string()
    }

    /// The whole shard file, which must still be the one whose header was checked.
    fn read_file(&self) -> Result<ShardFile, ShardSetError> {
        let path = self.path.join(SHARD_FILE);
        let bytes = fs::read(&path).map_err(|source| ShardSetError::Unreadable { path: path.clone(), source })?;
        let file =
            ShardFile::from_bytes(&bytes).map_err(|source| ShardSetError::Shard { path: path.clone(), source })?;
        if file.header != self.header {
            return Err(ShardSetError::Changed { path });
        }
        Ok(file)
    }
}

/// Why the shards could not be read, or do not make up their run.
#[derive(Debug, thiserror::Error)]
pub enum ShardSetError {
    #[error("cannot read {}: {source}", path.display())]
    Unreadable { path: PathBuf, source: io::Error },
    #[error(
        "{} is neither a shard directory (it holds no {SHARD_FILE}) nor a directory of shard directories (none of its \
         subdirectories holds one)",
        dir.display()
    )]
    NoShards { dir: PathBuf },
    #[error("{}: {source}", path.display())]
    Shard { path: PathBuf, source: ShardFileError },
    #[error("{} changed while the merge read it (a shard re-run meanwhile?): merge again", path.display())]
    Changed { path: PathBuf },
    #[error("the shards do not make up the run: {0}")]
    Merge(#[from] MergeError),
    #[error("{}", describe_incomplete(*count, missing, duplicated))]
    Incomplete { count: u64, missing: Vec<u64>, duplicated: Vec<(u64, Vec<String>)> },
}

/// Reads the shards' headers in `given`: each directory that holds a shard file is a shard; each other
/// directory stands for its subdirectories that hold one (the layout `OUTDIR/shard-<index>` of
/// the batch recipes), taken in the order of their shards' indexes. Subdirectories without a
/// shard file (a merge's output, logs) are passed over.
pub fn read_shards(given: &[PathBuf]) -> Result<Vec<ShardDir>, ShardSetError> {
    let mut shards = Vec::new();
    for dir in given {
        if holds_shard_file(dir) {
            shards.push(read_shard(dir)?);
            continue;
        }
        let unreadable = |source| ShardSetError::Unreadable { path: dir.clone(), source };
        let mut found = Vec::new();
        for entry in fs::read_dir(dir).map_err(unreadable)? {
            let path = entry.map_err(unreadable)?.path();
            if path.is_dir() && holds_shard_file(&path) {
                found.push(read_shard(&path)?);
            }
        }
        if found.is_empty() {
            return Err(ShardSetError::NoShards { dir: dir.clone() });
        }
        found.sort_by(|a, b| (a.header.shard, &a.path).cmp(&(b.header.shard, &b.path)));
        shards.extend(found);
    }
    Ok(shards)
}

fn holds_shard_file(dir: &Path) -> bool {
    dir.join(SHARD_FILE).is_file()
}

fn read_shard(dir: &Path) -> Result<ShardDir, ShardSetError> {
    let path = dir.join(SHARD_FILE);
    let bytes = fs::read(&path).map_err(|source| ShardSetError::Unreadable { path: path.clone(), source })?;
    let header = ShardHeader::from_bytes(&bytes).map_err(|source| ShardSetError::Shard { path, source })?;
    Ok(ShardDir { path: dir.to_path_buf(), header })
}

/// Checks that each shard index of a run of `count` shards is in exactly one of `shards`, which
/// agree on the count ([`crate::io::shard_file::common_run`]); lists every index missing or
/// given twice.
pub fn check_complete(shards: &[ShardDir], count: u64) -> Result<(), ShardSetError> {
    let mut by_index: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for shard in shards {
        by_index.entry(shard.header.shard.saturating_sub(1)).or_default().push(shard.label());
    }
    let missing: Vec<u64> = (0..count).filter(|index| !by_index.contains_key(index)).collect();
    let duplicated: Vec<(u64, Vec<String>)> = by_index.into_iter().filter(|(_, dirs)| dirs.len() > 1).collect();
    if missing.is_empty() && duplicated.is_empty() {
        Ok(())
    } else {
        Err(ShardSetError::Incomplete { count, missing, duplicated })
    }
}

/// The run's aggregates from its shards, checked to be every shard of it once
/// ([`check_complete`], [`crate::io::shard_file::common_run`]): each shard file is read in
/// chunk order and folded in, so the merge holds one shard's statistics at a time.
pub fn merge(shards: &[ShardDir], scenario: &Scenario, paths: u64) -> Result<Aggregates, ShardSetError> {
    let mut ordered: Vec<&ShardDir> = shards.iter().collect();
    ordered.sort_by_key(|shard| shard.header.chunks);
    let aggregates = ordered.into_iter().map(|shard| {
        let source = |source| ShardSetError::Shard { path: shard.path.join(SHARD_FILE), source };
        shard.read_file()?.into_aggregates(scenario).map_err(source)
    });
    engine::merge_ordered_shards(aggregates, paths)
}

/// `merged` in the directory that holds every shard, if one does (a directory of shards given,
/// or the shard directories given all in one directory).
pub fn default_out(shards: &[ShardDir]) -> Option<PathBuf> {
    fn parent(shard: &ShardDir) -> Option<&Path> {
        shard.path.file_name().and(shard.path.parent())
    }
    let first = parent(shards.first()?)?;
    let same = |dir: &Path| {
        dir == first || fs::canonicalize(dir).ok().zip(fs::canonicalize(first).ok()).is_some_and(|(a, b)| a == b)
    };
    shards.iter().all(|shard| parent(shard).is_some_and(same)).then(|| first.join(MERGED_DIR))
}

/// `index 2 (--shard 3/8)` or `indexes 5-7 (--shard 6/8 to 8/8)`.
fn describe_indexes(from: u64, to: u64, count: u64) -> String {
    if from == to {
        format!("index {from} (--shard {}/{count})", from + 1)
    } else {
        format!("indexes {from}-{to} (--shard {}/{count} to {}/{count})", from + 1, to + 1)
    }
}

fn describe_incomplete(count: u64, missing: &[u64], duplicated: &[(u64, Vec<String>)]) -> String {
    let mut parts = Vec::new();
    if !missing.is_empty() {
        // Runs of consecutive indexes, so 500 missing shards of 512 read as a few ranges.
        let mut ranges: Vec<(u64, u64)> = Vec::new();
        for &index in missing {
            match ranges.last_mut() {
                Some((_, to)) if *to + 1 == index => *to = index,
                _ => ranges.push((index, index)),
            }
        }
        let listed: Vec<String> = ranges.iter().map(|&(from, to)| describe_indexes(from, to, count)).collect();
        parts.push(format!(
            "{} of the {count} shards {} missing: {} (run {}, each into its own directory, and merge again)",
            missing.len(),
            if missing.len() == 1 { "is" } else { "are" },
            listed.join(", "),
            if missing.len() == 1 { "it" } else { "them" }
        ));
    }
    for (index, dirs) in duplicated {
        parts.push(format!(
            "{} is in {} directories, {}; keep one",
            describe_indexes(*index, *index, count),
            dirs.len(),
            dirs.join(", ")
        ));
    }
    format!("the shards are not every shard of the run once: {}", parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_shards_are_listed_as_ranges_of_indexes() {
        let message = describe_incomplete(64, &[2, 10, 11, 12, 63], &[]);
        assert_eq!(
            message,
            "the shards are not every shard of the run once: 5 of the 64 shards are missing: index 2 (--shard 3/64), \
             indexes 10-12 (--shard 11/64 to 13/64), index 63 (--shard 64/64) (run them, each into its own directory, and merge again)"
        );
        let message = describe_incomplete(8, &[], &[(3, vec!["a/shard-3".into(), "b/shard-3".into()])]);
        assert!(message.ends_with("index 3 (--shard 4/8) is in 2 directories, a/shard-3, b/shard-3; keep one"));
    }
}
