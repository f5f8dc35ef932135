//! What `validate` prints: the scenario in words, its deals term by term, and every uncertain
//! input.

use std::fmt::Write as _;

use crate::format::{self, Unit};
use crate::scenario::{EventTiming, Scenario};

/// The human summary `validate` prints: what the scenario simulates and what is uncertain.
pub fn describe_scenario(scenario: &Scenario) -> String {
    let grid = scenario.grid();
    let party = |id: usize| scenario.parties[id].name.as_str();
    let mut text = String::new();
    let _ = writeln!(text, "scenario: {}", if scenario.name.is_empty() { "(unnamed)" } else { &scenario.name });
    let _ = writeln!(
        text,
        "simulation: {} to {}, {} periods, {} paths, seed {}",
        grid.label(0),
        grid.horizon_label(),
        grid.periods(),
        format::count(scenario.simulation.paths as f64),
        scenario.simulation.seed
    );
    let _ = writeln!(text, "\nparties:");
    for p in &scenario.parties {
        let _ = writeln!(text, "  {} (discount rate {})", p.name, format::percent_short(p.discount_rate));
    }
    let _ = writeln!(text, "\nstreams:");
    for s in &scenario.streams {
        let channels: Vec<&str> = s.channels.iter().map(|c| c.name.as_str()).collect();
        let _ = writeln!(text, "  {} owned by {}, channels: {}", s.name, party(s.owner), channels.join(", "));
    }
    if let Some(compute) = &scenario.compute {
        for route in &compute.routes {
            let _ = writeln!(text, "  route: {}", route.describe(scenario));
        }
    }
    if !scenario.events.is_empty() {
        let _ = writeln!(text, "\nevents:");
        for event in &scenario.events {
            let timing = match event.timing {
                EventTiming::Dated { period, probability } => {
                    format!(
                        "in {} with probability {}",
                        grid.label(period),
                        scenario.describe_scalar(probability, Some(Unit::Probability))
                    )
                }
                EventTiming::Hazard { annual_rate, first, last } => format!(
                    "at {} a year from {} through {}",
                    scenario.describe_scalar(annual_rate, None),
                    grid.label(first),
                    grid.label(last)
                ),
                EventTiming::Outcome { .. } => continue,
            };
            let outcomes: Vec<String> = event
                .outcomes
                .iter()
                .map(|&(weight, outcome)| {
                    format!("{} ({})", scenario.events[outcome].name, scenario.describe_scalar(weight, None))
                })
                .collect();
            let outcomes =
                if outcomes.is_empty() { String::new() } else { format!("; outcomes {}", outcomes.join(", ")) };
            let _ = writeln!(text, "  {} {timing}{outcomes}", event.name);
        }
    }
    let _ = writeln!(text, "\ndeals:");
    for deal in &scenario.deals {
        let description = if deal.description.is_empty() { String::new() } else { format!(": {}", deal.description) };
        let _ = writeln!(text, "  {}{description}", deal.name);
        for (holder, stake) in &deal.equity {
            let _ = writeln!(
                text,
                "    equity: {} holds {}",
                party(*holder),
                scenario.describe_scalar(*stake, Some(Unit::Share))
            );
        }
        for term in &deal.terms {
            let _ = writeln!(text, "    {} {}: {}", term.kind().label(), term.name(), term.describe(scenario));
        }
        if deal.terms.is_empty() {
            let _ = writeln!(text, "    (no terms: the no-deal baseline)");
        }
    }
    let _ = writeln!(text, "\nuncertain inputs ({}):", scenario.inputs.len());
    for input in &scenario.inputs {
        let _ = writeln!(text, "  {}  ~ {}", input.key, input.distribution.describe_with(format::scenario_number));
    }
    text
}
