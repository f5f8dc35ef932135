//! The Monte Carlo runner: paths in parallel blocks, each path from its own random numbers,
//! aggregated in a fixed order so results do not depend on the thread count; the metrics it
//! names and the mergeable statistics it keeps.

pub mod means;
pub mod metrics;
pub mod path;
pub mod stats;

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::{Condvar, Mutex, PoisonError, mpsc};
use std::time::{Duration, Instant};

use crate::engine::metrics::{Layout, RowWriter, emit};
use crate::engine::path::{PathModel, PathState};
use crate::engine::stats::{LOCAL_SKETCH_VALUES, LocalSketch, Moments, QuantileSketch};
use crate::sampling::correlation::Copula;
use crate::sampling::random::unit;
use crate::scenario::Scenario;

/// Paths per block. Blocks are the unit of work and of ordered merging; the size is fixed,
/// never derived from the thread count, so every thread count merges the same blocks.
pub const BLOCK_PATHS: u64 = 256;
/// Blocks in a wave: where a run may stop early, and where progress and the convergence points
/// are taken. Fixed, never derived from the thread count, so that a run stops at the same path
/// whatever the thread count.
const WAVE_BLOCKS: u64 = 16;
/// Blocks whose moments fold into one chunk before the chunk folds into the run's total (16,384
/// paths). Two fixed fold levels let a run be split into shards at chunk boundaries and merged
/// back to the same bits: a shard keeps its chunks' moments, and the merge folds them in order.
pub const CHUNK_BLOCKS: u64 = 64;
/// The most bytes of path-major rows simulated before they are turned slot-major: small enough
/// to stay in a core's L2 cache until they are read back (a whole block's rows would not, and
/// reading them a cache line per path went to memory).
const ROWS_BYTES: usize = 256 << 10;
/// Largest magnitude a metric or series value may have. The summaries square deviations from the
/// mean and add them up over as many as `MAX_PATHS` (1e8) paths: from values within 1e140 that
/// stays below 1e290, well inside f64's 1.8e308, so no mean, standard deviation or standard error
/// can overflow. No amount of a real deal comes near it (a quadrillion dollars is 1e15); a value
/// beyond it means the scenario's numbers ran away on that path.
pub const MAX_MAGNITUDE: f64 = 1e140;

/// How many paths to run, from which seed, on how many threads.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunOptions {
    pub paths: u64,
    pub seed: u64,
    /// Worker threads; 0 uses every core.
    pub threads: usize,
    /// Index of the deal every other deal is compared with.
    pub baseline: usize,
    /// Stop early once every mean is this precise; `paths` is then the cap.
    pub target_relative_se: Option<f64>,
    /// Run only this share of the `paths`, to be merged with the other shards' results.
    pub shard: Option<Shard>,
}

/// Shard `index` (from 0) of `count`: a contiguous range of whole chunks of a run's paths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// The chunks this shard runs out of `chunks` in all; shards beyond the chunk count run none.
    /// In u128, so that no shard count (`--shard K/N` takes any N) overflows the products.
    pub fn chunks(self, chunks: u64) -> Range<u64> {
        let of = |index: u64| (u128::from(chunks) * u128::from(index) / u128::from(self.count.max(1))) as u64;
        of(self.index)..of(self.index + 1)
    }
}

/// The paths of `chunks` in a run of `paths` paths.
pub fn chunk_paths(chunks: &Range<u64>, paths: u64) -> Range<u64> {
    let chunk_paths = CHUNK_BLOCKS * BLOCK_PATHS;
    (chunks.start * chunk_paths).min(paths)..(chunks.end * chunk_paths).min(paths)
}

/// Chunks of a run of `paths` paths.
pub fn chunk_count(paths: u64) -> u64 {
    paths.div_ceil(BLOCK_PATHS * CHUNK_BLOCKS)
}

/// Paths run before a convergence target is first checked, so a lucky few thousand paths
/// cannot stop a run.
pub const MIN_PATHS_BEFORE_STOPPING: u64 = 16_384;

/// Why a run stopped where it did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Stop {
    /// Every path asked for was run.
    PathCount,
    /// Every metric's standard error fell below the target share of its mean's magnitude.
    Converged { relative_se: f64 },
    /// The target was not met within the path cap; the worst metric (by index) is left with
    /// this relative error.
    PathCap { relative_se: f64, worst_metric: usize, worst_relative_se: f64 },
}

/// Mergeable statistics of every slot of the layout, over all paths of a run.
#[derive(Clone, Debug)]
pub struct Aggregates {
    pub layout: Layout,
    pub moments: Vec<Moments>,
    pub sketches: Vec<QuantileSketch>,
    pub paths: u64,
    pub seed: u64,
    pub threads: usize,
    pub elapsed: Duration,
    pub stop: Stop,
    /// The chunks run (every chunk but for a shard).
    pub chunks: Range<u64>,
    /// Each chunk's moments, in chunk order: kept for shards only, whose merge folds them.
    pub chunk_moments: Vec<Vec<Moments>>,
    /// How the metrics' means settled: the running moments of every metric slot after a growing
    /// number of paths, at wave ends spaced by at least [`CONVERGENCE_STEP`] (chunk ends for
    /// merged shards), and after the last path.
    pub convergence: Vec<ConvergencePoint>,
}

