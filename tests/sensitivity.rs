//! The tornado: pinned inputs move the metric exactly as a hand computation says, and the
//! input that dominates by design ranks first.

use dealsim::analysis::sensitivity::{SensitivityOptions, tornado};
use dealsim::scenario::parse_scenario;

/// Revenue is certain (100/yr for 2 years); only the share's rate and an unrelated cost vary.
const SCENARIO: &str = r#"
[simulation]
start = 2026
years = 2
steps_per_year = 1
discount_rate = 0.0
[parties.lab]
other_costs = { dist = "uniform", low = 0.1, high = 0.5 }
[parties.cloud]
[[streams]]
name = "lab"
owner = "lab"
initial = 100
[[deals]]
name = "deal"
[[deals.revenue_shares]]
name = "share"
payer = "lab"
payee = "cloud"
stream = "lab"
rate = { dist = "uniform", low = 0.1, high = 0.3 }
"#;

#[test]
fn the_dominant_input_ranks_first_with_the_hand_computed_swing() {
    let scenario = parse_scenario("tornado.toml", SCENARIO, &[]).unwrap();
    let options = SensitivityOptions {
        paths: 2_000,
        seed: 3,
        threads: 0,
        targets: vec!["revenue_share.share.paid".into()],
        baseline: 0,
    };
    let rows = tornado(&scenario, &options).unwrap();
    assert_eq!(rows.len(), 2, "one row per input for the one target");
    let first = &rows[0];
    assert_eq!(first.input, "deals.deal.revenue_shares.share.rate");
    // Uniform(0.1, 0.3): P10 = 0.12, P90 = 0.28, on 200 of revenue over the horizon.
    assert!((first.input_low - 0.12).abs() < 1e-12 && (first.input_high - 0.28).abs() < 1e-12);
    assert!((first.metric_low - 0.12 * 200.0).abs() < 1e-9, "{}", first.metric_low);
    assert!((first.metric_high - 0.28 * 200.0).abs() < 1e-9, "{}", first.metric_high);
    assert!((first.swing - 0.16 * 200.0).abs() < 1e-9);
    // Paid is a monotone function of the rate alone: rank correlation 1.
    assert!((first.rank_correlation - 1.0).abs() < 1e-12);
    let second = &rows[1];
    assert_eq!(second.input, "parties.lab.other_costs");
    assert_eq!(second.swing, 0.0);
}

#[test]
fn default_targets_are_party_npvs_and_shares_paid() {
    let scenario = parse_scenario("tornado.toml", SCENARIO, &[]).unwrap();
    let options = SensitivityOptions { paths: 500, seed: 3, threads: 1, targets: Vec::new(), baseline: 0 };
    let rows = tornado(&scenario, &options).unwrap();
    let mut metrics: Vec<&str> = rows.iter().map(|r| r.metric.as_str()).collect();
    metrics.dedup();
    assert_eq!(metrics, ["revenue_share.share.paid", "party.lab.npv", "party.cloud.npv"]);
    // Other costs pinned at their P10 (0.14) and P90 (0.46) of 200 of revenue: a swing of
    // 0.32 × 200 in the lab's NPV (undiscounted here), whatever the share's rate.
    let cost = rows.iter().find(|r| r.metric == "party.lab.npv" && r.input == "parties.lab.other_costs").unwrap();
    assert!((cost.swing - 0.32 * 200.0).abs() < 1e-9, "{}", cost.swing);
}

/// The tornado of a deal's paired difference from the baseline: with an input fixed, the
/// difference of the two deals' means on the same paths, computed here by hand.
#[test]
fn paired_differences_are_explained_against_the_baseline() {
    let text =
        SCENARIO.replacen("[[deals]]\nname = \"deal\"", "[[deals]]\nname = \"none\"\n[[deals]]\nname = \"deal\"", 1);
    let scenario = parse_scenario("tornado.toml", &text, &[]).unwrap();
    assert_eq!(scenario.deals.len(), 2);
    let options = SensitivityOptions { paths: 500, seed: 3, threads: 1, targets: Vec::new(), baseline: 0 };
    let rows = tornado(&scenario, &options).unwrap();
    let difference = |metric: &str, input: &str| {
        rows.iter()
            .find(|r| r.deal == "deal" && r.baseline == "none" && r.metric == metric && r.input.ends_with(input))
            .unwrap_or_else(|| panic!("{metric} {input}"))
    };
    // The cloud gets the share on top of what it has without the deal: rate × 200, on every path.
    let rate = difference("party.cloud.npv", "rate");
    assert!((rate.metric_low - 0.12 * 200.0).abs() < 1e-9, "{}", rate.metric_low);
    assert!((rate.metric_high - 0.28 * 200.0).abs() < 1e-9, "{}", rate.metric_high);
    assert!((rate.rank_correlation - 1.0).abs() < 1e-12);
    let lab = difference("party.lab.npv", "rate");
    assert!((lab.metric_high + 0.28 * 200.0).abs() < 1e-9, "{}", lab.metric_high);
    assert!((lab.rank_correlation + 1.0).abs() < 1e-12);
    // Other costs weigh on the lab alike under both deals: no swing in the difference.
    let costs = difference("party.lab.npv", "other_costs");
    assert!(costs.swing.abs() < 1e-9, "{}", costs.swing);
    // The baseline has no difference rows, and the deal's own rows stay.
    assert!(rows.iter().all(|r| r.deal != "none" || r.baseline.is_empty()));
    assert!(rows.iter().any(|r| r.deal == "deal" && r.baseline.is_empty() && r.metric == "party.cloud.npv"));
}

