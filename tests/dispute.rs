//! Contingent terms on a dispute: events with outcomes, routes, payments, lapsing tranches and
//! contingent windows, against hand computations, closed forms and paths.parquet.

use std::fs::File;
use std::path::Path;

use assert_cmd::Command;
use dealsim::engine::path::PathModel;
use dealsim::engine::{self, DrawScratch, RunOptions, draws_per_path, sample_block_inputs};
use dealsim::report::{summary_rows, timeseries_rows};
use dealsim::sampling::correlation::Copula;
use dealsim::sampling::world::WorldPath;
use dealsim::scenario::{Override, Scenario, parse_scenario};
use dealsim::terms::{DealOutcome, TermOutcome};
use polars::prelude::*;

/// A world with no randomness: revenue $100B a year in two channels (chat 75%, frontier 25%),
/// compute at half of revenue (chat on Azure by share, frontier routed to AWS), a valuation of
/// 10× revenue, and a ruling in 2027 that certainly occurs, its outcome set by the weights.
const DISPUTE: &str = r#"
[simulation]
start = 2026
years = 3
steps_per_year = 1
paths = 8
seed = 3
discount_rate = 0.1
[parties.lab]
[parties.ms]
[parties.amzn]
[[streams]]
name = "lab"
owner = "lab"
initial = "100B"
[[streams.channels]]
name = "chat"
share = 0.75
[[streams.channels]]
name = "frontier"
share = 0.25
[compute]
stream = "lab"
cost_ratio = 0.5
[[compute.providers]]
name = "azure"
owner = "ms"
margin = 0.4
share = 1.0
[[compute.providers]]
name = "aws"
owner = "amzn"
margin = 0.3
share = 0.0
[[compute.routes]]
channel = "frontier"
providers = { aws = 1.0 }
[valuation]
company = "lab"
stream = "lab"
multiple = 10
[[events]]
name = "ruling"
date = "2027"
outcomes = { ms_wins = 1, settle = 0 }
[[deals]]
name = "dispute"
equity = { ms = 0.25 }
[[deals.routes]]
channel = "frontier"
providers = { azure = 1.0 }
starts_on = "ruling.ms_wins"
[[deals.commitments]]
name = "aws-c"
buyer = "lab"
provider = "aws"
total = "40B"
through = "2028"
[[deals.investments]]
name = "amzn-inv"
investor = "amzn"
investee = "lab"
tranches = [{ amount = "10B", date = "2026" }, { amount = "20B", date = "2028", unless = "ruling.ms_wins" }]
[[deals.payments]]
name = "settlement"
payer = "lab"
payee = "ms"
amount = "5B"
on = "ruling.settle"
"#;

fn scenario(text: &str, sets: &[&str]) -> Scenario {
    let overrides: Vec<Override> = sets.iter().map(|set| Override::parse(set).unwrap()).collect();
    parse_scenario("dispute.toml", text, &overrides).unwrap_or_else(|e| panic!("{e}"))
}

fn run(scenario: &Scenario, paths: u64) -> engine::Aggregates {
    let options = RunOptions { paths, seed: 3, threads: 0, baseline: 0, target_relative_se: None, shard: None };
    engine::run(scenario, options, &|_| {}).unwrap()
}

/// The mean of a deal's metric (every path of this world is the same path).
fn mean(scenario: &Scenario, aggregates: &engine::Aggregates, metric: &str) -> f64 {
    let rows = summary_rows(scenario, aggregates);
    rows.iter().find(|row| row.metric == metric).unwrap_or_else(|| panic!("{metric}")).mean.unwrap()
}

fn series(scenario: &Scenario, aggregates: &engine::Aggregates, name: &str) -> Vec<f64> {
    timeseries_rows(scenario, aggregates).iter().filter(|row| row.series == name).map(|row| row.mean.unwrap()).collect()
}

