//! Probability distributions of uncertain inputs: validated construction, quantiles, means.
//!
//! Follows `rand_distr`'s split: constructors validate parameters and precompute all state, so
//! [`Distribution::quantile`], which runs once per uncertain input per Monte Carlo path, cannot
//! fail and does no setup work. Every draw is a quantile of a uniform: an input's draw is a
//! monotone function of its own uniform, so changing the distribution's parameters keeps every
//! path's rank of the input (common random numbers hold across variants).

use std::collections::BTreeMap;
use std::f64::consts::{FRAC_1_SQRT_2, PI, SQRT_2};
use std::fmt;
use std::sync::{Arc, Mutex};

use rand::Rng;
use statrs::function::beta::beta_reg;
use statrs::function::erf::{erfc, erfc_inv};

use super::beta_quantile::BetaQuantile;

/// Truncations keeping less probability than this are refused: the scenario almost certainly
/// did not mean it, and draws would hinge on the far tail of a distribution nobody calibrated.
const MIN_KEPT_MASS: f64 = 1e-3;

/// The shape parameters a beta may have: outside them the distribution is all but a point mass
/// (or two), and the tabulated quantile would need more knots than it is worth. PERT's shapes
/// lie in [1, 5].
pub const BETA_SHAPES: (f64, f64) = (0.2, 50.0);

/// A validated distribution of one uncertain input, optionally truncated to `[min, max]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Distribution {
    family: Family,
    bounds: Bounds,
    sampler: Sampler,
}

