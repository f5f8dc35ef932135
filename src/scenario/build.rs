//! Validation: turns a scenario's TOML text (and `--set` overrides) into a typed [`Scenario`].

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::document::{self, Document, Loader};
use super::reader::{Diagnostics, KeyPath, Node, Origin, OverrideSource, ParsedOverride, Reader, Table, describe};
use super::*;
use crate::sampling::correlation::normal_score_correlation;
use crate::sampling::distribution::{Distribution, DistributionError};
use crate::terms::{Activation, CommitmentWindow, Term, TermKind, TrancheTiming};

/// Longest name of a party, stream, channel, provider, event, deal or term.
const MAX_NAME_LENGTH: usize = 64;

/// Largest path count a scenario may ask for; beyond it a run would take hours.
pub const MAX_PATHS: u64 = 100_000_000;
const MAX_YEARS: u32 = 100;
/// Largest amount of money a field takes, in USD: a quadrillion, ten times world GDP and far past
/// any deal. Revenue compounded from it at the largest growth over the longest horizon stays
/// near 1e119, far below where f64 overflows (1.8e308).
const MAX_MONEY: f64 = 1e15;
/// A distribution with an unbounded tail (normal, lognormal) meets a magnitude limit when its
/// quantile this far into the tail does: a draw beyond it comes once in 10^12 draws, and every
/// magnitude limit sits orders of magnitude before anything overflows (the run itself refuses a
/// value that does).
const TAIL: f64 = 1e-12;
/// Largest annual growth of a stream: 1,000% a year, an elevenfold run-rate every year, beyond
/// the fastest-growing company on record. Compounded over the longest horizon (100 years) it
/// multiplies a run-rate by 11^100 = 1.4e104, which keeps MAX_MONEY's streams finite.
const MAX_GROWTH: f64 = 10.0;
/// Largest annual volatility of a stream's log run-rate: 500% a year. Its drift −σ²/2 is
/// already −12.5 a year, so revenue all but vanishes on every path; not far beyond (σ near 38)
/// one year's drift alone would underflow exp() and the shocks exp(σ√Δt·Z) overflow it.
const MAX_VOLATILITY: f64 = 5.0;
/// Largest log size of one jump, either way: e^10 multiplies a run-rate by 22,026 (or divides
/// it), past any real shock; a sign of a size written as a factor (1e6 for "a millionfold").
const MAX_JUMP_SIZE: f64 = 10.0;
/// Most jumps a year: two a week is volatility, not jumps. It keeps each period's Poisson draw,
/// inverted from e^−mean, exact: e^−mean underflows only past a mean of 745.
const MAX_JUMP_RATE: f64 = 100.0;
/// Largest valuation multiple of run-rate: listed companies rarely trade above 100 times revenue
/// (the shipped scenarios start at 35); 10,000 is two orders of magnitude past that.
const MAX_MULTIPLE: f64 = 1e4;
/// Largest ratio of a cost to revenue (compute spend, other operating costs): a young lab spends
/// a few times its revenue (OpenAI in 2024: 1.6); a thousand times is a company without revenue,
/// which a cost proportional to revenue does not describe.
const MAX_COST_RATIO: f64 = 1e3;

/// A `--set KEY=VALUE` override of one scalar, by named key path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Override {
    pub key: String,
    pub value: String,
}

impl Override {
    /// Parses `KEY=VALUE`.
    pub fn parse(text: &str) -> Result<Override, String> {
        match text.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => {
                Ok(Override { key: key.trim().to_string(), value: value.trim().to_string() })
            }
            _ => Err(format!("expected KEY=VALUE, found `{text}`")),
        }
    }
}

/// Parses and validates a scenario held in memory; it cannot `extends` another file. `origin`
/// names it in messages.
pub fn parse_scenario(origin: &str, source: &str, overrides: &[Override]) -> Result<Scenario, Diagnostics> {
    parse(origin, source, overrides, None)
}

/// Parses and validates a scenario file and the files it extends, which `load` reads by the
/// path `extends` gives, resolved against the extending file's directory.
pub fn parse_scenario_file(
    origin: &str,
    source: &str,
    overrides: &[Override],
    load: Loader<'_>,
) -> Result<Scenario, Diagnostics> {
    parse(origin, source, overrides, Some(load))
}

fn parse(
    origin: &str,
    source: &str,
    overrides: &[Override],
    load: Option<Loader<'_>>,
) -> Result<Scenario, Diagnostics> {
    let files = document::gather(origin, source, load);
    let Document { root, root_offset, sources, overrides: mut all_overrides, problems } = document::compose(&files);
    all_overrides.extend(overrides.iter().map(parse_override_value));
    let mut reader = Reader::new(sources, &all_overrides);
    for problem in &problems {
        let path = KeyPath { positional: problem.key_path.clone(), named: problem.key_path.clone() };
        reader.error_at(problem.offset, &path, problem.message.clone());
    }
    if reader.has_errors() {
        return Err(reader.finish().expect_err("problems were recorded"));
    }
    let root = DeValue::Table(root);
    let root = Node { value: &root, offset: root_offset, origin: Origin::File };
    let scenario = Builder::new(&mut reader).build(root);
    reader.report_unused_overrides();
    reader.finish()?;
    Ok(scenario.expect("a scenario is built whenever no error was recorded"))
}

fn parse_override_value(set: &Override) -> ParsedOverride<'_> {
    let text = format!("{}={}", set.key, set.value);
    let value = match DeValue::parse(&set.value) {
        Ok(value) => value,
        // A bare word such as 50B or 20% is taken as the string it spells.
        Err(_) => Spanned::new(0..set.value.len(), DeValue::String(Cow::Borrowed(set.value.as_str()))),
    };
    ParsedOverride { key: set.key.clone(), value, source: OverrideSource::CommandLine { text } }
}

/// How a number may be written in a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// USD: a number or "38B", "1.2T", "900M", "5K" (an optional leading "$").
    Money,
    /// A rate, share or probability: a number or "20%".
    Fraction,
    /// A plain number (multiples, years, counts).
    Plain,
}

impl Kind {
    fn example(self) -> &'static str {
        match self {
            Kind::Money => "an amount such as 38e9 or \"38B\"",
            Kind::Fraction => "a number such as 0.2 or \"20%\"",
            Kind::Plain => "a number",
        }
    }
}

/// The range a field's values must lie in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Bound {
    Any,
    NonNegative,
    Positive,
    /// [0, 1]: shares, rates, probabilities.
    Unit,
    /// (-1, MAX_GROWTH]: annual growth.
    Growth,
    /// [0, MAX_VOLATILITY]: annual volatility.
    Volatility,
    /// [-MAX_JUMP_SIZE, MAX_JUMP_SIZE]: the log size of a jump.
    JumpSize,
    /// [0, MAX_JUMP_RATE]: jumps a year.
    JumpRate,
    /// [0, MAX_MULTIPLE]: a valuation multiple of run-rate.
    Multiple,
    /// [0, MAX_COST_RATIO]: a cost as a multiple of revenue.
    CostRatio,
    /// [-0.5, 1]: annual discount rates; 9 for 9% is a typo, not a 900% rate. Below −50% a year,
    /// discounting multiplies a flow 100 years out by more than 2^100 = 1.3e30, and near −100%
    /// it overflows; real rates seldom go below a few percent under zero.
    DiscountRate,
    /// [-1, 1]: rank correlations.
    Correlation,
    /// [-MAX_MONEY, MAX_MONEY]: a cash balance, which may be negative.
    Money,
    /// (0, MAX_MONEY]: a revenue run-rate.
    PositiveMoney,
    /// [0, MAX_MONEY]: caps, totals and payments.
    NonNegativeMoney,
}

impl Bound {
    fn admits(self, value: f64) -> bool {
        match self {
            Bound::Any => true,
            Bound::NonNegative => value >= 0.0,
            Bound::Positive => value > 0.0,
            Bound::Unit => (0.0..=1.0).contains(&value),
            Bound::Growth => value > -1.0 && value <= MAX_GROWTH,
            Bound::Volatility => (0.0..=MAX_VOLATILITY).contains(&value),
            Bound::JumpSize => value.abs() <= MAX_JUMP_SIZE,
            Bound::JumpRate => (0.0..=MAX_JUMP_RATE).contains(&value),
            Bound::Multiple => (0.0..=MAX_MULTIPLE).contains(&value),
            Bound::CostRatio => (0.0..=MAX_COST_RATIO).contains(&value),
            Bound::DiscountRate => (-0.5..=1.0).contains(&value),
            Bound::Correlation => (-1.0..=1.0).contains(&value),
            Bound::Money => value.abs() <= MAX_MONEY,
            Bound::PositiveMoney => value > 0.0 && value <= MAX_MONEY,
            Bound::NonNegativeMoney => (0.0..=MAX_MONEY).contains(&value),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Bound::Any => "any number",
            Bound::NonNegative => ">= 0",
            Bound::Positive => "> 0",
            Bound::Unit => "in [0, 1]",
            Bound::Growth => "in (-1, 10] (annual growth; 10 is 1,000% a year)",
            Bound::Volatility => "in [0, 5] (annual volatility; 5 is 500% a year)",
            Bound::JumpSize => "in [-10, 10] (a log size: 10 multiplies the run-rate by e^10 = 22,026)",
            Bound::JumpRate => "in [0, 100] (jumps a year)",
            Bound::Multiple => "in [0, 10000]",
            Bound::CostRatio => "in [0, 1000] (times revenue)",
            Bound::DiscountRate => "in [-0.5, 1] (write 9% as 0.09 or \"9%\")",
            Bound::Correlation => "in [-1, 1]",
            Bound::Money => "in [-1e15, 1e15] (USD; 1e15 is a quadrillion)",
            Bound::PositiveMoney => "in (0, 1e15] (USD; 1e15 is a quadrillion)",
            Bound::NonNegativeMoney => "in [0, 1e15] (USD; 1e15 is a quadrillion)",
        }
    }

    /// Which ends of the range (lower, upper) are magnitude limits, set where the model's
    /// arithmetic would break, rather than the edge of what the field means.
    fn magnitude_limits(self) -> (bool, bool) {
        match self {
            Bound::Money | Bound::JumpSize => (true, true),
            Bound::PositiveMoney
            | Bound::NonNegativeMoney
            | Bound::Growth
            | Bound::Volatility
            | Bound::JumpRate
            | Bound::Multiple
            | Bound::CostRatio => (false, true),
            _ => (false, false),
        }
    }

    /// The draws of a distribution that must lie in range: its support, with an unbounded tail
    /// against a magnitude limit cut at its [`TAIL`] quantile.
    fn draw_range(self, distribution: &Distribution) -> (f64, f64) {
        let (low, high) = distribution.support();
        let (lower_limit, upper_limit) = self.magnitude_limits();
        let low = if low == f64::NEG_INFINITY && lower_limit { distribution.quantile(TAIL) } else { low };
        let high = if high == f64::INFINITY && upper_limit { distribution.quantile(1.0 - TAIL) } else { high };
        (low, high)
    }

