//! Invariants on random valid scenarios (proptest): a cap is never exceeded and a cumulative
//! payment never falls; stakes add up to at most 1 in every period; the deals only move money
//! between parties (revenue shares, commitment payments and tranches net to zero in every
//! period); every metric and series value is finite or a missing conditional value; and a run
//! succeeds with finite statistics throughout.
//!
//! 64 cases by default, so the file takes seconds; `PROPTEST_CASES=5000 cargo test --test
//! invariants` runs more.

use dealsim::engine::metrics::{Layout, RowWriter, emit};
use dealsim::engine::path::PathModel;
use dealsim::engine::{self, DrawScratch, Reportable, RunOptions, draws_per_path, sample_block_inputs};
use dealsim::report;
use dealsim::sampling::correlation::Copula;
use dealsim::scenario::{Scenario, parse_scenario};
use dealsim::terms::{Term, TermOutcome};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::Config;

/// Paths checked one by one per scenario, and paths of the engine run per scenario.
const PATHS_CHECKED: usize = 48;
const PATHS_RUN: u64 = 300;
/// Relative tolerance of the sums compared (caps, conservation): a few ulps of the amounts added.
const TOLERANCE: f64 = 1e-9;

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(64);
    Config { cases, ..Config::default() }
}

/// What the world offers the deals: the horizon, the parties, providers and events to refer to.
#[derive(Clone, Debug)]
struct Shape {
    start: i32,
    years: u32,
    steps: u32,
    third_party: bool,
    channels: usize,
    providers: usize,
    valuation: bool,
    events: usize,
}

fn shape() -> impl Strategy<Value = Shape> {
    (
        1u32..=6,
        prop::sample::select(vec![1u32, 4, 12]),
        any::<bool>(),
        1usize..=3,
        0usize..=3,
        any::<bool>(),
        0usize..=2,
    )
        .prop_map(|(years, steps, third_party, channels, providers, valuation, events)| Shape {
            start: 2026,
            years,
            steps,
            third_party,
            channels,
            providers,
            valuation,
            events,
        })
}

/// USD in billions, fixed or a PERT.
fn money(low: f64, high: f64) -> impl Strategy<Value = String> {
    prop_oneof![
        (low..high).prop_map(|value| format!("\"{value:.3}B\"")),
        (low..high, low..high, 0.0..1.0f64).prop_map(|(a, b, t)| {
            let (low, high) = (a.min(b), a.max(b) + 0.5);
            format!(
                "{{ dist = \"pert\", low = \"{low:.3}B\", mode = \"{:.3}B\", high = \"{high:.3}B\" }}",
                low + t * (high - low)
            )
        }),
    ]
}

/// A fraction drawn once per path: fixed or uniform (its ends apart by at least 0.5% of the range).
fn fraction(low: f64, high: f64) -> impl Strategy<Value = String> {
    let half = (high - low) / 2.0;
    prop_oneof![
        (low..=high).prop_map(|value| format!("{value:.4}")),
        (low..low + half, 0.01..=1.0f64)
            .prop_map(move |(a, t)| format!("{{ dist = \"uniform\", low = {a}, high = {} }}", a + half * t)),
    ]
}

/// A fraction that may vary over time: any of the above, a trajectory or (over more than a year)
/// a schedule.
fn curve(low: f64, high: f64, shape: &Shape) -> BoxedStrategy<String> {
    let start = shape.start;
    let trajectory = (fraction(low, high), fraction(low, high), 0.5..5.0f64)
        .prop_map(|(start, end, half_life)| format!("{{ start = {start}, end = {end}, half_life = {half_life:.2} }}"));
    if shape.years == 1 {
        return prop_oneof![3 => fraction(low, high), 1 => trajectory].boxed();
    }
    let schedule =
        (low..=high, low..=high, start + 1..start + shape.years as i32).prop_map(move |(first, later, year)| {
            format!("{{ schedule = {{ \"{start}\" = {first:.4}, \"{year}-Q2\" = {later:.4} }} }}")
        });
    prop_oneof![3 => fraction(low, high), 1 => trajectory, 1 => schedule].boxed()
}

