//! Equity investments: tranches that buy stakes in the valued company at its value when paid,
//! diluting every existing stake; and the stakes over time that follow from them.

use super::{Activation, DealState, Measure, PathContext, Term, TermOutcome, transfer};
use crate::engine::metrics::{Scope, Sink};
use crate::format::Unit;
use crate::scenario::build::{Bound, Builder, Kind, Shape};
use crate::scenario::reader::{KeyPath, Table};
use crate::scenario::{CoinId, Curve, Deal, EventId, PartyId, Scalar, Scenario};

#[derive(Clone, Debug, PartialEq)]
pub enum TrancheTiming {
    /// Due in this period.
    Date(usize),
    /// Due in the period the event occurs, if it occurs by `last`.
    OnEvent { event: EventId, last: usize },
}

impl TrancheTiming {
    /// The period it falls due on this path, if it does.
    #[inline]
    pub fn due(&self, event_period: &[Option<usize>]) -> Option<usize> {
        match *self {
            TrancheTiming::Date(period) => Some(period),
            TrancheTiming::OnEvent { event, last } => event_period[event].filter(|&k| k <= last),
        }
    }
}

/// One payment of an investment: paid when due if the path's coin falls under `probability`,
/// unless the `unless` event occurred by then.
#[derive(Clone, Debug, PartialEq)]
pub struct Tranche {
    pub amount: Scalar,
    pub timing: TrancheTiming,
    pub probability: Scalar,
    pub coin: CoinId,
    pub unless: Option<EventId>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Investment {
    pub name: String,
    pub investor: PartyId,
    pub investee: PartyId,
    pub tranches: Vec<Tranche>,
    /// Tranches due outside the periods it is in force are not paid.
    pub activation: Activation,
}

/// What an investment reports: summary.csv's `investment.<name>.<key>`, in words.
pub(crate) const METRICS: &[Measure] = &[
    Measure { key: "paid", label: "paid in", unit: Unit::Money },
    Measure { key: "stake", label: "stake bought, at the horizon", unit: Unit::Share },
    Measure { key: "value", label: "stake's value at the horizon", unit: Unit::Money },
    Measure { key: "multiple", label: "value per dollar paid", unit: Unit::Multiple },
];

/// What an investment did on one path.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    pub paid: f64,
    /// The stake its tranches bought, after later dilution, at the horizon.
    pub stake: f64,
    pub value: f64,
}

impl Investment {
    pub(crate) fn read<'a>(
        b: &mut Builder<'_, 'a>,
        table: &mut Table<'a>,
        path: &KeyPath,
        names: &str,
    ) -> Option<Investment> {
        let name = b.required_name(table, names);
        let investor = b.party_ref(table, "investor");
        let investee = b.investee(table, path);
        let tranches = b.tranches(table, path, |b, tranche, tranche_path| Tranche::read(b, tranche, tranche_path));
        let activation = b.activation(table, path);
        Some(Investment { name: name?, investor: investor?, investee: investee?, tranches, activation: activation? })
    }

    pub(crate) fn visit_draws(&mut self, scalar: &mut dyn FnMut(&mut Scalar), coin: &mut dyn FnMut(&mut CoinId)) {
        for tranche in &mut self.tranches {
            scalar(&mut tranche.amount);
            scalar(&mut tranche.probability);
            coin(&mut tranche.coin);
        }
    }

    pub(crate) fn describe(&self, scenario: &Scenario) -> String {
        let tranches: Vec<String> = self.tranches.iter().map(|tranche| tranche.describe(scenario)).collect();
        format!(
            "{} invests in {}: {}{}",
            scenario.parties[self.investor].name,
            scenario.parties[self.investee].name,
            tranches.join("; "),
            self.activation.describe(|event| scenario.events[event].name.clone()),
        )
    }

    /// Records the tranches this path pays; [`settle`] prices them, in period order, once every
    /// investment of the deal has.
    pub(crate) fn apply(&self, index: usize, path: &PathContext<'_>, state: &mut DealState) {
        let world = path.world;
        let active = self.activation.periods(world);
        for tranche in &self.tranches {
            let Some(period) = tranche.timing.due(&world.event_period) else { continue };
            let in_force = active.is_some_and(|(first, last)| (first..=last).contains(&period));
            let lapsed = tranche.unless.and_then(|event| world.event_period[event]).is_some_and(|k| k <= period);
            if in_force && !lapsed && world.coins[tranche.coin] < tranche.probability.eval(&world.inputs) {
                state.tranches.push((period, index, tranche.amount.eval(&world.inputs)));
            }
        }
    }

    pub(crate) fn emit<S: Sink>(&self, out: &Outcome, scope: Scope, sink: &mut S) {
        let name = &self.name;
        let multiple = (out.paid > 0.0).then(|| out.value / out.paid);
        sink.metric(scope, format_args!("investment.{name}.paid"), out.paid);
        sink.metric(scope, format_args!("investment.{name}.stake"), out.stake);
        sink.metric(scope, format_args!("investment.{name}.value"), out.value);
        sink.conditional_metric(scope, format_args!("investment.{name}.multiple"), multiple);
    }
}

