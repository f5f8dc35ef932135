//! Stochastic drivers: samples one path of the world (inputs, events, streams, compute, valuation).

use rand::RngExt;
use rand_distr::StandardNormal;
use rand_xoshiro::Xoshiro256PlusPlus;

use super::random::{generator, unit};
use crate::scenario::{EventTiming, JumpSize, Scalar, Scenario};

/// One sampled path of the world. Per-period arrays are flat, indexed `[item * periods + k]`.
/// Reused across paths to avoid allocation in the hot loop.
#[derive(Clone, Debug)]
pub struct WorldPath {
    pub periods: usize,
    /// One draw per uncertain input, by input id.
    pub inputs: Vec<f64>,
    /// Uniform draws for the deals' coin flips, by coin id.
    pub coins: Vec<f64>,
    /// The period each event occurs in, if it does.
    pub event_period: Vec<Option<usize>>,
    /// Run-rate at the end of period k, R_{k+1}, per stream.
    pub run_rate: Vec<f64>,
    /// Revenue booked in period k, R_{k+1}·Δt, per stream.
    pub revenue: Vec<f64>,
    /// Normalized channel shares at t_k, per channel (streams' channels laid end to end).
    pub channel_share: Vec<f64>,
    /// First channel row of each stream in `channel_share`.
    pub channel_offset: Vec<usize>,
    /// The compute bill of each channel of the compute stream: cost ratio × channel revenue.
    pub channel_bill: Vec<f64>,
    /// How the world splits each such channel's bill across providers (by its route, or by the
    /// providers' shares), `[(channel * providers + provider) * periods + k]`.
    pub channel_split: Vec<f64>,
    /// The lab's compute spend with each provider, as the world splits it.
    pub provider_spend: Vec<f64>,
    /// Each provider's margin.
    pub provider_margin: Vec<f64>,
    /// Enterprise value of the valued company at the end of period k.
    pub valuation: Vec<f64>,
    /// Each party's cash flow before any deal: own revenue less other costs and compute
    /// bought, plus cloud profit earned.
    pub base_flow: Vec<f64>,
    /// Each party's cloud profit over the horizon, before any deal.
    pub cloud_profit: Vec<f64>,
    /// Per-period values of the curve being applied, reused for each curve in turn.
    curve: Vec<f64>,
    /// A second curve's values, for steps that combine two (growth and volatility).
    other_curve: Vec<f64>,
    /// Per-period totals of the shares being normalized.
    share_totals: Vec<f64>,
}

impl WorldPath {
    pub fn new(scenario: &Scenario) -> WorldPath {
        let periods = scenario.grid().periods();
        let mut channel_offset = Vec::with_capacity(scenario.streams.len());
        let mut channels = 0;
        for stream in &scenario.streams {
            channel_offset.push(channels);
            channels += stream.channels.len();
        }
        let providers = scenario.compute.as_ref().map_or(0, |c| c.providers.len());
        let compute_channels = scenario.compute.as_ref().map_or(0, |c| scenario.streams[c.stream].channels.len());
        WorldPath {
            periods,
            inputs: vec![0.0; scenario.inputs.len()],
            coins: vec![0.0; scenario.coins.len()],
            event_period: vec![None; scenario.events.len()],
            run_rate: vec![0.0; scenario.streams.len() * periods],
            revenue: vec![0.0; scenario.streams.len() * periods],
            channel_share: vec![0.0; channels * periods],
            channel_offset,
            channel_bill: vec![0.0; compute_channels * periods],
            channel_split: vec![0.0; compute_channels * providers * periods],
            provider_spend: vec![0.0; providers * periods],
            provider_margin: vec![0.0; providers * periods],
            valuation: vec![0.0; if scenario.valuation.is_some() { periods } else { 0 }],
            base_flow: vec![0.0; scenario.parties.len() * periods],
            cloud_profit: vec![0.0; scenario.parties.len()],
            curve: vec![0.0; periods],
            other_curve: vec![0.0; periods],
            share_totals: vec![0.0; periods],
        }
    }

    /// Takes a path's row of draws: its uncertain inputs, then its coin flips.
    pub fn take_draws(&mut self, row: &[f64]) {
        let (inputs, coins) = row.split_at(self.inputs.len());
        self.inputs.copy_from_slice(inputs);
        self.coins.copy_from_slice(coins);
    }

    pub fn series(values: &[f64], item: usize, periods: usize) -> &[f64] {
        &values[item * periods..(item + 1) * periods]
    }

    /// Revenue of a stream in period k from a set of its channels.
    #[inline]
    pub fn channel_revenue(&self, stream: usize, channels: &[usize], period: usize) -> f64 {
        let offset = self.channel_offset[stream];
        let share: f64 = channels.iter().map(|&c| self.channel_share[(offset + c) * self.periods + period]).sum();
        self.revenue[stream * self.periods + period] * share
    }
}

