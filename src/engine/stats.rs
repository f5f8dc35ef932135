//! Mergeable summary statistics: moments and a relative-error quantile sketch.
//!
//! Both summaries take values a slice at a time (one slot's values across a block of paths),
//! use memory independent of the number of values, and merge deterministically: `Moments` in
//! whatever fixed order the caller chooses, `QuantileSketch` in any order (integer counts).

use serde::{Deserialize, Serialize};

use super::MAX_MAGNITUDE;

/// What makes a summary read back from a file one that no run could have produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSummary {
    #[error("a mean or spread is not a finite number within ±{MAX_MAGNITUDE:e}")]
    Moments,
    #[error("a percentile sketch's bucket counts do not add up to its count")]
    Counts,
    #[error("a percentile sketch's buckets lie outside the range of finite numbers")]
    Buckets,
    #[error("a percentile sketch's smallest or largest value is out of range or outside its buckets")]
    Extremes,
}

/// Count, mean and sum of squared deviations of a set of values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Moments {
    count: u64,
    mean: f64,
    m2: f64,
}

/// Independent accumulators for per-slice reductions: they break the serial dependency of a
/// single running sum (or min/max) so the loop can use SIMD lanes, while keeping a fixed order.
const LANES: usize = 4;

impl Moments {
    /// Moments of one block, from sums of deviations from the block's first value. Shifting keeps
    /// the sums small (no cancellation against a large mean) and makes a block of identical
    /// values come out with exactly zero variance.
    pub fn from_slice(values: &[f64]) -> Self {
        let Some(&shift) = values.first() else {
            return Self::default();
        };
        // Two passes over values that sit in L1, each a plain vector loop: in one pass, the
        // compiler paired each lane's two sums in a register, at twice the instructions. Each
        // sum still adds the same values in the same order.
        let deviation_sums = lane_sums(values, |value| value - shift);
        let squared_sums = lane_sums(values, |value| (value - shift) * (value - shift));
        let deviation_sum: f64 = deviation_sums.iter().sum();
        let squared_sum: f64 = squared_sums.iter().sum();
        let count = values.len() as u64;
        let mean_offset = deviation_sum / count as f64;
        // Rounding can push the difference a hair below zero when the spread is tiny.
        let m2 = (squared_sum - deviation_sum * mean_offset).max(0.0);
        Self { count, mean: shift + mean_offset, m2 }
    }

    /// Chan et al. parallel merge. Merging an empty `Moments` is a no-op either way round.
    pub fn merge(&mut self, other: &Moments) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = *other;
            return;
        }
        let count = self.count + other.count;
        let (own_weight, other_weight) = (self.count as f64, other.count as f64);
        let total_weight = count as f64;
        let delta = other.mean - self.mean;
        self.mean += delta * (other_weight / total_weight);
        self.m2 += other.m2 + delta * delta * (own_weight * other_weight / total_weight);
        self.count = count;
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// NaN when there are no values.
    pub fn mean(&self) -> f64 {
        if self.count == 0 { f64::NAN } else { self.mean }
    }

    /// Sample variance (divisor n - 1): 0 for a single value, NaN when there are none.
    pub fn variance(&self) -> f64 {
        match self.count {
            0 => f64::NAN,
            1 => 0.0,
            count => self.m2 / (count - 1) as f64,
        }
    }

    pub fn std_dev(&self) -> f64 {
        self.variance().sqrt()
    }

    /// Standard error of the mean: `std_dev / sqrt(count)`.
    pub fn std_error(&self) -> f64 {
        self.std_dev() / (self.count as f64).sqrt()
    }

    /// Whether these moments could come from values within ±[`MAX_MAGNITUDE`] (the engine
    /// refuses any other): then merging them with others keeps every statistic finite.
    pub fn check(&self) -> Result<(), InvalidSummary> {
        let largest_m2 = self.count as f64 * (2.0 * MAX_MAGNITUDE) * (2.0 * MAX_MAGNITUDE);
        let valid = if self.count == 0 {
            self.mean == 0.0 && self.m2 == 0.0
        } else {
            self.mean.abs() <= MAX_MAGNITUDE && (0.0..=largest_m2).contains(&self.m2)
        };
        if valid { Ok(()) } else { Err(InvalidSummary::Moments) }
    }
}

/// Linear sub-buckets per power of two, as a bit count: each bucket spans 1/128 of its octave.
const SUB_BUCKET_BITS: u32 = 7;
const SUB_BUCKETS: u64 = 1 << SUB_BUCKET_BITS;
/// Shifting an f64's bits right by this keeps the exponent and the top `SUB_BUCKET_BITS` mantissa
/// bits: the bucket key, monotone in the magnitude.
const KEY_SHIFT: u32 = f64::MANTISSA_DIGITS - 1 - SUB_BUCKET_BITS;
/// Magnitudes whose bits are below this (zero and subnormals) go to the zero count.
const MIN_POSITIVE_BITS: u64 = f64::MIN_POSITIVE.to_bits();

/// Relative accuracy guaranteed by `QuantileSketch::quantile` (documented bound): half a bucket
/// width relative to the bucket's lower bound. It holds for order statistics with magnitude at
/// least `f64::MIN_POSITIVE`; subnormals are counted as zero.
pub const SKETCH_RELATIVE_ACCURACY: f64 = 1.0 / (2 * SUB_BUCKETS) as f64;

fn bucket_key(magnitude: f64) -> u64 {
    magnitude.to_bits() >> KEY_SHIFT
}

