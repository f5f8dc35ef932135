//! Sensitivity: which uncertain input moves each target metric most (one-at-a-time tornado on
//! common random numbers, and rank correlations from the same paths).

use rayon::prelude::*;
use serde::Serialize;

use crate::engine::means::MetricPaths;
use crate::engine::metrics::{Layout, Scope};
use crate::engine::stats::Moments;
use crate::engine::{BLOCK_PATHS, RunError};
use crate::scenario::Scenario;

/// Input levels of the tornado: each input is fixed at these quantiles in turn.
pub const LOW_QUANTILE: f64 = 0.10;
pub const HIGH_QUANTILE: f64 = 0.90;

/// Paths per pinned run unless asked otherwise. Common random numbers make a swing precise at
/// few paths: on the shipped scenarios the eight largest swings of every target have a standard
/// error of at most 7.5% of the swing at this count (4.5% on base.toml), most under 3%, so
/// the bars' order holds, while the tornado costs less than the run itself.
pub const DEFAULT_PATHS: u64 = 10_000;

/// How to run a sensitivity analysis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SensitivityOptions {
    pub paths: u64,
    pub seed: u64,
    pub threads: usize,
    /// Metric names to explain; empty means each party's NPV and each revenue share's `paid`.
    pub targets: Vec<String>,
    /// The deal every other deal's targets are also explained against, as paired differences.
    pub baseline: usize,
}

/// One row of `sensitivity.csv`: one input's effect on one deal's metric.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SensitivityRow {
    pub deal: String,
    /// Empty for the deal's own metric; for a paired difference, the baseline deal, and the
    /// row's metric values are the deal's minus the baseline's, path by path.
    pub baseline: String,
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
    /// The swing's standard error: that of the mean of the per-path differences between the
    /// two pinned runs, which share every other random number.
    pub swing_se: f64,
    /// Spearman rank correlation of the input's draws with the metric over the unpinned paths.
    pub rank_correlation: f64,
}

/// Paths a scatter keeps at most: enough to see the shape, few enough to draw.
pub const SCATTER_POINTS: usize = 2_000;

