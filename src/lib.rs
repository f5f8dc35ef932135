//! dealsim: Monte Carlo simulation of the financial terms of cloud and AI deals.
//!
//! The pure core (scenario model and validation, stochastic drivers, deal terms, the runner
//! and aggregation, charts and the HTML report as bytes) lives apart from I/O (loading files,
//! reading historical actuals, writing outputs, the CLI).

pub mod charts;
pub mod correlation;
pub mod distribution;
pub mod engine;
pub mod html_report;
pub mod metrics;
pub mod report;
pub mod scenario;
pub mod sensitivity;
pub mod solve;
pub mod stats;
pub mod terms;
pub mod world;

pub mod cli;
pub mod history;
pub mod output;
pub mod path_table;
pub mod shard_file;
