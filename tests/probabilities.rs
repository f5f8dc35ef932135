//! `--prob`: target probabilities from the run's sketches, checked against an exact count over
//! every path of paths.parquet, and refused before the run when they name nothing.

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

const QUICK: [&str; 8] =
    ["--paths", "3000", "--seed", "5", "--no-charts", "--no-sensitivity", "--no-xlsx", "--keep-paths"];

/// One column of paths.parquet, missing values left out.
fn column(out: &Path, name: &str) -> Vec<f64> {
    use polars::prelude::*;
    let frame = ParquetReader::new(fs::File::open(out.join("paths.parquet")).unwrap()).finish().unwrap();
    frame.column(name).unwrap().f64().unwrap().iter().flatten().collect()
}

#[test]
fn probabilities_bracket_the_exact_share_of_paths() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let targets = [
        ("revenue_share.openai-to-microsoft.paid > 40B", "apr-2026:revenue_share.openai-to-microsoft.paid", '>', 40e9),
        ("party.openai.npv < 0", "apr-2026:party.openai.npv", '<', 0.0),
        ("apr-2026:party.microsoft.npv > 1T", "apr-2026:party.microsoft.npv", '>', 1e12),
        (
            "revenue_share.openai-to-microsoft.cap_hit_year < 2030",
            "apr-2026:revenue_share.openai-to-microsoft.cap_hit_year",
            '<',
            2030.0,
        ),
    ];
    let mut command = dealsim();
    command.arg("run").arg(base()).arg("--out").arg(&out).args(QUICK);
    for (target, ..) in &targets {
        command.args(["--prob", target]);
    }
    command
        .assert()
        .success()
        .stdout(contains("target probabilities"))
        .stdout(contains("P(OpenAI NPV ($B) < $0.00B) = "));
    let text = fs::read_to_string(out.join("probabilities.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("deal,metric,side,threshold,count,probability,low,high,std_error"));
    let rows: Vec<Vec<String>> = lines.map(|line| line.split(',').map(str::to_string).collect()).collect();
    assert_eq!(rows.len(), targets.len());
    for (row, (target, column_name, side, threshold)) in rows.iter().zip(&targets) {
        let values = column(&out, column_name);
        let beyond = values.iter().filter(|&&v| if *side == '>' { v > *threshold } else { v < *threshold }).count();
        let exact = beyond as f64 / values.len() as f64;
        let number = |i: usize| row[i].parse::<f64>().unwrap();
        let (count, probability, low, high) = (number(4), number(5), number(6), number(7));
        assert_eq!(count as usize, values.len(), "{target}");
        assert!(low <= exact && exact <= high, "{target}: exact {exact} outside {low}..{high}");
        assert!(low <= probability && probability <= high, "{target}");
        // The sketch leaves undecided only paths within its resolution of the threshold.
        let near = values.iter().filter(|&&v| (v - threshold).abs() <= threshold.abs() * 0.01).count() as f64;
        assert!(high - low <= near / values.len() as f64 + 1e-12, "{target}: {low}..{high}");
    }
    // Zero is stored apart: P(NPV < 0) is exact.
    assert_eq!(rows[1][6], rows[1][7]);
}

#[test]
fn a_target_that_names_nothing_is_refused_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("never");
    dealsim()
        .arg("run")
        .arg(base())
        .arg("--out")
        .arg(&out)
        .args(["--prob", "party.nobody.npv < 0"])
        .args(QUICK)
        .assert()
        .code(2)
        .stderr(contains("--prob party.nobody.npv: no such metric; expected one of: "));
    dealsim()
        .arg("run")
        .arg(base())
        .arg("--out")
        .arg(&out)
        .args(["--prob", "no-deal:party.openai.npv < 0"])
        .args(QUICK)
        .assert()
        .code(2)
        .stderr(contains("--prob no-deal:party.openai.npv: no such deal; expected one of: apr-2026"));
    dealsim()
        .arg("run")
        .arg(base())
        .args(["--prob", "party.openai.npv = 0"])
        .assert()
        .code(2)
        .stderr(contains("expected `METRIC > VALUE`"));
    assert!(!out.exists(), "nothing written");
}
