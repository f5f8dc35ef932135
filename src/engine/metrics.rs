//! The metrics and time series a run reports, named as the spec lists them, in one fixed order.
//!
//! [`emit`] walks one path's results in that order; the same walk names the slots once
//! (layout) and fills them on every path (recording), so names and values cannot drift apart.

use std::fmt::{self, Write as _};

use crate::sampling::world::WorldPath;
use crate::scenario::Scenario;
use crate::terms::DealOutcome;

/// Whether a metric belongs to the world (the same for every deal) or to one deal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    World,
    Deal(usize),
}

impl Scope {
    /// Whether a metric of this scope is reported under a deal: its own, and the world's under
    /// every deal.
    pub fn reported_under(self, deal: usize) -> bool {
        self == Scope::World || self == Scope::Deal(deal)
    }
}

/// Receives a path's metrics and series in the fixed order of [`emit`].
pub trait Sink {
    /// A scalar every path has.
    fn metric(&mut self, scope: Scope, name: fmt::Arguments<'_>, value: f64);
    /// A scalar only some paths have (a multiple where something was paid).
    fn conditional_metric(&mut self, scope: Scope, name: fmt::Arguments<'_>, value: Option<f64>);
    /// A calendar year only some paths have (the year a cap is hit: None where it never is).
    fn year_metric(&mut self, scope: Scope, name: fmt::Arguments<'_>, year: Option<f64>);
    /// One value per period.
    fn series(&mut self, scope: Scope, name: fmt::Arguments<'_>, values: &[f64]);
}

pub(crate) fn flag(value: bool) -> f64 {
    if value { 1.0 } else { 0.0 }
}

/// Walks one path: the world's metrics and series, then each deal's. `worlds` holds the path's
/// worlds by index (see [`Scenario::worlds`]).
pub fn emit<S: Sink>(scenario: &Scenario, worlds: &[WorldPath], outcomes: &[DealOutcome], sink: &mut S) {
    if scenario.other_worlds.is_empty() {
        emit_world(scenario, &worlds[0], Scope::World, sink);
    }
    for (d, outcome) in outcomes.iter().enumerate() {
        emit_deal(scenario, worlds, d, outcome, sink);
    }
}

/// A world's metrics and series: its streams, events and valuation.
fn emit_world<S: Sink>(scenario: &Scenario, world: &WorldPath, scope: Scope, sink: &mut S) {
    let periods = world.periods;
    let grid = scenario.grid();
    for (s, stream) in scenario.streams.iter().enumerate() {
        let revenue = WorldPath::series(&world.revenue, s, periods);
        let run_rate = WorldPath::series(&world.run_rate, s, periods);
        sink.metric(scope, format_args!("stream.{}.revenue", stream.name), revenue.iter().sum());
        sink.metric(scope, format_args!("stream.{}.run_rate_final", stream.name), run_rate[periods - 1]);
        sink.series(scope, format_args!("stream.{}.run_rate", stream.name), run_rate);
        sink.series(scope, format_args!("stream.{}.revenue", stream.name), revenue);
    }
    for (e, event) in scenario.events.iter().enumerate() {
        let period = world.event_period[e];
        sink.metric(scope, format_args!("event.{}.occurred", event.name), flag(period.is_some()));
        sink.year_metric(scope, format_args!("event.{}.year", event.name), period.map(|k| grid.year_end(k)));
    }
    if scenario.valuation.is_some() {
        sink.series(scope, format_args!("valuation.value"), &world.valuation);
    }
}

/// Walks one deal's metrics and series on one path: the part of [`emit`] after the world's. In
/// a scenario of several worlds (a `compare` of files whose worlds differ), the deal's world
/// comes first, as the deal's own metrics, so that comparison.csv pairs the worlds too.
pub fn emit_deal<S: Sink>(scenario: &Scenario, worlds: &[WorldPath], d: usize, outcome: &DealOutcome, sink: &mut S) {
    let deal = &scenario.deals[d];
    let periods = outcome.state.periods;
    let scope = Scope::Deal(d);
    let several_worlds = !scenario.other_worlds.is_empty();
    let world = scenario.world_of(d);
    let scenario = scenario.world(world);
    if several_worlds {
        emit_world(scenario, &worlds[world], scope, sink);
    }
    for (term, term_outcome) in deal.terms.iter().zip(&outcome.terms) {
        term.emit(term_outcome, scope, sink);
    }
    let state = &outcome.state;
    for (p, party) in scenario.parties.iter().enumerate() {
        let result = &state.parties[p];
        sink.metric(scope, format_args!("party.{}.npv", party.name), result.npv);
        sink.metric(scope, format_args!("party.{}.cloud_profit", party.name), result.cloud_profit);
        sink.metric(scope, format_args!("party.{}.revenue_share_net", party.name), result.revenue_share_net);
        if deal.may_hold_equity(p) {
            sink.metric(scope, format_args!("party.{}.equity_value", party.name), result.equity_value);
            sink.metric(scope, format_args!("party.{}.stake", party.name), result.stake);
        }
        if party.initial_cash.is_some() {
            sink.metric(scope, format_args!("party.{}.min_cash", party.name), result.min_cash);
            sink.metric(scope, format_args!("party.{}.funding_gap", party.name), (-result.min_cash).max(0.0));
        }
        sink.series(scope, format_args!("party.{}.cash_flow", party.name), WorldPath::series(&state.flow, p, periods));
        if party.initial_cash.is_some() {
            sink.series(scope, format_args!("party.{}.cash", party.name), WorldPath::series(&outcome.cash, p, periods));
        }
        if deal.may_hold_equity(p) {
            let stake = WorldPath::series(&outcome.stake, p, periods);
            sink.series(scope, format_args!("party.{}.stake", party.name), stake);
        }
    }
    // A deal's routes decide who earns its compute: the spend per provider is the deal's.
    if let Some(compute) = &scenario.compute {
        for (p, provider) in compute.providers.iter().enumerate() {
            let spend = WorldPath::series(&state.provider_spend, p, periods);
            sink.series(scope, format_args!("compute.{}.spend", provider.name), spend);
        }
    }
}

/// A named scalar metric.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricSlot {
    pub scope: Scope,
    pub name: String,
    /// Some paths have no value (only paths that hit a cap have a cap-hit year).
    pub conditional: bool,
    /// Values are stored relative to this origin and reported with it added back. Years are
    /// stored as years since the simulation start: the quantile sketch's error is relative to
    /// the stored value, and 0.4% of 2029 is a season, while 0.4% of 3.5 years is five days.
    pub origin: f64,
}

/// A named series; it occupies one slot per period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeriesSlot {
    pub scope: Scope,
    pub name: String,
}

/// A paired difference: one deal's metric minus the baseline deal's metric of the same name,
/// path by path. Both deals see the same world, so the difference carries no world noise that
/// the two share.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComparisonSlot {
    pub deal: usize,
    pub baseline: usize,
    pub metric: String,
    /// Metric slots of the deal and of the baseline.
    pub deal_slot: usize,
    pub baseline_slot: usize,
    pub conditional: bool,
}

/// A key metric of one deal given that an event occurred (or did not) by the horizon: the
/// metric's value on paths where the event's `occurred` flag is `occurred`, missing elsewhere.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConditionalSlot {
    pub deal: usize,
    pub metric_slot: usize,
    /// The event's `event.<name>.occurred` slot, and the event's name.
    pub event_slot: usize,
    pub event: String,
    pub occurred: bool,
}