/// The rest of path `path`, after its inputs and coins (already in `world`). Events and streams
/// draw from their own keyed numbers, so no part of the world moves another's draws.
pub fn sample_path(scenario: &Scenario, seed: u64, path: u64, world: &mut WorldPath) {
    sample_streams(scenario, seed, path, world);
    sample_all_but_streams(scenario, seed, path, world);
}

/// Path `path` but for its streams' run-rates and revenue, which `world` already holds: a world
/// whose inputs changed in none that a stream reads keeps its streams, the costliest part.
pub fn sample_all_but_streams(scenario: &Scenario, seed: u64, path: u64, world: &mut WorldPath) {
    sample_events(scenario, seed, path, world);
    split_channels(scenario, world);
    let compute_stream = compute_and_valuation(scenario, world);
    party_base_flows(scenario, compute_stream, world);
}

/// Marks the inputs the streams' run-rates read (their start, growth, volatility and jump rate).
pub fn mark_stream_inputs(scenario: &Scenario, reads: &mut [bool]) {
    let mut note = |scalar: &mut Scalar| {
        if let Scalar::Input(input) = *scalar {
            reads[input] = true;
        }
    };
    for stream in &mut scenario.streams.clone() {
        stream.visit_run_rate_scalars(&mut note);
    }
}

fn sample_events(scenario: &Scenario, seed: u64, path: u64, world: &mut WorldPath) {
    let dt = scenario.grid().dt();
    for (e, event) in scenario.events.iter().enumerate() {
        let u = unit(seed, event.identity.hash, path);
        world.event_period[e] = match event.timing {
            EventTiming::Dated { period, probability } => (u < probability.eval(&world.inputs)).then_some(period),
            EventTiming::Hazard { annual_rate, first, last } => {
                // The waiting time from the window's start is exponential; the period it falls
                // in has the per-period probability 1 - exp(-rate·Δt) of the spec.
                let rate = annual_rate.eval(&world.inputs);
                let waiting_years = -(-u).ln_1p() / rate;
                let offset = waiting_years / dt;
                (rate > 0.0 && offset < (last - first + 1) as f64).then(|| first + offset as usize)
            }
            // An event's outcomes follow it in the list: set when it is drawn, below.
            EventTiming::Outcome { .. } => world.event_period[e],
        };
        if !event.outcomes.is_empty() {
            draw_outcome(event, world.event_period[e], unit(seed, event.outcome_draw.hash, path), world);
        }
    }
}

/// Exactly one outcome of an event that occurs, in its period, by the outcomes' weights on this
/// path (normalized; all zero on a path splits equally); none where it does not occur.
fn draw_outcome(event: &crate::scenario::Event, period: Option<usize>, u: f64, world: &mut WorldPath) {
    for &(_, outcome) in &event.outcomes {
        world.event_period[outcome] = None;
    }
    let Some(period) = period else { return };
    let total: f64 = event.outcomes.iter().map(|(weight, _)| weight.eval(&world.inputs)).sum();
    let count = event.outcomes.len();
    let mut below = 0.0;
    let chosen = event
        .outcomes
        .iter()
        .position(|(weight, _)| {
            below += if total > 0.0 { weight.eval(&world.inputs) / total } else { 1.0 / count as f64 };
            u < below
        })
        // The last outcome takes what rounding leaves of the top of the unit interval.
        .unwrap_or(count - 1);
    world.event_period[event.outcomes[chosen].1] = Some(period);
}

fn sample_streams(scenario: &Scenario, seed: u64, path: u64, world: &mut WorldPath) {
    let grid = scenario.grid();
    let (periods, dt) = (grid.periods(), grid.dt());
    let sqrt_dt = dt.sqrt();
    let inputs = &world.inputs;
    let (log_growth, volatility) = (&mut world.curve, &mut world.other_curve);
    for (s, stream) in scenario.streams.iter().enumerate() {
        let mut shocks = generator(seed, stream.shocks.hash, path);
        let mut jump_draws = generator(seed, stream.jump_draws.hash, path);
        stream.growth.fill(0, inputs, log_growth);
        // The logarithms and, below, the exponentials each in a loop of their own: no call then
        // waits on the shocks, and calls with nothing between them overlap in the processor.
        for rate in log_growth.iter_mut() {
            *rate = rate.ln_1p();
        }
        stream.volatility.fill(0, inputs, volatility);
        let mut log_run_rate = stream.initial.eval(inputs).ln();
        let jump_chance = stream.jumps.as_ref().map(|jumps| {
            let expected = jumps.annual_rate.eval(inputs) * dt;
            (expected, (-expected).exp())
        });
        let run_rate = &mut world.run_rate[s * periods..(s + 1) * periods];
        let revenue = &mut world.revenue[s * periods..(s + 1) * periods];
        for k in 0..periods {
            let sigma = volatility[k];
            let shock: f64 = shocks.sample(StandardNormal);
            let mut step = (log_growth[k] - 0.5 * sigma * sigma) * dt + sigma * sqrt_dt * shock;
            if let (Some(jumps), Some((expected, no_jump))) = (&stream.jumps, jump_chance) {
                for _ in 0..poisson(&mut jump_draws, expected, no_jump) {
                    step += match &jumps.log_size {
                        JumpSize::Fixed(size) => *size,
                        JumpSize::Random(distribution) => distribution.sample(&mut jump_draws),
                    };
                }
            }
            log_run_rate += step;
            // The logarithm for now; the loop below takes its exponential.
            run_rate[k] = log_run_rate;
        }
        for (rate, revenue) in run_rate.iter_mut().zip(revenue.iter_mut()) {
            *rate = rate.exp();
            *revenue = *rate * dt;
        }
    }
}

