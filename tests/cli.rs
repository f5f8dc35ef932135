//! The `dealsim` binary on the shipped scenarios: real files in temporary directories.

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::str::contains;

fn dealsim() -> Command {
    Command::cargo_bin("dealsim").unwrap()
}

fn shipped_scenarios() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

fn base() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/base.toml")
}

fn run_to(scenario: &Path, out: &Path, extra: &[&str]) -> String {
    let output =
        dealsim().arg("run").arg(scenario).args(["--paths", "600", "--out"]).arg(out).args(extra).output().unwrap();
    assert!(output.status.success(), "{}: {}", scenario.display(), String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn every_shipped_scenario_validates_and_runs() {
    let scenarios = shipped_scenarios();
    assert!(scenarios.len() >= 3, "base, deal structures and growth vintages ship");
    let dir = tempfile::tempdir().unwrap();
    for scenario in scenarios {
        dealsim().arg("validate").arg(&scenario).assert().success().stdout(contains("uncertain inputs"));
        let out = dir.path().join(scenario.file_stem().unwrap());
        let stdout = run_to(&scenario, &out, &[]);
        assert!(stdout.contains("600 paths"), "{stdout}");
        let summary = fs::read_to_string(out.join("summary.csv")).unwrap();
        let mut lines = summary.lines();
        assert_eq!(lines.next(), Some("deal,metric,count,mean,std,std_error,p05,p25,p50,p75,p95,min,max"));
        assert!(summary.contains(",party."), "party metrics for {}", scenario.display());
        let timeseries = fs::read_to_string(out.join("timeseries.csv")).unwrap();
        assert!(timeseries.starts_with("deal,series,period,year,mean,p05,p25,p50,p75,p95\n"));
        let info: serde_json::Value = serde_json::from_slice(&fs::read(out.join("run.json")).unwrap()).unwrap();
        assert_eq!(info["paths"], 600);
        assert_eq!(info["scenario_hash"].as_str().unwrap().len(), 64);
    }
}

#[test]
fn base_scenario_reports_the_deal_terms() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("base");
    let stdout = run_to(&base(), &out, &[]);
    for figure in [
        "Revenue share openai-to-microsoft: paid ($B)",
        ": cap reached (% of paths)",
        "Commitment azure-250b: shortfall ($B)",
        "Investment amazon-50b: paid in ($B)",
        "Microsoft NPV ($B)",
    ] {
        assert!(stdout.contains(figure), "key figures show {figure}:\n{stdout}");
    }
    // Money reads with a true minus sign: OpenAI's NPV is negative on most paths.
    assert!(stdout.contains("−$") && !stdout.contains("$-"), "negative money reads −$:\n{stdout}");
    let summary = fs::read_to_string(out.join("summary.csv")).unwrap();
    for metric in
        [".paid,", ".cap_hit,", ".cap_hit_year,", ".shortfall,", ".penalty,", ".met,", ".stake,", ".multiple,"]
    {
        assert!(summary.contains(metric), "summary.csv has {metric}");
    }
    let timeseries = fs::read_to_string(out.join("timeseries.csv")).unwrap();
    for series in
        ["run_rate,2026-Q1,2026.25", ".paid_cumulative,", ".spend_cumulative,", "valuation.value,", ".cash_flow,"]
    {
        assert!(timeseries.contains(series), "timeseries.csv has {series}");
    }
}

#[test]
fn outputs_are_byte_identical_on_one_and_two_threads() {
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    run_to(&base(), &one, &["--threads", "1", "--seed", "42"]);
    run_to(&base(), &two, &["--threads", "2", "--seed", "42"]);
    for file in ["summary.csv", "timeseries.csv"] {
        assert!(fs::read(one.join(file)).unwrap() == fs::read(two.join(file)).unwrap(), "{file} differs");
    }
}

#[test]
fn set_overrides_a_scalar_by_key_path() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("zero-discount");
    run_to(&base(), &out, &["--set", "simulation.discount_rate=0%", "--set", "simulation.seed=5"]);
    let info = fs::read_to_string(out.join("run.json")).unwrap();
    assert!(info.contains("simulation.discount_rate=0%"), "{info}");
    assert!(info.contains("\"seed\": 5"), "{info}");
}

#[test]
fn default_output_goes_under_output_by_scenario_stem() {
    let dir = tempfile::tempdir().unwrap();
    fs::copy(base(), dir.path().join("mine.toml")).unwrap();
    dealsim().current_dir(dir.path()).args(["run", "mine.toml", "--paths", "200"]).assert().success();
    assert!(dir.path().join("output/mine/summary.csv").exists());
}

#[test]
fn help_shows_examples() {
    dealsim().arg("--help").assert().success().stdout(contains("Examples:")).stdout(contains("--set"));
    dealsim().args(["run", "--help"]).assert().success().stdout(contains("--threads")).stdout(contains("--paths"));
}

#[test]
fn a_key_set_twice_is_refused_so_no_set_goes_unread() {
    // Were the last to win, `--set k=bad --set k=9` would hide the bad one.
    dealsim()
        .arg("validate")
        .arg(base())
        .args(["--set", "simulation.paths=-5", "--set", "simulation.paths=20"])
        .assert()
        .code(2)
        .stderr(contains(
            "--set simulation.paths=-5:1:18: simulation.paths: `--set simulation.paths` is given more than once",
        ));
}

