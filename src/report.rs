//! Tables of results: summary and time-series rows built from a run's aggregates.

use serde::Serialize;

use crate::engine::Aggregates;
use crate::metrics::Scope;
use crate::scenario::Scenario;
use crate::stats::{Moments, QuantileSketch};

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

fn in_deal(scope: Scope, deal: usize) -> bool {
    scope == Scope::World || scope == Scope::Deal(deal)
}

/// Summary rows, deal by deal; world metrics are repeated under every deal.
pub fn summary_rows(scenario: &Scenario, aggregates: &Aggregates) -> Vec<SummaryRow> {
    let mut rows = Vec::new();
    for (d, deal) in scenario.deals.iter().enumerate() {
        for (slot, metric) in aggregates.layout.metrics.iter().enumerate() {
            if in_deal(metric.scope, d) {
                rows.push(summary_row(&deal.name, &metric.name, &aggregates.moments[slot], &aggregates.sketches[slot]));
            }
        }
    }
    rows
}

fn summary_row(deal: &str, metric: &str, moments: &Moments, sketch: &QuantileSketch) -> SummaryRow {
    let [p05, p25, p50, p75, p95] = percentiles(sketch);
    let has_paths = moments.count() > 0;
    SummaryRow {
        deal: deal.to_string(),
        metric: metric.to_string(),
        count: moments.count(),
        mean: defined(moments.mean()),
        std: has_paths.then(|| moments.std_dev()).and_then(defined),
        std_error: has_paths.then(|| moments.std_error()).and_then(defined),
        p05,
        p25,
        p50,
        p75,
        p95,
        min: sketch.min(),
        max: sketch.max(),
    }
}

/// Time-series rows, deal by deal, series by series, period by period.
pub fn timeseries_rows(scenario: &Scenario, aggregates: &Aggregates) -> Vec<TimeseriesRow> {
    let layout = &aggregates.layout;
    let grid = scenario.grid();
    let labels: Vec<String> = (0..layout.periods).map(|k| grid.label(k)).collect();
    let mut rows = Vec::new();
    for (d, deal) in scenario.deals.iter().enumerate() {
        for (s, series) in layout.series.iter().enumerate() {
            if !in_deal(series.scope, d) {
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