/// A Poisson count by inversion from one uniform: jumps are rare per period, so the loop
/// almost always stops at zero.
fn poisson(rng: &mut Xoshiro256PlusPlus, mean: f64, probability_of_zero: f64) -> u32 {
    let u: f64 = rng.random();
    let (mut count, mut probability, mut cumulative) = (0, probability_of_zero, probability_of_zero);
    while u > cumulative && count < 1_000 {
        count += 1;
        probability *= mean / f64::from(count);
        cumulative += probability;
    }
    count
}

/// Normalizes shares across items at each period; all-zero shares split equally. `totals` is
/// scratch space of one entry per period.
fn normalize_shares(shares: &mut [f64], items: usize, totals: &mut [f64]) {
    // Item by item along the periods rather than period by period across the items: the
    // divisions, independent of each other, then run back to back on contiguous values.
    totals.fill(0.0);
    for row in shares.chunks_exact(totals.len()).take(items) {
        for (total, share) in totals.iter_mut().zip(row) {
            *total += share;
        }
    }
    let equal = 1.0 / items as f64;
    for row in shares.chunks_exact_mut(totals.len()).take(items) {
        for (share, &total) in row.iter_mut().zip(totals.iter()) {
            // Divided whatever the total, then chosen: no branch, so the divisions run two or
            // more at a time. A zero total's quotient is thrown away.
            let quotient = *share / total;
            *share = if total > 0.0 { quotient } else { equal };
        }
    }
}

fn split_channels(scenario: &Scenario, world: &mut WorldPath) {
    let periods = world.periods;
    for (s, stream) in scenario.streams.iter().enumerate() {
        let offset = world.channel_offset[s];
        let rows = &mut world.channel_share[offset * periods..(offset + stream.channels.len()) * periods];
        for (c, channel) in stream.channels.iter().enumerate() {
            channel.share.fill(0, &world.inputs, &mut rows[c * periods..(c + 1) * periods]);
        }
        normalize_shares(rows, stream.channels.len(), &mut world.share_totals);
    }
}

/// Fills compute spend and profit per provider and the valuation; returns the compute stream.
/// Fills the valuation and the world's compute: each channel's bill, its split across
/// providers, the spend per provider and the providers' margins. Returns the compute stream.
fn compute_and_valuation(scenario: &Scenario, world: &mut WorldPath) -> Option<usize> {
    let periods = world.periods;
    let inputs = &world.inputs;
    if let Some(valuation) = &scenario.valuation {
        // The multiple at each period's end: curve points 1..=periods.
        valuation.multiple.fill(1, inputs, &mut world.valuation);
        let run_rate = &world.run_rate[valuation.stream * periods..(valuation.stream + 1) * periods];
        for (value, rate) in world.valuation.iter_mut().zip(run_rate) {
            *value *= rate;
        }
    }
    let compute = scenario.compute.as_ref()?;
    let providers = compute.providers.len();
    let stream = &scenario.streams[compute.stream];
    // The providers' shares, normalized: the split of every channel without a route.
    let shares = &mut world.provider_spend;
    for (p, provider) in compute.providers.iter().enumerate() {
        provider.share.fill(0, inputs, &mut shares[p * periods..(p + 1) * periods]);
        provider.margin.fill(0, inputs, &mut world.provider_margin[p * periods..(p + 1) * periods]);
    }
    normalize_shares(shares, providers, &mut world.share_totals);
    let cost_ratio = &mut world.curve;
    compute.cost_ratio.fill(0, inputs, cost_ratio);
    let offset = world.channel_offset[compute.stream];
    for c in 0..stream.channels.len() {
        let revenue = &world.revenue[compute.stream * periods..(compute.stream + 1) * periods];
        let share = &world.channel_share[(offset + c) * periods..(offset + c + 1) * periods];
        let bill = &mut world.channel_bill[c * periods..(c + 1) * periods];
        for (((bill, ratio), revenue), share) in bill.iter_mut().zip(cost_ratio.iter()).zip(revenue).zip(share) {
            *bill = ratio * revenue * share;
        }
        let split = &mut world.channel_split[c * providers * periods..(c + 1) * providers * periods];
        match compute.routes.iter().find(|route| route.channel == c) {
            Some(route) => {
                split.fill(0.0);
                let row = &mut world.other_curve;
                for &(p, ref share) in &route.providers {
                    share.fill(0, inputs, row);
                    for (cell, value) in split[p * periods..(p + 1) * periods].iter_mut().zip(row.iter()) {
                        *cell += value;
                    }
                }
                normalize_shares(split, providers, &mut world.share_totals);
            }
            None => split.copy_from_slice(&world.provider_spend[..providers * periods]),
        }
    }
    // Spend per provider: every channel's bill by its split, over whole rows of periods at once.
    world.provider_spend.fill(0.0);
    let bills = world.channel_bill.chunks_exact(periods).take(stream.channels.len());
    for (bill, splits) in bills.zip(world.channel_split.chunks_exact(providers * periods)) {
        for (spend, split) in world.provider_spend.chunks_exact_mut(periods).zip(splits.chunks_exact(periods)) {
            for ((spend, bill), split) in spend.iter_mut().zip(bill).zip(split) {
                *spend += bill * split;
            }
        }
    }
    Some(compute.stream)
}

