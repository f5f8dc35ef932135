//! The corpus of invalid scenarios in `tests/bad`: `dealsim run` must refuse every one with exit
//! code 2, say what is wrong and where, and write nothing.
//!
//! Each file starts with comment lines stating what stderr must show:
//! - `# expect: TEXT`: stderr contains TEXT (one or more lines);
//! - `# at: LINE:COL`: stderr contains `FILE:LINE:COL:` (where the first error points);
//! - `# errors: N` (optional): exactly N lines start with `error:`.

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;

const MIN_CORPUS: usize = 30;

fn dealsim() -> Command {
    Command::cargo_bin("dealsim").expect("the dealsim binary is built for integration tests")
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("bad")
}

fn corpus() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(corpus_dir())
        .expect("tests/bad exists")
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    files
}

/// What a corpus file says its run must show.
#[derive(Debug, Default)]
struct Expectations {
    expects: Vec<String>,
    at: Option<(usize, usize)>,
    errors: Option<usize>,
}

/// Reads the leading comment lines of a corpus file.
fn expectations(text: &str) -> Result<Expectations, String> {
    let mut found = Expectations::default();
    for line in text.lines().take_while(|line| line.starts_with('#')) {
        let line = line.trim_start_matches('#').trim();
        if let Some(expect) = line.strip_prefix("expect:") {
            let expect = expect.trim();
            if expect.is_empty() {
                return Err("empty `# expect:` line".to_string());
            }
            found.expects.push(expect.to_string());
        } else if let Some(at) = line.strip_prefix("at:") {
            let parsed = at.trim().split_once(':').and_then(|(l, c)| Some((l.parse().ok()?, c.parse().ok()?)));
            let Some(position) = parsed else { return Err(format!("`# at:` is not LINE:COL: `{}`", at.trim())) };
            if found.at.replace(position).is_some() {
                return Err("more than one `# at:` line".to_string());
            }
        } else if let Some(errors) = line.strip_prefix("errors:") {
            let count =
                errors.trim().parse().map_err(|_| format!("`# errors:` is not a count: `{}`", errors.trim()))?;
            found.errors = Some(count);
        }
    }
    if found.expects.is_empty() {
        return Err("no `# expect:` line in the leading comments".to_string());
    }
    if found.at.is_none() {
        return Err("no `# at: LINE:COL` line in the leading comments".to_string());
    }
    Ok(found)
}

