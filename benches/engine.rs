//! Engine throughput on the base scenario, in paths per second.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dealsim::engine::{self, RunOptions};
use dealsim::scenario::parse_scenario;

fn base_scenario(c: &mut Criterion) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/base.toml");
    let source = std::fs::read_to_string(path).expect("scenarios/base.toml ships with the crate");
    let scenario = parse_scenario(path, &source, &[]).expect("the base scenario is valid");
    let paths = 50_000;
    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(paths));
    group.sample_size(10);
    for threads in [1, 2] {
        group.bench_function(format!("base/{threads}-threads"), |b| {
            b.iter(|| {
                engine::run(
                    black_box(&scenario),
                    RunOptions { paths, seed: 1, threads, baseline: 0, target_relative_se: None, shard: None },
                    &|_| {},
                )
                .unwrap()
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // Criterion's own charts look up system fonts, which a bare machine lacks; the figures are
    // what matter, and they are printed and saved without charts.
    config = Criterion::default().without_plots();
    targets = base_scenario
}
criterion_main!(benches);