/// Why a distribution's parameters are invalid.
///
/// Messages name the offending key and read well after a key path, e.g.
/// `costs.gpu_hours: sd must be > 0, found -1`; [`DistributionError::parameter`] returns that key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DistributionError {
    #[error("{parameter} must be a finite number, found {value}")]
    NotFinite { parameter: &'static str, value: f64 },
    #[error("{parameter}[{index}] must be a finite number, found {value}")]
    ElementNotFinite { parameter: &'static str, index: usize, value: f64 },
    #[error("{parameter} must be > 0, found {value}")]
    NotPositive { parameter: &'static str, value: f64 },
    #[error("{parameter} must be > {lower_parameter} = {lower}, found {value}")]
    NotAbove { parameter: &'static str, value: f64, lower_parameter: &'static str, lower: f64 },
    #[error("{parameter} = {value} is too far from {other_parameter} = {other} for double precision")]
    OutOfNumericRange { parameter: &'static str, value: f64, other_parameter: &'static str, other: f64 },
    #[error("{parameter} must lie in [{low}, {high}], found {value}")]
    ShapeOutOfRange { parameter: &'static str, value: f64, low: f64, high: f64 },
    #[error("mode must lie in [low, high] = [{low}, {high}], found {value}")]
    ModeOutsideRange { value: f64, low: f64, high: f64 },
    #[error("p must lie in [0, 1], found {value}")]
    ProbabilityOutsideUnitInterval { value: f64 },
    #[error("values must not be empty")]
    NoValues,
    #[error("weights must have one entry per value ({values} values), found {weights}")]
    WeightCountMismatch { values: usize, weights: usize },
    #[error("weights[{index}] must be >= 0, found {value}")]
    NegativeWeight { index: usize, value: f64 },
    #[error("weights must not all be zero")]
    AllWeightsZero,
    #[error(
        "truncation to {} keeps only {} of the probability mass, below the minimum of {MIN_KEPT_MASS}",
        Bounds { min: *.min, max: *.max }.interval(&|value: f64| value.to_string()),
        three_significant_digits(*.kept_mass)
    )]
    TooLittleMassKept { parameter: &'static str, min: Option<f64>, max: Option<f64>, kept_mass: f64 },
}

impl DistributionError {
    /// The scenario key at fault ("sd", "mode", "weights", "min", ...), so callers can point at
    /// its position in the file.
    pub fn parameter(&self) -> &'static str {
        match self {
            Self::NotFinite { parameter, .. }
            | Self::ElementNotFinite { parameter, .. }
            | Self::NotPositive { parameter, .. }
            | Self::NotAbove { parameter, .. }
            | Self::ShapeOutOfRange { parameter, .. }
            | Self::OutOfNumericRange { parameter, .. }
            | Self::TooLittleMassKept { parameter, .. } => parameter,
            Self::ModeOutsideRange { .. } => "mode",
            Self::ProbabilityOutsideUnitInterval { .. } => "p",
            Self::NoValues => "values",
            Self::WeightCountMismatch { .. } | Self::NegativeWeight { .. } | Self::AllWeightsZero => "weights",
        }
    }
}

impl Distribution {
    /// Normal with the given mean and standard deviation (`sd > 0`).
    pub fn normal(mean: f64, sd: f64) -> Result<Self, DistributionError> {
        require_finite("mean", mean)?;
        require_positive("sd", sd)?;
        Ok(Self::continuous(Family::Normal { mean, sd }, ContinuousLaw::Normal { mean, sd }))
    }

    /// Log-normal whose variable (not its logarithm) has the given mean and standard deviation.
    pub fn lognormal(mean: f64, sd: f64) -> Result<Self, DistributionError> {
        require_positive("mean", mean)?;
        require_positive("sd", sd)?;
        // Moment matching: if ln X ~ N(mu, sigma^2) then Var[X] / E[X]^2 = exp(sigma^2) - 1 and
        // E[X] = exp(mu + sigma^2 / 2).
        let log_variance = (sd / mean).powi(2).ln_1p();
        // sd / mean beyond ~1e154 overflows sigma^2, and below ~1e-154 it underflows to zero.
        if !(log_variance > 0.0 && log_variance.is_finite()) {
            return Err(DistributionError::OutOfNumericRange {
                parameter: "sd",
                value: sd,
                other_parameter: "mean",
                other: mean,
            });
        }
        let log_sd = log_variance.sqrt();
        let log_mean = mean.ln() - log_variance / 2.0;
        Ok(Self::continuous(Family::LogNormal { mean, sd }, ContinuousLaw::LogNormal { log_mean, log_sd }))
    }

    /// Uniform on `[low, high]`, `low < high`.
    pub fn uniform(low: f64, high: f64) -> Result<Self, DistributionError> {
        require_range(low, high)?;
        Ok(Self::continuous(Family::Uniform { low, high }, ContinuousLaw::Uniform { low, high }))
    }

    /// Triangular on `[low, high]` peaking at `mode`.
    pub fn triangular(low: f64, mode: f64, high: f64) -> Result<Self, DistributionError> {
        require_range_with_mode(low, mode, high)?;
        Ok(Self::continuous(Family::Triangular { low, mode, high }, ContinuousLaw::Triangular { low, mode, high }))
    }

    /// Beta-PERT on `[low, high]` with the given mode and the standard shape lambda = 4.
    pub fn pert(low: f64, mode: f64, high: f64) -> Result<Self, DistributionError> {
        require_range_with_mode(low, mode, high)?;
        let width = high - low;
        // Divided first: 4 × (high − mode) overflows for a width near the largest double.
        let alpha = 1.0 + 4.0 * ((mode - low) / width);
        let beta = 1.0 + 4.0 * ((high - mode) / width);
        Ok(Self::continuous(Family::Pert { low, mode, high }, ContinuousLaw::scaled_beta(alpha, beta, low, high)))
    }

    /// Beta(alpha, beta) stretched from `[0, 1]` onto `[low, high]`.
    pub fn beta(alpha: f64, beta: f64, low: f64, high: f64) -> Result<Self, DistributionError> {
        require_shape("alpha", alpha)?;
        require_shape("beta", beta)?;
        require_range(low, high)?;
        Ok(Self::continuous(
            Family::Beta { alpha, beta, low, high },
            ContinuousLaw::scaled_beta(alpha, beta, low, high),
        ))
    }

    /// Finitely many `values` drawn with probability proportional to `weights`.
    pub fn discrete(values: Vec<f64>, weights: Vec<f64>) -> Result<Self, DistributionError> {
        if values.is_empty() {
            return Err(DistributionError::NoValues);
        }
        if weights.len() != values.len() {
            return Err(DistributionError::WeightCountMismatch { values: values.len(), weights: weights.len() });
        }
        require_finite_elements("values", &values)?;
        require_finite_elements("weights", &weights)?;
        if let Some((index, &value)) = weights.iter().enumerate().find(|(_, w)| **w < 0.0) {
            return Err(DistributionError::NegativeWeight { index, value });
        }
        if weights.iter().all(|&weight| weight == 0.0) {
            return Err(DistributionError::AllWeightsZero);
        }
        let outcomes = Outcomes::from_weighted(values.iter().copied().zip(weights.iter().copied()));
        Ok(Self::discrete_family(Family::Discrete { values, weights }, outcomes))
    }

    /// 1.0 with probability `p`, otherwise 0.0.
    pub fn bernoulli(p: f64) -> Result<Self, DistributionError> {
        require_finite("p", p)?;
        if !(0.0..=1.0).contains(&p) {
            return Err(DistributionError::ProbabilityOutsideUnitInterval { value: p });
        }
        let outcomes = Outcomes::from_weighted([(0.0, 1.0 - p), (1.0, p)]);
        Ok(Self::discrete_family(Family::Bernoulli { p }, outcomes))
    }

    /// Truncate to `[min, max]` (either optional), on top of any earlier truncation.
    ///
    /// Fails if `min >= max`, or if the kept probability mass is below 1e-3. Discrete and
    /// Bernoulli distributions keep the values inside the bounds and renormalise their weights.
    pub fn truncated(self, min: Option<f64>, max: Option<f64>) -> Result<Self, DistributionError> {
        if let Some(min) = min {
            require_finite("min", min)?;
        }
        if let Some(max) = max {
            require_finite("max", max)?;
        }
        let bounds = self.bounds.narrowed(min, max);
        if let (Some(min), Some(max)) = (bounds.min, bounds.max)
            && min >= max
        {
            return Err(DistributionError::NotAbove {
                parameter: "max",
                value: max,
                lower_parameter: "min",
                lower: min,
            });
        }
        Ok(Self { family: self.family, bounds, sampler: self.sampler.restricted_to(bounds)? })
    }

    /// One draw from `rng`'s next uniform, by inversion: for values drawn afresh within a path
    /// (jump sizes), where no identity keys the draw.
    #[inline]
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        // 53 random bits, centred in their grid cell: never 0 or 1.
        self.quantile(((rng.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64))
    }

    /// Inverse CDF of the (truncated) distribution at `p`; for discrete distributions the
    /// smallest value whose cumulative probability is at least `p`. A draw is the quantile of a
    /// uniform in (0, 1).
    ///
    /// # Panics
    /// If `p` is outside `[0, 1]`.
    #[inline]
    pub fn quantile(&self, p: f64) -> f64 {
        assert!((0.0..=1.0).contains(&p), "quantile needs p in [0, 1], got {p}");
        match &self.sampler {
            Sampler::Continuous { law, window: None } => law.quantile_from_tails(p, 1.0 - p),
            Sampler::Continuous { law, window: Some(window) } => window.quantile(law, p),
            Sampler::Discrete { all, kept } => kept.as_ref().unwrap_or(all).quantile(p),
        }
    }

    /// Mean of the (truncated) distribution.
    pub fn mean(&self) -> f64 {
        match &self.sampler {
            Sampler::Continuous { law, window: None } => law.mean(),
            Sampler::Continuous { law, window: Some(window) } => law.mean_within(window),
            Sampler::Discrete { all, kept } => kept.as_ref().unwrap_or(all).mean(),
        }
    }

    /// Smallest and largest values a draw can take (possibly infinite), after truncation.
    pub fn support(&self) -> (f64, f64) {
        match &self.sampler {
            Sampler::Continuous { law, window: None } => law.support(),
            Sampler::Continuous { window: Some(window), .. } => (window.lower, window.upper),
            Sampler::Discrete { all, kept } => kept.as_ref().unwrap_or(all).support(),
        }
    }

    /// Short description for reports, e.g. `normal(mean=0.1, sd=0.05) truncated to [0, inf)`.
    pub fn describe(&self) -> String {
        self.describe_with(|value| value.to_string())
    }

    /// [`describe`](Self::describe) with each parameter written by `number`, e.g. as money:
    /// `pert(low=$60B, mode=$72B, high=$90B)`.
    pub fn describe_with(&self, number: impl Fn(f64) -> String) -> String {
        let family = self.family.describe_with(&number);
        if self.bounds.is_unbounded() {
            family
        } else {
            format!("{family} truncated to {}", self.bounds.interval(&number))
        }
    }

    fn continuous(family: Family, law: ContinuousLaw) -> Self {
        Self { family, bounds: Bounds::default(), sampler: Sampler::Continuous { law, window: None } }
    }

    fn discrete_family(family: Family, outcomes: Outcomes) -> Self {
        Self { family, bounds: Bounds::default(), sampler: Sampler::Discrete { all: outcomes, kept: None } }
    }
}

fn require_finite(parameter: &'static str, value: f64) -> Result<(), DistributionError> {
    if value.is_finite() { Ok(()) } else { Err(DistributionError::NotFinite { parameter, value }) }
}

fn require_positive(parameter: &'static str, value: f64) -> Result<(), DistributionError> {
    require_finite(parameter, value)?;
    if value > 0.0 { Ok(()) } else { Err(DistributionError::NotPositive { parameter, value }) }
}

fn require_shape(parameter: &'static str, value: f64) -> Result<(), DistributionError> {
    require_positive(parameter, value)?;
    let (low, high) = BETA_SHAPES;
    if (low..=high).contains(&value) {
        Ok(())
    } else {
        Err(DistributionError::ShapeOutOfRange { parameter, value, low, high })
    }
}

fn require_finite_elements(parameter: &'static str, elements: &[f64]) -> Result<(), DistributionError> {
    match elements.iter().enumerate().find(|(_, e)| !e.is_finite()) {
        Some((index, &value)) => Err(DistributionError::ElementNotFinite { parameter, index, value }),
        None => Ok(()),
    }
}

fn require_range(low: f64, high: f64) -> Result<(), DistributionError> {
    require_finite("low", low)?;
    require_finite("high", high)?;
    if high <= low {
        return Err(DistributionError::NotAbove { parameter: "high", value: high, lower_parameter: "low", lower: low });
    }
    // Every bounded family divides by the width, so it must not overflow.
    if !(high - low).is_finite() {
        return Err(DistributionError::OutOfNumericRange {
            parameter: "high",
            value: high,
            other_parameter: "low",
            other: low,
        });
    }
    Ok(())
}

fn require_range_with_mode(low: f64, mode: f64, high: f64) -> Result<(), DistributionError> {
    require_finite("mode", mode)?;
    require_range(low, high)?;
    if (low..=high).contains(&mode) {
        Ok(())
    } else {
        Err(DistributionError::ModeOutsideRange { value: mode, low, high })
    }
}

/// Rounds for error messages, where `0.000234567891` would only distract.
fn three_significant_digits(value: f64) -> f64 {
    if value == 0.0 || !value.is_finite() {
        return value;
    }
    let scale = 10f64.powi(2 - value.abs().log10().floor() as i32);
    (value * scale).round() / scale
}

/// The parameters as the scenario stated them, kept for `describe`.
#[derive(Clone, Debug, PartialEq)]
enum Family {
    Normal { mean: f64, sd: f64 },
    LogNormal { mean: f64, sd: f64 },
    Uniform { low: f64, high: f64 },
    Triangular { low: f64, mode: f64, high: f64 },
    Pert { low: f64, mode: f64, high: f64 },
    Beta { alpha: f64, beta: f64, low: f64, high: f64 },
    Discrete { values: Vec<f64>, weights: Vec<f64> },
    Bernoulli { p: f64 },
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe_with(&|value: f64| value.to_string()))
    }
}

impl Family {
    fn describe_with(&self, number: &dyn Fn(f64) -> String) -> String {
        let n = number;
        match self {
            Self::Normal { mean, sd } => format!("normal(mean={}, sd={})", n(*mean), n(*sd)),
            Self::LogNormal { mean, sd } => format!("lognormal(mean={}, sd={})", n(*mean), n(*sd)),
            Self::Uniform { low, high } => format!("uniform(low={}, high={})", n(*low), n(*high)),
            Self::Triangular { low, mode, high } => {
                format!("triangular(low={}, mode={}, high={})", n(*low), n(*mode), n(*high))
            }
            Self::Pert { low, mode, high } => format!("pert(low={}, mode={}, high={})", n(*low), n(*mode), n(*high)),
            Self::Beta { alpha, beta, low, high } => {
                // The scale is optional in scenarios; mention it only when it was changed.
                let scale = if (*low, *high) != (0.0, 1.0) {
                    format!(", low={}, high={}", n(*low), n(*high))
                } else {
                    String::new()
                };
                // The shape parameters are plain numbers whatever the scale's unit.
                format!("beta(alpha={alpha}, beta={beta}{scale})")
            }
            Self::Discrete { values, weights } => {
                let values: Vec<String> = values.iter().map(|&v| n(v)).collect();
                let weights: Vec<String> = weights.iter().map(f64::to_string).collect();
                format!("discrete(values=[{}], weights=[{}])", values.join(", "), weights.join(", "))
            }
            Self::Bernoulli { p } => format!("bernoulli(p={p})"),
        }
    }
}

