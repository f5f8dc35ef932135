//! Deal terms, one module per kind. A term is a pure function of a sampled world path: it reads
//! the path and moves money between parties; it draws nothing and does no I/O.
//!
//! Each kind's module owns its fields, how they are read from a scenario, what the term does to a
//! path, the metrics it reports (with the words and units they read in) and how `validate`
//! describes it. [`TermKind`] and [`Term`] are where a kind is added: every `match` on them is
//! a place the compiler then asks to extend.

pub mod activation;
pub mod commitment;
pub mod investment;
pub mod payment;
pub mod revenue_share;
pub mod route;

pub use activation::Activation;
pub use commitment::{Commitment, CommitmentWindow};
pub use investment::{Investment, Tranche, TrancheTiming};
pub use payment::Payment;
pub use revenue_share::RevenueShare;
pub use route::Route;

use crate::engine::metrics::{Scope, Sink};
use crate::format::Unit;
use crate::sampling::world::WorldPath;
use crate::scenario::build::Builder;
use crate::scenario::reader::{KeyPath, Table};
use crate::scenario::{CoinId, Deal, PartyId, Scalar, Scenario};

/// The kinds of term, in the order a deal applies them: routes first, since they decide which
/// provider a commitment's spend goes to; investments before payments, which do not depend on
/// stakes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TermKind {
    Route,
    RevenueShare,
    Commitment,
    Investment,
    Payment,
}

impl TermKind {
    pub const ALL: [TermKind; 5] =
        [TermKind::Route, TermKind::RevenueShare, TermKind::Commitment, TermKind::Investment, TermKind::Payment];

    /// The deal's array of tables that holds terms of this kind (`[[deals.revenue_shares]]`).
    pub fn collection(self) -> &'static str {
        match self {
            TermKind::Route => "routes",
            TermKind::RevenueShare => "revenue_shares",
            TermKind::Commitment => "commitments",
            TermKind::Investment => "investments",
            TermKind::Payment => "payments",
        }
    }

    /// What metric names and input identities start with (`revenue_share.<term>.paid`).
    pub fn prefix(self) -> &'static str {
        match self {
            TermKind::Route => "route",
            TermKind::RevenueShare => "revenue_share",
            TermKind::Commitment => "commitment",
            TermKind::Investment => "investment",
            TermKind::Payment => "payment",
        }
    }

    /// The kind in words, for messages and reports.
    pub fn label(self) -> &'static str {
        match self {
            TermKind::Route => "compute route",
            TermKind::RevenueShare => "revenue share",
            TermKind::Commitment => "commitment",
            TermKind::Investment => "investment",
            TermKind::Payment => "payment",
        }
    }

    /// What terms of this kind report in summary.csv (`<prefix>.<term>.<key>`), in words.
    pub fn metrics(self) -> &'static [Measure] {
        match self {
            TermKind::Route => route::METRICS,
            TermKind::RevenueShare => revenue_share::METRICS,
            TermKind::Commitment => commitment::METRICS,
            TermKind::Investment => investment::METRICS,
            TermKind::Payment => payment::METRICS,
        }
    }

    /// What terms of this kind report in timeseries.csv, in words.
    pub fn series(self) -> &'static [Measure] {
        match self {
            TermKind::RevenueShare => revenue_share::SERIES,
            TermKind::Commitment => commitment::SERIES,
            TermKind::Route | TermKind::Investment | TermKind::Payment => &[],
        }
    }

    /// The kind whose metric names start with `prefix`.
    pub fn of_prefix(prefix: &str) -> Option<TermKind> {
        TermKind::ALL.into_iter().find(|kind| kind.prefix() == prefix)
    }

    /// The kind whose collection is `key`.
    pub fn of_collection(key: &str) -> Option<TermKind> {
        TermKind::ALL.into_iter().find(|kind| kind.collection() == key)
    }
}

/// One measure a kind of term reports: the last part of its metric or series name (`cap_hit`
/// in `revenue_share.<term>.cap_hit`), what it is in words and its unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Measure {
    pub key: &'static str,
    pub label: &'static str,
    pub unit: Unit,
}

