//! The simulation's time grid and the calendar dates that scenario files name.

use std::fmt;

/// Periods of equal length from the simulation start to the horizon.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Grid {
    pub start_year: i32,
    pub years: u32,
    pub steps_per_year: u32,
}

impl Grid {
    pub fn periods(&self) -> usize {
        (self.years * self.steps_per_year) as usize
    }

    /// Δt in years.
    pub fn dt(&self) -> f64 {
        1.0 / f64::from(self.steps_per_year)
    }

    /// t_k: the start of period k in years since the simulation start.
    pub fn t_start(&self, period: usize) -> f64 {
        period as f64 * self.dt()
    }

    /// Fractional calendar year at the end of period k (2026.25 for 2026-Q1).
    pub fn year_end(&self, period: usize) -> f64 {
        f64::from(self.start_year) + (period + 1) as f64 * self.dt()
    }

    /// The period's label: `2026`, `2026-Q1` or `2026-01`.
    pub fn label(&self, period: usize) -> String {
        let steps = self.steps_per_year as usize;
        let year = self.start_year + (period / steps) as i32;
        let within = period % steps + 1;
        match self.steps_per_year {
            1 => format!("{year}"),
            4 => format!("{year}-Q{within}"),
            _ => format!("{year}-{within:02}"),
        }
    }

    /// Index of the period containing `month` (months since the simulation start), unclamped.
    fn period_containing(&self, month: i64) -> i64 {
        month.div_euclid(i64::from(12 / self.steps_per_year))
    }

    /// First period included by `from = date`: the one containing the date's start.
    /// Negative when the date lies before the simulation start.
    pub fn first_period(&self, date: Date) -> i64 {
        self.period_containing(date.start_month - self.start_month())
    }

    /// Last period included by `through = date`: every period that starts before the end of
    /// the named span. Negative when the span ends before the simulation start.
    pub fn last_period(&self, date: Date) -> i64 {
        let end = date.start_month + i64::from(date.months) - self.start_month();
        // The last period whose start month is < end.
        let step = i64::from(12 / self.steps_per_year);
        (end + step - 1).div_euclid(step) - 1
    }

    fn start_month(&self) -> i64 {
        i64::from(self.start_year) * 12
    }

    /// Calendar label of the horizon's last period, for messages.
    pub fn horizon_label(&self) -> String {
        self.label(self.periods() - 1)
    }
}

/// A calendar span named in a scenario: a year, a quarter or a month.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Date {
    /// Months since year 0 at which the span starts.
    start_month: i64,
    /// Length of the span in months: 12, 3 or 1.
    months: u32,
}

impl Date {
    /// Parses `"2030"`, `"2027-Q2"` or `"2027-06"`.
    pub fn parse(text: &str) -> Option<Date> {
        let text = text.trim();
        let (year_text, rest) = match text.split_once('-') {
            Some((year, rest)) => (year, Some(rest)),
            None => (text, None),
        };
        if year_text.len() != 4 || !year_text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let year: i64 = year_text.parse().ok()?;
        match rest {
            None => Some(Date { start_month: year * 12, months: 12 }),
            Some(quarter) if quarter.starts_with(['Q', 'q']) => {
                let q: i64 = quarter[1..].parse().ok().filter(|q| (1..=4).contains(q))?;
                Some(Date { start_month: year * 12 + (q - 1) * 3, months: 3 })
            }
            Some(month) if month.len() == 2 => {
                let m: i64 = month.parse().ok().filter(|m| (1..=12).contains(m))?;
                Some(Date { start_month: year * 12 + m - 1, months: 1 })
            }
            Some(_) => None,
        }
    }

    pub fn year(year: i32) -> Date {
        Date { start_month: i64::from(year) * 12, months: 12 }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let year = self.start_month.div_euclid(12);
        let month = self.start_month.rem_euclid(12) + 1;
        match self.months {
            12 => write!(f, "{year}"),
            3 => write!(f, "{year}-Q{}", (month - 1) / 3 + 1),
            _ => write!(f, "{year}-{month:02}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quarterly() -> Grid {
        Grid { start_year: 2026, years: 10, steps_per_year: 4 }
    }

    #[test]
    fn labels_and_year_ends() {
        let grid = quarterly();
        assert_eq!(grid.periods(), 40);
        assert_eq!(grid.label(0), "2026-Q1");
        assert_eq!(grid.label(39), "2035-Q4");
        assert_eq!(grid.year_end(0), 2026.25);
        let monthly = Grid { steps_per_year: 12, ..grid };
        assert_eq!(monthly.label(13), "2027-02");
        let annual = Grid { steps_per_year: 1, ..grid };
        assert_eq!(annual.label(4), "2030");
    }

    #[test]
    fn parses_dates() {
        assert_eq!(Date::parse("2030"), Some(Date::year(2030)));
        assert_eq!(Date::parse("2027-Q2").unwrap().to_string(), "2027-Q2");
        assert_eq!(Date::parse("2027-06").unwrap().to_string(), "2027-06");
        for bad in ["27", "2027-Q5", "2027-13", "2027-6", "20x7", "2027-H1", ""] {
            assert_eq!(Date::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn from_and_through_resolve_to_periods() {
        let grid = quarterly();
        assert_eq!(grid.first_period(Date::parse("2026").unwrap()), 0);
        assert_eq!(grid.last_period(Date::parse("2030").unwrap()), 19);
        assert_eq!(grid.first_period(Date::parse("2027-Q2").unwrap()), 5);
        assert_eq!(grid.last_period(Date::parse("2027-Q2").unwrap()), 5);
        // A month inside a quarter resolves to the quarter containing it.
        assert_eq!(grid.first_period(Date::parse("2027-05").unwrap()), 5);
        assert_eq!(grid.last_period(Date::parse("2027-05").unwrap()), 5);
        assert_eq!(grid.first_period(Date::parse("2025-11").unwrap()), -1);
        let annual = Grid { steps_per_year: 1, ..grid };
        // Through June 2027 on an annual grid includes 2027, which starts before June ends.
        assert_eq!(annual.last_period(Date::parse("2027-06").unwrap()), 1);
        assert_eq!(annual.first_period(Date::parse("2027-06").unwrap()), 1);
    }
}
