//! Revenue shares: a rate of a stream's revenue (all or some of its channels) that one party pays
//! another in the periods the term is in force, up to an optional total cap.

use super::{Activation, DealState, Measure, PathContext, transfer};
use crate::engine::metrics::{Scope, Sink};
use crate::format::Unit;
use crate::scenario::build::{Bound, Builder, Kind, Shape};
use crate::scenario::reader::{KeyPath, Table};
use crate::scenario::{Curve, PartyId, Scalar, Scenario, StreamId};

#[derive(Clone, Debug, PartialEq)]
pub struct RevenueShare {
    pub name: String,
    pub payer: PartyId,
    pub payee: PartyId,
    pub stream: StreamId,
    /// Channel indices of the stream that form the base.
    pub channels: Vec<usize>,
    pub rate: Curve,
    pub first: usize,
    pub last: usize,
    pub cap: Option<Scalar>,
    /// Already counted toward the cap at the start.
    pub paid_before: Scalar,
    pub activation: Activation,
}

/// What a revenue share reports: summary.csv's `revenue_share.<name>.<key>` and
/// timeseries.csv's, in words.
pub(crate) const METRICS: &[Measure] = &[
    Measure { key: "paid", label: "paid", unit: Unit::Money },
    Measure { key: "cap_hit", label: "cap reached", unit: Unit::Probability },
    Measure { key: "cap_hit_year", label: "year the cap is reached", unit: Unit::Year },
];
pub(crate) const SERIES: &[Measure] = &[Measure { key: "paid_cumulative", label: "paid to date", unit: Unit::Money }];

/// What a revenue share did on one path.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    /// Paid over the horizon (not counting `paid_before`).
    pub paid: f64,
    pub cap_hit: bool,
    /// Fractional calendar year at the end of the period the cap was reached.
    pub cap_hit_year: Option<f64>,
    /// Paid by the end of each period.
    pub paid_cumulative: Vec<f64>,
}

impl Outcome {
    pub fn new(periods: usize) -> Outcome {
        Outcome { paid_cumulative: vec![0.0; periods], ..Outcome::default() }
    }
}

impl RevenueShare {
    pub(crate) fn read<'a>(
        b: &mut Builder<'_, 'a>,
        table: &mut Table<'a>,
        path: &KeyPath,
        names: &str,
    ) -> Option<RevenueShare> {
        let name = b.required_name(table, names);
        let (payer, payee) = b.payer_and_payee(table, path);
        let stream = b.stream_ref(table, "stream");
        let channels = b.channels_of(table, path, stream);
        let rate = b.required_curve(table, "rate", Kind::Fraction, Bound::Unit);
        let window = b.window(table);
        let cap =
            b.optional_value(table, "cap", Kind::Money, Bound::NonNegativeMoney, Shape::Scalar).map(Curve::into_scalar);
        let paid_before = b
            .optional_value(table, "paid_before", Kind::Money, Bound::NonNegativeMoney, Shape::Scalar)
            .map_or(Scalar::Const(0.0), Curve::into_scalar);
        let activation = b.activation(table, path);
        let (first, last) = window?;
        Some(RevenueShare {
            name: name?,
            payer: payer?,
            payee: payee?,
            stream: stream?,
            channels: channels?,
            rate: rate?,
            first,
            last,
            cap,
            paid_before,
            activation: activation?,
        })
    }

    pub(crate) fn visit_draws(&mut self, scalar: &mut dyn FnMut(&mut Scalar)) {
        self.rate.visit_scalars(scalar);
        if let Some(cap) = &mut self.cap {
            scalar(cap);
        }
        scalar(&mut self.paid_before);
    }

    pub(crate) fn describe(&self, scenario: &Scenario) -> String {
        let grid = scenario.grid();
        let stream = &scenario.streams[self.stream];
        let base = if self.channels.len() == stream.channels.len() {
            stream.name.clone()
        } else {
            let channels: Vec<&str> = self.channels.iter().map(|&c| stream.channels[c].name.as_str()).collect();
            format!("{} ({})", stream.name, channels.join(", "))
        };
        let cap = self
            .cap
            .map_or("no cap".to_string(), |cap| format!("cap {}", scenario.describe_scalar(cap, Some(Unit::Money))));
        format!(
            "{} pays {} {} of {base} from {} through {}, {cap}{}",
            scenario.parties[self.payer].name,
            scenario.parties[self.payee].name,
            scenario.describe_curve(&self.rate, Some(Unit::Share)),
            grid.label(self.first),
            grid.label(self.last),
            self.activation.describe(|event| scenario.events[event].name.clone()),
        )
    }

    pub(crate) fn apply(&self, path: &PathContext<'_>, state: &mut DealState, out: &mut Outcome) {
        let grid = path.scenario.grid();
        let (world, inputs) = (path.world, &path.world.inputs);
        // What the term may still pay under its cap. Tracking the total paid against it (not a
        // running sum that includes paid_before) makes a capped total exactly the same figure
        // whatever the rate: a lower rate can never pay a rounding error more.
        let room = self.cap.map(|cap| cap.eval(inputs) - self.paid_before.eval(inputs));
        out.paid = 0.0;
        out.cap_hit = room.is_some_and(|room| room <= 0.0);
        out.cap_hit_year = out.cap_hit.then(|| f64::from(grid.start_year));
        let active = self.activation.within(world, self.first, self.last);
        for (k, cumulative) in out.paid_cumulative.iter_mut().enumerate() {
            let in_force = active.is_some_and(|(first, last)| (first..=last).contains(&k));
            if in_force && !out.cap_hit {
                let due = self.rate.at(k, inputs) * world.channel_revenue(self.stream, &self.channels, k);
                let pay = match room {
                    Some(room) if out.paid + due >= room => {
                        out.cap_hit = true;
                        out.cap_hit_year = Some(grid.year_end(k));
                        let pay = room - out.paid;
                        out.paid = room;
                        pay
                    }
                    _ => {
                        out.paid += due;
                        due
                    }
                };
                transfer(state, self.payer, self.payee, k, pay);
            }
            *cumulative = out.paid;
        }
        state.parties[self.payer].revenue_share_net -= out.paid;
        state.parties[self.payee].revenue_share_net += out.paid;
    }

    pub(crate) fn emit<S: Sink>(&self, out: &Outcome, scope: Scope, sink: &mut S) {
        let name = &self.name;
        sink.metric(scope, format_args!("revenue_share.{name}.paid"), out.paid);
        if self.cap.is_some() {
            sink.metric(scope, format_args!("revenue_share.{name}.cap_hit"), if out.cap_hit { 1.0 } else { 0.0 });
            sink.year_metric(scope, format_args!("revenue_share.{name}.cap_hit_year"), out.cap_hit_year);
        }
        sink.series(scope, format_args!("revenue_share.{name}.paid_cumulative"), &out.paid_cumulative);
    }
}
