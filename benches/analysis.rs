//! The analyses an analyst waits for on base.toml: the tornado (every input pinned at P10 and
//! P90 on the same paths) and one `solve` evaluation (a target's mean difference, metric-only).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dealsim::analysis::sensitivity::{SensitivityOptions, tornado};
use dealsim::analysis::solve::{EvaluateOptions, Target};
use dealsim::engine::means::DrawCache;
use dealsim::scenario::{Scenario, parse_scenario};

fn base() -> Scenario {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/base.toml");
    let source = std::fs::read_to_string(path).expect("scenarios/base.toml ships with the crate");
    parse_scenario(path, &source, &[]).expect("the base scenario is valid")
}

/// Paths per second of the tornado's pinned evaluations: each path is evaluated once as drawn and
/// twice more per uncertain input.
fn sensitivity(c: &mut Criterion) {
    let scenario = base();
    let paths = 2_000;
    let mut group = c.benchmark_group("tornado");
    group.throughput(Throughput::Elements(paths * (1 + 2 * scenario.inputs.len() as u64)));
    group.sample_size(10);
    group.bench_function("base/1-thread", |b| {
        let options = SensitivityOptions { paths, seed: 1, threads: 1, targets: Vec::new(), baseline: 0 };
        b.iter(|| tornado(black_box(&scenario), &options).unwrap())
    });
    group.finish();
}

/// One bisection step of `solve` on base: the mean of Microsoft's NPV minus a value, metric-only.
fn solve_step(c: &mut Criterion) {
    let scenario = base();
    let paths = 20_000;
    let target = Target::parse("apr-2026:party.microsoft.npv = 1T").unwrap();
    let mut group = c.benchmark_group("solve");
    group.throughput(Throughput::Elements(paths));
    group.sample_size(10);
    group.bench_function("base/evaluation", |b| {
        b.iter(|| {
            let mut draws = DrawCache::default();
            target.evaluate(black_box(&scenario), &EvaluateOptions { paths, seed: 1 }, &mut draws).unwrap()
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    // Criterion's own charts look up system fonts, which a bare machine lacks.
    config = Criterion::default().without_plots();
    targets = sensitivity, solve_step
}
criterion_main!(benches);
