//! Variants keep common random numbers: a `--set`, a changed distribution, a deal variant or a
//! narrower revenue-share base moves only the draws it changes, checked path by path.

use std::path::{Path, PathBuf};

use dealsim::engine::{self, DrawScratch, PathBatch, PathSink, RunOptions, draws_per_path, sample_block_inputs};
use dealsim::io::scenario_file::read_scenario;
use dealsim::sampling::correlation::Copula;
use dealsim::scenario::{Override, Scenario, parse_scenario_file};
use proptest::prelude::*;

fn shipped(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(name)
}

fn base_with(overrides: &[Override]) -> Scenario {
    read_scenario(&shipped("base.toml"), overrides).unwrap_or_else(|e| panic!("{e}")).scenario
}

/// Each input's draws on paths `0..paths`, by key.
fn input_columns(scenario: &Scenario, paths: u64) -> Vec<(String, Vec<f64>)> {
    let width = draws_per_path(scenario);
    let mut draws = vec![0.0; paths as usize * width];
    let copula = Copula::of(scenario);
    sample_block_inputs(scenario, copula.as_ref(), 7, 0..paths, &mut draws, &mut DrawScratch::new(scenario));
    scenario
        .inputs
        .iter()
        .enumerate()
        .map(|(i, input)| (input.key.clone(), draws.iter().skip(i).step_by(width).copied().collect()))
        .collect()
}

/// Every path's metrics, `metrics[path][slot]`, with the layout's metric names.
struct Paths {
    names: Vec<(Option<String>, String)>,
    metrics: Vec<Vec<f64>>,
}

impl PathSink for Paths {
    fn record(&mut self, batch: &PathBatch<'_>) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let width = self.names.len();
        self.metrics.extend(batch.metrics.chunks(width).map(<[f64]>::to_vec));
        Ok(())
    }
}

impl Paths {
    fn of(scenario: &Scenario, paths: u64) -> Paths {
        let layout = engine::metrics::Layout::of(scenario, 0);
        let names = layout
            .metrics
            .iter()
            .map(|m| {
                let deal = match m.scope {
                    engine::metrics::Scope::Deal(d) => Some(scenario.deals[d].name.clone()),
                    engine::metrics::Scope::World => None,
                };
                (deal, m.name.clone())
            })
            .collect();
        let mut sink = Paths { names, metrics: Vec::new() };
        let options = RunOptions { paths, seed: 5, threads: 0, baseline: 0, target_relative_se: None, shard: None };
        engine::run_recording(scenario, options, &|_| {}, &mut sink).unwrap();
        sink
    }

    fn column(&self, deal: &str, metric: &str) -> Vec<f64> {
        let slot = self
            .names
            .iter()
            .position(|(d, m)| d.as_deref() == Some(deal) && m == metric)
            .unwrap_or_else(|| panic!("{deal}:{metric}"));
        self.metrics.iter().map(|row| row[slot]).collect()
    }
}

/// A cap-hit year that never comes counts as later than any year.
fn year_or_never(year: f64) -> f64 {
    if year.is_nan() { f64::INFINITY } else { year }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// A `--set` of one input moves that input's column and no other.
    #[test]
    fn a_set_of_one_input_moves_no_other_input(index in 0usize..24, quantile in 0.01f64..0.99) {
        let base = base_with(&[]);
        let input = &base.inputs[index % base.inputs.len()];
        let value = input.distribution.quantile(quantile);
        let pinned = base_with(&[Override { key: input.key.clone(), value: format!("{value}") }]);
        let (before, after) = (input_columns(&base, 400), input_columns(&pinned, 400));
        prop_assert_eq!(after.len(), before.len() - 1);
        for (key, column) in after {
            let original = &before.iter().find(|(k, _)| *k == key).expect("the same inputs but the pinned one").1;
            prop_assert!(&column == original, "{} moved when {} was set", key, input.key);
        }
    }

    /// A distribution's new parameters keep every path's rank of that input.
    #[test]
    fn new_parameters_keep_every_paths_rank(low in 0.0f64..0.5, width in 0.2f64..2.0, mode in 0.0f64..1.0) {
        let key = "streams.openai.growth.start";
        let (high, mode) = (low + width, low + mode * width);
        let changed = format!("{{ dist = \"pert\", low = {low}, mode = {mode}, high = {high} }}");
        let draws = |scenario: &Scenario| {
            input_columns(scenario, 300).into_iter().find(|(k, _)| k == key).unwrap().1
        };
        let (a, b) = (draws(&base_with(&[])), draws(&base_with(&[Override { key: key.into(), value: changed }])));
        for i in 0..a.len() {
            for j in 0..i {
                prop_assert_eq!(a[i] < a[j], b[i] < b[j], "paths {} and {} swap ranks", i, j);
            }
        }
    }
}

