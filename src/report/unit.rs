//! The unit a metric or series is read in, from its name: what the report and the workbook
//! format its values by.

/// How a metric's values read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Dollars, shown in billions.
    Money,
    /// A probability or a share of paths, shown in percent with one decimal.
    Probability,
    /// An equity stake, shown in percent with two decimals (stakes differ in the second).
    Stake,
    /// A fractional calendar year.
    Year,
    /// A multiple of what was paid.
    Multiple,
}

impl Unit {
    /// The unit of a metric or series named as in summary.csv and timeseries.csv.
    pub fn of(metric: &str) -> Unit {
        if metric.ends_with(".cap_hit") || metric.ends_with(".met") || metric.ends_with(".occurred") {
            Unit::Probability
        } else if metric.ends_with(".stake") {
            Unit::Stake
        } else if metric.ends_with("_year") || metric.ends_with(".year") {
            Unit::Year
        } else if metric.ends_with(".multiple") {
            Unit::Multiple
        } else {
            Unit::Money
        }
    }
}