/// Running moments of every metric slot (`layout.metrics` order) after the first `paths` paths.
#[derive(Clone, Debug, PartialEq)]
pub struct ConvergencePoint {
    pub paths: u64,
    pub metrics: Vec<Moments>,
}

/// Convergence points are kept where the path count has grown by this factor since the last
/// one: evenly spaced on a log scale, a few dozen whatever the run's size.
pub const CONVERGENCE_STEP: f64 = 1.25;

/// Adds a convergence point after `paths` paths, unless it is within [`CONVERGENCE_STEP`] of the
/// last one and not the run's last.
fn record_convergence(
    points: &mut Vec<ConvergencePoint>,
    paths: u64,
    last: bool,
    total: &[Moments],
    chunk: &[Moments],
) {
    let due = points.last().is_none_or(|point| paths as f64 >= point.paths as f64 * CONVERGENCE_STEP);
    if due || last {
        let mut metrics = total.to_vec();
        merge_into(&mut metrics, chunk);
        points.push(ConvergencePoint { paths, metrics });
    }
}

/// Why shards do not merge into one run.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum MergeError {
    #[error("no shards to merge")]
    Empty,
    #[error("chunks {missing_from}..{missing_to} of the run are in no shard")]
    Missing { missing_from: u64, missing_to: u64 },
    #[error("chunks {from}..{to} are in two shards")]
    Overlap { from: u64, to: u64 },
}

/// Merges the shards of one run of `paths` paths (same scenario, seed and baseline) into the
/// aggregates the run would have had in one go, to the bit.
pub fn merge_shards(mut shards: Vec<Aggregates>, paths: u64) -> Result<Aggregates, MergeError> {
    shards.sort_by_key(|shard| (shard.chunks.start, shard.chunks.end));
    merge_ordered_shards(shards.into_iter().map(Ok), paths)
}

/// [`merge_shards`] of shards that come in chunk order, taken one at a time: `shards` may read
/// each only when it is needed, so a merge holds one shard's chunk moments at once, not the run's.
pub fn merge_ordered_shards<E: From<MergeError>>(
    mut shards: impl Iterator<Item = Result<Aggregates, E>>,
    paths: u64,
) -> Result<Aggregates, E> {
    let mut merged = shards.next().ok_or(MergeError::Empty)??;
    if merged.chunks.start > 0 {
        return Err(MergeError::Missing { missing_from: 0, missing_to: merged.chunks.start }.into());
    }
    let metrics = merged.layout.metrics.len();
    let mut folded = vec![Moments::default(); merged.moments.len()];
    let mut convergence = Vec::new();
    let mut fold = |folded: &mut Vec<Moments>, chunk_index: u64, chunk: &[Moments]| {
        merge_into(folded, chunk);
        let done = chunk_paths(&(0..chunk_index + 1), paths).end;
        record_convergence(&mut convergence, done, done == paths, &folded[..metrics], &[]);
    };
    for (i, chunk) in std::mem::take(&mut merged.chunk_moments).iter().enumerate() {
        fold(&mut folded, merged.chunks.start + i as u64, chunk);
    }
    for shard in shards {
        let shard = shard?;
        let covered = merged.chunks.end;
        if shard.chunks.start > covered {
            return Err(MergeError::Missing { missing_from: covered, missing_to: shard.chunks.start }.into());
        }
        if shard.chunks.start < covered && !shard.chunks.is_empty() {
            return Err(MergeError::Overlap { from: shard.chunks.start, to: covered.min(shard.chunks.end) }.into());
        }
        for (i, chunk) in shard.chunk_moments.iter().enumerate() {
            fold(&mut folded, shard.chunks.start + i as u64, chunk);
        }
        for (total, part) in merged.sketches.iter_mut().zip(&shard.sketches) {
            total.merge(part);
        }
        merged.chunks.end = merged.chunks.end.max(shard.chunks.end);
        merged.paths += shard.paths;
        // Saturating: a sum of run times is a report, not worth a panic.
        merged.elapsed = merged.elapsed.saturating_add(shard.elapsed);
        merged.threads = merged.threads.max(shard.threads);
    }
    if merged.chunks.end < chunk_count(paths) {
        return Err(MergeError::Missing { missing_from: merged.chunks.end, missing_to: chunk_count(paths) }.into());
    }
    merged.moments = folded;
    merged.convergence = convergence;
    Ok(merged)
}

