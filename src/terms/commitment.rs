//! Compute commitments: the buyer undertakes to spend a total with a provider over a window, and
//! pays take-or-pay on any shortfall when the window ends.

use super::{Activation, DealState, Measure, PathContext, transfer};
use crate::engine::metrics::{Scope, Sink};
use crate::format::Unit;
use crate::scenario::build::{Bound, Builder, Kind, Shape};
use crate::scenario::reader::{KeyPath, Table};
use crate::scenario::{Curve, PartyId, ProviderId, Scalar, Scenario};

#[derive(Clone, Debug, PartialEq)]
pub enum CommitmentWindow {
    /// Last included period.
    Through(usize),
    /// Whole years from the first period, rounded to periods.
    Years(Scalar),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Commitment {
    pub name: String,
    pub buyer: PartyId,
    pub provider: ProviderId,
    pub total: Scalar,
    pub first: usize,
    pub window: CommitmentWindow,
    pub take_or_pay: Scalar,
    /// With `starts_on`, the commitment exists only where the event occurs, its window starting
    /// the period after; with `ends_on`, an event before its last period cancels it, no penalty due.
    pub activation: Activation,
}

/// What a commitment reports: summary.csv's `commitment.<name>.<key>` and timeseries.csv's,
/// in words.
pub(crate) const METRICS: &[Measure] = &[
    Measure { key: "spend", label: "spend counted", unit: Unit::Money },
    Measure { key: "shortfall", label: "shortfall", unit: Unit::Money },
    Measure { key: "penalty", label: "take-or-pay penalty", unit: Unit::Money },
    Measure { key: "met", label: "met in full", unit: Unit::Probability },
    Measure { key: "in_force", label: "in force", unit: Unit::Probability },
];
pub(crate) const SERIES: &[Measure] =
    &[Measure { key: "spend_cumulative", label: "spend counted to date", unit: Unit::Money }];

/// What a commitment did on one path.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    pub spend: f64,
    pub shortfall: f64,
    pub penalty: f64,
    pub met: bool,
    /// Whether it was in force at all: started (where it `starts_on` an event) and not cancelled.
    pub in_force: bool,
    /// Spend counted toward the total by the end of each period.
    pub spend_cumulative: Vec<f64>,
}

impl Outcome {
    pub fn new(periods: usize) -> Outcome {
        Outcome { spend_cumulative: vec![0.0; periods], ..Outcome::default() }
    }
}