/// Whether a deal metric is one conditional.csv reports: what each party ends up with and what
/// each term moves.
fn is_key_for_conditions(name: &str) -> bool {
    let ends = |suffix: &str| name.ends_with(suffix);
    (name.starts_with("party.") && ends(".npv"))
        || (name.starts_with("revenue_share.") && ends(".paid"))
        || (name.starts_with("commitment.") && (ends(".shortfall") || ends(".penalty")))
        || (name.starts_with("investment.") && ends(".stake"))
        || (name.starts_with("payment.") && ends(".paid"))
}

/// Where each metric, series point and paired difference sits in a path's row of values.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    pub periods: usize,
    /// The origin of year metrics: the simulation's first calendar year.
    pub start_year: f64,
    pub metrics: Vec<MetricSlot>,
    pub series: Vec<SeriesSlot>,
    pub comparisons: Vec<ComparisonSlot>,
    pub conditionals: Vec<ConditionalSlot>,
}

impl Layout {
    /// Slots in a row: metrics first, then each series' periods, then paired differences, then
    /// key metrics given each event.
    pub fn width(&self) -> usize {
        self.conditional_slot(self.conditionals.len())
    }

    pub fn conditional_slot(&self, conditional: usize) -> usize {
        self.comparison_slot(self.comparisons.len()) + conditional
    }

    pub fn comparison_slot(&self, comparison: usize) -> usize {
        self.metrics.len() + self.series.len() * self.periods + comparison
    }

    /// Whether a slot may be missing on some paths.
    pub fn conditional(&self, slot: usize) -> bool {
        match self.metrics.get(slot) {
            Some(metric) => metric.conditional,
            None if slot >= self.conditional_slot(0) => true,
            None => slot >= self.comparison_slot(0) && self.comparisons[slot - self.comparison_slot(0)].conditional,
        }
    }