fn merge_into(total: &mut [Moments], part: &[Moments]) {
    for (total, part) in total.iter_mut().zip(part) {
        total.merge(part);
    }
}

/// Why a run could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("could not start {threads} worker threads: {source}")]
    ThreadPool { threads: usize, source: rayon::ThreadPoolBuildError },
    #[error("could not record the paths: {0}")]
    Recording(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A path produced a value the summaries cannot hold: never written to any output.
    #[error(
        "{what} is {value:e} on path {path} (counting from 0), not a finite number within ±{MAX_MAGNITUDE:e}: \
         the scenario's numbers run away on this path; look at growth, volatility, jumps, discount rates \
         and the horizon"
    )]
    NotFinite {
        /// The metric (or series and period, or paired difference), with its deal.
        what: String,
        path: u64,
        value: f64,
    },
}

impl RunError {
    /// The error for slot `slot` of path `path`'s row, named as the outputs name it.
    pub fn not_finite(scenario: &Scenario, layout: &Layout, slot: usize, path: u64, value: f64) -> RunError {
        RunError::NotFinite { what: layout.describe_slot(scenario, slot), path, value }
    }
}

/// Which slots of a row may be missing on a path, and so which values the summaries cannot take.
#[derive(Clone, Debug)]
pub struct Reportable {
    conditional: Vec<bool>,
}

impl Reportable {
    /// `conditional[slot]`: whether the slot may be missing (NaN) on a path.
    pub fn new(conditional: Vec<bool>) -> Reportable {
        Reportable { conditional }
    }

    pub fn conditional(&self, slot: usize) -> bool {
        self.conditional[slot]
    }

    /// The first slot of a path's row that the summaries cannot take: a value that is not finite
    /// or lies beyond [`MAX_MAGNITUDE`]. NaN in a conditional slot is a missing value, not a fault
    /// (the writer reports a conditional value that is NaN itself, see `RowWriter::not_a_number`).
    pub fn first_unreportable(&self, row: &[f64]) -> Option<usize> {
        row.iter().zip(&self.conditional).position(|(&value, &conditional)| unreportable(value, conditional))
    }
}

/// Whether the summaries cannot take `value` in a slot that may (`conditional`) or may not be
/// missing: one rule for the row search and for the transpose's check.
#[inline(always)]
fn unreportable(value: f64, conditional: bool) -> bool {
    // `abs() > limit` is false for NaN and true for infinities. Bitwise, not short-circuit: no
    // branch, so the transpose's loop stays a vector loop.
    (value.abs() > MAX_MAGNITUDE) | (value.is_nan() & !conditional)
}

/// Consecutive paths' inputs and scalar metrics, handed to a [`PathSink`] in path order.
#[derive(Clone, Copy, Debug)]
pub struct PathBatch<'a> {
    pub first_path: u64,
    pub count: usize,
    /// `inputs[i * scenario.inputs.len() + input]`: each uncertain input as drawn (after any
    /// correlation).
    pub inputs: &'a [f64],
    /// `metrics[i * layout.metrics.len() + metric]`, as reported (years as calendar years); NaN
    /// where a path has no value.
    pub metrics: &'a [f64],
}

/// Receives every path of a run, in order, as waves complete; what it keeps is its business.
pub trait PathSink {
    fn record(&mut self, batch: &PathBatch<'_>) -> Result<(), Box<dyn std::error::Error + Send + Sync>>;
}

/// One worker's reusable buffers and its sketches of its latest blocks.
struct Worker {
    state: PathState,
    /// The block's input draws, `draws[i * inputs + input]`.
    draws: Vec<f64>,
    scratch: DrawScratch,
    /// Path-major values of the few paths of a block simulated last: `rows[i * width + slot]`.
    rows: Vec<f64>,
    /// By row: a conditional slot whose value came out NaN rather than missing.
    not_a_number: Vec<Option<usize>>,
    /// Slot-major values of the block: `columns[slot * BLOCK_PATHS + i]`.
    columns: Vec<f64>,
    /// The worker's sketches of the blocks since they were last added into the run's. Every
    /// block walks them; their 16-bit counts take half the cache of the run's 32-bit ones (base:
    /// about 2 MB instead of 4), which are walked once every [`LOCAL_SKETCH_BLOCKS`] blocks.
    local_sketches: Vec<LocalSketch>,
    /// Blocks in `local_sketches`.
    local_blocks: u64,
}

/// Blocks a worker's local sketches take before they are added into the run's: a block puts at
/// most [`BLOCK_PATHS`] values in any one count.
const LOCAL_SKETCH_BLOCKS: u64 = LOCAL_SKETCH_VALUES / BLOCK_PATHS;

impl Worker {
    fn new(model: &PathModel<'_>, layout: &Layout) -> Worker {
        let scenario = model.scenario;
        let block = BLOCK_PATHS as usize;
        Worker {
            state: model.state(),
            draws: vec![0.0; block * draws_per_path(scenario)],
            scratch: DrawScratch::new(scenario),
            rows: vec![0.0; rows_paths(layout.width()) * layout.width()],
            not_a_number: vec![None; rows_paths(layout.width())],
            columns: vec![0.0; block * layout.width()],
            local_sketches: vec![LocalSketch::default(); layout.width()],
            local_blocks: 0,
        }
    }

