//! Engine properties: identical results on any thread count and from merged shards, and
//! percentiles within the sketch's bound of an exact sort of the same paths.

use dealsim::engine::path::PathModel;
use dealsim::engine::stats::{SKETCH_RELATIVE_ACCURACY, exact_quantile};
use dealsim::engine::{self, Aggregates, MergeError, RunOptions, Shard};
use dealsim::engine::{DrawScratch, draws_per_path, sample_block_inputs};
use dealsim::report::csv_bytes;
use dealsim::report::{PERCENTILES, summary_rows, timeseries_rows};
use dealsim::sampling::correlation::Copula;
use dealsim::sampling::world::WorldPath;
use dealsim::scenario::{Scenario, parse_scenario};
use dealsim::terms::{DealOutcome, TermOutcome};

const SCENARIO: &str = r#"
[simulation]
start = 2026
years = 6
steps_per_year = 4
seed = 99
discount_rate = 0.09
[parties.lab]
initial_cash = "40B"
other_costs = 0.3
[parties.cloud]
[[streams]]
name = "lab"
owner = "lab"
initial = "24B"
growth = { start = { dist = "pert", low = 0.6, mode = 1.0, high = 1.5 }, end = 0.15, half_life = 2.5 }
volatility = 0.3
jumps = { rate = 0.2, size = { dist = "uniform", low = -0.5, high = -0.1 } }
[compute]
stream = "lab"
cost_ratio = { start = 1.4, end = { dist = "uniform", low = 0.4, high = 0.7 }, half_life = 3 }
[[compute.providers]]
name = "cloud"
owner = "cloud"
margin = 0.4
share = 1
[valuation]
company = "lab"
stream = "lab"
multiple = { start = 30, end = { dist = "triangular", low = 8, mode = 15, high = 30 }, half_life = 3 }
[[events]]
name = "ipo"
annual_rate = 0.4
[[deals]]
name = "capped"
equity = { cloud = 0.27 }
[[deals.revenue_shares]]
name = "share"
payer = "lab"
payee = "cloud"
stream = "lab"
rate = 0.2
through = "2030"
cap = { dist = "pert", low = "30B", mode = "38B", high = "50B" }
[[deals.commitments]]
name = "commit"
buyer = "lab"
provider = "cloud"
total = "250B"
years = { dist = "discrete", values = [4, 5, 6], weights = [1, 2, 1] }
[[deals]]
name = "uncapped"
extends = "capped"
[[deals.revenue_shares]]
name = "share"
cap = "none"
"#;

fn scenario() -> Scenario {
    parse_scenario("properties.toml", SCENARIO, &[]).unwrap_or_else(|e| panic!("{e}"))
}

fn run(scenario: &Scenario, paths: u64, threads: usize) -> Aggregates {
    engine::run(
        scenario,
        RunOptions { paths, seed: 99, threads, baseline: 0, target_relative_se: None, shard: None },
        &|_| {},
    )
    .unwrap()
}

fn run_shard(scenario: &Scenario, paths: u64, index: u64, count: u64) -> Aggregates {
    let shard = Some(Shard { index, count });
    let options = RunOptions { paths, seed: 99, threads: 0, baseline: 0, target_relative_se: None, shard };
    engine::run(scenario, options, &|_| {}).unwrap()
}

#[test]
fn shards_merge_to_the_same_bits_as_one_run() {
    let scenario = scenario();
    // Three chunks, the last one partial, its last block partial too.
    let paths = 2 * engine::BLOCK_PATHS * engine::CHUNK_BLOCKS + 3_001;
    let csvs = |aggregates: &Aggregates| {
        (
            csv_bytes(&summary_rows(&scenario, aggregates)).unwrap(),
            csv_bytes(&timeseries_rows(&scenario, aggregates)).unwrap(),
        )
    };
    let whole = run(&scenario, paths, 0);
    // Five shards of three chunks leave two shards empty; the merge takes shards in any order.
    for count in [2, 5] {
        let shards: Vec<Aggregates> = (0..count).rev().map(|index| run_shard(&scenario, paths, index, count)).collect();
        assert_eq!(shards.iter().map(|shard| shard.paths).sum::<u64>(), paths);
        let merged = engine::merge_shards(shards, paths).unwrap();
        assert_eq!(merged.paths, paths);
        assert!(merged.moments == whole.moments, "{count} shards: moments differ from one run");
        assert!(csvs(&merged) == csvs(&whole), "{count} shards: the CSVs differ from one run");
        // The merge's running means end on the run's means, at chunk ends.
        let last = merged.convergence.last().unwrap();
        assert_eq!((last.paths, &last.metrics[..]), (paths, &whole.moments[..whole.layout.metrics.len()]));
        let chunk = engine::BLOCK_PATHS * engine::CHUNK_BLOCKS;
        assert!(merged.convergence.iter().all(|point| point.paths % chunk == 0 || point.paths == paths));
    }
}

