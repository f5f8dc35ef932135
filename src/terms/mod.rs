//! Deal terms: pure functions from one sampled world path to each party's cash flows and metrics.

use crate::sampling::world::WorldPath;
use crate::scenario::{CommitmentWindow, Deal, Scenario, TrancheTiming};

/// What a revenue share did on one path.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ShareOutcome {
    /// Paid over the horizon (not counting `paid_before`).
    pub paid: f64,
    pub cap_hit: bool,
    /// Fractional calendar year at the end of the period the cap was reached.
    pub cap_hit_year: Option<f64>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CommitmentOutcome {
    pub spend: f64,
    pub shortfall: f64,
    pub penalty: f64,
    pub met: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct InvestmentOutcome {
    pub paid: f64,
    /// The stake its tranches bought, after later dilution, at the horizon.
    pub stake: f64,
    pub value: f64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PartyOutcome {
    pub npv: f64,
    pub cloud_profit: f64,
    pub revenue_share_net: f64,
    pub equity_value: f64,
    pub stake: f64,
    /// Lowest cash balance; NaN where the party has no initial cash.
    pub min_cash: f64,
}

/// Everything one deal produced on one path. Per-period arrays are `[item * periods + k]`.
#[derive(Clone, Debug)]
pub struct DealOutcome {
    pub flow: Vec<f64>,
    pub cash: Vec<f64>,
    pub share_paid_cumulative: Vec<f64>,
    pub shares: Vec<ShareOutcome>,
    pub commitment_spend_cumulative: Vec<f64>,
    pub commitments: Vec<CommitmentOutcome>,
    pub investments: Vec<InvestmentOutcome>,
    pub parties: Vec<PartyOutcome>,
    /// Each party's stake in the valued company at the end of period k.
    pub stake: Vec<f64>,
    /// Tranche payments of this path, sorted by period: (period, investment, amount).
    payments: Vec<(usize, usize, f64)>,
    investment_stake: Vec<f64>,
    party_stake: Vec<f64>,
}

impl DealOutcome {
    pub fn new(scenario: &Scenario, deal: &Deal) -> DealOutcome {
        let periods = scenario.grid().periods();
        let parties = scenario.parties.len();
        DealOutcome {
            flow: vec![0.0; parties * periods],
            cash: vec![0.0; parties * periods],
            share_paid_cumulative: vec![0.0; deal.revenue_shares.len() * periods],
            shares: vec![ShareOutcome::default(); deal.revenue_shares.len()],
            commitment_spend_cumulative: vec![0.0; deal.commitments.len() * periods],
            commitments: vec![CommitmentOutcome::default(); deal.commitments.len()],
            investments: vec![InvestmentOutcome::default(); deal.investments.len()],
            parties: vec![PartyOutcome::default(); parties],
            stake: vec![0.0; parties * periods],
            payments: Vec::new(),
            investment_stake: vec![0.0; deal.investments.len()],
            party_stake: vec![0.0; parties],
        }
    }
}

/// Discount factors per party, computed once per scenario.
#[derive(Clone, Debug)]
pub struct Discounting {
    periods: usize,
    /// (1 + r)^-((k+1)Δt), `[party * periods + k]`.
    period_factor: Vec<f64>,
    /// (1 + r)^-years.
    horizon_factor: Vec<f64>,
}

impl Discounting {
    pub fn new(scenario: &Scenario) -> Discounting {
        let grid = scenario.grid();
        let periods = grid.periods();
        let mut period_factor = Vec::with_capacity(scenario.parties.len() * periods);
        let mut horizon_factor = Vec::with_capacity(scenario.parties.len());
        for party in &scenario.parties {
            let base = 1.0 + party.discount_rate;
            period_factor.extend((0..periods).map(|k| base.powf(-((k + 1) as f64) * grid.dt())));
            horizon_factor.push(base.powf(-f64::from(grid.years)));
        }
        Discounting { periods, period_factor, horizon_factor }
    }
}

/// Applies a deal's terms to one world path.
pub fn apply_deal(
    scenario: &Scenario,
    deal: &Deal,
    discounting: &Discounting,
    world: &WorldPath,
    out: &mut DealOutcome,
) {
    let periods = discounting.periods;
    out.flow.copy_from_slice(&world.base_flow);
    for (party, outcome) in out.parties.iter_mut().enumerate() {
        *outcome = PartyOutcome { cloud_profit: world.cloud_profit[party], ..PartyOutcome::default() };
    }
    revenue_shares(scenario, deal, world, out);
    commitments(scenario, deal, world, out);
    investments(deal, world, out);
    let end_value = world.valuation.last().copied().unwrap_or(0.0);
    for (p, party) in scenario.parties.iter().enumerate() {
        let flows = &out.flow[p * periods..(p + 1) * periods];
        let factors = &discounting.period_factor[p * periods..(p + 1) * periods];
        let discounted: f64 = flows.iter().zip(factors).map(|(flow, factor)| flow * factor).sum();
        let outcome = &mut out.parties[p];
        outcome.equity_value = outcome.stake * end_value;
        outcome.npv = discounted + outcome.equity_value * discounting.horizon_factor[p];
        outcome.min_cash = party.initial_cash.map_or(f64::NAN, |initial| {
            let mut cash = initial.eval(&world.inputs);
            let mut lowest = cash;
            for (balance, flow) in out.cash[p * periods..(p + 1) * periods].iter_mut().zip(flows) {
                cash += flow;
                *balance = cash;
                lowest = lowest.min(cash);
            }
            lowest
        });
    }
}

fn revenue_shares(scenario: &Scenario, deal: &Deal, world: &WorldPath, out: &mut DealOutcome) {
    let grid = scenario.grid();
    let periods = grid.periods();
    let inputs = &world.inputs;
    for (t, term) in deal.revenue_shares.iter().enumerate() {
        // What the term may still pay under its cap. Tracking the total paid against it (not a
        // running sum that includes paid_before) makes a capped total exactly the same figure
        // whatever the rate: a lower rate can never pay a rounding error more.
        let room = term.cap.map(|cap| cap.eval(inputs) - term.paid_before.eval(inputs));
        let mut outcome = ShareOutcome::default();
        if room.is_some_and(|room| room <= 0.0) {
            outcome.cap_hit = true;
            outcome.cap_hit_year = Some(f64::from(grid.start_year));
        }
        // No payments after the period the ending event occurs in.
        let last = match term.ends_on.and_then(|event| world.event_period[event]) {
            Some(event_period) => term.last.min(event_period),
            None => term.last,
        };
        let cumulative = &mut out.share_paid_cumulative[t * periods..(t + 1) * periods];
        for (k, cumulative_paid) in cumulative.iter_mut().enumerate() {
            if k >= term.first && k <= last && !outcome.cap_hit {
                let due = term.rate.at(k, inputs) * world.channel_revenue(term.stream, &term.channels, k);
                let pay = match room {
                    Some(room) if outcome.paid + due >= room => {
                        outcome.cap_hit = true;
                        outcome.cap_hit_year = Some(grid.year_end(k));
                        let pay = room - outcome.paid;
                        outcome.paid = room;
                        pay
                    }
                    _ => {
                        outcome.paid += due;
                        due
                    }
                };
                out.flow[term.payer * periods + k] -= pay;
                out.flow[term.payee * periods + k] += pay;
            }
            *cumulative_paid = outcome.paid;
        }
        out.parties[term.payer].revenue_share_net -= outcome.paid;
        out.parties[term.payee].revenue_share_net += outcome.paid;
        out.shares[t] = outcome;
    }
}

fn commitments(scenario: &Scenario, deal: &Deal, world: &WorldPath, out: &mut DealOutcome) {
    let grid = scenario.grid();
    let periods = grid.periods();
    let inputs = &world.inputs;
    let compute = scenario.compute.as_ref();
    for (c, term) in deal.commitments.iter().enumerate() {
        let last = match term.window {
            CommitmentWindow::Through(last) => last,
            CommitmentWindow::Years(years) => {
                let length = (years.eval(inputs) * f64::from(grid.steps_per_year)).round().max(1.0) as usize;
                (term.first + length - 1).min(periods - 1)
            }
        };
        let spend_with_provider = &world.provider_spend[term.provider * periods..(term.provider + 1) * periods];
        let cumulative = &mut out.commitment_spend_cumulative[c * periods..(c + 1) * periods];
        let mut spend = 0.0;
        for k in 0..periods {
            if k >= term.first && k <= last {
                spend += spend_with_provider[k];
            }
            cumulative[k] = spend;
        }
        let total = term.total.eval(inputs);
        let shortfall = (total - spend).max(0.0);
        let penalty = term.take_or_pay.eval(inputs) * shortfall;
        let owner = compute.expect("commitments are validated to have compute").providers[term.provider].owner;
        out.flow[term.buyer * periods + last] -= penalty;
        out.flow[owner * periods + last] += penalty;
        out.parties[owner].cloud_profit += penalty;
        out.commitments[c] = CommitmentOutcome { spend, shortfall, penalty, met: spend >= total };
    }
}

fn investments(deal: &Deal, world: &WorldPath, out: &mut DealOutcome) {
    let periods = world.periods;
    let inputs = &world.inputs;
    out.party_stake.fill(0.0);
    for &(party, stake) in &deal.equity {
        out.party_stake[party] = stake.eval(inputs);
    }
    out.investment_stake.fill(0.0);
    out.payments.clear();
    for (i, investment) in deal.investments.iter().enumerate() {
        for tranche in &investment.tranches {
            let due = match tranche.timing {
                TrancheTiming::Date(period) => Some(period),
                TrancheTiming::OnEvent { event, last } => world.event_period[event].filter(|&k| k <= last),
            };
            if let Some(period) = due
                && world.coins[tranche.coin] < tranche.probability.eval(inputs)
            {
                out.payments.push((period, i, tranche.amount.eval(inputs)));
            }
        }
    }
    // Stable: tranches due in the same period are paid in the order the deal lists them.
    out.payments.sort_by_key(|&(period, _, _)| period);
    out.investments.fill(InvestmentOutcome::default());
    let mut next_payment = 0;
    for k in 0..periods {
        // A later tranche in the same period prices against the value after the earlier ones.
        let mut pre_money = world.valuation.get(k).copied().unwrap_or(0.0);
        while let Some(&(_, i, amount)) = out.payments.get(next_payment).filter(|&&(period, _, _)| period == k) {
            next_payment += 1;
            if amount <= 0.0 {
                continue;
            }
            let post_money = pre_money + amount;
            let dilution = pre_money / post_money;
            out.party_stake.iter_mut().for_each(|stake| *stake *= dilution);
            out.investment_stake.iter_mut().for_each(|stake| *stake *= dilution);
            out.investment_stake[i] += amount / post_money;
            pre_money = post_money;
            out.investments[i].paid += amount;
            let investment = &deal.investments[i];
            out.flow[investment.investor * periods + k] -= amount;
            out.flow[investment.investee * periods + k] += amount;
        }
        for (p, held) in out.party_stake.iter().enumerate() {
            let bought: f64 = deal
                .investments
                .iter()
                .zip(&out.investment_stake)
                .filter(|(investment, _)| investment.investor == p)
                .map(|(_, stake)| stake)
                .sum();
            out.stake[p * periods + k] = held + bought;
        }
    }
    let end_value = world.valuation.last().copied().unwrap_or(0.0);
    for (i, investment) in deal.investments.iter().enumerate() {
        let stake = out.investment_stake[i];
        out.investments[i].stake = stake;
        out.investments[i].value = stake * end_value;
        out.party_stake[investment.investor] += stake;
    }
    for (outcome, stake) in out.parties.iter_mut().zip(&out.party_stake) {
        outcome.stake = *stake;
    }
}