/// Runs one corpus file; returns every way its run differs from what the file expects.
fn check(file: &Path) -> Vec<String> {
    let text = match fs::read_to_string(file) {
        Ok(text) => text,
        Err(error) => return vec![format!("cannot read: {error}")],
    };
    let expected = match expectations(&text) {
        Ok(expected) => expected,
        Err(problem) => return vec![problem],
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    let out = dir.path().join("out");
    let output =
        dealsim().arg("run").arg(file).arg("--out").arg(&out).args(["--paths", "100"]).output().expect("dealsim runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let mut problems = Vec::new();
    if output.status.code() != Some(2) {
        problems.push(format!("exit code {:?}, expected 2", output.status.code()));
    }
    for expect in &expected.expects {
        if !stderr.contains(expect.as_str()) {
            problems.push(format!("stderr lacks `{expect}`"));
        }
    }
    if let Some((line, column)) = expected.at {
        let position = format!("{}:{line}:{column}:", file.display());
        if !stderr.contains(&position) {
            problems.push(format!("stderr lacks the position `{position}`"));
        }
    }
    if let Some(count) = expected.errors {
        let reported = stderr.lines().filter(|line| line.starts_with("error:")).count();
        if reported != count {
            problems.push(format!("{reported} lines start with `error:`, expected {count}"));
        }
    }
    if stderr.contains("panicked") {
        problems.push("the binary panicked".to_string());
    }
    if !stdout.trim().is_empty() {
        problems.push(format!("stdout is not empty: {stdout}"));
    }
    if out.exists() {
        problems.push(format!("{} was created although the scenario is invalid", out.display()));
    }
    if !problems.is_empty() {
        problems.push(format!("stderr was:\n{stderr}"));
    }
    problems
}

#[test]
fn every_bad_scenario_is_refused_with_a_located_message() {
    let files = corpus();
    assert!(files.len() >= MIN_CORPUS, "tests/bad holds {} scenarios, expected at least {MIN_CORPUS}", files.len());
    let mut failures = Vec::new();
    for file in &files {
        let problems = check(file);
        if !problems.is_empty() {
            let name = file.file_name().unwrap_or_default().to_string_lossy();
            failures.push(format!("{name}:\n  {}", problems.join("\n  ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} bad scenarios failed:\n\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}

/// A small valid scenario for the `--set` tests.
const VALID: &str = r#"[simulation]
start = 2026
years = 10
steps_per_year = 4
discount_rate = 0.09

[parties.openai]
[parties.microsoft]

[[streams]]
name = "openai"
owner = "openai"
initial = "24B"

[[deals]]
name = "base"
[[deals.revenue_shares]]
name = "to-ms"
payer = "openai"
payee = "microsoft"
stream = "openai"
rate = 0.2
cap = "38B"
"#;

/// Writes the valid scenario into a fresh directory; returns the directory and the file.
fn valid_scenario() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("valid.toml");
    fs::write(&file, VALID).expect("scenario written");
    (dir, file)
}

#[test]
fn the_valid_scenario_passes_validation() {
    let (_dir, file) = valid_scenario();
    dealsim().arg("validate").arg(&file).assert().success();
}

#[test]
fn set_with_an_unknown_key_names_the_key() {
    let (dir, file) = valid_scenario();
    let out = dir.path().join("out");
    dealsim()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .args(["--paths", "100", "--set", "simulation.pathz=1000"])
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("--set simulation.pathz=1000:"))
        .stderr(predicate::str::contains("no value at key path `simulation.pathz`"));
    assert!(!out.exists(), "nothing is written for a bad --set");
}

#[test]
fn set_with_a_bad_value_names_the_override() {
    let (dir, file) = valid_scenario();
    let out = dir.path().join("out");
    dealsim()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .args(["--paths", "100", "--set", "simulation.paths=-5"])
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains(
            "--set simulation.paths=-5:1:18: simulation.paths: expected a whole number from 1 to 100000000, found -5",
        ));
    assert!(!out.exists(), "nothing is written for a bad --set");
}

#[test]
fn set_with_a_value_of_the_wrong_kind_names_the_override_and_the_term() {
    let (_dir, file) = valid_scenario();
    dealsim()
        .arg("validate")
        .arg(&file)
        .args(["--set", "deals.base.revenue_shares.to-ms.cap=20%"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--set deals.base.revenue_shares.to-ms.cap=20%:1:37:"))
        .stderr(predicate::str::contains("deals[0].revenue_shares[0].cap: expected an amount"))
        .stderr(predicate::str::contains("a percentage is only allowed for rates"));
}

#[test]
fn a_missing_scenario_file_is_named() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let missing = dir.path().join("no-such-scenario.toml");
    let out = dir.path().join("out");
    dealsim()
        .arg("run")
        .arg(&missing)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains(format!("{}:1:1: cannot read the scenario", missing.display())));
    assert!(!out.exists());
}

#[test]
fn run_without_arguments_prints_usage() {
    dealsim()
        .arg("run")
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("Usage: dealsim run"))
        .stderr(predicate::str::contains("<SCENARIO>"));
}

#[test]
fn a_file_with_several_problems_reports_each_one() {
    let file = corpus_dir().join("multi-errors-deal.toml");
    let assert = dealsim().arg("validate").arg(&file).assert().code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    let errors: Vec<&str> = stderr.lines().filter(|line| line.starts_with("error:")).collect();
    assert_eq!(errors.len(), 5, "expected five errors, got:\n{stderr}");
    let prefix = format!("error: {}:", file.display());
    assert!(errors.iter().all(|line| line.starts_with(&prefix)), "every error names the file:\n{stderr}");
    let lines: Vec<usize> = errors
        .iter()
        .map(|line| line[prefix.len()..].split(':').next().and_then(|n| n.parse().ok()).unwrap_or(0))
        .collect();
    assert!(lines.windows(2).all(|pair| pair[0] < pair[1]), "errors are in file order: {lines:?}\n{stderr}");
    let summary = format!("{}: 5 errors; nothing was simulated or written", file.display());
    assert_eq!(stderr.lines().last(), Some(summary.as_str()), "the last line sums up:\n{stderr}");
}

#[test]
fn an_unknown_key_inside_a_set_table_is_an_error_as_in_a_file() {
    let (_dir, file) = valid_scenario();
    dealsim()
        .arg("validate")
        .arg(&file)
        .args(["--set", "deals.base.revenue_shares.to-ms.cap={ dist = \"uniform\", low = \"30B\", hihg = \"50B\" }"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown key `hihg`; expected one of: dist, low, high"))
        .stderr(predicate::str::contains("--set deals.base.revenue_shares.to-ms.cap="));
}

#[test]
fn set_reaches_an_equity_stake_and_an_inherited_field() {
    let text = VALID.replace("[[streams]]", "[parties.amazon]\n[[streams]]").replace(
        "[[deals]]\nname = \"base\"",
        "[valuation]\ncompany = \"openai\"\nstream = \"openai\"\nmultiple = 20\n\n[[deals]]\nname = \"base\"\nequity = { microsoft = 0.27 }",
    ) + "[[deals]]\nname = \"variant\"\nextends = \"base\"\n";
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stakes.toml");
    fs::write(&file, text).unwrap();
    let validate = |sets: &[&str]| {
        let mut command = dealsim();
        command.arg("validate").arg(&file);
        for set in sets {
            command.args(["--set", set]);
        }
        command.assert()
    };
    validate(&["deals.base.equity.microsoft=30%"]).success().stdout(predicate::str::contains("microsoft holds 30%"));
    // A stake only an override gives, and a field the variant only inherits.
    validate(&["deals.base.equity.amazon=5%", "deals.variant.revenue_shares.to-ms.cap=50B"])
        .success()
        .stdout(predicate::str::contains("amazon holds 5%"))
        .stdout(predicate::str::contains("cap $50B"));
    validate(&["deals.variant.equity.amazon=80%"])
        .code(2)
        .stderr(predicate::str::contains("stakes can add up to 1.07, more than 100% of the company"));
}

#[test]
fn a_flood_of_errors_is_listed_up_to_a_limit_and_counted() {
    let unknown: String = (0..20_000).map(|i| format!("unknown_{i} = 1\n")).collect();
    let text = VALID.replace("[parties.openai]", &format!("[parties.openai]\n{unknown}"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("flood.toml");
    fs::write(&file, text).unwrap();
    let output = dealsim().arg("validate").arg(&file).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().filter(|line| line.starts_with("error:")).count(), 51, "50 listed and a count");
    assert!(stderr.contains("and 19950 more errors, not listed"), "{}", &stderr[stderr.len().saturating_sub(300)..]);
}
