//! dealsim: Monte Carlo simulation of the financial terms of cloud and AI deals.
//!
//! The pure core (scenario model and validation, stochastic drivers, deal terms, the runner
//! and aggregation) lives apart from I/O (loading files, writing CSV and JSON, the CLI).

pub mod distribution;
pub mod engine;
pub mod metrics;
pub mod report;
pub mod scenario;
pub mod stats;
pub mod terms;
pub mod world;

pub mod cli;
pub mod output;
