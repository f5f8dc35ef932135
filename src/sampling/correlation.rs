//! Rank correlation between uncertain inputs, imposed by the Iman–Conover method.
//!
//! Within each block of paths the draws of each correlated input are reordered across paths so
//! that their ranks follow normal scores with the requested correlation. Reordering never
//! changes a value, so every input's marginal distribution is exactly what the scenario says.

use rand::Rng;
use rand::seq::SliceRandom;
use statrs::distribution::{ContinuousCDF, Normal};

use crate::scenario::{InputId, Scenario};

/// The correlated inputs of a scenario and the target correlation of their normal scores.
#[derive(Clone, Debug)]
pub struct RankCorrelation {
    /// Input ids, in the order of the matrix rows.
    inputs: Vec<InputId>,
    /// Lower Cholesky factor of the target correlation of normal scores.
    target: Matrix,
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

    /// Inverse of a lower-triangular matrix with a non-zero diagonal.
    fn lower_inverse(&self) -> Matrix {
        let n = self.size;
        let mut inverse = Matrix { size: n, values: vec![0.0; n * n] };
        for column in 0..n {
            for row in column..n {
                let identity = if row == column { 1.0 } else { 0.0 };
                let sum: f64 = (column..row).map(|k| self.at(row, k) * inverse.at(k, column)).sum();
                inverse.set(row, column, (identity - sum) / self.at(row, row));
            }
        }
        inverse
    }

    fn product(&self, other: &Matrix) -> Matrix {
        let n = self.size;
        let mut product = Matrix { size: n, values: vec![0.0; n * n] };
        for i in 0..n {
            for j in 0..n {
                product.set(i, j, (0..n).map(|k| self.at(i, k) * other.at(k, j)).sum());
            }
        }
        product
    }
}

impl RankCorrelation {
    /// The scenario's correlations, or None when it has none.
    pub fn of(scenario: &Scenario) -> Option<RankCorrelation> {
        if scenario.correlations.is_empty() {
            return None;
        }
        let mut inputs: Vec<InputId> = scenario.correlations.iter().flat_map(|c| c.between).collect();
        inputs.sort_unstable();
        inputs.dedup();
        let mut matrix = Matrix::identity(inputs.len());
        for correlation in &scenario.correlations {
            let [a, b] = correlation.between.map(|id| inputs.binary_search(&id).expect("input is listed"));
            // Spearman's rank correlation of a bivariate normal is (6/π)·asin(ρ/2): invert it
            // so the scores' ranks, and hence the inputs', have the requested rank correlation.
            let pearson = 2.0 * (std::f64::consts::PI * correlation.rank / 6.0).sin();
            matrix.set(a, b, pearson);
            matrix.set(b, a, pearson);
        }
        Some(RankCorrelation { inputs, target: matrix.cholesky() })
    }

    /// Reorders the correlated inputs' draws across the `paths` rows of `draws` (row-major,
    /// `inputs` values per row). `rng` permutes the scores and must be the block's own stream.
    pub fn impose<R: Rng + ?Sized>(&self, draws: &mut [f64], input_count: usize, paths: usize, rng: &mut R) {
        let k = self.inputs.len();
        if paths <= k {
            // Too few paths to correlate: the sample score correlation would be singular.
            return;
        }
        let normal = Normal::standard();
        let scores: Vec<f64> = (1..=paths).map(|i| normal.inverse_cdf(i as f64 / (paths + 1) as f64)).collect();
        // Columns of independently permuted scores.
        let mut columns: Vec<Vec<f64>> = (0..k)
            .map(|_| {
                let mut column = scores.clone();
                column.shuffle(rng);
                column
            })
            .collect();
        // Their sample correlation E = F·Fᵀ; mapping the scores by (P·F⁻¹) gives sample
        // correlation exactly P·Pᵀ, the target.
        let norm: f64 = scores.iter().map(|s| s * s).sum();
        let mut sample = Matrix::identity(k);
        for i in 0..k {
            for j in 0..i {
                let dot: f64 = columns[i].iter().zip(&columns[j]).map(|(a, b)| a * b).sum();
                sample.set(i, j, dot / norm);
                sample.set(j, i, dot / norm);
            }
        }
        let mixing = self.target.product(&sample.cholesky().lower_inverse());
        let mixed: Vec<Vec<f64>> = (0..k)
            .map(|i| (0..paths).map(|p| (0..k).map(|j| mixing.at(i, j) * columns[j][p]).sum()).collect())
            .collect();
        columns.clear();
        // Give the r-th smallest draw of each input to the path with the r-th smallest score.
        let mut order: Vec<usize> = (0..paths).collect();
        let mut values = vec![0.0; paths];
        for (i, &input) in self.inputs.iter().enumerate() {
            for (p, value) in values.iter_mut().enumerate() {
                *value = draws[p * input_count + input];
            }
            values.sort_by(f64::total_cmp);
            order.sort_by(|&a, &b| mixed[i][a].total_cmp(&mixed[i][b]));
            for (rank, &p) in order.iter().enumerate() {
                draws[p * input_count + input] = values[rank];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_and_inverse_reproduce_the_matrix() {
        let mut matrix = Matrix::identity(3);
        for (i, j, v) in [(0, 1, 0.5), (0, 2, -0.3), (1, 2, 0.2)] {
            matrix.set(i, j, v);
            matrix.set(j, i, v);
        }
        let lower = matrix.cholesky();
        let mut transposed = Matrix::identity(3);
        for i in 0..3 {
            for j in 0..3 {
                transposed.set(i, j, lower.at(j, i));
            }
        }
        let rebuilt = lower.product(&transposed);
        let identity = lower.product(&lower.lower_inverse());
        for i in 0..3 {
            for j in 0..3 {
                assert!((rebuilt.at(i, j) - matrix.at(i, j)).abs() < 1e-12);
                assert!((identity.at(i, j) - if i == j { 1.0 } else { 0.0 }).abs() < 1e-12);
            }
        }
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
