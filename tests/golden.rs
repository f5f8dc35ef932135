//! Value stability: a small scenario's first draws and its summary.csv at a fixed seed. A change
//! in how or in which order numbers are drawn changes these figures; the commit that changes them
//! says why.

use dealsim::engine::{self, DrawScratch, RunOptions, draws_per_path, sample_block_inputs};
use dealsim::report::{csv_bytes, summary_rows};
use dealsim::sampling::correlation::Copula;
use dealsim::scenario::parse_scenario;
use sha2::{Digest, Sha256};

const SCENARIO: &str = r#"
[simulation]
start = 2026
years = 3
steps_per_year = 4
seed = 42
discount_rate = 0.1
[parties.lab]
[parties.cloud]
[[streams]]
name = "lab"
owner = "lab"
initial = { dist = "lognormal", mean = "20B", sd = "4B" }
growth = { start = { dist = "pert", low = 0.3, mode = 0.7, high = 1.3 }, end = 0.1, half_life = 2 }
volatility = 0.3
jumps = { rate = 0.2, size = { dist = "uniform", low = -0.4, high = -0.1 } }
[compute]
stream = "lab"
cost_ratio = { dist = "uniform", low = 0.5, high = 1.0 }
[[compute.providers]]
name = "cloud"
owner = "cloud"
margin = 0.3
share = 1.0
[[events]]
name = "ipo"
annual_rate = { dist = "triangular", low = 0.1, mode = 0.4, high = 0.8 }
[[correlations]]
between = ["streams.lab.growth.start", "events.ipo.annual_rate"]
rank = 0.5
[[deals]]
name = "share"
[[deals.revenue_shares]]
name = "lab-to-cloud"
payer = "lab"
payee = "cloud"
stream = "lab"
rate = 0.2
cap = { dist = "pert", low = "3B", mode = "5B", high = "9B" }
"#;

#[test]
fn the_first_draws_are_stable() {
    let scenario = parse_scenario("golden.toml", SCENARIO, &[]).unwrap();
    let keys: Vec<&str> = scenario.inputs.iter().map(|input| input.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "streams.lab.initial",
            "streams.lab.growth.start",
            "compute.cost_ratio",
            "events.ipo.annual_rate",
            "deals.share.revenue_shares.lab-to-cloud.cap"
        ]
    );
    let mut draws = vec![0.0; 3 * draws_per_path(&scenario)];
    sample_block_inputs(
        &scenario,
        Copula::of(&scenario).as_ref(),
        42,
        0..3,
        &mut draws,
        &mut DrawScratch::new(&scenario),
    );
    // Per path: initial, growth start, cost ratio, IPO rate (correlated with growth), cap.
    let expected = [
        [21999947586.34143, 0.7535359856042697, 0.8349606534579107, 0.6528801383718876, 6563323445.68078],
        [18940953323.378067, 0.6116654183785537, 0.929154956513216, 0.4468168954701182, 5416548198.966669],
        [20975261898.5752, 0.9855347055414183, 0.5960052957956209, 0.43302185225958617, 5246043022.427818],
    ];
    assert_eq!(draws, expected.concat());
}

#[test]
fn the_summary_is_stable() {
    let scenario = parse_scenario("golden.toml", SCENARIO, &[]).unwrap();
    let options = RunOptions { paths: 3_000, seed: 42, threads: 2, baseline: 0, target_relative_se: None, shard: None };
    let aggregates = engine::run(&scenario, options, &|_| {}).unwrap();
    let summary = csv_bytes(&summary_rows(&scenario, &aggregates)).unwrap();
    let digest: String = Sha256::digest(&summary).iter().map(|byte| format!("{byte:02x}")).collect();
    assert_eq!(
        digest,
        "f8153f0973f5e53a080245d05971f15234dd6886f2af3ba23fcf1a9d5f1af7e1",
        "summary.csv changed:\n{}",
        String::from_utf8_lossy(&summary)
    );
}
