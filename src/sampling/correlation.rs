//! Rank correlation between uncertain inputs, imposed path by path by a Gaussian copula.
//!
//! Each latent uniform of a correlation group (the latents that correlations link) becomes a
//! normal score; the group's scores are mixed by the Cholesky factor of their target
//! correlation and mapped back to uniforms. A path's draws depend on that path alone, a group's
//! draws on that group alone: adding, pinning or removing an input outside a group moves none of
//! its draws, and every input keeps exactly its own distribution.

use std::f64::consts::PI;

use crate::sampling::distribution::{standard_normal_lower_tail, standard_normal_quantile};
use crate::scenario::{LatentId, Scenario};

/// The correlation of normal scores whose ranks have Spearman correlation `rank`: Spearman's
/// rank correlation of a bivariate normal with correlation ρ is (6/π)·asin(ρ/2).
pub fn normal_score_correlation(rank: f64) -> f64 {
    2.0 * (PI * rank / 6.0).sin()
}

/// The scenario's correlation groups.
#[derive(Clone, Debug)]
pub struct Copula {
    groups: Vec<Group>,
}

/// Latents linked by correlations, ordered by identity name (never by position in the file),
/// with the lower Cholesky factor of their normal scores' correlation.
#[derive(Clone, Debug)]
struct Group {
    latents: Vec<LatentId>,
    factor: Matrix,
}

/// A small dense row-major square matrix.
#[derive(Clone, Debug, PartialEq)]
struct Matrix {
    size: usize,
    values: Vec<f64>,
}

impl Matrix {
    fn identity(size: usize) -> Matrix {
        let mut values = vec![0.0; size * size];
        for i in 0..size {
            values[i * size + i] = 1.0;
        }
        Matrix { size, values }
    }

    fn at(&self, row: usize, column: usize) -> f64 {
        self.values[row * self.size + column]
    }

    fn set(&mut self, row: usize, column: usize, value: f64) {
        self.values[row * self.size + column] = value;
    }

    /// Lower Cholesky factor of a positive semi-definite matrix; pivots that round below zero
    /// (a rank-deficient matrix such as a correlation of exactly 1) are taken as zero.
    fn cholesky(&self) -> Matrix {
        let n = self.size;
        let mut lower = Matrix { size: n, values: vec![0.0; n * n] };
        for j in 0..n {
            let pivot = self.at(j, j) - (0..j).map(|k| lower.at(j, k).powi(2)).sum::<f64>();
            let root = pivot.max(0.0).sqrt();
            lower.set(j, j, root);
            for i in j + 1..n {
                let dot: f64 = (0..j).map(|k| lower.at(i, k) * lower.at(j, k)).sum();
                lower.set(i, j, if root > 1e-12 { (self.at(i, j) - dot) / root } else { 0.0 });
            }
        }
        lower
    }
}

impl Copula {
    /// The scenario's correlation groups, or None when it has no correlations.
    pub fn of(scenario: &Scenario) -> Option<Copula> {
        if scenario.correlations.is_empty() {
            return None;
        }
        // Connected components of the graph whose edges are the correlations.
        let mut component: Vec<usize> = (0..scenario.latents.len()).collect();
        fn root(component: &mut [usize], mut latent: usize) -> usize {
            while component[latent] != latent {
                component[latent] = component[component[latent]];
                latent = component[latent];
            }
            latent
        }
        for correlation in &scenario.correlations {
            let [a, b] = correlation.between.map(|latent| root(&mut component, latent));
            component[a.max(b)] = a.min(b);
        }
        let mut members: Vec<Vec<LatentId>> = vec![Vec::new(); scenario.latents.len()];
        for correlation in &scenario.correlations {
            for latent in correlation.between {
                let group = root(&mut component, latent);
                if !members[group].contains(&latent) {
                    members[group].push(latent);
                }
            }
        }
        let mut groups: Vec<Group> = members
            .into_iter()
            .filter(|latents| !latents.is_empty())
            .map(|mut latents| {
                latents.sort_by(|&a, &b| scenario.latents[a].name.cmp(&scenario.latents[b].name));
                let mut matrix = Matrix::identity(latents.len());
                for correlation in &scenario.correlations {
                    let [a, b] = correlation.between;
                    if let (Some(a), Some(b)) =
                        (latents.iter().position(|&l| l == a), latents.iter().position(|&l| l == b))
                    {
                        let pearson = normal_score_correlation(correlation.rank);
                        matrix.set(a, b, pearson);
                        matrix.set(b, a, pearson);
                    }
                }
                Group { latents, factor: matrix.cholesky() }
            })
            .collect();
        groups.sort_by_key(|group| group.latents[0]);
        Some(Copula { groups })
    }

    /// Correlates one path's latent uniforms in place; `scores` is scratch space.
    #[inline]
    pub fn correlate(&self, uniforms: &mut [f64], scores: &mut Vec<f64>) {
        for group in &self.groups {
            scores.clear();
            scores.extend(group.latents.iter().map(|&latent| standard_normal_quantile(uniforms[latent])));
            // The first row of the factor is (1, 0, ...): that latent keeps its uniform as drawn.
            for (row, &latent) in group.latents.iter().enumerate().skip(1) {
                let mixed: f64 = (0..=row).map(|column| group.factor.at(row, column) * scores[column]).sum();
                // Open (0, 1), as every uniform fed to a quantile function must be.
                uniforms[latent] = standard_normal_lower_tail(mixed).clamp(f64::MIN_POSITIVE, 1.0 - f64::EPSILON / 2.0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cholesky_factor_reproduces_the_matrix() {
        let mut matrix = Matrix::identity(3);
        for (i, j, v) in [(0, 1, 0.5), (0, 2, -0.3), (1, 2, 0.2)] {
            matrix.set(i, j, v);
            matrix.set(j, i, v);
        }
        let lower = matrix.cholesky();
        for i in 0..3 {
            for j in 0..3 {
                let product: f64 = (0..3).map(|k| lower.at(i, k) * lower.at(j, k)).sum();
                assert!((product - matrix.at(i, j)).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn rank_one_and_rank_zero_map_to_normal_score_correlations_one_and_zero() {
        assert!((normal_score_correlation(1.0) - 1.0).abs() < 1e-15);
        assert_eq!(normal_score_correlation(0.0), 0.0);
        assert!((normal_score_correlation(-0.5) + normal_score_correlation(0.5)).abs() < 1e-15);
    }

    #[test]
    fn a_perfect_correlation_has_a_rank_deficient_factor() {
        let mut matrix = Matrix::identity(2);
        matrix.set(0, 1, 1.0);
        matrix.set(1, 0, 1.0);
        let lower = matrix.cholesky();
        assert_eq!((lower.at(1, 0), lower.at(1, 1)), (1.0, 0.0));
    }
}