/// The convergence points: a running mean per metric after a growing number of paths, spaced
/// evenly on a log scale, each exactly the moments of the paths run so far (so the last is the
/// run's), whatever the thread count.
#[test]
fn running_means_are_the_moments_of_the_paths_run_so_far() {
    let scenario = scenario();
    let paths = 30_000;
    let whole = run(&scenario, paths, 2);
    let metrics = whole.layout.metrics.len();
    let points = &whole.convergence;
    assert!(points.len() >= 5, "{}", points.len());
    assert_eq!(points.last().unwrap().paths, paths);
    assert!(points.last().unwrap().metrics == whole.moments[..metrics]);
    for pair in points.windows(2) {
        assert!(pair[1].paths as f64 >= pair[0].paths as f64 * engine::CONVERGENCE_STEP || pair[1].paths == paths);
    }
    // A point after k paths holds the moments of a run of k paths.
    let wave = points[1].paths;
    let shorter = run(&scenario, wave, 1);
    assert!(points[1].metrics == shorter.moments[..metrics], "the running moments after {wave} paths");
    assert!(run(&scenario, paths, 1).convergence == whole.convergence);
}

#[test]
fn shards_that_leave_a_gap_or_overlap_do_not_merge() {
    let scenario = scenario();
    let paths = 2 * engine::BLOCK_PATHS * engine::CHUNK_BLOCKS;
    let first = || run_shard(&scenario, paths, 0, 2);
    let second = || run_shard(&scenario, paths, 1, 2);
    let merge = |shards| engine::merge_shards(shards, paths);
    assert_eq!(merge(vec![second()]).unwrap_err(), MergeError::Missing { missing_from: 0, missing_to: 1 });
    assert_eq!(merge(vec![first()]).unwrap_err(), MergeError::Missing { missing_from: 1, missing_to: 2 });
    assert_eq!(merge(vec![first(), first(), second()]).unwrap_err(), MergeError::Overlap { from: 0, to: 1 });
    assert_eq!(merge(vec![]).unwrap_err(), MergeError::Empty);
    assert_eq!(merge(vec![first(), second()]).unwrap().paths, paths);
}

#[test]
fn results_are_identical_on_one_and_many_threads() {
    let scenario = scenario();
    // An odd path count leaves a partial last block; 274 blocks make several waves, chunks and,
    // with 3 or more threads, batches of several waves. One thread runs more blocks than its
    // 16-bit local sketches take before they are added into the kept ones.
    let paths = 70_003;
    let outputs = |aggregates: &Aggregates| {
        (
            csv_bytes(&summary_rows(&scenario, aggregates)).unwrap(),
            csv_bytes(&timeseries_rows(&scenario, aggregates)).unwrap(),
            aggregates.convergence.clone(),
        )
    };
    let single = outputs(&run(&scenario, paths, 1));
    for threads in [2, 3, 8] {
        assert!(outputs(&run(&scenario, paths, threads)) == single, "{threads} threads differ from 1");
    }
}

#[test]
fn different_seeds_give_different_results() {
    let scenario = scenario();
    let a = engine::run(
        &scenario,
        RunOptions { paths: 2_000, seed: 1, threads: 0, baseline: 0, target_relative_se: None, shard: None },
        &|_| {},
    )
    .unwrap();
    let b = engine::run(
        &scenario,
        RunOptions { paths: 2_000, seed: 2, threads: 0, baseline: 0, target_relative_se: None, shard: None },
        &|_| {},
    )
    .unwrap();
    assert_ne!(a.moments[0].mean(), b.moments[0].mean());
}

/// Reads one metric of one path from the world and the deals' outcomes.
type Pick = dyn Fn(&WorldPath, &[DealOutcome]) -> f64;