    /// Whether every draw lies in range. A support ending at an open bound (a lognormal's 0
    /// for a positive amount) is fine when the distribution puts no mass on the bound itself.
    fn admits_distribution(self, distribution: &Distribution) -> bool {
        let (low, high) = self.draw_range(distribution);
        let open_at_zero = matches!(self, Bound::Positive | Bound::PositiveMoney);
        let low_ok = self.admits(low) || (low == 0.0 && open_at_zero && distribution.quantile(1e-12) > 0.0);
        low_ok && self.admits(high)
    }
}

/// Whether a field may vary over time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// Drawn once per path.
    Scalar,
    /// May also be a trajectory or a schedule.
    TimeVarying,
}

/// A `[[deals]]` entry as written, before its terms are read: where it is, its name, and the
/// entry it extends.
#[derive(Clone)]
struct DealEntry<'a> {
    node: Node<'a>,
    path: KeyPath,
    name: Option<String>,
    parent: Option<usize>,
}

pub(crate) struct Builder<'r, 'a> {
    reader: &'r mut Reader<'a>,
    grid: Grid,
    inputs: Vec<UncertainInput>,
    latents: Vec<Identity>,
    coins: Vec<Identity>,
    parties: Vec<Party>,
    streams: Vec<Stream>,
    events: Vec<Event>,
    providers: Vec<Provider>,
    compute_stream: Option<StreamId>,
    valuation_company: Option<PartyId>,
    /// Names of every entry read, by kind, valid or not.
    declared: HashMap<String, HashSet<String>>,
    /// False when [simulation] is invalid: horizon checks would only repeat that error.
    grid_known: bool,
}

fn index_of<T>(items: &[T], name: &str, name_of: impl Fn(&T) -> &str) -> Option<usize> {
    items.iter().position(|item| name_of(item) == name)
}

fn names<T>(items: &[T], name_of: impl Fn(&T) -> &str) -> String {
    let names: Vec<&str> = items.iter().map(name_of).collect();
    if names.is_empty() { "(none defined)".to_string() } else { names.join(", ") }
}

impl<'r, 'a> Builder<'r, 'a> {
    fn new(reader: &'r mut Reader<'a>) -> Self {
        Builder {
            reader,
            grid: Grid { start_year: 2026, years: 1, steps_per_year: 1 },
            inputs: Vec::new(),
            latents: Vec::new(),
            coins: Vec::new(),
            parties: Vec::new(),
            streams: Vec::new(),
            events: Vec::new(),
            providers: Vec::new(),
            compute_stream: None,
            valuation_company: None,
            declared: HashMap::new(),
            grid_known: false,
        }
    }

    fn build(mut self, root: Node<'a>) -> Option<Scenario> {
        let mut top = self.reader.table(root, &KeyPath::default())?;
        let (name, description) = self.scenario_section(&mut top);
        let simulation = self.simulation_section(&mut top);
        if let Some(simulation) = &simulation {
            self.grid = simulation.grid;
            self.grid_known = true;
        }
        self.parties_section(&mut top, simulation.as_ref().map_or(0.0, |s| s.discount_rate));
        self.streams_section(&mut top);
        let compute = self.compute_section(&mut top);
        let valuation = self.valuation_section(&mut top);
        self.events_section(&mut top);
        let deals = self.deals_section(&mut top);
        let correlations = self.correlations_section(&mut top);
        top.finish(self.reader);
        let simulation = simulation?;
        if self.reader.has_errors() {
            return None;
        }
        Some(Scenario {
            name,
            description,
            simulation,
            parties: self.parties,
            streams: self.streams,
            compute,
            valuation,
            events: self.events,
            correlations,
            deals,
            inputs: self.inputs,
            latents: self.latents,
            coins: self.coins,
            other_worlds: Vec::new(),
        })
    }

    // ----- sections -------------------------------------------------------------------------

    fn scenario_section(&mut self, top: &mut Table<'a>) -> (String, String) {
        let Some(node) = top.get(self.reader, "scenario") else {
            return (String::new(), String::new());
        };
        let path = top.path.key("scenario");
        let Some(mut table) = self.reader.table(node, &path) else {
            return (String::new(), String::new());
        };
        let name = self.optional_string(&mut table, "name").unwrap_or_default();
        let description = self.optional_string(&mut table, "description").unwrap_or_default();
        // Followed when the files were read; here it must only be a string.
        self.optional_string(&mut table, "extends");
        table.finish(self.reader);
        (name, description)
    }

    fn simulation_section(&mut self, top: &mut Table<'a>) -> Option<Simulation> {
        let node = top.require(self.reader, "simulation", "a [simulation] table")?;
        let mut table = self.reader.table(node, &top.path.key("simulation"))?;
        let start = self.integer_field(&mut table, "start", Some(1900), Some(2200), None);
        let years = self.integer_field(&mut table, "years", Some(1), Some(i64::from(MAX_YEARS)), None);
        let steps = self.steps_per_year(&mut table);
        let paths = self.integer_field(&mut table, "paths", Some(1), Some(MAX_PATHS as i64), Some(100_000));
        let seed = self.integer_field(&mut table, "seed", Some(0), None, Some(1));
        let discount_rate = self.required_number(&mut table, "discount_rate", Kind::Fraction, Bound::DiscountRate);
        table.finish(self.reader);
        Some(Simulation {
            grid: Grid { start_year: start? as i32, years: years? as u32, steps_per_year: steps? },
            paths: paths? as u64,
            seed: seed? as u64,
            discount_rate: discount_rate?,
        })
    }

    fn steps_per_year(&mut self, table: &mut Table<'a>) -> Option<u32> {
        let node = table.require(self.reader, "steps_per_year", "1, 4 or 12")?;
        let path = table.path.key("steps_per_year");
        match node.value {
            DeValue::Integer(i) if matches!(i.as_str(), "1" | "4" | "12") => Some(i.as_str().parse().ok()?),
            _ => {
                let found = describe(&node);
                self.reader.error(&node, &path, format!("expected 1, 4 or 12, found {found}"));
                None
            }
        }
    }

    /// Parties without their own discount rate use the simulation's.
    fn parties_section(&mut self, top: &mut Table<'a>, simulation_discount_rate: f64) {
        let Some(node) = top.require(self.reader, "parties", "a [parties.<name>] table for each party") else {
            return;
        };
        let path = top.path.key("parties");
        let Some(table) = self.reader.table(node, &path) else { return };
        for (name, node) in table.keys() {
            let party_path = path.key(name);
            self.check_name(&node, &party_path, name);
            let Some(mut party) = self.reader.table(node, &party_path) else { continue };
            let discount_rate = self
                .optional_number(&mut party, "discount_rate", Kind::Fraction, Bound::DiscountRate)
                .unwrap_or(simulation_discount_rate);
            let initial_cash =
                self.optional_value(&mut party, "initial_cash", Kind::Money, Bound::Money, Shape::Scalar);
            let other_costs = self.optional_curve(&mut party, "other_costs", Kind::Fraction, Bound::CostRatio);
            let label = self.optional_label(&mut party).unwrap_or_else(|| name.to_string());
            party.finish(self.reader);
            self.parties.push(Party {
                name: name.to_string(),
                label,
                discount_rate,
                initial_cash: initial_cash.map(Curve::into_scalar),
                other_costs,
            });
        }
    }

    fn streams_section(&mut self, top: &mut Table<'a>) {
        let Some(node) = top.require(self.reader, "streams", "one or more [[streams]]") else { return };
        let path = top.path.key("streams");
        for (mut table, stream_path) in self.named_tables(node, &path) {
            let name = self.required_name(&mut table, "stream");
            let label = self.optional_label(&mut table);
            let owner = self.party_ref(&mut table, "owner");
            let initial = self.required_value(&mut table, "initial", Kind::Money, Bound::PositiveMoney, Shape::Scalar);
            let growth = self
                .optional_curve(&mut table, "growth", Kind::Fraction, Bound::Growth)
                .unwrap_or(Curve::Flat(Scalar::Const(0.0)));
            let volatility = self
                .optional_curve(&mut table, "volatility", Kind::Fraction, Bound::Volatility)
                .unwrap_or(Curve::Flat(Scalar::Const(0.0)));
            let jumps = table.get(self.reader, "jumps").and_then(|node| self.jumps(node, &stream_path.key("jumps")));
            let channels = match table.get(self.reader, "channels") {
                Some(node) => self.channels(node, &stream_path.key("channels")),
                None => vec![Channel { name: "all".to_string(), share: Curve::Flat(Scalar::Const(1.0)) }],
            };
            table.finish(self.reader);
            if let (Some(name), Some(owner), Some(initial)) = (name, owner, initial) {
                self.streams.push(Stream {
                    shocks: Identity::new(format!("streams.{name}")),
                    jump_draws: Identity::new(format!("streams.{name}.jumps")),
                    label: label.unwrap_or_else(|| name.clone()),
                    name,
                    owner,
                    initial: initial.into_scalar(),
                    growth,
                    volatility,
                    jumps,
                    channels,
                });
            }
        }
    }

    fn jumps(&mut self, node: Node<'a>, path: &KeyPath) -> Option<Jumps> {
        let mut table = self.reader.table(node, path)?;
        let rate = self.required_value(&mut table, "rate", Kind::Fraction, Bound::JumpRate, Shape::Scalar);
        let size = table.require(self.reader, "size", "a log jump size: a number or a distribution");
        let log_size = size.and_then(|size| {
            let size_path = path.key("size");
            if let DeValue::Table(_) = size.value {
                let mut size_table = self.reader.table(size, &size_path)?;
                let distribution = self.distribution(&mut size_table, Kind::Fraction);
                size_table.finish(self.reader);
                let distribution = distribution?;
                // Drawn afresh for every jump, so not an uncertain input, but bounded all the same.
                self.draws_within(&size_table, &distribution, Bound::JumpSize)
                    .then(|| JumpSize::Random(Box::new(distribution)))
            } else {
                self.number(size, &size_path, Kind::Fraction, Bound::JumpSize).map(JumpSize::Fixed)
            }
        });
        table.finish(self.reader);
        Some(Jumps { annual_rate: rate?.into_scalar(), log_size: log_size? })
    }

    fn channels(&mut self, node: Node<'a>, path: &KeyPath) -> Vec<Channel> {
        let mut channels: Vec<Channel> = Vec::new();
        for (mut table, _) in self.named_tables(node, path) {
            let name = self.required_name(&mut table, &channel_kind(&path.named));
            let share = self.required_curve(&mut table, "share", Kind::Fraction, Bound::Unit);
            table.finish(self.reader);
            if let (Some(name), Some(share)) = (name, share) {
                channels.push(Channel { name, share });
            }
        }
        channels
    }