/// Midpoint of the bucket's lower bound `key << KEY_SHIFT` and upper bound
/// `(key + 1) << KEY_SHIFT`. Both bounds share one exponent, so the midpoint is the lower bound
/// plus half a bucket width, which is just the next lower mantissa bit: exact, and finite even
/// for the top bucket, whose upper bound is infinity.
fn bucket_midpoint(key: u64) -> f64 {
    f64::from_bits((key << KEY_SHIFT) | (1 << (KEY_SHIFT - 1)))
}

/// Sums of `term(value)` in [`LANES`] independent accumulators, value `i` in lane `i % LANES`.
#[inline(always)]
fn lane_sums(values: &[f64], term: impl Fn(f64) -> f64) -> [f64; LANES] {
    let mut sums = [0.0; LANES];
    let chunks = values.chunks_exact(LANES);
    let remainder = chunks.remainder();
    for chunk in chunks {
        for lane in 0..LANES {
            sums[lane] += term(chunk[lane]);
        }
    }
    for (lane, &value) in remainder.iter().enumerate() {
        sums[lane] += term(value);
    }
    sums
}

/// Independent lanes of [`slice_extremes`]: enough to hide the compares' latency.
const EXTREME_LANES: usize = 8;

/// The smallest and largest of `values` (infinities when empty), in a pass over independent
/// lanes: a single running min/max is a serial dependency chain that would dominate the cost of
/// bucketing.
fn slice_extremes(values: &[f64]) -> (f64, f64) {
    let mut mins = [f64::INFINITY; EXTREME_LANES];
    let mut maxes = [f64::NEG_INFINITY; EXTREME_LANES];
    let chunks = values.chunks_exact(EXTREME_LANES);
    let remainder = chunks.remainder();
    for chunk in chunks {
        for lane in 0..EXTREME_LANES {
            update_extremes_with(&mut mins[lane], &mut maxes[lane], chunk[lane]);
        }
    }
    for (lane, &value) in remainder.iter().enumerate() {
        update_extremes_with(&mut mins[lane], &mut maxes[lane], value);
    }
    let (min, max) =
        (mins.into_iter().fold(f64::INFINITY, f64::min), maxes.into_iter().fold(f64::NEG_INFINITY, f64::max));
    // Comparisons keep whichever zero came first when -0.0 meets 0.0, which would make the
    // extremes depend on insertion and merge order; adding +0.0 turns -0.0 into 0.0 and leaves
    // every other value unchanged. Once, on the result: on every value it kept the compiler from
    // turning the compares into plain minimum and maximum instructions, at four times the cost.
    (min + 0.0, max + 0.0)
}

/// A bucket's count. u32 in a sketch that is kept: runs are capped at `MAX_PATHS` (1e8), far below
/// 2^32, and u32 halves the memory of u64. u16 in a worker's [`LocalSketch`], which halves it
/// again where the engine's hot loop walks it.
pub trait Counter: Copy + Default + std::ops::AddAssign + Into<u64> {
    const ONE: Self;
    /// `times` as a count; never more than the counter holds (the caller's bound).
    fn of(times: u32) -> Self;
}

impl Counter for u32 {
    const ONE: u32 = 1;
    fn of(times: u32) -> u32 {
        times
    }
}

impl Counter for u16 {
    const ONE: u16 = 1;
    fn of(times: u32) -> u16 {
        debug_assert!(times <= u32::from(u16::MAX), "{times} values at once in a 16-bit count");
        times as u16
    }
}

/// Counts per bucket key over a contiguous key range that grows in either direction as needed
/// (a DDSketch-style dense store). The range always covers whole octaves, so it grows rarely and
/// two stores' ranges merge without partial octaves.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct BucketCounts<C> {
    first_key: u64,
    counts: Vec<C>,
}

impl<C: Counter> BucketCounts<C> {
    #[inline]
    fn add(&mut self, key: u64, times: u32) {
        let times = C::of(times);
        // A key below `first_key` wraps to a huge index, so one bounds check covers both sides.
        let index = key.wrapping_sub(self.first_key) as usize;
        match self.counts.get_mut(index) {
            Some(count) => *count += times,
            None => self.add_outside(key, times),
        }
    }

    /// Counts every value of a slice whose magnitudes' keys lie in `low..=high` (one sign, none
    /// zero): the range is covered once, so each value is a plain increment.
    fn add_all(&mut self, values: &[f64], low: u64, high: u64) {
        self.cover(low, high);
        let first_key = self.first_key;
        for value in values {
            let index = bucket_key(value.abs()).wrapping_sub(first_key) as usize;
            self.counts[index] += C::ONE;
        }
    }

    #[cold]
    #[inline(never)]
    fn add_outside(&mut self, key: u64, times: C) {
        self.cover(key, key);
        self.counts[(key - self.first_key) as usize] += times;
    }

    /// Widens the range to include keys `low..=high`, rounded out to whole octaves.
    fn cover(&mut self, low: u64, high: u64) {
        let (low, high) = match self.last_key() {
            Some(last_key) => (low.min(self.first_key), high.max(last_key)),
            None => (low, high),
        };
        let first_key = low & !(SUB_BUCKETS - 1);
        let last_key = high | (SUB_BUCKETS - 1);
        if self.last_key().is_some_and(|last| first_key == self.first_key && last_key == last) {
            return;
        }
        let mut counts = vec![C::default(); (last_key - first_key + 1) as usize];
        if !self.counts.is_empty() {
            let start = (self.first_key - first_key) as usize;
            counts[start..start + self.counts.len()].copy_from_slice(&self.counts);
        }
        self.first_key = first_key;
        self.counts = counts;
    }

    fn last_key(&self) -> Option<u64> {
        (!self.counts.is_empty()).then(|| self.first_key + self.counts.len() as u64 - 1)
    }

