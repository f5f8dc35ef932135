//! Shard files (`run --shard` writes one, `merge` reads them): one shard's chunk moments and
//! quantile sketches after a header that identifies the run they belong to, checksummed.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::engine::metrics::Layout;
use crate::engine::stats::{InvalidSummary, Moments, QuantileSketch};
use crate::engine::{Aggregates, Shard, Stop, chunk_count, chunk_paths};
use crate::io::shard_set::ShardDir;
use crate::scenario::{MAX_PATHS, Scenario};

/// What a shard file starts with, before the checksum and the encoded shard.
const MAGIC: &[u8] = b"dealsim shard\n";
const CHECKSUM_BYTES: usize = 32;
/// The most shards a message names for agreeing on what an odd shard differs in.
const AGREEING_NAMED: usize = 3;

/// One shard of a run, as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ShardFile {
    pub header: ShardHeader,
    pub chunk_moments: Vec<Vec<Moments>>,
    pub sketches: Vec<QuantileSketch>,
}

/// What a shard file says of its shard before its statistics, read alone
/// ([`ShardHeader::from_bytes`]) to check a merge's shards before any is folded in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardHeader {
    /// Shards merge only with shards of the same dealsim version: the engine may change.
    pub version: String,
    /// The scenario hash of run.json: the file's bytes and every `--set`.
    pub scenario_hash: String,
    pub seed: u64,
    /// The whole run's path count.
    pub paths: u64,
    pub baseline: usize,
    /// 1-based, as given on the command line.
    pub shard: u64,
    pub shards: u64,
    pub chunks: (u64, u64),
    pub shard_paths: u64,
    pub threads: usize,
    pub elapsed_seconds: f64,
    /// The SHA-256 of the encoded shard, as the file stores it (not encoded in the header).
    #[serde(skip)]
    pub checksum: Vec<u8>,
}

/// What every shard of one run shares.
#[derive(Clone, Debug, PartialEq)]
pub struct RunIdentity {
    pub scenario_hash: String,
    pub seed: u64,
    pub paths: u64,
    pub baseline: usize,
    pub shards: u64,
}

