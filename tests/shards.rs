//! `dealsim run --shard K/N` and `dealsim merge`: shards merged give byte for byte the CSVs of
//! the run made in one go; shards that do not make up one run are refused with exit code 2.

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use dealsim::io::shard_file::ShardFile;
use polars::prelude::{ParquetReader, SerReader};
use predicates::str::contains;

const SCENARIO: &str = r#"
[simulation]
start = 2026
years = 4
steps_per_year = 4
seed = 5
discount_rate = 0.1
[parties.lab]
[parties.cloud]
[[streams]]
name = "lab"
owner = "lab"
initial = "20B"
growth = { dist = "pert", low = 0.3, mode = 0.6, high = 1.2 }
volatility = 0.3
[[deals]]
name = "capped"
[[deals.revenue_shares]]
name = "share"
payer = "lab"
payee = "cloud"
stream = "lab"
rate = "20%"
cap = { dist = "uniform", low = "10B", high = "30B" }
[[deals]]
name = "uncapped"
[[deals.revenue_shares]]
name = "share"
payer = "lab"
payee = "cloud"
stream = "lab"
rate = "15%"
"#;

/// Three chunks of 16,384 paths, the last one partial.
const PATHS: &str = "40000";

struct Setup {
    dir: tempfile::TempDir,
    scenario: PathBuf,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("deal.toml");
    fs::write(&scenario, SCENARIO).unwrap();
    Setup { dir, scenario }
}

fn dealsim() -> Command {
    Command::cargo_bin("dealsim").unwrap()
}

impl Setup {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run_shard(&self, shard: &str, out: &str, extra: &[&str]) {
        dealsim()
            .arg("run")
            .arg(&self.scenario)
            .args(["--paths", PATHS, "--shard", shard, "--out"])
            .arg(self.path(out))
            .args(extra)
            .assert()
            .success()
            .stdout(contains(format!("shard {shard}")));
    }

    fn merge(&self, shards: &[&str], out: &str) -> assert_cmd::assert::Assert {
        dealsim()
            .arg("merge")
            .arg(&self.scenario)
            .args(shards.iter().map(|shard| self.path(shard)))
            .args(["--no-charts", "--out"])
            .arg(self.path(out))
            .assert()
    }
}

fn read(dir: &Path, file: &str) -> Vec<u8> {
    fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{}: {e}", dir.join(file).display()))
}

#[test]
fn merged_shards_write_the_same_files_as_one_run() {
    let setup = setup();
    let whole = setup.path("whole");
    dealsim()
        .arg("run")
        .arg(&setup.scenario)
        .args(["--paths", PATHS, "--no-charts", "--out"])
        .arg(&whole)
        .assert()
        .success();
    setup.run_shard("1/3", "shard-1", &[]);
    setup.run_shard("2/3", "shard-2", &["--keep-paths"]);
    setup.run_shard("3/3", "shard-3", &[]);
    // A shard writes its shard file, not a partial summary; its paths keep their run-wide index.
    assert!(!setup.path("shard-1").join("summary.csv").exists());
    let kept = fs::File::open(setup.path("shard-2").join("paths.parquet")).unwrap();
    let kept = ParquetReader::new(kept).finish().unwrap();
    let index = kept.column("path").unwrap().u64().unwrap();
    assert_eq!((index.get(0), kept.height()), (Some(16_384), 16_384), "shard 2 holds the second chunk's paths");
    setup.merge(&["shard-3", "shard-1", "shard-2"], "merged").success().stdout(contains("40000 paths"));
    let merged = setup.path("merged");
    for file in ["summary.csv", "timeseries.csv", "comparison.csv", "sensitivity.csv"] {
        assert!(read(&whole, file) == read(&merged, file), "{file} differs between the merge and one run");
    }
    let info = String::from_utf8(read(&merged, "run.json")).unwrap();
    assert!(info.contains("\"shards\": 3"), "{info}");
    assert!(info.contains("\"paths\": 40000"), "{info}");
}

#[test]
fn shards_that_do_not_make_up_the_run_are_refused() {
    let setup = setup();
    setup.run_shard("1/3", "one", &[]);
    setup.run_shard("3/3", "three", &[]);
    setup.run_shard("2/3", "other-seed", &["--seed", "6"]);
    setup.run_shard("2/3", "other-baseline", &["--baseline", "uncapped"]);
    setup.merge(&["one", "three"], "gap").code(2).stderr(contains("chunks 1..2 of the run are in no shard"));
    setup.merge(&["one", "one", "three"], "twice").code(2).stderr(contains("chunks 0..1 are in two shards"));
    setup
        .merge(&["one", "other-seed", "three"], "mixed")
        .code(2)
        .stderr(contains("seed: expected 5, found 6"))
        .stderr(contains("other-seed"));
    setup
        .merge(&["one", "other-baseline", "three"], "baselines")
        .code(2)
        .stderr(contains("baseline deal: expected capped, found uncapped"));
    for refused in ["gap", "twice", "mixed", "baselines"] {
        assert!(!setup.path(refused).exists(), "nothing is written for a refused merge");
    }
}