    fn merge<D: Counter>(&mut self, other: &BucketCounts<D>)
    where
        C: From<D>,
    {
        let Some(other_last_key) = other.last_key() else {
            return;
        };
        self.cover(other.first_key, other_last_key);
        let start = (other.first_key - self.first_key) as usize;
        for (count, &other_count) in self.counts[start..].iter_mut().zip(&other.counts) {
            *count += C::from(other_count);
        }
    }

    /// Zeroes every count and keeps the key range, so refilling allocates nothing.
    fn clear_counts(&mut self) {
        self.counts.fill(C::default());
    }

    /// Whether the store spans only keys of finite magnitudes (so its length is bounded too).
    fn spans_finite_keys(&self) -> bool {
        let lowest = bucket_key(f64::MIN_POSITIVE) & !(SUB_BUCKETS - 1);
        let highest = bucket_key(f64::MAX) | (SUB_BUCKETS - 1);
        self.counts.is_empty()
            || (self.first_key >= lowest
                && self.first_key.checked_add(self.counts.len() as u64 - 1).is_some_and(|last| last <= highest))
    }

    fn total(&self) -> u64 {
        self.counts.iter().map(|&count| count.into()).sum()
    }

    /// Nonzero buckets as (key, count), in ascending key order.
    fn buckets(&self) -> impl DoubleEndedIterator<Item = (u64, u64)> + '_ {
        let first_key = self.first_key;
        self.counts
            .iter()
            .enumerate()
            .map(move |(index, &count)| (first_key + index as u64, count.into()))
            .filter(|&(_, count)| count > 0)
    }
}

/// Log-linear histogram of f64 values (HDR-histogram style) with relative-error quantiles.
///
/// Values are bucketed by the bit pattern of their magnitude (128 linear buckets per power of
/// two), with separate stores for positive and negative values and a count for zeros. Memory
/// depends on how many octaves the values span (1 KiB per octave per sign), not on how many
/// values there are.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct QuantileSketch<C = u32> {
    count: u64,
    zero_count: u64,
    positive: BucketCounts<C>,
    /// Negative values, keyed by magnitude.
    negative: BucketCounts<C>,
    min: f64,
    max: f64,
}

/// A worker's sketch between two additions into a kept [`QuantileSketch`]
/// ([`QuantileSketch::take_counts`]): 16-bit counts, half the memory the hot loop walks. It takes
/// at most [`LOCAL_SKETCH_VALUES`] values between additions, so no count can overflow.
pub type LocalSketch = QuantileSketch<u16>;

/// The most values a [`LocalSketch`] takes between two additions into a kept sketch.
pub const LOCAL_SKETCH_VALUES: u64 = u16::MAX as u64;

