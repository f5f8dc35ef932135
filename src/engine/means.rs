//! Metric-only evaluation of paths, for analyses that need means and not distributions (the
//! tornado, `solve`): the same draws, world and deal terms as a run, without series, sketches
//! or the per-slot bookkeeping of a full run, and with a pinned input re-applying only what the
//! input reaches.

use std::ops::Range;

use super::metrics::{Layout, RowWriter, Scope, emit, emit_deal};
use super::path::{PathModel, PathState};
use super::{BLOCK_PATHS, DrawScratch, Reportable, RunError, draws_per_path};
use crate::scenario::{Correlation, Identity, InputId, Scenario, UncertainInput};

/// What fixing an input changes on a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reach {
    /// The world: it is re-sampled and every deal re-applied.
    World,
    /// Only these deals' terms (or starting stakes): the world stays as drawn.
    Deals(Vec<usize>),
}

/// Evaluates paths to their metrics (layout order, `layout.metrics`), nothing else.
pub struct MetricPaths<'s> {
    pub scenario: &'s Scenario,
    pub layout: Layout,
    /// Which metrics may be missing on some paths.
    reportable: Reportable,
    model: PathModel<'s>,
    /// Each deal's first metric: its walk ([`emit_deal`]) fills the metrics from there.
    first_metric: Vec<usize>,
    reach: Vec<Reach>,
}

/// One thread's buffers: a block's draws, the worlds and the deals' outcomes of the path at hand.
pub struct PathWork {
    draws: Vec<f64>,
    scratch: DrawScratch,
    state: PathState,
    /// The worlds with an input pinned, for inputs that reach them; only the outcomes of the
    /// deals an input reaches otherwise.
    pinned: PathState,
}

impl PathWork {
    /// The block's drawn rows, for [`MetricPaths::start_block_from`].
    pub fn into_draws(self) -> Vec<f64> {
        self.draws
    }
}

/// The drawn rows of every block of a run, kept between evaluations of scenarios that draw
/// alike: the steps of a search that varies a value no draw depends on (a term, a rate, a
/// constant) draw the same inputs and coins, so only the first step draws them.
#[derive(Default)]
pub struct DrawCache {
    drawn_by: Option<DrawKey>,
    blocks: Vec<Vec<f64>>,
}

/// Everything a path's row depends on.
#[derive(Clone, PartialEq)]
struct DrawKey {
    seed: u64,
    paths: u64,
    latents: Vec<Identity>,
    inputs: Vec<UncertainInput>,
    coins: Vec<Identity>,
    correlations: Vec<Correlation>,
}

/// The most memory the rows may take: past it, each evaluation draws them again.
const DRAW_CACHE_BYTES: u64 = 256 << 20;

impl DrawCache {
    /// The rows of block `block`, if cached for a scenario that draws as this one does.
    pub fn rows(&self, block: u64) -> Option<&[f64]> {
        self.blocks.get(block as usize).map(Vec::as_slice)
    }

    /// Makes the cache hold the rows of `scenario` at (`seed`, `paths`): what it holds for
    /// another scenario's draws is dropped. Returns whether the caller should store the rows it
    /// draws ([`Self::store`]); a scenario with worlds of its own, or too many rows, is not cached.
    pub fn prepare(&mut self, scenario: &Scenario, seed: u64, paths: u64) -> bool {
        let key = DrawKey {
            seed,
            paths,
            latents: scenario.latents.clone(),
            inputs: scenario.inputs.clone(),
            coins: scenario.coins.clone(),
            correlations: scenario.correlations.clone(),
        };
        if self.drawn_by.as_ref() != Some(&key) {
            self.blocks.clear();
            self.drawn_by = Some(key);
        }
        let bytes = paths.saturating_mul(draws_per_path(scenario) as u64 * 8);
        self.blocks.is_empty() && scenario.other_worlds.is_empty() && bytes <= DRAW_CACHE_BYTES
    }

    /// Keeps every block's rows, in block order.
    pub fn store(&mut self, blocks: Vec<Vec<f64>>) {
        self.blocks = blocks;
    }
}

