//! The cost of drawing uncertain inputs: one quantile per draw (PERT through the tabulated beta
//! quantile, lognormal through the normal quantile), every input of a base path, the rest of a
//! base path's world once its inputs are drawn, and the floor of a base path: only the random
//! numbers it draws, with no model around them.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dealsim::engine::{DrawScratch, draws_per_path, sample_block_inputs};
use dealsim::sampling::correlation::Copula;
use dealsim::sampling::distribution::Distribution;
use dealsim::sampling::random::{Identity, generator, unit};
use dealsim::sampling::world::{WorldPath, sample_path};
use dealsim::scenario::{Scenario, parse_scenario};
use rand::RngExt;
use rand_distr::StandardNormal;

const DRAWS: u64 = 4096;

fn quantile_draws(c: &mut Criterion) {
    let identity = Identity::new("bench.input").hash;
    let uniforms: Vec<f64> = (0..DRAWS).map(|path| unit(1, identity, path)).collect();
    let mut group = c.benchmark_group("draw");
    group.throughput(Throughput::Elements(DRAWS));
    let cases = [
        ("pert", Distribution::pert(0.3, 0.7, 1.3).unwrap()),
        ("beta-0.5-0.5", Distribution::beta(0.5, 0.5, 0.0, 1.0).unwrap()),
        ("lognormal", Distribution::lognormal(24e9, 6e9).unwrap()),
        ("truncated-normal", Distribution::normal(0.1, 0.05).unwrap().truncated(Some(0.0), None).unwrap()),
        ("discrete", Distribution::discrete(vec![5.0, 6.0, 7.0, 8.0], vec![0.2, 0.3, 0.3, 0.2]).unwrap()),
    ];
    for (name, distribution) in cases {
        group.bench_function(name, |b| {
            b.iter(|| uniforms.iter().map(|&u| distribution.quantile(black_box(u))).sum::<f64>())
        });
    }
    group.bench_function("keyed-uniform", |b| {
        b.iter(|| (0..DRAWS).map(|path| unit(1, black_box(identity), path)).sum::<f64>())
    });
    group.finish();
}

fn base_scenario() -> Scenario {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/base.toml");
    let source = std::fs::read_to_string(path).expect("scenarios/base.toml ships with the crate");
    parse_scenario(path, &source, &[]).expect("the base scenario is valid")
}

fn base_inputs(c: &mut Criterion) {
    let scenario = base_scenario();
    let copula = Copula::of(&scenario);
    let mut scratch = DrawScratch::new(&scenario);
    let mut draws = vec![0.0; DRAWS as usize * draws_per_path(&scenario)];
    let mut group = c.benchmark_group("inputs");
    group.throughput(Throughput::Elements(DRAWS));
    group.bench_function("base-path", |b| {
        b.iter(|| sample_block_inputs(&scenario, copula.as_ref(), 1, 0..DRAWS, &mut draws, &mut scratch))
    });
    group.finish();
}

/// A base path's world from its drawn inputs and coins: the streams' shocks, jumps and run-rates,
/// the events, the channel and provider splits, the valuation and the parties' flows.
fn base_world(c: &mut Criterion) {
    let scenario = base_scenario();
    let mut draws = vec![0.0; DRAWS as usize * draws_per_path(&scenario)];
    let mut scratch = DrawScratch::new(&scenario);
    sample_block_inputs(&scenario, Copula::of(&scenario).as_ref(), 1, 0..DRAWS, &mut draws, &mut scratch);
    let mut world = WorldPath::new(&scenario);
    let mut group = c.benchmark_group("world");
    group.throughput(Throughput::Elements(DRAWS));
    group.bench_function("base-path", |b| {
        b.iter(|| {
            for (path, row) in (0..DRAWS).zip(draws.chunks_exact(draws_per_path(&scenario))) {
                world.take_draws(row);
                sample_path(&scenario, 1, path, &mut world);
                black_box(&world);
            }
        })
    });
    group.finish();
}

/// The random numbers of base paths and nothing else, drawn as the engine draws them: a keyed
/// uniform for each latent input, coin and event (and an event's outcome), and for each stream and
/// period one normal shock and the uniform of its jump count. Jump sizes, drawn only in the rare
/// periods with a jump, are left out. The speed target of a full run is a multiple of this.
fn random_number_floor(c: &mut Criterion) {
    let scenario = base_scenario();
    let periods = scenario.grid().periods();
    let uniforms: Vec<u64> = (scenario.latents.iter().chain(&scenario.coins))
        .chain(scenario.events.iter().flat_map(|event| {
            std::iter::once(&event.identity).chain((!event.outcomes.is_empty()).then_some(&event.outcome_draw))
        }))
        .map(|identity| identity.hash)
        .collect();
    let mut group = c.benchmark_group("floor");
    group.throughput(Throughput::Elements(DRAWS));
    group.bench_function("base-path", |b| {
        b.iter(|| {
            let mut sum = 0.0;
            for path in 0..DRAWS {
                sum += uniforms.iter().map(|&identity| unit(1, identity, path)).sum::<f64>();
                for stream in &scenario.streams {
                    let mut shocks = generator(1, stream.shocks.hash, path);
                    let mut jump_draws = generator(1, stream.jump_draws.hash, path);
                    for _ in 0..periods {
                        sum += shocks.sample::<f64, _>(StandardNormal) + jump_draws.random::<f64>();
                    }
                }
            }
            sum
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = quantile_draws, base_inputs, base_world, random_number_floor
}
criterion_main!(benches);