    /// Adds the local sketches into the run's, and empties them. Sketch counts are integers, so
    /// the order in which workers add theirs changes nothing; one set of 32-bit sketches for the
    /// run, not one per thread, keeps a thread's memory to its buffers and local sketches.
    fn keep_local_sketches(&mut self, sketches: &Mutex<Vec<QuantileSketch>>) {
        let mut sketches = sketches.lock().expect("a worker panicked");
        for (sketch, local) in sketches.iter_mut().zip(&mut self.local_sketches) {
            sketch.take_counts(local);
        }
        self.local_blocks = 0;
    }
}

struct Job<'s> {
    scenario: &'s Scenario,
    layout: &'s Layout,
    reportable: Reportable,
    model: PathModel<'s>,
    options: RunOptions,
    /// Whether blocks return their paths' inputs and metrics for a [`PathSink`].
    recording: bool,
    /// The run's sketches, which workers add their local ones into.
    sketches: Mutex<Vec<QuantileSketch>>,
}

/// What one block gives back: its moments per slot and, when the run records paths, its
/// paths' inputs and metrics as a [`PathBatch`] lays them out.
struct BlockResult {
    moments: Vec<Moments>,
    count: usize,
    inputs: Vec<f64>,
    metrics: Vec<f64>,
}

/// Runs the scenario. `progress` is told the number of paths done after each wave.
pub fn run(scenario: &Scenario, options: RunOptions, progress: &(dyn Fn(u64) + Sync)) -> Result<Aggregates, RunError> {
    run_observed(scenario, options, progress, None)
}

/// Runs the scenario and hands every path's inputs and metrics to `sink`, wave by wave, so
/// no more than one wave of paths is held at once.
pub fn run_recording(
    scenario: &Scenario,
    options: RunOptions,
    progress: &(dyn Fn(u64) + Sync),
    sink: &mut dyn PathSink,
) -> Result<Aggregates, RunError> {
    run_observed(scenario, options, progress, Some(sink))
}