fn year(shape: &Shape) -> std::ops::RangeInclusive<i32> {
    shape.start..=shape.start + shape.years as i32 - 1
}

fn world(shape: Shape) -> impl Strategy<Value = String> {
    let jumps = prop::option::of((
        0.0..2.0f64,
        prop_oneof![
            (-1.0..0.5f64).prop_map(|size| format!("{size:.3}")),
            (-1.0..0.0f64).prop_map(|low| format!("{{ dist = \"uniform\", low = {low:.3}, high = {:.3} }}", low + 0.5)),
        ],
    ));
    let stream = (
        money(1.0, 100.0),
        curve(-0.5, 2.0, &shape),
        curve(0.0, 1.0, &shape),
        jumps,
        prop::collection::vec(curve(0.0, 1.0, &shape), shape.channels),
    );
    let providers =
        prop::collection::vec((curve(0.0, 1.0, &shape), curve(0.0, 1.0, &shape), any::<bool>()), shape.providers);
    let events = prop::collection::vec(
        prop_oneof![
            fraction(0.0, 2.0).prop_map(|rate| format!("annual_rate = {rate}")),
            (year(&shape), fraction(0.0, 1.0)).prop_map(|(year, p)| format!("date = \"{year}\"\nprobability = {p}")),
        ],
        shape.events,
    );
    let parties = (prop::option::of(money(-50.0, 50.0)), prop::option::of(curve(0.0, 0.8, &shape)), 0.0..0.2f64);
    (Just(shape.clone()), stream, curve(0.0, 3.0, &shape), providers, curve(0.0, 50.0, &shape), events, parties).prop_map(
        |(shape, (initial, growth, volatility, jumps, channels), cost_ratio, providers, multiple, events, parties)| {
            let (initial_cash, other_costs, discount_rate) = parties;
            let mut text = format!(
                "[simulation]\nstart = {}\nyears = {}\nsteps_per_year = {}\npaths = 100\nseed = 5\ndiscount_rate = {discount_rate:.4}\n\n",
                shape.start, shape.years, shape.steps
            );
            text += "[parties.lab]\n";
            if let Some(cash) = initial_cash {
                text += &format!("initial_cash = {cash}\n");
            }
            if let Some(costs) = other_costs {
                text += &format!("other_costs = {costs}\n");
            }
            text += "[parties.cloud]\n";
            if shape.third_party {
                text += "[parties.other]\ninitial_cash = \"1B\"\n";
            }
            text += &format!(
                "\n[[streams]]\nname = \"lab\"\nowner = \"lab\"\ninitial = {initial}\ngrowth = {growth}\nvolatility = {volatility}\n"
            );
            if let Some((rate, size)) = jumps {
                text += &format!("jumps = {{ rate = {rate:.3}, size = {size} }}\n");
            }
            for (c, share) in channels.iter().enumerate() {
                text += &format!("[[streams.channels]]\nname = \"c{c}\"\nshare = {share}\n");
            }
            if !providers.is_empty() {
                text += &format!("\n[compute]\nstream = \"lab\"\ncost_ratio = {cost_ratio}\n");
                for (p, (margin, share, by_other)) in providers.iter().enumerate() {
                    let owner = if *by_other && shape.third_party { "other" } else { "cloud" };
                    text += &format!(
                        "[[compute.providers]]\nname = \"p{p}\"\nowner = \"{owner}\"\nmargin = {margin}\nshare = {share}\n"
                    );
                }
            }
            if shape.valuation {
                text += &format!("\n[valuation]\ncompany = \"lab\"\nstream = \"lab\"\nmultiple = {multiple}\n");
            }
            for (e, timing) in events.iter().enumerate() {
                text += &format!("\n[[events]]\nname = \"e{e}\"\n{timing}\n");
            }
            text
        },
    )
}

