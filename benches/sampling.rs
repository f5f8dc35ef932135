//! The cost of drawing uncertain inputs: one quantile per draw (PERT through the tabulated beta
//! quantile, lognormal through the normal quantile), and every input of a base path.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dealsim::engine::{DrawScratch, draws_per_path, sample_block_inputs};
use dealsim::sampling::correlation::Copula;
use dealsim::sampling::distribution::Distribution;
use dealsim::sampling::random::{Identity, unit};
use dealsim::scenario::parse_scenario;

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

fn base_inputs(c: &mut Criterion) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/base.toml");
    let source = std::fs::read_to_string(path).expect("scenarios/base.toml ships with the crate");
    let scenario = parse_scenario(path, &source, &[]).expect("the base scenario is valid");
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

criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = quantile_draws, base_inputs
}
criterion_main!(benches);