fn assert_close(found: f64, expected: f64, what: &str) {
    assert!((found - expected).abs() <= 1e-9 * expected.abs().max(1e9), "{what}: {found} vs {expected} by hand");
}

const B: f64 = 1e9;

/// Discounted at 10% a year, flows at each year's end, the stake's value at the horizon.
fn npv(flows: [f64; 3], stake: f64) -> f64 {
    flows.iter().enumerate().map(|(k, flow)| flow / 1.1f64.powi(k as i32 + 1)).sum::<f64>() + stake * 1000.0 * B / 1.331
}

#[test]
fn a_microsoft_win_moves_frontier_to_azure_and_lapses_the_tranche() {
    let scenario = scenario(DISPUTE, &[]);
    let aggregates = run(&scenario, 8);
    let mean = |metric: &str| mean(&scenario, &aggregates, metric);
    // Compute: $50B a year; chat's $37.5B on Azure; frontier's $12.5B on AWS until the ruling
    // (2027), on Azure from the year after.
    let azure = series(&scenario, &aggregates, "compute.azure.spend");
    let aws = series(&scenario, &aggregates, "compute.aws.spend");
    for (k, (azure_spend, aws_spend)) in [(37.5, 12.5), (37.5, 12.5), (50.0, 0.0)].into_iter().enumerate() {
        assert_close(azure[k], azure_spend * B, &format!("Azure spend in year {k}"));
        assert_close(aws[k], aws_spend * B, &format!("AWS spend in year {k}"));
    }
    assert_close(mean("route.frontier.moved"), 12.5 * B, "spend the route moved");
    // The AWS commitment of $40B through 2028 counts $25B: a $15B shortfall, paid in 2028.
    assert_close(mean("commitment.aws-c.spend"), 25.0 * B, "AWS commitment spend");
    assert_close(mean("commitment.aws-c.shortfall"), 15.0 * B, "AWS shortfall");
    assert_close(mean("commitment.aws-c.penalty"), 15.0 * B, "AWS penalty");
    // The $20B tranche due in 2028 lapses: Microsoft won in 2027. No settlement is paid.
    assert_close(mean("investment.amzn-inv.paid"), 10.0 * B, "tranches paid");
    assert_eq!(mean("payment.settlement.paid"), 0.0);
    assert_eq!(mean("event.ruling.ms_wins.occurred"), 1.0);
    assert_eq!(mean("event.ruling.settle.occurred"), 0.0);
    // Stakes: the $10B tranche at a $1,000B pre-money value.
    let (ms_stake, amzn_stake) = (0.25 * 1000.0 / 1010.0, 10.0 / 1010.0);
    assert_close(mean("party.ms.stake"), ms_stake, "Microsoft's stake");
    assert_close(mean("party.amzn.stake"), amzn_stake, "Amazon's stake");
    // Flows by year: the lab earns $100B − $50B of compute, gets $10B in 2026 and pays the
    // penalty in 2028; Microsoft earns 40% of its Azure spend, Amazon 30% of its AWS spend.
    assert_close(mean("party.lab.npv"), npv([60.0 * B, 50.0 * B, 35.0 * B], 0.0), "the lab's NPV");
    assert_close(mean("party.ms.npv"), npv([15.0 * B, 15.0 * B, 20.0 * B], ms_stake), "Microsoft's NPV");
    assert_close(mean("party.amzn.npv"), npv([-6.25 * B, 3.75 * B, 15.0 * B], amzn_stake), "Amazon's NPV");
}

