//! Typed, validated scenarios: the immutable model every simulation runs on.
//!
//! Values here have passed validation (see [`build`]); nothing downstream re-checks user input.

pub(crate) mod build;
mod combine;
mod document;
pub mod grid;
pub(crate) mod reader;

use crate::format::{self, Unit};
use crate::sampling::distribution::Distribution;
pub use crate::sampling::random::Identity;
use crate::terms::{Term, TermKind};
pub use build::{MAX_PATHS, Override, parse_amount_or_share, parse_scenario, parse_scenario_file};
pub use combine::{
    NotPairable, PairError, WorldDifferences, check_pairable, combine, pair, world_differences, world_values,
};
pub use document::Loader;
pub use grid::{Date, Grid};
pub use reader::{Diagnostic, Diagnostics};

pub type InputId = usize;
pub type PartyId = usize;
pub type StreamId = usize;
pub type ProviderId = usize;
pub type EventId = usize;
/// Index of a latent uniform: the random number that every input of one identity is drawn from.
pub type LatentId = usize;
/// Index of an auxiliary uniform draw of a path (a tranche's coin flip).
pub type CoinId = usize;

/// A number that is either fixed or drawn once per path from an uncertain input.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar {
    Const(f64),
    Input(InputId),
}

impl Scalar {
    #[inline]
    pub fn eval(self, inputs: &[f64]) -> f64 {
        match self {
            Scalar::Const(value) => value,
            Scalar::Input(id) => inputs[id],
        }
    }
}

/// A value that may change over time: constant per path, a trajectory or a step schedule.
/// Defined at every period start and at the horizon's end (`periods + 1` points).
#[derive(Clone, Debug, PartialEq)]
pub enum Curve {
    Flat(Scalar),
    /// `end + (start - end) * decay[k]`, with `decay[k] = 2^(-t_k / half_life)` precomputed.
    Trajectory {
        start: Scalar,
        end: Scalar,
        half_life: f64,
        decay: Vec<f64>,
    },
    /// `values[step_of_period[k]]`.
    Schedule {
        dates: Vec<Date>,
        values: Vec<Scalar>,
        step_of_period: Vec<usize>,
    },
}

impl Curve {
    /// Visits every value the curve holds, constant or drawn.
    pub fn visit_scalars(&mut self, visit: &mut dyn FnMut(&mut Scalar)) {
        match self {
            Curve::Flat(value) => visit(value),
            Curve::Trajectory { start, end, .. } => {
                visit(start);
                visit(end);
            }
            Curve::Schedule { values, .. } => values.iter_mut().for_each(visit),
        }
    }

    #[inline]
    pub fn at(&self, period: usize, inputs: &[f64]) -> f64 {
        match self {
            Curve::Flat(value) => value.eval(inputs),
            Curve::Trajectory { start, end, decay, .. } => {
                let end = end.eval(inputs);
                end + (start.eval(inputs) - end) * decay[period]
            }
            Curve::Schedule { values, step_of_period, .. } => values[step_of_period[period]].eval(inputs),
        }
    }

    /// `out[i] = self.at(first + i)`, with the per-path values looked up once rather than per
    /// period (this runs for every curve on every path).
    #[inline]
    pub fn fill(&self, first: usize, inputs: &[f64], out: &mut [f64]) {
        match self {
            Curve::Flat(value) => out.fill(value.eval(inputs)),
            Curve::Trajectory { start, end, decay, .. } => {
                let (start, end) = (start.eval(inputs), end.eval(inputs));
                for (value, decay) in out.iter_mut().zip(&decay[first..]) {
                    *value = end + (start - end) * decay;
                }
            }
            Curve::Schedule { values, step_of_period, .. } => {
                for (value, &step) in out.iter_mut().zip(&step_of_period[first..]) {
                    *value = values[step].eval(inputs);
                }
            }
        }
    }
}