/// Truncation bounds as requested, accumulated over successive `truncated` calls.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Bounds {
    min: Option<f64>,
    max: Option<f64>,
}

impl Bounds {
    fn narrowed(self, min: Option<f64>, max: Option<f64>) -> Self {
        Self {
            min: self.min.into_iter().chain(min).reduce(f64::max),
            max: self.max.into_iter().chain(max).reduce(f64::min),
        }
    }

    fn is_unbounded(self) -> bool {
        self.min.is_none() && self.max.is_none()
    }

    fn contains(self, x: f64) -> bool {
        self.min.is_none_or(|min| x >= min) && self.max.is_none_or(|max| x <= max)
    }

    /// Interval notation, e.g. `[0, inf)` or `[0.5, 2]`.
    fn interval(self, number: &dyn Fn(f64) -> String) -> String {
        match (self.min, self.max) {
            (Some(min), Some(max)) => format!("[{}, {}]", number(min), number(max)),
            (Some(min), None) => format!("[{}, inf)", number(min)),
            (None, Some(max)) => format!("(-inf, {}]", number(max)),
            (None, None) => "(-inf, inf)".to_owned(),
        }
    }

    fn ensure_enough_mass_kept(
        self,
        kept_mass: f64,
        mass_below: f64,
        mass_above: f64,
    ) -> Result<(), DistributionError> {
        if kept_mass >= MIN_KEPT_MASS {
            return Ok(());
        }
        // Blame the bound discarding more mass: that is the key most likely to be wrong.
        let parameter = match (self.min, self.max) {
            (Some(_), Some(_)) if mass_above > mass_below => "max",
            (Some(_), _) => "min",
            (None, _) => "max",
        };
        Err(DistributionError::TooLittleMassKept { parameter, min: self.min, max: self.max, kept_mass })
    }
}

/// Precomputed sampling state.
#[derive(Clone, Debug, PartialEq)]
enum Sampler {
    Continuous {
        law: ContinuousLaw,
        /// `None` when no truncation bound cuts into the support.
        window: Option<Window>,
    },
    Discrete {
        all: Outcomes,
        /// `None` when no truncation bound excludes an outcome.
        kept: Option<Outcomes>,
    },
}

impl Sampler {
    fn restricted_to(self, bounds: Bounds) -> Result<Self, DistributionError> {
        Ok(match self {
            Self::Continuous { law, .. } => Self::Continuous { window: Window::new(&law, bounds)?, law },
            Self::Discrete { all, .. } => Self::Discrete { kept: all.restricted_to(bounds)?, all },
        })
    }
}

/// An untruncated continuous law with the tail and quantile functions that sampling and
/// truncation need.
#[derive(Clone, Debug, PartialEq)]
enum ContinuousLaw {
    Normal {
        mean: f64,
        sd: f64,
    },
    LogNormal {
        log_mean: f64,
        log_sd: f64,
    },
    Uniform {
        low: f64,
        high: f64,
    },
    Triangular {
        low: f64,
        mode: f64,
        high: f64,
    },
    /// Beta(alpha, beta) stretched onto `[low, high]`; PERT is one of these. The tabulated
    /// quantile is shared by the clones of a scenario.
    ScaledBeta {
        alpha: f64,
        beta: f64,
        low: f64,
        high: f64,
        quantile: Arc<BetaQuantile>,
    },
}

/// Quantile tables already built, by shape: a scenario is read again for every `solve` step and
/// every `--set` variant, and a PERT's table takes about a millisecond to build. Bounded: a
/// stream of ever-new shapes (a fuzzer's) starts the cache afresh rather than growing it.
static BETA_TABLES: Mutex<BTreeMap<(u64, u64), Arc<BetaQuantile>>> = Mutex::new(BTreeMap::new());
const MAX_CACHED_TABLES: usize = 1024;

impl ContinuousLaw {
    fn scaled_beta(alpha: f64, beta: f64, low: f64, high: f64) -> Self {
        let key = (alpha.to_bits(), beta.to_bits());
        let cached = BETA_TABLES.lock().ok().and_then(|tables| tables.get(&key).cloned());
        let quantile = cached.unwrap_or_else(|| {
            let table = Arc::new(BetaQuantile::new(alpha, beta));
            if let Ok(mut tables) = BETA_TABLES.lock() {
                if tables.len() >= MAX_CACHED_TABLES {
                    tables.clear();
                }
                tables.insert(key, Arc::clone(&table));
            }
            table
        });
        Self::ScaledBeta { alpha, beta, low, high, quantile }
    }

    fn support(&self) -> (f64, f64) {
        match *self {
            Self::Normal { .. } => (f64::NEG_INFINITY, f64::INFINITY),
            Self::LogNormal { .. } => (0.0, f64::INFINITY),
            Self::Uniform { low, high, .. }
            | Self::Triangular { low, high, .. }
            | Self::ScaledBeta { low, high, .. } => (low, high),
        }
    }

    fn mean(&self) -> f64 {
        match *self {
            Self::Normal { mean, .. } => mean,
            Self::LogNormal { log_mean, log_sd, .. } => (log_mean + log_sd * log_sd / 2.0).exp(),
            Self::Uniform { low, high, .. } => (low + high) / 2.0,
            Self::Triangular { low, mode, high, .. } => (low + mode + high) / 3.0,
            Self::ScaledBeta { alpha, beta, low, high, .. } => low + (high - low) * alpha / (alpha + beta),
        }
    }

    /// P(X < x).
    fn lower_tail(&self, x: f64) -> f64 {
        match *self {
            Self::Normal { mean, sd, .. } => standard_normal_lower_tail((x - mean) / sd),
            Self::LogNormal { log_mean, log_sd, .. } => {
                if x <= 0.0 {
                    0.0
                } else {
                    standard_normal_lower_tail((x.ln() - log_mean) / log_sd)
                }
            }
            Self::Uniform { low, high, .. } => ((x - low) / (high - low)).clamp(0.0, 1.0),
            Self::Triangular { low, mode, high, .. } => triangle_lower_tail(x, low, mode, high),
            Self::ScaledBeta { alpha, beta, low, high, .. } => regularized_beta(alpha, beta, (x - low) / (high - low)),
        }
    }

    /// P(X > x), computed directly rather than as `1 - lower_tail(x)` so that bounds deep in
    /// the upper tail keep their precision.
    fn upper_tail(&self, x: f64) -> f64 {
        match *self {
            Self::Normal { mean, sd, .. } => standard_normal_lower_tail((mean - x) / sd),
            Self::LogNormal { log_mean, log_sd, .. } => {
                if x <= 0.0 {
                    1.0
                } else {
                    standard_normal_lower_tail((log_mean - x.ln()) / log_sd)
                }
            }
            Self::Uniform { low, high, .. } => ((high - x) / (high - low)).clamp(0.0, 1.0),
            // -X is triangular on [-high, -low] with mode -mode.
            Self::Triangular { low, mode, high, .. } => triangle_lower_tail(-x, -high, -mode, -low),
            // 1 - U is Beta(beta, alpha) when U is Beta(alpha, beta).
            Self::ScaledBeta { alpha, beta, low, high, .. } => regularized_beta(beta, alpha, (high - x) / (high - low)),
        }
    }