    fn compute_section(&mut self, top: &mut Table<'a>) -> Option<Compute> {
        let node = top.get(self.reader, "compute")?;
        let path = top.path.key("compute");
        let mut table = self.reader.table(node, &path)?;
        let stream = self.stream_ref(&mut table, "stream");
        let cost_ratio = self.required_curve(&mut table, "cost_ratio", Kind::Fraction, Bound::CostRatio);
        if let Some(node) = table.require(self.reader, "providers", "one or more [[compute.providers]]") {
            for (mut provider, _) in self.named_tables(node, &path.key("providers")) {
                let name = self.required_name(&mut provider, "provider");
                let label = self.optional_label(&mut provider);
                let owner = self.party_ref(&mut provider, "owner");
                let margin = self.required_curve(&mut provider, "margin", Kind::Fraction, Bound::Unit);
                let share = self.required_curve(&mut provider, "share", Kind::Fraction, Bound::Unit);
                provider.finish(self.reader);
                if let (Some(name), Some(owner), Some(margin), Some(share)) = (name, owner, margin, share) {
                    let label = label.unwrap_or_else(|| name.clone());
                    self.providers.push(Provider { name, label, owner, margin, share });
                }
            }
        }
        self.compute_stream = stream;
        let mut routes: Vec<ChannelRoute> = Vec::new();
        if let Some(node) = table.get(self.reader, "routes") {
            for (mut route, route_path) in self.named_tables(node, &path.key("routes")) {
                if let Some(split) = self.channel_route(&mut route, &route_path) {
                    if routes.iter().any(|known| known.channel == split.channel) {
                        self.reader.error(
                            &route.node,
                            &route_path,
                            "this channel is routed twice; give each channel one route",
                        );
                    }
                    routes.push(split);
                }
                route.finish(self.reader);
            }
        }
        table.finish(self.reader);
        Some(Compute { stream: stream?, cost_ratio: cost_ratio?, providers: self.providers.clone(), routes })
    }

    fn valuation_section(&mut self, top: &mut Table<'a>) -> Option<Valuation> {
        let node = top.get(self.reader, "valuation")?;
        let mut table = self.reader.table(node, &top.path.key("valuation"))?;
        let company = self.party_ref(&mut table, "company");
        let stream = self.stream_ref(&mut table, "stream");
        let multiple = self.required_curve(&mut table, "multiple", Kind::Plain, Bound::Multiple);
        table.finish(self.reader);
        self.valuation_company = company;
        Some(Valuation { company: company?, stream: stream?, multiple: multiple? })
    }

    fn events_section(&mut self, top: &mut Table<'a>) {
        let Some(node) = top.get(self.reader, "events") else { return };
        let path = top.path.key("events");
        for (mut table, event_path) in self.named_tables(node, &path) {
            let name = self.required_name(&mut table, "event");
            let label = self.optional_label(&mut table);
            let rate = table.get(self.reader, "annual_rate");
            let date = table.get(self.reader, "date");
            let timing = match (rate, date) {
                (Some(rate), None) => self.hazard(&mut table, rate, &event_path),
                (None, Some(date)) => self.dated_event(&mut table, date, &event_path),
                (Some(_), Some(date)) => {
                    self.reader.error(&date, &event_path.key("date"), "an event takes either `annual_rate` (a hazard) or `date` (with an optional `probability`), not both");
                    None
                }
                (None, None) => {
                    self.reader.error(
                        &table.node,
                        &event_path,
                        "missing `annual_rate` or `date`; an event needs one of them",
                    );
                    None
                }
            };
            let outcomes = self.outcomes(&mut table, &event_path);
            table.finish(self.reader);
            if let (Some(name), Some(timing), Some(outcomes)) = (name, timing, outcomes) {
                let id = self.events.len();
                let weights: Vec<(Scalar, EventId)> =
                    outcomes.iter().enumerate().map(|(index, (_, weight))| (*weight, id + 1 + index)).collect();
                self.events.push(Event {
                    identity: Identity::new(format!("events.{name}")),
                    outcome_draw: Identity::new(format!("events.{name}.outcome")),
                    label: label.unwrap_or_else(|| name.clone()),
                    name: name.clone(),
                    timing,
                    outcomes: weights,
                });
                for (index, (outcome, _)) in outcomes.into_iter().enumerate() {
                    let outcome_name = format!("{name}.{outcome}");
                    self.declared.entry("event".to_string()).or_default().insert(outcome_name.clone());
                    self.events.push(Event {
                        identity: Identity::new(format!("events.{outcome_name}")),
                        outcome_draw: Identity::new(format!("events.{outcome_name}.outcome")),
                        label: outcome_name.clone(),
                        name: outcome_name,
                        timing: EventTiming::Outcome { of: id, index },
                        outcomes: Vec::new(),
                    });
                }
            }
        }
    }

    /// `outcomes = { name = weight, ... }`: weights are values >= 0, normalized on each path,
    /// and not all zero.
    fn outcomes(&mut self, table: &mut Table<'a>, path: &KeyPath) -> Option<Vec<(String, Scalar)>> {
        let Some(node) = self.optional(table, "outcomes") else { return Some(Vec::new()) };
        let outcomes_path = path.key("outcomes");
        let mut weights = self.reader.table(node, &outcomes_path)?;
        let mut outcomes = Vec::new();
        let mut valid = true;
        // With overrides applied: `--set events.<event>.outcomes.<outcome>=...` sets one weight.
        for (name, value) in weights.entries(self.reader) {
            let weight_path = outcomes_path.key(&name);
            valid &= self.check_name(&value, &weight_path, &name);
            match self.value(value, &weight_path, Kind::Fraction, Bound::NonNegative, Shape::Scalar) {
                Some(weight) => outcomes.push((name, weight.into_scalar())),
                None => valid = false,
            }
        }
        if valid && outcomes.is_empty() {
            self.reader.error(
                &node,
                &outcomes_path,
                "expected at least one outcome and its weight, such as { wins = 0.4, loses = 0.6 }",
            );
            return None;
        }
        if valid && outcomes.iter().all(|(_, weight)| self.support_of(*weight).1 <= 0.0) {
            self.reader.error(&node, &outcomes_path, "the weights are all zero: one outcome must be able to occur");
            return None;
        }
        valid.then_some(outcomes)
    }

    fn hazard(&mut self, table: &mut Table<'a>, rate: Node<'a>, path: &KeyPath) -> Option<EventTiming> {
        // A hazard is per year and may exceed 1; "40%" reads as 0.4 per year.
        let annual_rate = self.value(rate, &path.key("annual_rate"), Kind::Fraction, Bound::NonNegative, Shape::Scalar);
        let (first, last) = self.window(table)?;
        Some(EventTiming::Hazard { annual_rate: annual_rate?.into_scalar(), first, last })
    }

    fn dated_event(&mut self, table: &mut Table<'a>, date: Node<'a>, path: &KeyPath) -> Option<EventTiming> {
        let period = self.date_in_horizon(date, &path.key("date"));
        let probability = self
            .optional_value(table, "probability", Kind::Fraction, Bound::Unit, Shape::Scalar)
            .map(Curve::into_scalar)
            .unwrap_or(Scalar::Const(1.0));
        Some(EventTiming::Dated { period: period?, probability })
    }

    fn correlations_section(&mut self, top: &mut Table<'a>) -> Vec<Correlation> {
        let Some(node) = top.get(self.reader, "correlations") else { return Vec::new() };
        let path = top.path.key("correlations");
        let Some(items) = self.reader.array(node, &path) else { return Vec::new() };
        let mut correlations = Vec::new();
        let mut nodes = Vec::new();
        for (index, item) in items.into_iter().enumerate() {
            let item_path = path.element(index, None);
            let Some(mut table) = self.reader.table(item, &item_path) else { continue };
            let between = table.require(self.reader, "between", "two uncertain inputs' key paths");
            let between = between.and_then(|node| self.input_pair(node, &item_path.key("between")));
            let rank = self.required_number(&mut table, "rank", Kind::Plain, Bound::Correlation);
            table.finish(self.reader);
            if let (Some((between, keys)), Some(rank)) = (between, rank) {
                let duplicate = correlations
                    .iter()
                    .any(|c: &Correlation| c.between == between || c.between == [between[1], between[0]]);
                if duplicate {
                    self.reader.error(&table.node, &item_path, "this pair of inputs is correlated twice (an input's variants in several deals share its draws, and so its correlations)");
                }
                correlations.push(Correlation { between, keys, rank });
                nodes.push((table.node, item_path));
            }
        }
        if let Some(pairs) = not_positive_semidefinite(&correlations) {
            let described: Vec<String> = pairs
                .iter()
                .map(|&i| {
                    let [a, b] = &correlations[i].keys;
                    format!("{a} ~ {b} = {}", correlations[i].rank)
                })
                .collect();
            let (node, path) = &nodes[pairs[0]];
            self.reader.error(
                node,
                path,
                format!(
                    "the correlation matrix is not positive semi-definite, so no joint distribution has these rank correlations; adjust these pairs: {}",
                    described.join("; ")
                ),
            );
        }
        correlations
    }

    /// The latents of two inputs named by key path, with the keys as written.
    fn input_pair(&mut self, node: Node<'a>, path: &KeyPath) -> Option<([LatentId; 2], [String; 2])> {
        let items = self.reader.array(node, path)?;
        if items.len() != 2 {
            self.reader.error(&node, path, format!("expected two key paths, found {}", items.len()));
            return None;
        }
        let mut latents = [0; 2];
        let mut keys = [String::new(), String::new()];
        for (slot, item) in items.into_iter().enumerate() {
            let item_path = path.element(slot, None);
            let key = self.reader.string(item, &item_path)?;
            keys[slot] = key.to_string();
            match self.inputs.iter().find(|input| input.key == key) {
                Some(input) => latents[slot] = input.latent,
                // `--set` made this input a constant. Its latent stays in the correlation, so
                // the inputs correlated with it keep every draw they had.
                None if self.reader.is_overridden(key) => latents[slot] = self.latent(&identity_of_key(key)),
                None => {
                    let known: Vec<&str> = self.inputs.iter().map(|i| i.key.as_str()).collect();
                    let known = if known.is_empty() {
                        "(none: no value is a distribution)".to_string()
                    } else {
                        known.join(", ")
                    };
                    self.reader.error(
                        &item,
                        &item_path,
                        format!("unknown uncertain input `{key}`; expected one of: {known}"),
                    );
                    return None;
                }
            }
        }
        if latents[0] == latents[1] {
            let message = if keys[0] == keys[1] {
                "an input cannot be correlated with itself".to_string()
            } else {
                format!(
                    "`{}` and `{}` are one term's field in two deals: they share their draws already",
                    keys[0], keys[1]
                )
            };
            self.reader.error(&node, path, message);
            return None;
        }
        Some((latents, keys))
    }

