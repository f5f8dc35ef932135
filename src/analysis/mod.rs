//! Analyses built on repeated runs: the tornado sensitivity and breakeven solving.

pub mod sensitivity;
pub mod solve;
