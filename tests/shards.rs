//! `dealsim run --shard K/N|auto` and `dealsim merge`: shards merged give byte for byte the CSVs
//! of the run made in one go; shards that do not make up one run are refused with exit code 2,
//! each missing, duplicated or foreign shard named; `--shard auto` takes the shard from a batch
//! engine's variables.

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use dealsim::io::shard_file::ShardFile;
use polars::prelude::{ParquetReader, SerReader};
use predicates::prelude::PredicateBooleanExt;
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
    let (one, three) = (setup.path("one").display().to_string(), setup.path("three").display().to_string());
    setup
        .merge(&["one", "three"], "gap")
        .code(2)
        .stderr(contains("1 of the 3 shards is missing: index 1 (--shard 2/3)"));
    setup
        .merge(&["one", "three", "one"], "twice")
        .code(2)
        .stderr(contains(format!("index 0 (--shard 1/3) is in 2 directories, {one}, {one}; keep one")))
        .stderr(contains("missing: index 1 (--shard 2/3)"))
        .stderr(contains(&three).not());
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
        ("its path count does not match its chunks", Box::new(|shard| shard.header.shard_paths += 1)),
        ("its chunks are not those of its shard number", Box::new(|shard| shard.header.chunks = (2, 1))),
        (
            "a mean or spread is not a finite number within ±1e140",
            Box::new(|shard| {
                shard.chunk_moments[0][0] = edited(&shard.chunk_moments[0][0], |m| m["mean"] = 1e300.into())
            }),
        ),
        ("its shard number is not between 1 and the shard count", Box::new(|shard| shard.header.shard = 9)),
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

/// Every variable `--shard auto` reads: the tests set only the ones they name.
const ENGINE_VARIABLES: [&str; 10] = [
    "SLURM_ARRAY_TASK_ID",
    "SLURM_ARRAY_TASK_MIN",
    "SLURM_ARRAY_TASK_MAX",
    "SLURM_ARRAY_TASK_COUNT",
    "SLURM_ARRAY_TASK_STEP",
    "SLURM_JOB_ID",
    "JOB_COMPLETION_INDEX",
    "AWS_BATCH_JOB_ARRAY_INDEX",
    "AWS_BATCH_JOB_ARRAY_SIZE",
    "DEALSIM_SHARD_COUNT",
];

impl Setup {
    /// `run --shard auto` in an environment with only `variables` of the batch engines' set.
    fn run_auto(&self, variables: &[(&str, &str)], out: &str) -> assert_cmd::assert::Assert {
        let mut command = dealsim();
        for name in ENGINE_VARIABLES {
            command.env_remove(name);
        }
        command
            .envs(variables.iter().copied())
            .arg("run")
            .arg(&self.scenario)
            .args(["--paths", PATHS, "--shard", "auto", "--out"])
            .arg(self.path(out))
            .assert()
    }

    /// The run in one go, without sensitivity.csv, in `whole/`.
    fn whole(&self) -> PathBuf {
        let whole = self.path("whole");
        dealsim()
            .arg("run")
            .arg(&self.scenario)
            .args(["--paths", PATHS, "--no-charts", "--no-sensitivity", "--out"])
            .arg(&whole)
            .assert()
            .success();
        whole
    }

    /// `merge` of `given` (shard directories or a directory of them) with the default output.
    fn merge_into_default(&self, given: &[&str]) -> assert_cmd::assert::Assert {
        dealsim()
            .current_dir(self.dir.path())
            .arg("merge")
            .arg(&self.scenario)
            .args(given)
            .args(["--no-charts", "--no-sensitivity"])
            .assert()
    }
}

fn assert_same_results(whole: &Path, merged: &Path) {
    for file in ["summary.csv", "timeseries.csv", "comparison.csv"] {
        assert!(read(whole, file) == read(merged, file), "{file} differs between {} and one run", merged.display());
    }
}