fn run_observed(
    scenario: &Scenario,
    options: RunOptions,
    progress: &(dyn Fn(u64) + Sync),
    mut sink: Option<&mut dyn PathSink>,
) -> Result<Aggregates, RunError> {
    let started = Instant::now();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.threads)
        .build()
        .map_err(|source| RunError::ThreadPool { threads: options.threads, source })?;
    let threads = pool.current_num_threads();
    let layout = Layout::of(scenario, options.baseline);
    let width = layout.width();
    let reportable = Reportable::new((0..width).map(|slot| layout.conditional(slot)).collect());
    let job = Job {
        scenario,
        layout: &layout,
        reportable,
        model: PathModel::new(scenario),
        options,
        recording: sink.is_some(),
        sketches: Mutex::new(vec![QuantileSketch::new(); width]),
    };
    let mut workers: Vec<Worker> = (0..threads).map(|_| Worker::new(&job.model, &layout)).collect();
    let blocks = options.paths.div_ceil(BLOCK_PATHS);
    let chunks = match options.shard {
        Some(shard) => shard.chunks(chunk_count(options.paths)),
        None => 0..chunk_count(options.paths),
    };
    let first_block = chunks.start * CHUNK_BLOCKS;
    let end_block = (chunks.end * CHUNK_BLOCKS).min(blocks);
    let shard_paths = chunk_paths(&chunks, options.paths);
    let first_path = shard_paths.start;
    // Blocks fold into the current chunk, chunks into the total, both in order.
    let mut total = vec![Moments::default(); width];
    let mut chunk = total.clone();
    let mut chunk_moments = Vec::new();
    let mut stop = Stop::PathCount;
    let mut convergence = Vec::new();
    let mut paths_run = shard_paths.end - shard_paths.start;
    let may_stop_early = options.target_relative_se.is_some();
    let window = dispatch_window(threads, may_stop_early);
    let dispatcher = Dispatcher::new(first_block..end_block, window);
    let (sender, receiver) = mpsc::channel::<(u64, Result<BlockResult, RunError>)>();
    // Workers run blocks as they are handed out; this thread merges them in block order as they
    // come, while the workers go on: no thread waits for a batch's slowest block, and the merge,
    // serial, is off the workers' path.
    let outcome = pool.in_place_scope(|scope| {
        for worker in &mut workers {
            let (job, dispatcher, sender) = (&job, &dispatcher, sender.clone());
            scope.spawn(move |_| {
                let _stop_on_panic = StopOnPanic(dispatcher);
                while let Some(block) = dispatcher.take() {
                    if sender.send((block, job.run_block(block, worker))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        let mut arrived_early = BTreeMap::new();
        let mut merge = || -> Result<(), RunError> {
            for block in first_block..end_block {
                let result = loop {
                    if let Some(result) = arrived_early.remove(&block) {
                        break result;
                    }
                    match receiver.recv() {
                        Ok((done, result)) => arrived_early.insert(done, result),
                        // Every worker has gone without this block: one panicked, and the
                        // scope passes its panic on.
                        Err(mpsc::RecvError) => return Ok(()),
                    };
                };
                // Floating-point sums depend on order: blocks merge in block order, always. The
                // first failing block in that order names the failure, whatever the thread count.
                let result = result?;
                merge_into(&mut chunk, &result.moments);
                if (block + 1) % CHUNK_BLOCKS == 0 || block + 1 == blocks {
                    merge_into(&mut total, &chunk);
                    let done = std::mem::replace(&mut chunk, vec![Moments::default(); width]);
                    if options.shard.is_some() {
                        chunk_moments.push(done);
                    }
                }
                if let Some(sink) = sink.as_deref_mut() {
                    let batch = PathBatch {
                        first_path: block * BLOCK_PATHS,
                        count: result.count,
                        inputs: &result.inputs,
                        metrics: &result.metrics,
                    };
                    sink.record(&batch).map_err(RunError::Recording)?;
                }
                let merged_to = block + 1;
                if merged_to % WAVE_BLOCKS != 0 && merged_to != end_block {
                    if !may_stop_early {
                        dispatcher.allow_before(merged_to + window);
                    }
                    continue;
                }
                let done = (merged_to * BLOCK_PATHS).min(options.paths) - first_path;
                progress(done);
                // Checked only at wave ends, on moments merged in block order: where a run stops
                // depends on the seed and the target, never on the thread count.
                if let Some(target) = options.target_relative_se {
                    let mut so_far = total.clone();
                    merge_into(&mut so_far, &chunk);
                    let (worst_metric, worst) = worst_relative_se(&so_far[..layout.metrics.len()]);
                    if done >= MIN_PATHS_BEFORE_STOPPING.min(options.paths) && worst <= target {
                        stop = Stop::Converged { relative_se: target };
                        paths_run = done;
                        total = so_far;
                        record_convergence(&mut convergence, done, true, &total[..layout.metrics.len()], &[]);
                        return Ok(());
                    }
                    if done == options.paths {
                        stop = Stop::PathCap { relative_se: target, worst_metric, worst_relative_se: worst };
                    }
                }
                let metrics = layout.metrics.len();
                record_convergence(
                    &mut convergence,
                    done,
                    merged_to == end_block,
                    &total[..metrics],
                    &chunk[..metrics],
                );
                dispatcher.allow_before(merged_to + window);
            }
            Ok(())
        };
        let outcome = merge();
        dispatcher.stop();
        outcome
    });
    outcome?;
    for mut worker in workers {
        worker.keep_local_sketches(&job.sketches);
    }
    let sketches = job.sketches.into_inner().expect("a worker panicked");
    Ok(Aggregates {
        layout,
        moments: total,
        sketches,
        paths: paths_run,
        stop,
        chunks,
        chunk_moments,
        convergence,
        seed: options.seed,
        threads,
        elapsed: started.elapsed(),
    })
}

impl Job<'_> {
    /// Simulates one block of paths and folds it into the worker's sketches; returns the
    /// block's moments per slot, and its paths when the run records them. A value the summaries
    /// cannot take fails the block before any summary sees it.
    fn run_block(&self, block: u64, worker: &mut Worker) -> Result<BlockResult, RunError> {
        let scenario = self.scenario;
        let width = self.layout.width();
        let first_path = block * BLOCK_PATHS;
        let count = (self.options.paths - first_path).min(BLOCK_PATHS) as usize;
        if worker.local_blocks == LOCAL_SKETCH_BLOCKS {
            worker.keep_local_sketches(&self.sketches);
        }
        worker.local_blocks += 1;
        let Worker { state, draws, scratch, rows, not_a_number, columns, local_sketches, .. } = worker;
        let seed = self.options.seed;
        self.model.draw_block(seed, first_path..first_path + count as u64, draws, scratch);
        let draw_width = draws_per_path(scenario);
        let metric_slots = &self.layout.metrics;
        let mut metrics = Vec::with_capacity(if self.recording { count * metric_slots.len() } else { 0 });
        // A few paths at a time: simulated into path-major rows, then turned slot-major.
        let batch = rows.len() / width;
        for first in (0..count).step_by(batch) {
            let paths = batch.min(count - first);
            for (k, row) in rows.chunks_exact_mut(width).take(paths).enumerate() {
                let i = first + k;
                self.model.sample(seed, first_path + i as u64, &mut draws[i * draw_width..(i + 1) * draw_width], state);
                self.model.apply_all(state);
                let mut writer = RowWriter::new(self.layout, row);
                emit(scenario, &state.worlds, &state.outcomes, &mut writer);
                debug_assert!(writer.filled(self.layout), "the layout and the walk disagree");
                not_a_number[k] = writer.not_a_number();
                self.layout.fill_derived(row);
                if self.recording {
                    metrics.extend(row.iter().zip(metric_slots).map(|(value, slot)| value + slot.origin));
                }
            }
            let rows = &rows[..paths * width];
            let reportable = transpose(rows, width, columns, first, &self.reportable);
            if !reportable || not_a_number[..paths].iter().any(Option::is_some) {
                // Rare: find the first path at fault, and its first slot, as the outputs name them.
                for (k, row) in rows.chunks_exact(width).enumerate() {
                    if let Some(slot) = self.reportable.first_unreportable(row).or(not_a_number[k]) {
                        let path = first_path + (first + k) as u64;
                        return Err(RunError::not_finite(scenario, self.layout, slot, path, row[slot]));
                    }
                }
            }
        }
        let mut moments = Vec::with_capacity(width);
        for (slot, column) in columns.chunks_exact_mut(BLOCK_PATHS as usize).enumerate() {
            let mut values = &mut column[..count];
            if self.reportable.conditional(slot) {
                let kept = compact_defined(values);
                values = &mut values[..kept];
            }
            local_sketches[slot].insert_slice(values);
            moments.push(Moments::from_slice(values));
        }
        let inputs = if self.recording { self.block_inputs(count, draws) } else { Vec::new() };
        Ok(BlockResult { moments, count, inputs, metrics })
    }

    /// The inputs of a block's paths, laid out as in [`PathBatch`].
    fn block_inputs(&self, count: usize, draws: &[f64]) -> Vec<f64> {
        let (input_width, draw_width) = (self.scenario.inputs.len(), draws_per_path(self.scenario));
        draws.chunks_exact(draw_width).take(count).flat_map(|row| &row[..input_width]).copied().collect()
    }
}

/// Copies path-major `rows` (`width` slots each) into the block's slot-major `columns`
/// ([`BLOCK_PATHS`] values per slot), at positions `first..` of each slot's column; says whether
/// the summaries can take every value (see [`Reportable::first_unreportable`]). Slot by slot, so
/// each column is written in order, and the rows' cache lines that hold a slot hold the next few
/// too and stay in L1 between them. The check rides along: the loop waits on memory, not on
/// arithmetic.
fn transpose(rows: &[f64], width: usize, columns: &mut [f64], first: usize, reportable: &Reportable) -> bool {
    let paths = rows.len() / width;
    let mut faulty = false;
    for (slot, column) in columns.chunks_exact_mut(BLOCK_PATHS as usize).take(width).enumerate() {
        let conditional = reportable.conditional(slot);
        for (value, row) in column[first..first + paths].iter_mut().zip(rows.chunks_exact(width)) {
            *value = row[slot];
            faulty |= unreportable(*value, conditional);
        }
    }
    !faulty
}

/// Blocks a worker may start past the last one merged. A run that may stop at the end of a wave
/// runs a wave at a time, so that no block past the stop reaches the sketches. Any other run lets
/// every thread a few blocks ahead, so that one slow block holds up no other thread, and the
/// blocks waiting to be merged stay few.
fn dispatch_window(threads: usize, may_stop_early: bool) -> u64 {
    if may_stop_early { WAVE_BLOCKS } else { 4 * threads as u64 + WAVE_BLOCKS }
}

/// Hands out a run's blocks in order to the workers, none at or past its limit, which the
/// merging thread raises as blocks merge.
struct Dispatcher {
    state: Mutex<Dispatch>,
    raised: Condvar,
    end: u64,
}

struct Dispatch {
    next: u64,
    limit: u64,
    stopped: bool,
}

impl Dispatcher {
    /// Hands out `blocks`, the first `window` of them at once.
    fn new(blocks: Range<u64>, window: u64) -> Dispatcher {
        let limit = blocks.start + window;
        Dispatcher {
            state: Mutex::new(Dispatch { next: blocks.start, limit, stopped: false }),
            raised: Condvar::new(),
            end: blocks.end,
        }
    }

    /// The next block, once it is below the limit; None when the blocks are all out or the run
    /// has stopped.
    fn take(&self) -> Option<u64> {
        let mut state = self.state.lock().expect("a worker panicked");
        loop {
            if state.stopped || state.next >= self.end {
                return None;
            }
            if state.next < state.limit {
                state.next += 1;
                return Some(state.next - 1);
            }
            state = self.raised.wait(state).expect("a worker panicked");
        }
    }

    /// Lets blocks before `limit` out (a wave's end at most, for a run that may stop early).
    fn allow_before(&self, limit: u64) {
        let mut state = self.state.lock().expect("a worker panicked");
        if limit > state.limit {
            state.limit = limit;
            self.raised.notify_all();
        }
    }

    /// Hands out no more blocks; workers waiting for one leave. Runs while a worker unwinds too,
    /// where a second panic would abort the process, so it takes the state even if poisoned.
    fn stop(&self) {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).stopped = true;
        self.raised.notify_all();
    }
}

/// Stops the dispatcher when a worker panics, so that the other workers leave instead of waiting
/// for a merge that cannot go on.
struct StopOnPanic<'d>(&'d Dispatcher);

impl Drop for StopOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.stop();
        }
    }
}