#[test]
fn a_settlement_pays_microsoft_and_keeps_frontier_on_aws() {
    let scenario = scenario(DISPUTE, &["events.ruling.outcomes.ms_wins=0", "events.ruling.outcomes.settle=1"]);
    let aggregates = run(&scenario, 8);
    let mean = |metric: &str| mean(&scenario, &aggregates, metric);
    for (k, spend) in series(&scenario, &aggregates, "compute.aws.spend").into_iter().enumerate() {
        assert_close(spend, 12.5 * B, &format!("AWS spend in year {k}"));
    }
    assert_eq!(mean("route.frontier.moved"), 0.0);
    // $37.5B against $40B: a $2.5B shortfall. Both tranches paid; the settlement in 2027.
    assert_close(mean("commitment.aws-c.shortfall"), 2.5 * B, "AWS shortfall");
    assert_close(mean("investment.amzn-inv.paid"), 30.0 * B, "tranches paid");
    assert_close(mean("payment.settlement.paid"), 5.0 * B, "settlement");
    let ms_stake = 0.25 * (1000.0 / 1010.0) * (1000.0 / 1020.0);
    let amzn_stake = 10.0 / 1010.0 * 1000.0 / 1020.0 + 20.0 / 1020.0;
    assert_close(mean("party.lab.npv"), npv([60.0 * B, 45.0 * B, 67.5 * B], 0.0), "the lab's NPV");
    assert_close(mean("party.ms.npv"), npv([15.0 * B, 20.0 * B, 15.0 * B], ms_stake), "Microsoft's NPV");
    assert_close(mean("party.amzn.npv"), npv([-6.25 * B, 3.75 * B, -13.75 * B], amzn_stake), "Amazon's NPV");
}

/// Each path's world and every deal's outcome on it.
fn paths(scenario: &Scenario, count: u64, mut check: impl FnMut(&WorldPath, &[DealOutcome])) {
    let model = PathModel::new(scenario);
    let mut state = model.state();
    let copula = Copula::of(scenario);
    let mut scratch = DrawScratch::new(scenario);
    let mut draws = vec![0.0; draws_per_path(scenario)];
    let seed = scenario.simulation.seed;
    for path in 0..count {
        sample_block_inputs(scenario, copula.as_ref(), seed, path..path + 1, &mut draws, &mut scratch);
        model.sample(seed, path, &mut draws, &mut state);
        model.apply_all(&mut state);
        check(&state.worlds[0], &state.outcomes);
    }
}

#[test]
fn outcomes_occur_once_each_with_their_weights() {
    let text = r#"
[simulation]
start = 2026
years = 4
steps_per_year = 4
seed = 11
discount_rate = 0.1
[parties.lab]
[[streams]]
name = "lab"
owner = "lab"
initial = "10B"
[[events]]
name = "ruling"
annual_rate = 0.5
outcomes = { a = 0.2, b = { dist = "uniform", low = 0.4, high = 0.6 }, c = 0.3 }
[[deals]]
name = "none"
"#;
    let scenario = scenario(text, &[]);
    let event = |name: &str| scenario.events.iter().position(|e| e.name == name).unwrap();
    let (ruling, outcomes) = (event("ruling"), [event("ruling.a"), event("ruling.b"), event("ruling.c")]);
    let n = 100_000;
    let (mut occurred, mut counts) = (0u64, [0u64; 3]);
    paths(&scenario, n, |world, _| {
        let chosen: Vec<usize> = (0..3).filter(|&i| world.event_period[outcomes[i]].is_some()).collect();
        match world.event_period[ruling] {
            Some(period) => {
                assert_eq!(chosen.len(), 1, "exactly one outcome when the event occurs");
                assert_eq!(world.event_period[outcomes[chosen[0]]], Some(period), "in the event's period");
                occurred += 1;
                counts[chosen[0]] += 1;
            }
            None => assert!(chosen.is_empty(), "no outcome without the event"),
        }
    });
    // The weights normalize on each path: b's mean weight is 0.5, so on average a, b, c have
    // 0.2, 0.5 and 0.3 of 1.0 (b's spread moves each path's split, not the mean to first
    // order: E[b/(0.5+b)] is 0.4999 for b uniform on [0.4, 0.6]).
    let expected_b: f64 =
        (0..10_000).map(|i| 0.4 + 0.2 * (i as f64 + 0.5) / 10_000.0).map(|b| b / (0.5 + b)).sum::<f64>() / 10_000.0;
    let expected_a: f64 =
        (0..10_000).map(|i| 0.4 + 0.2 * (i as f64 + 0.5) / 10_000.0).map(|b| 0.2 / (0.5 + b)).sum::<f64>() / 10_000.0;
    let expected = [expected_a, expected_b, 1.0 - expected_a - expected_b];
    // P(occurs in 4 years) = 1 − e^(−0.5·4).
    let p = 1.0 - (-2.0f64).exp();
    let se = (p * (1.0 - p) / n as f64).sqrt();
    assert!((occurred as f64 / n as f64 - p).abs() < 4.0 * se, "{occurred}");
    for i in 0..3 {
        let share = counts[i] as f64 / occurred as f64;
        let se = (expected[i] * (1.0 - expected[i]) / occurred as f64).sqrt();
        assert!((share - expected[i]).abs() < 4.0 * se, "outcome {i}: {share} vs {}", expected[i]);
    }
}