#[test]
fn a_variant_that_changes_only_the_rate_pays_no_more_and_hits_the_cap_no_sooner() {
    let variant = r#"
[scenario]
extends = "base.toml"
[[deals]]
name = "rate-15"
extends = "apr-2026"
[[deals.revenue_shares]]
name = "openai-to-microsoft"
rate = "15%"
"#;
    let origin = shipped("rate-15.toml").display().to_string();
    let read = |file: &str| std::fs::read_to_string(file).map_err(|e| e.to_string());
    let scenario = parse_scenario_file(&origin, variant, &[], &read).unwrap_or_else(|e| panic!("{e}"));
    // The variant adds no input: its cap, paid_before and everything else are apr-2026's.
    let base = base_with(&[]);
    let keys = |s: &Scenario| s.inputs.iter().map(|i| i.key.clone()).collect::<Vec<_>>();
    assert_eq!(keys(&scenario), keys(&base));
    let paths = Paths::of(&scenario, 3_000);
    let share = "revenue_share.openai-to-microsoft";
    let (paid, paid_15) =
        (paths.column("apr-2026", &format!("{share}.paid")), paths.column("rate-15", &format!("{share}.paid")));
    let year = |deal| paths.column(deal, &format!("{share}.cap_hit_year"));
    let (hit, hit_15) = (year("apr-2026"), year("rate-15"));
    let mut lower = 0;
    for path in 0..paid.len() {
        assert!(paid_15[path] <= paid[path], "path {path}: {} > {}", paid_15[path], paid[path]);
        assert!(year_or_never(hit_15[path]) >= year_or_never(hit[path]), "path {path} hits the cap sooner");
        lower += usize::from(paid_15[path] < paid[path]);
    }
    assert!(lower > 0, "the rate matters on some paths");
}

#[test]
fn the_ex_frontier_variant_never_pays_more_than_apr_2026() {
    let scenario = read_scenario(&shipped("deal-structures.toml"), &[]).unwrap_or_else(|e| panic!("{e}")).scenario;
    let paths = Paths::of(&scenario, 3_000);
    let metric = "revenue_share.openai-to-microsoft.paid";
    let (all, ex) = (paths.column("apr-2026", metric), paths.column("apr-2026-ex-frontier", metric));
    for path in 0..all.len() {
        assert!(ex[path] <= all[path], "path {path}: ex-Frontier pays {} > {}", ex[path], all[path]);
    }
    let microsoft = |deal| paths.column(deal, "party.microsoft.npv");
    let (npv, npv_ex) = (microsoft("apr-2026"), microsoft("apr-2026-ex-frontier"));
    assert!((0..npv.len()).all(|path| npv_ex[path] <= npv[path]), "Microsoft never gains from a narrower base");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6))]

    /// Two files whose worlds differ, side by side (`compare`): on every path, each file's deal
    /// gets exactly the metrics a run of its own file gives, so the pair differs by the worlds
    /// alone.
    #[test]
    fn each_world_of_a_comparison_is_the_world_its_file_runs_alone(volatility in 0.05f64..0.9, multiple in 5.0f64..40.0) {
        let first = base_with(&[]);
        let second = base_with(&[
            Override { key: "streams.openai.volatility".into(), value: format!("{volatility}") },
            Override { key: "valuation.multiple.end".into(), value: format!("{multiple}") },
        ]);
        let paired = dealsim::scenario::pair(&first, &second, "test", "first", "second").unwrap();
        prop_assert_eq!(paired.other_worlds.len(), 1);
        let (both, alone, other) = (Paths::of(&paired, 300), Paths::of(&first, 300), Paths::of(&second, 300));
        for metric in ["party.openai.npv", "party.microsoft.npv", "stream.openai.revenue", "commitment.azure-250b.shortfall"] {
            let bits = |column: Vec<f64>| column.into_iter().map(f64::to_bits).collect::<Vec<u64>>();
            let world = |paths: &Paths, deal: &str| match paths.names.iter().any(|(d, m)| d.is_none() && m == metric) {
                true => paths.metrics.iter().map(|row| row[paths.names.iter().position(|(d, m)| d.is_none() && m == metric).unwrap()]).collect(),
                false => paths.column(deal, metric),
            };
            prop_assert_eq!(bits(both.column("apr-2026", metric)), bits(world(&alone, "apr-2026")), "{}", metric);
            prop_assert_eq!(bits(both.column("second/apr-2026", metric)), bits(world(&other, "apr-2026")), "{}", metric);
        }
    }
}

/// A compared file's world keeps every value it was written with: its drawn values point at the
/// combined scenario's inputs of the same distribution.
#[test]
fn a_compared_files_world_is_described_as_its_file_describes_it() {
    let load = |name: &str| read_scenario(&shipped(name), &[]).unwrap_or_else(|e| panic!("{e}")).scenario;
    let (first, second) = (load("growth-q1-2025.toml"), load("growth-q1-2026.toml"));
    let paired = dealsim::scenario::pair(&first, &second, "test", "q1-2025", "q1-2026").unwrap();
    let worlds: Vec<&Scenario> = paired.worlds().collect();
    assert_eq!(worlds.len(), 2);
    assert_eq!(dealsim::scenario::world_values(worlds[0]), dealsim::scenario::world_values(&first));
    assert_eq!(dealsim::scenario::world_values(worlds[1]), dealsim::scenario::world_values(&second));
    // One key, two distributions: the second file's input is named apart.
    assert!(paired.inputs.iter().any(|input| input.key == "q1-2026/streams.openai.growth.schedule.2027"));
    assert_eq!(paired.world_of(0), 0);
    assert_eq!(paired.world_of(1), 1);
}