/// Paths whose rows fit [`ROWS_BYTES`]: at least one, at most a block.
fn rows_paths(width: usize) -> usize {
    (ROWS_BYTES / (width.max(1) * 8)).clamp(1, BLOCK_PATHS as usize)
}

/// The metric whose mean is least precise: its index and its standard error over the mean's
/// magnitude. Metrics with no spread (a standard error of 0) are exact already.
fn worst_relative_se(metrics: &[Moments]) -> (usize, f64) {
    let mut worst = (0, 0.0);
    for (index, moments) in metrics.iter().enumerate() {
        if moments.count() < 2 {
            continue;
        }
        let se = moments.std_error();
        let relative = if se == 0.0 { 0.0 } else { se / moments.mean().abs() };
        if relative > worst.1 {
            worst = (index, relative);
        }
    }
    worst
}

/// Scratch space for drawing a block's inputs: its latent uniforms, one path's latents for the
/// copula, and the copula's scores.
pub struct DrawScratch {
    /// Latent-major: `latents[latent * paths + i]`.
    latents: Vec<f64>,
    path_latents: Vec<f64>,
    scores: Vec<f64>,
}

impl DrawScratch {
    pub fn new(scenario: &Scenario) -> DrawScratch {
        let path_latents = vec![0.0; scenario.latents.len()];
        DrawScratch {
            latents: Vec::with_capacity(path_latents.len() * BLOCK_PATHS as usize),
            path_latents,
            scores: Vec::new(),
        }
    }
}

