//! Breakeven solving: the value of one scalar term at which a target between two metrics holds,
//! found by bisection on common random numbers.

use std::fmt;

use crate::engine::Aggregates;
use crate::format::{self, Unit};
use crate::scenario::{Scenario, parse_amount_or_share};

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

    /// Checks the deals and metrics named exist in the run's layout.
    pub fn check(&self, scenario: &Scenario, aggregates: &Aggregates) -> Result<(), String> {
        for side in [&self.left, &self.right] {
            if let Side::Metric { deal, metric } = side {
                slot(scenario, aggregates, deal, metric)?;
            }
        }
        Ok(())
    }

    /// LEFT − RIGHT on a run's means, with the standard error of that difference: from the
    /// per-path differences when both sides are the same metric under two deals (the run's
    /// baseline must then be the right-hand deal), otherwise from each side's error.
    pub fn evaluate(&self, scenario: &Scenario, aggregates: &Aggregates) -> Result<(f64, f64), String> {
        let side = |side: &Side| -> Result<(f64, f64, Option<usize>), String> {
            match side {
                Side::Value(value) => Ok((*value, 0.0, None)),
                Side::Metric { deal, metric } => {
                    let slot = slot(scenario, aggregates, deal, metric)?;
                    let moments = &aggregates.moments[slot];
                    Ok((moments.mean(), moments.std_error(), Some(slot)))
                }
            }
        };
        let (left, left_se, left_slot) = side(&self.left)?;
        let (right, right_se, right_slot) = side(&self.right)?;
        let paired = aggregates
            .layout
            .comparisons
            .iter()
            .position(|c| Some(c.deal_slot) == left_slot && Some(c.baseline_slot) == right_slot);
        let se = match paired {
            Some(i) => aggregates.moments[aggregates.layout.comparison_slot(i)].std_error(),
            None => left_se.hypot(right_se),
        };
        Ok((left - right, se))
    }

    /// The deal on the right, which the runs should use as their comparison baseline.
    pub fn baseline_deal(&self) -> Option<&str> {
        match &self.right {
            Side::Metric { deal, .. } => Some(deal),
            Side::Value(_) => None,
        }
    }
}

fn slot(scenario: &Scenario, aggregates: &Aggregates, deal: &str, metric: &str) -> Result<usize, String> {
    let index = scenario.deals.iter().position(|d| d.name == deal).ok_or_else(|| {
        let deals: Vec<&str> = scenario.deals.iter().map(|d| d.name.as_str()).collect();
        format!("no deal `{deal}`; expected one of: {}", deals.join(", "))
    })?;
    aggregates
        .layout
        .metrics
        .iter()
        .position(|m| {
            m.name == metric
                && (m.scope == crate::engine::metrics::Scope::Deal(index)
                    || m.scope == crate::engine::metrics::Scope::World)
        })
        .ok_or_else(|| format!("deal `{deal}` reports no metric `{metric}`"))
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

    #[test]
    fn parses_targets() {
        let target = Target::parse("apr-2026:party.microsoft.npv = oct-2025:party.microsoft.npv").unwrap();
        assert_eq!(target.baseline_deal(), Some("oct-2025"));
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
}
