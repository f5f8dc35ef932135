//! The metric catalogue: for every metric of summary.csv (and comparison.csv, conditional.csv)
//! and every series of timeseries.csv, the name an analyst reads, its unit and so how its values
//! are written. A pure function of the identifier, so every deal, term and party is covered:
//! term kinds list their measures in their own modules ([`TermKind::metrics`]), the world's and
//! the parties' measures are listed here.

use crate::format::Unit;
use crate::terms::{Measure, TermKind};

/// How a metric or series reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// What it is, in words: `Microsoft NPV`, `Revenue share openai-to-microsoft: cap reached`.
    pub name: String,
    pub unit: Unit,
}

impl Entry {
    /// The name with its unit: `Microsoft NPV ($B)`, `… cap reached (% of paths)`.
    pub fn heading(&self) -> String {
        format!("{}{}", self.name, self.unit.suffix())
    }

    /// A value of the metric, as tables write it: `$38.00B`, `25.0%`.
    pub fn format(&self, value: f64) -> String {
        self.unit.format(value)
    }
}

/// A party's measures in summary.csv: `party.<name>.<key>`.
const PARTY_METRICS: &[Measure] = &[
    Measure { key: "npv", label: "NPV", unit: Unit::Money },
    Measure { key: "cloud_profit", label: "cloud profit", unit: Unit::Money },
    Measure { key: "revenue_share_net", label: "revenue shares, net", unit: Unit::Money },
    Measure { key: "equity_value", label: "equity value at the horizon", unit: Unit::Money },
    Measure { key: "stake", label: "stake at the horizon", unit: Unit::Share },
    Measure { key: "min_cash", label: "lowest cash", unit: Unit::Money },
    Measure { key: "funding_gap", label: "funding gap", unit: Unit::Money },
];
/// A party's series in timeseries.csv.
const PARTY_SERIES: &[Measure] = &[
    Measure { key: "cash_flow", label: "cash flow per period", unit: Unit::Money },
    Measure { key: "cash", label: "cash", unit: Unit::Money },
    Measure { key: "stake", label: "stake", unit: Unit::Share },
];
const STREAM_METRICS: &[Measure] = &[
    Measure { key: "revenue", label: "revenue over the horizon", unit: Unit::Money },
    Measure { key: "run_rate_final", label: "revenue run-rate at the horizon", unit: Unit::Money },
];
const STREAM_SERIES: &[Measure] = &[
    Measure { key: "run_rate", label: "revenue run-rate", unit: Unit::Money },
    Measure { key: "revenue", label: "revenue per period", unit: Unit::Money },
];
const EVENT_METRICS: &[Measure] = &[
    Measure { key: "occurred", label: "occurs by the horizon", unit: Unit::Probability },
    Measure { key: "year", label: "year it occurs", unit: Unit::Year },
];
const COMPUTE_SERIES: &[Measure] = &[Measure { key: "spend", label: "spend", unit: Unit::Money }];

/// Whether an identifier names a summary metric or a time series: `stream.<name>.revenue` is
/// the total in summary.csv and the revenue of each period in timeseries.csv.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Table {
    Summary,
    Timeseries,
}

/// How a summary.csv metric reads (also comparison.csv's and conditional.csv's, which name the
/// same metrics), e.g. `party.microsoft.npv` is "Microsoft NPV" in $B.
pub fn metric(identifier: &str) -> Entry {
    entry(identifier, Table::Summary)
}

/// How a timeseries.csv series reads, e.g. `stream.openai.run_rate` is "Openai revenue run-rate".
pub fn series(identifier: &str) -> Entry {
    entry(identifier, Table::Timeseries)
}

/// The entry of a known identifier, or the identifier itself read as money (every identifier a
/// run reports is known; the tests check the shipped scenarios').
fn entry(identifier: &str, table: Table) -> Entry {
    known(identifier, table).unwrap_or_else(|| Entry { name: identifier.to_string(), unit: Unit::Money })
}

