//! Tables of results: summary, time-series and comparison rows built from a run's aggregates,
//! and their CSV bytes.

use serde::Serialize;

use crate::engine::Aggregates;
use crate::engine::stats::{Moments, QuantileSketch};
use crate::scenario::Scenario;

/// Serializes rows as CSV with a header.
pub fn csv_bytes<T: Serialize>(rows: &[T]) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in rows {
        writer.serialize(row)?;
    }
    writer.flush()?;
    Ok(writer.into_inner().map_err(|e| e.into_error())?)
}

/// Percentiles reported for every metric and series point.
pub const PERCENTILES: [f64; 5] = [0.05, 0.25, 0.50, 0.75, 0.95];

/// One row of `summary.csv`. Statistics are empty where no path has the metric.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SummaryRow {
    pub deal: String,
    pub metric: String,
    pub count: u64,
    pub mean: Option<f64>,
    pub std: Option<f64>,
    pub std_error: Option<f64>,
    pub p05: Option<f64>,
    pub p25: Option<f64>,
    pub p50: Option<f64>,
    pub p75: Option<f64>,
    pub p95: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// One row of `timeseries.csv`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TimeseriesRow {
    pub deal: String,
    pub series: String,
    pub period: String,
    /// Fractional calendar year at the end of the period.
    pub year: f64,
    pub mean: Option<f64>,
    pub p05: Option<f64>,
    pub p25: Option<f64>,
    pub p50: Option<f64>,
    pub p75: Option<f64>,
    pub p95: Option<f64>,
}

fn defined(value: f64) -> Option<f64> {
    value.is_finite().then_some(value)
}

fn percentiles(sketch: &QuantileSketch) -> [Option<f64>; 5] {
    PERCENTILES.map(|q| sketch.quantile(q))
}

/// Summary rows, deal by deal; world metrics are repeated under every deal.
pub fn summary_rows(scenario: &Scenario, aggregates: &Aggregates) -> Vec<SummaryRow> {
    let mut rows = Vec::new();
    for (d, deal) in scenario.deals.iter().enumerate() {
        for (slot, metric) in aggregates.layout.metrics.iter().enumerate() {
            if metric.scope.reported_under(d) {
                let (moments, sketch) = (&aggregates.moments[slot], &aggregates.sketches[slot]);
                rows.push(summary_row(&deal.name, &metric.name, moments, sketch, metric.origin));
            }
        }
    }
    rows
}

/// A metric's row; values were stored relative to `origin` (see `MetricSlot::origin`).
fn summary_row(deal: &str, metric: &str, moments: &Moments, sketch: &QuantileSketch, origin: f64) -> SummaryRow {
    let shift = |value: Option<f64>| value.map(|v| v + origin);
    let [p05, p25, p50, p75, p95] = percentiles(sketch).map(shift);
    let has_paths = moments.count() > 0;
    SummaryRow {
        deal: deal.to_string(),
        metric: metric.to_string(),
        count: moments.count(),
        mean: defined(moments.mean() + origin),
        std: has_paths.then(|| moments.std_dev()).and_then(defined),
        std_error: has_paths.then(|| moments.std_error()).and_then(defined),
        p05,
        p25,
        p50,
        p75,
        p95,
        min: shift(sketch.min()),
        max: shift(sketch.max()),
    }
}

/// One row of `comparison.csv`: a deal against the baseline deal, on one metric, path by path.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ComparisonRow {
    pub deal: String,
    pub baseline: String,
    pub metric: String,
    /// Paths where both deals have the metric.
    pub count: u64,
    /// Mean of the per-path differences (deal − baseline).
    pub mean_difference: Option<f64>,
    /// Standard error of that mean, from the per-path differences.
    pub std_error: Option<f64>,
    /// What the standard error would be if the deals had been run on independent worlds:
    /// sqrt(se_deal² + se_baseline²). The ratio shows what common random numbers buy.
    pub unpaired_std_error: Option<f64>,
    pub p05: Option<f64>,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    /// Share of paths where the difference is > 0.
    pub prob_positive: Option<f64>,
}

/// Paired differences of every deal's metrics against the baseline's.
pub fn comparison_rows(scenario: &Scenario, aggregates: &Aggregates) -> Vec<ComparisonRow> {
    let layout = &aggregates.layout;
    layout
        .comparisons
        .iter()
        .enumerate()
        .map(|(i, comparison)| {
            let slot = layout.comparison_slot(i);
            let (moments, sketch) = (&aggregates.moments[slot], &aggregates.sketches[slot]);
            let has_paths = moments.count() > 0;
            let deal_se = aggregates.moments[comparison.deal_slot].std_error();
            let baseline_se = aggregates.moments[comparison.baseline_slot].std_error();
            ComparisonRow {
                deal: scenario.deals[comparison.deal].name.clone(),
                baseline: scenario.deals[comparison.baseline].name.clone(),
                metric: comparison.metric.clone(),
                count: moments.count(),
                mean_difference: defined(moments.mean()),
                std_error: has_paths.then(|| moments.std_error()).and_then(defined),
                unpaired_std_error: defined(deal_se.hypot(baseline_se)),
                p05: sketch.quantile(0.05),
                p50: sketch.quantile(0.50),
                p95: sketch.quantile(0.95),
                prob_positive: has_paths.then(|| sketch.count_positive() as f64 / moments.count() as f64),
            }
        })
        .collect()
}

