//! Breakeven solving: the value of one scalar term at which a target between two metrics holds,
//! found by bisection on common random numbers.

use std::fmt;

use rayon::prelude::*;

use crate::engine::means::{DrawCache, MetricPaths};
use crate::engine::metrics::Layout;
use crate::engine::stats::Moments;
use crate::engine::{BLOCK_PATHS, RunError};
use crate::format::{self, Unit};
use crate::scenario::{Scalar, Scenario, parse_amount_or_share};

/// One side of a target: a deal's metric mean, or a number.
#[derive(Clone, Debug, PartialEq)]
pub enum Side {
    Metric { deal: String, metric: String },
    Value(f64),
}

/// `LEFT = RIGHT`, solved as LEFT − RIGHT = 0.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    pub left: Side,
    pub right: Side,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Side::Metric { deal, metric } => write!(f, "{deal}:{metric}"),
            Side::Value(value) => f.write_str(&format::scenario_number(*value)),
        }
    }
}

impl Target {
    /// Parses `DEAL:METRIC = DEAL:METRIC` or `DEAL:METRIC = NUMBER` (money suffixes and percents
    /// allowed, as in a scenario file).
    pub fn parse(text: &str) -> Result<Target, String> {
        let (left, right) = text
            .split_once('=')
            .ok_or_else(|| format!("expected `DEAL:METRIC = DEAL:METRIC` or `DEAL:METRIC = NUMBER`, found `{text}`"))?;
        let side = |part: &str| -> Result<Side, String> {
            let part = part.trim();
            if let Some((deal, metric)) = part.split_once(':') {
                return Ok(Side::Metric { deal: deal.trim().to_string(), metric: metric.trim().to_string() });
            }
            parse_amount_or_share(part).map(Side::Value).ok_or_else(|| {
                format!("expected DEAL:METRIC (e.g. apr-2026:party.microsoft.npv) or a number, found `{part}`")
            })
        };
        let target = Target { left: side(left)?, right: side(right)? };
        if matches!((&target.left, &target.right), (Side::Value(_), Side::Value(_))) {
            return Err("at least one side must be a DEAL:METRIC".to_string());
        }
        Ok(target)
    }

    /// Checks the deals and metrics named exist in the scenario's layout.
    pub fn check(&self, scenario: &Scenario, layout: &Layout) -> Result<(), String> {
        for side in [&self.left, &self.right] {
            if let Side::Metric { deal, metric } = side {
                slot(scenario, layout, deal, metric)?;
            }
        }
        Ok(())
    }

    /// LEFT − RIGHT on the means of `paths` paths (metrics only: no series or percentiles),
    /// with the standard error of that difference. Both sides are on the same paths, so when
    /// both are metrics the error comes from the per-path differences, which cancels the noise
    /// they share.
    ///
    /// `cache` keeps the drawn inputs between evaluations: the steps of a search draw them once
    /// when the value searched is not an input's distribution.
    pub fn evaluate(
        &self,
        scenario: &Scenario,
        options: &EvaluateOptions,
        cache: &mut DrawCache,
    ) -> Result<(f64, f64), String> {
        let evaluator = MetricPaths::new(scenario);
        let keep_rows = cache.prepare(scenario, options.seed, options.paths);
        let side = |side: &Side| match side {
            Side::Value(value) => Ok(Column::Value(*value)),
            Side::Metric { deal, metric } => slot(scenario, &evaluator.layout, deal, metric)
                .map(|slot| Column::Metric(slot, evaluator.layout.metrics[slot].origin)),
        };
        let (left, right) = (side(&self.left)?, side(&self.right)?);
        let blocks = options.paths.div_ceil(BLOCK_PATHS);
        // Per block: each side over the paths that have it, and their difference over the paths
        // that have both (a year metric is missing where its event never happens).
        let cached = &*cache;
        let parts: Vec<Result<BlockMoments, RunError>> = (0..blocks)
            .into_par_iter()
            .map(|block| {
                let (block_paths, mut work) = match cached.rows(block) {
                    Some(rows) => evaluator.start_block_from(options.paths, block, rows),
                    None => evaluator.start_block(options.seed, options.paths, block),
                };
                let mut metrics = vec![0.0; evaluator.layout.metrics.len()];
                let mut values: [Vec<f64>; 3] = Default::default();
                for (i, path) in block_paths.enumerate() {
                    evaluator.evaluate(options.seed, path, i, &mut work, &mut metrics)?;
                    let (left, right) = (left.of(&metrics), right.of(&metrics));
                    for (values, value) in values.iter_mut().zip([left, right, left - right]) {
                        if !value.is_nan() {
                            values.push(value);
                        }
                    }
                }
                let rows = if keep_rows { work.into_draws() } else { Vec::new() };
                Ok((values.map(|values| Moments::from_slice(&values)), rows))
            })
            .collect();
        // Merged in block order: the same answer on any number of threads.
        let mut total = [Moments::default(); 3];
        let mut rows = Vec::new();
        for part in parts {
            let (part, block_rows) = part.map_err(|error| error.to_string())?;
            for (total, part) in total.iter_mut().zip(&part) {
                total.merge(part);
            }
            rows.push(block_rows);
        }
        if keep_rows {
            cache.store(rows);
        }
        let [left_moments, right_moments, difference] = total;
        let paired = matches!((left, right), (Column::Metric(..), Column::Metric(..)))
            && left_moments.count() == options.paths
            && right_moments.count() == options.paths;
        if paired {
            Ok((difference.mean(), difference.std_error()))
        } else {
            let side = |column: Column, moments: &Moments| match column {
                Column::Value(value) => (value, 0.0),
                Column::Metric(..) => (moments.mean(), moments.std_error()),
            };
            let ((left, left_se), (right, right_se)) = (side(left, &left_moments), side(right, &right_moments));
            Ok((left - right, left_se.hypot(right_se)))
        }
    }
}