impl<'s> MetricPaths<'s> {
    pub fn new(scenario: &'s Scenario) -> MetricPaths<'s> {
        let layout = Layout::of(scenario, 0);
        let reportable = Reportable::new(layout.metrics.iter().map(|metric| metric.conditional).collect());
        let first_metric = (0..scenario.deals.len())
            .map(|d| layout.metrics.iter().position(|m| m.scope == Scope::Deal(d)).unwrap_or(layout.metrics.len()))
            .collect();
        MetricPaths {
            scenario,
            layout,
            reportable,
            model: PathModel::new(scenario),
            first_metric,
            reach: reach_of_inputs(scenario),
        }
    }

    fn work(&self) -> PathWork {
        PathWork {
            draws: Vec::new(),
            scratch: DrawScratch::new(self.scenario),
            state: self.model.state(),
            pinned: self.model.state(),
        }
    }

    /// How far fixing `input` reaches.
    pub fn reach(&self, input: InputId) -> &Reach {
        &self.reach[input]
    }

    /// Block `block` of a run of `paths` paths: its path indexes, and buffers holding their drawn
    /// inputs ([`Self::block_draws`] reads them back).
    pub fn start_block(&self, seed: u64, paths: u64, block: u64) -> (Range<u64>, PathWork) {
        let range = block_range(paths, block);
        let mut work = self.work();
        work.draws.resize((range.end - range.start) as usize * draws_per_path(self.scenario), 0.0);
        let (draws, scratch) = (&mut work.draws, &mut work.scratch);
        self.model.draw_block(seed, range.clone(), draws, scratch);
        (range, work)
    }

    /// [`Self::start_block`] from the rows an earlier start of the same block drew
    /// ([`PathWork::into_draws`]), for a scenario that draws alike.
    pub fn start_block_from(&self, paths: u64, block: u64, rows: &[f64]) -> (Range<u64>, PathWork) {
        let range = block_range(paths, block);
        let mut work = self.work();
        work.draws.extend_from_slice(rows);
        (range, work)
    }

    /// The drawn row of the block's `i`-th path: its inputs, then its coins.
    pub fn block_draws<'w>(&self, work: &'w PathWork, i: usize) -> &'w [f64] {
        let width = draws_per_path(self.scenario);
        &work.draws[i * width..(i + 1) * width]
    }

    /// The metrics of the block's `i`-th path (path index `path`), as drawn: samples its world,
    /// which stays in `work` for [`Self::pinned`].
    pub fn evaluate(
        &self,
        seed: u64,
        path: u64,
        i: usize,
        work: &mut PathWork,
        metrics: &mut [f64],
    ) -> Result<(), RunError> {
        let width = draws_per_path(self.scenario);
        let PathWork { draws, state, .. } = work;
        self.model.sample(seed, path, &mut draws[i * width..(i + 1) * width], state);
        let not_a_number = self.apply_all(state, metrics);
        self.check(metrics, not_a_number, path, None)
    }

    /// The metrics of the same path with `input` fixed at `value`, after [`Self::evaluate`] of
    /// that path filled `base`: a world input re-samples the world from the same draws; a deal's
    /// input re-applies only the deals it reaches, on the world as sampled.
    pub fn pinned(
        &self,
        seed: u64,
        path: u64,
        (input, value): (InputId, f64),
        base: &[f64],
        work: &mut PathWork,
        metrics: &mut [f64],
    ) -> Result<(), RunError> {
        let PathWork { state, pinned, .. } = work;
        let not_a_number = match &self.reach[input] {
            Reach::World => {
                self.model.sample_pinned(seed, path, (input, value), state, pinned);
                self.apply_all(pinned, metrics)
            }
            Reach::Deals(deals) => {
                metrics.copy_from_slice(base);
                let mut not_a_number = None;
                for &d in deals {
                    let worlds = &mut state.worlds;
                    let world = self.model.world_of(d);
                    let drawn = std::mem::replace(&mut worlds[world].inputs[input], value);
                    let outcome = &mut pinned.outcomes[d];
                    self.model.apply(d, worlds, outcome);
                    worlds[world].inputs[input] = drawn;
                    let mut writer = RowWriter::metrics_only(&self.layout, metrics, self.first_metric[d]);
                    emit_deal(self.scenario, worlds, d, outcome, &mut writer);
                    not_a_number = not_a_number.or(writer.not_a_number());
                }
                not_a_number
            }
        };
        self.check(metrics, not_a_number, path, Some((input, value)))
    }

    /// Applies every deal and writes the metrics; returns the first conditional metric that is
    /// NaN rather than missing.
    fn apply_all(&self, state: &mut PathState, metrics: &mut [f64]) -> Option<usize> {
        self.model.apply_all(state);
        let mut writer = RowWriter::metrics_only(&self.layout, metrics, 0);
        emit(self.scenario, &state.worlds, &state.outcomes, &mut writer);
        writer.not_a_number()
    }

    /// A metric the means cannot take fails the path, named with the pinned input if any.
    fn check(
        &self,
        metrics: &[f64],
        not_a_number: Option<usize>,
        path: u64,
        pin: Option<(InputId, f64)>,
    ) -> Result<(), RunError> {
        let Some(slot) = self.reportable.first_unreportable(metrics).or(not_a_number) else { return Ok(()) };
        let mut what = self.layout.describe_slot(self.scenario, slot);
        if let Some((input, level)) = pin {
            what.push_str(&format!(" (with {} fixed at {level})", self.scenario.inputs[input].key));
        }
        Err(RunError::NotFinite { what, path, value: metrics[slot] })
    }
}

