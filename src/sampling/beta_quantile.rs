//! The beta distribution's quantile function, tabulated once per distribution, so that drawing
//! by inversion costs a power and a cubic interpolation rather than an iterative inverse of the
//! incomplete beta function (about a microsecond a call, and statrs' `inv_beta_reg` panics for
//! shapes beyond about 10).
//!
//! Each half of the distribution is tabulated in a variable that makes the quantile smooth up to
//! the end of the support: for u = P(X < x) <= 1/2, x is an analytic function of v = u^(1/α)
//! (near 0, u ≈ x^α / (α·B(α, β))), and the upper half is the lower half of 1 − X ~ Beta(β, α).
//! Values and exact slopes at evenly spaced knots in v feed a cubic Hermite interpolation; the
//! knots are doubled until the interpolation at every midpoint is within [`TOLERANCE`] of the
//! exact quantile.

use statrs::function::beta::{beta_reg, ln_beta};

/// Largest interpolation error accepted, on the unit scale of Beta(α, β): on a PERT from $30B to
/// $50B that is two dollars.
pub const TOLERANCE: f64 = 1e-10;
const FIRST_INTERVALS: usize = 16;
/// The refinement stops here whatever the error; the shape bounds that validation imposes keep
/// every accepted distribution well inside it (see the tests).
const MAX_INTERVALS: usize = 1 << 14;

/// The quantile function of Beta(α, β) on [0, 1].
#[derive(Clone, Debug, PartialEq)]
pub struct BetaQuantile {
    lower: HalfTable,
    /// The lower half of Beta(β, α): x = 1 − that quantile at the upper tail.
    upper: HalfTable,
}

impl BetaQuantile {
    /// Tabulates Beta(`alpha`, `beta`); both must be positive and finite.
    pub fn new(alpha: f64, beta: f64) -> BetaQuantile {
        let lower = HalfTable::new(alpha, beta);
        let mut upper = HalfTable::new(beta, alpha);
        // Both halves end at the median; one value for it keeps the whole function monotone.
        let median = lower.knots[lower.knots.len() - 1].value;
        let last = upper.knots.len() - 1;
        upper.knots[last].value = 1.0 - median;
        BetaQuantile { lower, upper }
    }

    /// The x with P(X < x) = `u`, for u in [0, 1/2].
    #[inline]
    pub fn lower_half(&self, u: f64) -> f64 {
        self.lower.at(u)
    }

    /// 1 − x for the x with P(X > x) = `u`, for u in [0, 1/2]: the distance from the top of the
    /// support, kept at full precision however close to it x is.
    #[inline]
    pub fn upper_half(&self, u: f64) -> f64 {
        self.upper.at(u)
    }

    /// The largest interpolation error found at the midpoints of the final tables.
    pub fn max_error(&self) -> f64 {
        self.lower.max_error.max(self.upper.max_error)
    }
}

/// The quantile of Beta(a, b) for u in [0, 1/2], as a function of v = u^(1/a).
#[derive(Clone, Debug, PartialEq)]
struct HalfTable {
    inverse_a: f64,
    /// Knot spacing in v.
    step: f64,
    /// Each knot's value beside its slope: an interpolation reads two neighbouring knots, one
    /// cache line (two at most), where separate arrays of values and slopes cost two or more.
    knots: Vec<TableKnot>,
    max_error: f64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct TableKnot {
    value: f64,
    /// dx/dv at the knot, times the knot spacing (what the Hermite basis multiplies).
    scaled_slope: f64,
}

/// The exact quantile and its slope dx/dv at v.
struct Knot {
    value: f64,
    slope: f64,
}

fn exact_knot(a: f64, b: f64, ln_beta_ab: f64, v: f64) -> Knot {
    if v == 0.0 {
        // x ≈ (a·B(a, b))^(1/a)·v near 0.
        return Knot { value: 0.0, slope: ((a.ln() + ln_beta_ab) / a).exp() };
    }
    let x = inverse_regularized_beta(a, b, ln_beta_ab, v.powf(a).min(0.5));
    // dx/dv = a·v^(a−1) / f(x), with the density f(x) = x^(a−1)·(1−x)^(b−1) / B(a, b).
    let ln_slope = a.ln() + (a - 1.0) * (v.ln() - x.ln()) - (b - 1.0) * (-x).ln_1p() + ln_beta_ab;
    Knot { value: x, slope: ln_slope.exp() }
}

/// The x with I_x(a, b) = `u`, for u in (0, 1/2]: Newton's method on the regularized incomplete
/// beta function, kept inside a shrinking bracket by bisection, from the small-x asymptote
/// x ≈ (u·a·B(a, b))^(1/a). statrs' own inverse panics or stalls for shapes beyond about 10.
fn inverse_regularized_beta(a: f64, b: f64, ln_beta_ab: f64, u: f64) -> f64 {
    let (mut low, mut high) = (0.0, 1.0);
    let mut x = ((u.ln() + a.ln() + ln_beta_ab) / a).exp().clamp(f64::MIN_POSITIVE, 0.5);
    for _ in 0..200 {
        let excess = beta_reg(a, b, x) - u;
        if excess == 0.0 {
            return x;
        }
        if excess < 0.0 {
            low = x;
        } else {
            high = x;
        }
        let ln_density = (a - 1.0) * x.ln() + (b - 1.0) * (-x).ln_1p() - ln_beta_ab;
        let newton = x - excess / ln_density.exp();
        let next = if newton > low && newton < high { newton } else { 0.5 * (low + high) };
        if (next - x).abs() <= 4.0 * f64::EPSILON * x {
            return next;
        }
        x = next;
    }
    x
}

impl HalfTable {
    fn new(a: f64, b: f64) -> HalfTable {
        let ln_beta_ab = ln_beta(a, b);
        let end = 0.5f64.powf(1.0 / a);
        let mut intervals = FIRST_INTERVALS;
        let knot = |v: f64| exact_knot(a, b, ln_beta_ab, v);
        let mut knots: Vec<Knot> = (0..=intervals).map(|i| knot(end * i as f64 / intervals as f64)).collect();
        loop {
            let step = end / intervals as f64;
            let table = HalfTable::from_knots(a, step, &knots);
            let midpoints: Vec<Knot> = (0..intervals).map(|i| knot(step * (i as f64 + 0.5))).collect();
            let error = midpoints
                .iter()
                .enumerate()
                .map(|(i, exact)| (table.interpolate(i, 0.5) - exact.value).abs())
                .fold(0.0, f64::max);
            if error <= TOLERANCE || intervals >= MAX_INTERVALS {
                return HalfTable { max_error: error, ..table };
            }
            // The midpoints are the next level's odd knots.
            let mut refined = Vec::with_capacity(2 * intervals + 1);
            for (knot, midpoint) in knots.drain(..intervals).zip(midpoints) {
                refined.push(knot);
                refined.push(midpoint);
            }
            refined.append(&mut knots);
            knots = refined;
            intervals *= 2;
        }
    }

