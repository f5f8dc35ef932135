//! Huge but finite inputs: validation refuses them with a located message (exit 2) or, where the
//! values are valid but a path's numbers still run away, the run stops with an error naming the
//! value and the path (exit 1). Never a panic (exit 101), a hang, or NaN, inf or a blank cell in
//! an output.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use dealsim::engine::{self, RunError, RunOptions};
use dealsim::scenario::parse_scenario;
use predicates::prelude::*;

/// Longer than any of these runs takes; a hang fails the test instead of stalling the suite.
const TIMEOUT: Duration = Duration::from_secs(120);

fn dealsim() -> Command {
    let mut command = Command::cargo_bin("dealsim").expect("the dealsim binary is built for integration tests");
    command.timeout(TIMEOUT);
    command
}

fn base() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/base.toml")
}

/// `dealsim run base.toml --set SET` (charts and sensitivity included, as a user runs it).
fn run_base_with(set: &str, out: &Path) -> assert_cmd::assert::Assert {
    dealsim().arg("run").arg(base()).args(["--paths", "500", "--set", set, "--out"]).arg(out).assert()
}

#[test]
fn huge_world_values_from_the_issue_are_refused_where_they_are_set() {
    let cases = [
        (
            "streams.openai.initial=1e308",
            "streams[0].initial: expected a value in (0, 1e15] (USD; 1e15 is a quadrillion), found 1e308",
        ),
        ("valuation.multiple.start=1e308", "valuation.multiple.start: expected a value in [0, 10000], found 1e308"),
        (
            "streams.openai.growth.end=1e300",
            "streams[0].growth.end: expected a value in (-1, 10] (annual growth; 10 is 1,000% a year), found 1e300",
        ),
        (
            "compute.cost_ratio.start=1e308",
            "compute.cost_ratio.start: expected a value in [0, 1000] (times revenue), found 1e308",
        ),
        (
            "streams.openai.jumps.size=1e6",
            "streams[0].jumps.size: expected a value in [-10, 10] (a log size: 10 multiplies the run-rate by e^10 = 22,026), found 1000000",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (index, (set, message)) in cases.into_iter().enumerate() {
        let out = dir.path().join(index.to_string());
        run_base_with(set, &out)
            .code(2)
            .stdout(predicate::str::is_empty())
            .stderr(predicate::str::contains(format!("--set {set}:1:")))
            .stderr(predicate::str::contains(message))
            .stderr(predicate::str::contains("panicked").not());
        assert!(!out.exists(), "{set}: nothing is written");
    }
}

#[test]
fn a_pert_reaching_1e308_in_a_money_field_is_refused_before_sensitivity() {
    let set = r#"deals.apr-2026.revenue_shares.openai-to-microsoft.cap={ dist = "pert", low = "30B", mode = "38B", high = 1e308 }"#;
    let dir = tempfile::tempdir().unwrap();
    dealsim()
        .arg("sensitivity")
        .arg(base())
        .args(["--paths", "500", "--set", set, "--out"])
        .arg(dir.path().join("out"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "deals[0].revenue_shares[0].cap: this distribution can take values outside the allowed range \
             (in [0, 1e15] (USD; 1e15 is a quadrillion)): its support is [30000000000, 1e308]",
        ));
}

/// Valid values throughout, at their limits: a quadrillion-dollar run-rate growing 1,000% a year
/// for a century (1e119 by the end) valued at 10,000 times, and a lab spending 1,000 times its
/// revenue. Every value stays far inside what the summaries hold.
const EXTREME_BUT_FINITE: &str = r#"
[simulation]
start = 2026
years = 100
steps_per_year = 1
paths = 300
seed = 3
discount_rate = 0.09

[parties.lab]
initial_cash = "-1000T"
other_costs = 1000
[parties.cloud]
initial_cash = "1000T"

[[streams]]
name = "lab"
owner = "lab"
initial = "1000T"
growth = { dist = "uniform", low = 9, high = 10 }
volatility = 0.5
jumps = { rate = 1, size = { dist = "uniform", low = -1, high = 1 } }

[compute]
stream = "lab"
cost_ratio = { start = 1000, end = 0, half_life = 10 }
[[compute.providers]]
name = "cloud"
owner = "cloud"
margin = 1
share = 1

[valuation]
company = "lab"
stream = "lab"
multiple = 10000

[[events]]
name = "ipo"
annual_rate = 100

[[deals]]
name = "all-in"
equity = { cloud = 0.5 }
[[deals.revenue_shares]]
name = "share"
payer = "lab"
payee = "cloud"
stream = "lab"
rate = 1
cap = "1000T"
[[deals.commitments]]
name = "spend"
buyer = "lab"
provider = "cloud"
total = "1000T"
through = "2125"
[[deals.investments]]
name = "stake"
investor = "cloud"
investee = "lab"
tranches = [{ amount = "1000T", date = "2026" }, { amount = "1000T", on = "ipo" }]

[[deals]]
name = "none"
"#;

/// Every data cell of a CSV parses as a finite number; blank cells only where the row's count is 0.
fn assert_only_finite_numbers(csv: &str, first_number_column: usize, file: &str) {
    for line in csv.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        let count_is_zero = file == "summary.csv" && cells.get(2) == Some(&"0");
        for cell in &cells[first_number_column..] {
            if cell.is_empty() && count_is_zero {
                continue;
            }
            let value: f64 = cell.parse().unwrap_or_else(|_| panic!("{file}: `{cell}` is not a number in {line}"));
            assert!(value.is_finite(), "{file}: {cell} in {line}");
        }
    }
}

#[test]
fn values_at_every_limit_run_and_chart_with_finite_numbers_only() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("extreme.toml");
    fs::write(&scenario, EXTREME_BUT_FINITE).unwrap();
    let out = dir.path().join("out");
    let output = dealsim().arg("run").arg(&scenario).arg("--out").arg(&out).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_only_finite_numbers(&fs::read_to_string(out.join("summary.csv")).unwrap(), 2, "summary.csv");
    assert_only_finite_numbers(&fs::read_to_string(out.join("timeseries.csv")).unwrap(), 3, "timeseries.csv");
    assert_only_finite_numbers(&fs::read_to_string(out.join("comparison.csv")).unwrap(), 3, "comparison.csv");
    let sensitivity = fs::read_to_string(out.join("sensitivity.csv")).unwrap();
    assert!(!sensitivity.contains("NaN") && !sensitivity.contains("inf"), "{sensitivity}");
    assert!(out.join("report.html").exists() && out.join("charts/npv.png").exists());
}