/// An uncertain input: a distribution drawn once per path, named by its key path. Its draw is
/// the distribution's quantile of its latent uniform, so inputs that share a latent (one term in
/// several deals, or in two files) move together, each with its own distribution.
#[derive(Clone, Debug, PartialEq)]
pub struct UncertainInput {
    /// Where it was written (`deals.apr-2026.revenue_shares.openai-to-microsoft.cap`): how
    /// `--set`, sensitivity.csv and paths.parquet name it.
    pub key: String,
    pub latent: LatentId,
    pub distribution: Distribution,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Simulation {
    pub grid: Grid,
    pub paths: u64,
    pub seed: u64,
    pub discount_rate: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Party {
    pub name: String,
    /// How outputs name it (`OpenAI` for `openai`): the scenario's `label`, or the name.
    pub label: String,
    pub discount_rate: f64,
    pub initial_cash: Option<Scalar>,
    /// Operating costs as a share of the party's own stream revenue.
    pub other_costs: Option<Curve>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum JumpSize {
    Fixed(f64),
    /// Drawn afresh for every jump, so not an uncertain input.
    Random(Box<Distribution>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Jumps {
    pub annual_rate: Scalar,
    pub log_size: JumpSize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Channel {
    pub name: String,
    pub share: Curve,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Stream {
    pub name: String,
    /// How outputs name it: the scenario's `label`, or the name.
    pub label: String,
    pub owner: PartyId,
    pub initial: Scalar,
    pub growth: Curve,
    pub volatility: Curve,
    pub jumps: Option<Jumps>,
    /// Never empty: a stream without channels has one channel named `all`.
    pub channels: Vec<Channel>,
    /// Key the generators of its shocks (`streams.<name>`) and of its jumps
    /// (`streams.<name>.jumps`), apart so that a change in the jump rate moves no shock.
    pub shocks: Identity,
    pub jump_draws: Identity,
}

impl Stream {
    /// Visits every value its run-rate path reads: its start, growth, volatility and jump rate
    /// (not its channels' shares, which only split the revenue).
    pub fn visit_run_rate_scalars(&mut self, visit: &mut dyn FnMut(&mut Scalar)) {
        visit(&mut self.initial);
        self.growth.visit_scalars(visit);
        self.volatility.visit_scalars(visit);
        if let Some(jumps) = &mut self.jumps {
            visit(&mut jumps.annual_rate);
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Provider {
    pub name: String,
    /// How outputs name it: the scenario's `label`, or the name.
    pub label: String,
    pub owner: PartyId,
    pub margin: Curve,
    pub share: Curve,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Compute {
    pub stream: StreamId,
    pub cost_ratio: Curve,
    pub providers: Vec<Provider>,
    /// Channels of the compute stream whose bill goes to named providers; the other channels
    /// split by the providers' shares.
    pub routes: Vec<ChannelRoute>,
}

/// How one channel of the compute stream splits its compute bill: shares by provider,
/// normalized each period.
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelRoute {
    /// Index among the compute stream's channels.
    pub channel: usize,
    pub providers: Vec<(ProviderId, Curve)>,
}

impl ChannelRoute {
    pub fn describe(&self, scenario: &Scenario) -> String {
        let Some(compute) = &scenario.compute else { return String::new() };
        let channel = &scenario.streams[compute.stream].channels[self.channel].name;
        let shares: Vec<String> = self
            .providers
            .iter()
            .map(|(p, share)| format!("{} {}", compute.providers[*p].name, scenario.describe_curve(share, None)))
            .collect();
        format!("{channel}'s compute to {}", shares.join(", "))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Valuation {
    pub company: PartyId,
    pub stream: StreamId,
    pub multiple: Curve,
}

#[derive(Clone, Debug, PartialEq)]
pub enum EventTiming {
    /// Occurs in `period` with `probability`.
    Dated { period: usize, probability: Scalar },
    /// Constant hazard inside the window `first..=last`.
    Hazard { annual_rate: Scalar, first: usize, last: usize },
    /// Outcome `index` of event `of`: occurs when `of` does, in the same period, if it is the
    /// outcome drawn.
    Outcome { of: EventId, index: usize },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// `<event>.<outcome>` for an outcome.
    pub name: String,
    /// How outputs name it: the scenario's `label`, or the name (an outcome's is the name).
    pub label: String,
    pub timing: EventTiming,
    /// Keys the uniform that decides whether and when it occurs (`events.<name>`), and for an
    /// event with outcomes, which one (`events.<name>.outcome`).
    pub identity: Identity,
    /// The outcomes' weights (normalized per path) and their events' ids; empty for an event
    /// without outcomes.
    pub outcomes: Vec<(Scalar, EventId)>,
    pub outcome_draw: Identity,
}

/// A Spearman rank correlation between two latents, as the scenario stated it between two keys.
#[derive(Clone, Debug, PartialEq)]
pub struct Correlation {
    pub between: [LatentId; 2],
    pub keys: [String; 2],
    pub rank: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Deal {
    pub name: String,
    pub description: String,
    /// Stakes in the valuation company at the start.
    pub equity: Vec<(PartyId, Scalar)>,
    /// In the order their kinds apply (see [`crate::terms::TermKind`]), each kind in the order
    /// written.
    pub terms: Vec<Term>,
}

impl Deal {
    /// Whether `party` can hold equity under this deal (a starting stake or an investment).
    pub fn may_hold_equity(&self, party: PartyId) -> bool {
        self.equity.iter().any(|&(holder, _)| holder == party)
            || self.terms.iter().any(|term| term.investor() == Some(party))
    }

    /// The uncertain inputs the deal reads, each once: its starting stakes' and its terms'.
    pub fn inputs_read(&self) -> Vec<InputId> {
        let mut inputs = Vec::new();
        let mut note = |scalar: &mut Scalar| {
            if let Scalar::Input(input) = *scalar
                && !inputs.contains(&input)
            {
                inputs.push(input);
            }
        };
        for &(_, mut stake) in &self.equity {
            note(&mut stake);
        }
        for term in &mut self.terms.clone() {
            term.visit_draws(&mut note, &mut |_| {});
        }
        inputs
    }

    /// The terms of one kind.
    pub fn terms_of(&self, kind: TermKind) -> impl Iterator<Item = &Term> {
        self.terms.iter().filter(move |term| term.kind() == kind)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub simulation: Simulation,
    pub parties: Vec<Party>,
    pub streams: Vec<Stream>,
    pub compute: Option<Compute>,
    pub valuation: Option<Valuation>,
    pub events: Vec<Event>,
    pub correlations: Vec<Correlation>,
    pub deals: Vec<Deal>,
    pub inputs: Vec<UncertainInput>,
    /// The identities of the inputs' uniforms, one per identity: what correlations act on.
    pub latents: Vec<Identity>,
    /// The identities of the deals' coin flips (`investment.<name>.tranches[<i>]`).
    pub coins: Vec<Identity>,
    /// Worlds besides this scenario's own, on which some of its deals run: empty but for a
    /// `compare` of two files whose worlds differ (see [`combine`]).
    pub other_worlds: Vec<OtherWorld>,
}

/// Another file's world inside a compared scenario: that file's scenario, holding the compared
/// scenario's deals, inputs, latents and coins (so every id means the same in both), whose
/// world the deals `deals` run on. Both worlds draw from the same keyed random numbers, so a
/// path of one is paired with the same path of the other.
#[derive(Clone, Debug, PartialEq)]
pub struct OtherWorld {
    pub scenario: Box<Scenario>,
    pub deals: std::ops::Range<usize>,
}

impl Scenario {
    pub fn grid(&self) -> Grid {
        self.simulation.grid
    }

    /// The scenarios whose worlds each path samples, by world index: this one, then each other
    /// world's.
    pub fn worlds(&self) -> impl Iterator<Item = &Scenario> {
        std::iter::once(self).chain(self.other_worlds.iter().map(|world| world.scenario.as_ref()))
    }

    /// The index in [`Self::worlds`] of the world deal `deal` runs on.
    pub fn world_of(&self, deal: usize) -> usize {
        self.other_worlds.iter().position(|world| world.deals.contains(&deal)).map_or(0, |w| w + 1)
    }

    /// The scenario of world `index` of [`Self::worlds`] (0 is this one).
    pub fn world(&self, index: usize) -> &Scenario {
        match index {
            0 => self,
            other => &self.other_worlds[other - 1].scenario,
        }
    }

    /// Visits every value of the world (parties, streams, compute, valuation and events), constant or drawn; deals' values are their terms' to visit.
    pub fn visit_world_scalars(&mut self, visit: &mut dyn FnMut(&mut Scalar)) {
        for party in &mut self.parties {
            if let Some(cash) = &mut party.initial_cash {
                visit(cash);
            }
            if let Some(costs) = &mut party.other_costs {
                costs.visit_scalars(visit);
            }
        }
        for stream in &mut self.streams {
            stream.visit_run_rate_scalars(visit);
            for channel in &mut stream.channels {
                channel.share.visit_scalars(visit);
            }
        }
        if let Some(compute) = &mut self.compute {
            compute.cost_ratio.visit_scalars(visit);
            for provider in &mut compute.providers {
                provider.margin.visit_scalars(visit);
                provider.share.visit_scalars(visit);
            }
            for route in &mut compute.routes {
                for (_, share) in &mut route.providers {
                    share.visit_scalars(visit);
                }
            }
        }
        if let Some(valuation) = &mut self.valuation {
            valuation.multiple.visit_scalars(visit);
        }
        for event in &mut self.events {
            match &mut event.timing {
                EventTiming::Dated { probability, .. } => visit(probability),
                EventTiming::Hazard { annual_rate, .. } => visit(annual_rate),
                EventTiming::Outcome { .. } => {}
            }
            for (weight, _) in &mut event.outcomes {
                visit(weight);
            }
        }
    }

    /// A value as `validate` shows it: the number in `unit` (money as `$250B`, shares as `20%`;
    /// without a unit, as the file would write it), or the uncertain input's key.
    pub fn describe_scalar(&self, value: Scalar, unit: Option<Unit>) -> String {
        match (value, unit) {
            (Scalar::Const(value), Some(unit)) => unit.format_short(value),
            (Scalar::Const(value), None) => format::scenario_number(value),
            (Scalar::Input(id), _) => format!("<{}>", self.inputs[id].key),
        }
    }

    pub fn describe_curve(&self, curve: &Curve, unit: Option<Unit>) -> String {
        match curve {
            Curve::Flat(value) => self.describe_scalar(*value, unit),
            Curve::Trajectory { start, end, half_life, .. } => format!(
                "{} -> {} (half-life {half_life} y)",
                self.describe_scalar(*start, unit),
                self.describe_scalar(*end, unit)
            ),
            Curve::Schedule { dates, values, .. } => {
                let steps: Vec<String> = dates
                    .iter()
                    .zip(values)
                    .map(|(date, value)| format!("{date}: {}", self.describe_scalar(*value, unit)))
                    .collect();
                format!("schedule {{{}}}", steps.join(", "))
            }
        }
    }
}