    /// The latent of an identity, added on first use.
    fn latent(&mut self, identity: &str) -> LatentId {
        match self.latents.iter().position(|latent| latent.name == identity) {
            Some(id) => id,
            None => {
                self.latents.push(Identity::new(identity));
                self.latents.len() - 1
            }
        }
    }

    // ----- deals ----------------------------------------------------------------------------

    fn deals_section(&mut self, top: &mut Table<'a>) -> Vec<Deal> {
        let Some(node) = top.require(self.reader, "deals", "one or more [[deals]]") else { return Vec::new() };
        let path = top.path.key("deals");
        if matches!(node.value, DeValue::Array(items) if items.is_empty()) {
            self.reader.error(&node, &path, "expected at least one deal; a deal with no terms is the no-deal baseline");
        }
        let mut entries: Vec<DealEntry<'a>> = self
            .named_tables(node, &path)
            .into_iter()
            .map(|(table, path)| DealEntry { node: table.node, name: raw_string(&table, "name"), path, parent: None })
            .collect();
        let by_name: HashMap<&str, usize> = entries
            .iter()
            .enumerate()
            .rev()
            .filter_map(|(index, entry)| Some((entry.name.as_deref()?, index)))
            .collect();
        let parents: Vec<Option<usize>> = entries.iter().map(|entry| self.parent_of(entry, &by_name)).collect();
        for (entry, parent) in entries.iter_mut().zip(parents) {
            entry.parent = parent;
        }
        let in_cycle = self.report_extends_cycles(&entries);
        let mut deals = Vec::new();
        for (index, _) in in_cycle.iter().enumerate().filter(|(_, in_cycle)| !**in_cycle) {
            deals.extend(self.deal(&entries, index));
        }
        deals
    }

    /// The entry a deal extends, or None (with an error when the name is unknown).
    fn parent_of(&mut self, entry: &DealEntry<'a>, by_name: &HashMap<&str, usize>) -> Option<usize> {
        let mut table = self.reader.table(entry.node, &entry.path)?;
        let node = table.own(self.reader, "extends")?;
        let path = entry.path.key("extends");
        let parent = self.reader.string(node, &path)?;
        let found = by_name.get(parent).copied();
        if found.is_none() {
            let known: Vec<&str> =
                by_name.keys().copied().filter(|name| Some(*name) != entry.name.as_deref()).collect();
            let mut known = known;
            known.sort_unstable();
            let known = if known.is_empty() { "(none defined)".to_string() } else { known.join(", ") };
            self.reader.error(&node, &path, format!("unknown deal `{parent}`; expected one of: {known}"));
        }
        found
    }

