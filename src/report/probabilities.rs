//! Target probabilities (`--prob 'METRIC > VALUE'`): the chance each deal's metric ends beyond
//! a threshold, read from the run's quantile sketches, so shards merge to the same figures.

use serde::Serialize;

use crate::engine::Aggregates;
use crate::engine::metrics::Layout;
use crate::engine::stats::CountAbove;
use crate::format;
use crate::scenario::{Scenario, parse_amount_or_share};

/// Which side of the threshold is asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Above,
    Below,
}

/// A target an analyst asks about: `[DEAL:]METRIC > VALUE` or `< VALUE`.
#[derive(Clone, Debug, PartialEq)]
pub struct Threshold {
    /// None: every deal that has the metric.
    pub deal: Option<String>,
    pub metric: String,
    pub side: Side,
    pub value: f64,
}

impl Threshold {
    /// Parses `METRIC > VALUE`, `METRIC < VALUE` or the same with `DEAL:` before the metric;
    /// the value as a scenario file writes it (`40B`, `20%`, `-5e9`).
    pub fn parse(text: &str) -> Result<Threshold, String> {
        let expected = || {
            format!("expected `METRIC > VALUE` or `DEAL:METRIC < VALUE` (e.g. `party.openai.npv < 0`), found `{text}`")
        };
        let (left, side, right) = match (text.split_once('>'), text.split_once('<')) {
            (Some((left, right)), None) => (left, Side::Above, right),
            (None, Some((left, right))) => (left, Side::Below, right),
            _ => return Err(expected()),
        };
        let value = parse_amount_or_share(right.trim())
            .ok_or_else(|| format!("{}: the threshold `{}` is not a number", expected(), right.trim()))?;
        let left = left.trim();
        let (deal, metric) = match left.split_once(':') {
            Some((deal, metric)) => (Some(deal.trim().to_string()), metric.trim()),
            None => (None, left),
        };
        if metric.is_empty() {
            return Err(expected());
        }
        Ok(Threshold { deal, metric: metric.to_string(), side, value })
    }

    /// Checks that the deal (if named) and the metric exist, naming what does otherwise: before
    /// a run, on its layout.
    pub fn check(&self, scenario: &Scenario, layout: &Layout) -> Result<(), String> {
        if let Some(deal) = &self.deal
            && !scenario.deals.iter().any(|d| &d.name == deal)
        {
            let deals: Vec<&str> = scenario.deals.iter().map(|d| d.name.as_str()).collect();
            return Err(format!("--prob {deal}:{}: no such deal; expected one of: {}", self.metric, deals.join(", ")));
        }
        if !layout.metrics.iter().any(|m| m.name == self.metric) {
            let mut names: Vec<&str> = layout.metrics.iter().map(|m| m.name.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            return Err(format!("--prob {}: no such metric; expected one of: {}", self.metric, names.join(", ")));
        }
        Ok(())
    }
}

/// One row of probabilities.csv.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProbabilityRow {
    pub deal: String,
    pub metric: String,
    /// `>` or `<`.
    pub side: &'static str,
    pub threshold: f64,
    /// Paths with the metric (a conditional metric, such as a cap-hit year, has fewer).
    pub count: u64,
    /// The share of those paths on which the metric is beyond the threshold, paths in the
    /// sketch's bucket of the threshold counted as half: between `low` and `high`.
    pub probability: f64,
    /// Bounds from the sketch's resolution (0.4% of the threshold): the paths within it counted
    /// as not beyond, then as beyond. Equal where the threshold is zero or beyond every value.
    pub low: f64,
    pub high: f64,
    /// The sampling error of `probability`: sqrt(p(1 − p) / count).
    pub std_error: f64,
}

impl ProbabilityRow {
    /// `21.2% ± 0.3%`, with the sketch's bounds where they are wider than a rounding:
    /// `71.0% ± 0.3% (66.0–76.1% at the sketch's resolution)`.
    pub fn describe(&self) -> String {
        let percent = |share: f64| format::percent(share, 1);
        let mut text = format!("{} ± {}", percent(self.probability), percent(self.std_error));
        if self.high - self.low >= 0.0005 {
            text.push_str(&format!(" ({}–{} at the sketch's resolution)", percent(self.low), percent(self.high)));
        }
        text
    }
}

/// A row per threshold and deal that has the metric, in the order asked.
pub fn probability_rows(scenario: &Scenario, aggregates: &Aggregates, thresholds: &[Threshold]) -> Vec<ProbabilityRow> {
    let mut rows = Vec::new();
    for threshold in thresholds {
        for (d, deal) in scenario.deals.iter().enumerate() {
            if threshold.deal.as_ref().is_some_and(|name| name != &deal.name) {
                continue;
            }
            let slot =
                aggregates.layout.metrics.iter().position(|m| m.name == threshold.metric && m.scope.reported_under(d));
            let Some(slot) = slot else { continue };
            let origin = aggregates.layout.metrics[slot].origin;
            let sketch = &aggregates.sketches[slot];
            let count = sketch.count();
            if count == 0 {
                continue;
            }
            let CountAbove { above, undecided } = sketch.count_above(threshold.value - origin);
            let (surely, maybe) = match threshold.side {
                Side::Above => (above, undecided),
                Side::Below => (count - above - undecided, undecided),
            };
            let share = |paths: f64| paths / count as f64;
            let probability = share(surely as f64 + maybe as f64 / 2.0);
            rows.push(ProbabilityRow {
                deal: deal.name.clone(),
                metric: threshold.metric.clone(),
                side: match threshold.side {
                    Side::Above => ">",
                    Side::Below => "<",
                },
                threshold: threshold.value,
                count,
                probability,
                low: share(surely as f64),
                high: share((surely + maybe) as f64),
                std_error: (probability * (1.0 - probability) / count as f64).sqrt(),
            });
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_read_as_written() {
        let parsed = Threshold::parse("revenue_share.openai-to-microsoft.paid > 40B").unwrap();
        assert_eq!(parsed.deal, None);
        assert_eq!(
            (parsed.metric.as_str(), parsed.side, parsed.value),
            ("revenue_share.openai-to-microsoft.paid", Side::Above, 40e9)
        );
        let parsed = Threshold::parse(" apr-2026 : party.openai.npv<0").unwrap();
        assert_eq!(parsed.deal.as_deref(), Some("apr-2026"));
        assert_eq!((parsed.metric.as_str(), parsed.side, parsed.value), ("party.openai.npv", Side::Below, 0.0));
        assert_eq!(Threshold::parse("party.microsoft.stake > 25%").unwrap().value, 0.25);
        for bad in ["party.openai.npv", "party.openai.npv > lots", "> 5", "a < 1 > 2", "x = 3"] {
            assert!(Threshold::parse(bad).is_err(), "{bad}");
        }
    }
}
