//! `dealsim compare`: two scenario files on one world, paired path by path.

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::str::contains;

fn base() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/base.toml")
}

fn dealsim() -> Command {
    Command::cargo_bin("dealsim").unwrap()
}

const QUICK: [&str; 6] = ["--paths", "800", "--seed", "11", "--no-charts", "--no-sensitivity"];

/// A copy of the base scenario with one deal's cap fixed and the deal renamed.
fn variant(dir: &Path, name: &str, transform: impl Fn(String) -> String) -> PathBuf {
    let text = transform(fs::read_to_string(base()).unwrap());
    let path = dir.join(format!("{name}.toml"));
    fs::write(&path, text).unwrap();
    path
}

#[test]
fn compares_two_files_on_one_world() {
    let dir = tempfile::tempdir().unwrap();
    let cap50 = variant(dir.path(), "cap50", |text| {
        let text = text.replacen("name = \"apr-2026\"", "name = \"cap-50b\"", 1);
        text.replacen("cap = { dist = \"pert\", low = \"30B\", mode = \"38B\", high = \"50B\" }", "cap = \"50B\"", 1)
    });
    assert!(fs::read_to_string(&cap50).unwrap().contains("cap = \"50B\""));
    let out = dir.path().join("vs");
    dealsim()
        .arg("compare")
        .arg(base())
        .arg(&cap50)
        .arg("--out")
        .arg(&out)
        .args(QUICK)
        .assert()
        .success()
        .stdout(contains("cap-50b − apr-2026"));
    let comparison = fs::read_to_string(out.join("comparison.csv")).unwrap();
    assert!(comparison.contains("cap-50b,apr-2026,revenue_share.openai-to-microsoft.paid,800,"), "{comparison}");
    // The first file's deal sees exactly the draws it sees when run alone.
    let alone = dir.path().join("alone");
    dealsim().arg("run").arg(base()).arg("--out").arg(&alone).args(QUICK).assert().success();
    let rows = |path: &Path, deal: &str| -> Vec<String> {
        let text = fs::read_to_string(path.join("summary.csv")).unwrap();
        text.lines().filter(|line| line.starts_with(&format!("{deal},"))).map(str::to_string).collect()
    };
    assert_eq!(rows(&out, "apr-2026"), rows(&alone, "apr-2026"));
}

#[test]
fn deals_with_the_same_name_are_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    let copy = variant(dir.path(), "copy", |text| text);
    let out = dir.path().join("same");
    dealsim()
        .arg("compare")
        .arg(base())
        .arg(&copy)
        .arg("--out")
        .arg(&out)
        .args(QUICK)
        .assert()
        .success()
        // Two files of one name are told apart by their stems.
        .stdout(contains("April 2026 amended terms: base vs copy:"));
    let comparison = fs::read_to_string(out.join("comparison.csv")).unwrap();
    // Same terms, same identities, so the same draws: every difference is exactly zero.
    assert!(comparison.contains("copy/apr-2026,apr-2026,party.microsoft.npv,800,0.0,0.0,"), "{comparison}");
}

/// comparison.csv as (deal, metric) → (mean difference, standard error, P(> 0)).
fn comparison(out: &Path) -> Vec<(String, String, f64, f64, f64)> {
    let text = fs::read_to_string(out.join("comparison.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("deal,baseline,metric,count,mean_difference,std_error,unpaired_std_error,p05,p50,p95,prob_positive")
    );
    lines
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            let number = |i: usize| cells[i].parse::<f64>().unwrap_or(f64::NAN);
            (cells[0].to_string(), cells[2].to_string(), number(4), number(5), number(10))
        })
        .collect()
}

#[test]
fn two_files_differing_in_one_rate_differ_in_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let rate15 = variant(dir.path(), "rate15", |text| {
        let text = text.replacen("name = \"apr-2026\"", "name = \"rate-15\"", 1);
        text.replacen("rate = 0.20", "rate = 0.15", 1)
    });
    let out = dir.path().join("vs");
    dealsim().arg("compare").arg(base()).arg(&rate15).arg("--out").arg(&out).args(QUICK).assert().success();
    let rows = comparison(&out);
    let row = |metric: &str| rows.iter().find(|(deal, m, ..)| deal == "rate-15" && m == metric).unwrap().clone();
    // The shared terms draw alike: exactly zero, with zero error.
    for metric in [
        "commitment.azure-250b.spend",
        "commitment.azure-250b.shortfall",
        "commitment.aws-138b.penalty",
        "investment.amazon-50b.stake",
        "party.amazon.npv",
    ] {
        let (_, _, mean, error, _) = row(metric);
        assert_eq!((mean, error), (0.0, 0.0), "{metric}");
    }
    // A lower rate pays less (never more) and never hits the cap sooner, on every path.
    let (_, _, paid, _, paid_positive) = row("revenue_share.openai-to-microsoft.paid");
    assert!(paid < 0.0 && paid_positive == 0.0, "{paid} {paid_positive}");
    let (_, _, _, _, hit_positive) = row("revenue_share.openai-to-microsoft.cap_hit");
    assert_eq!(hit_positive, 0.0);
}

