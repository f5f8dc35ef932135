//! Sensitivity: which uncertain input moves each target metric most (one-at-a-time tornado on
//! common random numbers, and rank correlations from the same paths).

use rayon::prelude::*;
use serde::Serialize;

use crate::engine::metrics::{Layout, RowWriter, Scope, emit};
use crate::engine::{
    BLOCK_PATHS, DrawScratch, RunError, draws_per_path, first_unreportable, load_draws, sample_block_inputs,
};
use crate::sampling::correlation::Copula;
use crate::sampling::world::{WorldPath, sample_path};
use crate::scenario::Scenario;
use crate::terms::{DealOutcome, Discounting, apply_deal};

/// Input levels of the tornado: each input is fixed at these quantiles in turn.
pub const LOW_QUANTILE: f64 = 0.10;
pub const HIGH_QUANTILE: f64 = 0.90;

/// Paths per pinned run unless asked otherwise: enough to rank the inputs, at a cost that stays
/// a fraction of a run's at the default path counts.
pub const DEFAULT_PATHS: u64 = 20_000;

/// How to run a sensitivity analysis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SensitivityOptions {
    pub paths: u64,
    pub seed: u64,
    pub threads: usize,
    /// Metric names to explain; empty means each party's NPV and each revenue share's `paid`.
    pub targets: Vec<String>,
}

/// One row of `sensitivity.csv`: one input's effect on one deal's metric.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SensitivityRow {
    pub deal: String,
    pub metric: String,
    pub input: String,
    /// The input's P10 and P90.
    pub input_low: f64,
    pub input_high: f64,
    /// Mean of the metric with the input fixed at its P10 and at its P90, all else random.
    pub metric_low: f64,
    pub metric_high: f64,
    /// |metric_high − metric_low|: the bar length in a tornado chart.
    pub swing: f64,
    /// Spearman rank correlation of the input's draws with the metric over the unpinned paths.
    pub rank_correlation: f64,
}

/// The metric slots a sensitivity analysis explains.
fn target_slots(layout: &Layout, targets: &[String]) -> Vec<usize> {
    layout
        .metrics
        .iter()
        .enumerate()
        .filter(|(_, metric)| matches!(metric.scope, Scope::Deal(_)) && !metric.conditional)
        .filter(|(_, metric)| {
            if targets.is_empty() {
                (metric.name.starts_with("party.") && metric.name.ends_with(".npv"))
                    || (metric.name.starts_with("revenue_share.") && metric.name.ends_with(".paid"))
            } else {
                targets.contains(&metric.name)
            }
        })
        .map(|(slot, _)| slot)
        .collect()
}

/// Target values of every path, `values[path * targets + t]`, with input `pin` fixed if given;
/// the draws too, `draws[path * draws_per_path + input]`, before pinning.
struct Sample {
    values: Vec<f64>,
    draws: Vec<f64>,
}

struct Runner<'s> {
    scenario: &'s Scenario,
    layout: Layout,
    /// Whether each slot may be missing on some paths (see `Layout::conditional`).
    conditional: Vec<bool>,
    discounting: Discounting,
    copula: Option<Copula>,
    slots: Vec<usize>,
    options: &'s SensitivityOptions,
}

impl Runner<'_> {
    /// Every path's targets, or the first path (in path order) with a value the means cannot
    /// take, named with the pinned input.
    fn sample(&self, pin: Option<(usize, f64)>) -> Result<Sample, RunError> {
        let scenario = self.scenario;
        let width = draws_per_path(scenario);
        let blocks = self.options.paths.div_ceil(BLOCK_PATHS);
        let parts: Vec<Result<Sample, RunError>> = (0..blocks)
            .into_par_iter()
            .map(|block| {
                let first = block * BLOCK_PATHS;
                let count = (self.options.paths - first).min(BLOCK_PATHS) as usize;
                let mut draws = vec![0.0; count * width];
                let seed = self.options.seed;
                let paths = first..first + count as u64;
                let mut scratch = DrawScratch::new(scenario);
                sample_block_inputs(scenario, self.copula.as_ref(), seed, paths, &mut draws, &mut scratch);
                let mut world = WorldPath::new(scenario);
                let mut outcomes: Vec<DealOutcome> =
                    scenario.deals.iter().map(|d| DealOutcome::new(scenario, d)).collect();
                let mut row = vec![0.0; self.layout.width()];
                let mut values = Vec::with_capacity(count * self.slots.len());
                for i in 0..count {
                    load_draws(scenario, &draws[i * width..(i + 1) * width], &mut world);
                    // Pinning after the draw keeps every other random number where it was.
                    if let Some((input, value)) = pin {
                        world.inputs[input] = value;
                    }
                    sample_path(scenario, seed, first + i as u64, &mut world);
                    for (deal, outcome) in scenario.deals.iter().zip(outcomes.iter_mut()) {
                        apply_deal(scenario, deal, &self.discounting, &world, outcome);
                    }
                    let mut writer = RowWriter::new(&self.layout, &mut row);
                    emit(scenario, &world, &outcomes, &mut writer);
                    let not_a_number = writer.not_a_number();
                    if let Some(slot) = first_unreportable(&row, &self.conditional).or(not_a_number) {
                        return Err(self.not_finite(pin, slot, first + i as u64, row[slot]));
                    }
                    values.extend(self.slots.iter().map(|&slot| row[slot]));
                }
                Ok(Sample { values, draws })
            })
            .collect();
        // Concatenated in block order: the result, and the failure named, do not depend on the
        // thread count.
        let mut sample = Sample { values: Vec::new(), draws: Vec::new() };
        for part in parts {
            let part = part?;
            sample.values.extend(part.values);
            sample.draws.extend(part.draws);
        }
        Ok(sample)
    }

    fn not_finite(&self, pin: Option<(usize, f64)>, slot: usize, path: u64, value: f64) -> RunError {
        let mut what = self.layout.describe_slot(self.scenario, slot);
        if let Some((input, level)) = pin {
            what.push_str(&format!(" (with {} fixed at {level})", self.scenario.inputs[input].key));
        }
        RunError::NotFinite { what, path, value }
    }

    fn means(&self, sample: &Sample) -> Vec<f64> {
        let targets = self.slots.len();
        let paths = sample.values.len() / targets;
        (0..targets).map(|t| sample.values.iter().skip(t).step_by(targets).sum::<f64>() / paths as f64).collect()
    }
}