#[test]
fn a_mismatch_names_the_shard_that_differs() {
    let setup = setup();
    setup.run_shard("1/2", "odd", &["--seed", "7"]);
    setup.run_shard("2/2", "good", &[]);
    setup.run_shard("2/2", "other", &["--seed", "9"]);
    let (odd, good) = (setup.path("odd").display().to_string(), setup.path("good").display().to_string());
    // Two shards split one against one: the scenario's seed, 5, settles which is odd, in
    // whichever order they are given.
    for order in [["odd", "good"], ["good", "odd"]] {
        setup
            .merge(&order, "merged")
            .code(2)
            .stderr(contains(format!("{odd}: seed: expected 5, found 7 (5 is the seed of the scenario and {good})")));
    }
    // Neither has the scenario's seed: both are named, with their values.
    setup
        .merge(&["odd", "other"], "merged")
        .code(2)
        .stderr(contains(format!("the shards disagree on the seed: {odd} has 7; ")))
        .stderr(contains("other has 9"));
    // Shards given other overrides than the merge's are each named.
    dealsim()
        .arg("merge")
        .arg(&setup.scenario)
        .args(["--set", "simulation.discount_rate=5%", "--no-charts", "--out"])
        .arg(setup.path("merged"))
        .arg(setup.path("good"))
        .arg(setup.path("odd"))
        .assert()
        .code(2)
        .stderr(contains(format!("{good}, {odd}: the shard was run from another scenario text")));
    assert!(!setup.path("merged").exists());
}

#[test]
fn a_merge_must_name_the_scenario_the_shards_ran() {
    let setup = setup();
    setup.run_shard("1/1", "all", &[]);
    dealsim()
        .arg("merge")
        .arg(&setup.scenario)
        .arg(setup.path("all"))
        .args(["--set", "simulation.discount_rate=5%", "--out"])
        .arg(setup.path("merged"))
        .assert()
        .code(2)
        .stderr(contains("another scenario text or other --set overrides"));
    fs::write(setup.path("all").join("shard.dealsim"), "not a shard").unwrap();
    setup.merge(&["all"], "merged").code(2).stderr(contains("not a dealsim shard file"));
}

#[test]
fn shard_flags_are_checked() {
    let setup = setup();
    for bad in ["0/3", "4/3", "2", "a/b"] {
        dealsim()
            .arg("run")
            .arg(&setup.scenario)
            .args(["--shard", bad])
            .assert()
            .code(2)
            .stderr(contains("expected K/N with 1 <= K <= N"));
    }
    dealsim()
        .arg("run")
        .arg(&setup.scenario)
        .args(["--shard", "1/2", "--target-se", "0.01"])
        .assert()
        .code(2)
        .stderr(contains("cannot be used with"));
}

/// A change to a decoded shard.
type Edit = Box<dyn FnOnce(&mut ShardFile)>;

/// Rewrites a shard file's body with `edit` and a fresh checksum, as a hand edit that also
/// recomputed the checksum would.
fn edit_shard(file: &Path, edit: impl FnOnce(&mut ShardFile)) {
    let mut shard = ShardFile::from_bytes(&fs::read(file).unwrap()).unwrap();
    edit(&mut shard);
    fs::write(file, shard.to_bytes().unwrap()).unwrap();
}

/// A summary edited through its serialized form, where its fields are not public.
fn edited<T: serde::Serialize + serde::de::DeserializeOwned>(
    value: &T,
    edit: impl FnOnce(&mut serde_json::Value),
) -> T {
    let mut json = serde_json::to_value(value).unwrap();
    edit(&mut json);
    serde_json::from_value(json).unwrap()
}

#[test]
fn an_edited_shard_with_a_recomputed_checksum_is_refused_not_merged() {
    let setup = setup();
    setup.run_shard("1/3", "one", &[]);
    setup.run_shard("2/3", "two", &[]);
    setup.run_shard("3/3", "three", &[]);
    let cases: [(&str, Edit); 5] = [
        // The issue's case: percentiles over a count the buckets do not hold panicked in merge.
        (
            "a percentile sketch's bucket counts do not add up to its count",
            Box::new(|shard| shard.sketches[0] = edited(&shard.sketches[0], |s| s["count"] = (2 * 16_384).into())),
        ),
        ("its path count does not match its chunks", Box::new(|shard| shard.shard_paths += 1)),
        ("its chunks are not those of its shard number", Box::new(|shard| shard.chunks = (2, 1))),
        (
            "a mean or spread is not a finite number within ±1e140",
            Box::new(|shard| {
                shard.chunk_moments[0][0] = edited(&shard.chunk_moments[0][0], |m| m["mean"] = 1e300.into())
            }),
        ),
        ("its shard number is not between 1 and the shard count", Box::new(|shard| shard.shard = 9)),
    ];
    for (index, (message, edit)) in cases.into_iter().enumerate() {
        let edited = format!("edited-{index}");
        fs::create_dir(setup.path(&edited)).unwrap();
        fs::copy(setup.path("two").join("shard.dealsim"), setup.path(&edited).join("shard.dealsim")).unwrap();
        edit_shard(&setup.path(&edited).join("shard.dealsim"), edit);
        setup
            .merge(&["one", &edited, "three"], &format!("merged-{index}"))
            .code(2)
            .stderr(contains("shard.dealsim: the shard is inconsistent"))
            .stderr(contains(message));
        assert!(!setup.path(&format!("merged-{index}")).exists());
    }
}
