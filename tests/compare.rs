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
    dealsim().arg("compare").arg(base()).arg(&copy).arg("--out").arg(&out).args(QUICK).assert().success();
    let comparison = fs::read_to_string(out.join("comparison.csv")).unwrap();
    // Same terms, but the second file's deal inputs are fresh draws: paired, not identical.
    assert!(comparison.contains("copy/apr-2026,apr-2026,party.microsoft.npv,800,"), "{comparison}");
}

#[test]
fn different_worlds_are_refused_with_the_sections_named() {
    let dir = tempfile::tempdir().unwrap();
    let other = variant(dir.path(), "other-world", |text| text.replacen("volatility = {", "volatility = 0.5 # {", 1));
    dealsim()
        .arg("compare")
        .arg(base())
        .arg(&other)
        .args(QUICK)
        .assert()
        .code(2)
        .stderr(contains("do not share a world"))
        .stderr(contains("[[streams]]"));
}