/// The path indexes of block `block` of a run of `paths` paths.
fn block_range(paths: u64, block: u64) -> Range<u64> {
    let first = block * BLOCK_PATHS;
    first..(first + BLOCK_PATHS).min(paths)
}

/// For each input, what fixing it reaches: the deals whose terms or stakes read it, or the world
/// for any other input (streams, compute, valuation, events and parties are read by the world
/// or by every deal).
fn reach_of_inputs(scenario: &Scenario) -> Vec<Reach> {
    let mut readers: Vec<Vec<usize>> = vec![Vec::new(); scenario.inputs.len()];
    for (d, deal) in scenario.deals.iter().enumerate() {
        for input in deal.inputs_read() {
            readers[input].push(d);
        }
    }
    readers.into_iter().map(|deals| if deals.is_empty() { Reach::World } else { Reach::Deals(deals) }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse_scenario;

    const SCENARIO: &str = r#"
        [simulation]
        start = 2026
        years = 3
        steps_per_year = 4
        discount_rate = 0.1
        [parties.lab]
        other_costs = { dist = "uniform", low = 0.1, high = 0.3 }
        [parties.cloud]
        [[streams]]
        name = "lab"
        owner = "lab"
        initial = "10B"
        growth = { dist = "pert", low = 0.2, mode = 0.5, high = 1.0 }
        volatility = 0.3
        [[deals]]
        name = "capped"
        [[deals.revenue_shares]]
        name = "share"
        payer = "lab"
        payee = "cloud"
        stream = "lab"
        rate = 0.2
        cap = { dist = "uniform", low = "3B", high = "9B" }
        [[deals]]
        name = "flat"
        [[deals.revenue_shares]]
        name = "flat-share"
        payer = "lab"
        payee = "cloud"
        stream = "lab"
        rate = { dist = "uniform", low = 0.05, high = 0.15 }
    "#;

    /// Fixing a deal's input re-applies only that deal on the world as drawn, and fixing a world
    /// input no stream reads keeps the drawn streams: the metrics must be exactly those of
    /// re-sampling the world with the input fixed and applying every deal.
    #[test]
    fn a_pinned_deal_input_gives_exactly_what_a_full_evaluation_gives() {
        let scenario = parse_scenario("test.toml", SCENARIO, &[]).unwrap();
        let paths = MetricPaths::new(&scenario);
        let key = |key: &str| scenario.inputs.iter().position(|input| input.key.ends_with(key)).unwrap();
        let (growth, costs, cap, rate) = (key("growth"), key("other_costs"), key("cap"), key("rate"));
        assert_eq!(paths.reach(growth), &Reach::World);
        // Read by the world but by no stream: the stream keeps its drawn run-rates.
        assert_eq!(paths.reach(costs), &Reach::World);
        assert_eq!(paths.reach(cap), &Reach::Deals(vec![0]));
        assert_eq!(paths.reach(rate), &Reach::Deals(vec![1]));
        let seed = 7;
        let (_, mut work) = paths.start_block(seed, 64, 0);
        let metrics = paths.layout.metrics.len();
        let (mut base, mut pinned, mut full) = (vec![0.0; metrics], vec![0.0; metrics], vec![0.0; metrics]);
        for i in 0..64 {
            paths.evaluate(seed, i as u64, i, &mut work, &mut base).unwrap();
            for (input, value) in [(cap, 4e9), (rate, 0.06), (growth, 0.9), (costs, 0.25)] {
                paths.pinned(seed, i as u64, (input, value), &base, &mut work, &mut pinned).unwrap();
                // The reference samples the whole world again from a row with the input fixed.
                let mut row = paths.block_draws(&work, i).to_vec();
                row[input] = value;
                let mut state = paths.model.state();
                paths.model.sample(seed, i as u64, &mut row, &mut state);
                paths.apply_all(&mut state, &mut full);
                let bits = |values: &[f64]| values.iter().map(|v| v.to_bits()).collect::<Vec<u64>>();
                assert_eq!(bits(&pinned), bits(&full), "path {i}, input {}", scenario.inputs[input].key);
            }
        }
        // The pin changed something, and only where the input reaches.
        paths.pinned(seed, 0, (cap, 3e9), &base, &mut work, &mut pinned).unwrap();
        let changed: Vec<&str> = (0..metrics)
            .filter(|&slot| pinned[slot].to_bits() != base[slot].to_bits())
            .map(|slot| paths.layout.metrics[slot].name.as_str())
            .collect();
        assert!(changed.contains(&"revenue_share.share.paid"), "{changed:?}");
        assert!(
            (0..metrics).all(|slot| pinned[slot].to_bits() == base[slot].to_bits()
                || paths.layout.metrics[slot].scope == Scope::Deal(0)),
            "only the capped deal moves"
        );
    }
}