/// Draws the uncertain inputs and coins of `paths`, one row of [`draws_per_path`] values per
/// path (inputs, then coins). Each latent uniform is keyed by (seed, path, its identity), then
/// correlated within its group; each input is its distribution's quantile of its latent. So each
/// path's row depends on that path alone, whatever block it is drawn in.
///
/// Input by input across the paths rather than path by path: an input's quantile function (a
/// PERT's tables hold about 100 to 200 knots, up to 5 KB) then stays in the nearest cache
/// across the block, and its distribution's branch is taken every time.
pub fn sample_block_inputs(
    scenario: &Scenario,
    copula: Option<&Copula>,
    seed: u64,
    paths: Range<u64>,
    draws: &mut [f64],
    scratch: &mut DrawScratch,
) {
    let (width, count) = (draws_per_path(scenario), (paths.end - paths.start) as usize);
    if width == 0 || count == 0 {
        return;
    }
    let DrawScratch { latents, path_latents, scores } = scratch;
    latents.resize(scenario.latents.len() * count, 0.0);
    for (column, latent) in latents.chunks_exact_mut(count).zip(&scenario.latents) {
        for (uniform, path) in column.iter_mut().zip(paths.clone()) {
            *uniform = unit(seed, latent.hash, path);
        }
    }
    if let Some(copula) = copula {
        // The copula mixes one path's latents: gathered, correlated and put back path by path.
        for i in 0..count {
            for (uniform, column) in path_latents.iter_mut().zip(latents.chunks_exact(count)) {
                *uniform = column[i];
            }
            copula.correlate(path_latents, scores);
            for (&uniform, column) in path_latents.iter().zip(latents.chunks_exact_mut(count)) {
                column[i] = uniform;
            }
        }
    }
    for (j, input) in scenario.inputs.iter().enumerate() {
        let column = &latents[input.latent * count..(input.latent + 1) * count];
        for (row, &uniform) in draws.chunks_exact_mut(width).zip(column) {
            row[j] = input.distribution.quantile(uniform);
        }
    }
    let first_coin = scenario.inputs.len();
    for (c, coin) in scenario.coins.iter().enumerate() {
        for (row, path) in draws.chunks_exact_mut(width).zip(paths.clone()) {
            row[first_coin + c] = unit(seed, coin.hash, path);
        }
    }
}

/// Values drawn before each path's world: its uncertain inputs, then its coin flips.
pub fn draws_per_path(scenario: &Scenario) -> usize {
    scenario.inputs.len() + scenario.coins.len()
}