impl Commitment {
    pub(crate) fn read<'a>(
        b: &mut Builder<'_, 'a>,
        table: &mut Table<'a>,
        path: &KeyPath,
        names: &str,
    ) -> Option<Commitment> {
        let name = b.required_name(table, names);
        let buyer = b.compute_buyer(table, path);
        let provider = b.provider_ref(table, path);
        let total = b.required_value(table, "total", Kind::Money, Bound::NonNegativeMoney, Shape::Scalar);
        let take_or_pay = b
            .optional_value(table, "take_or_pay", Kind::Fraction, Bound::Unit, Shape::Scalar)
            .map_or(Scalar::Const(1.0), Curve::into_scalar);
        let first = b.optional_first_period(table, path);
        let activation = b.activation(table, path);
        // A commitment that starts on an event may run past the horizon from a late start; it is
        // then not yet due, so only one with a fixed start must end inside the horizon.
        let must_end_inside = activation.is_some_and(|a| a.starts_on.is_none());
        let window = b.commitment_window(table, path, first, must_end_inside);
        Some(Commitment {
            name: name?,
            buyer: buyer?,
            provider: provider?,
            total: total?.into_scalar(),
            first: first?,
            window: window?,
            take_or_pay,
            activation: activation?,
        })
    }

    pub(crate) fn visit_draws(&mut self, scalar: &mut dyn FnMut(&mut Scalar)) {
        scalar(&mut self.total);
        scalar(&mut self.take_or_pay);
        if let CommitmentWindow::Years(years) = &mut self.window {
            scalar(years);
        }
    }

    pub(crate) fn describe(&self, scenario: &Scenario) -> String {
        let grid = scenario.grid();
        let provider = scenario.compute.as_ref().map_or("", |compute| compute.providers[self.provider].name.as_str());
        let end = match self.window {
            CommitmentWindow::Through(last) => format!("through {}", grid.label(last)),
            CommitmentWindow::Years(years) => format!("for {} years", scenario.describe_scalar(years, None)),
        };
        format!(
            "{} buys {} from {provider} from {} {end}, take-or-pay {}{}",
            scenario.parties[self.buyer].name,
            scenario.describe_scalar(self.total, Some(Unit::Money)),
            grid.label(self.first),
            scenario.describe_scalar(self.take_or_pay, Some(Unit::Share)),
            self.activation.describe(|event| scenario.events[event].name.clone()),
        )
    }

    /// The window's first and last period on this path (the last possibly past the horizon for a
    /// commitment that starts on an event), or None where it never starts.
    fn window_on(&self, path: &PathContext<'_>) -> Option<(usize, usize)> {
        let (world, inputs) = (path.world, &path.world.inputs);
        let first = match self.activation.starts_on {
            Some(event) => self.first.max(world.event_period[event]? + 1),
            None => self.first,
        };
        let last = match self.window {
            CommitmentWindow::Through(last) => last,
            CommitmentWindow::Years(years) => {
                let steps = f64::from(path.scenario.grid().steps_per_year);
                first + ((years.eval(inputs) * steps).round().max(1.0) as usize) - 1
            }
        };
        (first <= last).then_some((first, last))
    }

    pub(crate) fn apply(&self, path: &PathContext<'_>, state: &mut DealState, out: &mut Outcome) {
        let periods = state.periods;
        let inputs = &path.world.inputs;
        let window = self.window_on(path);
        // Cancelled where the ending event comes before the window's last period.
        let cancelled_at = self
            .activation
            .ends_on
            .and_then(|event| path.world.event_period[event])
            .filter(|&k| window.is_some_and(|(_, last)| k < last));
        let counted = window.map(|(first, last)| (first, cancelled_at.unwrap_or(last).min(periods - 1)));
        let spend_with_provider = &state.provider_spend[self.provider * periods..(self.provider + 1) * periods];
        let mut spend = 0.0;
        for (k, cumulative) in out.spend_cumulative.iter_mut().enumerate() {
            if counted.is_some_and(|(first, last)| (first..=last).contains(&k)) {
                spend += spend_with_provider[k];
            }
            *cumulative = spend;
        }
        let total = self.total.eval(inputs);
        // Due only where the window ends inside the horizon and nothing cancelled it.
        let due_in = window.map(|(_, last)| last).filter(|&last| last < periods && cancelled_at.is_none());
        let shortfall = if due_in.is_some() { (total - spend).max(0.0) } else { 0.0 };
        let penalty = self.take_or_pay.eval(inputs) * shortfall;
        if let Some(last) = due_in {
            let owner = path.scenario.compute.as_ref().expect("commitments are validated to have compute").providers
                [self.provider]
                .owner;
            transfer(state, self.buyer, owner, last, penalty);
            state.parties[owner].cloud_profit += penalty;
        }
        out.spend = spend;
        out.shortfall = shortfall;
        out.penalty = penalty;
        out.met = spend >= total;
        out.in_force = window.is_some() && cancelled_at.is_none();
    }

    pub(crate) fn emit<S: Sink>(&self, out: &Outcome, scope: Scope, sink: &mut S) {
        let name = &self.name;
        sink.metric(scope, format_args!("commitment.{name}.spend"), out.spend);
        sink.metric(scope, format_args!("commitment.{name}.shortfall"), out.shortfall);
        sink.metric(scope, format_args!("commitment.{name}.penalty"), out.penalty);
        sink.metric(scope, format_args!("commitment.{name}.met"), if out.met { 1.0 } else { 0.0 });
        if self.activation.is_contingent() {
            sink.metric(scope, format_args!("commitment.{name}.in_force"), if out.in_force { 1.0 } else { 0.0 });
        }
        sink.series(scope, format_args!("commitment.{name}.spend_cumulative"), &out.spend_cumulative);
    }
}