fn payee(shape: &Shape) -> impl Strategy<Value = &'static str> + use<> {
    let third = shape.third_party;
    any::<bool>().prop_map(move |other| if other && third { "other" } else { "cloud" })
}

fn revenue_share(shape: &Shape) -> impl Strategy<Value = String> + use<> {
    let events = shape.events;
    let channels = shape.channels;
    (
        payee(shape),
        curve(0.0, 0.5, shape),
        prop::option::of((year(shape), year(shape))),
        prop::option::of((money(0.1, 20.0), prop::option::of(money(0.0, 10.0)))),
        prop::option::of(0..events.max(1)),
        prop::collection::vec(any::<bool>(), channels),
    )
        .prop_map(move |(payee, rate, window, cap, ends_on, use_channel)| {
            let mut text = format!("payer = \"lab\"\npayee = \"{payee}\"\nstream = \"lab\"\nrate = {rate}\n");
            if let Some((a, b)) = window {
                text += &format!("from = \"{}\"\nthrough = \"{}\"\n", a.min(b), a.max(b));
            }
            if let Some((cap, paid_before)) = cap {
                text += &format!("cap = {cap}\n");
                if let Some(paid_before) = paid_before {
                    text += &format!("paid_before = {paid_before}\n");
                }
            }
            if let Some(event) = ends_on.filter(|_| events > 0) {
                text += &format!("ends_on = \"e{event}\"\n");
            }
            let chosen: Vec<String> =
                use_channel.iter().enumerate().filter(|(_, used)| **used).map(|(c, _)| format!("\"c{c}\"")).collect();
            if !chosen.is_empty() {
                text += &format!("channels = [{}]\n", chosen.join(", "));
            }
            text
        })
}

fn commitment(shape: &Shape) -> impl Strategy<Value = String> + use<> {
    let years = shape.years;
    (0..shape.providers.max(1), money(1.0, 200.0), prop::option::of(year(shape)), 1..=years, fraction(0.0, 1.0))
        .prop_map(move |(provider, total, through, length, take_or_pay)| {
            let end = match through {
                Some(year) => format!("through = \"{year}\""),
                None => format!(
                    "years = {{ dist = \"discrete\", values = [{}, {length}], weights = [1, 2] }}",
                    length.div_ceil(2)
                ),
            };
            format!(
                "buyer = \"lab\"\nprovider = \"p{provider}\"\ntotal = {total}\n{end}\ntake_or_pay = {take_or_pay}\n"
            )
        })
}

fn investment(shape: &Shape) -> impl Strategy<Value = String> + use<> {
    let events = shape.events;
    let tranche = (
        money(0.0, 30.0),
        prop_oneof![
            year(shape).prop_map(|year| format!("date = \"{year}\"")),
            (0..events.max(1), prop::option::of(year(shape))).prop_map(move |(event, by)| match (events, by) {
                (0, _) => String::new(),
                (_, Some(by)) => format!("on = \"e{event}\", by = \"{by}\""),
                (_, None) => format!("on = \"e{event}\""),
            }),
        ],
        prop::option::of(fraction(0.0, 1.0)),
    )
        .prop_map(|(amount, timing, probability)| (amount, timing, probability));
    let first_year = shape.start;
    (payee(shape), prop::collection::vec(tranche, 1..=3)).prop_map(move |(investor, tranches)| {
        let tranches: Vec<String> = tranches
            .into_iter()
            .map(|(amount, timing, probability)| {
                let timing = if timing.is_empty() { format!("date = \"{first_year}\"") } else { timing };
                let probability = probability.map(|p| format!(", probability = {p}")).unwrap_or_default();
                format!("{{ amount = {amount}, {timing}{probability} }}")
            })
            .collect();
        format!("investor = \"{investor}\"\ninvestee = \"lab\"\ntranches = [{}]\n", tranches.join(", "))
    })
}