    /// The `x` with P(X < x) = `lower_tail` and P(X > x) = `upper_tail` (the two sum to one).
    /// The smaller tail drives the computation, so extreme quantiles keep full precision.
    #[inline]
    fn quantile_from_tails(&self, lower_tail: f64, upper_tail: f64) -> f64 {
        match *self {
            Self::Normal { mean, sd, .. } => mean + sd * standard_normal_quantile_from_tails(lower_tail, upper_tail),
            Self::LogNormal { log_mean, log_sd, .. } => {
                (log_mean + log_sd * standard_normal_quantile_from_tails(lower_tail, upper_tail)).exp()
            }
            Self::Uniform { low, high, .. } => {
                if lower_tail <= upper_tail {
                    low + lower_tail * (high - low)
                } else {
                    high - upper_tail * (high - low)
                }
            }
            Self::Triangular { low, mode, high, .. } => {
                let width = high - low;
                if lower_tail * width < mode - low {
                    low + (lower_tail * width * (mode - low)).sqrt()
                } else {
                    high - (upper_tail * width * (high - mode)).sqrt()
                }
            }
            Self::ScaledBeta { low, high, ref quantile, .. } => {
                if lower_tail <= upper_tail {
                    low + (high - low) * quantile.lower_half(lower_tail)
                } else {
                    high - (high - low) * quantile.upper_half(upper_tail)
                }
            }
        }
    }

    /// E[X | window.lower <= X <= window.upper], in closed form.
    fn mean_within(&self, window: &Window) -> f64 {
        let (lower, upper, kept_mass) = (window.lower, window.upper, window.kept_mass);
        match *self {
            Self::Normal { mean, sd, .. } => {
                let density_difference =
                    standard_normal_density((lower - mean) / sd) - standard_normal_density((upper - mean) / sd);
                mean + sd * density_difference / kept_mass
            }
            Self::LogNormal { log_mean, log_sd, .. } => {
                // E[X; a < X < b] = E[X] * P(a < Y < b) for Y ~ LogNormal(mu + sigma^2, sigma).
                let lower_z = (lower.ln() - log_mean) / log_sd - log_sd;
                let upper_z = (upper.ln() - log_mean) / log_sd - log_sd;
                let shifted_kept = 1.0 - standard_normal_lower_tail(lower_z) - standard_normal_lower_tail(-upper_z);
                self.mean() * shifted_kept / kept_mass
            }
            Self::Uniform { .. } => (lower + upper) / 2.0,
            Self::Triangular { low, mode, high, .. } => {
                let moment_below = triangle_moment_below(lower, low, mode, high);
                // Mirror image, as in `upper_tail`.
                let moment_above = -triangle_moment_below(-upper, -high, -mode, -low);
                (self.mean() - moment_below - moment_above) / kept_mass
            }
            Self::ScaledBeta { alpha, beta, low, high, .. } => {
                // E[U; U < u] = alpha / (alpha + beta) * I_u(alpha + 1, beta) for U ~ Beta(alpha, beta).
                let width = high - low;
                let shifted_kept = 1.0
                    - regularized_beta(alpha + 1.0, beta, (lower - low) / width)
                    - regularized_beta(beta, alpha + 1.0, (high - upper) / width);
                low + width * alpha / (alpha + beta) * shifted_kept / kept_mass
            }
        }
    }
}

/// Φ(z).
pub(crate) fn standard_normal_lower_tail(z: f64) -> f64 {
    0.5 * erfc(-z * FRAC_1_SQRT_2)
}

/// Φ⁻¹(u) for u in (0, 1): `1 - u` is exact for u above 1/2, so both tails keep their precision.
#[inline]
pub(crate) fn standard_normal_quantile(u: f64) -> f64 {
    standard_normal_quantile_from_tails(u, 1.0 - u)
}

fn standard_normal_density(z: f64) -> f64 {
    (-0.5 * z * z).exp() / (2.0 * PI).sqrt()
}

fn standard_normal_quantile_from_tails(lower_tail: f64, upper_tail: f64) -> f64 {
    if lower_tail <= upper_tail { -SQRT_2 * erfc_inv(2.0 * lower_tail) } else { SQRT_2 * erfc_inv(2.0 * upper_tail) }
}

/// I_u(a, b), with `u` clamped to `[0, 1]` because statrs panics outside it.
fn regularized_beta(a: f64, b: f64, u: f64) -> f64 {
    beta_reg(a, b, u.clamp(0.0, 1.0))
}

/// P(X < x) for X triangular on `[low, high]` with the given mode.
fn triangle_lower_tail(x: f64, low: f64, mode: f64, high: f64) -> f64 {
    let width = high - low;
    if x <= low {
        0.0
    } else if x <= mode {
        (x - low).powi(2) / (width * (mode - low))
    } else if x < high {
        1.0 - (high - x).powi(2) / (width * (high - mode))
    } else {
        1.0
    }
}

/// E[X; X < x] for X triangular on `[low, high]` with the given mode.
fn triangle_moment_below(x: f64, low: f64, mode: f64, high: f64) -> f64 {
    if x <= low {
        0.0
    } else if x <= mode {
        // Integral of t * 2 (t - low) / (width (mode - low)) from low to x.
        let rise = x - low;
        (2.0 * rise.powi(3) / 3.0 + low * rise.powi(2)) / ((high - low) * (mode - low))
    } else {
        // E[X; X < x] = E[X] - E[X; X > x], the latter from the mirror image -X, whose bound
        // -x lies left of its mode.
        let mean = (low + mode + high) / 3.0;
        mean + triangle_moment_below(-x, -high, -mode, -low)
    }
}

/// The part of a continuous law's support kept by truncation, with its tail probabilities.
#[derive(Clone, Debug, PartialEq)]
struct Window {
    lower: f64,
    upper: f64,
    /// P(X < lower) before truncation.
    lower_cut: f64,
    /// P(X > upper) before truncation.
    upper_cut: f64,
    kept_mass: f64,
}

impl Window {
    fn new(law: &ContinuousLaw, bounds: Bounds) -> Result<Option<Self>, DistributionError> {
        let (support_low, support_high) = law.support();
        let lower = bounds.min.map_or(support_low, |min| min.max(support_low));
        let upper = bounds.max.map_or(support_high, |max| max.min(support_high));
        if lower <= support_low && upper >= support_high {
            return Ok(None);
        }
        let lower_cut = law.lower_tail(lower);
        let upper_cut = law.upper_tail(upper);
        let kept_mass = if lower < upper { (1.0 - lower_cut - upper_cut).max(0.0) } else { 0.0 };
        bounds.ensure_enough_mass_kept(kept_mass, lower_cut, upper_cut)?;
        Ok(Some(Self { lower, upper, lower_cut, upper_cut, kept_mass }))
    }

    #[inline]
    fn quantile(&self, law: &ContinuousLaw, p: f64) -> f64 {
        // statrs's erfc is only accurate to ~1e-11 relative, so the quantile of a bound's own
        // tail probability misses it slightly: pin the ends.
        if p == 0.0 {
            return self.lower;
        }
        if p == 1.0 {
            return self.upper;
        }
        // Both tails are kept (rather than one and `1 - it`) so that draws near either bound
        // stay precise; `1 - p` is exact for the uniforms of `random::unit` above 1/2.
        let lower_tail = self.lower_cut + p * self.kept_mass;
        let upper_tail = self.upper_cut + (1.0 - p) * self.kept_mass;
        law.quantile_from_tails(lower_tail, upper_tail).clamp(self.lower, self.upper)
    }
}

/// The values a discrete distribution can take, each with positive probability.
#[derive(Clone, Debug, PartialEq)]
struct Outcomes {
    /// Ascending, so quantiles can search `cumulative`.
    values: Vec<f64>,
    probabilities: Vec<f64>,
    /// P(X <= values[i]).
    cumulative: Vec<f64>,
}

impl Outcomes {
    /// `weighted` pairs values with finite, non-negative weights, not all zero.
    fn from_weighted(weighted: impl IntoIterator<Item = (f64, f64)>) -> Self {
        let mut weighted: Vec<(f64, f64)> = weighted.into_iter().collect();
        // Dividing by the largest weight first keeps the total finite for weights near f64::MAX.
        let largest = weighted.iter().map(|&(_, w)| w).fold(0.0, f64::max);
        let total: f64 = weighted.iter().map(|&(_, w)| w / largest).sum();
        for (_, weight) in &mut weighted {
            *weight = *weight / largest / total;
        }
        weighted.retain(|&(_, probability)| probability > 0.0);
        weighted.sort_by(|a, b| a.0.total_cmp(&b.0));

        let (values, probabilities): (Vec<f64>, Vec<f64>) = weighted.into_iter().unzip();
        let cumulative = probabilities
            .iter()
            .scan(0.0, |running, &probability| {
                *running += probability;
                Some(*running)
            })
            .collect();
        Self { values, probabilities, cumulative }
    }

