//! The shard-file decoder and merge: the input is a shard file's body, given the magic line and a
//! recomputed checksum (a body edited and re-checksummed, as by hand), so that inputs reach the
//! decoder rather than the checksum test. A shard that decodes is merged with the other half of
//! its run, made here once, and the merged run's tables must hold finite numbers only.

#![no_main]

use std::sync::OnceLock;

use dealsim::engine::{self, Aggregates, RunOptions, Shard};
use dealsim::io::shard_file::{Expected, ShardFile, common_run};
use dealsim::io::shard_set::ShardDir;
use dealsim::report;
use dealsim::scenario::{Scenario, parse_scenario};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

/// The scenario the corpus's shards ran (`dealsim run fuzz/shard.toml --shard K/2`).
const SCENARIO: &str = include_str!("../shard.toml");
const MAGIC: &[u8] = b"dealsim shard\n";

struct Run {
    scenario: Scenario,
    /// What `merge` of this scenario expects of its shards.
    expected: Expected,
    /// Shard 2 of 2 as read, to check a decoded shard against as `merge` does.
    second: ShardFile,
    /// Shard 2 of 2 of the scenario's run, as `merge` would read it.
    second_half: Aggregates,
}

fn run() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        let scenario = parse_scenario("shard.toml", SCENARIO, &[]).expect("the shard scenario is valid");
        // The hash `dealsim run` records for a file without `--set`.
        let hash: String = Sha256::digest(SCENARIO.as_bytes()).iter().map(|byte| format!("{byte:02x}")).collect();
        let shard = Shard { index: 1, count: 2 };
        let (paths, seed) = (scenario.simulation.paths, scenario.simulation.seed);
        let options =
            RunOptions { paths, seed, threads: 1, baseline: 0, target_relative_se: None, shard: Some(shard) };
        let aggregates = engine::run(&scenario, options, &|_| {}).expect("the shard scenario runs");
        let bytes = ShardFile::of(&aggregates, &hash, paths, 0, shard).to_bytes().expect("a shard encodes");
        let file = ShardFile::from_bytes(&bytes).expect("a shard decodes");
        let expected = Expected { scenario_hash: hash, seed, paths, baseline: 0 };
        let second_half = file.clone().into_aggregates(&scenario).expect("a shard of this scenario");
        Run { scenario, expected, second: file, second_half }
    })
}

fuzz_target!(|body: &[u8]| {
    let run = run();
    // As given, the input almost never passes the magic line and checksum; it is tried anyway.
    let _ = ShardFile::from_bytes(body);
    let mut bytes = MAGIC.to_vec();
    bytes.extend_from_slice(&Sha256::digest(body));
    bytes.extend_from_slice(body);
    let Ok(file) = ShardFile::from_bytes(&bytes) else { return };
    let shards = [
        ShardDir { path: "fuzzed".into(), header: file.header.clone() },
        ShardDir { path: "second".into(), header: run.second.header.clone() },
    ];
    let Ok(identity) = common_run(&shards, &run.expected, &run.scenario) else { return };
    let Ok(first_half) = file.into_aggregates(&run.scenario) else { return };
    let Ok(merged) = engine::merge_shards(vec![first_half, run.second_half.clone()], identity.paths) else {
        return;
    };
    let summary = report::csv_bytes(&report::summary_rows(&run.scenario, &merged)).expect("summary.csv");
    let timeseries = report::csv_bytes(&report::timeseries_rows(&run.scenario, &merged)).expect("timeseries.csv");
    let comparison = report::csv_bytes(&report::comparison_rows(&run.scenario, &merged)).expect("comparison.csv");
    for csv in [summary, timeseries, comparison] {
        let text = String::from_utf8(csv).expect("CSV is text");
        assert!(!text.contains("NaN") && !text.contains("inf"), "a merged table holds a value that is not finite");
    }
});
