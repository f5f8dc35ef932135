//! Historical actuals of a revenue stream (`data/<stream>_revenue.csv`), read with polars for the
//! charts: the fan chart draws them before the simulation start so the forecast continues history.
//!
//! Only the charts read these files, after a run; the simulation never does.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use polars::prelude::*;

/// The actuals of one stream, in USD per year.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    /// Booked revenue of a whole calendar year: (year, USD).
    pub annual_revenue: Vec<(i32, f64)>,
    /// Annualized run-rate observed on a date: (fractional calendar year, USD per year).
    pub run_rate: Vec<(f64, f64)>,
}

impl History {
    pub fn is_empty(&self) -> bool {
        self.annual_revenue.is_empty() && self.run_rate.is_empty()
    }
}

/// Why a history file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {source}")]
    Parse { path: PathBuf, source: PolarsError },
}

/// Where the actuals live for a scenario file: `data/` beside the scenario's directory
/// (`scenarios/base.toml` → `data/`), or `data/` in the working directory for a scenario there.
pub fn data_dir_for(scenario_file: &Path) -> PathBuf {
    match scenario_file.parent().and_then(Path::parent) {
        Some(root) => root.join("data"),
        None => PathBuf::from("data"),
    }
}

/// The file holding a stream's actuals, by the stream's name: `<data_dir>/<stream>_revenue.csv`.
pub fn history_file(data_dir: &Path, stream: &str) -> PathBuf {
    data_dir.join(format!("{stream}_revenue.csv"))
}

/// Reads a stream's actuals; `Ok(None)` when the file does not exist.
pub fn read_history(path: &Path) -> Result<Option<History>, HistoryError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(HistoryError::Read { path: path.to_path_buf(), source }),
    };
    parse_history(bytes).map(Some).map_err(|source| HistoryError::Parse { path: path.to_path_buf(), source })
}

/// Parses `year,as_of,metric,value_usd,...` CSV (see data/README.md). Rows with the metric
/// `revenue` are whole-year revenue; `run_rate` rows are annualized and dated by `as_of`
/// (`YYYY-MM-DD`, or the end of `year` when empty). Other metrics are ignored.
pub fn parse_history(csv: Vec<u8>) -> PolarsResult<History> {
    let frame =
        CsvReadOptions::default().with_has_header(true).into_reader_with_file_handle(Cursor::new(csv)).finish()?;
    let years = frame.column("year")?.cast(&DataType::Int64)?;
    let dates = frame.column("as_of")?.cast(&DataType::String)?;
    let metrics = frame.column("metric")?.cast(&DataType::String)?;
    let values = frame.column("value_usd")?.cast(&DataType::Float64)?;
    let rows = years.i64()?.iter().zip(dates.str()?.iter()).zip(metrics.str()?.iter()).zip(values.f64()?.iter());
    let mut history = History::default();
    for (((year, date), metric), value) in rows {
        let (Some(year), Some(metric), Some(value)) = (year, metric, value) else {
            continue;
        };
        let Ok(year) = i32::try_from(year) else {
            continue;
        };
        match metric {
            "revenue" => history.annual_revenue.push((year, value)),
            "run_rate" => {
                let when = date.and_then(fractional_year).unwrap_or(f64::from(year) + 1.0);
                history.run_rate.push((when, value));
            }
            _ => {}
        }
    }
    history.annual_revenue.sort_by_key(|&(year, _)| year);
    history.run_rate.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(history)
}

/// `2025-12-31` → the fractional calendar year at the end of that day (≈ 2026.0).
fn fractional_year(date: &str) -> Option<f64> {
    let mut parts = date.trim().splitn(3, '-');
    let year: i32 = parts.next()?.parse().ok()?;
    let month: u32 = parts.next()?.parse().ok().filter(|m| (1..=12).contains(m))?;
    let day: u32 = parts.next()?.parse().ok().filter(|d| (1..=31).contains(d))?;
    const DAYS_BEFORE: [u32; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let day_of_year = DAYS_BEFORE[(month - 1) as usize] + day;
    Some(f64::from(year) + f64::from(day_of_year) / 365.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_revenue_and_run_rate_rows() {
        let csv = "year,as_of,metric,value_usd,source_url,confidence,note\n\
                   2024,,revenue,3700000000,https://x,reported,\"a, quoted note\"\n\
                   2024,,net_loss,5000000000,https://x,reported,\n\
                   2024,2024-12-31,run_rate,6000000000,https://x,reported,\n\
                   2023,,revenue,1600000000,https://x,reported,\n\
                   2026,2026-03-31,run_rate,24000000000,https://x,reported,\n";
        let history = parse_history(csv.as_bytes().to_vec()).unwrap();
        assert_eq!(history.annual_revenue, vec![(2023, 1.6e9), (2024, 3.7e9)]);
        assert_eq!(history.run_rate.len(), 2);
        assert!((history.run_rate[0].0 - 2025.0).abs() < 1e-9, "end of 2024 is 2025.0");
        assert!((history.run_rate[1].0 - 2026.247).abs() < 1e-3);
        assert_eq!(history.run_rate[1].1, 24e9);
    }

    #[test]
    fn the_data_directory_sits_beside_the_scenarios() {
        assert_eq!(data_dir_for(Path::new("scenarios/base.toml")), PathBuf::from("data"));
        assert_eq!(data_dir_for(Path::new("/x/scenarios/base.toml")), PathBuf::from("/x/data"));
        assert_eq!(data_dir_for(Path::new("base.toml")), PathBuf::from("data"));
    }

    #[test]
    fn a_missing_file_is_no_history() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_history(&history_file(dir.path(), "nothing")).unwrap(), None);
    }

    #[test]
    fn the_shipped_actuals_parse() {
        let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
        let history = read_history(&history_file(&data, "openai")).unwrap().expect("data/openai_revenue.csv ships");
        assert!(history.annual_revenue.iter().any(|&(year, value)| year == 2025 && value == 13.1e9));
        assert!(history.run_rate.iter().all(|&(when, value)| when > 2020.0 && value > 1e9));
    }
}