    /// Fills what a row derives from its metrics: the paired differences and the key metrics
    /// given each event.
    #[inline]
    pub fn fill_derived(&self, row: &mut [f64]) {
        let first = self.comparison_slot(0);
        for (i, comparison) in self.comparisons.iter().enumerate() {
            row[first + i] = row[comparison.deal_slot] - row[comparison.baseline_slot];
        }
        let first = self.conditional_slot(0);
        for (i, condition) in self.conditionals.iter().enumerate() {
            let occurred = row[condition.event_slot] == 1.0;
            row[first + i] = if occurred == condition.occurred { row[condition.metric_slot] } else { f64::NAN };
        }
    }

    pub fn series_slot(&self, series: usize, period: usize) -> usize {
        self.metrics.len() + series * self.periods + period
    }

    /// What a slot holds, as the outputs name it: `metric party.openai.npv of deal apr-2026`,
    /// `series stream.openai.revenue in 2031-Q2`, or a paired difference of two deals.
    pub fn describe_slot(&self, scenario: &Scenario, slot: usize) -> String {
        let deal_name = |deal: usize| scenario.deals.get(deal).map_or("?", |d| d.name.as_str());
        let of = |scope: Scope| match scope {
            Scope::World => String::new(),
            Scope::Deal(deal) => format!(" of deal {}", deal_name(deal)),
        };
        if let Some(metric) = self.metrics.get(slot) {
            return format!("metric {}{}", metric.name, of(metric.scope));
        }
        let first_comparison = self.comparison_slot(0);
        if slot < first_comparison && self.periods > 0 {
            let (series, period) =
                ((slot - self.metrics.len()) / self.periods, (slot - self.metrics.len()) % self.periods);
            let series = &self.series[series];
            return format!("series {}{} in {}", series.name, of(series.scope), scenario.grid().label(period));
        }
        if let Some(comparison) = self.comparisons.get(slot - first_comparison) {
            return format!(
                "the difference in {} between deal {} and deal {}",
                comparison.metric,
                deal_name(comparison.deal),
                deal_name(comparison.baseline)
            );
        }
        match self.conditionals.get(slot - self.conditional_slot(0)) {
            Some(condition) => format!(
                "metric {} of deal {} where {} {}",
                self.metrics[condition.metric_slot].name,
                deal_name(condition.deal),
                condition.event,
                if condition.occurred { "occurred" } else { "did not occur" }
            ),
            None => format!("slot {slot}"),
        }
    }

    /// Names the slots by walking a path of zeros; with two or more deals, pairs every deal's
    /// metrics with the baseline deal's (by index).
    pub fn of(scenario: &Scenario, baseline: usize) -> Layout {
        let state = super::path::PathModel::new(scenario).state();
        let mut layout = Layout {
            periods: scenario.grid().periods(),
            start_year: f64::from(scenario.grid().start_year),
            metrics: Vec::new(),
            series: Vec::new(),
            comparisons: Vec::new(),
            conditionals: Vec::new(),
        };
        emit(scenario, &state.worlds, &state.outcomes, &mut layout);
        if scenario.deals.len() > 1 {
            layout.comparisons = layout.pair_with(baseline, scenario.deals.len());
        }
        layout.conditionals = layout.conditions();
        layout
    }

    /// Every key metric of every deal, given each event (and outcome) of its world occurred, and
    /// given it did not.
    fn conditions(&self) -> Vec<ConditionalSlot> {
        let events: Vec<(usize, Scope, &str)> = self
            .metrics
            .iter()
            .enumerate()
            .filter_map(|(slot, m)| Some((slot, m.scope, m.name.strip_prefix("event.")?.strip_suffix(".occurred")?)))
            .collect();
        let mut conditionals = Vec::new();
        for (metric_slot, metric) in self.metrics.iter().enumerate() {
            let Scope::Deal(deal) = metric.scope else { continue };
            if !is_key_for_conditions(&metric.name) {
                continue;
            }
            for &(event_slot, _, event) in events.iter().filter(|(_, scope, _)| scope.reported_under(deal)) {
                for occurred in [true, false] {
                    conditionals.push(ConditionalSlot {
                        deal,
                        metric_slot,
                        event_slot,
                        event: event.to_string(),
                        occurred,
                    });
                }
            }
        }
        conditionals
    }