/// Recomputes every path's values directly, outside the engine's aggregation.
fn exact_values(scenario: &Scenario, paths: u64, pick: impl Fn(&WorldPath, &[DealOutcome]) -> f64) -> Vec<f64> {
    let model = PathModel::new(scenario);
    let mut state = model.state();
    let copula = Copula::of(scenario);
    let mut scratch = DrawScratch::new(scenario);
    let mut draws = vec![0.0; draws_per_path(scenario)];
    let mut values: Vec<f64> = (0..paths)
        .map(|path| {
            sample_block_inputs(scenario, copula.as_ref(), 99, path..path + 1, &mut draws, &mut scratch);
            model.sample(99, path, &mut draws, &mut state);
            model.apply_all(&mut state);
            pick(&state.worlds[0], &state.outcomes)
        })
        .collect();
    values.sort_by(f64::total_cmp);
    values
}

#[test]
fn percentiles_are_within_half_a_percent_of_an_exact_sort() {
    let scenario = scenario();
    let paths = 40_000;
    let aggregates = run(&scenario, paths, 0);
    let rows = summary_rows(&scenario, &aggregates);
    let periods = scenario.grid().periods();
    let checks: [(&str, &str, Box<Pick>); 4] = [
        ("capped", "stream.lab.run_rate_final", Box::new(move |w, _| w.run_rate[periods - 1])),
        ("capped", "party.lab.npv", Box::new(|_, o| o[0].state.parties[0].npv)),
        ("uncapped", "party.cloud.npv", Box::new(|_, o| o[1].state.parties[1].npv)),
        (
            "capped",
            "commitment.commit.shortfall",
            Box::new(|_, o| match &o[0].terms[1] {
                TermOutcome::Commitment(commitment) => commitment.shortfall,
                other => panic!("the second term is the commitment, found {other:?}"),
            }),
        ),
    ];
    for (deal, metric, pick) in checks {
        let exact = exact_values(&scenario, paths, pick);
        let row = rows.iter().find(|r| r.deal == deal && r.metric == metric).unwrap();
        let estimates = [row.p05, row.p25, row.p50, row.p75, row.p95];
        for (q, estimate) in PERCENTILES.iter().zip(estimates) {
            let truth = exact_quantile(&exact, *q).unwrap();
            let estimate = estimate.unwrap();
            assert!(
                (estimate - truth).abs() <= SKETCH_RELATIVE_ACCURACY * truth.abs(),
                "{deal} {metric} P{q}: sketch {estimate} vs exact {truth}"
            );
        }
        assert_eq!((row.min, row.max), (exact.first().copied(), exact.last().copied()));
        let mean = exact.iter().sum::<f64>() / exact.len() as f64;
        assert!((row.mean.unwrap() - mean).abs() <= 1e-9 * mean.abs());
    }
    const { assert!(SKETCH_RELATIVE_ACCURACY <= 0.005, "the documented bound is within the 0.5% target") };
}

#[test]
fn paired_differences_have_far_smaller_errors_than_unpaired_ones() {
    let scenario = scenario();
    let aggregates = run(&scenario, 20_000, 0);
    let rows = dealsim::report::comparison_rows(&scenario, &aggregates);
    let npv = rows.iter().find(|r| r.metric == "party.cloud.npv").expect("party NPVs are compared");
    assert_eq!((npv.deal.as_str(), npv.baseline.as_str()), ("uncapped", "capped"));
    let (paired, unpaired) = (npv.std_error.unwrap(), npv.unpaired_std_error.unwrap());
    assert!(paired < 0.5 * unpaired, "paired s.e. {paired} vs unpaired {unpaired}");
    // Lifting the cap only ever adds payments to the cloud.
    let paid = rows.iter().find(|r| r.metric == "revenue_share.share.paid").unwrap();
    assert!(paid.p05.unwrap() >= 0.0 && paid.mean_difference.unwrap() > 0.0);
    // Terms the deals share give a difference of exactly zero on every path.
    let spend = rows.iter().find(|r| r.metric == "commitment.commit.spend").unwrap();
    assert_eq!((spend.mean_difference, spend.std_error, spend.prob_positive), (Some(0.0), Some(0.0), Some(0.0)));
    // The paired mean is the difference of the two deals' means.
    let summary = summary_rows(&scenario, &aggregates);
    let mean =
        |deal: &str| summary.iter().find(|r| r.deal == deal && r.metric == "party.cloud.npv").unwrap().mean.unwrap();
    let expected = mean("uncapped") - mean("capped");
    assert!((npv.mean_difference.unwrap() - expected).abs() <= 1e-9 * expected.abs());
}