/// Runs the tornado: 2 pinned runs per uncertain input plus one unpinned run, all on the same
/// random numbers. Rows are grouped by deal and metric, largest swing first.
pub fn tornado(scenario: &Scenario, options: &SensitivityOptions) -> Result<Vec<SensitivityRow>, RunError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.threads)
        .build()
        .map_err(|source| RunError::ThreadPool { threads: options.threads, source })?;
    let layout = Layout::of(scenario, 0);
    let slots = target_slots(&layout, &options.targets);
    let runner = Runner {
        scenario,
        conditional: (0..layout.width()).map(|slot| layout.conditional(slot)).collect(),
        discounting: Discounting::new(scenario),
        copula: Copula::of(scenario),
        slots,
        layout,
        options,
    };
    if runner.slots.is_empty() || scenario.inputs.is_empty() {
        return Ok(Vec::new());
    }
    pool.install(|| {
        let base = runner.sample(None)?;
        let width = draws_per_path(scenario);
        let targets = runner.slots.len();
        let mut rows = Vec::new();
        for (input, uncertain) in scenario.inputs.iter().enumerate() {
            let low = uncertain.distribution.quantile(LOW_QUANTILE);
            let high = uncertain.distribution.quantile(HIGH_QUANTILE);
            let metric_low = runner.means(&runner.sample(Some((input, low)))?);
            let metric_high = runner.means(&runner.sample(Some((input, high)))?);
            let draws: Vec<f64> = base.draws.iter().skip(input).step_by(width).copied().collect();
            for (t, &slot) in runner.slots.iter().enumerate() {
                let values: Vec<f64> = base.values.iter().skip(t).step_by(targets).copied().collect();
                let metric = &runner.layout.metrics[slot];
                let Scope::Deal(deal) = metric.scope else { continue };
                rows.push(SensitivityRow {
                    deal: scenario.deals[deal].name.clone(),
                    metric: metric.name.clone(),
                    input: uncertain.key.clone(),
                    input_low: low,
                    input_high: high,
                    metric_low: metric_low[t],
                    metric_high: metric_high[t],
                    swing: (metric_high[t] - metric_low[t]).abs(),
                    rank_correlation: spearman(&draws, &values),
                });
            }
        }
        let order = |row: &SensitivityRow| {
            let deal = scenario.deals.iter().position(|d| d.name == row.deal).unwrap_or(0);
            let metric = runner.layout.metrics.iter().position(|m| m.name == row.metric).unwrap_or(0);
            (deal, metric)
        };
        rows.sort_by(|a, b| order(a).cmp(&order(b)).then(b.swing.total_cmp(&a.swing)));
        Ok(rows)
    })
}

/// Ranks with ties given their average rank.
fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        let average = (start + end - 1) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = average;
        }
        start = end;
    }
    ranks
}

/// Spearman's rank correlation; 0 when either side is constant.
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    let (ra, rb) = (ranks(a), ranks(b));
    let n = ra.len() as f64;
    let (mean_a, mean_b) = (ra.iter().sum::<f64>() / n, rb.iter().sum::<f64>() / n);
    let covariance: f64 = ra.iter().zip(&rb).map(|(x, y)| (x - mean_a) * (y - mean_b)).sum();
    let (var_a, var_b): (f64, f64) =
        (ra.iter().map(|x| (x - mean_a).powi(2)).sum(), rb.iter().map(|y| (y - mean_b).powi(2)).sum());
    if var_a == 0.0 || var_b == 0.0 { 0.0 } else { covariance / (var_a * var_b).sqrt() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_handles_ties_and_constants() {
        assert!((spearman(&[1.0, 2.0, 3.0, 4.0], &[10.0, 20.0, 30.0, 40.0]) - 1.0).abs() < 1e-12);
        assert!((spearman(&[1.0, 2.0, 3.0, 4.0], &[4.0, 3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[5.0, 5.0, 5.0]), 0.0);
        assert_eq!(ranks(&[3.0, 1.0, 3.0, 2.0]), vec![2.5, 0.0, 2.5, 1.0]);
    }
}