impl<C: Counter> Default for QuantileSketch<C> {
    fn default() -> Self {
        // Infinite sentinels let min/max update without an emptiness check; `count` says
        // whether they are meaningful.
        Self {
            count: 0,
            zero_count: 0,
            positive: BucketCounts::default(),
            negative: BucketCounts::default(),
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
}

impl<C: Counter> QuantileSketch<C> {
    pub fn insert(&mut self, value: f64) {
        self.insert_slice(std::slice::from_ref(&value));
    }

    /// Values must be finite; magnitudes below `f64::MIN_POSITIVE` (subnormals) count as zero.
    pub fn insert_slice(&mut self, values: &[f64]) {
        let (min, max) = slice_extremes(values);
        self.min = self.min.min(min);
        self.max = self.max.max(max);
        self.count += values.len() as u64;
        if min == max {
            // Many slots hold one value on every path of a block (a term that does not vary, a
            // flow before a deal starts): one bucket takes them all, instead of a chain of
            // increments to the same counter.
            self.insert_repeated(min, values.len() as u32);
            return;
        }
        if min.to_bits() >= MIN_POSITIVE_BITS && min > 0.0 {
            // All positive (most slots: revenue, spend, value): one store, no branch per value.
            self.positive.add_all(values, bucket_key(min), bucket_key(max));
            return;
        }
        if max < 0.0 && (-max).to_bits() >= MIN_POSITIVE_BITS {
            self.negative.add_all(values, bucket_key(-max), bucket_key(-min));
            return;
        }
        for &value in values {
            self.insert_repeated(value, 1);
        }
    }

    #[inline]
    fn insert_repeated(&mut self, value: f64, times: u32) {
        debug_assert!(value.is_finite(), "quantile sketch given a non-finite value {value}");
        let magnitude = value.abs();
        if magnitude.to_bits() < MIN_POSITIVE_BITS {
            self.zero_count += u64::from(times);
        } else if value.is_sign_negative() {
            self.negative.add(bucket_key(magnitude), times);
        } else {
            self.positive.add(bucket_key(magnitude), times);
        }
    }
}

impl QuantileSketch {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a worker's local sketch into this one and empties it (keeping its bucket ranges):
    /// the same as having inserted its values here.
    pub fn take_counts(&mut self, local: &mut LocalSketch) {
        self.merge(local);
        local.positive.clear_counts();
        local.negative.clear_counts();
        let (positive, negative) = (std::mem::take(&mut local.positive), std::mem::take(&mut local.negative));
        *local = LocalSketch { positive, negative, ..LocalSketch::default() };
    }

    /// Adds another sketch's counts. Exactly commutative and associative.
    pub fn merge<D: Counter>(&mut self, other: &QuantileSketch<D>)
    where
        u32: From<D>,
    {
        self.count += other.count;
        self.zero_count += other.zero_count;
        self.positive.merge(&other.positive);
        self.negative.merge(&other.negative);
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// How many inserted values were strictly positive (exact).
    pub fn count_positive(&self) -> u64 {
        self.positive.counts.iter().map(|&c| u64::from(c)).sum()
    }

    /// Exact smallest inserted value.
    pub fn min(&self) -> Option<f64> {
        (self.count > 0).then_some(self.min)
    }

    /// Exact largest inserted value.
    pub fn max(&self) -> Option<f64> {
        (self.count > 0).then_some(self.max)
    }

    /// Whether the sketch could have been built by inserting values within ±[`MAX_MAGNITUDE`]:
    /// counts that add up, buckets of finite magnitudes, and extremes that fall in the outermost
    /// occupied buckets. Every method is then as safe as on a sketch the engine built.
    pub fn check(&self) -> Result<(), InvalidSummary> {
        if !self.positive.spans_finite_keys() || !self.negative.spans_finite_keys() {
            return Err(InvalidSummary::Buckets);
        }
        let total =
            self.zero_count.checked_add(self.positive.total()).and_then(|n| n.checked_add(self.negative.total()));
        if total != Some(self.count) {
            return Err(InvalidSummary::Counts);
        }
        if self.count == 0 {
            // The sentinels of `Default`, which merging empty sketches keeps.
            let empty = self.min == f64::INFINITY && self.max == f64::NEG_INFINITY;
            return if empty { Ok(()) } else { Err(InvalidSummary::Extremes) };
        }
        let in_range = |value: f64| value.abs() <= MAX_MAGNITUDE;
        let lowest = match self.negative.buckets().next_back() {
            Some((key, _)) => -1 - i128::from(key),
            None if self.zero_count > 0 => 0,
            None => self.positive.buckets().next().map_or(0, |(key, _)| 1 + i128::from(key)),
        };
        let highest = match self.positive.buckets().next_back() {
            Some((key, _)) => 1 + i128::from(key),
            None if self.zero_count > 0 => 0,
            None => self.negative.buckets().next().map_or(0, |(key, _)| -1 - i128::from(key)),
        };
        let valid = in_range(self.min)
            && in_range(self.max)
            && self.min <= self.max
            && bucket_position(self.min) == lowest
            && bucket_position(self.max) == highest;
        if valid { Ok(()) } else { Err(InvalidSummary::Extremes) }
    }

    /// Estimate of the order statistic x_(r) of the inserted values, r = round(q * (count - 1))
    /// (0-based, sorted ascending), within `SKETCH_RELATIVE_ACCURACY` relative error of it,
    /// clamped to [min, max]. None when empty. q outside [0, 1] is clamped.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let rank = rank(q, self.count);
        // Ascending order: negatives from the largest magnitude down, zeros, then positives.
        let negatives = self.negative.buckets().rev().map(|(key, count)| (-bucket_midpoint(key), count));
        let zeros = std::iter::once((0.0, self.zero_count));
        let positives = self.positive.buckets().map(|(key, count)| (bucket_midpoint(key), count));
        let mut seen = 0;
        let estimate = negatives
            .chain(zeros)
            .chain(positives)
            .find(|&(_, count)| {
                seen += count;
                seen > rank
            })
            .map(|(value, _)| value)
            .expect("bucket counts add up to the sketch count");
        // Not `clamp`, which panics when min > max or either is NaN: inserting nothing but NaN
        // leaves the sentinels min = inf, max = -inf. The engine never inserts NaN; a report
        // still must not panic.
        Some(estimate.max(self.min).min(self.max))
    }
}

/// How many inserted values exceed a threshold, as the sketch can tell: `above` surely do;
/// `undecided` share the threshold's bucket (within `SKETCH_RELATIVE_ACCURACY` of it) and may or
/// may not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CountAbove {
    pub above: u64,
    pub undecided: u64,
}

impl QuantileSketch {
    /// The values above `threshold`. Exact where the threshold is at or beyond the extremes, or
    /// zero (zeros are stored apart); otherwise within the threshold's bucket.
    pub fn count_above(&self, threshold: f64) -> CountAbove {
        if self.count == 0 || threshold >= self.max {
            return CountAbove { above: 0, undecided: 0 };
        }
        if threshold < self.min {
            return CountAbove { above: self.count, undecided: 0 };
        }
        let position = bucket_position(threshold);
        let negatives = self.negative.buckets().map(|(key, count)| (-1 - i128::from(key), count));
        let positives = self.positive.buckets().map(|(key, count)| (1 + i128::from(key), count));
        let (mut above, mut undecided) = (0, 0);
        for (bucket, count) in negatives.chain(positives) {
            if bucket > position {
                above += count;
            } else if bucket == position {
                undecided += count;
            }
        }
        // Zeros (position 0) are exactly zero.
        if threshold < 0.0 {
            above += self.zero_count;
        }
        CountAbove { above, undecided }
    }
}

/// Where a value's bucket lies in ascending order: negatives by descending magnitude key, zero
/// (and subnormals), then positives by ascending key.
fn bucket_position(value: f64) -> i128 {
    let magnitude = value.abs();
    if magnitude.to_bits() < MIN_POSITIVE_BITS {
        0
    } else if value.is_sign_negative() {
        -1 - i128::from(bucket_key(magnitude))
    } else {
        1 + i128::from(bucket_key(magnitude))
    }
}

#[inline]
fn update_extremes_with(min: &mut f64, max: &mut f64, value: f64) {
    if value < *min {
        *min = value;
    }
    if value > *max {
        *max = value;
    }
}

/// 0-based rank of the q-quantile among `count` sorted values: round(q * (count - 1)).
fn rank(q: f64, count: u64) -> u64 {
    debug_assert!(!q.is_nan(), "quantile of NaN");
    // The float-to-int cast saturates; `min` guards the top against rounding for huge counts.
    ((q.clamp(0.0, 1.0) * (count - 1) as f64).round() as u64).min(count - 1)
}

/// Exact order statistic with the same rank convention as `QuantileSketch::quantile`, on an
/// ascending-sorted slice. None when the slice is empty.
pub fn exact_quantile(sorted: &[f64], q: f64) -> Option<f64> {
    debug_assert!(sorted.is_sorted(), "exact_quantile needs ascending-sorted values");
    if sorted.is_empty() {
        return None;
    }
    Some(sorted[rank(q, sorted.len() as u64) as usize])
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use rand_distr::{Distribution, Exp, LogNormal, Normal};
    use rand_xoshiro::Xoshiro256PlusPlus;

    #[test]
    fn counts_above_a_threshold_bracket_the_exact_count() {
        let values: Vec<f64> = (0..10_000).map(|i| (i as f64 - 3_000.0) * 1.37e6).collect();
        let mut sketch = QuantileSketch::new();
        sketch.insert_slice(&values);
        for threshold in [-5e9, -1e6, -0.0, 0.0, 1.0, 2.5e9, 9.6e9, 1e10, values[9_999], -1e12] {
            let exact = values.iter().filter(|&&v| v > threshold).count() as u64;
            let CountAbove { above, undecided } = sketch.count_above(threshold);
            assert!(above <= exact && exact <= above + undecided, "{threshold}: {above} + {undecided} vs {exact}");
            // The undecided values lie within the threshold's bucket: a sliver of the range.
            assert!(undecided <= 60, "{threshold}: {undecided}");
        }
        assert_eq!(sketch.count_above(0.0), CountAbove { above: 6_999, undecided: 0 });
        assert_eq!(sketch.count_above(-1.0), CountAbove { above: 7_000, undecided: 0 });
        assert_eq!(sketch.count_above(f64::MAX), CountAbove { above: 0, undecided: 0 });
        assert_eq!(QuantileSketch::new().count_above(0.0), CountAbove { above: 0, undecided: 0 });
    }

    const SAMPLES: usize = 100_000;
    const QUANTILES: [f64; 9] = [0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0];
    const BLOCK: usize = 256;

    fn rng(seed: u64) -> Xoshiro256PlusPlus {
        Xoshiro256PlusPlus::seed_from_u64(seed)
    }

    fn sample(distribution: impl Distribution<f64>, seed: u64) -> Vec<f64> {
        distribution.sample_iter(rng(seed)).take(SAMPLES).collect()
    }

    fn sketch_of(values: &[f64]) -> QuantileSketch {
        let mut sketch = QuantileSketch::new();
        for block in values.chunks(BLOCK) {
            sketch.insert_slice(block);
        }
        sketch
    }

    fn sorted(values: &[f64]) -> Vec<f64> {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        sorted
    }

    fn assert_quantiles_accurate(values: &[f64]) {
        let sketch = sketch_of(values);
        let sorted = sorted(values);
        assert_eq!(sketch.count(), values.len() as u64);
        assert_eq!(sketch.min(), sorted.first().copied());
        assert_eq!(sketch.max(), sorted.last().copied());
        for q in QUANTILES {
            let exact = exact_quantile(&sorted, q).unwrap();
            let estimate = sketch.quantile(q).unwrap();
            if exact == 0.0 {
                assert_eq!(estimate, 0.0, "q = {q}");
            } else {
                let error = (estimate - exact).abs();
                assert!(
                    error <= SKETCH_RELATIVE_ACCURACY * exact.abs(),
                    "q = {q}: estimate {estimate}, exact {exact}, relative error {}",
                    error / exact.abs()
                );
            }
        }
    }

    #[test]
    fn quantiles_of_heavy_right_tail_are_accurate() {
        assert_quantiles_accurate(&sample(LogNormal::new(0.0, 1.5).unwrap(), 1));
    }

    #[test]
    fn quantiles_of_mixed_signs_near_zero_are_accurate() {
        assert_quantiles_accurate(&sample(Normal::new(0.0, 1.0).unwrap(), 2));
    }

    #[test]
    fn quantiles_with_many_exact_zeros_are_accurate() {
        let mut rng = rng(3);
        let exponential = Exp::new(1e-3).unwrap();
        let values: Vec<f64> =
            (0..SAMPLES).map(|_| if rng.random_bool(0.4) { 0.0 } else { exponential.sample(&mut rng) }).collect();
        assert_quantiles_accurate(&values);
    }

    #[test]
    fn quantiles_of_money_sized_values_are_accurate() {
        let mut rng = rng(4);
        let values: Vec<f64> = (0..SAMPLES).map(|_| rng.random_range(1e9..5e11)).collect();
        assert_quantiles_accurate(&values);
    }

    #[test]
    fn quantiles_of_negative_values_are_accurate() {
        let values: Vec<f64> = sample(LogNormal::new(3.0, 0.5).unwrap(), 5).iter().map(|value| -value).collect();
        assert_quantiles_accurate(&values);
    }

    #[test]
    fn worst_case_bucket_position_stays_within_bound() {
        // A bucket's lower bound is as far from its midpoint, relatively, as a value gets; the
        // neighbours keep the clamp to [min, max] from hiding the estimate.
        let top_bucket_lower_bound = f64::from_bits(f64::MAX.to_bits() >> KEY_SHIFT << KEY_SHIFT);
        let cases = [1.0, 1024.0, -0.5, 2.0 * f64::MIN_POSITIVE, 2f64.powi(1022)]
            .map(|value| [value / 2.0, value, value * 2.0])
            .into_iter()
            .chain([[1.0, top_bucket_lower_bound, f64::MAX]]);
        for values in cases {
            let sketch = sketch_of(&values);
            let (estimate, exact) = (sketch.quantile(0.5).unwrap(), values[1]);
            assert!((estimate - exact).abs() <= SKETCH_RELATIVE_ACCURACY * exact.abs(), "{exact}: {estimate}");
            assert_ne!(estimate, exact, "the estimate is the bucket midpoint, not the value");
        }
    }

    #[test]
    fn quantile_clamps_q_and_estimates_to_the_exact_extremes() {
        let values = [3.0, -7.25, 0.0, 12.5, 1e-3];
        let sketch = sketch_of(&values);
        assert_eq!(sketch.quantile(-1.0), Some(-7.25));
        assert_eq!(sketch.quantile(0.0), Some(-7.25));
        assert_eq!(sketch.quantile(1.0), Some(12.5));
        assert_eq!(sketch.quantile(7.0), Some(12.5));
        let mut single = QuantileSketch::new();
        single.insert(4.1);
        for q in QUANTILES {
            assert_eq!(single.quantile(q), Some(4.1));
        }
    }

    #[test]
    fn empty_sketch_has_no_quantiles_or_extremes() {
        let sketch = QuantileSketch::new();
        assert_eq!(sketch.count(), 0);
        assert_eq!(sketch.quantile(0.5), None);
        assert_eq!(sketch.min(), None);
        assert_eq!(sketch.max(), None);
    }

    #[test]
    fn subnormals_count_as_zero_but_keep_exact_extremes() {
        let tiny = f64::MIN_POSITIVE / 4.0;
        let sketch = sketch_of(&[-tiny, tiny, tiny, 1.0]);
        assert_eq!(sketch.zero_count, 3);
        assert_eq!(sketch.min(), Some(-tiny));
        assert_eq!(sketch.quantile(0.5), Some(0.0));
    }

    #[test]
    fn signed_zero_extremes_do_not_depend_on_order() {
        let forward = sketch_of(&[-0.0, 0.0]);
        let backward = sketch_of(&[0.0, -0.0]);
        assert_eq!(forward.min().unwrap().to_bits(), backward.min().unwrap().to_bits());
        assert_eq!(forward.max().unwrap().to_bits(), backward.max().unwrap().to_bits());
    }

    #[test]
    fn store_size_follows_octaves_spanned_not_count() {
        let mut rng = rng(6);
        let mut sketch = QuantileSketch::new();
        for _ in 0..SAMPLES / BLOCK {
            let block: Vec<f64> = (0..BLOCK).map(|_| rng.random_range(1.0..8.0)).collect();
            sketch.insert_slice(&block);
        }
        assert_eq!(sketch.positive.counts.len() as u64, 3 * SUB_BUCKETS);
        assert!(sketch.negative.counts.is_empty());
    }

    fn assert_same_sketch(left: &QuantileSketch, right: &QuantileSketch) {
        assert_eq!(left.count(), right.count());
        assert_eq!(left.min().map(f64::to_bits), right.min().map(f64::to_bits));
        assert_eq!(left.max().map(f64::to_bits), right.max().map(f64::to_bits));
        for q in (0..=100).map(|step| f64::from(step) / 100.0) {
            assert_eq!(left.quantile(q).map(f64::to_bits), right.quantile(q).map(f64::to_bits), "q = {q}");
        }
    }

    #[test]
    fn local_sketches_kept_at_their_limit_equal_one_sketch_of_every_value() {
        let mut rng = rng(13);
        let normal = Normal::new(5e9, 3e9).unwrap();
        // A value in every third place, then one value alone: the counts reach the local limit.
        let values: Vec<f64> = (0..3 * LOCAL_SKETCH_VALUES as usize)
            .map(|i| if i % 3 == 0 { 7.5e9 } else { normal.sample(&mut rng) })
            .chain(std::iter::repeat_n(1.0, 2 * LOCAL_SKETCH_VALUES as usize))
            .collect();
        let mut direct = QuantileSketch::new();
        let mut kept = QuantileSketch::new();
        let mut local = LocalSketch::default();
        let mut local_values = 0;
        for block in values.chunks(BLOCK) {
            if local_values + block.len() as u64 > LOCAL_SKETCH_VALUES {
                kept.take_counts(&mut local);
                local_values = 0;
            }
            direct.insert_slice(block);
            local.insert_slice(block);
            local_values += block.len() as u64;
        }
        kept.take_counts(&mut local);
        assert_same_sketch(&direct, &kept);
        assert_eq!(direct.count_positive(), kept.count_positive());
        assert_eq!(local.count, 0);
        assert!(local.positive.counts.iter().all(|&count| count == 0));
    }

    #[test]
    fn slices_of_mixed_signs_count_as_their_values_one_by_one() {
        let mut rng = rng(12);
        let normal = Normal::new(0.0, 1e9).unwrap();
        let specials = [0.0, -0.0, 1e-310, -1e-310, f64::MIN_POSITIVE, -f64::MIN_POSITIVE];
        let values: Vec<f64> = (0..1_000)
            .map(|i| if i % 7 == 0 { specials[i / 7 % specials.len()] } else { normal.sample(&mut rng) })
            .collect();
        for length in [1, 2, 7, 256, 1_000] {
            let mut one_by_one = QuantileSketch::new();
            let mut by_slices = QuantileSketch::new();
            for slice in values.chunks(length) {
                by_slices.insert_slice(slice);
                slice.iter().for_each(|&value| one_by_one.insert(value));
            }
            assert_same_sketch(&one_by_one, &by_slices);
            assert_eq!(one_by_one.count_positive(), by_slices.count_positive(), "{length}");
            assert_eq!(one_by_one.zero_count, by_slices.zero_count, "{length}");
            // The same key ranges as well as the same counts: a shard file holds both.
            for (one, slices) in
                [(&one_by_one.positive, &by_slices.positive), (&one_by_one.negative, &by_slices.negative)]
            {
                assert_eq!((one.first_key, &one.counts), (slices.first_key, &slices.counts), "{length}");
            }
        }
    }

    #[test]
    fn merged_sketches_equal_sketch_of_union_in_any_order() {
        // Disjoint ranges and signs, so merging has to grow stores both ways.
        let a = sample(Normal::new(0.0, 1e-3).unwrap(), 7);
        let b = sample(LogNormal::new(10.0, 2.0).unwrap(), 8);
        let c: Vec<f64> = sample(Exp::new(1.0).unwrap(), 9).iter().map(|value| -value).collect();
        let union: Vec<f64> = a.iter().chain(&b).chain(&c).copied().collect();
        let whole = sketch_of(&union);
        let (sketch_a, sketch_b, sketch_c) = (sketch_of(&a), sketch_of(&b), sketch_of(&c));

        let mut ab_c = sketch_a.clone();
        ab_c.merge(&sketch_b);
        ab_c.merge(&sketch_c);
        let mut c_ba = sketch_c.clone();
        c_ba.merge(&sketch_b);
        c_ba.merge(&sketch_a);
        let mut bc = sketch_b.clone();
        bc.merge(&sketch_c);
        let mut a_bc = sketch_a.clone();
        a_bc.merge(&bc);
        let mut empty_first = QuantileSketch::new();
        empty_first.merge(&ab_c);
        empty_first.merge(&QuantileSketch::new());

        for merged in [&ab_c, &c_ba, &a_bc, &empty_first] {
            assert_same_sketch(&whole, merged);
        }
    }

    fn assert_close(actual: f64, expected: f64, relative: f64) {
        assert!(
            (actual - expected).abs() <= relative * expected.abs(),
            "{actual} vs {expected}: relative difference {}",
            ((actual - expected) / expected).abs()
        );
    }

    fn two_pass(values: &[f64]) -> (f64, f64) {
        let count = values.len() as f64;
        let mean = values.iter().sum::<f64>() / count;
        let variance = values.iter().map(|value| (value - mean).powi(2)).sum::<f64>() / (count - 1.0);
        (mean, variance)
    }

    fn merged_blocks(values: &[f64]) -> Moments {
        let mut moments = Moments::default();
        for block in values.chunks(BLOCK) {
            moments.merge(&Moments::from_slice(block));
        }
        moments
    }

    #[test]
    fn merged_block_moments_match_whole_data_and_two_pass() {
        let money: Vec<f64> = sample(Normal::new(2e11, 3e10).unwrap(), 10);
        // A spread small next to the mean: unshifted sums of squares would cancel catastrophically.
        let offset: Vec<f64> = sample(Normal::new(1e9, 1e5).unwrap(), 13);
        // Odd-sized blocks exercise the lane remainder.
        let skewed: Vec<f64> = sample(LogNormal::new(0.0, 1.5).unwrap(), 11)[..SAMPLES - 3].to_vec();
        for values in [money, offset, skewed] {
            let merged = merged_blocks(&values);
            let whole = Moments::from_slice(&values);
            let (mean, variance) = two_pass(&values);
            assert_eq!(merged.count(), values.len() as u64);
            assert_eq!(whole.count(), values.len() as u64);
            for moments in [merged, whole] {
                assert_close(moments.mean(), mean, 1e-12);
                assert_close(moments.variance(), variance, 1e-12);
                assert_close(moments.std_dev(), variance.sqrt(), 1e-12);
            }
            assert_close(merged.mean(), whole.mean(), 1e-12);
            assert_close(merged.variance(), whole.variance(), 1e-12);
        }
    }

    #[test]
    fn constant_data_has_exactly_zero_variance() {
        let values = vec![0.1; 1001];
        let merged = merged_blocks(&values);
        let whole = Moments::from_slice(&values);
        for moments in [merged, whole] {
            assert_eq!(moments.mean(), 0.1);
            assert_eq!(moments.variance(), 0.0);
        }
    }

    #[test]
    fn std_error_is_std_dev_over_root_count() {
        let values = sample(Normal::new(5.0, 2.0).unwrap(), 12);
        let moments = Moments::from_slice(&values);
        assert_eq!(moments.std_error(), moments.std_dev() / (SAMPLES as f64).sqrt());
        assert_close(moments.std_error(), 2.0 / (SAMPLES as f64).sqrt(), 0.01);
    }

    #[test]
    fn moments_of_empty_and_single_values() {
        let empty = Moments::from_slice(&[]);
        assert_eq!(empty, Moments::default());
        assert_eq!(empty.count(), 0);
        assert!(empty.mean().is_nan());
        assert!(empty.variance().is_nan());
        assert!(empty.std_error().is_nan());

        let single = Moments::from_slice(&[-3.5]);
        assert_eq!((single.count(), single.mean(), single.variance()), (1, -3.5, 0.0));

        let mut merged = Moments::default();
        merged.merge(&single);
        assert_eq!(merged, single);
        merged.merge(&empty);
        assert_eq!(merged, single);

        let mut pair = single;
        pair.merge(&Moments::from_slice(&[0.5]));
        assert_eq!((pair.count(), pair.mean(), pair.variance()), (2, -1.5, 8.0));
    }

    #[test]
    fn exact_quantile_rounds_rank_to_nearest() {
        let five = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(exact_quantile(&five, 0.0), Some(1.0));
        assert_eq!(exact_quantile(&five, 0.25), Some(2.0));
        assert_eq!(exact_quantile(&five, 0.5), Some(3.0));
        assert_eq!(exact_quantile(&five, 0.6), Some(3.0));
        assert_eq!(exact_quantile(&five, 0.65), Some(4.0));
        assert_eq!(exact_quantile(&five, 1.0), Some(5.0));
        assert_eq!(exact_quantile(&five, -0.5), Some(1.0));
        assert_eq!(exact_quantile(&five, 1.5), Some(5.0));
        // rank 1.5 rounds half away from zero, to 2.
        assert_eq!(exact_quantile(&[10.0, 20.0, 30.0, 40.0], 0.5), Some(30.0));
        assert_eq!(exact_quantile(&[], 0.5), None);
    }

    #[test]
    fn extreme_finite_values_give_quantiles_within_the_extremes() {
        let extremes = [f64::MAX, -f64::MAX, f64::MIN_POSITIVE, -f64::MIN_POSITIVE, 5e-324, -5e-324, 0.0, 1e140];
        for take in 1..=extremes.len() {
            let sketch = sketch_of(&extremes[..take]);
            let (min, max) = (sketch.min().unwrap(), sketch.max().unwrap());
            for q in QUANTILES {
                let estimate = sketch.quantile(q).unwrap();
                assert!((min..=max).contains(&estimate), "{take} values, q = {q}: {estimate} outside [{min}, {max}]");
            }
        }
    }

    #[test]
    fn quantiles_do_not_panic_when_the_extremes_are_the_empty_sentinels() {
        // What inserting nothing but NaN left behind (min = inf > max = -inf), which made
        // `clamp` panic; the engine no longer inserts NaN, and the check refuses such a sketch.
        let sketch = QuantileSketch { count: 2, zero_count: 2, ..QuantileSketch::new() };
        for q in QUANTILES {
            let _ = sketch.quantile(q);
        }
        assert_eq!(sketch.check(), Err(InvalidSummary::Extremes));
    }

    #[test]
    fn sketches_and_moments_the_engine_builds_pass_the_check() {
        let money = sample(Normal::new(2e11, 3e10).unwrap(), 14);
        let tiny = [-1e-310, 0.0, 1e-320, -0.0];
        let extremes = [-MAX_MAGNITUDE, MAX_MAGNITUDE, 1.0];
        for values in [&money[..], &tiny[..], &extremes[..], &[][..]] {
            assert_eq!(sketch_of(values).check(), Ok(()), "{:?}", &values[..values.len().min(4)]);
            assert_eq!(merged_blocks(values).check(), Ok(()));
        }
        let mut merged = sketch_of(&money);
        merged.merge(&sketch_of(&extremes));
        merged.merge(&QuantileSketch::new());
        assert_eq!(merged.check(), Ok(()));
    }

    #[test]
    fn tampered_sketches_fail_the_check() {
        let good = sketch_of(&[-3.0, 0.0, 2.0, 5.0]);
        let tamper = |change: &dyn Fn(&mut QuantileSketch)| {
            let mut sketch = good.clone();
            change(&mut sketch);
            sketch.check()
        };
        assert_eq!(tamper(&|s| s.count += 1), Err(InvalidSummary::Counts));
        assert_eq!(tamper(&|s| s.zero_count = u64::MAX), Err(InvalidSummary::Counts));
        assert_eq!(tamper(&|s| s.min = 7.0), Err(InvalidSummary::Extremes));
        assert_eq!(tamper(&|s| s.max = -4.0), Err(InvalidSummary::Extremes));
        assert_eq!(tamper(&|s| s.max = 5.5), Err(InvalidSummary::Extremes), "5.5 lies past the top bucket");
        assert_eq!(tamper(&|s| s.min = f64::NAN), Err(InvalidSummary::Extremes));
        assert_eq!(tamper(&|s| s.max = 1e200), Err(InvalidSummary::Extremes));
        assert_eq!(tamper(&|s| s.positive.first_key = u64::MAX - 3), Err(InvalidSummary::Buckets));
        assert_eq!(tamper(&|s| s.negative.first_key = 0), Err(InvalidSummary::Buckets));
        let empty_with_extremes = QuantileSketch { min: 1.0, max: 1.0, ..QuantileSketch::new() };
        assert_eq!(empty_with_extremes.check(), Err(InvalidSummary::Extremes));
        assert_eq!(QuantileSketch::new().check(), Ok(()));
    }

    #[test]
    fn tampered_moments_fail_the_check() {
        let good = Moments::from_slice(&[1.0, 2.0, 4.0]);
        assert_eq!(good.check(), Ok(()));
        for bad in [
            Moments { mean: f64::NAN, ..good },
            Moments { mean: 1e141, ..good },
            Moments { m2: -1.0, ..good },
            Moments { m2: f64::INFINITY, ..good },
            Moments { count: 0, ..good },
        ] {
            assert_eq!(bad.check(), Err(InvalidSummary::Moments), "{bad:?}");
        }
    }

    #[test]
    fn counts_strictly_positive_values_exactly() {
        let mut sketch = QuantileSketch::new();
        sketch.insert_slice(&[-2.0, 0.0, 1e-320, 3.0, 4e12, -0.0]);
        assert_eq!(sketch.count_positive(), 2);
    }
}
