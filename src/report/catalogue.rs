//! The metric catalogue: for every metric of summary.csv (and comparison.csv, conditional.csv)
//! and every series of timeseries.csv, the name an analyst reads, its unit and so how its values
//! are written. A pure function of the identifier, so every deal, term and party is covered:
//! term kinds list their measures in their own modules ([`TermKind::metrics`]), the world's and
//! the parties' measures are listed here.

use crate::format::Unit;
use crate::scenario::Scenario;
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

/// The unit of a summary.csv metric (also comparison.csv's and conditional.csv's), which no
/// label changes: money where the identifier is unknown.
pub fn metric_unit(identifier: &str) -> Unit {
    Known::of(identifier, Table::Summary).map_or(Unit::Money, |known| known.measure.unit)
}

/// The unit of a timeseries.csv series.
pub fn series_unit(identifier: &str) -> Unit {
    Known::of(identifier, Table::Timeseries).map_or(Unit::Money, |known| known.measure.unit)
}

/// A known identifier taken apart: `party.microsoft.npv` is the party measure `npv` of
/// `microsoft`.
struct Known<'i> {
    /// `party`, `stream`, `event`, `compute`, `valuation` or a term kind's prefix.
    kind: &'i str,
    name: &'i str,
    measure: Measure,
    term: Option<TermKind>,
}

const VALUATION: Measure = Measure { key: "value", label: "Valuation of the company", unit: Unit::Money };

impl<'i> Known<'i> {
    fn of(identifier: &'i str, table: Table) -> Option<Known<'i>> {
        if identifier == "valuation.value" {
            return Some(Known { kind: "valuation", name: "", measure: VALUATION, term: None });
        }
        // The name in the middle may hold a dot itself: an event's outcome is `<event>.<outcome>`.
        let (kind, rest) = identifier.split_once('.')?;
        let (name, key) = rest.rsplit_once('.')?;
        let term = TermKind::of_prefix(kind);
        let measures = match (kind, table, term) {
            ("party", Table::Summary, _) => PARTY_METRICS,
            ("party", Table::Timeseries, _) => PARTY_SERIES,
            ("stream", Table::Summary, _) => STREAM_METRICS,
            ("stream", Table::Timeseries, _) => STREAM_SERIES,
            ("event", Table::Summary, _) => EVENT_METRICS,
            ("compute", Table::Timeseries, _) => COMPUTE_SERIES,
            (_, Table::Summary, Some(term)) => term.metrics(),
            (_, Table::Timeseries, Some(term)) => term.series(),
            _ => return None,
        };
        let measure = measures.iter().find(|m| m.key == key).copied()?;
        Some(Known { kind, name, measure, term })
    }
}

/// The catalogue of one scenario: its parties, streams, providers and events read by their
/// labels (`OpenAI` for `openai`) where the scenario gives them.
#[derive(Clone, Copy)]
pub struct Catalogue<'s> {
    scenario: &'s Scenario,
}

impl<'s> Catalogue<'s> {
    pub fn of(scenario: &'s Scenario) -> Catalogue<'s> {
        Catalogue { scenario }
    }

    /// How a summary.csv metric reads (also comparison.csv's and conditional.csv's, which name
    /// the same metrics), e.g. `party.microsoft.npv` is "Microsoft NPV" in $B.
    pub fn metric(&self, identifier: &str) -> Entry {
        self.entry(identifier, Table::Summary)
    }

    /// How a timeseries.csv series reads, e.g. `stream.openai.run_rate` is "OpenAI revenue
    /// run-rate" where the stream is labelled `OpenAI`.
    pub fn series(&self, identifier: &str) -> Entry {
        self.entry(identifier, Table::Timeseries)
    }

    /// The entry of a known identifier, or the identifier itself read as money (every
    /// identifier a run reports is known; the tests check the shipped scenarios').
    fn entry(&self, identifier: &str, table: Table) -> Entry {
        let Some(known) = Known::of(identifier, table) else {
            return Entry { name: identifier.to_string(), unit: Unit::Money };
        };
        let label = self.label(known.kind, known.name);
        let what = known.measure.label;
        let text = match (known.kind, known.term) {
            ("valuation", _) => what.to_string(),
            ("event", _) => format!("{label}: {what}"),
            ("compute", _) => format!("compute {what} with {label}, per period"),
            (_, Some(term)) => format!("{} {label}: {what}", term.label()),
            _ => format!("{label} {what}"),
        };
        Entry { name: capitalized(&text), unit: known.measure.unit }
    }

    /// The label of the party, stream, provider or event `name`, by the identifier's kind
    /// (`party`, `stream`, `compute`, `event`) or the input key's collection (`parties`, …);
    /// the name itself for anything else.
    fn label<'n>(&self, kind: &str, name: &'n str) -> &'n str
    where
        's: 'n,
    {
        let scenario = self.scenario;
        let found = match kind {
            "party" | "parties" => scenario.parties.iter().find(|p| p.name == name).map(|p| p.label.as_str()),
            "stream" | "streams" => scenario.streams.iter().find(|s| s.name == name).map(|s| s.label.as_str()),
            "compute" | "providers" => scenario
                .compute
                .iter()
                .flat_map(|compute| &compute.providers)
                .find(|p| p.name == name)
                .map(|p| p.label.as_str()),
            "event" | "events" => scenario.events.iter().find(|e| e.name == name).map(|e| e.label.as_str()),
            _ => None,
        };
        found.unwrap_or(name)
    }

