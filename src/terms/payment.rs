//! One-off payments between parties: settlements, milestone fees, damages. Due at a date or in
//! the period an event occurs, paid with a probability.

use super::{Activation, DealState, Measure, PathContext, TrancheTiming, transfer};
use crate::engine::metrics::{Scope, Sink};
use crate::format::Unit;
use crate::scenario::build::{Bound, Builder, Kind, Shape};
use crate::scenario::reader::{KeyPath, Table};
use crate::scenario::{CoinId, Curve, PartyId, Scalar, Scenario};

#[derive(Clone, Debug, PartialEq)]
pub struct Payment {
    pub name: String,
    pub payer: PartyId,
    pub payee: PartyId,
    pub amount: Scalar,
    pub timing: TrancheTiming,
    pub probability: Scalar,
    pub coin: CoinId,
    /// Not paid when due outside the periods it is in force.
    pub activation: Activation,
}

/// What a payment reports: summary.csv's `payment.<name>.<key>`, in words.
pub(crate) const METRICS: &[Measure] = &[
    Measure { key: "paid", label: "paid", unit: Unit::Money },
    Measure { key: "year", label: "year paid", unit: Unit::Year },
];

/// What a payment did on one path.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    pub paid: f64,
    /// The fractional calendar year at the end of the period it was paid in.
    pub year: Option<f64>,
}

impl Payment {
    pub(crate) fn read<'a>(
        b: &mut Builder<'_, 'a>,
        table: &mut Table<'a>,
        path: &KeyPath,
        names: &str,
    ) -> Option<Payment> {
        let name = b.required_name(table, names);
        let (payer, payee) = b.payer_and_payee(table, path);
        let amount = b.required_value(table, "amount", Kind::Money, Bound::NonNegativeMoney, Shape::Scalar);
        let probability = b
            .optional_value(table, "probability", Kind::Fraction, Bound::Unit, Shape::Scalar)
            .map_or(Scalar::Const(1.0), Curve::into_scalar);
        let timing = b.due(table, path, "payment");
        let activation = b.activation(table, path);
        let coin = b.coin(path);
        Some(Payment {
            name: name?,
            payer: payer?,
            payee: payee?,
            amount: amount?.into_scalar(),
            timing: timing?,
            probability,
            coin,
            activation: activation?,
        })
    }

    pub(crate) fn visit_draws(&mut self, scalar: &mut dyn FnMut(&mut Scalar), coin: &mut dyn FnMut(&mut CoinId)) {
        scalar(&mut self.amount);
        scalar(&mut self.probability);
        coin(&mut self.coin);
    }

    pub(crate) fn describe(&self, scenario: &Scenario) -> String {
        let grid = scenario.grid();
        let when = match self.timing {
            TrancheTiming::Date(period) => format!("in {}", grid.label(period)),
            TrancheTiming::OnEvent { event, last } => {
                format!("on {} by {}", scenario.events[event].name, grid.label(last))
            }
        };
        let mut text = format!(
            "{} pays {} {} {when}",
            scenario.parties[self.payer].name,
            scenario.parties[self.payee].name,
            scenario.describe_scalar(self.amount, Some(Unit::Money))
        );
        if self.probability != Scalar::Const(1.0) {
            text.push_str(&format!(
                " with probability {}",
                scenario.describe_scalar(self.probability, Some(Unit::Probability))
            ));
        }
        text + &self.activation.describe(|event| scenario.events[event].name.clone())
    }

    pub(crate) fn apply(&self, path: &PathContext<'_>, state: &mut DealState, out: &mut Outcome) {
        let world = path.world;
        *out = Outcome::default();
        let Some(period) = self.timing.due(&world.event_period) else { return };
        let in_force = self.activation.periods(world).is_some_and(|(first, last)| (first..=last).contains(&period));
        if in_force && world.coins[self.coin] < self.probability.eval(&world.inputs) {
            let amount = self.amount.eval(&world.inputs);
            transfer(state, self.payer, self.payee, period, amount);
            out.paid = amount;
            out.year = Some(path.scenario.grid().year_end(period));
        }
    }

    pub(crate) fn emit<S: Sink>(&self, out: &Outcome, scope: Scope, sink: &mut S) {
        let name = &self.name;
        sink.metric(scope, format_args!("payment.{name}.paid"), out.paid);
        // Only paths where it is paid have a year; a payment certain to be paid on a date has no
        // uncertainty worth a row.
        if !matches!(self.timing, TrancheTiming::Date(_))
            || self.probability != Scalar::Const(1.0)
            || self.activation.is_contingent()
        {
            sink.year_metric(scope, format_args!("payment.{name}.year"), out.year);
        }
    }
}
