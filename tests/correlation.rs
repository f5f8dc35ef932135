//! Rank correlations imposed on uncertain inputs by the Gaussian copula: achieved within ±0.02
//! of the request at 100k paths, every marginal exactly the scenario's, and no draw outside a
//! correlation group moved by it. A block of paths draws each path exactly as that path alone does.

use dealsim::analysis::sensitivity::spearman;
use dealsim::engine::{DrawScratch, draws_per_path, sample_block_inputs};
use dealsim::io::scenario_file::read_scenario;
use dealsim::sampling::correlation::Copula;
use dealsim::scenario::{Override, Scenario, parse_scenario};

const SCENARIO: &str = r#"
[simulation]
start = 2026
years = 2
steps_per_year = 4
discount_rate = 0.1
[parties.lab]
[[streams]]
name = "lab"
owner = "lab"
initial = { dist = "lognormal", mean = "24B", sd = "6B" }
growth = { dist = "pert", low = 0.3, mode = 0.7, high = 1.3 }
volatility = { dist = "uniform", low = 0.1, high = 0.4 }
[[correlations]]
between = ["streams.lab.initial", "streams.lab.growth"]
rank = 0.7
[[correlations]]
between = ["streams.lab.growth", "streams.lab.volatility"]
rank = -0.4
[[deals]]
name = "none"
"#;

fn scenario(source: &str) -> Scenario {
    parse_scenario("correlated.toml", source, &[]).unwrap_or_else(|e| panic!("{e}"))
}

/// Every path's input draws (and coins), `draws[path * draws_per_path + input]`.
fn draws(scenario: &Scenario, paths: u64, correlated: bool) -> Vec<f64> {
    let copula = if correlated { Copula::of(scenario) } else { None };
    let mut all = vec![0.0; paths as usize * draws_per_path(scenario)];
    sample_block_inputs(scenario, copula.as_ref(), 5, 0..paths, &mut all, &mut DrawScratch::new(scenario));
    all
}

fn column(scenario: &Scenario, draws: &[f64], input: usize) -> Vec<f64> {
    draws.iter().skip(input).step_by(draws_per_path(scenario)).copied().collect()
}

fn input(scenario: &Scenario, key: &str) -> usize {
    scenario.inputs.iter().position(|input| input.key == key).unwrap()
}

#[test]
fn achieved_rank_correlations_match_the_request() {
    let scenario = scenario(SCENARIO);
    let paths = 100_000;
    let correlated = draws(&scenario, paths, true);
    let [initial, growth, volatility] = [0, 1, 2].map(|i| column(&scenario, &correlated, i));
    for (a, b, requested) in [(&initial, &growth, 0.7), (&growth, &volatility, -0.4)] {
        let achieved = spearman(a, b);
        assert!((achieved - requested).abs() <= 0.02, "requested {requested}, achieved {achieved}");
    }
    // A pair not listed is uncorrelated: its entry of the matrix is 0.
    let unlisted = spearman(&initial, &volatility);
    assert!(unlisted.abs() <= 0.02, "{unlisted}");
}

#[test]
fn marginals_are_exactly_the_scenarios() {
    let scenario = scenario(SCENARIO);
    let paths = 20_000;
    let correlated = draws(&scenario, paths, true);
    for input in 0..scenario.inputs.len() {
        let draws = column(&scenario, &correlated, input);
        // The share below each closed-form quantile is within 4 standard errors of p.
        let distribution = &scenario.inputs[input].distribution;
        for p in [0.05, 0.25, 0.5, 0.75, 0.95] {
            let quantile = distribution.quantile(p);
            let below = draws.iter().filter(|&&x| x < quantile).count() as f64 / draws.len() as f64;
            let se = (p * (1.0 - p) / draws.len() as f64).sqrt();
            assert!((below - p).abs() < 4.0 * se, "input {input}: {below} below its P{p}");
        }
    }
}

#[test]
fn a_perfect_rank_correlation_moves_inputs_in_lockstep_on_every_path() {
    let source = SCENARIO.replace("rank = 0.7", "rank = 1.0").replace("rank = -0.4", "rank = 0.0");
    let scenario = scenario(&source);
    let correlated = draws(&scenario, 10_000, true);
    let overall = spearman(&column(&scenario, &correlated, 0), &column(&scenario, &correlated, 1));
    // Exactly 1 but for the last bits of Φ(Φ⁻¹(u)), which may swap two draws a few ulps apart.
    assert!(overall > 1.0 - 1e-9, "{overall}");
}

#[test]
fn inputs_outside_a_correlation_group_keep_every_draw() {
    // A fourth input, uncorrelated: adding the correlations moves none of its draws, and adding
    // it moves none of the correlated inputs' draws.
    let with_jumps = SCENARIO.replacen(
        "[[correlations]]",
        "jumps = { rate = { dist = \"uniform\", low = 0.0, high = 0.2 }, size = -0.2 }\n[[correlations]]",
        1,
    );
    let (with, without) = (scenario(&with_jumps), scenario(SCENARIO));
    let paths = 2_000;
    let (a, b) = (draws(&with, paths, true), draws(&without, paths, true));
    for key in ["streams.lab.initial", "streams.lab.growth", "streams.lab.volatility"] {
        assert_eq!(column(&with, &a, input(&with, key)), column(&without, &b, input(&without, key)), "{key}");
    }
    let rate = input(&with, "streams.lab.jumps.rate");
    assert_eq!(column(&with, &a, rate), column(&with, &draws(&with, paths, false), rate));
}

#[test]
fn pinning_a_correlated_input_keeps_its_partners_draws() {
    let base = scenario(SCENARIO);
    let set = Override::parse("streams.lab.growth=0.7").unwrap();
    let pinned = parse_scenario("correlated.toml", SCENARIO, &[set]).unwrap();
    let paths = 2_000;
    let (a, b) = (draws(&base, paths, true), draws(&pinned, paths, true));
    for key in ["streams.lab.initial", "streams.lab.volatility"] {
        assert_eq!(column(&base, &a, input(&base, key)), column(&pinned, &b, input(&pinned, key)), "{key}");
    }
}

#[test]
fn a_block_draws_each_path_exactly_as_that_path_alone_draws_it() {
    let path = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/deal-structures.toml"));
    let scenario = read_scenario(path, &[]).unwrap_or_else(|e| panic!("{e}")).scenario;
    let copula = Copula::of(&scenario);
    assert!(copula.is_some() && !scenario.coins.is_empty(), "the check needs correlations and coins");
    let (width, first, paths) = (draws_per_path(&scenario), 1_000, 300);
    let mut block = vec![0.0; paths as usize * width];
    let mut scratch = DrawScratch::new(&scenario);
    sample_block_inputs(&scenario, copula.as_ref(), 7, first..first + paths, &mut block, &mut scratch);
    let mut alone = vec![0.0; width];
    for (path, row) in (first..).zip(block.chunks_exact(width)) {
        sample_block_inputs(&scenario, copula.as_ref(), 7, path..path + 1, &mut alone, &mut scratch);
        assert_eq!(row, alone.as_slice(), "path {path}");
    }
}
