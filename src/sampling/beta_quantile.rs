//! The beta distribution's quantile function, tabulated once per distribution, so that drawing
//! by inversion costs a power and a quintic interpolation rather than an iterative inverse of the
//! incomplete beta function (about a microsecond a call, and statrs' `inv_beta_reg` panics for
//! shapes beyond about 10).
//!
//! Each half of the distribution is tabulated in a variable that makes the quantile smooth up to
//! the end of the support: for u = P(X < x) <= 1/2, x is an analytic function of v = u^(1/α)
//! (near 0, u ≈ x^α / (α·B(α, β))), and the upper half is the lower half of 1 − X ~ Beta(β, α).
//! Values and exact first and second derivatives at evenly spaced knots in v feed a quintic
//! Hermite interpolation; the knots are doubled until the interpolation at every midpoint is within
//! [`TOLERANCE`] of the exact quantile. A quintic needs a few dozen knots where a cubic needs
//! hundreds, so a distribution's tables stay a few kilobytes and stay in cache while a block of
//! paths draws from them. From u = 1/8 to the median the quantile is smooth in u itself, and a
//! second grid there, refined the same way, spares most draws the power.

use statrs::function::beta::{beta_reg, ln_beta};

/// Largest interpolation error accepted, on the unit scale of Beta(α, β): on a PERT from $30B to
/// $50B that is two dollars.
pub const TOLERANCE: f64 = 1e-10;
const FIRST_INTERVALS: usize = 16;
/// The refinement stops here whatever the error; the shape bounds that validation imposes keep
/// every accepted distribution well inside it (see the tests).
const MAX_INTERVALS: usize = 1 << 14;
/// Where the grid in u starts. Below it the quantile bends too sharply for a grid in u (as
/// u^(1/a) near zero), and the grid in v takes over.
const DIRECT_FROM: f64 = 1.0 / 8.0;

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
        let mut lower = HalfTable::new(alpha, beta);
        let mut upper = HalfTable::new(beta, alpha);
        // Both halves end at the median; one value for it keeps the whole function monotone.
        let median = lower.median_knot().value;
        upper.median_knot().value = 1.0 - median;
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

/// The quantile of Beta(a, b) for u in [0, 1/2]: near zero as a function of v = u^(1/a), from
/// [`DIRECT_FROM`] on as a function of u itself, which saves the power on most draws.
#[derive(Clone, Debug, PartialEq)]
struct HalfTable {
    inverse_a: f64,
    /// The quantile against v over [0, 2^(-1/a)]; every u when there is no `direct` grid.
    in_v: HermiteGrid,
    /// The quantile against u over [`DIRECT_FROM`, 1/2], where it is smooth enough in u; none
    /// when a = 1 (v is u).
    direct: Option<HermiteGrid>,
    max_error: f64,
}

/// A quintic Hermite interpolant on evenly spaced knots from `origin`.
#[derive(Clone, Debug, PartialEq)]
struct HermiteGrid {
    origin: f64,
    /// The inverse of the knot spacing: a knot is found by multiplying.
    inverse_step: f64,
    /// Each knot's value beside its derivatives: an interpolation reads two neighbouring knots, one
    /// cache line (two at most), where separate arrays would cost three or more.
    knots: Vec<TableKnot>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct TableKnot {
    value: f64,
    /// The slope at the knot, times the knot spacing (what the Hermite basis multiplies).
    scaled_slope: f64,
    /// The second derivative at the knot, times the spacing squared.
    scaled_curvature: f64,
}

/// The exact quantile and its first and second derivatives at a knot.
struct Knot {
    value: f64,
    slope: f64,
    curvature: f64,
}

/// The density's logarithmic derivative f'(x) / f(x) for Beta(a, b): what turns a quantile's
/// slope into its second derivative.
fn log_density_slope(a: f64, b: f64, x: f64) -> f64 {
    (a - 1.0) / x - (b - 1.0) / (1.0 - x)
}

fn exact_knot(a: f64, b: f64, ln_beta_ab: f64, v: f64) -> Knot {
    if v == 0.0 {
        // From I_x(a, b) = x^a / (a·B(a, b)) · (1 + a(1 − b)/(a + 1)·x + O(x²)):
        // x = c·v + (b − 1)/(a + 1)·c²·v² + O(v³), with c = (a·B(a, b))^(1/a).
        let c = ((a.ln() + ln_beta_ab) / a).exp();
        return Knot { value: 0.0, slope: c, curvature: 2.0 * (b - 1.0) / (a + 1.0) * c * c };
    }
    let u = v.powf(a).min(0.5);
    // The small-x asymptote x ≈ (u·a·B(a, b))^(1/a) starts Newton's method.
    let start = ((u.ln() + a.ln() + ln_beta_ab) / a).exp();
    let x = inverse_regularized_beta(a, b, ln_beta_ab, u, start);
    // dx/dv = a·v^(a−1) / f(x), with the density f(x) = x^(a−1)·(1−x)^(b−1) / B(a, b).
    let ln_slope = a.ln() + (a - 1.0) * (v.ln() - x.ln()) - (b - 1.0) * (-x).ln_1p() + ln_beta_ab;
    let slope = ln_slope.exp();
    // Differentiating the slope again: d²x/dv² = dx/dv·((a − 1)/v − dx/dv·f'(x)/f(x)).
    Knot { value: x, slope, curvature: slope * ((a - 1.0) / v - slope * log_density_slope(a, b, x)) }
}

/// The exact quantile at u, its slope dx/du = 1 / f(x) and its second derivative
/// −f'(x) / f(x)³, Newton's method starting from `start`.
fn exact_knot_in_u(a: f64, b: f64, ln_beta_ab: f64, u: f64, start: f64) -> Knot {
    let x = inverse_regularized_beta(a, b, ln_beta_ab, u, start);
    let slope = (ln_beta_ab - (a - 1.0) * x.ln() - (b - 1.0) * (-x).ln_1p()).exp();
    Knot { value: x, slope, curvature: -log_density_slope(a, b, x) * slope * slope }
}

/// The x with I_x(a, b) = `u`, for u in (0, 1/2]: Newton's method on the regularized incomplete
/// beta function from `start`, kept inside a shrinking bracket by bisection. statrs' own inverse
/// panics or stalls for shapes beyond about 10.
fn inverse_regularized_beta(a: f64, b: f64, ln_beta_ab: f64, u: f64, start: f64) -> f64 {
    let (mut low, mut high) = (0.0, 1.0);
    let mut x = start.clamp(f64::MIN_POSITIVE, 0.5);
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
        let (in_v, v_error) = HermiteGrid::refined(0.0, end, None, |v| exact_knot(a, b, ln_beta_ab, v));
        let direct = (a != 1.0).then(|| {
            // Starts from the v grid's own value at the seam, so the two agree there and the
            // quantile stays monotone across it.
            let seam = in_v.at(DIRECT_FROM.powf(1.0 / a));
            // The v grid is already within the tolerance everywhere, so Newton's method from its
            // value needs a step or two where the asymptote would need many.
            HermiteGrid::refined(DIRECT_FROM, 0.5, Some(seam), |u| {
                exact_knot_in_u(a, b, ln_beta_ab, u, in_v.at(u.powf(1.0 / a)))
            })
        });
        let max_error = direct.as_ref().map_or(v_error, |(_, u_error)| v_error.max(*u_error));
        HalfTable { inverse_a: 1.0 / a, in_v, direct: direct.map(|(grid, _)| grid), max_error }
    }

