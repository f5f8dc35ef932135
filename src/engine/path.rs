//! One path from its drawn row to its deals' outcomes: each world sampled, each deal applied on
//! its own world. Shared by the full run and the metric-only evaluation.

use std::ops::Range;

use super::{DrawScratch, draws_per_path, sample_block_inputs};
use crate::sampling::correlation::Copula;
use crate::sampling::world::{WorldPath, mark_stream_inputs, sample_all_but_streams, sample_path};
use crate::scenario::{InputId, Scalar, Scenario};
use crate::terms::{DealOutcome, Discounting, apply_deal};

/// How a scenario's paths are simulated: per world, how its deals are discounted and, for worlds
/// after the first, how it draws its own inputs.
pub struct PathModel<'s> {
    pub scenario: &'s Scenario,
    worlds: Vec<WorldModel<'s>>,
    /// The world each deal runs on.
    world_of_deal: Vec<usize>,
}

struct WorldModel<'s> {
    scenario: &'s Scenario,
    discounting: Discounting,
    /// The world's own correlations. The first world's draws are the path's row, drawn a block
    /// at a time ([`PathModel::draw_block`]); every other world draws its inputs itself, from the
    /// same keyed uniforms, so each file's world is exactly the world a run of that file alone
    /// samples.
    copula: Option<Copula>,
    /// Inputs this world reads and no earlier world does: the row records them as this world
    /// drew them.
    first_read: Vec<InputId>,
    /// By input: whether this world's streams read it.
    stream_reads: Vec<bool>,
}

/// One path's worlds and deal outcomes, reused from path to path.
pub struct PathState {
    pub worlds: Vec<WorldPath>,
    pub outcomes: Vec<DealOutcome>,
    /// A later world's own draws of the path (inputs, then coins), and the scratch they take.
    /// Every world holds the scenario's inputs, latents and coins, so one of each serves all.
    own_draws: Vec<f64>,
    scratch: DrawScratch,
}

impl<'s> PathModel<'s> {
    pub fn new(scenario: &'s Scenario) -> PathModel<'s> {
        let world_of_deal: Vec<usize> = (0..scenario.deals.len()).map(|d| scenario.world_of(d)).collect();
        let mut read_before = vec![false; scenario.inputs.len()];
        let worlds = scenario
            .worlds()
            .enumerate()
            .map(|(w, world)| {
                let mut reads = vec![false; scenario.inputs.len()];
                inputs_read(world, (0..scenario.deals.len()).filter(|&d| world_of_deal[d] == w), &mut reads);
                let first_read = (0..reads.len()).filter(|&i| reads[i] && !read_before[i]).collect();
                for (before, read) in read_before.iter_mut().zip(reads) {
                    *before |= read;
                }
                let mut stream_reads = vec![false; scenario.inputs.len()];
                mark_stream_inputs(world, &mut stream_reads);
                WorldModel {
                    scenario: world,
                    discounting: Discounting::new(world),
                    copula: Copula::of(world),
                    first_read,
                    stream_reads,
                }
            })
            .collect();
        PathModel { scenario, worlds, world_of_deal }
    }

    pub fn state(&self) -> PathState {
        let scenario = self.scenario;
        PathState {
            worlds: self.worlds.iter().map(|world| WorldPath::new(world.scenario)).collect(),
            outcomes: (0..scenario.deals.len())
                .map(|d| DealOutcome::new(self.worlds[self.world_of_deal[d]].scenario, &scenario.deals[d]))
                .collect(),
            own_draws: vec![0.0; draws_per_path(scenario)],
            scratch: DrawScratch::new(scenario),
        }
    }

    /// Draws the rows of `paths` ([`super::draws_per_path`] values each: inputs, then coins), as the
    /// first world reads them.
    pub fn draw_block(&self, seed: u64, paths: Range<u64>, draws: &mut [f64], scratch: &mut DrawScratch) {
        sample_block_inputs(self.scenario, self.worlds[0].copula.as_ref(), seed, paths, draws, scratch);
    }

    /// Samples path `path`'s worlds: the first from `row` (its inputs, then its coins), each
    /// other from its own draws. The inputs only later worlds read are written back into `row`,
    /// so the row holds each input as the world that reads it drew it.
    pub fn sample(&self, seed: u64, path: u64, row: &mut [f64], state: &mut PathState) {
        for (w, (model, world)) in self.worlds.iter().zip(&mut state.worlds).enumerate() {
            if w == 0 {
                world.take_draws(row);
            } else {
                // A block of one path: the draws a run of this world's file alone makes.
                let own = &mut state.own_draws;
                sample_block_inputs(
                    model.scenario,
                    model.copula.as_ref(),
                    seed,
                    path..path + 1,
                    own,
                    &mut state.scratch,
                );
                world.take_draws(own);
            }
            sample_path(model.scenario, seed, path, world);
        }
        for (model, world) in self.worlds.iter().zip(&state.worlds).skip(1) {
            for &input in &model.first_read {
                row[input] = world.inputs[input];
            }
        }
    }

    /// Samples path `path`'s worlds again with `input` fixed at `value` after the draw, so that
    /// every other random number stays where it was: `drawn` holds the path as [`Self::sample`]
    /// drew it. Streams that do not read the input keep their drawn run-rates, which is what
    /// re-sampling them would give.
    pub fn sample_pinned(
        &self,
        seed: u64,
        path: u64,
        (input, value): (InputId, f64),
        drawn: &PathState,
        state: &mut PathState,
    ) {
        for ((model, world), as_drawn) in self.worlds.iter().zip(&mut state.worlds).zip(&drawn.worlds) {
            world.inputs.copy_from_slice(&as_drawn.inputs);
            world.coins.copy_from_slice(&as_drawn.coins);
            world.inputs[input] = value;
            if model.stream_reads[input] {
                sample_path(model.scenario, seed, path, world);
            } else {
                world.run_rate.copy_from_slice(&as_drawn.run_rate);
                world.revenue.copy_from_slice(&as_drawn.revenue);
                sample_all_but_streams(model.scenario, seed, path, world);
            }
        }
    }

    /// The world deal `deal` runs on, by index into [`PathState::worlds`].
    pub fn world_of(&self, deal: usize) -> usize {
        self.world_of_deal[deal]
    }

    /// Applies deal `deal` on its world.
    pub fn apply(&self, deal: usize, worlds: &[WorldPath], outcome: &mut DealOutcome) {
        let model = &self.worlds[self.world_of_deal[deal]];
        let world = &worlds[self.world_of_deal[deal]];
        apply_deal(model.scenario, &self.scenario.deals[deal], &model.discounting, world, outcome);
    }

    /// Applies every deal on its world.
    pub fn apply_all(&self, state: &mut PathState) {
        for (deal, outcome) in state.outcomes.iter_mut().enumerate() {
            self.apply(deal, &state.worlds, outcome);
        }
    }
}

/// Marks the inputs a world reads: its own values, and the terms and stakes of its deals.
fn inputs_read(world: &Scenario, deals: impl Iterator<Item = usize>, reads: &mut [bool]) {
    world.clone().visit_world_scalars(&mut |scalar| {
        if let Scalar::Input(input) = *scalar {
            reads[input] = true;
        }
    });
    for d in deals {
        for input in world.deals[d].inputs_read() {
            reads[input] = true;
        }
    }
}