fn slot(scenario: &Scenario, layout: &Layout, deal: &str, metric: &str) -> Result<usize, String> {
    let index = scenario.deals.iter().position(|d| d.name == deal).ok_or_else(|| {
        let deals: Vec<&str> = scenario.deals.iter().map(|d| d.name.as_str()).collect();
        format!("no deal `{deal}`; expected one of: {}", deals.join(", "))
    })?;
    layout
        .metrics
        .iter()
        .position(|m| m.name == metric && m.scope.reported_under(index))
        .ok_or_else(|| format!("deal `{deal}` reports no metric `{metric}`"))
}

/// One side of a target on one path: a metric's value there (stored relative to its origin,
/// see `MetricSlot::origin`), or a number.
#[derive(Clone, Copy)]
enum Column {
    Metric(usize, f64),
    Value(f64),
}

impl Column {
    fn of(self, metrics: &[f64]) -> f64 {
        match self {
            Column::Metric(slot, origin) => metrics[slot] + origin,
            Column::Value(value) => value,
        }
    }
}

/// The range `--between` searches, and how its values read: in percent when given in percent,
/// as money when it spans amounts of money, otherwise as plain numbers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SearchRange {
    pub low: f64,
    pub high: f64,
    unit: Option<Unit>,
}

impl SearchRange {
    /// Reads the two bounds as a scenario file writes values: `10B`, `2%`, `0.3`.
    pub fn parse(low: &str, high: &str) -> Result<SearchRange, String> {
        let bound = |text: &str| {
            parse_amount_or_share(text)
                .ok_or_else(|| format!("expected a number such as 10B, 2% or 0.3, found `{text}`"))
        };
        let (low_value, high_value) = (bound(low)?, bound(high)?);
        let unit = if low.trim().ends_with('%') || high.trim().ends_with('%') {
            Some(Unit::Share)
        } else if low_value.abs().max(high_value.abs()) >= 1e6 {
            Some(Unit::Money)
        } else {
            None
        };
        Ok(SearchRange { low: low_value, high: high_value, unit })
    }

    /// A value of the range, or a width on it, in the range's unit.
    pub fn show(&self, value: f64) -> String {
        match self.unit {
            Some(unit) => unit.format(value),
            None => format::scenario_number(value),
        }
    }
}

/// How many paths each evaluation of a target runs, from which seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EvaluateOptions {
    pub paths: u64,
    pub seed: u64,
}

/// One block of an evaluation: the moments of the left side, the right side and their
/// difference, and the block's drawn rows when the cache keeps them.
type BlockMoments = ([Moments; 3], Vec<f64>);

/// For a key that sets one outcome's weight (`events.<event>.outcomes.<outcome>`), the share of
/// the event's occurrences that outcome takes at those weights: weights are relative, so a solved
/// weight reads best as this probability. None for other keys and for uncertain weights.
pub fn outcome_share(scenario: &Scenario, key: &str) -> Option<(String, f64)> {
    let (event, outcome) = key.strip_prefix("events.")?.split_once(".outcomes.")?;
    let parent = scenario.events.iter().find(|e| e.name == event)?;
    let outcome_name = format!("{event}.{outcome}");
    let mut total = 0.0;
    let mut chosen = None;
    for (weight, id) in &parent.outcomes {
        let Scalar::Const(weight) = *weight else { return None };
        total += weight;
        if scenario.events[*id].name == outcome_name {
            chosen = Some(weight);
        }
    }
    Some((outcome_name, chosen? / total))
}