/// Valid values that compound past what double precision holds: 100 jumps a year, each
/// multiplying the run-rate by e^10, for a century.
const RUNAWAY: &str = r#"
[simulation]
start = 2026
years = 100
steps_per_year = 1
paths = 300
seed = 3
discount_rate = 0.09

[parties.lab]
[parties.cloud]

[[streams]]
name = "lab"
owner = "lab"
initial = "1000T"
growth = { dist = "uniform", low = 9, high = 10 }
jumps = { rate = 100, size = 10 }

[[deals]]
name = "share"
[[deals.revenue_shares]]
name = "share"
payer = "lab"
payee = "cloud"
stream = "lab"
rate = 0.2
"#;

#[test]
fn a_valid_scenario_whose_numbers_run_away_stops_with_the_value_and_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("runaway.toml");
    fs::write(&scenario, RUNAWAY).unwrap();
    let message =
        "error: metric stream.lab.revenue is inf on path 0 (counting from 0), not a finite number within ±1e140";
    for command in ["run", "sensitivity"] {
        let out = dir.path().join(command);
        dealsim()
            .arg(command)
            .arg(&scenario)
            .arg("--out")
            .arg(&out)
            .assert()
            .code(1)
            .stderr(predicate::str::contains(message))
            .stderr(predicate::str::contains("panicked").not());
        for file in ["summary.csv", "sensitivity.csv"] {
            assert!(!out.join(file).exists(), "{command}: no {file} from a failed run");
        }
    }
}

#[test]
fn the_failing_path_does_not_depend_on_the_thread_count() {
    let scenario = parse_scenario("runaway.toml", RUNAWAY, &[]).unwrap();
    let failure = |threads| {
        let options = RunOptions { paths: 3000, seed: 3, threads, baseline: 0, target_relative_se: None, shard: None };
        match engine::run(&scenario, options, &|_| {}) {
            Err(error @ RunError::NotFinite { .. }) => error.to_string(),
            other => panic!("expected a value that is not finite, got {other:?}"),
        }
    };
    assert_eq!(failure(1), failure(2));
}

#[test]
fn the_first_path_that_runs_away_is_the_one_named() {
    // Growth alone takes the run-rate to about 1e120 in the century; five or six jumps of e^10
    // (a Poisson count of mean 1.6) take it past 1e140: a few percent of paths, so the first of
    // them sits inside a block, not at its start.
    let text = RUNAWAY.replace("rate = 100, size = 10", "rate = 0.016, size = 10");
    let scenario = parse_scenario("rare-runaway.toml", &text, &[]).unwrap();
    let failing_path = |paths, threads| {
        let options = RunOptions { paths, seed: 3, threads, baseline: 0, target_relative_se: None, shard: None };
        match engine::run(&scenario, options, &|_| {}) {
            Ok(_) => None,
            Err(RunError::NotFinite { path, .. }) => Some(path),
            Err(other) => panic!("expected a value that is not finite, got {other}"),
        }
    };
    let first = failing_path(3_000, 1).expect("some path runs away");
    assert!(first > 0 && first % 256 != 0, "path {first} does not test the search within a block");
    for threads in [1, 2] {
        assert_eq!(failing_path(3_000, threads), Some(first));
        assert_eq!(failing_path(first, threads), None, "the paths before {first} are all fine");
        assert_eq!(failing_path(first + 1, threads), Some(first));
    }
}
