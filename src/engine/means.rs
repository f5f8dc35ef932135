//! Metric-only evaluation of paths, for analyses that need means and not distributions (the
//! tornado, `solve`): the same draws, world and deal terms as a run, without series, sketches
//! or the per-slot bookkeeping of a full run, and with a pinned input re-applying only what the
//! input reaches.

use std::ops::Range;

use super::metrics::{Layout, RowWriter, Scope, emit, emit_deal};
use super::{DrawScratch, RunError, draws_per_path, first_unreportable, load_draws, sample_block_inputs};
use crate::sampling::correlation::Copula;
use crate::sampling::world::{WorldPath, sample_path};
use crate::scenario::{InputId, Scalar, Scenario};
use crate::terms::{DealOutcome, Discounting, apply_deal};

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
    /// Whether each metric may be missing on some paths.
    conditional: Vec<bool>,
    discounting: Discounting,
    copula: Option<Copula>,
    /// Each deal's first metric: its walk ([`emit_deal`]) fills the metrics from there.
    first_metric: Vec<usize>,
    reach: Vec<Reach>,
}

/// One thread's buffers: a block's draws, the world and the deals' outcomes of the path at hand.
pub struct PathWork {
    draws: Vec<f64>,
    scratch: DrawScratch,
    world: WorldPath,
    outcomes: Vec<DealOutcome>,
    /// The world with an input pinned, for inputs that reach it.
    pinned_world: WorldPath,
    pinned_outcomes: Vec<DealOutcome>,
}

impl<'s> MetricPaths<'s> {
    pub fn new(scenario: &'s Scenario) -> MetricPaths<'s> {
        let layout = Layout::of(scenario, 0);
        let conditional = layout.metrics.iter().map(|metric| metric.conditional).collect();
        let first_metric = (0..scenario.deals.len())
            .map(|d| layout.metrics.iter().position(|m| m.scope == Scope::Deal(d)).unwrap_or(layout.metrics.len()))
            .collect();
        MetricPaths {
            scenario,
            layout,
            conditional,
            discounting: Discounting::new(scenario),
            copula: Copula::of(scenario),
            first_metric,
            reach: reach_of_inputs(scenario),
        }
    }

    pub fn work(&self) -> PathWork {
        let scenario = self.scenario;
        let outcomes = || scenario.deals.iter().map(|deal| DealOutcome::new(scenario, deal)).collect();
        PathWork {
            draws: Vec::new(),
            scratch: DrawScratch::new(scenario),
            world: WorldPath::new(scenario),
            outcomes: outcomes(),
            pinned_world: WorldPath::new(scenario),
            pinned_outcomes: outcomes(),
        }
    }

    /// How far fixing `input` reaches.
    pub fn reach(&self, input: InputId) -> &Reach {
        &self.reach[input]
    }

    /// Draws the inputs of `paths` (a block) into `work`; [`Self::block_draws`] reads them back.
    pub fn draw_block(&self, seed: u64, paths: Range<u64>, work: &mut PathWork) {
        let width = draws_per_path(self.scenario);
        work.draws.resize((paths.end - paths.start) as usize * width, 0.0);
        sample_block_inputs(self.scenario, self.copula.as_ref(), seed, paths, &mut work.draws, &mut work.scratch);
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
        let PathWork { draws, world, outcomes, .. } = work;
        load_draws(self.scenario, &draws[i * width..(i + 1) * width], world);
        sample_path(self.scenario, seed, path, world);
        let not_a_number = self.apply_all(world, outcomes, metrics);
        self.check(metrics, not_a_number, path, None)
    }

    /// The metrics of the same path with `input` fixed at `value`, after [`Self::evaluate`] of
    /// that path filled `base`: a world input re-samples the world from the same draws; a deal's
    /// input re-applies only the deals it reaches, on the world as sampled.
    #[allow(clippy::too_many_arguments)]
    pub fn pinned(
        &self,
        seed: u64,
        path: u64,
        i: usize,
        (input, value): (InputId, f64),
        base: &[f64],
        work: &mut PathWork,
        metrics: &mut [f64],
    ) -> Result<(), RunError> {
        let width = draws_per_path(self.scenario);
        let PathWork { draws, world, pinned_world, pinned_outcomes, .. } = work;
        let not_a_number = match &self.reach[input] {
            Reach::World => {
                load_draws(self.scenario, &draws[i * width..(i + 1) * width], pinned_world);
                // Pinning after the draw keeps every other random number where it was.
                pinned_world.inputs[input] = value;
                sample_path(self.scenario, seed, path, pinned_world);
                self.apply_all(pinned_world, pinned_outcomes, metrics)
            }
            Reach::Deals(deals) => {
                metrics.copy_from_slice(base);
                let drawn = std::mem::replace(&mut world.inputs[input], value);
                let mut not_a_number = None;
                for &d in deals {
                    let outcome = &mut pinned_outcomes[d];
                    apply_deal(self.scenario, &self.scenario.deals[d], &self.discounting, world, outcome);
                    let mut writer = RowWriter::metrics_only(&self.layout, metrics, self.first_metric[d]);
                    emit_deal(self.scenario, d, outcome, &mut writer);
                    not_a_number = not_a_number.or(writer.not_a_number());
                }
                world.inputs[input] = drawn;
                not_a_number
            }
        };
        self.check(metrics, not_a_number, path, Some((input, value)))
    }

    /// Applies every deal and writes the metrics; returns the first conditional metric that is
    /// NaN rather than missing.
    fn apply_all(&self, world: &WorldPath, outcomes: &mut [DealOutcome], metrics: &mut [f64]) -> Option<usize> {
        for (deal, outcome) in self.scenario.deals.iter().zip(outcomes.iter_mut()) {
            apply_deal(self.scenario, deal, &self.discounting, world, outcome);
        }
        let mut writer = RowWriter::metrics_only(&self.layout, metrics, 0);
        emit(self.scenario, world, outcomes, &mut writer);
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
        let Some(slot) = first_unreportable(metrics, &self.conditional).or(not_a_number) else { return Ok(()) };
        let mut what = self.layout.describe_slot(self.scenario, slot);
        if let Some((input, level)) = pin {
            what.push_str(&format!(" (with {} fixed at {level})", self.scenario.inputs[input].key));
        }
        Err(RunError::NotFinite { what, path, value: metrics[slot] })
    }
}

/// For each input, what fixing it reaches: the deals whose terms or stakes read it, or the world
/// for any other input (streams, compute, valuation, events and parties are read by the world
/// or by every deal).
fn reach_of_inputs(scenario: &Scenario) -> Vec<Reach> {
    let mut readers: Vec<Vec<usize>> = vec![Vec::new(); scenario.inputs.len()];
    for (d, deal) in scenario.deals.iter().enumerate() {
        let mut note = |scalar: &Scalar| {
            if let Scalar::Input(input) = *scalar
                && !readers[input].contains(&d)
            {
                readers[input].push(d);
            }
        };
        for (_, stake) in &deal.equity {
            note(stake);
        }
        let mut terms = deal.terms.clone();
        for term in &mut terms {
            term.visit_draws(&mut |scalar| note(scalar), &mut |_| {});
        }
    }
    readers.into_iter().map(|deals| if deals.is_empty() { Reach::World } else { Reach::Deals(deals) }).collect()
}
