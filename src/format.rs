//! Numbers as an analyst reads them: money in $B or $T with a true minus sign (−$106.85B),
//! shares in percent, calendar years, multiples and counts. The terminal, `validate`, `solve`,
//! report.html and the charts all print numbers through here, so one figure reads the same
//! everywhere.

/// What a number measures, and so how it is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// US dollars: `$38.00B`, `$1.20T`.
    Money,
    /// The mean of a 0/1 outcome, or any chance: `25.0%`.
    Probability,
    /// A fraction that is a size rather than a chance, such as an equity stake: `27.00%`.
    Share,
    /// A fractional calendar year: `2029.4`.
    Year,
    /// A ratio: `2.00×`.
    Multiple,
    /// A number of things: `100,000`.
    Count,
}

impl Unit {
    /// A value in this unit, at the precision tables use.
    pub fn format(self, value: f64) -> String {
        match self {
            Unit::Money => money(value),
            Unit::Probability => percent(value, 1),
            Unit::Share => percent(value, 2),
            Unit::Year => year(value),
            Unit::Multiple => multiple(value),
            Unit::Count => count(value),
        }
    }

    /// A value in this unit as short as it can be written: for axis ticks and scenario values,
    /// which are round numbers.
    pub fn format_short(self, value: f64) -> String {
        match self {
            Unit::Money => money_short(value),
            Unit::Probability | Unit::Share => percent_short(value),
            Unit::Year => signed(value, trimmed(value.abs(), 2)),
            Unit::Multiple => signed(value, format!("{}×", trimmed(value.abs(), 2))),
            Unit::Count => count(value),
        }
    }

    /// How the unit reads after a name, in a heading or an axis description: `($B)`, `(%)`;
    /// nothing for years and counts, whose names say what they are.
    pub fn suffix(self) -> &'static str {
        match self {
            Unit::Money => " ($B)",
            Unit::Probability => " (% of paths)",
            Unit::Share => " (%)",
            Unit::Multiple => " (×)",
            Unit::Year | Unit::Count => "",
        }
    }
}

/// Money at two decimals in billions, or trillions from $1T: `$38.00B`, `−$106.85B`, `$1.20T`.
pub fn money(dollars: f64) -> String {
    let (scaled, letter) = scale(dollars);
    signed(dollars, format!("${}{letter}", grouped(&format!("{:.2}", scaled.abs()))))
}

/// Money with at most three decimals and no trailing zeros: `$250B`, `$2.5B`, `$0.05B`,
/// `−$40B`, `$1.2T`, `$0`.
pub fn money_short(dollars: f64) -> String {
    if dollars == 0.0 {
        return "$0".to_string();
    }
    let (scaled, letter) = scale(dollars);
    signed(dollars, format!("${}{letter}", grouped(&trimmed(scaled.abs(), 3))))
}

/// A fraction in percent at `decimals` places: `percent(0.25, 1)` is `25.0%`.
pub fn percent(fraction: f64, decimals: usize) -> String {
    signed(fraction, format!("{:.decimals$}%", fraction.abs() * 100.0))
}

/// A fraction in percent with no trailing zeros: `20%`, `8.3%`, `0.25%`.
pub fn percent_short(fraction: f64) -> String {
    signed(fraction, format!("{}%", trimmed(fraction.abs() * 100.0, 4)))
}

/// A fractional calendar year at one decimal: `2029.4`.
pub fn year(value: f64) -> String {
    signed(value, format!("{:.1}", value.abs()))
}

/// A ratio at two decimals: `2.00×`.
pub fn multiple(value: f64) -> String {
    signed(value, format!("{:.2}×", value.abs()))
}

/// A count with thousands separators: `100,000`.
pub fn count(value: f64) -> String {
    signed(value, grouped(&format!("{:.0}", value.abs())))
}