/// Why a shard file could not be read or does not belong with the others.
#[derive(Debug, thiserror::Error)]
pub enum ShardFileError {
    #[error("not a dealsim shard file")]
    NotAShard,
    #[error("the file is damaged (its checksum does not match)")]
    Damaged,
    #[error("cannot decode the shard: {0}")]
    Decode(#[from] postcard::Error),
    #[error("written by dealsim {found}, this is {expected}: rerun the shard with this version")]
    Version { expected: String, found: String },
    #[error("{what}: expected {expected}, found {found}")]
    Mismatch { what: &'static str, expected: String, found: String },
    /// The checksum matches but the contents are not what a run writes (an edited body with a
    /// recomputed checksum, or a bug): refused before any of it reaches a merge.
    #[error("the shard is inconsistent: {0}")]
    Inconsistent(&'static str),
    #[error("the shard is inconsistent: value {slot} of each path: {source}")]
    Summary { slot: usize, source: InvalidSummary },
}

/// What a merge's own arguments say of the run its shards belong to: the scenario hash exactly;
/// the seed, path count and baseline as the scenario's defaults, which `--seed`, `--paths` and
/// `--baseline` may have changed alike for every shard.
#[derive(Clone, Debug)]
pub struct Expected {
    pub scenario_hash: String,
    pub seed: u64,
    pub paths: u64,
    pub baseline: usize,
}

/// Shards that are not of one run, named by the labels they were given (their directories).
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum Disagreement {
    #[error(
        "{}: the shard was run from another scenario text or other --set overrides than the merge's (hash {}, \
         expected {expected})",
        shards.join(", "),
        found.join(", ")
    )]
    ScenarioHash { shards: Vec<String>, expected: String, found: Vec<String> },
    /// Some shards differ from what most shards have, or, where the shards split evenly, from
    /// the scenario; `odd` holds each other value with the shards that have it.
    #[error("{} ({expected} is the {what} of {reference})", describe_odd(what, expected, odd))]
    Odd { what: &'static str, expected: String, reference: String, odd: Vec<(String, Vec<String>)> },
    /// Shards split evenly, and the scenario does not settle which value is the run's.
    #[error("the shards disagree on the {what}: {}; every shard of a run needs the same", describe_groups(groups))]
    Split { what: &'static str, groups: Vec<(String, Vec<String>)> },
}

fn describe_groups(groups: &[(String, Vec<String>)]) -> String {
    let described: Vec<String> = groups
        .iter()
        .map(|(value, shards)| {
            let verb = if shards.len() == 1 { "has" } else { "have" };
            format!("{} {verb} {value}", shards.join(", "))
        })
        .collect();
    described.join("; ")
}

fn describe_odd(what: &str, expected: &str, odd: &[(String, Vec<String>)]) -> String {
    let described: Vec<String> = odd
        .iter()
        .map(|(found, shards)| format!("{}: {what}: expected {expected}, found {found}", shards.join(", ")))
        .collect();
    described.join("; ")
}

/// The run every shard belongs to. Where shards differ, the ones named are those that differ
/// from the merge's scenario hash, or else from the value most shards share, or else (an even
/// split) from the scenario's default; failing all three, every group is listed.
pub fn common_run(shards: &[ShardDir], expected: &Expected, scenario: &Scenario) -> Result<RunIdentity, Disagreement> {
    let odd_hash: Vec<&ShardDir> =
        shards.iter().filter(|shard| shard.header.scenario_hash != expected.scenario_hash).collect();
    if !odd_hash.is_empty() {
        let mut found: Vec<String> = odd_hash.iter().map(|shard| shard.header.scenario_hash.clone()).collect();
        found.sort();
        found.dedup();
        return Err(Disagreement::ScenarioHash {
            shards: odd_hash.iter().map(|shard| shard.label()).collect(),
            expected: expected.scenario_hash.clone(),
            found,
        });
    }
    let deal = |index: usize| scenario.deals.get(index).map_or_else(|| index.to_string(), |d| d.name.clone());
    agree(shards, "shard count", |shard| shard.shards.to_string(), None)?;
    agree(shards, "paths", |shard| shard.paths.to_string(), Some(expected.paths.to_string()))?;
    agree(shards, "seed", |shard| shard.seed.to_string(), Some(expected.seed.to_string()))?;
    agree(shards, "baseline deal", |shard| deal(shard.baseline), Some(deal(expected.baseline)))?;
    let first = &shards.first().expect("a merge has at least one shard").header;
    Ok(RunIdentity {
        scenario_hash: first.scenario_hash.clone(),
        seed: first.seed,
        paths: first.paths,
        baseline: first.baseline,
        shards: first.shards,
    })
}

/// Checks every shard has the same `what`; see [`common_run`] for whom a difference blames.
fn agree(
    shards: &[ShardDir],
    what: &'static str,
    value: impl Fn(&ShardHeader) -> String,
    default: Option<String>,
) -> Result<(), Disagreement> {
    // Values in the order the shards were given, with the shards that have each.
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for shard in shards {
        let found = value(&shard.header);
        match groups.iter_mut().find(|(value, _)| *value == found) {
            Some((_, labels)) => labels.push(shard.label()),
            None => groups.push((found, vec![shard.label()])),
        }
    }
    if groups.len() < 2 {
        return Ok(());
    }
    let largest = groups.iter().map(|(_, labels)| labels.len()).max().unwrap_or(0);
    let leaders: Vec<usize> = (0..groups.len()).filter(|&g| groups[g].1.len() == largest).collect();
    let (chosen, by_default) = match leaders.as_slice() {
        [only] => (*only, false),
        tied => match tied.iter().find(|&&g| Some(&groups[g].0) == default.as_ref()) {
            Some(&g) => (g, true),
            None => return Err(Disagreement::Split { what, groups }),
        },
    };
    let (expected, agreeing) = groups.remove(chosen);
    // The shards that agree are named while few; of a run of hundreds, the odd ones are what
    // matter.
    let named =
        if agreeing.len() <= AGREEING_NAMED { agreeing.join(", ") } else { format!("{} shards", agreeing.len()) };
    let reference = if by_default {
        format!("the scenario and {named}")
    } else if agreeing.len() <= AGREEING_NAMED {
        let shard = if agreeing.len() == 1 { "shard" } else { "shards" };
        format!("{} {shard} of {}: {named}", agreeing.len(), shards.len())
    } else {
        format!("{} shards of {}", agreeing.len(), shards.len())
    };
    Err(Disagreement::Odd { what, expected, reference, odd: groups })
}

impl ShardFile {
    pub fn of(aggregates: &Aggregates, scenario_hash: &str, paths: u64, baseline: usize, shard: Shard) -> ShardFile {
        let header = ShardHeader {
            version: env!("CARGO_PKG_VERSION").to_string(),
            scenario_hash: scenario_hash.to_string(),
            seed: aggregates.seed,
            paths,
            baseline,
            shard: shard.index + 1,
            shards: shard.count,
            chunks: (aggregates.chunks.start, aggregates.chunks.end),
            shard_paths: aggregates.paths,
            threads: aggregates.threads,
            elapsed_seconds: aggregates.elapsed.as_secs_f64(),
            checksum: Vec::new(),
        };
        ShardFile { header, chunk_moments: aggregates.chunk_moments.clone(), sketches: aggregates.sketches.clone() }
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>, ShardFileError> {
        let body = postcard::to_stdvec(self)?;
        let mut bytes = Vec::with_capacity(MAGIC.len() + CHECKSUM_BYTES + body.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&Sha256::digest(&body));
        bytes.extend_from_slice(&body);
        Ok(bytes)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<ShardFile, ShardFileError> {
        let (checksum, body) = checked_body(bytes)?;
        let mut shard: ShardFile = postcard::from_bytes(body)?;
        shard.header.checksum = checksum.to_vec();
        shard.check()?;
        Ok(shard)
    }

    /// Whether the shard is one a run could have written: its place in the run, its path count
    /// and every summary agree with each other and lie in range. Merging checked shards cannot
    /// overflow a count or produce a statistic that is not finite.
    fn check(&self) -> Result<(), ShardFileError> {
        use ShardFileError::Inconsistent;
        let header = &self.header;
        let chunks = header.check()?;
        if self.chunk_moments.len() as u64 != chunks.end - chunks.start {
            return Err(Inconsistent("it does not hold one set of moments per chunk"));
        }
        let width = self.sketches.len();
        if self.chunk_moments.iter().any(|chunk| chunk.len() != width) {
            return Err(Inconsistent("its chunks hold different numbers of values"));
        }
        for (slot, sketch) in self.sketches.iter().enumerate() {
            let summary = |source| ShardFileError::Summary { slot, source };
            sketch.check().map_err(summary)?;
            let mut counted = 0;
            for (chunk, moments) in chunks.clone().zip(&self.chunk_moments) {
                let moments = &moments[slot];
                moments.check().map_err(summary)?;
                let chunk_paths = chunk_paths(&(chunk..chunk + 1), header.paths);
                if moments.count() > chunk_paths.end - chunk_paths.start {
                    return Err(Inconsistent("a chunk counts more values than it has paths"));
                }
                counted += moments.count();
            }
            if sketch.count() != counted {
                return Err(Inconsistent("its moments and its percentile sketches count different paths"));
            }
        }
        Ok(())
    }

    /// This shard's aggregates, once [`common_run`] has found it belongs with the others.
    pub fn into_aggregates(self, scenario: &Scenario) -> Result<Aggregates, ShardFileError> {
        let header = self.header;
        if header.baseline >= scenario.deals.len() {
            return Err(ShardFileError::Inconsistent("its baseline deal is not a deal of the scenario"));
        }
        let layout = Layout::of(scenario, header.baseline);
        let width = layout.width();
        // Checked on reading: every chunk holds as many values as the sketches.
        if self.sketches.len() != width {
            return Err(ShardFileError::Mismatch {
                what: "values per path",
                expected: width.to_string(),
                found: self.sketches.len().to_string(),
            });
        }
        // Every path has every value but the conditional ones.
        let mut complete = (0..width).filter(|&slot| !layout.conditional(slot));
        if complete.any(|slot| self.sketches[slot].count() != header.shard_paths) {
            return Err(ShardFileError::Inconsistent("a value every path has is missing on some paths"));
        }
        let chunks = header.chunks.0..header.chunks.1;
        let moments = vec![Moments::default(); width];
        Ok(Aggregates {
            layout,
            moments,
            sketches: self.sketches,
            paths: header.shard_paths,
            seed: header.seed,
            threads: header.threads,
            elapsed: Duration::try_from_secs_f64(header.elapsed_seconds).unwrap_or_default(),
            stop: Stop::PathCount,
            // A shard's running means are not the run's: the merge forms those.
            convergence: Vec::new(),
            chunks,
            chunk_moments: self.chunk_moments,
        })
    }
}

impl ShardHeader {
    /// The header of a shard file, the whole file checked but only the header decoded.
    pub fn from_bytes(bytes: &[u8]) -> Result<ShardHeader, ShardFileError> {
        let (checksum, body) = checked_body(bytes)?;
        let (mut header, _) = postcard::take_from_bytes::<ShardHeader>(body)?;
        header.check()?;
        header.checksum = checksum.to_vec();
        Ok(header)
    }

    /// Whether its place in the run and its path count agree with each other and lie in range;
    /// returns its chunks.
    fn check(&self) -> Result<std::ops::Range<u64>, ShardFileError> {
        use ShardFileError::Inconsistent;
        if !(1..=MAX_PATHS).contains(&self.paths) {
            return Err(Inconsistent("its run's path count is out of range"));
        }
        if !(1..=self.shards).contains(&self.shard) {
            return Err(Inconsistent("its shard number is not between 1 and the shard count"));
        }
        let chunks = Shard { index: self.shard - 1, count: self.shards }.chunks(chunk_count(self.paths));
        if (self.chunks.0..self.chunks.1) != chunks {
            return Err(Inconsistent("its chunks are not those of its shard number"));
        }
        let paths = chunk_paths(&chunks, self.paths);
        if self.shard_paths != paths.end - paths.start {
            return Err(Inconsistent("its path count does not match its chunks"));
        }
        if !(self.elapsed_seconds.is_finite() && self.elapsed_seconds >= 0.0) {
            return Err(Inconsistent("its run time is not a duration"));
        }
        Ok(chunks)
    }
}

/// The checksum and the encoded shard of a file that is whole and of this version.
fn checked_body(bytes: &[u8]) -> Result<(&[u8], &[u8]), ShardFileError> {
    let rest = bytes.strip_prefix(MAGIC).ok_or(ShardFileError::NotAShard)?;
    if rest.len() < CHECKSUM_BYTES {
        return Err(ShardFileError::Damaged);
    }
    let (checksum, body) = rest.split_at(CHECKSUM_BYTES);
    if Sha256::digest(body).as_slice() != checksum {
        return Err(ShardFileError::Damaged);
    }
    // The version leads, so a shard of another version says so even if the rest has changed.
    let (version, _) = postcard::take_from_bytes::<String>(body)?;
    let expected = env!("CARGO_PKG_VERSION");
    if version != expected {
        return Err(ShardFileError::Version { expected: expected.to_string(), found: version });
    }
    Ok((checksum, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(version: &str) -> ShardFile {
        let header = ShardHeader {
            version: version.to_string(),
            scenario_hash: "ab".repeat(32),
            seed: 5,
            paths: 40_000,
            baseline: 0,
            shard: 2,
            shards: 3,
            chunks: (1, 2),
            shard_paths: 16_384,
            threads: 2,
            elapsed_seconds: 0.25,
            checksum: Vec::new(),
        };
        ShardFile { header, chunk_moments: vec![vec![Moments::default(); 3]], sketches: vec![QuantileSketch::new(); 3] }
    }

    #[test]
    fn the_header_reads_alone_as_the_whole_file_has_it() {
        let bytes = shard(env!("CARGO_PKG_VERSION")).to_bytes().unwrap();
        let whole = ShardFile::from_bytes(&bytes).unwrap();
        let header = ShardHeader::from_bytes(&bytes).unwrap();
        assert_eq!(header, whole.header);
        assert_eq!(header.checksum.len(), CHECKSUM_BYTES);
        let mut damaged = bytes.clone();
        *damaged.last_mut().unwrap() ^= 1;
        assert!(matches!(ShardHeader::from_bytes(&damaged), Err(ShardFileError::Damaged)));
    }

    #[test]
    fn a_shard_of_another_version_says_so() {
        let bytes = shard("0.0.1").to_bytes().unwrap();
        let error = ShardHeader::from_bytes(&bytes).unwrap_err().to_string();
        assert!(error.starts_with("written by dealsim 0.0.1, this is"), "{error}");
    }
}