#[test]
fn year_percentiles_resolve_quarters() {
    let scenario = scenario();
    let paths = 20_000;
    let rows = summary_rows(&scenario, &run(&scenario, paths, 0));
    let row = rows.iter().find(|r| r.deal == "capped" && r.metric == "revenue_share.share.cap_hit_year").unwrap();
    let mut years = exact_values(&scenario, paths, |_, o| match &o[0].terms[0] {
        TermOutcome::RevenueShare(share) => share.cap_hit_year.unwrap_or(f64::NAN),
        other => panic!("the first term is the revenue share, found {other:?}"),
    });
    years.retain(|y| !y.is_nan());
    assert_eq!(row.count, years.len() as u64);
    let start = f64::from(scenario.grid().start_year);
    for (q, estimate) in PERCENTILES.iter().zip([row.p05, row.p25, row.p50, row.p75, row.p95]) {
        let truth = exact_quantile(&years, *q).unwrap();
        // The sketch's relative error applies to the years since the start: well under a quarter.
        let estimate = estimate.unwrap();
        assert!((estimate - truth).abs() <= SKETCH_RELATIVE_ACCURACY * (truth - start), "P{q}: {estimate} vs {truth}");
        assert!((estimate - truth).abs() < 0.05, "P{q}: {estimate} vs {truth}");
    }
    assert!(row.p95.unwrap() - row.p05.unwrap() >= 0.25, "the cap binds in different quarters on different paths");
}

fn converge(scenario: &Scenario, target: f64, cap: u64, threads: usize) -> Aggregates {
    let options =
        RunOptions { paths: cap, seed: 99, threads, baseline: 0, target_relative_se: Some(target), shard: None };
    engine::run(scenario, options, &|_| {}).unwrap()
}

#[test]
fn convergence_stops_once_every_mean_is_precise_enough() {
    let scenario = scenario();
    let aggregates = converge(&scenario, 0.02, 1_000_000, 0);
    assert_eq!(aggregates.stop, engine::Stop::Converged { relative_se: 0.02 });
    assert!(aggregates.paths < 1_000_000 && aggregates.paths >= engine::MIN_PATHS_BEFORE_STOPPING);
    for row in summary_rows(&scenario, &aggregates) {
        let (Some(mean), Some(se)) = (row.mean, row.std_error) else { continue };
        // Year metrics are judged on years since the start, as they are stored.
        let magnitude = if row.metric.ends_with("year") { mean - 2026.0 } else { mean };
        assert!(se <= 0.02 * magnitude.abs(), "{} {}: s.e. {se} for mean {mean}", row.deal, row.metric);
    }
    // Where it stops depends on the seed and the target, not on the thread count.
    let single = converge(&scenario, 0.02, 1_000_000, 1);
    assert_eq!(single.paths, aggregates.paths);
    assert!(single.moments == aggregates.moments);
}

#[test]
fn convergence_reports_the_cap_when_the_target_is_out_of_reach() {
    let scenario = scenario();
    let aggregates = converge(&scenario, 1e-6, 20_000, 0);
    assert_eq!(aggregates.paths, 20_000);
    match aggregates.stop {
        engine::Stop::PathCap { relative_se, worst_relative_se, .. } => {
            assert_eq!(relative_se, 1e-6);
            assert!(worst_relative_se > 1e-6);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn changing_a_deal_term_never_moves_the_world() {
    let base = scenario();
    let overrides = [dealsim::scenario::Override::parse("deals.capped.revenue_shares.share.cap=45B").unwrap()];
    let changed = parse_scenario("properties.toml", SCENARIO, &overrides).unwrap();
    let world_rows = |scenario: &Scenario| {
        summary_rows(scenario, &run(scenario, 3_000, 0))
            .into_iter()
            .filter(|r| r.deal == "capped" && (r.metric.starts_with("stream.") || r.metric.starts_with("event.")))
            .collect::<Vec<_>>()
    };
    let (before, after) = (world_rows(&base), world_rows(&changed));
    assert!(!before.is_empty() && before == after, "the world moved when a deal term changed");
}