    fn from_knots(a: f64, step: f64, knots: &[Knot]) -> HalfTable {
        HalfTable {
            inverse_a: 1.0 / a,
            step,
            knots: knots.iter().map(|k| TableKnot { value: k.value, scaled_slope: k.slope * step }).collect(),
            max_error: 0.0,
        }
    }

    /// Cubic Hermite interpolation at fraction `t` of interval `i`.
    #[inline]
    fn interpolate(&self, i: usize, t: f64) -> f64 {
        let (start, end) = (self.knots[i], self.knots[i + 1]);
        let (x0, x1, m0, m1) = (start.value, end.value, start.scaled_slope, end.scaled_slope);
        let t2 = t * t;
        let t3 = t2 * t;
        (2.0 * t3 - 3.0 * t2 + 1.0) * x0 + (t3 - 2.0 * t2 + t) * m0 + (3.0 * t2 - 2.0 * t3) * x1 + (t3 - t2) * m1
    }

    /// The quantile at u in [0, 1/2].
    #[inline]
    fn at(&self, u: f64) -> f64 {
        let v = if self.inverse_a == 1.0 { u } else { u.powf(self.inverse_a) };
        let position = v / self.step;
        let last = self.knots.len() - 2;
        let i = (position as usize).min(last);
        let t = (position - i as f64).clamp(0.0, 1.0);
        // Exact slopes keep the interpolant monotone to within the tolerance; the clamp keeps a
        // draw inside the half it belongs to.
        self.interpolate(i, t).clamp(self.knots[0].value, self.knots[last + 1].value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use statrs::function::beta::inv_beta_reg;

    /// Exact quantile from statrs, from whichever tail is smaller.
    fn exact(alpha: f64, beta: f64, u: f64) -> f64 {
        if u <= 0.5 { inv_beta_reg(alpha, beta, u) } else { 1.0 - inv_beta_reg(beta, alpha, 1.0 - u) }
    }

    fn probabilities() -> Vec<f64> {
        let mut u: Vec<f64> = (1..1000).map(|i| i as f64 / 1000.0).collect();
        for exponent in [2, 3, 4, 6, 8, 10, 12] {
            let tail = 10f64.powi(-exponent);
            u.extend([tail, 3.7 * tail, 1.0 - tail, 1.0 - 3.7 * tail]);
        }
        u
    }

    #[test]
    fn pert_shapes_match_the_exact_quantile_everywhere() {
        // PERT has alpha, beta in [1, 5].
        for (alpha, beta) in [(1.0, 5.0), (5.0, 1.0), (3.0, 3.0), (1.4, 4.6), (4.2, 1.8), (1.0, 1.0), (2.6, 3.4)] {
            let table = BetaQuantile::new(alpha, beta);
            assert!(table.max_error() <= TOLERANCE, "({alpha}, {beta}): {}", table.max_error());
            for u in probabilities() {
                let got = if u <= 0.5 { table.lower_half(u) } else { 1.0 - table.upper_half(1.0 - u) };
                let want = exact(alpha, beta, u);
                assert!((got - want).abs() <= 2.0 * TOLERANCE, "Beta({alpha}, {beta}) at {u}: {got} vs {want}");
            }
        }
    }

    #[test]
    fn draws_invert_the_distribution_function() {
        let table = BetaQuantile::new(2.5, 3.5);
        for u in probabilities().into_iter().filter(|u| (1e-6..=1.0 - 1e-6).contains(u)) {
            let x = if u <= 0.5 { table.lower_half(u) } else { 1.0 - table.upper_half(1.0 - u) };
            assert!((beta_reg(2.5, 3.5, x) - u).abs() < 1e-9, "{u}");
        }
    }

    #[test]
    fn the_quantile_is_monotone() {
        let table = BetaQuantile::new(4.0, 1.5);
        let mut previous = 0.0;
        for i in 1..200_000 {
            let u = i as f64 / 200_000.0;
            let x = if u <= 0.5 { table.lower_half(u) } else { 1.0 - table.upper_half(1.0 - u) };
            assert!(x >= previous, "{u}: {x} < {previous}");
            previous = x;
        }
    }
}