/// One input against one target of the baseline deal, path by path (the unpinned paths, every
/// k-th so that at most [`SCATTER_POINTS`] remain): what the tornado's swing summarizes.
#[derive(Clone, Debug, PartialEq)]
pub struct Scatter {
    pub deal: String,
    pub metric: String,
    pub input: String,
    /// (the input's draw, the metric's value) per path kept.
    pub points: Vec<(f64, f64)>,
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

/// What the blocks of a tornado give back, in block order: the unpinned paths' targets and
/// inputs (for the rank correlations), per input and level the sum of each target over the
/// block's paths with that input fixed, and per input the moments of each column's per-path
/// swing.
struct BlockSums {
    /// `values[path * targets + t]`.
    values: Vec<f64>,
    /// `inputs[path * scenario.inputs.len() + input]`, as drawn.
    inputs: Vec<f64>,
    /// `sums[(input * 2 + level) * targets + t]`, level 0 the input's P10 and 1 its P90.
    sums: Vec<f64>,
    /// `swings[input * columns + c]`: the moments of a path's value at P90 minus at P10, for
    /// column `c` (a target, then each paired difference in [`Pair`] order).
    swings: Vec<Moments>,
}

/// A target of a deal other than the baseline, and the baseline's target of the same name.
type Pair = (usize, usize);

/// One block of paths: each path is evaluated as drawn and then with each input fixed at each
/// level in turn, on the same random numbers.
fn tornado_block(
    paths: &MetricPaths<'_>,
    (slots, pairs): (&[usize], &[Pair]),
    levels: &[[f64; 2]],
    options: &SensitivityOptions,
    block: u64,
) -> Result<BlockSums, RunError> {
    let (inputs, targets) = (levels.len(), slots.len());
    let columns = targets + pairs.len();
    let (block_paths, mut work) = paths.start_block(options.seed, options.paths, block);
    let count = block_paths.clone().count();
    let metrics = paths.layout.metrics.len();
    let (mut base, mut pinned) = (vec![0.0; metrics], vec![0.0; metrics]);
    // Each target at the P10 of the input at hand, then its swing on the path.
    let (mut at_low, mut swing) = (vec![0.0; targets], vec![0.0; targets]);
    // `path_swings[(input * columns + c) * count + i]`.
    let mut path_swings = vec![0.0; inputs * columns * count];
    let mut result = BlockSums {
        values: Vec::with_capacity(count * targets),
        inputs: Vec::with_capacity(count * inputs),
        sums: vec![0.0; inputs * 2 * targets],
        swings: Vec::new(),
    };
    for (i, path) in block_paths.enumerate() {
        paths.evaluate(options.seed, path, i, &mut work, &mut base)?;
        result.values.extend(slots.iter().map(|&slot| base[slot]));
        result.inputs.extend_from_slice(&paths.block_draws(&work, i)[..inputs]);
        for (input, input_levels) in levels.iter().enumerate() {
            for (level, &value) in input_levels.iter().enumerate() {
                paths.pinned(options.seed, path, (input, value), &base, &mut work, &mut pinned)?;
                let sums = &mut result.sums[(input * 2 + level) * targets..(input * 2 + level + 1) * targets];
                for (sum, &slot) in sums.iter_mut().zip(slots) {
                    *sum += pinned[slot];
                }
                if level == 0 {
                    at_low.iter_mut().zip(slots).for_each(|(low, &slot)| *low = pinned[slot]);
                }
            }
            for (t, &slot) in slots.iter().enumerate() {
                swing[t] = pinned[slot] - at_low[t];
            }
            let column_swings = swing.iter().copied().chain(pairs.iter().map(|&(t, base)| swing[t] - swing[base]));
            for (c, value) in column_swings.enumerate() {
                path_swings[(input * columns + c) * count + i] = value;
            }
        }
    }
    result.swings = path_swings.chunks_exact(count.max(1)).map(Moments::from_slice).collect();
    Ok(result)
}

/// Runs the tornado: each uncertain input fixed at its P10 and at its P90, all else as drawn, on
/// the same random numbers as the unpinned paths; an input that only deal terms read re-applies
/// only those deals. Rows are grouped by deal and metric, largest swing first.
pub fn tornado(scenario: &Scenario, options: &SensitivityOptions) -> Result<Vec<SensitivityRow>, RunError> {
    tornado_with_scatters(scenario, options).map(|(rows, _)| rows)
}

/// [`tornado`], and for each target of the baseline deal a scatter of the input with the largest
/// swing against the target, from the same paths.
pub fn tornado_with_scatters(
    scenario: &Scenario,
    options: &SensitivityOptions,
) -> Result<(Vec<SensitivityRow>, Vec<Scatter>), RunError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.threads)
        .build()
        .map_err(|source| RunError::ThreadPool { threads: options.threads, source })?;
    let paths = MetricPaths::new(scenario);
    let slots = target_slots(&paths.layout, &options.targets);
    if slots.is_empty() || scenario.inputs.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let levels: Vec<[f64; 2]> = scenario
        .inputs
        .iter()
        .map(|input| [input.distribution.quantile(LOW_QUANTILE), input.distribution.quantile(HIGH_QUANTILE)])
        .collect();
    // Each target of a deal other than the baseline, with the baseline's target of that name:
    // fixing an input, the mean of their per-path difference is the difference of their means,
    // since both deals are evaluated on the same paths.
    let deal_of = |t: usize| match paths.layout.metrics[slots[t]].scope {
        Scope::Deal(deal) => deal,
        Scope::World => unreachable!("targets are deal metrics"),
    };
    let pairs: Vec<Pair> = (0..slots.len())
        .filter(|&t| deal_of(t) != options.baseline)
        .filter_map(|t| {
            let name = &paths.layout.metrics[slots[t]].name;
            let base = (0..slots.len())
                .find(|&b| deal_of(b) == options.baseline && &paths.layout.metrics[slots[b]].name == name)?;
            Some((t, base))
        })
        .collect();
    let blocks = options.paths.div_ceil(BLOCK_PATHS);
    let parts: Vec<Result<BlockSums, RunError>> = pool.install(|| {
        (0..blocks)
            .into_par_iter()
            .map(|block| tornado_block(&paths, (&slots, &pairs), &levels, options, block))
            .collect()
    });
    // Combined in block order: the result, and the failure named, do not depend on the thread
    // count.
    let (inputs, targets, columns) = (levels.len(), slots.len(), slots.len() + pairs.len());
    let mut total = BlockSums {
        values: Vec::new(),
        inputs: Vec::new(),
        sums: vec![0.0; inputs * 2 * targets],
        swings: vec![Moments::default(); inputs * columns],
    };
    for part in parts {
        let part = part?;
        total.values.extend(part.values);
        total.inputs.extend(part.inputs);
        for (sum, part) in total.sums.iter_mut().zip(&part.sums) {
            *sum += part;
        }
        for (swing, part) in total.swings.iter_mut().zip(&part.swings) {
            swing.merge(part);
        }
    }
    let count = options.paths as f64;
    let target_values: Vec<Vec<f64>> =
        (0..targets).map(|t| total.values.iter().skip(t).step_by(targets).copied().collect()).collect();
    // Ranked once: each input's rank correlation with every target reuses them.
    let column_ranks: Vec<Vec<f64>> = target_values.iter().map(|column| ranks(column)).collect();
    let difference_ranks: Vec<Vec<f64>> = pairs
        .iter()
        .map(|&(t, base)| {
            let differences: Vec<f64> =
                target_values[t].iter().zip(&target_values[base]).map(|(deal, base)| deal - base).collect();
            ranks(&differences)
        })
        .collect();
    let mut rows = Vec::new();
    for (input, uncertain) in scenario.inputs.iter().enumerate() {
        let [low, high] = levels[input];
        let draws: Vec<f64> = total.inputs.iter().skip(input).step_by(inputs).copied().collect();
        let draw_ranks = ranks(&draws);
        let mean_at = |t: usize, level: usize| total.sums[(input * 2 + level) * targets + t] / count;
        let swing_se = |c: usize| total.swings[input * columns + c].std_error();
        let row = |(t, c): (usize, usize),
                   baseline: String,
                   (metric_low, metric_high): (f64, f64),
                   value_ranks: &[f64]| SensitivityRow {
            deal: scenario.deals[deal_of(t)].name.clone(),
            baseline,
            metric: paths.layout.metrics[slots[t]].name.clone(),
            input: uncertain.key.clone(),
            input_low: low,
            input_high: high,
            metric_low,
            metric_high,
            swing: (metric_high - metric_low).abs(),
            swing_se: swing_se(c),
            rank_correlation: correlation_of_ranks(&draw_ranks, value_ranks),
        };
        for (t, value_ranks) in column_ranks.iter().enumerate() {
            rows.push(row((t, t), String::new(), (mean_at(t, 0), mean_at(t, 1)), value_ranks));
        }
        for (p, (&(t, base), value_ranks)) in pairs.iter().zip(&difference_ranks).enumerate() {
            let means = (mean_at(t, 0) - mean_at(base, 0), mean_at(t, 1) - mean_at(base, 1));
            rows.push(row((t, targets + p), scenario.deals[options.baseline].name.clone(), means, value_ranks));
        }
    }
    let order = |row: &SensitivityRow| {
        let deal = scenario.deals.iter().position(|d| d.name == row.deal).unwrap_or(0);
        let metric = paths.layout.metrics.iter().position(|m| m.name == row.metric).unwrap_or(0);
        (deal, !row.baseline.is_empty(), metric)
    };
    rows.sort_by(|a, b| order(a).cmp(&order(b)).then(b.swing.total_cmp(&a.swing)));
    let every = target_values.first().map_or(1, |column| column.len().div_ceil(SCATTER_POINTS).max(1));
    let baseline = &scenario.deals[options.baseline].name;
    let scatters = (0..targets)
        .filter(|&t| deal_of(t) == options.baseline)
        .filter_map(|t| {
            let metric = &paths.layout.metrics[slots[t]].name;
            // Rows are sorted: the target's first row has the largest swing.
            let top = rows
                .iter()
                .find(|r| &r.deal == baseline && r.baseline.is_empty() && &r.metric == metric)
                .filter(|top| top.swing > 0.0)?;
            let input = scenario.inputs.iter().position(|i| i.key == top.input)?;
            let draws = total.inputs.iter().skip(input).step_by(inputs).step_by(every);
            let points = draws.zip(target_values[t].iter().step_by(every)).map(|(&x, &y)| (x, y)).collect();
            Some(Scatter { deal: baseline.clone(), metric: metric.clone(), input: top.input.clone(), points })
        })
        .collect();
    Ok((rows, scatters))
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
    correlation_of_ranks(&ranks(a), &ranks(b))
}

/// Pearson's correlation of two rank vectors (Spearman's of the values they rank); 0 when
/// either side is constant.
fn correlation_of_ranks(ra: &[f64], rb: &[f64]) -> f64 {
    let n = ra.len() as f64;
    let (mean_a, mean_b) = (ra.iter().sum::<f64>() / n, rb.iter().sum::<f64>() / n);
    let covariance: f64 = ra.iter().zip(rb).map(|(x, y)| (x - mean_a) * (y - mean_b)).sum();
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