/// One term of a deal.
#[derive(Clone, Debug, PartialEq)]
pub enum Term {
    Route(Route),
    RevenueShare(RevenueShare),
    Commitment(Commitment),
    Investment(Investment),
    Payment(Payment),
}

/// What one term did on one path.
#[derive(Clone, Debug, PartialEq)]
pub enum TermOutcome {
    Route(route::Outcome),
    RevenueShare(revenue_share::Outcome),
    Commitment(commitment::Outcome),
    Investment(investment::Outcome),
    Payment(payment::Outcome),
}

impl Term {
    pub fn kind(&self) -> TermKind {
        match self {
            Term::Route(_) => TermKind::Route,
            Term::RevenueShare(_) => TermKind::RevenueShare,
            Term::Commitment(_) => TermKind::Commitment,
            Term::Investment(_) => TermKind::Investment,
            Term::Payment(_) => TermKind::Payment,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Term::Route(term) => &term.name,
            Term::RevenueShare(term) => &term.name,
            Term::Commitment(term) => &term.name,
            Term::Investment(term) => &term.name,
            Term::Payment(term) => &term.name,
        }
    }

    /// Reads a term of `kind` from its table; every problem is recorded with the builder.
    pub(crate) fn read<'a>(
        kind: TermKind,
        builder: &mut Builder<'_, 'a>,
        table: &mut Table<'a>,
        path: &KeyPath,
        names: &str,
    ) -> Option<Term> {
        match kind {
            TermKind::Route => Route::read(builder, table, path, names).map(Term::Route),
            TermKind::RevenueShare => RevenueShare::read(builder, table, path, names).map(Term::RevenueShare),
            TermKind::Commitment => Commitment::read(builder, table, path, names).map(Term::Commitment),
            TermKind::Investment => Investment::read(builder, table, path, names).map(Term::Investment),
            TermKind::Payment => Payment::read(builder, table, path, names).map(Term::Payment),
        }
    }

    /// Visits every value the term holds that an input may draw, and every coin it flips, so
    /// that a term can move to another scenario's inputs.
    pub fn visit_draws(&mut self, scalar: &mut dyn FnMut(&mut Scalar), coin: &mut dyn FnMut(&mut CoinId)) {
        match self {
            Term::Route(term) => term.visit_draws(scalar),
            Term::RevenueShare(term) => term.visit_draws(scalar),
            Term::Commitment(term) => term.visit_draws(scalar),
            Term::Investment(term) => term.visit_draws(scalar, coin),
            Term::Payment(term) => term.visit_draws(scalar, coin),
        }
    }

    /// One line of `validate`'s description.
    pub fn describe(&self, scenario: &Scenario) -> String {
        match self {
            Term::Route(term) => term.describe(scenario),
            Term::RevenueShare(term) => term.describe(scenario),
            Term::Commitment(term) => term.describe(scenario),
            Term::Investment(term) => term.describe(scenario),
            Term::Payment(term) => term.describe(scenario),
        }
    }

    /// The party buying a stake in the valued company, for an investment.
    pub fn investor(&self) -> Option<PartyId> {
        match self {
            Term::Investment(term) => Some(term.investor),
            Term::Route(_) | Term::RevenueShare(_) | Term::Commitment(_) | Term::Payment(_) => None,
        }
    }

    fn outcome(&self, periods: usize) -> TermOutcome {
        match self {
            Term::Route(_) => TermOutcome::Route(route::Outcome::default()),
            Term::RevenueShare(_) => TermOutcome::RevenueShare(revenue_share::Outcome::new(periods)),
            Term::Commitment(_) => TermOutcome::Commitment(commitment::Outcome::new(periods)),
            Term::Investment(_) => TermOutcome::Investment(investment::Outcome::default()),
            Term::Payment(_) => TermOutcome::Payment(payment::Outcome::default()),
        }
    }

    fn apply(&self, index: usize, path: &PathContext<'_>, state: &mut DealState, outcome: &mut TermOutcome) {
        match (self, outcome) {
            (Term::Route(term), TermOutcome::Route(outcome)) => term.apply(path, state, outcome),
            (Term::RevenueShare(term), TermOutcome::RevenueShare(outcome)) => term.apply(path, state, outcome),
            (Term::Commitment(term), TermOutcome::Commitment(outcome)) => term.apply(path, state, outcome),
            (Term::Investment(term), TermOutcome::Investment(_)) => term.apply(index, path, state),
            (Term::Payment(term), TermOutcome::Payment(outcome)) => term.apply(path, state, outcome),
            _ => unreachable!("every term's outcome is made by Term::outcome"),
        }
    }

    /// Reports what the term did on this path, in a fixed order.
    pub(crate) fn emit<S: Sink>(&self, outcome: &TermOutcome, scope: Scope, sink: &mut S) {
        match (self, outcome) {
            (Term::Route(term), TermOutcome::Route(outcome)) => term.emit(outcome, scope, sink),
            (Term::RevenueShare(term), TermOutcome::RevenueShare(outcome)) => term.emit(outcome, scope, sink),
            (Term::Commitment(term), TermOutcome::Commitment(outcome)) => term.emit(outcome, scope, sink),
            (Term::Investment(term), TermOutcome::Investment(outcome)) => term.emit(outcome, scope, sink),
            (Term::Payment(term), TermOutcome::Payment(outcome)) => term.emit(outcome, scope, sink),
            _ => unreachable!("every term's outcome is made by Term::outcome"),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PartyOutcome {
    pub npv: f64,
    pub cloud_profit: f64,
    pub revenue_share_net: f64,
    pub equity_value: f64,
    pub stake: f64,
    /// Lowest cash balance; NaN where the party has no initial cash.
    pub min_cash: f64,
}

/// The scenario and the sampled path a deal is applied to.
pub struct PathContext<'s> {
    pub scenario: &'s Scenario,
    pub world: &'s WorldPath,
}

/// What a deal's terms change as they are applied in turn. Per-period arrays are
/// `[item * periods + k]`.
#[derive(Clone, Debug)]
pub struct DealState {
    pub periods: usize,
    /// Each party's cash flow.
    pub flow: Vec<f64>,
    pub parties: Vec<PartyOutcome>,
    /// The lab's compute spend with each provider under this deal.
    pub provider_spend: Vec<f64>,
    /// How each channel's compute bill splits across providers under this deal,
    /// `[(channel * providers + provider) * periods + k]`. Only routes read it: empty for a deal
    /// without one, which spares every path a copy of the world's split.
    pub channel_split: Vec<f64>,
    /// Tranches paid on this path: (period, the investment's term index, amount), by period.
    pub tranches: Vec<(usize, usize, f64)>,
}

/// Everything one deal produced on one path.
#[derive(Clone, Debug)]
pub struct DealOutcome {
    pub state: DealState,
    pub terms: Vec<TermOutcome>,
    /// Each party's cash balance at the end of each period (where it has initial cash).
    pub cash: Vec<f64>,
    /// Each party's stake in the valued company at the end of each period.
    pub stake: Vec<f64>,
    /// Scratch for the dilution of stakes: each party's and each term's stake.
    party_stake: Vec<f64>,
    term_stake: Vec<f64>,
}

impl DealOutcome {
    pub fn new(scenario: &Scenario, deal: &Deal) -> DealOutcome {
        let periods = scenario.grid().periods();
        let parties = scenario.parties.len();
        let (providers, channels) = scenario
            .compute
            .as_ref()
            .map_or((0, 0), |compute| (compute.providers.len(), scenario.streams[compute.stream].channels.len()));
        DealOutcome {
            state: DealState {
                periods,
                flow: vec![0.0; parties * periods],
                parties: vec![PartyOutcome::default(); parties],
                provider_spend: vec![0.0; providers * periods],
                channel_split: if deal.terms.iter().any(|term| matches!(term, Term::Route(_))) {
                    vec![0.0; channels * providers * periods]
                } else {
                    Vec::new()
                },
                tranches: Vec::new(),
            },
            terms: deal.terms.iter().map(|term| term.outcome(periods)).collect(),
            cash: vec![0.0; parties * periods],
            stake: vec![0.0; parties * periods],
            party_stake: vec![0.0; parties],
            term_stake: vec![0.0; deal.terms.len()],
        }
    }
}

/// Discount factors per party, computed once per scenario.
#[derive(Clone, Debug)]
pub struct Discounting {
    periods: usize,
    /// (1 + r)^-((k+1)Δt), `[party * periods + k]`.
    period_factor: Vec<f64>,
    /// (1 + r)^-years.
    horizon_factor: Vec<f64>,
}

impl Discounting {
    pub fn new(scenario: &Scenario) -> Discounting {
        let grid = scenario.grid();
        let periods = grid.periods();
        let mut period_factor = Vec::with_capacity(scenario.parties.len() * periods);
        let mut horizon_factor = Vec::with_capacity(scenario.parties.len());
        for party in &scenario.parties {
            let base = 1.0 + party.discount_rate;
            period_factor.extend((0..periods).map(|k| base.powf(-((k + 1) as f64) * grid.dt())));
            horizon_factor.push(base.powf(-f64::from(grid.years)));
        }
        Discounting { periods, period_factor, horizon_factor }
    }
}

/// Applies a deal's terms to one world path, in the order of their kinds.
pub fn apply_deal(
    scenario: &Scenario,
    deal: &Deal,
    discounting: &Discounting,
    world: &WorldPath,
    out: &mut DealOutcome,
) {
    let periods = discounting.periods;
    let state = &mut out.state;
    state.flow.copy_from_slice(&world.base_flow);
    for (party, outcome) in state.parties.iter_mut().enumerate() {
        *outcome = PartyOutcome { cloud_profit: world.cloud_profit[party], ..PartyOutcome::default() };
    }
    state.provider_spend.copy_from_slice(&world.provider_spend);
    if !state.channel_split.is_empty() {
        state.channel_split.copy_from_slice(&world.channel_split);
    }
    state.tranches.clear();
    let path = PathContext { scenario, world };
    for (index, (term, outcome)) in deal.terms.iter().zip(out.terms.iter_mut()).enumerate() {
        term.apply(index, &path, state, outcome);
    }
    investment::settle(
        deal,
        &path,
        &mut out.state,
        &mut out.terms,
        &mut out.stake,
        &mut out.party_stake,
        &mut out.term_stake,
    );
    let state = &mut out.state;
    let end_value = world.valuation.last().copied().unwrap_or(0.0);
    for (p, party) in scenario.parties.iter().enumerate() {
        let flows = &state.flow[p * periods..(p + 1) * periods];
        let factors = &discounting.period_factor[p * periods..(p + 1) * periods];
        let discounted: f64 = flows.iter().zip(factors).map(|(flow, factor)| flow * factor).sum();
        let outcome = &mut state.parties[p];
        outcome.equity_value = outcome.stake * end_value;
        outcome.npv = discounted + outcome.equity_value * discounting.horizon_factor[p];
        outcome.min_cash = party.initial_cash.map_or(f64::NAN, |initial| {
            let mut cash = initial.eval(&world.inputs);
            let mut lowest = cash;
            for (balance, flow) in out.cash[p * periods..(p + 1) * periods].iter_mut().zip(flows) {
                cash += flow;
                *balance = cash;
                lowest = lowest.min(cash);
            }
            lowest
        });
    }
}

/// Moves `amount` from `payer` to `payee` in period `period`.
#[inline]
pub(crate) fn transfer(state: &mut DealState, payer: PartyId, payee: PartyId, period: usize, amount: f64) {
    let periods = state.periods;
    state.flow[payer * periods + period] -= amount;
    state.flow[payee * periods + period] += amount;
}