#[test]
fn comparison_csv_pairs_each_deal_with_the_baseline() {
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/deal-structures.toml");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("structures");
    let stdout = run_to(&scenario, &out, &["--baseline", "oct-2025"]);
    assert!(stdout.contains("paired differences"), "{stdout}");
    let comparison = fs::read_to_string(out.join("comparison.csv")).unwrap();
    let mut lines = comparison.lines();
    assert_eq!(
        lines.next(),
        Some("deal,baseline,metric,count,mean_difference,std_error,unpaired_std_error,p05,p50,p95,prob_positive")
    );
    assert!(lines.all(|line| line.split(',').nth(1) == Some("oct-2025")));
    assert!(comparison.contains("apr-2026,oct-2025,party.microsoft.npv,600,"));
    dealsim()
        .arg("run")
        .arg(&scenario)
        .args(["--paths", "10", "--baseline", "nope", "--out"])
        .arg(dir.path().join("x"))
        .assert()
        .code(2)
        .stderr(contains("--baseline nope: no such deal"));
}

#[test]
fn a_single_deal_writes_no_comparison() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("base");
    run_to(&base(), &out, &[]);
    assert!(!out.join("comparison.csv").exists());
}

#[test]
fn sensitivity_writes_a_tornado() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tornado");
    let output = dealsim()
        .arg("sensitivity")
        .arg(base())
        .args(["--paths", "300", "--target", "party.microsoft.npv", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("what moves Microsoft NPV ($B)"));
    let csv = fs::read_to_string(out.join("sensitivity.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("deal,baseline,metric,input,input_low,input_high,metric_low,metric_high,swing,swing_se,rank_correlation")
    );
    let swings: Vec<f64> = lines.map(|line| line.split(',').nth(8).unwrap().parse().unwrap()).collect();
    assert!(swings.len() > 5 && swings.windows(2).all(|w| w[0] >= w[1]), "sorted by swing: {swings:?}");
    dealsim()
        .arg("sensitivity")
        .arg(base())
        .args(["--target", "party.nobody.npv"])
        .assert()
        .code(2)
        .stderr(contains("--target party.nobody.npv: no such deal metric"));
}

#[test]
fn run_writes_sensitivity_unless_told_not_to() {
    let dir = tempfile::tempdir().unwrap();
    let (with, without) = (dir.path().join("with"), dir.path().join("without"));
    run_to(&base(), &with, &["--no-charts"]);
    run_to(&base(), &without, &["--no-charts", "--no-sensitivity"]);
    assert!(with.join("sensitivity.csv").exists());
    assert!(!without.join("sensitivity.csv").exists());
}

#[test]
fn target_se_records_why_the_run_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("converged");
    dealsim()
        .arg("run")
        .arg(base())
        .args(["--target-se", "5%", "--max-paths", "50000", "--no-charts", "--no-sensitivity", "--out"])
        .arg(&out)
        .assert()
        .success();
    let info: serde_json::Value = serde_json::from_slice(&fs::read(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(info["stop"]["reason"], "converged", "{info}");
    assert_eq!(info["stop"]["target_relative_se"], 0.05);
    assert!(info["paths"].as_u64().unwrap() < 50_000);
    dealsim().arg("run").arg(base()).args(["--target-se", "5%", "--paths", "10"]).assert().code(2);
    // Stopped by the cap: the terminal says so, as run.json does.
    dealsim()
        .arg("run")
        .arg(base())
        .args(["--target-se", "0.01%", "--max-paths", "2000", "--no-charts", "--no-sensitivity", "--out"])
        .arg(&out)
        .assert()
        .success()
        .stdout(contains("did not converge: the least precise mean, "))
        .stdout(contains("% of its magnitude after 2000 paths (target 0.01%)"));
    let info: serde_json::Value = serde_json::from_slice(&fs::read(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(info["stop"]["reason"], "max_paths", "{info}");
}

#[test]
fn a_closed_stdout_is_no_failure() {
    // `dealsim run … | head -1`: the reader is gone before the key figures are printed.
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("dealsim"))
        .arg("run")
        .arg(base())
        .args(["--paths", "300", "--no-charts", "--no-sensitivity", "--out"])
        .arg(dir.path().join("out"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() && !stderr.contains("panicked"), "{stderr}");
    assert!(dir.path().join("out/summary.csv").exists());
}

#[test]
fn each_command_shows_its_own_examples() {
    for command in ["validate", "sensitivity", "compare", "solve", "merge"] {
        let help = dealsim().args([command, "--help"]).output().unwrap();
        let text = String::from_utf8_lossy(&help.stdout);
        let examples = text.split("Examples").nth(1).unwrap_or_else(|| panic!("{command} --help has examples"));
        assert!(examples.contains(&format!("dealsim {command} ")), "{command} --help shows {command}:\n{examples}");
        if command != "merge" {
            assert!(!examples.contains("dealsim run "), "{command} --help shows no run examples:\n{examples}");
        }
    }
}

/// `--sensitivity-paths` sets the tornado's paths in a run: its sensitivity.csv is the one
/// `dealsim sensitivity` writes at that count, byte for byte; 0 is refused.
#[test]
fn a_run_takes_the_tornado_paths_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let (run, alone) = (dir.path().join("run"), dir.path().join("alone"));
    run_to(&base(), &run, &["--sensitivity-paths", "256", "--no-charts", "--no-xlsx"]);
    dealsim().arg("sensitivity").arg(base()).args(["--paths", "256", "--out"]).arg(&alone).assert().success();
    let read = |dir: &Path| fs::read(dir.join("sensitivity.csv")).unwrap();
    assert_eq!(read(&run), read(&alone));
    dealsim()
        .arg("run")
        .arg(base())
        .args(["--sensitivity-paths", "0"])
        .assert()
        .code(2)
        .stderr(contains("--sensitivity-paths"));
}