/// Moves the non-NaN values to the front; returns how many there are.
fn compact_defined(values: &mut [f64]) -> usize {
    let mut kept = 0;
    for i in 0..values.len() {
        if !values[i].is_nan() {
            values[kept] = values[i];
            kept += 1;
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse_scenario;

    #[test]
    fn unreportable_values_are_found_but_missing_conditional_values_are_not() {
        let reportable = Reportable::new(vec![false, true, false]);
        assert_eq!(reportable.first_unreportable(&[1.0, f64::NAN, -MAX_MAGNITUDE]), None);
        assert_eq!(reportable.first_unreportable(&[1.0, 2.0, 3.0]), None);
        assert_eq!(reportable.first_unreportable(&[f64::NAN, 0.0, 0.0]), Some(0));
        assert_eq!(reportable.first_unreportable(&[f64::NAN, f64::NAN, 0.0]), Some(0));
        for bad in [f64::INFINITY, f64::NEG_INFINITY, 2.0 * MAX_MAGNITUDE] {
            assert_eq!(reportable.first_unreportable(&[0.0, bad, 0.0]), Some(1), "{bad}");
            assert_eq!(reportable.first_unreportable(&[0.0, f64::NAN, bad]), Some(2), "{bad}");
        }
    }

    #[test]
    fn slots_are_described_as_the_outputs_name_them() {
        let text = r#"
            [simulation]
            start = 2026
            years = 2
            steps_per_year = 4
            discount_rate = 0.1
            [parties.lab]
            [parties.cloud]
            [[streams]]
            name = "lab"
            owner = "lab"
            initial = "1B"
            [[deals]]
            name = "none"
            [[deals]]
            name = "share"
            [[deals.revenue_shares]]
            name = "to-cloud"
            payer = "lab"
            payee = "cloud"
            stream = "lab"
            rate = 0.1
        "#;
        let scenario = parse_scenario("test.toml", text, &[]).unwrap();
        let layout = Layout::of(&scenario, 0);
        let metric = |name: &str, deal: usize| {
            layout.metrics.iter().position(|m| m.name == name && m.scope.reported_under(deal)).unwrap()
        };
        assert_eq!(layout.describe_slot(&scenario, metric("stream.lab.revenue", 0)), "metric stream.lab.revenue");
        assert_eq!(
            layout.describe_slot(&scenario, metric("revenue_share.to-cloud.paid", 1)),
            "metric revenue_share.to-cloud.paid of deal share"
        );
        let series = layout.series.iter().position(|s| s.name == "party.cloud.cash_flow").unwrap();
        assert_eq!(
            layout.describe_slot(&scenario, layout.series_slot(series, 5)),
            "series party.cloud.cash_flow of deal none in 2027-Q2"
        );
        assert_eq!(
            layout.describe_slot(&scenario, layout.comparison_slot(0)),
            format!("the difference in {} between deal share and deal none", layout.comparisons[0].metric)
        );
    }

    #[test]
    fn blocks_are_handed_out_in_order_up_to_the_limit() {
        let dispatcher = Dispatcher::new(10..20, 4);
        assert_eq!((0..4).map(|_| dispatcher.take()).collect::<Vec<_>>(), [Some(10), Some(11), Some(12), Some(13)]);
        dispatcher.allow_before(12);
        dispatcher.allow_before(16);
        assert_eq!((dispatcher.take(), dispatcher.take()), (Some(14), Some(15)));
        dispatcher.allow_before(30);
        assert_eq!((16..20).map(|_| dispatcher.take().unwrap()).collect::<Vec<_>>(), [16, 17, 18, 19]);
        assert_eq!(dispatcher.take(), None);
    }

    #[test]
    fn a_worker_waiting_for_the_limit_leaves_when_the_run_stops() {
        let dispatcher = Dispatcher::new(0..100, 1);
        assert_eq!(dispatcher.take(), Some(0));
        std::thread::scope(|scope| {
            let waiting = scope.spawn(|| dispatcher.take());
            dispatcher.stop();
            assert_eq!(waiting.join().unwrap(), None);
        });
    }

    #[test]
    fn a_run_that_may_stop_early_runs_a_wave_at_a_time_and_any_other_keeps_every_thread_busy() {
        for threads in [1, 2, 3, 16, 64, 1000] {
            assert_eq!(dispatch_window(threads, true), WAVE_BLOCKS, "{threads}");
            // Past a whole wave, at least one block per thread more, so that no thread waits for
            // a wave's end.
            assert!(dispatch_window(threads, false) >= WAVE_BLOCKS + threads as u64, "{threads}");
        }
    }

    #[test]
    fn shards_split_chunks_for_any_shard_count() {
        let chunks = chunk_count(crate::scenario::MAX_PATHS);
        let last = Shard { index: u64::MAX - 1, count: u64::MAX };
        assert_eq!(last.chunks(chunks), chunks - 1..chunks);
        assert_eq!(Shard { index: 0, count: u64::MAX }.chunks(chunks), 0..0);
        assert_eq!(Shard { index: 1, count: 3 }.chunks(3), 1..2);
    }
}