fn party_base_flows(scenario: &Scenario, compute_stream: Option<usize>, world: &mut WorldPath) {
    let periods = world.periods;
    world.base_flow.fill(0.0);
    world.cloud_profit.fill(0.0);
    for (s, stream) in scenario.streams.iter().enumerate() {
        let party = &scenario.parties[stream.owner];
        let flows = &mut world.base_flow[stream.owner * periods..(stream.owner + 1) * periods];
        let revenues = &world.revenue[s * periods..(s + 1) * periods];
        let costs = &mut world.curve;
        match &party.other_costs {
            Some(other_costs) => other_costs.fill(0, &world.inputs, costs),
            None => costs.fill(0.0),
        }
        for ((flow, revenue), costs) in flows.iter_mut().zip(revenues).zip(costs.iter()) {
            *flow += revenue * (1.0 - costs);
        }
    }
    let Some(compute) = &scenario.compute else { return };
    let buyer = scenario.streams[compute_stream.expect("compute has a stream")].owner;
    for (p, provider) in compute.providers.iter().enumerate() {
        let spend = &world.provider_spend[p * periods..(p + 1) * periods];
        let margin = &world.provider_margin[p * periods..(p + 1) * periods];
        // Row by row, not period by period across the rows: each loop then runs on contiguous
        // values. Each period still takes the spend off before it adds the profit, as the buyer
        // may own the provider too.
        for (flow, spend) in world.base_flow[buyer * periods..(buyer + 1) * periods].iter_mut().zip(spend) {
            *flow -= spend;
        }
        let owner_flow = &mut world.base_flow[provider.owner * periods..(provider.owner + 1) * periods];
        // Summed in a local: added in place, each period would wait on the last one's store.
        let mut earned = world.cloud_profit[provider.owner];
        for ((flow, spend), margin) in owner_flow.iter_mut().zip(spend).zip(margin) {
            let profit = spend * margin;
            *flow += profit;
            earned += profit;
        }
        world.cloud_profit[provider.owner] = earned;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_counts_have_the_right_mean_and_zero_probability() {
        let mut rng = generator(1, 1, 1);
        let (mean, n) = (0.3_f64, 200_000);
        let counts: Vec<u32> = (0..n).map(|_| poisson(&mut rng, mean, (-mean).exp())).collect();
        let sample_mean = counts.iter().map(|&c| f64::from(c)).sum::<f64>() / f64::from(n);
        // Var = mean for a Poisson count: 4 standard errors.
        assert!((sample_mean - mean).abs() < 4.0 * (mean / f64::from(n)).sqrt(), "{sample_mean}");
        let zeros = counts.iter().filter(|&&c| c == 0).count() as f64 / f64::from(n);
        let p0 = (-mean).exp();
        assert!((zeros - p0).abs() < 4.0 * (p0 * (1.0 - p0) / f64::from(n)).sqrt(), "{zeros}");
    }

    #[test]
    fn shares_are_normalized_and_all_zero_shares_split_equally() {
        // Two items over two periods: [item * periods + k].
        let mut shares = vec![1.0, 0.0, 3.0, 0.0];
        normalize_shares(&mut shares, 2, &mut [0.0; 2]);
        assert_eq!(shares, vec![0.25, 0.5, 0.75, 0.5]);
    }
}
