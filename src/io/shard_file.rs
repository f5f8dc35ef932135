//! Shard files (`run --shard K/N` writes one, `merge` reads them): one shard's chunk moments and
//! quantile sketches with what identifies the run they belong to, checksummed.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::engine::metrics::Layout;
use crate::engine::stats::{Moments, QuantileSketch};
use crate::engine::{Aggregates, Shard, Stop};
use crate::scenario::Scenario;

/// What a shard file starts with, before the checksum and the encoded shard.
const MAGIC: &[u8] = b"dealsim shard\n";
const CHECKSUM_BYTES: usize = 32;

/// One shard of a run, as stored.
#[derive(Debug, Serialize, Deserialize)]
pub struct ShardFile {
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
    pub chunk_moments: Vec<Vec<Moments>>,
    pub sketches: Vec<QuantileSketch>,
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
}

impl ShardFile {
    pub fn of(aggregates: &Aggregates, scenario_hash: &str, paths: u64, baseline: usize, shard: Shard) -> ShardFile {
        ShardFile {
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
            chunk_moments: aggregates.chunk_moments.clone(),
            sketches: aggregates.sketches.clone(),
        }
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
        let rest = bytes.strip_prefix(MAGIC).ok_or(ShardFileError::NotAShard)?;
        if rest.len() < CHECKSUM_BYTES {
            return Err(ShardFileError::Damaged);
        }
        let (checksum, body) = rest.split_at(CHECKSUM_BYTES);
        if Sha256::digest(body).as_slice() != checksum {
            return Err(ShardFileError::Damaged);
        }
        let shard: ShardFile = postcard::from_bytes(body)?;
        let expected = env!("CARGO_PKG_VERSION");
        if shard.version != expected {
            return Err(ShardFileError::Version { expected: expected.to_string(), found: shard.version });
        }
        Ok(shard)
    }

    pub fn run(&self) -> RunIdentity {
        RunIdentity {
            scenario_hash: self.scenario_hash.clone(),
            seed: self.seed,
            paths: self.paths,
            baseline: self.baseline,
            shards: self.shards,
        }
    }

    /// This shard's aggregates, once it is known to come from `run`, of `scenario`.
    pub fn into_aggregates(self, scenario: &Scenario, run: &RunIdentity) -> Result<Aggregates, ShardFileError> {
        let same = |what: &'static str, expected: String, found: String| {
            if expected == found { Ok(()) } else { Err(ShardFileError::Mismatch { what, expected, found }) }
        };
        same("scenario hash (file and --set)", run.scenario_hash.clone(), self.scenario_hash.clone())?;
        same("seed", run.seed.to_string(), self.seed.to_string())?;
        same("paths", run.paths.to_string(), self.paths.to_string())?;
        let deal = |index: usize| scenario.deals.get(index).map_or_else(|| index.to_string(), |d| d.name.clone());
        same("baseline deal", deal(run.baseline), deal(self.baseline))?;
        same("shard count", run.shards.to_string(), self.shards.to_string())?;
        let layout = Layout::of(scenario, self.baseline);
        let width = layout.width();
        let chunk_widths_match = self.chunk_moments.iter().all(|chunk| chunk.len() == width);
        if self.sketches.len() != width || !chunk_widths_match {
            return Err(ShardFileError::Mismatch {
                what: "values per path",
                expected: width.to_string(),
                found: self.sketches.len().to_string(),
            });
        }
        let chunks = self.chunks.0..self.chunks.1;
        if chunks.end - chunks.start != self.chunk_moments.len() as u64 {
            return Err(ShardFileError::Damaged);
        }
        let moments = vec![Moments::default(); width];
        Ok(Aggregates {
            layout,
            moments,
            sketches: self.sketches,
            paths: self.shard_paths,
            seed: self.seed,
            threads: self.threads,
            elapsed: Duration::try_from_secs_f64(self.elapsed_seconds).unwrap_or_default(),
            stop: Stop::PathCount,
            chunks,
            chunk_moments: self.chunk_moments,
        })
    }
}
