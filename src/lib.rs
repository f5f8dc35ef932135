//! dealsim: Monte Carlo simulation of the financial terms of cloud and AI deals.
//!
//! The pure core (scenario model and validation, stochastic drivers, deal terms, the runner
//! and aggregation, analyses, and reports as bytes; `format` writes every number they show)
//! lives apart from I/O (loading files, reading historical actuals, writing outputs) and from
//! the command line.

pub mod analysis;
pub mod engine;
pub mod format;
pub mod report;
pub mod sampling;
pub mod scenario;
pub mod terms;

pub mod cli;
pub mod io;