/// The rows of summary.csv under one deal, without the deal's name.
fn summary_rows(out: &Path, deal: &str) -> Vec<String> {
    let text = fs::read_to_string(out.join("summary.csv")).unwrap();
    let prefix = format!("{deal},");
    text.lines().filter_map(|line| line.strip_prefix(&prefix)).map(str::to_string).collect()
}

/// One column of a paths.parquet as bits, path by path.
fn path_column(out: &Path, column: &str) -> Vec<u64> {
    use polars::prelude::*;
    let file = fs::File::open(out.join("paths.parquet")).unwrap();
    let frame = ParquetReader::new(file).finish().unwrap();
    let paths = frame.column("path").unwrap().u64().unwrap().into_no_null_iter().collect::<Vec<u64>>();
    assert!(paths.windows(2).all(|pair| pair[0] + 1 == pair[1]), "paths in order");
    frame.column(column).unwrap().f64().unwrap().iter().map(|v| v.map_or(u64::MAX, f64::to_bits)).collect()
}

#[test]
fn files_whose_worlds_differ_run_each_deal_on_its_own_world_path_by_path() {
    let dir = tempfile::tempdir().unwrap();
    let other = variant(dir.path(), "volatile", |text| {
        let text = text.replacen("name = \"apr-2026\"", "name = \"volatile\"", 1);
        text.replacen("volatility = {", "volatility = 0.25 # {", 1)
    });
    let out = dir.path().join("vs");
    dealsim()
        .arg("compare")
        .arg(base())
        .arg(&other)
        .arg("--out")
        .arg(&out)
        .arg("--keep-paths")
        .args(QUICK)
        .assert()
        .success()
        .stdout(contains("the worlds differ at 1 key(s)"))
        .stdout(contains("streams.openai.volatility: 0.3 to 0.15 with half-life 3 | 0.25"))
        .stdout(contains("volatile − apr-2026"));
    // Each deal gets exactly what a run of its own file gives, path by path.
    for (file, deal) in [(base(), "apr-2026"), (other.clone(), "volatile")] {
        let alone = dir.path().join(format!("alone-{deal}"));
        dealsim().arg("run").arg(&file).arg("--out").arg(&alone).arg("--keep-paths").args(QUICK).assert().success();
        let rows = summary_rows(&alone, deal);
        assert_eq!(rows.len(), 39, "{rows:?}");
        assert_eq!(summary_rows(&out, deal), rows, "{deal}");
        for metric in ["party.microsoft.npv", "revenue_share.openai-to-microsoft.paid", "party.openai.funding_gap"] {
            let column = |out: &Path| path_column(out, &format!("{deal}:{metric}"));
            assert_eq!(column(&out), column(&alone), "{deal}:{metric}");
        }
    }
    // The worlds share their shocks, so the paired difference in revenue is far more precise
    // than the difference of two independent runs would be.
    let text = fs::read_to_string(out.join("comparison.csv")).unwrap();
    let row = text.lines().find(|line| line.starts_with("volatile,apr-2026,stream.openai.revenue,")).unwrap();
    let cells: Vec<f64> = row.split(',').skip(3).map(|cell| cell.parse().unwrap()).collect();
    let (paired, unpaired) = (cells[2], cells[3]);
    assert!(paired > 0.0 && paired < unpaired / 3.0, "{row}");
}

#[test]
fn the_growth_vintages_compare_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    let scenarios = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let out = dir.path().join("vintages");
    dealsim()
        .arg("compare")
        .arg(scenarios.join("growth-q1-2025.toml"))
        .arg(scenarios.join("growth-q1-2026.toml"))
        .arg("--out")
        .arg(&out)
        .args(QUICK)
        .assert()
        .success()
        .stdout(contains("streams.openai.growth: schedule {2026: pert(low=0.444"))
        .stdout(contains("growth-q1-2026/apr-2026 − apr-2026"));
    let rows = comparison(&out);
    let row = |metric: &str| {
        rows.iter().find(|(deal, m, ..)| deal == "growth-q1-2026/apr-2026" && m == metric).unwrap().clone()
    };
    // The deal's terms are the same in both: only the world moves them.
    let (_, _, revenue, revenue_error, _) = row("stream.openai.revenue");
    assert!(revenue > 0.0 && revenue_error > 0.0, "{revenue} {revenue_error}");
    let (_, _, stake, stake_error, _) = row("party.microsoft.stake");
    assert!(stake.is_finite() && stake_error.is_finite());
}

#[test]
fn files_that_name_other_parties_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let other = variant(dir.path(), "newcomer", |text| text + "\n[parties.newcomer]\n");
    dealsim()
        .arg("compare")
        .arg(base())
        .arg(&other)
        .args(QUICK)
        .assert()
        .code(2)
        .stderr(contains("the parties differ"))
        .stderr(contains("openai, microsoft, amazon, others, newcomer in the second"));
}