/// The scatter of a target against its top input holds the unpinned paths' own values: here
/// paid is the rate times 200 on every path.
#[test]
fn a_scatter_pairs_each_paths_input_with_its_target() {
    let scenario = parse_scenario("tornado.toml", SCENARIO, &[]).unwrap();
    let options = SensitivityOptions { paths: 5_000, seed: 3, threads: 2, targets: Vec::new(), baseline: 0 };
    let (rows, scatters) = dealsim::analysis::sensitivity::tornado_with_scatters(&scenario, &options).unwrap();
    assert_eq!(rows, tornado(&scenario, &options).unwrap());
    let paid = scatters.iter().find(|s| s.metric == "revenue_share.share.paid").expect("a scatter of paid");
    assert_eq!(paid.input, "deals.deal.revenue_shares.share.rate");
    // 5,000 paths, every third kept: at most 2,000 points.
    assert_eq!(paid.points.len(), 1_667);
    for &(rate, value) in &paid.points {
        assert!((0.1..0.3).contains(&rate), "{rate}");
        assert!((value - rate * 200.0).abs() < 1e-9, "{rate} {value}");
    }
    // The lab's NPV moves with both inputs; its scatter takes the one with the larger swing.
    let lab = scatters.iter().find(|s| s.metric == "party.lab.npv").unwrap();
    let top = rows.iter().find(|r| r.metric == "party.lab.npv").unwrap();
    assert_eq!(lab.input, top.input);
}

/// The swing's standard error against a closed form. With an uncertain cap C ~ U(20, 60), the
/// rate's swing on a path is min(56, C) − min(24, C): 0 below 24, C − 24 up to 56, then 32.
/// Its mean is 16 and its variance 375.47 − 16² = 119.47 (E[S²] = 32³/120 + 0.1 × 32²).
#[test]
fn the_swing_carries_its_standard_error() {
    let text = SCENARIO.replace(
        "rate = { dist = \"uniform\", low = 0.1, high = 0.3 }",
        "rate = { dist = \"uniform\", low = 0.1, high = 0.3 }\ncap = { dist = \"uniform\", low = 20, high = 60 }",
    );
    let scenario = parse_scenario("tornado.toml", &text, &[]).unwrap();
    let paths = 20_000;
    let options = SensitivityOptions {
        paths,
        seed: 5,
        threads: 0,
        targets: vec!["revenue_share.share.paid".into()],
        baseline: 0,
    };
    let rows = tornado(&scenario, &options).unwrap();
    let rate = rows.iter().find(|r| r.input.ends_with(".rate")).unwrap();
    let exact_sd = (32.0_f64.powi(3) / 120.0 + 0.1 * 32.0 * 32.0 - 16.0 * 16.0).sqrt();
    // The estimate of the standard deviation itself is good to about 1% at 20,000 paths.
    let estimated_sd = rate.swing_se * (paths as f64).sqrt();
    assert!((estimated_sd / exact_sd - 1.0).abs() < 0.03, "sd {estimated_sd} against {exact_sd}");
    // And the swing is within its error of the exact mean swing.
    assert!((rate.swing - 16.0).abs() < 3.0 * rate.swing_se, "swing {} ± {}", rate.swing, rate.swing_se);
    // Where the swing is the same on every path, it has no error at all.
    let plain = tornado(&parse_scenario("tornado.toml", SCENARIO, &[]).unwrap(), &options).unwrap();
    assert!(plain.iter().all(|r| r.swing_se == 0.0), "{plain:?}");
}