#[test]
fn shard_auto_takes_the_shard_from_each_batch_engine() {
    let setup = setup();
    let whole = setup.whole();
    // `sbatch --array=4-6`: task IDs 4, 5 and 6 are shards 0, 1 and 2.
    for (index, id) in ["4", "5", "6"].into_iter().enumerate() {
        let slurm = [
            ("SLURM_ARRAY_TASK_ID", id),
            ("SLURM_ARRAY_TASK_MIN", "4"),
            ("SLURM_ARRAY_TASK_MAX", "6"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
            ("SLURM_ARRAY_TASK_STEP", "1"),
            ("SLURM_JOB_ID", "1234"),
        ];
        setup.run_auto(&slurm, &format!("slurm/shard-{index}")).success().stdout(contains(format!(
            "shard {}/3 (index {index}, Slurm job array: SLURM_ARRAY_TASK_ID={id}, SLURM_ARRAY_TASK_MIN=4",
            index + 1
        )));
    }
    for index in ["0", "1", "2"] {
        setup
            .run_auto(
                &[("JOB_COMPLETION_INDEX", index), ("DEALSIM_SHARD_COUNT", "3")],
                &format!("kubernetes/shard-{index}"),
            )
            .success()
            .stdout(contains(format!(
                ", Kubernetes Indexed Job: JOB_COMPLETION_INDEX={index}, DEALSIM_SHARD_COUNT=3)"
            )));
        let aws = [("AWS_BATCH_JOB_ARRAY_INDEX", index), ("AWS_BATCH_JOB_ARRAY_SIZE", "3")];
        setup.run_auto(&aws, &format!("aws/shard-{index}")).success().stdout(contains(format!(
            ", AWS Batch array job: AWS_BATCH_JOB_ARRAY_INDEX={index}, AWS_BATCH_JOB_ARRAY_SIZE=3)"
        )));
    }
    for engine in ["slurm", "kubernetes", "aws"] {
        setup.merge_into_default(&[engine]).success().stdout(contains("40000 paths"));
        assert_same_results(&whole, &setup.path(engine).join("merged"));
    }
}

#[test]
fn shard_auto_names_the_variables_that_are_missing_or_inconsistent() {
    let setup = setup();
    let cases: [(&[(&str, &str)], &str); 8] = [
        (&[], "no batch engine's task index is set: SLURM_ARRAY_TASK_ID (a Slurm job array), JOB_COMPLETION_INDEX"),
        (&[("SLURM_JOB_ID", "7")], "SLURM_JOB_ID is set: this Slurm job is not an array job"),
        (&[("JOB_COMPLETION_INDEX", "2")], "JOB_COMPLETION_INDEX=2): DEALSIM_SHARD_COUNT is not set"),
        (&[("JOB_COMPLETION_INDEX", "one"), ("DEALSIM_SHARD_COUNT", "3")], "JOB_COMPLETION_INDEX=one is not a whole"),
        (
            &[("AWS_BATCH_JOB_ARRAY_INDEX", "3"), ("DEALSIM_SHARD_COUNT", "3")],
            "AWS_BATCH_JOB_ARRAY_INDEX=3, DEALSIM_SHARD_COUNT=3: shard index 3 is not below the shard count 3",
        ),
        (&[("SLURM_ARRAY_TASK_ID", "2"), ("SLURM_ARRAY_TASK_MIN", "0")], "SLURM_ARRAY_TASK_COUNT is not set"),
        (
            &[
                ("SLURM_ARRAY_TASK_ID", "2"),
                ("SLURM_ARRAY_TASK_MIN", "0"),
                ("SLURM_ARRAY_TASK_MAX", "6"),
                ("SLURM_ARRAY_TASK_COUNT", "4"),
                ("SLURM_ARRAY_TASK_STEP", "2"),
            ],
            "SLURM_ARRAY_TASK_STEP=2: the shards must be an array of contiguous task IDs such as --array=0-3",
        ),
        (
            &[("JOB_COMPLETION_INDEX", "1"), ("SLURM_ARRAY_TASK_ID", "1")],
            "several batch engines are set (SLURM_ARRAY_TASK_ID=1, JOB_COMPLETION_INDEX=1)",
        ),
    ];
    for (variables, message) in cases {
        setup.run_auto(variables, "refused").code(2).stderr(contains(message));
        assert!(!setup.path("refused").exists(), "nothing is written: {variables:?}");
    }
}

#[test]
fn merge_finds_the_shards_in_their_directory_and_writes_beside_them() {
    let setup = setup();
    let whole = setup.whole();
    for k in 1..=3 {
        setup.run_shard(&format!("{k}/3"), &format!("run/shard-{}", k - 1), &["--keep-paths"]);
    }
    setup
        .merge_into_default(&["run"])
        .success()
        .stdout(contains(format!("wrote {}", Path::new("run/merged").display())));
    assert_same_results(&whole, &setup.path("run/merged"));
    // The shard directories given one by one merge into the same place, replacing that output;
    // the merged directory, which holds no shard file, is passed over when the run's is given.
    setup.merge_into_default(&["run/shard-2", "run/shard-0", "run/shard-1"]).success();
    setup.merge_into_default(&["run"]).success();
    assert_same_results(&whole, &setup.path("run/merged"));
    assert!(!setup.path("run/merged/paths.parquet").exists(), "the paths stay in the shards");
    // The shards' paths.parquet files are one table of the run's paths, each path once.
    let mut paths: Vec<u64> = Vec::new();
    for index in 0..3 {
        let file = fs::File::open(setup.path(&format!("run/shard-{index}/paths.parquet"))).unwrap();
        let table = ParquetReader::new(file).finish().unwrap();
        paths.extend(table.column("path").unwrap().u64().unwrap().into_no_null_iter());
    }
    assert_eq!(paths, (0..40_000).collect::<Vec<u64>>());
    // The directory of shards is not a dealsim output: it is never the merge's.
    setup.merge(&["run"], "run").code(2).stderr(contains("it holds the shard directory"));
    fs::create_dir(setup.path("empty")).unwrap();
    setup.merge(&["empty"], "merged").code(2).stderr(contains("empty is neither a shard directory"));
}

#[test]
fn merge_names_missing_duplicated_and_foreign_shards() {
    let setup = setup();
    setup.run_shard("1/4", "run/shard-0", &[]);
    setup.run_shard("3/4", "run/shard-2", &[]);
    setup
        .merge(&["run"], "merged")
        .code(2)
        .stderr(contains("2 of the 4 shards are missing: index 1 (--shard 2/4), index 3 (--shard 4/4)"));
    setup.run_shard("2/4", "run/shard-1", &[]);
    setup.run_shard("4/4", "run/shard-3", &[]);
    setup.run_shard("3/4", "again/shard-2", &[]);
    let (first, second) = (setup.path("run/shard-2"), setup.path("again/shard-2"));
    setup.merge(&["run", "again/shard-2"], "merged").code(2).stderr(contains(format!(
        "index 2 (--shard 3/4) is in 2 directories, {}, {}; keep one",
        first.display(),
        second.display()
    )));
    // A shard of another run is named, whatever differs; the four that agree are counted.
    setup.run_shard("2/4", "seed/shard-1", &["--seed", "9"]);
    setup.run_shard("2/2", "halves/shard-1", &[]);
    dealsim()
        .arg("run")
        .arg(&setup.scenario)
        .args(["--paths", "50000", "--shard", "2/4", "--out"])
        .arg(setup.path("more/shard-1"))
        .assert()
        .success();
    let odd = [
        ("seed", "seed: expected 5, found 9 (5 is the seed of 4 shards of 5)"),
        ("more", "paths: expected 40000, found 50000 (40000 is the paths of 4 shards of 5)"),
    ];
    for (other, what) in odd {
        let other = setup.path(&format!("{other}/shard-1"));
        setup
            .merge(&["run", &format!("{}", other.display())], "merged")
            .code(2)
            .stderr(contains(format!("{}: {what}", other.display())));
    }
    setup.merge(&["run", "halves/shard-1"], "merged").code(2).stderr(contains(format!(
        "{}: shard count: expected 4, found 2 (4 is the shard count of 4 shards of 5)",
        setup.path("halves/shard-1").display()
    )));
    assert!(!setup.path("merged").exists(), "nothing is written for a refused merge");
}

#[test]
fn a_failed_shard_reruns_into_its_directory() {
    let setup = setup();
    let whole = setup.whole();
    setup.run_shard("1/2", "run/shard-0", &[]);
    // The second shard went wrong (another seed), and a process killed there left a temporary.
    setup.run_shard("2/2", "run/shard-1", &["--seed", "9"]);
    let leftover = setup.path("run/shard-1/.dealsim-tmp-00000000000000ab");
    fs::write(&leftover, "half a file").unwrap();
    setup.merge_into_default(&["run"]).code(2).stderr(contains("run/shard-1: seed: expected 5, found 9"));
    // Re-run as Slurm would with `sbatch --array=1 --export=ALL,DEALSIM_SHARD_COUNT=2`.
    let rerun = [
        ("SLURM_ARRAY_TASK_ID", "1"),
        ("SLURM_ARRAY_TASK_MIN", "1"),
        ("SLURM_ARRAY_TASK_MAX", "1"),
        ("SLURM_ARRAY_TASK_COUNT", "1"),
        ("DEALSIM_SHARD_COUNT", "2"),
    ];
    setup.run_auto(&rerun, "run/shard-1").success().stdout(contains("shard 2/2 (index 1"));
    assert!(!leftover.exists(), "the re-run removes what the killed process left");
    setup.merge_into_default(&["run"]).success();
    assert_same_results(&whole, &setup.path("run/merged"));
}
