//! Compute routes: which providers earn one channel's compute bill. The world may route a channel
//! (`[[compute.routes]]`); a deal may route it its own way, from or until an event
//! (`[[deals.routes]]`). The lab's bill is the same either way: a route moves spend, and the
//! margin on it, from provider to provider.

use super::{Activation, DealState, Measure, PathContext};
use crate::engine::metrics::{Scope, Sink};
use crate::format::Unit;
use crate::scenario::build::Builder;
use crate::scenario::reader::{KeyPath, Table};
use crate::scenario::{ChannelRoute, Scalar, Scenario};

#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    /// Optional in the file: the channel's name by default.
    pub name: String,
    pub split: ChannelRoute,
    pub activation: Activation,
}

/// What a compute route reports: summary.csv's `route.<name>.<key>`, in words.
pub(crate) const METRICS: &[Measure] =
    &[Measure { key: "moved", label: "compute spend moved to other providers", unit: Unit::Money }];

/// What a route did on one path.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    /// Compute spend the route sent where the world's split would not have, over the horizon.
    pub moved: f64,
}

impl Route {
    pub(crate) fn read<'a>(
        b: &mut Builder<'_, 'a>,
        table: &mut Table<'a>,
        path: &KeyPath,
        names: &str,
    ) -> Option<Route> {
        let split = b.channel_route(table, path);
        let name = match table.get(b.reader_mut(), "name") {
            Some(_) => b.required_name(table, names),
            None => split.as_ref().map(|split| b.compute_channel_name(split.channel)),
        };
        let activation = b.activation(table, path);
        Some(Route { name: name?, split: split?, activation: activation? })
    }

    pub(crate) fn visit_draws(&mut self, scalar: &mut dyn FnMut(&mut Scalar)) {
        for (_, share) in &mut self.split.providers {
            share.visit_scalars(scalar);
        }
    }

    pub(crate) fn describe(&self, scenario: &Scenario) -> String {
        format!(
            "{}{}",
            self.split.describe(scenario),
            self.activation.describe(|event| scenario.events[event].name.clone())
        )
    }

    /// Moves the channel's bill to this route's providers in the periods it is in force, and the
    /// providers' margins on it with it.
    pub(crate) fn apply(&self, path: &PathContext<'_>, state: &mut DealState, out: &mut Outcome) {
        let (world, periods) = (path.world, state.periods);
        let compute = path.scenario.compute.as_ref().expect("routes are validated to have compute");
        let providers = compute.providers.len();
        out.moved = 0.0;
        let Some((first, last)) = self.activation.periods(world) else { return };
        let channel = self.split.channel;
        for k in first..=last {
            let total: f64 = self.split.providers.iter().map(|(_, share)| share.at(k, &world.inputs)).sum();
            // All-zero shares on a path leave the channel where it was.
            if total <= 0.0 {
                continue;
            }
            let bill = world.channel_bill[channel * periods + k];
            for (p, provider) in compute.providers.iter().enumerate() {
                let share: f64 = self
                    .split
                    .providers
                    .iter()
                    .filter(|(routed, _)| *routed == p)
                    .map(|(_, share)| share.at(k, &world.inputs))
                    .sum();
                let slot = (channel * providers + p) * periods + k;
                let moved = bill * (share / total - state.channel_split[slot]);
                state.channel_split[slot] = share / total;
                state.provider_spend[p * periods + k] += moved;
                out.moved += moved.max(0.0);
                // The lab's bill does not change; the margin on the spend moves between owners.
                let profit = moved * world.provider_margin[p * periods + k];
                state.flow[provider.owner * periods + k] += profit;
                state.parties[provider.owner].cloud_profit += profit;
            }
        }
    }

    pub(crate) fn emit<S: Sink>(&self, out: &Outcome, scope: Scope, sink: &mut S) {
        sink.metric(scope, format_args!("route.{}.moved", self.name), out.moved);
    }
}