fn deal(shape: &Shape) -> impl Strategy<Value = String> + use<> {
    let valuation = shape.valuation;
    let providers = shape.providers;
    let third = shape.third_party;
    (
        prop::collection::vec(revenue_share(shape), 0..=2),
        prop::collection::vec(commitment(shape), 0..=2),
        prop::collection::vec(investment(shape), 0..=2),
        prop::option::of((0.0..0.5f64, 0.0..0.5f64)),
    )
        .prop_map(move |(shares, commitments, investments, equity)| {
            let mut text = String::new();
            if let (true, Some((cloud, other))) = (valuation, equity) {
                text += &format!("equity = {{ cloud = {cloud:.4}");
                if third {
                    text += &format!(", other = {other:.4}");
                }
                text += " }\n";
            }
            for (t, share) in shares.iter().enumerate() {
                text += &format!("[[deals.revenue_shares]]\nname = \"rs{t}\"\n{share}");
            }
            if providers > 0 {
                for (t, commitment) in commitments.iter().enumerate() {
                    text += &format!("[[deals.commitments]]\nname = \"c{t}\"\n{commitment}");
                }
            }
            if valuation {
                for (t, investment) in investments.iter().enumerate() {
                    text += &format!("[[deals.investments]]\nname = \"i{t}\"\n{investment}");
                }
            }
            text
        })
}

fn scenario_text() -> impl Strategy<Value = String> {
    shape().prop_flat_map(|shape| {
        (world(shape.clone()), prop::collection::vec(deal(&shape), 1..=3)).prop_map(|(world, deals)| {
            let mut text = world;
            for (d, deal) in deals.iter().enumerate() {
                text += &format!("\n[[deals]]\nname = \"d{d}\"\n{deal}");
            }
            text
        })
    })
}

fn close(a: f64, b: f64, scale: f64) -> bool {
    (a - b).abs() <= TOLERANCE * scale.max(1.0)
}

/// Checks every invariant on each of the first paths of the scenario's run, path by path.
fn check_paths(scenario: &Scenario) -> Result<(), TestCaseError> {
    let periods = scenario.grid().periods();
    let layout = Layout::of(scenario, 0);
    let reportable = Reportable::new((0..layout.width()).map(|slot| layout.conditional(slot)).collect());
    let model = PathModel::new(scenario);
    let mut state = model.state();
    let width = draws_per_path(scenario);
    let mut draws = vec![0.0; PATHS_CHECKED * width];
    let seed = scenario.simulation.seed;
    let copula = Copula::of(scenario);
    let mut scratch = DrawScratch::new(scenario);
    sample_block_inputs(scenario, copula.as_ref(), seed, 0..PATHS_CHECKED as u64, &mut draws, &mut scratch);
    let mut row = vec![0.0; layout.width()];
    for path in 0..PATHS_CHECKED {
        model.sample(seed, path as u64, &mut draws[path * width..(path + 1) * width], &mut state);
        model.apply_all(&mut state);
        let (world, outcomes) = (&state.worlds[0], &state.outcomes);
        for (deal, outcome) in scenario.deals.iter().zip(outcomes) {
            let name = &deal.name;
            let shares = deal.terms.iter().zip(&outcome.terms).filter_map(|pair| match pair {
                (Term::RevenueShare(term), TermOutcome::RevenueShare(share)) => Some((term, share)),
                _ => None,
            });
            for (term, share) in shares {
                let paid = share.paid;
                let before = term.paid_before.eval(&world.inputs);
                if let Some(cap) = term.cap.map(|cap| cap.eval(&world.inputs)) {
                    let room = (cap - before).max(0.0);
                    prop_assert!(
                        paid <= room + TOLERANCE * cap.max(1.0),
                        "{name}/{}: paid {paid} + {before} before > cap {cap}",
                        term.name
                    );
                }
                let cumulative = &share.paid_cumulative;
                prop_assert!(
                    cumulative.windows(2).all(|pair| pair[1] >= pair[0]),
                    "{name}/{}: {cumulative:?}",
                    term.name
                );
                prop_assert!(close(cumulative[periods - 1], paid, paid));
            }
            for k in 0..periods {
                let stakes: f64 = (0..scenario.parties.len()).map(|p| outcome.stake[p * periods + k]).sum();
                prop_assert!(stakes <= 1.0 + TOLERANCE, "{name}: stakes add up to {stakes} in period {k}");
                let transfers: Vec<f64> = (0..scenario.parties.len())
                    .map(|p| outcome.state.flow[p * periods + k] - world.base_flow[p * periods + k])
                    .collect();
                let moved: f64 = transfers.iter().map(|t| t.abs()).sum();
                // A route moves compute spend between providers: the lab's bill is the same, and
                // the owners' profits change by the spend moved times each margin.
                let rerouted: f64 = (0..world.provider_spend.len() / periods)
                    .map(|p| {
                        let slot = p * periods + k;
                        (outcome.state.provider_spend[slot] - world.provider_spend[slot]) * world.provider_margin[slot]
                    })
                    .sum();
                let net: f64 = transfers.iter().sum::<f64>() - rerouted;
                prop_assert!(close(net, 0.0, moved), "{name}: transfers {transfers:?} net {net} in period {k}");
            }
            let final_stakes: f64 = outcome.state.parties.iter().map(|party| party.stake).sum();
            prop_assert!(final_stakes <= 1.0 + TOLERANCE, "{name}: final stakes {final_stakes}");
        }
        let mut writer = RowWriter::new(&layout, &mut row);
        emit(scenario, &state.worlds, outcomes, &mut writer);
        prop_assert_eq!(writer.not_a_number(), None);
        layout.fill_derived(&mut row);
        if let Some(slot) = reportable.first_unreportable(&row) {
            prop_assert!(false, "path {path}: {} is {}", layout.describe_slot(scenario, slot), row[slot]);
        }
    }
    Ok(())
}

