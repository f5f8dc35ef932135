//! Replays every input of the fuzz corpus (`fuzz/corpus/<target>/`) through what its fuzz target
//! calls, on stable: the scenario reader, the `--set` parser, and the shard decoder and merge.
//! The targets in `fuzz/fuzz_targets/` hold the same few lines; each input must neither panic
//! nor leave a value that is not finite in a merged table.

use std::fs;
use std::path::{Path, PathBuf};

use dealsim::engine::{self, Aggregates, RunOptions, Shard};
use dealsim::io::shard_file::{Expected, ShardFile, common_run};
use dealsim::io::shard_set::ShardDir;
use dealsim::report;
use dealsim::scenario::{Override, Scenario, parse_scenario};
use sha2::{Digest, Sha256};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The corpus of one target, sorted; at least one input, so a moved directory is noticed.
fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = fuzz_dir().join("corpus").join(target);
    let mut inputs: Vec<(String, Vec<u8>)> = fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            (path.file_name().unwrap().to_string_lossy().into_owned(), fs::read(&path).unwrap())
        })
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "{} is empty", dir.display());
    inputs
}

#[test]
fn scenario_corpus_replays() {
    let inputs = corpus("scenario");
    let mut valid = 0;
    for (_, data) in &inputs {
        if let Ok(text) = std::str::from_utf8(data) {
            valid += usize::from(parse_scenario("fuzz.toml", text, &[]).is_ok());
        }
    }
    // Standalone copies of the shipped scenarios are in it (base.toml and flattened growth
    // vintages; an older deal-structures.toml that no longer validates stays as a seed).
    assert!(valid >= 4, "{valid} of {} inputs validate", inputs.len());
}

#[test]
fn set_corpus_replays() {
    const BASE: &str = include_str!("../fuzz/set.toml");
    for (_, data) in corpus("set") {
        let Ok(text) = std::str::from_utf8(&data) else { continue };
        let sets: Vec<Override> = text.lines().filter_map(|line| Override::parse(line).ok()).collect();
        if !sets.is_empty() {
            let _ = parse_scenario("base.toml", BASE, &sets);
        }
    }
}

/// The scenario of the shard corpus, and the second half of its run, made as the shard target
/// makes them.
struct Run {
    scenario: Scenario,
    /// What `merge` of this scenario expects of its shards.
    expected: Expected,
    /// Shard 2 of 2 as read, to check a decoded shard against as `merge` does.
    second: ShardFile,
    second_half: Aggregates,
}

fn shard_run() -> Run {
    let text = fs::read_to_string(fuzz_dir().join("shard.toml")).unwrap();
    let scenario = parse_scenario("shard.toml", &text, &[]).unwrap();
    let hash: String = Sha256::digest(text.as_bytes()).iter().map(|byte| format!("{byte:02x}")).collect();
    let shard = Shard { index: 1, count: 2 };
    let (paths, seed) = (scenario.simulation.paths, scenario.simulation.seed);
    let options = RunOptions { paths, seed, threads: 1, baseline: 0, target_relative_se: None, shard: Some(shard) };
    let aggregates = engine::run(&scenario, options, &|_| {}).unwrap();
    let bytes = ShardFile::of(&aggregates, &hash, paths, 0, shard).to_bytes().unwrap();
    let file = ShardFile::from_bytes(&bytes).unwrap();
    let expected = Expected { scenario_hash: hash, seed, paths, baseline: 0 };
    let second_half = file.clone().into_aggregates(&scenario).unwrap();
    Run { scenario, expected, second: file, second_half }
}

#[test]
fn shard_corpus_replays() {
    const MAGIC: &[u8] = b"dealsim shard\n";
    let run = shard_run();
    let mut merged_runs = 0;
    for (name, body) in corpus("shard") {
        let _ = ShardFile::from_bytes(&body);
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&Sha256::digest(&body));
        bytes.extend_from_slice(&body);
        let Ok(file) = ShardFile::from_bytes(&bytes) else { continue };
        let shards = [
            ShardDir { path: "fuzzed".into(), header: file.header.clone() },
            ShardDir { path: "second".into(), header: run.second.header.clone() },
        ];
        let Ok(identity) = common_run(&shards, &run.expected, &run.scenario) else { continue };
        let Ok(first_half) = file.into_aggregates(&run.scenario) else { continue };
        let Ok(merged) = engine::merge_shards(vec![first_half, run.second_half.clone()], identity.paths) else {
            continue;
        };
        merged_runs += 1;
        let tables = [
            report::csv_bytes(&report::summary_rows(&run.scenario, &merged)).unwrap(),
            report::csv_bytes(&report::timeseries_rows(&run.scenario, &merged)).unwrap(),
            report::csv_bytes(&report::comparison_rows(&run.scenario, &merged)).unwrap(),
        ];
        for table in tables {
            let text = String::from_utf8(table).unwrap();
            assert!(
                !text.contains("NaN") && !text.contains("inf"),
                "{name}: a merged table holds a value that is not finite"
            );
        }
    }
    // The first half of the run made by `dealsim run fuzz/shard.toml --shard 1/2` merges.
    assert!(merged_runs >= 1, "no input of the shard corpus merged");
}
