//! Engine throughput on the base scenario, in paths per second, and the quantile sketch's
//! inserts, in values per second.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use dealsim::engine::stats::{LOCAL_SKETCH_VALUES, LocalSketch, QuantileSketch};
use dealsim::engine::{self, RunOptions};
use dealsim::scenario::parse_scenario;
use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

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

/// One block's values of one slot at a time, as the engine inserts them: all positive (revenue,
/// spend), of both signs (cash flows, NPVs), and one value repeated (a term that does not vary);
/// into a worker's 16-bit local sketch, added into a kept one whenever it is full. Then a whole
/// block of base's 719 slots in turn, each with its own scale, so that each slot's counts have
/// left the nearest caches by the time it comes round again; and as many slots of both signs,
/// each sign a coin flip: the worst case of slices of both signs, whose inserts branch on it.
fn sketch_inserts(c: &mut Criterion) {
    let block = 256;
    // A fixed, spread-out sequence: a few octaves of magnitudes, no random number generator.
    let positive: Vec<f64> = (0..block).map(|i| 1e9 * (1.0 + ((i * 7919) % 997) as f64 / 61.0)).collect();
    let mixed: Vec<f64> = positive.iter().enumerate().map(|(i, v)| if i % 3 == 0 { -v } else { *v }).collect();
    let repeated = vec![2.5e9; block];
    let base_sized: Vec<f64> =
        (0..719).flat_map(|slot| positive.iter().map(move |v| v * (1.0 + f64::from(slot) / 64.0))).collect();
    // Signs from a generator: an arithmetic pattern, however scattered it looks, repeats often
    // enough for the branch predictor to learn it, and would hide what a mispredicted sign costs.
    let mut signs = Xoshiro256PlusPlus::seed_from_u64(7);
    let mixed_base_sized: Vec<f64> = base_sized.iter().map(|v| if signs.random::<bool>() { -v } else { *v }).collect();
    let mut group = c.benchmark_group("sketch");
    let cases = [
        ("positive", &positive),
        ("mixed-sign", &mixed),
        ("repeated", &repeated),
        ("positive/base-sized-block", &base_sized),
        ("mixed-sign/base-sized-block", &mixed_base_sized),
    ];
    for (name, columns) in cases {
        let slots = columns.len() / block;
        group.throughput(Throughput::Elements(columns.len() as u64));
        group.bench_function(name, |b| {
            let (mut kept, mut local) = (vec![QuantileSketch::new(); slots], vec![LocalSketch::default(); slots]);
            let mut local_values = 0;
            b.iter(|| {
                if local_values + block as u64 > LOCAL_SKETCH_VALUES {
                    for (kept, local) in kept.iter_mut().zip(&mut local) {
                        kept.take_counts(local);
                    }
                    local_values = 0;
                }
                for (sketch, column) in local.iter_mut().zip(columns.chunks_exact(block)) {
                    sketch.insert_slice(black_box(column));
                }
                local_values += block as u64;
            })
        });
    }
    group.finish();
}

/// What a worker holds the run's sketches locked for, once every 255 blocks: adding its local
/// sketches into them. Sized like base's: 719 slots whose values span 8 octaves above zero and 3
/// below, about a million counts in all.
fn keep_local_sketches(c: &mut Criterion) {
    let slots = 719;
    let octaves = |sign: f64, count: i32| (0..count * 128).map(move |i| sign * 1e6 * 2f64.powf(f64::from(i) / 128.0));
    let values: Vec<f64> = octaves(1.0, 8).chain(octaves(-1.0, 3)).collect();
    let mut filled = LocalSketch::default();
    filled.insert_slice(&values);
    let filled = vec![filled; slots];
    let mut kept = vec![QuantileSketch::new(); slots];
    let mut group = c.benchmark_group("sketch");
    group.throughput(Throughput::Elements((slots * values.len()) as u64));
    group.bench_function("keep-local/base-sized", |b| {
        b.iter_batched_ref(
            || filled.clone(),
            |locals| {
                for (kept, local) in kept.iter_mut().zip(locals.iter_mut()) {
                    kept.take_counts(local);
                }
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group! {
    name = benches;
    // Criterion's own charts look up system fonts, which a bare machine lacks; the figures are
    // what matter, and they are printed and saved without charts.
    config = Criterion::default().without_plots();
    targets = base_scenario, sketch_inserts, keep_local_sketches
}
criterion_main!(benches);