/// A number of a scenario whose unit is not known (a distribution's parameter, an input's
/// draw): amounts of a million or more are money, as nothing else in a scenario is that large;
/// anything else to four significant digits, as it would be written in the file.
pub fn scenario_number(value: f64) -> String {
    if value.abs() >= 1e6 {
        return money_short(value);
    }
    let magnitude = value.abs();
    let decimals = if magnitude > 0.0 { (3 - magnitude.log10().floor() as i32).clamp(0, 6) as usize } else { 0 };
    signed(value, trimmed(magnitude, decimals))
}

/// Dollars in the unit they read best in: billions, or trillions from $1T.
fn scale(dollars: f64) -> (f64, &'static str) {
    if dollars.abs() >= 1e12 { (dollars / 1e12, "T") } else { (dollars / 1e9, "B") }
}

/// `magnitude` at up to `decimals` places with trailing zeros dropped: `2.50` is `2.5`.
fn trimmed(magnitude: f64, decimals: usize) -> String {
    let text = format!("{magnitude:.decimals$}");
    if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_string() } else { text }
}

/// Prefixes a true minus sign (U+2212) to the written magnitude of a negative value, unless
/// it rounded to zero: `−$1.50B`, but `$0.00B` for a millionth of a dollar below zero.
fn signed(value: f64, magnitude: String) -> String {
    let nonzero = magnitude.chars().any(|c| c.is_ascii_digit() && c != '0');
    if value < 0.0 && nonzero { format!("−{magnitude}") } else { magnitude }
}

/// Thousands separators in the whole part of a written number: `26597.34` is `26,597.34`.
fn grouped(number: &str) -> String {
    let (whole, fraction) = number.split_once('.').map_or((number, None), |(w, f)| (w, Some(f)));
    let mut text = String::with_capacity(number.len() + whole.len() / 3);
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            text.push(',');
        }
        text.push(digit);
    }
    if let Some(fraction) = fraction {
        text.push('.');
        text.push_str(fraction);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_reads_in_billions_and_trillions_with_a_true_minus() {
        assert_eq!(money(38e9), "$38.00B");
        assert_eq!(money(-106.85e9), "−$106.85B");
        assert_eq!(money(1_201.45e9), "$1.20T");
        assert_eq!(money(31_471_336.2), "$0.03B");
        assert_eq!(money(-1e6), "$0.00B");
        assert_eq!(money(2_500e12), "$2,500.00T");
    }

    #[test]
    fn short_money_drops_trailing_zeros() {
        assert_eq!(money_short(0.0), "$0");
        assert_eq!(money_short(250e9), "$250B");
        assert_eq!(money_short(2.5e9), "$2.5B");
        assert_eq!(money_short(0.05e9), "$0.05B");
        assert_eq!(money_short(20.5e9), "$20.5B");
        assert_eq!(money_short(-40e9), "−$40B");
        assert_eq!(money_short(1_200e9), "$1.2T");
        assert_eq!(money_short(0.30000000000000004e9), "$0.3B");
    }

    #[test]
    fn shares_years_multiples_and_counts() {
        assert_eq!(percent(0.25, 1), "25.0%");
        assert_eq!(percent(-0.173, 1), "−17.3%");
        assert_eq!(percent_short(0.2), "20%");
        assert_eq!(percent_short(0.083), "8.3%");
        assert_eq!(year(2029.37), "2029.4");
        assert_eq!(multiple(2.0), "2.00×");
        assert_eq!(count(100_000.0), "100,000");
        assert_eq!(Unit::Share.format(0.27), "27.00%");
        assert_eq!(Unit::Probability.format(0.509), "50.9%");
    }

    #[test]
    fn scenario_numbers_are_money_from_a_million() {
        assert_eq!(scenario_number(60e9), "$60B");
        assert_eq!(scenario_number(3.7e9), "$3.7B");
        assert_eq!(scenario_number(0.35), "0.35");
        assert_eq!(scenario_number(-0.5), "−0.5");
        assert_eq!(scenario_number(15.0), "15");
        assert_eq!(scenario_number(0.488619), "0.4886");
        assert_eq!(scenario_number(11.196526), "11.2");
        assert_eq!(scenario_number(0.0), "0");
    }
}