/// A short run through the engine: it succeeds and every statistic it reports is finite.
fn check_run(scenario: &Scenario) -> Result<(), TestCaseError> {
    let options =
        RunOptions { paths: PATHS_RUN, seed: 9, threads: 1, baseline: 0, target_relative_se: None, shard: None };
    let aggregates = engine::run(scenario, options, &|_| {}).map_err(|error| TestCaseError::fail(error.to_string()))?;
    let finite = |value: Option<f64>| value.is_none_or(f64::is_finite);
    for row in report::summary_rows(scenario, &aggregates) {
        let values = [row.mean, row.std, row.std_error, row.p05, row.p25, row.p50, row.p75, row.p95, row.min, row.max];
        prop_assert!(values.into_iter().all(finite), "{row:?}");
        prop_assert!(row.count == 0 || row.mean.is_some(), "{row:?}");
    }
    for row in report::timeseries_rows(scenario, &aggregates) {
        let values = [row.mean, row.p05, row.p25, row.p50, row.p75, row.p95];
        prop_assert!(values.into_iter().all(|value| value.is_some_and(f64::is_finite)), "{row:?}");
    }
    for row in report::comparison_rows(scenario, &aggregates) {
        let values = [row.mean_difference, row.std_error, row.unpaired_std_error, row.p05, row.p50, row.p95];
        prop_assert!(values.into_iter().all(finite), "{row:?}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_valid_scenarios_keep_every_invariant(text in scenario_text()) {
        let scenario = match parse_scenario("generated.toml", &text, &[]) {
            Ok(scenario) => scenario,
            Err(diagnostics) => return Err(TestCaseError::fail(format!("the generator made an invalid scenario:\n{diagnostics}\n{text}"))),
        };
        check_paths(&scenario)?;
        check_run(&scenario)?;
    }
}

#[test]
#[ignore = "prints generated scenarios to look at: cargo test --test invariants -- --ignored --nocapture"]
fn print_generated_scenarios() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    for _ in 0..3 {
        println!("{}\n-----", scenario_text().new_tree(&mut runner).unwrap().current());
    }
}
