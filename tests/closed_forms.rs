//! The engine against closed forms and hand computations, at fixed seeds, with tolerances
//! stated in standard errors.

use dealsim::engine::stats::SKETCH_RELATIVE_ACCURACY;
use dealsim::engine::{self, RunOptions};
use dealsim::report::{SummaryRow, summary_rows};
use dealsim::scenario::parse_scenario;
use statrs::distribution::{Continuous, ContinuousCDF, LogNormal, Normal};

/// Allowed distance from a closed form, in standard errors: a correct engine fails a
/// 4-SE check about once in 16,000 seeds, and the seeds are fixed.
const SE_TOLERANCE: f64 = 4.0;

fn run(source: &str, paths: u64, seed: u64) -> Vec<SummaryRow> {
    let scenario = parse_scenario("test.toml", source, &[]).unwrap_or_else(|e| panic!("{e}"));
    let aggregates = engine::run(
        &scenario,
        RunOptions { paths, seed, threads: 0, baseline: 0, target_relative_se: None, shard: None },
        &|_| {},
    )
    .unwrap();
    summary_rows(&scenario, &aggregates)
}

fn row<'r>(rows: &'r [SummaryRow], deal: &str, metric: &str) -> &'r SummaryRow {
    rows.iter()
        .find(|r| r.deal == deal && r.metric == metric)
        .unwrap_or_else(|| panic!("no {deal} {metric} in {:?}", rows.iter().map(|r| &r.metric).collect::<Vec<_>>()))
}

fn assert_mean_within_se(row: &SummaryRow, expected: f64) {
    let (mean, se) = (row.mean.unwrap(), row.std_error.unwrap());
    let distance = (mean - expected).abs() / se;
    assert!(
        distance < SE_TOLERANCE,
        "{}: mean {mean} vs closed form {expected}: {distance:.2} s.e. (s.e. {se})",
        row.metric
    );
}

const CONSTANT_GROWTH: &str = r#"
[simulation]
start = 2026
years = 5
steps_per_year = 4
discount_rate = 0.1
[parties.lab]
[[streams]]
name = "lab"
owner = "lab"
initial = "10B"
growth = "30%"
volatility = 0.25
[[deals]]
name = "none"
"#;

#[test]
fn final_run_rate_is_lognormal_under_constant_growth() {
    let paths = 200_000;
    let rows = run(CONSTANT_GROWTH, paths, 11);
    let (initial, growth, sigma, years) = (10e9_f64, 0.3_f64, 0.25_f64, 5.0_f64);
    // ln R_T ~ N(ln R_0 + (ln(1+g) - σ²/2) T, σ² T); E[R_T] = R_0 (1+g)^T.
    let location = initial.ln() + (growth.ln_1p() - sigma * sigma / 2.0) * years;
    let scale = sigma * years.sqrt();
    let exact = LogNormal::new(location, scale).unwrap();
    let final_rate = row(&rows, "none", "stream.lab.run_rate_final");
    assert_eq!(final_rate.count, paths);
    assert_mean_within_se(final_rate, initial * (1.0 + growth).powf(years));
    let n = paths as f64;
    for (p, estimate) in [(0.05, final_rate.p05), (0.5, final_rate.p50), (0.95, final_rate.p95)] {
        let quantile = exact.inverse_cdf(p);
        // Standard error of a sample quantile: sqrt(p(1-p)/n) / f(x_p); the sketch adds its
        // documented relative error on top.
        let se = (p * (1.0 - p) / n).sqrt() / exact.pdf(quantile);
        let tolerance = SE_TOLERANCE * se + SKETCH_RELATIVE_ACCURACY * quantile;
        let estimate = estimate.unwrap();
        assert!((estimate - quantile).abs() < tolerance, "P{p}: {estimate} vs {quantile} (tolerance {tolerance})");
    }
}

const ONE_PERIOD_CAP: &str = r#"
[simulation]
start = 2026
years = 1
steps_per_year = 1
discount_rate = 0.0
[parties.lab]
[parties.cloud]
[[streams]]
name = "lab"
owner = "lab"
initial = "100B"
growth = 0.5
volatility = 0.4
[[deals]]
name = "capped"
[[deals.revenue_shares]]
name = "share"
payer = "lab"
payee = "cloud"
stream = "lab"
rate = "20%"
cap = "25B"
"#;