impl Tranche {
    fn read<'a>(b: &mut Builder<'_, 'a>, table: &mut Table<'a>, path: &KeyPath) -> Option<Tranche> {
        let amount = b.required_value(table, "amount", Kind::Money, Bound::NonNegativeMoney, Shape::Scalar);
        let probability = b
            .optional_value(table, "probability", Kind::Fraction, Bound::Unit, Shape::Scalar)
            .map_or(Scalar::Const(1.0), Curve::into_scalar);
        let timing = b.due(table, path, "tranche");
        let unless = b.optional_event(table, path, "unless");
        let coin = b.coin(path);
        Some(Tranche { amount: amount?.into_scalar(), timing: timing?, probability, coin, unless: unless? })
    }

    fn describe(&self, scenario: &Scenario) -> String {
        let grid = scenario.grid();
        let when = match self.timing {
            TrancheTiming::Date(period) => format!("in {}", grid.label(period)),
            TrancheTiming::OnEvent { event, last } => {
                format!("on {} by {}", scenario.events[event].name, grid.label(last))
            }
        };
        let mut text = format!("{} {when}", scenario.describe_scalar(self.amount, Some(Unit::Money)));
        if self.probability != Scalar::Const(1.0) {
            text.push_str(&format!(
                " with probability {}",
                scenario.describe_scalar(self.probability, Some(Unit::Probability))
            ));
        }
        if let Some(event) = self.unless {
            text.push_str(&format!(" unless {} by then", scenario.events[event].name));
        }
        text
    }
}

/// Prices the deal's tranches of this path in period order, and follows every stake in the
/// valued company through their dilution: each party's stake at the end of each period, each
/// investment's stake and value at the horizon.
pub(crate) fn settle(
    deal: &Deal,
    path: &PathContext<'_>,
    state: &mut DealState,
    outcomes: &mut [TermOutcome],
    stake: &mut [f64],
    party_stake: &mut [f64],
    term_stake: &mut [f64],
) {
    let (world, periods) = (path.world, state.periods);
    party_stake.fill(0.0);
    for &(party, held) in &deal.equity {
        party_stake[party] = held.eval(&world.inputs);
    }
    term_stake.fill(0.0);
    for outcome in outcomes.iter_mut() {
        if let TermOutcome::Investment(outcome) = outcome {
            *outcome = Outcome::default();
        }
    }
    // Stable: tranches due in the same period are paid in the order the deal lists them.
    if !state.tranches.is_sorted_by_key(|&(period, _, _)| period) {
        state.tranches.sort_by_key(|&(period, _, _)| period);
    }
    let tranches = std::mem::take(&mut state.tranches);
    let mut next = 0;
    // Stakes change only when a tranche is paid; other periods keep the last ones.
    let mut changed = true;
    for k in 0..periods {
        // A later tranche in the same period prices against the value after the earlier ones.
        let mut pre_money = world.valuation.get(k).copied().unwrap_or(0.0);
        while let Some(&(_, index, amount)) = tranches.get(next).filter(|&&(period, _, _)| period == k) {
            next += 1;
            if amount <= 0.0 {
                continue;
            }
            let post_money = pre_money + amount;
            let dilution = pre_money / post_money;
            party_stake.iter_mut().for_each(|held| *held *= dilution);
            term_stake.iter_mut().for_each(|held| *held *= dilution);
            term_stake[index] += amount / post_money;
            pre_money = post_money;
            let Term::Investment(investment) = &deal.terms[index] else {
                unreachable!("tranches come from investments")
            };
            if let TermOutcome::Investment(outcome) = &mut outcomes[index] {
                outcome.paid += amount;
            }
            transfer(state, investment.investor, investment.investee, k, amount);
            changed = true;
        }
        if changed {
            for (party, held) in party_stake.iter().enumerate() {
                let bought: f64 = deal
                    .terms
                    .iter()
                    .zip(term_stake.iter())
                    .filter(|(term, _)| term.investor() == Some(party))
                    .map(|(_, stake)| stake)
                    .sum();
                // Held until the next change, which overwrites the periods from its own on.
                stake[party * periods + k..(party + 1) * periods].fill(held + bought);
            }
        }
        changed = false;
    }
    state.tranches = tranches;
    let end_value = world.valuation.last().copied().unwrap_or(0.0);
    for (index, term) in deal.terms.iter().enumerate() {
        if let (Some(investor), TermOutcome::Investment(outcome)) = (term.investor(), &mut outcomes[index]) {
            outcome.stake = term_stake[index];
            outcome.value = term_stake[index] * end_value;
            party_stake[investor] += term_stake[index];
        }
    }
    for (outcome, held) in state.parties.iter_mut().zip(party_stake.iter()) {
        outcome.stake = *held;
    }
}