    /// An uncertain input in words, from its key path: `streams.openai.growth.start` is
    /// "Openai growth, start" (or "OpenAI growth, start" with the stream labelled),
    /// `deals.apr-2026.revenue_shares.openai-to-microsoft.cap` is "Apr-2026 openai-to-microsoft cap".
    pub fn input(&self, key: &str) -> String {
        let mut segments: Vec<&str> = key.split('.').collect();
        // A provider's field reads without `compute`: `compute.providers.aws.margin` is "Aws margin".
        if segments.starts_with(&["compute", "providers"]) {
            segments.remove(0);
        }
        let mut words: Vec<String> = Vec::with_capacity(segments.len());
        for (index, segment) in segments.iter().enumerate() {
            if COLLECTIONS.contains(segment) {
                continue;
            }
            let collection = index.checked_sub(1).map_or("", |previous| segments[previous]);
            let label = self.label(collection, segment);
            words.push(if label == *segment { segment.replace('_', " ") } else { label.to_string() });
        }
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
    use crate::scenario::parse_scenario;

    /// Labels on the lab (party and stream), one provider and one event; none elsewhere.
    const SCENARIO: &str = r#"
        [simulation]
        start = 2026
        years = 3
        steps_per_year = 4
        discount_rate = 0.1
        [parties.openai]
        label = "OpenAI"
        [parties.microsoft]
        [parties.amazon]
        [[streams]]
        name = "openai"
        label = "OpenAI"
        owner = "openai"
        initial = "10B"
        [compute]
        stream = "openai"
        cost_ratio = 1.0
        [[compute.providers]]
        name = "azure"
        owner = "microsoft"
        margin = 0.4
        share = 0.7
        [[compute.providers]]
        name = "aws"
        label = "AWS"
        owner = "amazon"
        margin = 0.3
        share = 0.3
        [[events]]
        name = "ipo"
        label = "IPO"
        annual_rate = 0.5
        [[events]]
        name = "ruling"
        annual_rate = 0.5
        outcomes = { microsoft_wins = 0.5, aws_wins = 0.5 }
        [[deals]]
        name = "apr-2026"
    "#;

    fn with_catalogue(check: impl FnOnce(Catalogue)) {
        let scenario = parse_scenario("labels.toml", SCENARIO, &[]).unwrap();
        check(Catalogue::of(&scenario));
    }

    #[test]
    fn names_and_units_read_as_an_analyst_would_say_them() {
        with_catalogue(|catalogue| {
            assert_eq!(catalogue.metric("party.microsoft.npv").heading(), "Microsoft NPV ($B)");
            assert_eq!(
                catalogue.metric("revenue_share.openai-to-microsoft.cap_hit").heading(),
                "Revenue share openai-to-microsoft: cap reached (% of paths)"
            );
            assert_eq!(
                catalogue.metric("commitment.azure-250b.shortfall").heading(),
                "Commitment azure-250b: shortfall ($B)"
            );
            assert_eq!(catalogue.metric("investment.amazon-50b.stake").format(0.0404), "4.04%");
            assert_eq!(catalogue.series("compute.azure.spend").heading(), "Compute spend with azure, per period ($B)");
            assert_eq!(catalogue.series("valuation.value").heading(), "Valuation of the company ($B)");
            assert_eq!(catalogue.metric("event.ruling.aws_wins.year").name, "Ruling.aws_wins: year it occurs");
        });
        assert_eq!(metric_unit("route.frontier_aws.moved"), Unit::Money);
        assert_eq!(metric_unit("payment.damages.year"), Unit::Year);
        assert_eq!(series_unit("party.openai.stake"), Unit::Share);
    }

    #[test]
    fn labels_name_what_the_scenario_labels() {
        with_catalogue(|catalogue| {
            assert_eq!(catalogue.metric("party.openai.npv").heading(), "OpenAI NPV ($B)");
            assert_eq!(catalogue.metric("event.ipo.occurred").heading(), "IPO: occurs by the horizon (% of paths)");
            assert_eq!(catalogue.series("compute.aws.spend").name, "Compute spend with AWS, per period");
            assert_eq!(catalogue.input("streams.openai.growth.start"), "OpenAI growth, start");
            assert_eq!(catalogue.input("compute.providers.aws.margin"), "AWS margin");
            assert_eq!(catalogue.input("events.ipo.annual_rate"), "IPO annual rate");
            // A term named like a labelled party keeps its own name.
            assert_eq!(catalogue.metric("revenue_share.openai.paid").name, "Revenue share openai: paid");
        });
    }

    #[test]
    fn a_name_is_a_metric_or_a_series_as_asked() {
        with_catalogue(|catalogue| {
            assert_eq!(catalogue.metric("stream.openai.revenue").name, "OpenAI revenue over the horizon");
            assert_eq!(catalogue.series("stream.openai.revenue").name, "OpenAI revenue per period");
        });
    }

    #[test]
    fn inputs_read_without_their_collections() {
        with_catalogue(|catalogue| {
            assert_eq!(
                catalogue.input("deals.apr-2026.revenue_shares.openai-to-microsoft.cap"),
                "Apr-2026 openai-to-microsoft cap"
            );
            assert_eq!(catalogue.input("compute.providers.azure.margin"), "Azure margin");
            assert_eq!(catalogue.input("compute.cost_ratio.end"), "Compute cost ratio, end");
            assert_eq!(catalogue.input("parties.microsoft.discount_rate"), "Microsoft discount rate");
        });
    }

    #[test]
    fn an_unknown_identifier_reads_as_itself() {
        with_catalogue(|catalogue| {
            assert_eq!(catalogue.metric("nothing.like.this").name, "nothing.like.this");
            assert_eq!(catalogue.metric("party.microsoft.unheard_of").name, "party.microsoft.unheard_of");
        });
    }
}