/// Where a bisection ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Breakeven {
    pub value: f64,
    /// Half-width of a 95% band on the value: 1.96 standard errors of the target at the root,
    /// divided by the target's slope there.
    pub band: f64,
    pub iterations: usize,
}

/// Why no breakeven was found.
#[derive(Clone, Debug, PartialEq)]
pub enum SolveError {
    /// The target has the same sign at both ends of the range.
    NoRoot {
        low: f64,
        high: f64,
        at_low: f64,
        at_high: f64,
    },
    Evaluation(String),
}

impl fmt::Display for SolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SolveError::NoRoot { low, high, at_low, at_high } => {
                let [low, high, at_low, at_high] = [low, high, at_low, at_high].map(|v| format::scenario_number(*v));
                write!(
                    f,
                    "no root in [{low}, {high}]: the target (left − right) is {at_low} at {low} and {at_high} at {high}, the same sign; widen --between or check the target"
                )
            }
            SolveError::Evaluation(message) => f.write_str(message),
        }
    }
}

/// Bisection of `f(x) = 0` on [low, high], where `f` returns (value, standard error). `f` is
/// deterministic in x because every evaluation reuses the same seed (common random numbers).
pub fn bisect(
    low: f64,
    high: f64,
    tolerance: f64,
    mut f: impl FnMut(f64) -> Result<(f64, f64), String>,
) -> Result<Breakeven, SolveError> {
    let (mut low, mut high) = (low.min(high), low.max(high));
    let (mut at_low, _) = f(low).map_err(SolveError::Evaluation)?;
    let (at_high, _) = f(high).map_err(SolveError::Evaluation)?;
    if at_low == 0.0 {
        return Ok(Breakeven { value: low, band: 0.0, iterations: 0 });
    }
    if at_low.signum() == at_high.signum() {
        return Err(SolveError::NoRoot { low, high, at_low, at_high });
    }
    let (mut value_high, mut iterations) = (at_high, 0);
    let mut last_se = 0.0;
    while high - low > tolerance && iterations < 200 {
        iterations += 1;
        let middle = 0.5 * (low + high);
        let (value, se) = f(middle).map_err(SolveError::Evaluation)?;
        last_se = se;
        if value == 0.0 {
            low = middle;
            high = middle;
            break;
        }
        if value.signum() == at_low.signum() {
            low = middle;
            at_low = value;
        } else {
            high = middle;
            value_high = value;
        }
    }
    let slope = if high > low { (value_high - at_low) / (high - low) } else { 0.0 };
    let band = if slope != 0.0 { 1.96 * last_se / slope.abs() } else { f64::INFINITY };
    Ok(Breakeven { value: 0.5 * (low + high), band, iterations })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Override;

    /// The steps of a search share their draws when nothing a draw depends on changes, and draw
    /// afresh when something does: either way each evaluation is exactly a fresh one.
    #[test]
    fn cached_draws_give_exactly_what_fresh_draws_give() {
        const SCENARIO: &str = r#"
            [simulation]
            start = 2026
            years = 3
            steps_per_year = 4
            discount_rate = 0.1
            [parties.lab]
            [parties.cloud]
            [[streams]]
            name = "lab"
            owner = "lab"
            initial = "10B"
            growth = { dist = "pert", low = 0.2, mode = 0.5, high = 1.0 }
            volatility = 0.3
            [[deals]]
            name = "capped"
            [[deals.revenue_shares]]
            name = "share"
            payer = "lab"
            payee = "cloud"
            stream = "lab"
            rate = 0.2
            cap = { dist = "uniform", low = "3B", high = "9B" }
        "#;
        let target = Target::parse("capped:revenue_share.share.paid = 4B").unwrap();
        let options = EvaluateOptions { paths: 700, seed: 11 };
        let with = |key: &str, value: &str| {
            let set = [Override { key: key.into(), value: value.into() }];
            crate::scenario::parse_scenario("solve.toml", SCENARIO, &set).unwrap()
        };
        let mut cache = DrawCache::default();
        let steps = [
            ("deals.capped.revenue_shares.share.rate", "0.1"),
            ("deals.capped.revenue_shares.share.rate", "0.3"),
            ("streams.lab.growth.mode", "0.4"),
            ("streams.lab.growth.mode", "0.6"),
        ];
        for (key, value) in steps {
            let scenario = with(key, value);
            let cached = target.evaluate(&scenario, &options, &mut cache).unwrap();
            let fresh = target.evaluate(&scenario, &options, &mut DrawCache::default()).unwrap();
            assert_eq!(cached.0.to_bits(), fresh.0.to_bits(), "{key} = {value}");
            assert_eq!(cached.1.to_bits(), fresh.1.to_bits(), "{key} = {value}");
        }
        // The rate is no draw's: the second step found the first step's rows.
        let (first, second) = (with(steps[0].0, steps[0].1), with(steps[1].0, steps[1].1));
        let mut cache = DrawCache::default();
        assert!(cache.prepare(&first, 11, 700));
        target.evaluate(&first, &options, &mut cache).unwrap();
        assert!(!cache.prepare(&second, 11, 700) && cache.rows(0).is_some());
        // The growth's mode is: its rows are drawn again.
        assert!(cache.prepare(&with(steps[2].0, steps[2].1), 11, 700) && cache.rows(0).is_none());
    }

    #[test]
    fn parses_targets() {
        let target = Target::parse("apr-2026:party.microsoft.npv = oct-2025:party.microsoft.npv").unwrap();
        assert_eq!(target.right, Side::Metric { deal: "oct-2025".into(), metric: "party.microsoft.npv".into() });
        let value = Target::parse("a:revenue_share.x.paid = 38B").unwrap();
        assert_eq!(value.right, Side::Value(38e9));
        assert!(Target::parse("1 = 2").is_err());
        assert!(Target::parse("a:b").is_err());
        assert!(Target::parse("a:b = lots").is_err());
        assert_eq!(Target::parse("a:b.cap_hit = 80%").unwrap().right, Side::Value(0.8));
        assert_eq!(value.right.to_string(), "$38B");
    }

    #[test]
    fn a_range_reads_in_the_unit_it_was_given_in() {
        let money = SearchRange::parse("10B", "400B").unwrap();
        assert_eq!((money.low, money.high), (10e9, 400e9));
        assert_eq!(format!("{} ± {}", money.show(42_837_443_351.7), money.show(31_471_336.2)), "$42.84B ± $0.03B");
        let percent = SearchRange::parse("2%", "30%").unwrap();
        assert_eq!((percent.low, percent.high), (0.02, 0.3));
        assert_eq!(percent.show(0.08346), "8.35%");
        assert_eq!(SearchRange::parse("0", "100").unwrap().show(20.0), "20");
        assert!(SearchRange::parse("0", "lots").is_err());
    }

    #[test]
    fn bisection_finds_a_root_and_reports_none_when_there_is_none() {
        let root = bisect(0.0, 10.0, 1e-9, |x| Ok((x * x - 2.0, 0.0))).unwrap();
        assert!((root.value - 2f64.sqrt()).abs() < 1e-8);
        match bisect(0.0, 1.0, 1e-9, |x| Ok((x + 1.0, 0.0))) {
            Err(SolveError::NoRoot { at_low, at_high, .. }) => assert_eq!((at_low, at_high), (1.0, 2.0)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_outcome_weight_reads_as_its_share_of_the_events_occurrences() {
        let text = r#"
[simulation]
start = 2026
years = 2
steps_per_year = 1
discount_rate = 0.1
[parties.lab]
[[streams]]
name = "lab"
owner = "lab"
initial = "1B"
[[events]]
name = "ruling"
date = "2027"
outcomes = { wins = 0.3, settles = 0.5, loses = 0.2 }
[[events]]
name = "vote"
date = "2027"
outcomes = { yes = { dist = "uniform", low = 0.1, high = 0.9 }, no = 0.5 }
[[deals]]
name = "none"
"#;
        let overrides = [Override::parse("events.ruling.outcomes.wins=0.5").unwrap()];
        let scenario = crate::scenario::parse_scenario("test.toml", text, &overrides).unwrap();
        let (name, share) = outcome_share(&scenario, "events.ruling.outcomes.wins").unwrap();
        assert_eq!(name, "ruling.wins");
        assert!((share - 0.5 / 1.2).abs() < 1e-15, "{share}");
        assert_eq!(outcome_share(&scenario, "events.vote.outcomes.no"), None, "an uncertain weight has no one share");
        assert_eq!(outcome_share(&scenario, "streams.lab.initial"), None);
    }
}