/// One row of `conditional.csv`: a deal's key metric over the paths where an event (or one of
/// its outcomes) occurred by the horizon, or did not.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConditionalRow {
    pub deal: String,
    pub metric: String,
    pub event: String,
    /// 1: given the event occurred; 0: given it did not.
    pub occurred: u8,
    /// Paths in that case (all of them have the metric).
    pub count: u64,
    pub mean: Option<f64>,
    pub p05: Option<f64>,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
}

/// Every deal's key metrics given each event and outcome, deal by deal, metric by metric.
pub fn conditional_rows(scenario: &Scenario, aggregates: &Aggregates) -> Vec<ConditionalRow> {
    let layout = &aggregates.layout;
    layout
        .conditionals
        .iter()
        .enumerate()
        .map(|(i, condition)| {
            let slot = layout.conditional_slot(i);
            let (moments, sketch) = (&aggregates.moments[slot], &aggregates.sketches[slot]);
            ConditionalRow {
                deal: scenario.deals[condition.deal].name.clone(),
                metric: layout.metrics[condition.metric_slot].name.clone(),
                event: condition.event.clone(),
                occurred: u8::from(condition.occurred),
                count: moments.count(),
                mean: (moments.count() > 0).then(|| moments.mean()).and_then(defined),
                p05: sketch.quantile(0.05),
                p50: sketch.quantile(0.50),
                p95: sketch.quantile(0.95),
            }
        })
        .collect()
}

/// Each party's mean NPV under each deal, by outcome of one event that has outcomes: what a
/// dispute is worth to each side under each way it can end.
#[derive(Clone, Debug, PartialEq)]
pub struct OutcomeTable {
    pub event: String,
    /// Each outcome's name, and "no <event>" for the paths where the event does not occur.
    pub columns: Vec<String>,
    /// How often each column's case happens over the run.
    pub probabilities: Vec<Option<f64>>,
    pub rows: Vec<OutcomeRow>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct OutcomeRow {
    pub deal: String,
    pub party: String,
    /// Mean NPV given each column's case; None where no path has it.
    pub means: Vec<Option<f64>>,
}

/// The by-outcome NPV tables of every event with outcomes.
pub fn outcome_tables(
    scenario: &Scenario,
    summary: &[SummaryRow],
    conditional: &[ConditionalRow],
) -> Vec<OutcomeTable> {
    let mut tables = Vec::new();
    for event in scenario.events.iter().filter(|event| !event.outcomes.is_empty()) {
        // One case per column: (event name, occurred).
        let mut cases: Vec<(String, u8)> =
            event.outcomes.iter().map(|&(_, outcome)| (scenario.events[outcome].name.clone(), 1)).collect();
        cases.push((event.name.clone(), 0));
        let mut columns: Vec<String> = cases[..cases.len() - 1]
            .iter()
            .map(|(name, _)| name.strip_prefix(&format!("{}.", event.name)).unwrap_or(name).to_string())
            .collect();
        columns.push(format!("no {}", event.name));
        let share = |name: &str| {
            let metric = format!("event.{name}.occurred");
            summary.iter().find(|row| row.metric == metric).and_then(|row| row.mean)
        };
        let mut probabilities: Vec<Option<f64>> =
            cases[..cases.len() - 1].iter().map(|(name, _)| share(name)).collect();
        probabilities.push(share(&event.name).map(|occurred| 1.0 - occurred));
        let mut rows = Vec::new();
        for deal in &scenario.deals {
            for party in &scenario.parties {
                let metric = format!("party.{}.npv", party.name);
                let means = cases
                    .iter()
                    .map(|(name, occurred)| {
                        conditional
                            .iter()
                            .find(|row| {
                                row.deal == deal.name
                                    && row.metric == metric
                                    && row.event == *name
                                    && row.occurred == *occurred
                            })
                            .and_then(|row| row.mean)
                    })
                    .collect();
                rows.push(OutcomeRow { deal: deal.name.clone(), party: party.label.clone(), means });
            }
        }
        tables.push(OutcomeTable { event: event.name.clone(), columns, probabilities, rows });
    }
    tables
}

/// Time-series rows, deal by deal, series by series, period by period.
pub fn timeseries_rows(scenario: &Scenario, aggregates: &Aggregates) -> Vec<TimeseriesRow> {
    let layout = &aggregates.layout;
    let grid = scenario.grid();
    let labels: Vec<String> = (0..layout.periods).map(|k| grid.label(k)).collect();
    let mut rows = Vec::new();
    for (d, deal) in scenario.deals.iter().enumerate() {
        for (s, series) in layout.series.iter().enumerate() {
            if !series.scope.reported_under(d) {
                continue;
            }
            for (k, label) in labels.iter().enumerate() {
                let slot = layout.series_slot(s, k);
                let [p05, p25, p50, p75, p95] = percentiles(&aggregates.sketches[slot]);
                rows.push(TimeseriesRow {
                    deal: deal.name.clone(),
                    series: series.name.clone(),
                    period: label.clone(),
                    year: grid.year_end(k),
                    mean: defined(aggregates.moments[slot].mean()),
                    p05,
                    p25,
                    p50,
                    p75,
                    p95,
                });
            }
        }
    }
    rows
}
