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
