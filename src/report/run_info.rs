//! The record of a run that `run.json` holds: what ran, on which inputs, and why it stopped.

use std::path::Path;

use serde::Serialize;

use crate::engine::{Aggregates, Stop};
use crate::scenario::Scenario;

/// What `run.json` records about a run.
#[derive(Debug, Serialize)]
pub struct RunInfo<'a> {
    pub version: &'static str,
    pub scenario: &'a str,
    pub scenario_file: String,
    /// SHA-256 of the scenario file's bytes followed by each `--set` override.
    pub scenario_hash: String,
    pub overrides: Vec<String>,
    pub seed: u64,
    pub paths: u64,
    pub threads: usize,
    pub periods: usize,
    pub elapsed_seconds: f64,
    pub paths_per_second: f64,
    pub deals: Vec<&'a str>,
    pub uncertain_inputs: Vec<InputInfo>,
    pub correlations: Vec<CorrelationInfo>,
    /// Why the run stopped: the path count, or a --target-se met or not met within the cap.
    pub stop: StopInfo,
    /// How many shards were merged into this run (`dealsim merge`); the time is their sum.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shards: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct StopInfo {
    pub reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_relative_se: Option<f64>,
    /// The least precise metric when the cap was reached first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worst_metric: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worst_relative_se: Option<f64>,
}

impl StopInfo {
    fn of(aggregates: &Aggregates) -> StopInfo {
        match aggregates.stop {
            Stop::PathCount => {
                StopInfo { reason: "paths", target_relative_se: None, worst_metric: None, worst_relative_se: None }
            }
            Stop::Converged { relative_se } => StopInfo {
                reason: "converged",
                target_relative_se: Some(relative_se),
                worst_metric: None,
                worst_relative_se: None,
            },
            Stop::PathCap { relative_se, worst_metric, worst_relative_se } => StopInfo {
                reason: "max_paths",
                target_relative_se: Some(relative_se),
                worst_metric: Some(aggregates.layout.metrics[worst_metric].name.clone()),
                worst_relative_se: Some(worst_relative_se),
            },
        }
    }
}

#[derive(Debug, Serialize)]
pub struct CorrelationInfo {
    pub between: [String; 2],
    pub rank: f64,
}

#[derive(Debug, Serialize)]
pub struct InputInfo {
    pub key: String,
    pub distribution: String,
}

impl<'a> RunInfo<'a> {
    pub fn new(
        scenario: &'a Scenario,
        file: &Path,
        scenario_hash: String,
        overrides: Vec<String>,
        aggregates: &Aggregates,
    ) -> RunInfo<'a> {
        let seconds = aggregates.elapsed.as_secs_f64();
        RunInfo {
            version: env!("CARGO_PKG_VERSION"),
            scenario: &scenario.name,
            scenario_file: file.display().to_string(),
            scenario_hash,
            overrides,
            seed: aggregates.seed,
            paths: aggregates.paths,
            threads: aggregates.threads,
            periods: aggregates.layout.periods,
            elapsed_seconds: seconds,
            paths_per_second: if seconds > 0.0 { aggregates.paths as f64 / seconds } else { 0.0 },
            deals: scenario.deals.iter().map(|d| d.name.as_str()).collect(),
            uncertain_inputs: scenario
                .inputs
                .iter()
                .map(|input| InputInfo { key: input.key.clone(), distribution: input.distribution.describe() })
                .collect(),
            correlations: scenario
                .correlations
                .iter()
                .map(|c| CorrelationInfo { between: c.keys.clone(), rank: c.rank })
                .collect(),
            stop: StopInfo::of(aggregates),
            shards: None,
        }
    }
}
