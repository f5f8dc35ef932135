//! Stochastic drivers: distributions of uncertain inputs, their correlations, and one sampled
//! path of the world.

pub mod correlation;
pub mod distribution;
pub mod world;