    fn pair_with(&self, baseline: usize, deals: usize) -> Vec<ComparisonSlot> {
        let mut comparisons = Vec::new();
        for deal in (0..deals).filter(|&d| d != baseline) {
            for (deal_slot, metric) in self.metrics.iter().enumerate().filter(|(_, m)| m.scope == Scope::Deal(deal)) {
                let baseline_slot =
                    self.metrics.iter().position(|m| m.scope == Scope::Deal(baseline) && m.name == metric.name);
                if let Some(baseline_slot) = baseline_slot {
                    comparisons.push(ComparisonSlot {
                        deal,
                        baseline,
                        metric: metric.name.clone(),
                        deal_slot,
                        baseline_slot,
                        conditional: metric.conditional || self.metrics[baseline_slot].conditional,
                    });
                }
            }
        }
        comparisons
    }
}

fn name_of(arguments: fmt::Arguments<'_>) -> String {
    let mut text = String::new();
    let _ = text.write_fmt(arguments);
    text
}

impl Sink for Layout {
    fn metric(&mut self, scope: Scope, name: fmt::Arguments<'_>, _value: f64) {
        self.metrics.push(MetricSlot { scope, name: name_of(name), conditional: false, origin: 0.0 });
    }

    fn conditional_metric(&mut self, scope: Scope, name: fmt::Arguments<'_>, _value: Option<f64>) {
        self.metrics.push(MetricSlot { scope, name: name_of(name), conditional: true, origin: 0.0 });
    }

    fn year_metric(&mut self, scope: Scope, name: fmt::Arguments<'_>, _year: Option<f64>) {
        let origin = self.start_year;
        self.metrics.push(MetricSlot { scope, name: name_of(name), conditional: true, origin });
    }

    fn series(&mut self, scope: Scope, name: fmt::Arguments<'_>, _values: &[f64]) {
        self.series.push(SeriesSlot { scope, name: name_of(name) });
    }
}

/// Writes one path's values into its row, in layout order. Missing values are NaN.
pub struct RowWriter<'r> {
    row: &'r mut [f64],
    metric: usize,
    /// Whether the row has series slots to fill; analyses that need only means skip them.
    with_series: bool,
    series_start: usize,
    periods: usize,
    start_year: f64,
    /// The first conditional slot given a value that is itself NaN: in the row it would pass
    /// for a missing value.
    not_a_number: Option<usize>,
}

impl<'r> RowWriter<'r> {
    pub fn new(layout: &Layout, row: &'r mut [f64]) -> RowWriter<'r> {
        RowWriter {
            row,
            metric: 0,
            with_series: true,
            series_start: layout.metrics.len(),
            periods: layout.periods,
            start_year: layout.start_year,
            not_a_number: None,
        }
    }

    /// Writes only metrics, into `metrics` (one value per layout metric), from `first_metric`
    /// on: where the walk of one deal ([`emit_deal`]) starts.
    pub fn metrics_only(layout: &Layout, metrics: &'r mut [f64], first_metric: usize) -> RowWriter<'r> {
        RowWriter { metric: first_metric, with_series: false, ..RowWriter::new(layout, metrics) }
    }

    /// The first conditional metric whose value was NaN rather than missing, if any.
    pub fn not_a_number(&self) -> Option<usize> {
        self.not_a_number
    }

    /// Whether the walk filled the row exactly as the layout names it.
    pub fn filled(&self, layout: &Layout) -> bool {
        self.metric == layout.metrics.len() && self.series_start == layout.comparison_slot(0)
    }
}

impl RowWriter<'_> {
    /// Notes a conditional value that exists but is NaN.
    #[inline]
    fn defined(&mut self, value: Option<f64>) {
        if value.is_some_and(f64::is_nan) && self.not_a_number.is_none() {
            self.not_a_number = Some(self.metric);
        }
    }
}

impl Sink for RowWriter<'_> {
    #[inline]
    fn metric(&mut self, _scope: Scope, _name: fmt::Arguments<'_>, value: f64) {
        self.row[self.metric] = value;
        self.metric += 1;
    }

    #[inline]
    fn conditional_metric(&mut self, _scope: Scope, _name: fmt::Arguments<'_>, value: Option<f64>) {
        self.defined(value);
        self.row[self.metric] = value.unwrap_or(f64::NAN);
        self.metric += 1;
    }

    #[inline]
    fn year_metric(&mut self, _scope: Scope, _name: fmt::Arguments<'_>, year: Option<f64>) {
        self.defined(year);
        self.row[self.metric] = year.map_or(f64::NAN, |year| year - self.start_year);
        self.metric += 1;
    }

    #[inline]
    fn series(&mut self, _scope: Scope, _name: fmt::Arguments<'_>, values: &[f64]) {
        if self.with_series {
            self.row[self.series_start..self.series_start + self.periods].copy_from_slice(values);
        }
        self.series_start += self.periods;
    }
}