/// A dated event at `date` on a grid of `steps` periods a year, with terms that start, end and
/// lapse on it; the event's period is `event`.
fn boundaries(steps: u32, date: &str, event: usize) {
    let text = format!(
        r#"
[simulation]
start = 2026
years = 3
steps_per_year = {steps}
seed = 1
discount_rate = 0.1
[parties.lab]
[parties.cloud]
[[streams]]
name = "lab"
owner = "lab"
initial = "12B"
[valuation]
company = "lab"
stream = "lab"
multiple = 10
[[events]]
name = "ruling"
date = "{date}"
[[deals]]
name = "terms"
[[deals.revenue_shares]]
name = "from"
payer = "lab"
payee = "cloud"
stream = "lab"
rate = 0.1
starts_on = "ruling"
[[deals.revenue_shares]]
name = "until"
payer = "lab"
payee = "cloud"
stream = "lab"
rate = 0.1
ends_on = "ruling"
[[deals.investments]]
name = "stake"
investor = "cloud"
investee = "lab"
tranches = [{{ amount = "1B", on = "ruling", unless = "ruling" }}, {{ amount = "2B", date = "2026", unless = "ruling" }}]
"#
    );
    let scenario = scenario(&text, &[]);
    let periods = scenario.grid().periods();
    paths(&scenario, 1, |world, outcomes| {
        assert_eq!(world.event_period[0], Some(event), "{date} on {steps} steps a year");
        let terms = &outcomes[0].terms;
        let paid = |index: usize| match &terms[index] {
            TermOutcome::RevenueShare(share) => share.paid_cumulative.clone(),
            other => panic!("{other:?}"),
        };
        let (from, until) = (paid(0), paid(1));
        for k in 0..periods {
            let before = if k == 0 { 0.0 } else { from[k - 1] };
            assert_eq!(from[k] > before, k > event, "starts_on pays from the period after the event: {k}");
            let before = if k == 0 { 0.0 } else { until[k - 1] };
            assert_eq!(until[k] > before, k <= event, "ends_on pays through the event's period: {k}");
        }
        // Due in the event's period: lapses (the event occurred at or before it). Due before it:
        // paid.
        match &terms[2] {
            TermOutcome::Investment(investment) => assert_eq!(investment.paid, 2e9),
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn contingent_windows_start_after_and_end_at_the_events_period_on_every_grid() {
    boundaries(4, "2027-Q2", 5);
    boundaries(12, "2027-05", 16);
    boundaries(1, "2027", 1);
}

#[test]
fn conditional_results_match_a_direct_computation_from_the_paths() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/frontier-dispute.toml");
    let out = dir.path().join("out");
    let output = Command::cargo_bin("dealsim")
        .unwrap()
        .arg("run")
        .arg(&scenario)
        .args(["--paths", "3000", "--keep-paths", "--no-charts", "--no-sensitivity", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("mean NPV by how ruling ends"), "the terminal prints NPVs by outcome:\n{stdout}");
    let frame = ParquetReader::new(File::open(out.join("paths.parquet")).unwrap()).finish().unwrap();
    let column = |name: &str| -> Vec<Option<f64>> {
        let values = frame.column(name).unwrap_or_else(|_| panic!("{name}")).f64().unwrap().clone();
        (0..values.len()).map(|i| values.get(i)).collect()
    };
    let mut reader = csv::Reader::from_path(out.join("conditional.csv")).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(header, ["deal", "metric", "event", "occurred", "count", "mean", "p05", "p50", "p95"]);
    let mut checked = 0;
    for record in reader.records() {
        let record = record.unwrap();
        let (deal, metric, event, occurred) = (&record[0], &record[1], &record[2], &record[3] == "1");
        if !(metric.ends_with(".npv") || metric.starts_with("payment.")) {
            continue;
        }
        let values = column(&format!("{deal}:{metric}"));
        let flags = column(&format!("{deal}:event.{event}.occurred"));
        let chosen: Vec<f64> = values
            .iter()
            .zip(&flags)
            .filter(|(_, flag)| (flag.unwrap() == 1.0) == occurred)
            .map(|(value, _)| value.unwrap())
            .collect();
        assert_eq!(record[4].parse::<usize>().unwrap(), chosen.len(), "{deal} {metric} {event} {occurred}");
        if !chosen.is_empty() {
            let direct = chosen.iter().sum::<f64>() / chosen.len() as f64;
            let reported: f64 = record[5].parse().unwrap();
            assert!(
                (reported - direct).abs() <= 1e-9 * direct.abs().max(1.0),
                "{deal} {metric} {event}: {reported} vs {direct}"
            );
        }
        checked += 1;
    }
    assert!(checked > 50, "{checked} rows checked");
}

#[test]
fn money_is_conserved_with_routes_payments_and_lapses() {
    for sets in [&[][..], &["events.ruling.outcomes.ms_wins=0", "events.ruling.outcomes.settle=1"][..]] {
        let scenario = scenario(DISPUTE, sets);
        let periods = scenario.grid().periods();
        paths(&scenario, 2, |world, outcomes| {
            for outcome in outcomes {
                let state = &outcome.state;
                for k in 0..periods {
                    let moved: f64 =
                        (0..3).map(|p| state.flow[p * periods + k] - world.base_flow[p * periods + k]).sum();
                    // A route moves spend between providers; their owners' profits change by it
                    // times each margin. Everything else a deal does is a transfer.
                    let rerouted: f64 = (0..2)
                        .map(|p| {
                            let slot = p * periods + k;
                            (state.provider_spend[slot] - world.provider_spend[slot]) * world.provider_margin[slot]
                        })
                        .sum();
                    assert!((moved - rerouted).abs() < 1e-3, "period {k}: {moved} vs {rerouted}");
                    let spend: f64 = (0..2).map(|p| state.provider_spend[p * periods + k]).sum();
                    assert!((spend - 50e9).abs() < 1e-3, "the lab's bill is the same: {spend}");
                }
            }
        });
    }
}

#[test]
fn the_report_shows_npvs_by_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/frontier-dispute.toml");
    let out = dir.path().join("out");
    let output = Command::cargo_bin("dealsim")
        .unwrap()
        .arg("run")
        .arg(&scenario)
        .args(["--paths", "1000", "--no-sensitivity", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let chart = std::fs::read(out.join("charts/outcomes-ruling.png")).unwrap();
    assert!(chart.starts_with(b"\x89PNG"), "a PNG chart of NPVs by outcome");
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    let section = &report[report.find("<details id=\"outcomes\"><summary>By outcome").expect("a By outcome section")..];
    assert!(section.contains("<figure id=\"outcomes-ruling.png\">"), "the section shows the chart");
    assert!(section.contains("microsoft_wins"), "the section's table names the outcomes");
}