fn known(identifier: &str, table: Table) -> Option<Entry> {
    if identifier == "valuation.value" {
        return Some(Entry { name: "Valuation of the company".to_string(), unit: Unit::Money });
    }
    // The name in the middle may hold a dot itself: an event's outcome is `<event>.<outcome>`.
    let (kind, rest) = identifier.split_once('.')?;
    let (name, key) = rest.rsplit_once('.')?;
    let find = |measures: &[Measure]| measures.iter().find(|m| m.key == key).copied();
    let entry = |text: String, measure: Measure| Some(Entry { name: capitalized(&text), unit: measure.unit });
    match (kind, table) {
        ("party", Table::Summary) => find(PARTY_METRICS).and_then(|m| entry(format!("{name} {}", m.label), m)),
        ("party", Table::Timeseries) => find(PARTY_SERIES).and_then(|m| entry(format!("{name} {}", m.label), m)),
        ("stream", Table::Summary) => find(STREAM_METRICS).and_then(|m| entry(format!("{name} {}", m.label), m)),
        ("stream", Table::Timeseries) => find(STREAM_SERIES).and_then(|m| entry(format!("{name} {}", m.label), m)),
        ("event", Table::Summary) => find(EVENT_METRICS).and_then(|m| entry(format!("{name}: {}", m.label), m)),
        ("compute", Table::Timeseries) => {
            find(COMPUTE_SERIES).and_then(|m| entry(format!("compute {} with {name}, per period", m.label), m))
        }
        _ => {
            let kind = TermKind::of_prefix(kind)?;
            let measures = match table {
                Table::Summary => kind.metrics(),
                Table::Timeseries => kind.series(),
            };
            find(measures).and_then(|m| entry(format!("{} {name}: {}", kind.label(), m.label), m))
        }
    }
}

/// Key-path segments that name a collection rather than a thing: `streams` in
/// `streams.openai.growth.start`.
const COLLECTIONS: &[&str] = &[
    "streams",
    "channels",
    "parties",
    "providers",
    "events",
    "deals",
    "revenue_shares",
    "commitments",
    "investments",
    "payments",
    "routes",
];

/// An uncertain input in words, from its key path: `streams.openai.growth.start` is
/// "Openai growth, start", `deals.apr-2026.revenue_shares.openai-to-microsoft.cap` is
/// "Apr-2026 openai-to-microsoft cap".
pub fn input(key: &str) -> String {
    let mut segments: Vec<&str> = key.split('.').collect();
    // A provider's field reads without `compute`: `compute.providers.aws.margin` is "Aws margin".
    if segments.starts_with(&["compute", "providers"]) {
        segments.remove(0);
    }
    let mut words: Vec<String> =
        segments.iter().filter(|s| !COLLECTIONS.contains(s)).map(|s| s.replace('_', " ")).collect();
    // The ends of a trajectory read as a qualifier.
    if words.len() > 1 && matches!(words.last().map(String::as_str), Some("start" | "end")) {
        let end = words.pop().unwrap_or_default();
        if let Some(last) = words.last_mut() {
            last.push(',');
        }
        words.push(end);
    }
    capitalized(&words.join(" "))
}

/// The first letter in upper case, as a label starts: `microsoft NPV` is `Microsoft NPV`.
pub(crate) fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_units_read_as_an_analyst_would_say_them() {
        assert_eq!(metric("party.microsoft.npv").heading(), "Microsoft NPV ($B)");
        assert_eq!(
            metric("revenue_share.openai-to-microsoft.cap_hit").heading(),
            "Revenue share openai-to-microsoft: cap reached (% of paths)"
        );
        assert_eq!(metric("commitment.azure-250b.shortfall").heading(), "Commitment azure-250b: shortfall ($B)");
        assert_eq!(metric("route.frontier_aws.moved").unit, Unit::Money);
        assert_eq!(metric("payment.damages.year").unit, Unit::Year);
        assert_eq!(metric("investment.amazon-50b.stake").format(0.0404), "4.04%");
        assert_eq!(metric("event.ipo.occurred").heading(), "Ipo: occurs by the horizon (% of paths)");
        assert_eq!(series("compute.azure.spend").heading(), "Compute spend with azure, per period ($B)");
        assert_eq!(series("valuation.value").heading(), "Valuation of the company ($B)");
        assert_eq!(metric("event.ruling.aws_wins.year").name, "Ruling.aws_wins: year it occurs");
    }

    #[test]
    fn a_name_is_a_metric_or_a_series_as_asked() {
        assert_eq!(metric("stream.openai.revenue").name, "Openai revenue over the horizon");
        assert_eq!(series("stream.openai.revenue").name, "Openai revenue per period");
        assert_eq!(series("party.openai.stake").unit, Unit::Share);
    }

    #[test]
    fn inputs_read_without_their_collections() {
        assert_eq!(input("streams.openai.growth.start"), "Openai growth, start");
        assert_eq!(input("deals.apr-2026.revenue_shares.openai-to-microsoft.cap"), "Apr-2026 openai-to-microsoft cap");
        assert_eq!(input("compute.providers.aws.margin"), "Aws margin");
        assert_eq!(input("compute.cost_ratio.end"), "Compute cost ratio, end");
        assert_eq!(input("events.ipo.annual_rate"), "Ipo annual rate");
    }

    #[test]
    fn an_unknown_identifier_reads_as_itself() {
        assert_eq!(metric("nothing.like.this").name, "nothing.like.this");
        assert_eq!(metric("party.microsoft.unheard_of").name, "party.microsoft.unheard_of");
    }
}