#[test]
fn one_period_capped_share_matches_the_black_formula() {
    let paths = 200_000;
    let rows = run(ONE_PERIOD_CAP, paths, 5);
    // Revenue of the single annual period is R_1, lognormal with forward F_R = R_0 (1+g).
    // min(0.2 R_1, K) = 0.2 R_1 - max(0.2 R_1 - K, 0): a forward less a Black call.
    let (forward, strike, sigma): (f64, f64, f64) = (0.2 * 100e9 * 1.5, 25e9, 0.4);
    let d1 = ((forward / strike).ln() + sigma * sigma / 2.0) / sigma;
    let d2 = d1 - sigma;
    let normal = Normal::standard();
    let call = forward * normal.cdf(d1) - strike * normal.cdf(d2);
    assert_mean_within_se(row(&rows, "capped", "revenue_share.share.paid"), forward - call);
    // The cap binds exactly when the share due reaches the cap: P = N(d2).
    assert_mean_within_se(row(&rows, "capped", "revenue_share.share.cap_hit"), normal.cdf(d2));
}

const EVENTS: &str = r#"
[simulation]
start = 2026
years = 6
steps_per_year = 12
discount_rate = 0.0
[parties.lab]
[[streams]]
name = "lab"
owner = "lab"
initial = 1
[[events]]
name = "ipo"
annual_rate = 0.3
from = "2026"
through = "2028"
[[events]]
name = "ruling"
date = "2027-Q3"
probability = "35%"
[[deals]]
name = "none"
"#;

#[test]
fn event_probabilities_match_closed_forms() {
    let paths = 100_000;
    let rows = run(EVENTS, paths, 3);
    // A hazard of 0.3/yr over a 3-year window occurs with probability 1 - exp(-0.9).
    let hazard = 1.0 - (-0.3_f64 * 3.0).exp();
    let ipo = row(&rows, "none", "event.ipo.occurred");
    assert_mean_within_se(ipo, hazard);
    let ipo_year = row(&rows, "none", "event.ipo.year");
    assert!(ipo_year.min.unwrap() >= 2026.0 + 1.0 / 12.0 && ipo_year.max.unwrap() <= 2029.0);
    // Given it occurs, the time is a truncated exponential; its mean year by hand:
    // E[T | T < w] = 1/λ - w e^{-λw} / (1 - e^{-λw}), and the year is the end of its month.
    let (rate, window) = (0.3_f64, 3.0_f64);
    let mean_time = 1.0 / rate - window * (-rate * window).exp() / hazard;
    let expected_year = 2026.0 + mean_time + 0.5 / 12.0;
    // Rounding up to the month end shifts the mean by half a month up to O(Δt²): within 0.01 y.
    assert!((ipo_year.mean.unwrap() - expected_year).abs() < 0.01 + SE_TOLERANCE * ipo_year.std_error.unwrap());
    assert_mean_within_se(row(&rows, "none", "event.ruling.occurred"), 0.35);
    // On a monthly grid a quarter resolves to its first month: the event year is the end of July.
    let ruling_year = row(&rows, "none", "event.ruling.year");
    let end_of_july = 2027.0 + 7.0 / 12.0;
    assert_eq!((ruling_year.min, ruling_year.max), (Some(end_of_july), Some(end_of_july)));
}

/// A world with no randomness: every figure below is computed by hand in the test.
const DETERMINISTIC: &str = r#"
[simulation]
start = 2026
years = 3
steps_per_year = 1
paths = 64
discount_rate = 0.10
[parties.lab]
initial_cash = 100
other_costs = 0.9
[parties.cloud]
discount_rate = 0.08
[parties.investor]
[[streams]]
name = "lab"
owner = "lab"
initial = 100
growth = 0.5
volatility = 0
[compute]
stream = "lab"
cost_ratio = 0.4
[[compute.providers]]
name = "cloud"
owner = "cloud"
margin = 0.5
share = 1
[valuation]
company = "lab"
stream = "lab"
multiple = 10
[[deals]]
name = "hand"
equity = { cloud = 0.3 }
[[deals.revenue_shares]]
name = "share"
payer = "lab"
payee = "cloud"
stream = "lab"
rate = 0.2
cap = 70
[[deals.commitments]]
name = "commit"
buyer = "lab"
provider = "cloud"
total = 200
from = "2026"
through = "2027"
take_or_pay = 0.5
[[deals.investments]]
name = "stake"
investor = "investor"
investee = "lab"
tranches = [ { amount = 50, date = "2027" }, { amount = 100, date = "2028-Q3" } ]
"#;

