//! Stochastic drivers: random numbers keyed by identity, distributions of uncertain inputs,
//! their correlations, and one sampled path of the world.

pub mod beta_quantile;
pub mod correlation;
pub mod distribution;
pub mod random;
pub mod world;
