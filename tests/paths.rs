//! `dealsim run --keep-paths` writes paths.parquet: one row per path, with the documented
//! columns, read back here with polars and checked against summary.csv and against each path's
//! own inputs.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use polars::prelude::*;
use serde::Deserialize;

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(name)
}

fn run(scenario: &Path, out: &Path, extra: &[&str]) {
    let output = Command::cargo_bin("dealsim")
        .unwrap()
        .arg("run")
        .arg(scenario)
        .args(["--no-charts", "--no-sensitivity", "--out"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

fn read_paths(out: &Path) -> DataFrame {
    let file = File::open(out.join("paths.parquet")).expect("paths.parquet is written");
    ParquetReader::new(file).finish().unwrap()
}

#[derive(Debug, Deserialize)]
struct SummaryLine {
    deal: String,
    metric: String,
    count: u64,
    mean: Option<f64>,
}

fn read_summary(out: &Path) -> Vec<SummaryLine> {
    csv::Reader::from_path(out.join("summary.csv")).unwrap().deserialize().map(Result::unwrap).collect()
}

#[derive(Debug, Deserialize)]
struct RunJson {
    paths: u64,
    uncertain_inputs: Vec<InputJson>,
}

#[derive(Debug, Deserialize)]
struct InputJson {
    key: String,
}

fn read_run_json(out: &Path) -> RunJson {
    serde_json::from_str(&fs::read_to_string(out.join("run.json")).unwrap()).unwrap()
}

fn floats<'f>(frame: &'f DataFrame, name: &str) -> &'f Float64Chunked {
    frame.column(name).unwrap_or_else(|e| panic!("{name}: {e}")).f64().unwrap()
}

#[test]
fn every_path_has_a_row_whose_metric_means_are_the_summary_means() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("structures");
    // Not a whole number of blocks, and deals whose caps bind on only some paths.
    let paths = 3_001;
    run(&scenario("deal-structures.toml"), &out, &["--paths", &paths.to_string(), "--keep-paths"]);
    let frame = read_paths(&out);
    let (summary, info) = (read_summary(&out), read_run_json(&out));
    assert_eq!(frame.height() as u64, paths);
    assert_eq!(info.paths, paths);

    let mut expected = vec!["path".to_string()];
    expected.extend(info.uncertain_inputs.iter().map(|input| input.key.clone()));
    expected.extend(summary.iter().map(|row| format!("{}:{}", row.deal, row.metric)));
    let names: Vec<String> = frame.get_column_names().iter().map(|name| name.to_string()).collect();
    assert_eq!(names, expected);

    let path = frame.column("path").unwrap().u64().unwrap();
    assert!((0..path.len()).all(|i| path.get(i) == Some(i as u64)), "rows are in path order");

    let mut with_missing_values = 0;
    for row in &summary {
        let column = floats(&frame, &format!("{}:{}", row.deal, row.metric));
        assert_eq!(column.len() - column.null_count(), row.count as usize, "{} {}", row.deal, row.metric);
        with_missing_values += usize::from(column.null_count() > 0);
        match (column.mean(), row.mean) {
            (Some(table), Some(summary)) => {
                let tolerance = 1e-12 * summary.abs().max(1.0);
                assert!((table - summary).abs() <= tolerance, "{} {}: {table} vs {summary}", row.deal, row.metric);
            }
            (table, summary) => assert_eq!(table, summary, "{} {}", row.deal, row.metric),
        }
    }
    assert!(with_missing_values > 0, "paths where a cap never binds have no cap-hit year");
}

const UNCERTAIN_RATE: &str = r#"
[simulation]
start = 2026
years = 1
steps_per_year = 1
discount_rate = 0.0
paths = 2000
[parties.lab]
[parties.cloud]
[[streams]]
name = "lab"
owner = "lab"
initial = "100B"
[[deals]]
name = "capped"
[[deals.revenue_shares]]
name = "share"
payer = "lab"
payee = "cloud"
stream = "lab"
rate = { dist = "uniform", low = "10%", high = "30%" }
cap = "25B"
"#;

#[test]
fn each_row_holds_the_inputs_of_the_path_its_metrics_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rate.toml");
    fs::write(&file, UNCERTAIN_RATE).unwrap();
    let out = dir.path().join("rate");
    run(&file, &out, &["--keep-paths"]);
    let frame = read_paths(&out);
    let rate = floats(&frame, "deals.capped.revenue_shares.share.rate");
    let revenue = floats(&frame, "capped:stream.lab.revenue");
    let paid = floats(&frame, "capped:revenue_share.share.paid");
    let cap_hit_year = floats(&frame, "capped:revenue_share.share.cap_hit_year");
    let (mut capped, mut uncapped) = (0, 0);
    for i in 0..frame.height() {
        let (rate, revenue, paid) = (rate.get(i).unwrap(), revenue.get(i).unwrap(), paid.get(i).unwrap());
        assert!((0.1..=0.3).contains(&rate), "row {i}: rate {rate}");
        let due = rate * revenue;
        assert!((paid - due.min(25e9)).abs() <= 1e-6 * due, "row {i}: paid {paid}, rate {rate} of {revenue}");
        if due >= 25e9 {
            capped += 1;
            assert_eq!(cap_hit_year.get(i), Some(2027.0), "row {i}: the cap binds in the one period, ending 2027");
        } else {
            uncapped += 1;
            assert_eq!(cap_hit_year.get(i), None, "row {i}: a cap that never binds has no year");
        }
    }
    assert!(capped > 0 && uncapped > 0, "{capped} capped, {uncapped} not");
}

#[test]
fn the_table_is_the_same_on_one_and_two_threads_and_stops_with_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    let converging = ["--target-se", "0.02", "--max-paths", "40000", "--keep-paths"];
    run(&scenario("base.toml"), &one, &[&converging[..], &["--threads", "1"]].concat());
    run(&scenario("base.toml"), &two, &[&converging[..], &["--threads", "2"]].concat());
    let frame = read_paths(&one);
    assert!(frame.equals_missing(&read_paths(&two)), "one and two threads give the same paths");
    let info = read_run_json(&one);
    assert!(info.paths < 40_000, "the run converged before the cap ({} paths)", info.paths);
    assert_eq!(frame.height() as u64, info.paths, "the table stops where the run stopped");
}

#[test]
fn paths_are_kept_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("base");
    run(&scenario("base.toml"), &out, &["--paths", "300"]);
    assert!(out.join("summary.csv").exists());
    assert!(!out.join("paths.parquet").exists());
}