    /// The knot at u = 1/2, the end of the grid that serves it.
    fn median_knot(&mut self) -> &mut TableKnot {
        let grid = self.direct.as_mut().unwrap_or(&mut self.in_v);
        grid.knots.last_mut().expect("a grid has knots")
    }

    /// The quantile at u in [0, 1/2].
    #[inline]
    fn at(&self, u: f64) -> f64 {
        match &self.direct {
            Some(direct) if u >= direct.origin => direct.at(u),
            _ => self.in_v.at(if self.inverse_a == 1.0 { u } else { u.powf(self.inverse_a) }),
        }
    }
}

impl HermiteGrid {
    /// The grid over [`origin`, `end`] from `knot`'s exact values and slopes, its intervals
    /// doubled from [`FIRST_INTERVALS`] until the interpolation at every midpoint is within
    /// [`TOLERANCE`] of the exact value or [`MAX_INTERVALS`] is reached; with the largest error
    /// found at the last midpoints. `first_value`, when given, replaces the first knot's value.
    fn refined(origin: f64, end: f64, first_value: Option<f64>, knot: impl Fn(f64) -> Knot) -> (HermiteGrid, f64) {
        let mut intervals = FIRST_INTERVALS;
        let at = |i: usize, intervals: usize| origin + (end - origin) * i as f64 / intervals as f64;
        let mut knots: Vec<Knot> = (0..=intervals).map(|i| knot(at(i, intervals))).collect();
        if let Some(value) = first_value {
            knots[0].value = value;
        }
        loop {
            let grid = HermiteGrid::from_knots(origin, (end - origin) / intervals as f64, &knots);
            let midpoints: Vec<Knot> = (0..intervals).map(|i| knot(at(2 * i + 1, 2 * intervals))).collect();
            let error = midpoints
                .iter()
                .enumerate()
                .map(|(i, exact)| (grid.interpolate(i, 0.5) - exact.value).abs())
                .fold(0.0, f64::max);
            if error <= TOLERANCE || intervals >= MAX_INTERVALS {
                return (grid, error);
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

    fn from_knots(origin: f64, step: f64, knots: &[Knot]) -> HermiteGrid {
        let knot = |k: &Knot| TableKnot {
            value: k.value,
            scaled_slope: k.slope * step,
            scaled_curvature: k.curvature * step * step,
        };
        HermiteGrid { origin, inverse_step: 1.0 / step, knots: knots.iter().map(knot).collect() }
    }

    /// Quintic Hermite interpolation at fraction `t` of interval `i`: the polynomial of degree five
    /// that matches both knots' values, slopes and second derivatives, in Horner form.
    #[inline]
    fn interpolate(&self, i: usize, t: f64) -> f64 {
        let (start, end) = (self.knots[i], self.knots[i + 1]);
        let (x0, m0, c0) = (start.value, start.scaled_slope, start.scaled_curvature);
        let (m1, c1) = (end.scaled_slope, end.scaled_curvature);
        let rise = end.value - x0;
        let cubic = 10.0 * rise - 6.0 * m0 - 4.0 * m1 - 1.5 * c0 + 0.5 * c1;
        let quartic = -15.0 * rise + 8.0 * m0 + 7.0 * m1 + 1.5 * c0 - c1;
        let quintic = 6.0 * rise - 3.0 * (m0 + m1) - 0.5 * (c0 - c1);
        x0 + t * (m0 + t * (0.5 * c0 + t * (cubic + t * (quartic + t * quintic))))
    }

    #[inline]
    fn at(&self, point: f64) -> f64 {
        let position = (point - self.origin) * self.inverse_step;
        let last = self.knots.len() - 2;
        let i = (position as usize).min(last);
        let t = (position - i as f64).clamp(0.0, 1.0);
        // Exact derivatives keep the interpolant monotone to within the tolerance; the clamp keeps a
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