    /// The outcomes inside `bounds`, renormalised; `None` if none is excluded.
    fn restricted_to(&self, bounds: Bounds) -> Result<Option<Self>, DistributionError> {
        let mut kept = Vec::with_capacity(self.values.len());
        let (mut mass_below, mut mass_above) = (0.0, 0.0);
        for (&value, &probability) in self.values.iter().zip(&self.probabilities) {
            if bounds.contains(value) {
                kept.push((value, probability));
            } else if bounds.min.is_some_and(|min| value < min) {
                mass_below += probability;
            } else {
                mass_above += probability;
            }
        }
        // Folding from +0.0 because `sum` starts at -0.0, which would print as "-0" in errors.
        let kept_mass = kept.iter().fold(0.0, |mass, &(_, probability)| mass + probability);
        bounds.ensure_enough_mass_kept(kept_mass, mass_below, mass_above)?;
        Ok((kept.len() < self.values.len()).then(|| Self::from_weighted(kept)))
    }

    #[inline]
    fn quantile(&self, p: f64) -> f64 {
        // The last cumulative value may round to just below 1, so p = 1 must not fall off the end.
        let index = self.cumulative.partition_point(|&cumulative| cumulative < p).min(self.values.len() - 1);
        self.values[index]
    }

    fn mean(&self) -> f64 {
        self.values.iter().zip(&self.probabilities).map(|(value, probability)| value * probability).sum()
    }