#[test]
fn deterministic_deal_matches_hand_computation() {
    let rows = run(DETERMINISTIC, 64, 1);
    let value = |metric: &str| {
        let r = row(&rows, "hand", metric);
        assert_eq!(r.std, Some(0.0), "{metric} has no randomness");
        r.mean.unwrap()
    };
    let close = |metric: &str, expected: f64| {
        let actual = value(metric);
        assert!((actual - expected).abs() <= 1e-9 * expected.abs().max(1.0), "{metric}: {actual} vs hand {expected}");
    };
    // Run-rate 100 grows 50%/yr: R = 150, 225, 337.5; revenue of each annual period is R_{k+1}.
    let revenue = [150.0, 225.0, 337.5];
    close("stream.lab.revenue", revenue.iter().sum());
    close("stream.lab.run_rate_final", 337.5);
    // 20% share capped at 70: 30 paid in 2026, then 40 of the 45 due in 2027 reaches the cap.
    close("revenue_share.share.paid", 70.0);
    close("revenue_share.share.cap_hit", 1.0);
    close("revenue_share.share.cap_hit_year", 2028.0);
    // Compute is 40% of revenue, all with the cloud: 60 + 90 in the 2026-2027 window.
    close("commitment.commit.spend", 150.0);
    close("commitment.commit.shortfall", 50.0);
    close("commitment.commit.penalty", 25.0);
    close("commitment.commit.met", 0.0);
    // Valuation 10x run-rate: V = 1500, 2250, 3375. 50 in 2027 buys 50/2300; 100 in 2028
    // buys 100/3475 and dilutes every earlier stake by 3375/3475.
    let dilution_2028 = 3375.0 / 3475.0;
    let investor_stake = 50.0 / 2300.0 * dilution_2028 + 100.0 / 3475.0;
    let cloud_stake = 0.3 * (2250.0 / 2300.0) * dilution_2028;
    close("investment.stake.paid", 150.0);
    close("investment.stake.stake", investor_stake);
    close("investment.stake.value", investor_stake * 3375.0);
    close("investment.stake.multiple", investor_stake * 3375.0 / 150.0);
    close("party.cloud.stake", cloud_stake);
    close("party.cloud.equity_value", cloud_stake * 3375.0);
    // Lab: revenue less 90% other costs less compute (40%) = -0.3 × revenue, then the share,
    // the penalty, and the tranches it receives.
    let lab_flows = [-45.0 - 30.0, -67.5 - 40.0 - 25.0 + 50.0, -101.25 + 100.0];
    let cloud_flows = [30.0 + 30.0, 45.0 + 40.0 + 25.0, 67.5];
    let investor_flows = [0.0, -50.0, -100.0];
    let npv = |flows: [f64; 3], rate: f64, stake: f64| {
        let discounted: f64 = flows.iter().enumerate().map(|(k, f)| f / (1.0 + rate).powi(k as i32 + 1)).sum();
        discounted + stake * 3375.0 / (1.0 + rate).powi(3)
    };
    close("party.lab.npv", npv(lab_flows, 0.10, 0.0));
    close("party.cloud.npv", npv(cloud_flows, 0.08, cloud_stake));
    close("party.investor.npv", npv(investor_flows, 0.10, investor_stake));
    close("party.cloud.cloud_profit", 30.0 + 45.0 + 67.5 + 25.0);
    close("party.cloud.revenue_share_net", 70.0);
    close("party.lab.revenue_share_net", -70.0);
    // Cash 100 → 25 → -57.5 → -58.75.
    close("party.lab.min_cash", -58.75);
    close("party.lab.funding_gap", 58.75);
}
