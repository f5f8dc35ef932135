//! `dealsim solve` recovers a breakeven known in closed form, and says when there is none.

use std::fs;

use assert_cmd::Command;
use predicates::str::contains;

/// Revenue is certain: 100 a year for 2 years. Deal `capped` pays 20% up to a cap; deal
/// `flat` pays 10% with no cap, 20 in all. The cap at which the cloud is indifferent is 20.
const SCENARIO: &str = r#"
[simulation]
start = 2026
years = 2
steps_per_year = 4
paths = 200
discount_rate = 0.0
[parties.lab]
[parties.cloud]
[[streams]]
name = "lab"
owner = "lab"
initial = 100
[[deals]]
name = "capped"
[[deals.revenue_shares]]
name = "share"
payer = "lab"
payee = "cloud"
stream = "lab"
rate = 0.2
cap = 1
[[deals]]
name = "flat"
[[deals.revenue_shares]]
name = "share"
payer = "lab"
payee = "cloud"
stream = "lab"
rate = 0.1
"#;

fn solve(dir: &std::path::Path, between: [&str; 2], target: &str) -> assert_cmd::assert::Assert {
    let file = dir.join("breakeven.toml");
    fs::write(&file, SCENARIO).unwrap();
    Command::cargo_bin("dealsim")
        .unwrap()
        .arg("solve")
        .arg(&file)
        .args(["--vary", "deals.capped.revenue_shares.share.cap", "--between", between[0], between[1]])
        .args(["--target", target])
        .assert()
}

/// The solved value: the number after the first " = " of `KEY = VALUE ± BAND ...`.
fn solved_value(assert: assert_cmd::assert::Assert) -> f64 {
    let stdout = String::from_utf8(assert.success().get_output().stdout.clone()).unwrap();
    stdout
        .split(" = ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("no value in {stdout}"))
}

#[test]
fn recovers_the_indifferent_cap() {
    let dir = tempfile::tempdir().unwrap();
    let value = solved_value(solve(dir.path(), ["0", "100"], "capped:party.cloud.npv = flat:party.cloud.npv"));
    assert!((value - 20.0).abs() < 1e-3, "{value}");
}

#[test]
fn solves_against_a_number_too() {
    // 20% of 200 is 40, so a total of 35 is paid exactly when the cap is 35.
    let dir = tempfile::tempdir().unwrap();
    let value = solved_value(solve(dir.path(), ["0", "100"], "capped:revenue_share.share.paid = 35"));
    assert!((value - 35.0).abs() < 1e-3, "{value}");
}

#[test]
fn says_clearly_when_there_is_no_root() {
    let dir = tempfile::tempdir().unwrap();
    solve(dir.path(), ["30", "100"], "capped:party.cloud.npv = flat:party.cloud.npv")
        .code(1)
        .stderr(contains("no root in [30, 100]"));
}

#[test]
fn names_an_unknown_metric() {
    let dir = tempfile::tempdir().unwrap();
    solve(dir.path(), ["0", "100"], "capped:party.nobody.npv = 3")
        .code(2)
        .stderr(contains("no metric `party.nobody.npv`"));
}

/// A ruling in 2027 ends `wins` or `loses`; deal `contingent` pays 100 on a win, deal `certain`
/// pays 25. They are worth the same when a win has probability 1/4, whatever weight gives it.
const OUTCOMES: &str = r#"
[simulation]
start = 2026
years = 2
steps_per_year = 1
paths = 4000
discount_rate = 0.0
[parties.lab]
[parties.cloud]
[[streams]]
name = "lab"
owner = "lab"
initial = 100
[[events]]
name = "ruling"
date = "2027"
outcomes = { wins = 1, loses = 3 }
[[deals]]
name = "contingent"
[[deals.payments]]
name = "fee"
payer = "lab"
payee = "cloud"
amount = 100
on = "ruling.wins"
[[deals]]
name = "certain"
[[deals.payments]]
name = "fee"
payer = "lab"
payee = "cloud"
amount = 25
date = "2027"
"#;

#[test]
fn a_solved_outcome_weight_reads_as_the_outcomes_probability() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("outcomes.toml");
    fs::write(&file, OUTCOMES).unwrap();
    let output = Command::cargo_bin("dealsim")
        .unwrap()
        .arg("solve")
        .arg(&file)
        .args(["--vary", "events.ruling.outcomes.wins", "--between", "0.01", "10"])
        .args(["--target", "contingent:payment.fee.paid = certain:payment.fee.paid"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let line = stdout.lines().find(|line| line.starts_with("that is, ruling.wins on ")).expect(&stdout);
    let share: f64 = line["that is, ruling.wins on ".len()..].split('%').next().unwrap().parse().unwrap();
    // The share of wins among 4,000 rulings has a standard error of √(0.25 × 0.75 / 4000) = 0.68%.
    assert!((share - 25.0).abs() < 4.0 * 0.685, "{line}");
    assert!(line.ends_with("of the paths where ruling occurs"), "{line}");
}

#[test]
fn takes_percents_and_answers_in_them() {
    // `flat` pays its rate on 200 of revenue, so 30 is paid at a rate of 15%.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("breakeven.toml");
    fs::write(&file, SCENARIO).unwrap();
    Command::cargo_bin("dealsim")
        .unwrap()
        .arg("solve")
        .arg(&file)
        .args(["--vary", "deals.flat.revenue_shares.share.rate", "--between", "1%", "50%"])
        .args(["--target", "flat:revenue_share.share.paid = 30"])
        .assert()
        .success()
        .stdout(contains("deals.flat.revenue_shares.share.rate = 15.00% ± 0.00% (95%)"));
}

#[test]
fn a_target_may_be_a_percent() {
    let dir = tempfile::tempdir().unwrap();
    solve(dir.path(), ["0", "100"], "capped:revenue_share.share.cap_hit = 50%").success();
}