    fn support(&self) -> (f64, f64) {
        (self.values[0], self.values[self.values.len() - 1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use statrs::distribution::{Beta, Continuous, ContinuousCDF, LogNormal, Normal, Triangular};

    const DRAWS: usize = 200_000;
    /// Every statistical check at the fixed seed allows this many standard errors.
    const STANDARD_ERRORS: f64 = 4.0;

    /// Draws as the engine makes them: quantiles of keyed uniforms.
    fn draws(distribution: &Distribution, count: usize) -> Vec<f64> {
        let identity = crate::sampling::random::Identity::new("test.input").hash;
        (0..count as u64)
            .map(|path| distribution.quantile(crate::sampling::random::unit(0x5eed, identity, path)))
            .collect()
    }

    fn sample_mean(draws: &[f64]) -> f64 {
        draws.iter().sum::<f64>() / draws.len() as f64
    }

    fn sample_sd(draws: &[f64]) -> f64 {
        let mean = sample_mean(draws);
        let squares: f64 = draws.iter().map(|x| (x - mean).powi(2)).sum();
        (squares / (draws.len() - 1) as f64).sqrt()
    }

    /// Sample mean within `STANDARD_ERRORS` of `expected`, one standard error being `sd / sqrt(n)`.
    fn assert_mean_matches(draws: &[f64], expected: f64, sd: f64) {
        let standard_error = sd / (draws.len() as f64).sqrt();
        let mean = sample_mean(draws);
        let deviation = (mean - expected) / standard_error;
        assert!(
            deviation.abs() <= STANDARD_ERRORS,
            "sample mean {mean} is {deviation:.2} standard errors from {expected}"
        );
    }

    /// Empirical quantile check: the fraction of draws below `threshold` is `p` within
    /// `STANDARD_ERRORS`, one standard error being `sqrt(p (1 - p) / n)`.
    fn assert_fraction_below(draws: &[f64], threshold: f64, p: f64) {
        let count = draws.len() as f64;
        let fraction = draws.iter().filter(|&&x| x < threshold).count() as f64 / count;
        let deviation = (fraction - p) / (p * (1.0 - p) / count).sqrt();
        assert!(
            deviation.abs() <= STANDARD_ERRORS,
            "{fraction} of draws fall below {threshold}: {deviation:.2} standard errors from {p}"
        );
    }

    fn assert_all_within(draws: &[f64], (low, high): (f64, f64)) {
        if let Some(outlier) = draws.iter().find(|x| !(low..=high).contains(*x)) {
            panic!("draw {outlier} lies outside [{low}, {high}]");
        }
    }

    fn assert_close(actual: f64, expected: f64, tolerance: f64) {
        assert!((actual - expected).abs() <= tolerance, "{actual} differs from {expected} by more than {tolerance}");
    }

    /// E[X | lower <= X <= upper] = lower + integral of (F(upper) - F(x)) / (F(upper) - F(lower))
    /// over [lower, upper], by composite Simpson: a reference independent of `mean_within`.
    fn reference_truncated_mean(cdf: &dyn Fn(f64) -> f64, lower: f64, upper: f64) -> f64 {
        const INTERVALS: usize = 4000;
        let (cdf_lower, cdf_upper) = (cdf(lower), cdf(upper));
        let step = (upper - lower) / INTERVALS as f64;
        let integral: f64 = (0..=INTERVALS)
            .map(|i| {
                let weight = match i {
                    0 | INTERVALS => 1.0,
                    odd if odd % 2 == 1 => 4.0,
                    _ => 2.0,
                };
                weight * (cdf_upper - cdf(lower + step * i as f64))
            })
            .sum();
        lower + integral * step / 3.0 / (cdf_upper - cdf_lower)
    }

    fn pert_shape(low: f64, mode: f64, high: f64) -> Beta {
        let width = high - low;
        Beta::new(1.0 + 4.0 * (mode - low) / width, 1.0 + 4.0 * (high - mode) / width).unwrap()
    }

    #[test]
    fn normal_draws_match_mean_and_quantile() {
        let normal = Distribution::normal(0.1, 0.05).unwrap();
        let draws = draws(&normal, DRAWS);
        assert_mean_matches(&draws, 0.1, 0.05);
        assert_fraction_below(&draws, normal.quantile(0.9), 0.9);
    }

    #[test]
    fn lognormal_draws_match_mean_sd_and_median() {
        // A coefficient of variation of 1 gives a heavy right tail, where a wrong mu/sigma
        // conversion shows up clearly in the sd.
        let (mean, sd) = (1.0, 1.0);
        let lognormal = Distribution::lognormal(mean, sd).unwrap();
        let draws = draws(&lognormal, DRAWS);
        assert_mean_matches(&draws, mean, sd);

        // Why ~3%: the sample sd converges slowly under heavy tails. By the delta method its
        // standard error is sd * sqrt((kurtosis - 1) / (4n)), with the lognormal kurtosis
        // w^4 + 2w^3 + 3w^2 - 3 for w = 1 + cv^2 = 2, i.e. 41; so 0.71% of sd, and 4 of them 2.8%.
        let w = 1.0 + (sd / mean).powi(2);
        let kurtosis = w.powi(4) + 2.0 * w.powi(3) + 3.0 * w.powi(2) - 3.0;
        let relative_standard_error = ((kurtosis - 1.0) / (4.0 * DRAWS as f64)).sqrt();
        let relative_error = (sample_sd(&draws) - sd) / sd;
        assert!(
            relative_error.abs() <= STANDARD_ERRORS * relative_standard_error,
            "sample sd is off by {:.2}%",
            relative_error * 100.0
        );

        let log_variance = w.ln();
        let median = (mean.ln() - log_variance / 2.0).exp();
        assert_close(lognormal.quantile(0.5), median, 1e-12);
        assert_fraction_below(&draws, median, 0.5);
    }

    #[test]
    fn uniform_draws_match_mean_and_quantile() {
        let uniform = Distribution::uniform(2.0, 5.0).unwrap();
        let draws = draws(&uniform, DRAWS);
        assert_mean_matches(&draws, 3.5, 3.0 / 12f64.sqrt());
        assert_fraction_below(&draws, uniform.quantile(0.2), 0.2);
    }

    #[test]
    fn triangular_draws_match_mean_and_quantile() {
        let (low, mode, high) = (0.6, 1.0, 1.5);
        let triangular = Distribution::triangular(low, mode, high).unwrap();
        let variance = (low * low + mode * mode + high * high - low * mode - low * high - mode * high) / 18.0;
        let draws = draws(&triangular, DRAWS);
        assert_mean_matches(&draws, (low + mode + high) / 3.0, variance.sqrt());
        assert_fraction_below(&draws, triangular.quantile(0.3), 0.3);
    }

    #[test]
    fn pert_draws_match_mean_and_quantile() {
        let (low, mode, high) = (0.6, 1.0, 1.5);
        let pert = Distribution::pert(low, mode, high).unwrap();
        let mean = (low + 4.0 * mode + high) / 6.0;
        let variance = (mean - low) * (high - mean) / 7.0;
        let draws = draws(&pert, DRAWS);
        assert_mean_matches(&draws, mean, variance.sqrt());
        assert_fraction_below(&draws, pert.quantile(0.75), 0.75);
    }

    #[test]
    fn scaled_beta_draws_match_mean_and_quantile() {
        let (alpha, beta, low, high) = (2.0, 5.0, 10.0, 20.0);
        let scaled_beta = Distribution::beta(alpha, beta, low, high).unwrap();
        let total = alpha + beta;
        let mean = low + (high - low) * alpha / total;
        let variance = (high - low).powi(2) * alpha * beta / (total * total * (total + 1.0));
        let draws = draws(&scaled_beta, DRAWS);
        assert_all_within(&draws, (low, high));
        assert_mean_matches(&draws, mean, variance.sqrt());
        assert_fraction_below(&draws, scaled_beta.quantile(0.25), 0.25);
    }

    #[test]
    fn discrete_frequencies_match_normalised_weights() {
        let discrete = Distribution::discrete(vec![3.0, 1.0, 2.0, 5.0], vec![2.0, 1.0, 0.0, 5.0]).unwrap();
        let draws = draws(&discrete, DRAWS);
        let count = DRAWS as f64;
        for (value, probability) in [(3.0, 0.25), (1.0, 0.125), (2.0, 0.0), (5.0, 0.625)] {
            let frequency = draws.iter().filter(|&&x| x == value).count() as f64 / count;
            let standard_error = (probability * (1.0 - probability) / count).sqrt();
            assert!(
                (frequency - probability).abs() <= STANDARD_ERRORS * standard_error,
                "value {value} drawn with frequency {frequency}, expected {probability}"
            );
        }
    }

    #[test]
    fn bernoulli_draws_are_zero_or_one_with_matching_mean() {
        let p = 0.3;
        let draws = draws(&Distribution::bernoulli(p).unwrap(), DRAWS);
        assert!(draws.iter().all(|&x| x == 0.0 || x == 1.0));
        assert_mean_matches(&draws, p, (p * (1.0 - p)).sqrt());
    }

    #[test]
    fn truncated_normal_stays_in_range_and_matches_closed_form_mean() {
        let (mu, sigma) = (0.1, 0.05);
        let standard = Normal::new(0.0, 1.0).unwrap();
        // x * phi(x), which vanishes at infinite bounds (where the product would be NaN).
        let x_density = |x: f64| {
            if x.is_finite() { x * standard.pdf(x) } else { 0.0 }
        };
        for (min, max) in [(Some(0.0), None), (Some(0.0), Some(0.12)), (None, Some(0.02))] {
            let truncated = Distribution::normal(mu, sigma).unwrap().truncated(min, max).unwrap();
            let range = (min.unwrap_or(f64::NEG_INFINITY), max.unwrap_or(f64::INFINITY));
            // With a, b the standardised bounds and Z = Phi(b) - Phi(a):
            // mean = mu + sigma (phi(a) - phi(b)) / Z,
            // variance = sigma^2 (1 + (a phi(a) - b phi(b)) / Z - ((phi(a) - phi(b)) / Z)^2).
            let (a, b) = ((range.0 - mu) / sigma, (range.1 - mu) / sigma);
            let kept = standard.cdf(b) - standard.cdf(a);
            let density_gap = (standard.pdf(a) - standard.pdf(b)) / kept;
            let mean = mu + sigma * density_gap;
            let variance = sigma.powi(2) * (1.0 + (x_density(a) - x_density(b)) / kept - density_gap.powi(2));
            assert_close(truncated.mean(), mean, 1e-12);
            assert_eq!(truncated.support(), range);

            let draws = draws(&truncated, DRAWS);
            assert_all_within(&draws, range);
            assert_mean_matches(&draws, mean, variance.sqrt());
        }
    }

    /// Checks a truncated continuous distribution against its untruncated reference CDF: support,
    /// mean (against numerical integration), draws in range with matching mean, and quantiles.
    /// The truncated sd has no convenient closed form, so the standard error uses the sample sd,
    /// which at 20k+ draws is within about 1% of the true sd.
    fn check_truncation(
        distribution: Distribution,
        (min, max): (Option<f64>, Option<f64>),
        reference_cdf: &dyn Fn(f64) -> f64,
        draw_count: usize,
    ) {
        let (support_low, support_high) = distribution.support();
        let truncated = distribution.truncated(min, max).unwrap();
        let lower = min.map_or(support_low, |min| min.max(support_low));
        let upper = max.map_or(support_high, |max| max.min(support_high));
        assert_eq!(truncated.support(), (lower, upper));
        let mean = truncated.mean();
        assert_close(mean, reference_truncated_mean(reference_cdf, lower, upper), 1e-5 * (upper - lower));

        let draws = draws(&truncated, draw_count);
        assert_all_within(&draws, (lower, upper));
        assert_mean_matches(&draws, mean, sample_sd(&draws));
        assert_fraction_below(&draws, truncated.quantile(0.5), 0.5);

        let kept = reference_cdf(upper) - reference_cdf(lower);
        for p in [0.01, 0.3, 0.9] {
            let conditional_cdf = (reference_cdf(truncated.quantile(p)) - reference_cdf(lower)) / kept;
            assert_close(conditional_cdf, p, 1e-9);
        }
    }

    #[test]
    fn truncated_lognormal_matches_reference() {
        let log_variance = 1.25f64.ln();
        let reference = LogNormal::new(-log_variance / 2.0, log_variance.sqrt()).unwrap();
        let cdf = |x: f64| reference.cdf(x);
        let lognormal = || Distribution::lognormal(1.0, 0.5).unwrap();
        check_truncation(lognormal(), (Some(0.8), Some(2.0)), &cdf, DRAWS);
        check_truncation(lognormal(), (Some(-1.0), Some(3.0)), &cdf, DRAWS);
    }

    #[test]
    fn truncated_uniform_and_triangular_match_reference() {
        let uniform_cdf = |x: f64| ((x - 2.0) / 3.0).clamp(0.0, 1.0);
        check_truncation(Distribution::uniform(2.0, 5.0).unwrap(), (Some(3.0), Some(10.0)), &uniform_cdf, DRAWS);

        let reference = Triangular::new(0.6, 1.5, 1.0).unwrap();
        let cdf = |x: f64| reference.cdf(x);
        let triangular = || Distribution::triangular(0.6, 1.0, 1.5).unwrap();
        check_truncation(triangular(), (Some(0.7), Some(1.2)), &cdf, DRAWS);
        check_truncation(triangular(), (Some(1.1), None), &cdf, DRAWS);
        check_truncation(triangular(), (None, Some(0.9)), &cdf, DRAWS);
    }

    #[test]
    fn truncated_pert_and_beta_match_reference() {
        let pert_shape = pert_shape(0.6, 1.0, 1.5);
        let pert_cdf = |x: f64| pert_shape.cdf((x - 0.6) / 0.9);
        check_truncation(Distribution::pert(0.6, 1.0, 1.5).unwrap(), (Some(0.8), Some(1.3)), &pert_cdf, DRAWS);

        let u_shape = Beta::new(0.5, 0.5).unwrap();
        let u_cdf = |x: f64| u_shape.cdf((x - 10.0) / 10.0);
        check_truncation(Distribution::beta(0.5, 0.5, 10.0, 20.0).unwrap(), (None, Some(11.0)), &u_cdf, DRAWS);

        // Keeps 0.16% of the mass: the far tail of the tabulated quantile.
        let skewed = Beta::new(2.0, 5.0).unwrap();
        let skewed_cdf = |x: f64| skewed.cdf(x);
        check_truncation(Distribution::beta(2.0, 5.0, 0.0, 1.0).unwrap(), (Some(0.8), None), &skewed_cdf, 20_000);
    }

    #[test]
    fn beta_shapes_are_bounded_where_the_tabulated_quantile_is_exact() {
        let (low, high) = BETA_SHAPES;
        for alpha in [low, 0.5, 1.0, 7.0, high] {
            for beta in [low, 0.5, 1.0, 7.0, high] {
                let table = BetaQuantile::new(alpha, beta);
                assert!(table.max_error() <= super::super::beta_quantile::TOLERANCE, "Beta({alpha}, {beta})");
            }
        }
        assert_error(Distribution::beta(1e6, 1e6, 0.0, 1.0), "alpha", "alpha must lie in [0.2, 50], found 1000000");
        assert_error(Distribution::beta(2.0, 0.01, 0.0, 1.0), "beta", "beta must lie in [0.2, 50], found 0.01");
    }

    #[test]
    fn a_draw_keeps_its_rank_when_the_parameters_change() {
        // Comonotone variants: the same uniforms through two PERTs of different parameters.
        let (narrow, wide) =
            (Distribution::pert(30.0, 38.0, 50.0).unwrap(), Distribution::pert(20.0, 28.0, 60.0).unwrap());
        let (a, b) = (draws(&narrow, 2000), draws(&wide, 2000));
        for i in 0..a.len() {
            for j in 0..i {
                assert_eq!(a[i] < a[j], b[i] < b[j], "paths {i} and {j} swap ranks");
            }
        }
    }

    #[test]
    fn truncated_discrete_renormalises_kept_values() {
        let discrete = Distribution::discrete(vec![3.0, 1.0, 2.0, 5.0], vec![2.0, 1.0, 0.0, 5.0])
            .unwrap()
            .truncated(None, Some(4.0))
            .unwrap();
        assert_close(discrete.mean(), 7.0 / 3.0, 1e-12);
        assert_eq!(discrete.support(), (1.0, 3.0));
        let draws = draws(&discrete, DRAWS);
        assert!(draws.iter().all(|&x| x == 1.0 || x == 3.0));
        assert_fraction_below(&draws, 3.0, 1.0 / 3.0);
    }

    #[test]
    fn truncated_bernoulli_keeps_only_the_values_inside() {
        let ones = Distribution::bernoulli(0.3).unwrap().truncated(Some(0.5), None).unwrap();
        assert_eq!((ones.mean(), ones.support()), (1.0, (1.0, 1.0)));
        assert!(draws(&ones, 1000).iter().all(|&x| x == 1.0));
        let zeros = Distribution::bernoulli(0.3).unwrap().truncated(None, Some(0.5)).unwrap();
        assert_eq!((zeros.mean(), zeros.support()), (0.0, (0.0, 0.0)));
    }

    #[test]
    fn quantile_inverts_reference_cdfs() {
        let log_variance = 2f64.ln();
        let lognormal = LogNormal::new(-log_variance / 2.0, log_variance.sqrt()).unwrap();
        let normal = Normal::new(0.1, 0.05).unwrap();
        let triangular = Triangular::new(0.6, 1.5, 1.0).unwrap();
        // A width far from 1 catches a quantile that mixes up probability and distance.
        let wide_triangular = Triangular::new(10.0, 50.0, 20.0).unwrap();
        let pert = pert_shape(0.6, 1.0, 1.5);
        let beta = Beta::new(2.0, 5.0).unwrap();
        let cases: [(Distribution, &dyn Fn(f64) -> f64); 7] = [
            (Distribution::normal(0.1, 0.05).unwrap(), &|x| normal.cdf(x)),
            (Distribution::lognormal(1.0, 1.0).unwrap(), &|x| lognormal.cdf(x)),
            (Distribution::uniform(2.0, 5.0).unwrap(), &|x| (x - 2.0) / 3.0),
            (Distribution::triangular(0.6, 1.0, 1.5).unwrap(), &|x| triangular.cdf(x)),
            (Distribution::triangular(10.0, 20.0, 50.0).unwrap(), &|x| wide_triangular.cdf(x)),
            (Distribution::pert(0.6, 1.0, 1.5).unwrap(), &|x| pert.cdf((x - 0.6) / 0.9)),
            (Distribution::beta(2.0, 5.0, 10.0, 20.0).unwrap(), &|x| beta.cdf((x - 10.0) / 10.0)),
        ];
        for (distribution, cdf) in cases {
            for p in [0.001, 0.1, 0.5, 0.9, 0.999] {
                assert_close(cdf(distribution.quantile(p)), p, 1e-9);
            }
            let (low, high) = distribution.support();
            assert_eq!((distribution.quantile(0.0), distribution.quantile(1.0)), (low, high));
        }
    }

    #[test]
    fn truncated_quantile_reaches_the_bounds() {
        let truncated = Distribution::normal(0.0, 1.0).unwrap().truncated(Some(-1.0), None).unwrap();
        assert_eq!(truncated.quantile(0.0), -1.0);
        assert_eq!(truncated.quantile(1.0), f64::INFINITY);
    }

    #[test]
    fn discrete_quantile_is_smallest_value_reaching_p() {
        // Sorted: 1 (0.125), 2 (weight 0, never drawn), 3 (0.25), 5 (0.625).
        let discrete = Distribution::discrete(vec![3.0, 1.0, 2.0, 5.0], vec![2.0, 1.0, 0.0, 5.0]).unwrap();
        for (p, expected) in [(0.0, 1.0), (0.125, 1.0), (0.13, 3.0), (0.375, 3.0), (0.4, 5.0), (1.0, 5.0)] {
            assert_eq!(discrete.quantile(p), expected, "quantile({p})");
        }
    }

    #[test]
    #[should_panic(expected = "quantile needs p in [0, 1]")]
    fn quantile_outside_unit_interval_panics() {
        Distribution::normal(0.0, 1.0).unwrap().quantile(1.5);
    }

    #[test]
    fn untruncated_means_are_closed_form() {
        let cases = [
            (Distribution::normal(0.1, 0.05), 0.1),
            (Distribution::lognormal(100.0, 30.0), 100.0),
            (Distribution::uniform(2.0, 5.0), 3.5),
            (Distribution::triangular(0.6, 1.0, 1.5), 3.1 / 3.0),
            (Distribution::pert(0.6, 1.0, 1.5), 6.1 / 6.0),
            (Distribution::beta(2.0, 5.0, 10.0, 20.0), 10.0 + 20.0 / 7.0),
            (Distribution::discrete(vec![3.0, 1.0, 5.0], vec![2.0, 1.0, 5.0]), 4.0),
            (Distribution::bernoulli(0.3), 0.3),
        ];
        for (distribution, expected) in cases {
            let distribution = distribution.unwrap();
            assert_close(distribution.mean(), expected, 1e-12 * expected.abs());
        }
    }

    #[test]
    fn support_reflects_family_and_truncation() {
        let infinity = f64::INFINITY;
        let cases = [
            (Distribution::normal(0.0, 1.0), (-infinity, infinity)),
            (Distribution::normal(0.0, 1.0).and_then(|d| d.truncated(Some(0.0), None)), (0.0, infinity)),
            (Distribution::lognormal(1.0, 0.5), (0.0, infinity)),
            (Distribution::lognormal(1.0, 0.5).and_then(|d| d.truncated(Some(-5.0), Some(10.0))), (0.0, 10.0)),
            (Distribution::uniform(2.0, 5.0).and_then(|d| d.truncated(Some(3.0), Some(10.0))), (3.0, 5.0)),
            (Distribution::pert(0.6, 1.0, 1.5), (0.6, 1.5)),
            (Distribution::discrete(vec![1.0, 2.0, 9.0], vec![1.0, 1.0, 0.0]), (1.0, 2.0)),
            (Distribution::bernoulli(1.0), (1.0, 1.0)),
        ];
        for (distribution, expected) in cases {
            assert_eq!(distribution.unwrap().support(), expected);
        }
    }

    #[test]
    fn truncation_outside_the_support_changes_nothing_but_the_description() {
        let triangular = Distribution::triangular(0.0, 1.0, 2.0).unwrap();
        let truncated = triangular.clone().truncated(Some(-1.0), Some(3.0)).unwrap();
        assert_eq!(truncated.sampler, triangular.sampler);
        assert_eq!(truncated.describe(), "triangular(low=0, mode=1, high=2) truncated to [-1, 3]");
    }

    #[test]
    fn describe_is_short_and_uses_shortest_float_formatting() {
        let cases = [
            (
                Distribution::normal(0.1, 0.05).and_then(|d| d.truncated(Some(0.0), None)),
                "normal(mean=0.1, sd=0.05) truncated to [0, inf)",
            ),
            (Distribution::lognormal(100.0, 30.0), "lognormal(mean=100, sd=30)"),
            (
                Distribution::uniform(2.0, 5.0).and_then(|d| d.truncated(None, Some(4.0))),
                "uniform(low=2, high=5) truncated to (-inf, 4]",
            ),
            (Distribution::triangular(0.6, 1.0, 1.5), "triangular(low=0.6, mode=1, high=1.5)"),
            (Distribution::pert(0.6, 1.0, 1.5), "pert(low=0.6, mode=1, high=1.5)"),
            (Distribution::beta(2.0, 5.0, 0.0, 1.0), "beta(alpha=2, beta=5)"),
            (Distribution::beta(2.0, 5.0, 10.0, 20.0), "beta(alpha=2, beta=5, low=10, high=20)"),
            (
                Distribution::discrete(vec![3.0, 1.0, 2.0], vec![2.0, 1.0, 0.0]),
                "discrete(values=[3, 1, 2], weights=[2, 1, 0])",
            ),
            (
                Distribution::bernoulli(0.3).and_then(|d| d.truncated(Some(0.5), Some(2.0))),
                "bernoulli(p=0.3) truncated to [0.5, 2]",
            ),
            (
                Distribution::normal(0.0, 1.0)
                    .and_then(|d| d.truncated(Some(0.0), None))
                    .and_then(|d| d.truncated(Some(-1.0), Some(1.0))),
                "normal(mean=0, sd=1) truncated to [0, 1]",
            ),
        ];
        for (distribution, expected) in cases {
            assert_eq!(distribution.unwrap().describe(), expected);
        }
    }

    fn assert_error(result: Result<Distribution, DistributionError>, parameter: &str, message: &str) {
        let error = result.expect_err(message);
        assert_eq!((error.parameter(), error.to_string().as_str()), (parameter, message));
    }

    #[test]
    fn constructors_reject_invalid_parameters_naming_the_key() {
        let nan = f64::NAN;
        let infinity = f64::INFINITY;
        let cases = [
            (Distribution::normal(nan, 1.0), "mean", "mean must be a finite number, found NaN".to_owned()),
            (Distribution::normal(0.0, -1.0), "sd", "sd must be > 0, found -1".to_owned()),
            (Distribution::normal(0.0, infinity), "sd", "sd must be a finite number, found inf".to_owned()),
            (Distribution::lognormal(-1.0, 1.0), "mean", "mean must be > 0, found -1".to_owned()),
            (Distribution::lognormal(1.0, 0.0), "sd", "sd must be > 0, found 0".to_owned()),
            (
                Distribution::lognormal(1.0, 1e160),
                "sd",
                format!("sd = {} is too far from mean = 1 for double precision", 1e160),
            ),
            (Distribution::uniform(-infinity, 1.0), "low", "low must be a finite number, found -inf".to_owned()),
            (Distribution::uniform(3.0, 2.0), "high", "high must be > low = 3, found 2".to_owned()),
            (Distribution::uniform(1.0, 1.0), "high", "high must be > low = 1, found 1".to_owned()),
            (
                Distribution::uniform(-f64::MAX, f64::MAX),
                "high",
                format!("high = {} is too far from low = {} for double precision", f64::MAX, -f64::MAX),
            ),
            (
                Distribution::triangular(0.6, 2.0, 1.5),
                "mode",
                "mode must lie in [low, high] = [0.6, 1.5], found 2".to_owned(),
            ),
            (Distribution::triangular(0.6, nan, 1.5), "mode", "mode must be a finite number, found NaN".to_owned()),
            (Distribution::triangular(1.5, 1.0, 0.6), "high", "high must be > low = 1.5, found 0.6".to_owned()),
            (
                Distribution::pert(0.6, 0.5, 1.5),
                "mode",
                "mode must lie in [low, high] = [0.6, 1.5], found 0.5".to_owned(),
            ),
            (Distribution::pert(1.0, 1.0, 1.0), "high", "high must be > low = 1, found 1".to_owned()),
            (Distribution::pert(0.0, 1.0, infinity), "high", "high must be a finite number, found inf".to_owned()),
            (Distribution::beta(0.0, 2.0, 0.0, 1.0), "alpha", "alpha must be > 0, found 0".to_owned()),
            (Distribution::beta(2.0, -1.0, 0.0, 1.0), "beta", "beta must be > 0, found -1".to_owned()),
            (Distribution::beta(2.0, 2.0, 1.0, 0.0), "high", "high must be > low = 1, found 0".to_owned()),
            (Distribution::discrete(vec![], vec![]), "values", "values must not be empty".to_owned()),
            (
                Distribution::discrete(vec![1.0, 2.0, 3.0], vec![1.0, 2.0]),
                "weights",
                "weights must have one entry per value (3 values), found 2".to_owned(),
            ),
            (
                Distribution::discrete(vec![1.0, nan], vec![1.0, 1.0]),
                "values",
                "values[1] must be a finite number, found NaN".to_owned(),
            ),
            (
                Distribution::discrete(vec![1.0, 2.0], vec![1.0, infinity]),
                "weights",
                "weights[1] must be a finite number, found inf".to_owned(),
            ),
            (
                Distribution::discrete(vec![1.0, 2.0], vec![1.0, -0.5]),
                "weights",
                "weights[1] must be >= 0, found -0.5".to_owned(),
            ),
            (
                Distribution::discrete(vec![1.0, 2.0], vec![0.0, 0.0]),
                "weights",
                "weights must not all be zero".to_owned(),
            ),
            (Distribution::bernoulli(1.5), "p", "p must lie in [0, 1], found 1.5".to_owned()),
            (Distribution::bernoulli(nan), "p", "p must be a finite number, found NaN".to_owned()),
        ];
        for (result, parameter, message) in cases {
            assert_error(result, parameter, &message);
        }
    }

    #[test]
    fn truncation_rejects_empty_bounds_and_negligible_mass() {
        let normal = || Distribution::normal(0.0, 1.0).unwrap();
        let cases = [
            (normal().truncated(Some(nan_bound()), None), "min", "min must be a finite number, found NaN"),
            (normal().truncated(None, Some(f64::INFINITY)), "max", "max must be a finite number, found inf"),
            (normal().truncated(Some(1.0), Some(1.0)), "max", "max must be > min = 1, found 1"),
            (
                normal().truncated(Some(0.5), None).and_then(|d| d.truncated(None, Some(0.2))),
                "max",
                "max must be > min = 0.5, found 0.2",
            ),
            (
                normal().truncated(Some(4.0), None),
                "min",
                "truncation to [4, inf) keeps only 0.0000317 of the probability mass, below the minimum of 0.001",
            ),
            (
                normal().truncated(None, Some(-4.0)),
                "max",
                "truncation to (-inf, -4] keeps only 0.0000317 of the probability mass, below the minimum of 0.001",
            ),
            (
                normal().truncated(Some(-10.0), Some(-4.0)),
                "max",
                "truncation to [-10, -4] keeps only 0.0000317 of the probability mass, below the minimum of 0.001",
            ),
            (
                Distribution::lognormal(1.0, 0.5).unwrap().truncated(None, Some(0.0)),
                "max",
                "truncation to (-inf, 0] keeps only 0 of the probability mass, below the minimum of 0.001",
            ),
            (
                Distribution::uniform(0.0, 1.0).unwrap().truncated(Some(2.0), Some(3.0)),
                "min",
                "truncation to [2, 3] keeps only 0 of the probability mass, below the minimum of 0.001",
            ),
            (
                Distribution::discrete(vec![1.0, 2.0], vec![1.0, 1.0]).unwrap().truncated(Some(5.0), None),
                "min",
                "truncation to [5, inf) keeps only 0 of the probability mass, below the minimum of 0.001",
            ),
            (
                Distribution::discrete(vec![1.0, 2.0], vec![1.0, 9999.0]).unwrap().truncated(None, Some(1.5)),
                "max",
                "truncation to (-inf, 1.5] keeps only 0.0001 of the probability mass, below the minimum of 0.001",
            ),
            (
                Distribution::bernoulli(0.0).unwrap().truncated(Some(0.5), None),
                "min",
                "truncation to [0.5, inf) keeps only 0 of the probability mass, below the minimum of 0.001",
            ),
        ];
        for (result, parameter, message) in cases {
            assert_error(result, parameter, message);
        }
    }

    fn nan_bound() -> f64 {
        f64::NAN
    }
}