    /// Marks the deals whose `extends` chain loops, reporting each such deal once.
    fn report_extends_cycles(&mut self, entries: &[DealEntry<'a>]) -> Vec<bool> {
        let mut in_cycle = vec![false; entries.len()];
        for start in 0..entries.len() {
            let mut seen = HashSet::new();
            let mut current = Some(start);
            while let Some(index) = current {
                if !seen.insert(index) {
                    in_cycle[start] = true;
                    break;
                }
                current = entries[index].parent;
            }
            if in_cycle[start] {
                let entry = &entries[start];
                let mut table = self.reader.table(entry.node, &entry.path).expect("deal entries are tables");
                if let Some(node) = table.own(self.reader, "extends") {
                    let parent = raw_string(&table, "extends").unwrap_or_default();
                    self.reader.error(
                        &node,
                        &entry.path.key("extends"),
                        format!("`extends = \"{parent}\"` forms a cycle of deals extending each other"),
                    );
                }
            }
        }
        in_cycle
    }

    /// A deal's table over those of the deals it extends: what it does not say, it inherits.
    fn deal_layers(&mut self, entries: &[DealEntry<'a>], index: usize) -> Table<'a> {
        let entry = &entries[index];
        let table = self.reader.table(entry.node, &entry.path).expect("deal entries are tables");
        match entry.parent {
            Some(parent) => table.extending(self.deal_layers(entries, parent)),
            None => table,
        }
    }

    /// A deal's terms of one collection, each as a table over the parent's term of the same
    /// name: inherited terms first (in the parent's order, less those `remove` names), restated
    /// ones in place, then the deal's new ones.
    fn term_layers(
        &mut self,
        entries: &[DealEntry<'a>],
        index: usize,
        collection: &'static str,
        removed: &[String],
    ) -> Vec<Table<'a>> {
        let entry = &entries[index];
        let inherited = match entry.parent {
            Some(parent) => {
                let parent_removed = self.removed_terms(entries, parent);
                self.term_layers(entries, parent, collection, &parent_removed)
            }
            None => Vec::new(),
        };
        let mut own: Vec<Option<Table<'a>>> = Vec::new();
        let mut deal = self.reader.table(entry.node, &entry.path).expect("deal entries are tables");
        if let Some(node) = deal.own(self.reader, collection) {
            own = self
                .named_tables(node, &entry.path.key(collection))
                .into_iter()
                .map(|(table, _)| Some(table))
                .collect();
        }
        let own_names: Vec<Option<String>> =
            own.iter().map(|table| table.as_ref().and_then(|t| raw_string(t, "name"))).collect();
        let mut layers = Vec::new();
        for base in inherited {
            let Some(name) = raw_string(&base, "name") else { continue };
            if removed.contains(&name) {
                continue;
            }
            let position = layers.len();
            let layer = match own_names.iter().position(|own| own.as_deref() == Some(name.as_str())) {
                Some(restated) => own[restated].take().expect("a name matches once").extending(base),
                None => Table::inheriting(base, entry.path.key(collection).element(position, Some(&name))),
            };
            layers.push(layer);
        }
        layers.extend(own.into_iter().flatten());
        layers
    }

    /// The names a deal's `remove` lists (its own, not inherited).
    fn removed_terms(&mut self, entries: &[DealEntry<'a>], index: usize) -> Vec<String> {
        let entry = &entries[index];
        let mut table = self.reader.table(entry.node, &entry.path).expect("deal entries are tables");
        match table.own(self.reader, "remove") {
            Some(node) => self.string_list(node, &entry.path.key("remove")).into_iter().map(|(name, _)| name).collect(),
            None => Vec::new(),
        }
    }

    fn deal(&mut self, entries: &[DealEntry<'a>], index: usize) -> Option<Deal> {
        let entry = &entries[index];
        let path = entry.path.clone();
        let mut table = self.deal_layers(entries, index);
        let name_node = table.own(self.reader, "name");
        if name_node.is_none() {
            let message = "missing required key `name`; expected a name (letters, digits, `_`, `-`)";
            self.reader.error(&entry.node, &path.key("name"), message);
        }
        let name = name_node.and_then(|node| {
            let name = self.reader.string(node, &path.key("name"))?;
            let declared = self.declared.entry("deal".to_string()).or_default();
            if !declared.insert(name.to_string()) {
                self.reader.error(
                    &node,
                    &path.key("name"),
                    format!("duplicate deal name `{name}`; names must be unique"),
                );
                return None;
            }
            self.check_name(&node, &path.key("name"), name).then(|| name.to_string())
        });
        let description = self.optional_string(&mut table, "description").unwrap_or_default();
        table.own(self.reader, "extends");
        let removes = match table.own(self.reader, "remove") {
            Some(node) => self.string_list(node, &path.key("remove")),
            None => Vec::new(),
        };
        table.takes("equity");
        TermKind::ALL.iter().for_each(|kind| table.takes(kind.collection()));
        let equity = self.deal_equity(entries, index);
        let terms = terms_kind(name.as_deref().unwrap_or(&path.positional));
        let removed: Vec<String> = removes.iter().map(|(name, _)| name.clone()).collect();
        let mut deal = Deal { name: name.clone().unwrap_or_default(), description, equity, terms: Vec::new() };
        let mut inherited_names = Vec::new();
        // Kind by kind, in the order a deal applies them.
        for kind in TermKind::ALL {
            let collection = kind.collection();
            for mut table in self.term_layers(entries, index, collection, &removed) {
                let term_path = table.path.clone();
                if kind != TermKind::Investment
                    && let Some(node) = table.peek("unless")
                {
                    table.takes("unless");
                    let message = format!(
                        "`unless` belongs to an investment's tranches (a tranche lapses if the event occurred by the time it is due); a {} takes `starts_on` and `ends_on`",
                        kind.label()
                    );
                    self.reader.error(&node, &term_path.key("unless"), message);
                }
                deal.terms.extend(Term::read(kind, self, &mut table, &term_path, &terms));
                table.finish(self.reader);
            }
            if let Some(parent) = entry.parent.filter(|_| !removes.is_empty()) {
                let parent_removed = self.removed_terms(entries, parent);
                inherited_names.extend(
                    self.term_layers(entries, parent, collection, &parent_removed)
                        .iter()
                        .filter_map(|t| raw_string(t, "name")),
                );
            }
        }
        for (removed, node) in &removes {
            if entry.parent.is_none() {
                self.reader.error(
                    node,
                    &path.key("remove"),
                    "`remove` needs `extends`: it removes terms inherited from another deal",
                );
                break;
            }
            if !inherited_names.contains(removed) {
                let parent = entries[entry.parent.expect("checked")].name.clone().unwrap_or_default();
                self.reader.error(node, &path.key("remove"), format!("`{removed}` is not a term of deal `{parent}`"));
            }
        }
        table.finish(self.reader);
        name?;
        Some(deal)
    }

    /// A deal's starting stakes: its own `equity` over the one it inherits, holder by holder.
    fn deal_equity(&mut self, entries: &[DealEntry<'a>], index: usize) -> Vec<(PartyId, Scalar)> {
        let path = entries[index].path.key("equity");
        match self.equity_layers(entries, index) {
            Some(mut table) => self.equity(&mut table, &path),
            None => Vec::new(),
        }
    }

    fn equity_layers(&mut self, entries: &[DealEntry<'a>], index: usize) -> Option<Table<'a>> {
        let entry = &entries[index];
        let mut deal = self.reader.table(entry.node, &entry.path).expect("deal entries are tables");
        let path = entry.path.key("equity");
        let own = deal.own(self.reader, "equity").and_then(|node| self.reader.table(node, &path));
        let inherited = entry.parent.and_then(|parent| self.equity_layers(entries, parent));
        match (own, inherited) {
            (Some(own), Some(base)) => Some(own.extending(base)),
            (Some(own), None) => Some(own),
            (None, Some(base)) => Some(Table::inheriting(base, path)),
            (None, None) => None,
        }
    }

    fn equity(&mut self, table: &mut Table<'a>, path: &KeyPath) -> Vec<(PartyId, Scalar)> {
        if self.valuation_company.is_none() {
            self.reader.error(&table.node, path, "equity stakes need a [valuation] section to value them");
        }
        let mut stakes = Vec::new();
        let mut largest_total = 0.0;
        for (name, value) in table.entries(self.reader) {
            let stake_path = path.key(&name);
            let party = self.lookup_party(&name, &value, &stake_path);
            if party.is_some() && party == self.valuation_company {
                self.reader.error(
                    &value,
                    &stake_path,
                    format!("`{name}` is the valued company; equity lists other holders' stakes in it"),
                );
            }
            let stake = self.value(value, &stake_path, Kind::Fraction, Bound::Unit, Shape::Scalar);
            if let (Some(party), Some(stake)) = (party, stake) {
                let stake = stake.into_scalar();
                largest_total += self.support_of(stake).1;
                stakes.push((party, stake));
            }
        }
        if largest_total > 1.0 + 1e-12 {
            self.reader.error(
                &table.node,
                path,
                format!("stakes can add up to {largest_total}, more than 100% of the company"),
            );
        }
        // Every key names a holder, checked above: no key of this table is unknown.
        stakes
    }

    // ----- what terms read (each kind's module reads its own fields through these) --------

    pub(crate) fn reader_mut(&mut self) -> &mut Reader<'a> {
        self.reader
    }

    /// `payer` and `payee`, two different parties.
    pub(crate) fn payer_and_payee(
        &mut self,
        table: &mut Table<'a>,
        path: &KeyPath,
    ) -> (Option<PartyId>, Option<PartyId>) {
        let payer = self.party_ref(table, "payer");
        let payee = self.party_ref(table, "payee");
        if let (Some(payer), Some(payee)) = (payer, payee)
            && payer == payee
        {
            self.reader.error(&table.node, &path.key("payee"), "payer and payee are the same party");
        }
        (payer, payee)
    }

    /// `channels` of `stream` (all of them when absent).
    pub(crate) fn channels_of(
        &mut self,
        table: &mut Table<'a>,
        path: &KeyPath,
        stream: Option<StreamId>,
    ) -> Option<Vec<usize>> {
        match (table.get(self.reader, "channels"), stream) {
            (Some(node), Some(stream)) => self.channel_refs(node, &path.key("channels"), stream),
            (None, Some(stream)) => Some((0..self.streams[stream].channels.len()).collect()),
            _ => None,
        }
    }

    /// `buyer`, which must own the compute stream.
    pub(crate) fn compute_buyer(&mut self, table: &mut Table<'a>, path: &KeyPath) -> Option<PartyId> {
        let buyer = self.party_ref(table, "buyer")?;
        let buys_compute = self.compute_stream.is_some_and(|s| self.streams.get(s).is_some_and(|s| s.owner == buyer));
        if !buys_compute {
            let node = table.get(self.reader, "buyer").unwrap_or(table.node);
            self.reader.error(
                &node,
                &path.key("buyer"),
                format!(
                    "`{}` does not buy compute: the buyer of a commitment must own the [compute] stream",
                    self.parties[buyer].name
                ),
            );
        }
        Some(buyer)
    }

    /// `provider`: a compute provider.
    pub(crate) fn provider_ref(&mut self, table: &mut Table<'a>, path: &KeyPath) -> Option<ProviderId> {
        let node = table.require(self.reader, "provider", "the name of a [[compute.providers]] entry")?;
        self.provider_named(node, &path.key("provider"))
    }

    fn provider_named(&mut self, node: Node<'a>, path: &KeyPath) -> Option<ProviderId> {
        let name = self.reader.string(node, path)?;
        let found = index_of(&self.providers, name, |p| &p.name);
        if found.is_none() && !self.is_declared("provider", name) {
            let known = names(&self.providers, |p| &p.name);
            self.reader.error(&node, path, format!("unknown provider `{name}`; expected one of: {known}"));
        }
        found
    }

    /// `from`, the first period, the simulation's start when absent.
    pub(crate) fn optional_first_period(&mut self, table: &mut Table<'a>, path: &KeyPath) -> Option<usize> {
        match table.get(self.reader, "from") {
            Some(node) => self.first_period(node, &path.key("from")),
            None => Some(0),
        }
    }

    /// A commitment's end: `through` a date or for `years` from `first`; inside the horizon
    /// where `must_end_inside`.
    pub(crate) fn commitment_window(
        &mut self,
        table: &mut Table<'a>,
        path: &KeyPath,
        first: Option<usize>,
        must_end_inside: bool,
    ) -> Option<CommitmentWindow> {
        let through = table.get(self.reader, "through");
        let years = table.get(self.reader, "years");
        match (through, years) {
            (Some(node), None) => {
                let through_path = path.key("through");
                let last = self
                    .date(node, &through_path)
                    .filter(|_| self.grid_known)
                    .map(|date| (self.grid.last_period(date), date));
                match (last, first) {
                    (Some((last, date)), _) if last >= self.grid.periods() as i64 => {
                        let horizon = self.grid.horizon_label();
                        self.reader.error(&node, &through_path, format!("the commitment ends in {date}, past the horizon ({horizon}); extend [simulation].years or end it earlier"));
                        None
                    }
                    (Some((last, date)), Some(first)) if last < first as i64 => {
                        self.reader.error(&node, &through_path, format!("`through` ({date}) comes before `from`"));
                        None
                    }
                    (Some((last, _)), _) => Some(CommitmentWindow::Through(last as usize)),
                    _ => None,
                }
            }
            (None, Some(node)) => {
                let years_path = path.key("years");
                let years =
                    self.value(node, &years_path, Kind::Plain, Bound::Positive, Shape::Scalar).map(Curve::into_scalar);
                if let (Some(years), Some(first), true) = (years, first, self.grid_known) {
                    let longest = self.support_of(years).1;
                    let end = first as f64 + (longest * f64::from(self.grid.steps_per_year)).round();
                    if !longest.is_finite() || (must_end_inside && end > self.grid.periods() as f64) {
                        self.reader.error(&node, &years_path, format!("the commitment can last {longest} years from {}, past the horizon ({}); bound `years` with `max` or extend the simulation", self.grid.label(first), self.grid.horizon_label()));
                    }
                }
                years.map(CommitmentWindow::Years)
            }
            (Some(node), Some(_)) => {
                self.reader.error(
                    &node,
                    &path.key("through"),
                    "give the commitment's end as `through` or its length as `years`, not both",
                );
                None
            }
            (None, None) => {
                self.reader.error(
                    &table.node,
                    path,
                    "missing `through` or `years`: a commitment needs an end inside the horizon",
                );
                None
            }
        }
    }

    /// `investee`: the valued company.
    pub(crate) fn investee(&mut self, table: &mut Table<'a>, path: &KeyPath) -> Option<PartyId> {
        let investee = self.party_ref(table, "investee")?;
        if self.valuation_company != Some(investee) {
            let node = table.get(self.reader, "investee").unwrap_or(table.node);
            let message = match self.valuation_company {
                Some(company) => format!(
                    "investments must be in the valued company `{}`, found `{}`",
                    self.parties[company].name, self.parties[investee].name
                ),
                None => "investments need a [valuation] section to price their stakes".to_string(),
            };
            self.reader.error(&node, &path.key("investee"), message);
        }
        Some(investee)
    }

    /// `tranches`: an array of tables, each read by `read`.
    pub(crate) fn tranches<T>(
        &mut self,
        table: &mut Table<'a>,
        path: &KeyPath,
        read: impl Fn(&mut Self, &mut Table<'a>, &KeyPath) -> Option<T>,
    ) -> Vec<T> {
        let mut tranches = Vec::new();
        let Some(node) =
            table.require(self.reader, "tranches", "an array of { amount, date } or { amount, on, by } tables")
        else {
            return tranches;
        };
        let tranches_path = path.key("tranches");
        for (index, item) in self.reader.array(node, &tranches_path).unwrap_or_default().into_iter().enumerate() {
            let item_path = tranches_path.element(index, None);
            if let Some(mut tranche) = self.reader.table(item, &item_path) {
                tranches.extend(read(self, &mut tranche, &item_path));
                tranche.finish(self.reader);
            }
        }
        tranches
    }

    /// When a tranche or payment falls due: at a `date`, or `on` an event (`by` a date).
    pub(crate) fn due(&mut self, table: &mut Table<'a>, path: &KeyPath, what: &str) -> Option<TrancheTiming> {
        let date = table.get(self.reader, "date");
        let on = table.get(self.reader, "on");
        let by = table.get(self.reader, "by");
        match (date, on) {
            (Some(date), None) => {
                if let Some(by) = by {
                    self.reader.error(
                        &by,
                        &path.key("by"),
                        format!("`by` goes with `on`: a dated {what} is due at its date"),
                    );
                }
                self.date_in_horizon(date, &path.key("date")).map(TrancheTiming::Date)
            }
            (None, Some(on)) => {
                let event = self.event_ref(on, &path.key("on"));
                let last = match by {
                    Some(by) => self.last_period(by, &path.key("by")),
                    None => Some(self.grid.periods() - 1),
                };
                Some(TrancheTiming::OnEvent { event: event?, last: last? })
            }
            (Some(date), Some(_)) => {
                self.reader.error(
                    &date,
                    &path.key("date"),
                    format!("a {what} is due at a `date` or `on` an event, not both"),
                );
                None
            }
            (None, None) => {
                self.reader.error(&table.node, path, format!("missing `date` or `on`: say when the {what} is paid"));
                None
            }
        }
    }

    /// An optional event name at `key`: Some(None) where absent (or "none").
    pub(crate) fn optional_event(
        &mut self,
        table: &mut Table<'a>,
        path: &KeyPath,
        key: &'static str,
    ) -> Option<Option<EventId>> {
        match self.optional(table, key) {
            Some(node) => self.event_ref(node, &path.key(key)).map(Some),
            None => Some(None),
        }
    }

    /// `starts_on` and `ends_on`.
    pub(crate) fn activation(&mut self, table: &mut Table<'a>, path: &KeyPath) -> Option<Activation> {
        let starts_on = self.optional_event(table, path, "starts_on");
        let ends_on = self.optional_event(table, path, "ends_on");
        Some(Activation { starts_on: starts_on?, ends_on: ends_on? })
    }

    /// The coin a term at `path` flips, keyed by its identity and shared by the deals that have it.
    pub(crate) fn coin(&mut self, path: &KeyPath) -> CoinId {
        let identity = identity_of_key(&path.named);
        match self.coins.iter().position(|coin| coin.name == identity) {
            Some(coin) => coin,
            None => {
                self.coins.push(Identity::new(identity));
                self.coins.len() - 1
            }
        }
    }

    /// `channel` (of the compute stream) and `providers = { name = share, ... }`.
    pub(crate) fn channel_route(&mut self, table: &mut Table<'a>, path: &KeyPath) -> Option<ChannelRoute> {
        let channel = table.require(self.reader, "channel", "a channel of the [compute] stream").and_then(|node| {
            let channel_path = path.key("channel");
            let name = self.reader.string(node, &channel_path)?;
            let Some(stream) = self.compute_stream else {
                self.reader.error(&node, &channel_path, "routes need a [compute] section");
                return None;
            };
            let stream = self.streams.get(stream)?;
            let found = index_of(&stream.channels, name, |c| &c.name);
            if found.is_none() {
                let known = names(&stream.channels, |c| &c.name);
                let stream_name = stream.name.clone();
                self.reader.error(
                    &node,
                    &channel_path,
                    format!("unknown channel `{name}` of the compute stream `{stream_name}`; expected one of: {known}"),
                );
            }
            found
        });
        let providers_path = path.key("providers");
        let providers = table.require(self.reader, "providers", "a table of providers to shares").and_then(|node| {
            let shares = self.reader.table(node, &providers_path)?;
            let mut providers = Vec::new();
            for (name, value) in shares.keys() {
                let share_path = providers_path.key(name);
                let provider = self.provider_named_at(name, &value, &share_path);
                let share = self.value(value, &share_path, Kind::Fraction, Bound::Unit, Shape::TimeVarying);
                if let (Some(provider), Some(share)) = (provider, share) {
                    providers.push((provider, share));
                }
            }
            if providers.is_empty() && shares.keys().is_empty() {
                self.reader.error(&node, &providers_path, "expected at least one provider and its share");
                return None;
            }
            Some(providers)
        });
        Some(ChannelRoute { channel: channel?, providers: providers? })
    }

    fn provider_named_at(&mut self, name: &str, node: &Node<'a>, path: &KeyPath) -> Option<ProviderId> {
        let found = index_of(&self.providers, name, |p| &p.name);
        if found.is_none() {
            let known = names(&self.providers, |p| &p.name);
            self.reader.error(node, path, format!("unknown provider `{name}`; expected one of: {known}"));
        }
        found
    }

    /// The name of a channel of the compute stream.
    pub(crate) fn compute_channel_name(&self, channel: usize) -> String {
        self.compute_stream.map_or_else(String::new, |stream| self.streams[stream].channels[channel].name.clone())
    }

    // ----- references -----------------------------------------------------------------------

    fn lookup_party(&mut self, name: &str, node: &Node<'a>, path: &KeyPath) -> Option<PartyId> {
        let found = index_of(&self.parties, name, |p| &p.name);
        if found.is_none() {
            let known = names(&self.parties, |p| &p.name);
            self.reader.error(node, path, format!("unknown party `{name}`; expected one of: {known}"));
        }
        found
    }

    pub(crate) fn party_ref(&mut self, table: &mut Table<'a>, key: &'static str) -> Option<PartyId> {
        let node = table.require(self.reader, key, "the name of a party in [parties]")?;
        let path = table.path.key(key);
        let name = self.reader.string(node, &path)?;
        self.lookup_party(name, &node, &path)
    }

    pub(crate) fn stream_ref(&mut self, table: &mut Table<'a>, key: &'static str) -> Option<StreamId> {
        let node = table.require(self.reader, key, "the name of a [[streams]] entry")?;
        let path = table.path.key(key);
        let name = self.reader.string(node, &path)?;
        let found = index_of(&self.streams, name, |s| &s.name);
        if found.is_none() && !self.is_declared("stream", name) {
            let known = names(&self.streams, |s| &s.name);
            self.reader.error(&node, &path, format!("unknown stream `{name}`; expected one of: {known}"));
        }
        found
    }

    pub(crate) fn event_ref(&mut self, node: Node<'a>, path: &KeyPath) -> Option<EventId> {
        let name = self.reader.string(node, path)?;
        let found = index_of(&self.events, name, |e| &e.name);
        if found.is_none() && !self.is_declared("event", name) {
            let known = names(&self.events, |e| &e.name);
            self.reader.error(&node, path, format!("unknown event `{name}`; expected one of: {known}"));
        }
        found
    }

    fn channel_refs(&mut self, node: Node<'a>, path: &KeyPath, stream: StreamId) -> Option<Vec<usize>> {
        let mut channels = Vec::new();
        for (index, item) in self.reader.array(node, path)?.into_iter().enumerate() {
            let item_path = path.element(index, None);
            let name = self.reader.string(item, &item_path)?;
            let stream = &self.streams[stream];
            let kind = channel_kind(&KeyPath::default().key("streams").key(&stream.name).key("channels").named);
            match index_of(&stream.channels, name, |c| &c.name) {
                Some(channel) => channels.push(channel),
                None if self.is_declared(&kind, name) => return None,
                None => {
                    let known = names(&stream.channels, |c| &c.name);
                    let stream_name = stream.name.clone();
                    self.reader.error(
                        &item,
                        &item_path,
                        format!("unknown channel `{name}` of stream `{stream_name}`; expected one of: {known}"),
                    );
                    return None;
                }
            }
        }
        if channels.is_empty() {
            self.reader.error(&node, path, "expected at least one channel; leave `channels` out to use them all");
            return None;
        }
        Some(channels)
    }

    // ----- structure helpers ----------------------------------------------------------------

    /// The tables of an array of tables, each with its path (named by its `name` key).
    fn named_tables(&mut self, node: Node<'a>, path: &KeyPath) -> Vec<(Table<'a>, KeyPath)> {
        let Some(items) = self.reader.array(node, path) else { return Vec::new() };
        let mut tables = Vec::new();
        for (index, item) in items.into_iter().enumerate() {
            let name = match item.value {
                DeValue::Table(table) => table.get("name").and_then(|n| n.get_ref().as_str()),
                _ => None,
            };
            let item_path = path.element(index, name);
            if let Some(table) = self.reader.table(item, &item_path) {
                tables.push((table, item_path));
            }
        }
        tables
    }

    pub(crate) fn check_name(&mut self, node: &Node<'a>, path: &KeyPath, name: &str) -> bool {
        let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            self.reader.error(node, path, format!("invalid name \"{name}\"; names use letters, digits, `_` and `-` only, so they can appear in key paths"));
        } else if name.len() > MAX_NAME_LENGTH {
            // Names become parts of chart file names, which file systems cap at 255 bytes.
            self.reader.error(
                node,
                path,
                format!("the name is {} characters long; names have at most {MAX_NAME_LENGTH}", name.len()),
            );
            return false;
        }
        valid
    }

    /// An entry's `name`, unique among the entries of `kind` (e.g. "stream", or the terms of one
    /// deal). Every name read is declared, valid or not, so that a reference to an entry that
    /// failed validation is not reported a second time as dangling.
    pub(crate) fn required_name(&mut self, table: &mut Table<'a>, kind: &str) -> Option<String> {
        let node = table.require(self.reader, "name", "a name (letters, digits, `_`, `-`)")?;
        let path = table.path.key("name");
        let name = self.reader.string(node, &path)?;
        let declared = self.declared.entry(kind.to_string()).or_default();
        if declared.contains(name) {
            let noun = kind.split(" of ").next().unwrap_or(kind);
            self.reader.error(&node, &path, format!("duplicate {noun} name `{name}`; names must be unique"));
            return None;
        }
        declared.insert(name.to_string());
        self.check_name(&node, &path, name).then(|| name.to_string())
    }

    fn is_declared(&self, kind: &str, name: &str) -> bool {
        self.declared.get(kind).is_some_and(|names| names.contains(name))
    }

    /// A party's, stream's, provider's or event's `label`: how outputs name it, where its name
    /// is an identifier (`OpenAI` for `openai`).
    fn optional_label(&mut self, table: &mut Table<'a>) -> Option<String> {
        let node = table.get(self.reader, "label")?;
        let path = table.path.key("label");
        let label = self.reader.string(node, &path)?;
        if label.trim().is_empty() || label.chars().any(char::is_control) {
            self.reader.error(&node, &path, format!("expected a label of one line, found {label:?}"));
            return None;
        }
        Some(label.to_string())
    }

    fn optional_string(&mut self, table: &mut Table<'a>, key: &'static str) -> Option<String> {
        let node = table.get(self.reader, key)?;
        let path = table.path.key(key);
        self.reader.string(node, &path).map(str::to_string)
    }

    fn string_list(&mut self, node: Node<'a>, path: &KeyPath) -> Vec<(String, Node<'a>)> {
        let Some(items) = self.reader.array(node, path) else { return Vec::new() };
        items
            .into_iter()
            .enumerate()
            .filter_map(|(index, item)| {
                let text = self.reader.string(item, &path.element(index, None))?;
                Some((text.to_string(), item))
            })
            .collect()
    }

    // ----- dates ----------------------------------------------------------------------------

    fn date(&mut self, node: Node<'a>, path: &KeyPath) -> Option<Date> {
        let parsed = match node.value {
            DeValue::String(text) => Date::parse(text),
            DeValue::Integer(year) => {
                year.as_str().parse::<i32>().ok().filter(|y| (1000..=9999).contains(y)).map(Date::year)
            }
            _ => None,
        };
        if parsed.is_none() {
            let found = describe(&node);
            self.reader.error(
                &node,
                path,
                format!("expected a date such as \"2030\", \"2027-Q2\" or \"2027-06\", found {found}"),
            );
        }
        parsed
    }

    /// A date that must fall inside the horizon, as its period.
    pub(crate) fn date_in_horizon(&mut self, node: Node<'a>, path: &KeyPath) -> Option<usize> {
        let date = self.date(node, path)?;
        let period = self.grid.first_period(date);
        if !self.grid_known {
            return None;
        }
        if period < 0 || period >= self.grid.periods() as i64 {
            let (first, last) = (self.grid.label(0), self.grid.horizon_label());
            self.reader.error(&node, path, format!("{date} lies outside the simulation ({first} to {last})"));
            return None;
        }
        Some(period as usize)
    }

    /// `from = date`: the first period included, clamped to the simulation start.
    fn first_period(&mut self, node: Node<'a>, path: &KeyPath) -> Option<usize> {
        let date = self.date(node, path)?;
        let period = self.grid.first_period(date);
        if !self.grid_known {
            return None;
        }
        if period >= self.grid.periods() as i64 {
            let last = self.grid.horizon_label();
            self.reader.error(&node, path, format!("`from` ({date}) lies past the horizon ({last})"));
            return None;
        }
        Some(period.max(0) as usize)
    }

    /// `through = date` or `by = date`: the last period included, clamped to the horizon.
    pub(crate) fn last_period(&mut self, node: Node<'a>, path: &KeyPath) -> Option<usize> {
        let date = self.date(node, path)?;
        let period = self.grid.last_period(date);
        if !self.grid_known {
            return None;
        }
        if period < 0 {
            let first = self.grid.label(0);
            self.reader.error(&node, path, format!("{date} ends before the simulation starts ({first})"));
            return None;
        }
        Some((period as usize).min(self.grid.periods() - 1))
    }

    /// Optional `from`/`through` window, defaulting to the whole horizon.
    pub(crate) fn window(&mut self, table: &mut Table<'a>) -> Option<(usize, usize)> {
        let from = table.get(self.reader, "from");
        let through = table.get(self.reader, "through");
        let first = match from {
            Some(node) => self.first_period(node, &table.path.key("from")),
            None => Some(0),
        };
        let last = match through {
            Some(node) => self.last_period(node, &table.path.key("through")),
            None => Some(self.grid.periods() - 1),
        };
        let (first, last) = (first?, last?);
        if first > last {
            let node = through.unwrap_or(table.node);
            let message =
                format!("`from` ({}) comes after `through` ({})", self.grid.label(first), self.grid.label(last));
            self.reader.error(&node, &table.path.key("through"), message);
            return None;
        }
        Some((first, last))
    }

    // ----- numbers and values ---------------------------------------------------------------

    fn integer_field(
        &mut self,
        table: &mut Table<'a>,
        key: &'static str,
        min: Option<i64>,
        max: Option<i64>,
        default: Option<i64>,
    ) -> Option<i64> {
        let node = match (table.get(self.reader, key), default) {
            (Some(node), _) => node,
            (None, Some(default)) => return Some(default),
            (None, None) => {
                table.require(self.reader, key, "a whole number");
                return None;
            }
        };
        let path = table.path.key(key);
        let value = number_of(node.value, Kind::Plain).ok().filter(|v| v.fract() == 0.0 && v.abs() < 9.0e15);
        let Some(value) = value else {
            let found = describe(&node);
            self.reader.error(&node, &path, format!("expected a whole number, found {found}"));
            return None;
        };
        let value = value as i64;
        let range = match (min, max) {
            (Some(min), Some(max)) => format!("from {min} to {max}"),
            (Some(min), None) => format!(">= {min}"),
            (None, Some(max)) => format!("<= {max}"),
            (None, None) => String::new(),
        };
        if min.is_some_and(|min| value < min) || max.is_some_and(|max| value > max) {
            self.reader.error(&node, &path, format!("expected a whole number {range}, found {value}"));
            return None;
        }
        Some(value)
    }

    fn number(&mut self, node: Node<'a>, path: &KeyPath, kind: Kind, bound: Bound) -> Option<f64> {
        match number_of(node.value, kind) {
            Ok(value) if bound.admits(value) => Some(value),
            Ok(value) => {
                let expected = bound.describe();
                self.reader.error(&node, path, format!("expected a value {expected}, found {}", show(value)));
                None
            }
            Err(problem) => {
                let found = describe(&node);
                let expected = kind.example();
                self.reader.error(&node, path, format!("expected {expected}, found {found}{problem}"));
                None
            }
        }
    }

    fn required_number(&mut self, table: &mut Table<'a>, key: &'static str, kind: Kind, bound: Bound) -> Option<f64> {
        let node = table.require(self.reader, key, kind.example())?;
        self.number(node, &table.path.key(key), kind, bound)
    }

    fn optional_number(&mut self, table: &mut Table<'a>, key: &'static str, kind: Kind, bound: Bound) -> Option<f64> {
        let node = table.get(self.reader, key)?;
        self.number(node, &table.path.key(key), kind, bound)
    }

    pub(crate) fn required_value(
        &mut self,
        table: &mut Table<'a>,
        key: &'static str,
        kind: Kind,
        bound: Bound,
        shape: Shape,
    ) -> Option<Curve> {
        let node = table.require(self.reader, key, kind.example())?;
        self.value(node, &table.path.key(key), kind, bound, shape)
    }

    pub(crate) fn optional_value(
        &mut self,
        table: &mut Table<'a>,
        key: &'static str,
        kind: Kind,
        bound: Bound,
        shape: Shape,
    ) -> Option<Curve> {
        let node = self.optional(table, key)?;
        self.value(node, &table.path.key(key), kind, bound, shape)
    }

    /// An optional key's value; the string "none" is no value, which is how a deal drops an
    /// optional field it inherits (`cap = "none"`).
    pub(crate) fn optional(&mut self, table: &mut Table<'a>, key: &'static str) -> Option<Node<'a>> {
        table.get(self.reader, key).filter(|node| !matches!(node.value, DeValue::String(text) if text == "none"))
    }

    pub(crate) fn required_curve(
        &mut self,
        table: &mut Table<'a>,
        key: &'static str,
        kind: Kind,
        bound: Bound,
    ) -> Option<Curve> {
        self.required_value(table, key, kind, bound, Shape::TimeVarying)
    }

    fn optional_curve(&mut self, table: &mut Table<'a>, key: &'static str, kind: Kind, bound: Bound) -> Option<Curve> {
        self.optional_value(table, key, kind, bound, Shape::TimeVarying)
    }

    /// A *value*: a number, a distribution, and (where time may vary it) a trajectory or schedule.
    pub(crate) fn value(
        &mut self,
        node: Node<'a>,
        path: &KeyPath,
        kind: Kind,
        bound: Bound,
        shape: Shape,
    ) -> Option<Curve> {
        let DeValue::Table(raw) = node.value else {
            return self.number(node, path, kind, bound).map(|v| Curve::Flat(Scalar::Const(v)));
        };
        let is_trajectory = ["start", "end", "half_life"].iter().any(|k| raw.contains_key(*k));
        let is_schedule = raw.contains_key("schedule");
        if (is_trajectory || is_schedule) && shape == Shape::Scalar {
            self.reader.error(&node, path, "a trajectory or schedule is not allowed here: this value is drawn once per path; use a number or a distribution");
            return None;
        }
        let mut table = self.reader.table(node, path)?;
        let curve = if raw.contains_key("dist") {
            self.uncertain_input(&mut table, kind, bound).map(Curve::Flat)
        } else if is_trajectory {
            self.trajectory(&mut table, kind, bound)
        } else if is_schedule {
            self.schedule(&mut table, kind, bound)
        } else {
            let expected = match shape {
                Shape::Scalar => "a number or a distribution table with `dist`",
                Shape::TimeVarying => {
                    "a number, a distribution table with `dist`, a trajectory (`start`, `end`, `half_life`) or `schedule`"
                }
            };
            self.reader.error(&node, path, format!("expected {expected}, found a table with keys: {}", keys_of(raw)));
            return None;
        };
        table.finish(self.reader);
        curve
    }

    fn trajectory(&mut self, table: &mut Table<'a>, kind: Kind, bound: Bound) -> Option<Curve> {
        let start = self.required_value(table, "start", kind, bound, Shape::Scalar);
        let end = self.required_value(table, "end", kind, bound, Shape::Scalar);
        let half_life = self.required_number(table, "half_life", Kind::Plain, Bound::Positive);
        let half_life = half_life?;
        let grid = self.grid;
        // One entry past the last period: valuations read the multiple at each period's end.
        let decay = (0..=grid.periods()).map(|k| (-grid.t_start(k) / half_life).exp2()).collect();
        Some(Curve::Trajectory { start: start?.into_scalar(), end: end?.into_scalar(), half_life, decay })
    }

    fn schedule(&mut self, table: &mut Table<'a>, kind: Kind, bound: Bound) -> Option<Curve> {
        let node = table.require(self.reader, "schedule", "a table of dates to values")?;
        let path = table.path.key("schedule");
        let steps = self.reader.table(node, &path)?;
        let mut entries: Vec<(i64, Date, Scalar)> = Vec::new();
        for (key, value) in steps.keys() {
            let step_path = path.key(key);
            let Some(date) = Date::parse(key) else {
                self.reader.error(
                    &value,
                    &step_path,
                    format!("expected a date key such as \"2030\", \"2027-Q2\" or \"2027-06\", found \"{key}\""),
                );
                continue;
            };
            if let Some(step) = self.value(value, &step_path, kind, bound, Shape::Scalar) {
                entries.push((self.grid.first_period(date), date, step.into_scalar()));
            }
        }
        entries.sort_by_key(|(period, _, _)| *period);
        for pair in entries.windows(2) {
            if pair[0].0 == pair[1].0 {
                let (first, second) = (pair[0].1, pair[1].1);
                let period = self.grid.label(pair[0].0.max(0) as usize);
                self.reader.error(
                    &node,
                    &path,
                    format!(
                        "\"{first}\" and \"{second}\" both give the value from {period}; give each period one value"
                    ),
                );
                return None;
            }
        }
        match entries.first() {
            None => {
                self.reader.error(&node, &path, "a schedule needs at least one date");
                return None;
            }
            Some((period, date, _)) if *period > 0 => {
                let start = self.grid.label(0);
                self.reader.error(&node, &path, format!("the schedule starts at {date}, after the simulation start ({start}); give a value for the start"));
                return None;
            }
            _ => {}
        }
        let step_of_period = (0..=self.grid.periods() as i64)
            .map(|k| entries.iter().rposition(|(period, _, _)| *period <= k).unwrap_or(0))
            .collect();
        Some(Curve::Schedule {
            dates: entries.iter().map(|(_, date, _)| *date).collect(),
            values: entries.iter().map(|(_, _, value)| *value).collect(),
            step_of_period,
        })
    }

    /// A distribution table registered as an uncertain input named by its key path.
    fn uncertain_input(&mut self, table: &mut Table<'a>, kind: Kind, bound: Bound) -> Option<Scalar> {
        let distribution = self.distribution(table, kind)?;
        if !self.draws_within(table, &distribution, bound) {
            return None;
        }
        let key = table.path.named.clone();
        let latent = self.latent(&identity_of_key(&key));
        // The same term in two deals, written the same way, is one input.
        if let Some(id) = self.inputs.iter().position(|i| i.latent == latent && i.distribution == distribution) {
            return Some(Scalar::Input(id));
        }
        self.inputs.push(UncertainInput { key, latent, distribution });
        Some(Scalar::Input(self.inputs.len() - 1))
    }

    /// Whether every draw of the distribution read from `table` lies in `bound`; records why not.
    fn draws_within(&mut self, table: &Table<'a>, distribution: &Distribution, bound: Bound) -> bool {
        if bound.admits_distribution(distribution) {
            return true;
        }
        let (support, range) = (distribution.support(), bound.draw_range(distribution));
        let span = if range == support {
            format!("its support is [{}, {}]", show(support.0), show(support.1))
        } else {
            format!("its draws span [{}, {}] (tails cut at one draw in 10^12)", show(range.0), show(range.1))
        };
        let expected = bound.describe();
        self.reader.error(&table.node, &table.path, format!(
            "this distribution can take values outside the allowed range ({expected}): {span}; truncate it with `min`/`max`"
        ));
        false
    }

    fn distribution(&mut self, table: &mut Table<'a>, kind: Kind) -> Option<Distribution> {
        let path = table.path.clone();
        let dist_node = table.require(self.reader, "dist", "a distribution name")?;
        let name = self.reader.string(dist_node, &path.key("dist"))?;
        let mut params: HashMap<&'static str, Node<'a>> = HashMap::new();
        let mut param =
            |builder: &mut Self, table: &mut Table<'a>, key: &'static str, param_kind: Kind| -> Option<f64> {
                let node = table.require(builder.reader, key, param_kind.example())?;
                params.insert(key, node);
                builder.number(node, &path.key(key), param_kind, Bound::Any)
            };
        let built = match name {
            "normal" => {
                let (mean, sd) = (param(self, table, "mean", kind), param(self, table, "sd", kind));
                Distribution::normal(mean?, sd?)
            }
            "lognormal" => {
                let (mean, sd) = (param(self, table, "mean", kind), param(self, table, "sd", kind));
                Distribution::lognormal(mean?, sd?)
            }
            "uniform" => {
                let (low, high) = (param(self, table, "low", kind), param(self, table, "high", kind));
                Distribution::uniform(low?, high?)
            }
            "triangular" | "pert" => {
                let low = param(self, table, "low", kind);
                let mode = param(self, table, "mode", kind);
                let high = param(self, table, "high", kind);
                let (low, mode, high) = (low?, mode?, high?);
                if name == "pert" {
                    Distribution::pert(low, mode, high)
                } else {
                    Distribution::triangular(low, mode, high)
                }
            }
            "beta" => {
                let alpha = param(self, table, "alpha", Kind::Plain);
                let beta = param(self, table, "beta", Kind::Plain);
                let low = self.optional_number(table, "low", kind, Bound::Any).unwrap_or(0.0);
                let high = self.optional_number(table, "high", kind, Bound::Any).unwrap_or(1.0);
                Distribution::beta(alpha?, beta?, low, high)
            }
            "discrete" => {
                let values = self.number_list(table, "values", kind);
                let weights = self.number_list(table, "weights", Kind::Plain);
                Distribution::discrete(values?, weights?)
            }
            "bernoulli" => {
                let p = param(self, table, "p", Kind::Fraction);
                Distribution::bernoulli(p?)
            }
            other => {
                table.shape_is_unknown();
                self.reader.error(&dist_node, &path.key("dist"), format!(
                    "unknown distribution \"{other}\"; expected one of: normal, lognormal, uniform, triangular, pert, beta, discrete, bernoulli"
                ));
                return None;
            }
        };
        let min_node = table.get(self.reader, "min");
        let max_node = table.get(self.reader, "max");
        let min = min_node.and_then(|node| self.number(node, &path.key("min"), kind, Bound::Any));
        let max = max_node.and_then(|node| self.number(node, &path.key("max"), kind, Bound::Any));
        if let Some(node) = min_node {
            params.insert("min", node);
        }
        if let Some(node) = max_node {
            params.insert("max", node);
        }
        let with_truncation =
            built.and_then(|d| if min.is_some() || max.is_some() { d.truncated(min, max) } else { Ok(d) });
        match with_truncation {
            Ok(distribution) => Some(distribution),
            Err(error) => {
                self.distribution_error(&error, &params, table, &path);
                None
            }
        }
    }

    fn distribution_error(
        &mut self,
        error: &DistributionError,
        params: &HashMap<&'static str, Node<'a>>,
        table: &mut Table<'a>,
        path: &KeyPath,
    ) {
        let parameter = error.parameter();
        let node = params.get(parameter).copied().or_else(|| table.get(self.reader, parameter)).unwrap_or(table.node);
        self.reader.error(&node, &path.key(parameter), error.to_string());
    }

    fn number_list(&mut self, table: &mut Table<'a>, key: &'static str, kind: Kind) -> Option<Vec<f64>> {
        let node = table.require(self.reader, key, "an array of numbers")?;
        let path = table.path.key(key);
        let items = self.reader.array(node, &path)?;
        let values: Vec<Option<f64>> = items
            .into_iter()
            .enumerate()
            .map(|(index, item)| self.number(item, &path.element(index, None), kind, Bound::Any))
            .collect();
        values.into_iter().collect()
    }

    fn support_of(&self, scalar: Scalar) -> (f64, f64) {
        match scalar {
            Scalar::Const(value) => (value, value),
            Scalar::Input(id) => self.inputs[id].distribution.support(),
        }
    }
}

/// The identity an uncertain value's draw is keyed by: its key path in the world
/// (`streams.openai.growth.start`); for a field of a deal's term, `<kind>.<term>.<field>` whatever
/// the deal (`revenue_share.openai-to-microsoft.cap`), so one term in several deals or files
/// draws alike; for a deal's starting stake, `equity.<party>`.
pub(crate) fn identity_of_key(key: &str) -> String {
    let Some((_deal, within)) = key.strip_prefix("deals.").and_then(|rest| rest.split_once('.')) else {
        return key.to_string();
    };
    let (collection, field) = within.split_once('.').unwrap_or((within, ""));
    let kind = match collection {
        "revenue_shares" => "revenue_share",
        "commitments" => "commitment",
        "investments" => "investment",
        other => other,
    };
    if field.is_empty() { kind.to_string() } else { format!("{kind}.{field}") }
}

/// The kind under which a stream's channel names are declared.
fn channel_kind(channels_path: &str) -> String {
    format!("channel of {channels_path}")
}

/// The kind under which a deal's term names are declared.
fn terms_kind(deal: &str) -> String {
    format!("term of deal {deal}")
}

fn keys_of(table: &DeTable<'_>) -> String {
    let keys: Vec<&str> = table.iter().map(|(k, _)| k.get_ref().as_ref()).collect();
    keys.join(", ")
}

/// A string a table writes at `key` itself, read without recording anything: names of entries
/// are needed before the entries are read.
fn raw_string(table: &Table<'_>, key: &str) -> Option<String> {
    match table.peek(key)?.value {
        DeValue::String(text) => Some(text.to_string()),
        _ => None,
    }
}

/// Reads a TOML number (or a money/percent string) as f64. The error is a suffix for the
/// "found ..." message explaining what was wrong, or empty.
fn number_of(value: &DeValue<'_>, kind: Kind) -> Result<f64, String> {
    let parsed = match value {
        DeValue::Integer(integer) => {
            let digits = integer.as_str().replace('_', "");
            i64::from_str_radix(
                digits.trim_start_matches("0x").trim_start_matches("0o").trim_start_matches("0b"),
                integer.radix(),
            )
            .map(|v| v as f64)
            .map_err(|_| String::new())
        }
        DeValue::Float(float) => float.as_str().replace('_', "").parse::<f64>().map_err(|_| String::new()),
        DeValue::String(text) => parse_number_text(text, kind),
        _ => Err(String::new()),
    }?;
    if parsed.is_finite() { Ok(parsed) } else { Err(" (not a finite number)".to_string()) }
}

/// A number for a message: as Rust writes it, except that extreme magnitudes read `1e308`
/// rather than 309 digits.
fn show(value: f64) -> String {
    let extreme = value != 0.0 && value.is_finite() && !(1e-6..1e15).contains(&value.abs());
    if extreme { format!("{value:e}") } else { format!("{value}") }
}

/// An amount or a fraction as scenario files write them, for command-line values that may be
/// either (`solve --between 2% 30%`, a target of `= 80%` or `= 38B`), so they read the same as
/// the files: `"20%"` is 0.2, as in a `--set`; anything else is money (`38e9`, `"38B"`,
/// `"$1.2T"`, `"900M"`) or a plain number.
pub fn parse_amount_or_share(text: &str) -> Option<f64> {
    let kind = if text.trim().ends_with('%') { Kind::Fraction } else { Kind::Money };
    parse_number_text(text, kind).ok().filter(|value| value.is_finite())
}

fn parse_number_text(text: &str, kind: Kind) -> Result<f64, String> {
    let text = text.trim();
    if let Some(percent) = text.strip_suffix('%') {
        if kind != Kind::Fraction {
            return Err(" (a percentage is only allowed for rates, shares and probabilities)".to_string());
        }
        return percent.trim().parse::<f64>().map(|v| v / 100.0).map_err(|_| String::new());
    }
    let unsigned = text.strip_prefix('$').unwrap_or(text);
    let (digits, scale) = match unsigned.char_indices().last() {
        Some((i, c)) if "KkMmBbTt".contains(c) => {
            let scale = match c.to_ascii_uppercase() {
                'K' => 1e3,
                'M' => 1e6,
                'B' => 1e9,
                _ => 1e12,
            };
            (&unsigned[..i], scale)
        }
        _ => (unsigned, 1.0),
    };
    if kind != Kind::Money && (scale != 1.0 || text.starts_with('$')) {
        return Err(" (an amount of money is not allowed here)".to_string());
    }
    if kind == Kind::Plain {
        return Err(" (write a number, not a string)".to_string());
    }
    digits.trim().replace('_', "").parse::<f64>().map(|v| v * scale).map_err(|_| String::new())
}

/// Checks the correlation matrix of the normal scores of the inputs named in `correlations` for positive
/// semi-definiteness; returns the indices of the correlations involved in the first failing
/// leading minor, or None when the matrix is fine.
fn not_positive_semidefinite(correlations: &[Correlation]) -> Option<Vec<usize>> {
    if correlations.is_empty() {
        return None;
    }
    let mut involved: Vec<LatentId> = correlations.iter().flat_map(|c| c.between).collect();
    involved.sort_unstable();
    involved.dedup();
    let n = involved.len();
    let position = |id: LatentId| involved.binary_search(&id).expect("input is involved");
    let mut matrix = vec![vec![0.0; n]; n];
    for (i, row) in matrix.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    for c in correlations {
        let (a, b) = (position(c.between[0]), position(c.between[1]));
        // The copula correlates normal scores: that matrix must be positive semi-definite.
        let pearson = normal_score_correlation(c.rank);
        matrix[a][b] = pearson;
        matrix[b][a] = pearson;
    }
    // Cholesky with a small tolerance: a pivot below -tolerance proves a negative eigenvalue.
    const TOLERANCE: f64 = 1e-10;
    let mut lower = vec![vec![0.0; n]; n];
    for j in 0..n {
        let pivot = matrix[j][j] - (0..j).map(|k| lower[j][k] * lower[j][k]).sum::<f64>();
        if pivot < -TOLERANCE {
            let failing: Vec<usize> = correlations
                .iter()
                .enumerate()
                .filter(|(_, c)| c.between.iter().all(|&id| position(id) <= j))
                .filter(|(_, c)| c.rank != 0.0)
                .map(|(i, _)| i)
                .collect();
            return Some(failing);
        }
        let root = pivot.max(0.0).sqrt();
        lower[j][j] = root;
        for i in j + 1..n {
            let dot = (0..j).map(|k| lower[i][k] * lower[j][k]).sum::<f64>();
            lower[i][j] = if root > TOLERANCE { (matrix[i][j] - dot) / root } else { 0.0 };
        }
    }
    None
}

impl Curve {
    /// The scalar of a value read with `Shape::Scalar` (never a trajectory or schedule).
    pub(crate) fn into_scalar(self) -> Scalar {
        match self {
            Curve::Flat(scalar) => scalar,
            _ => unreachable!("scalar-only values are read with Shape::Scalar"),
        }
    }
}
