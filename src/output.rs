//! Writing results: CSV and JSON exporters that return bytes, the atomic output directory,
//! and the terminal's table of key figures.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::engine::{Aggregates, Stop};
use crate::report::{ComparisonRow, SummaryRow};
use crate::scenario::Scenario;
use crate::sensitivity::SensitivityRow;

/// Serializes rows as CSV with a header.
pub fn csv_bytes<T: Serialize>(rows: &[T]) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in rows {
        writer.serialize(row)?;
    }
    writer.flush()?;
    Ok(writer.into_inner().map_err(|e| e.into_error())?)
}

/// What `run.json` records about a run.
#[derive(Debug, Serialize)]
pub struct RunInfo<'a> {
    pub version: &'static str,
    pub scenario: &'a str,
    pub scenario_file: String,
    /// SHA-256 of the scenario file's bytes followed by each `--set` override.
    pub scenario_hash: String,
    pub overrides: Vec<String>,
    pub seed: u64,
    pub paths: u64,
    pub threads: usize,
    pub periods: usize,
    pub elapsed_seconds: f64,
    pub paths_per_second: f64,
    pub deals: Vec<&'a str>,
    pub uncertain_inputs: Vec<InputInfo>,
    pub correlations: Vec<CorrelationInfo>,
    /// Why the run stopped: the path count, or a --target-se met or not met within the cap.
    pub stop: StopInfo,
    /// How many shards were merged into this run (`dealsim merge`); the time is their sum.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shards: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct StopInfo {
    pub reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_relative_se: Option<f64>,
    /// The least precise metric when the cap was reached first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worst_metric: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worst_relative_se: Option<f64>,
}

impl StopInfo {
    fn of(aggregates: &Aggregates) -> StopInfo {
        match aggregates.stop {
            Stop::PathCount => {
                StopInfo { reason: "paths", target_relative_se: None, worst_metric: None, worst_relative_se: None }
            }
            Stop::Converged { relative_se } => StopInfo {
                reason: "converged",
                target_relative_se: Some(relative_se),
                worst_metric: None,
                worst_relative_se: None,
            },
            Stop::PathCap { relative_se, worst_metric, worst_relative_se } => StopInfo {
                reason: "max_paths",
                target_relative_se: Some(relative_se),
                worst_metric: Some(aggregates.layout.metrics[worst_metric].name.clone()),
                worst_relative_se: Some(worst_relative_se),
            },
        }
    }
}

#[derive(Debug, Serialize)]
pub struct CorrelationInfo {
    pub between: [String; 2],
    pub rank: f64,
}

#[derive(Debug, Serialize)]
pub struct InputInfo {
    pub key: String,
    pub distribution: String,
}

impl<'a> RunInfo<'a> {
    pub fn new(
        scenario: &'a Scenario,
        file: &Path,
        scenario_hash: String,
        overrides: Vec<String>,
        aggregates: &Aggregates,
    ) -> RunInfo<'a> {
        let seconds = aggregates.elapsed.as_secs_f64();
        RunInfo {
            version: env!("CARGO_PKG_VERSION"),
            scenario: &scenario.name,
            scenario_file: file.display().to_string(),
            scenario_hash,
            overrides,
            seed: aggregates.seed,
            paths: aggregates.paths,
            threads: aggregates.threads,
            periods: aggregates.layout.periods,
            elapsed_seconds: seconds,
            paths_per_second: if seconds > 0.0 { aggregates.paths as f64 / seconds } else { 0.0 },
            deals: scenario.deals.iter().map(|d| d.name.as_str()).collect(),
            uncertain_inputs: scenario
                .inputs
                .iter()
                .map(|input| InputInfo { key: input.key.clone(), distribution: input.distribution.describe() })
                .collect(),
            correlations: scenario
                .correlations
                .iter()
                .map(|c| CorrelationInfo { between: c.between.map(|id| scenario.inputs[id].key.clone()), rank: c.rank })
                .collect(),
            stop: StopInfo::of(aggregates),
            shards: None,
        }
    }
}

/// A fresh directory beside `out` that receives a run's files and then replaces `out` whole, so
/// an interrupted or failed run never leaves a half-written result where the last good one was.
/// Dropped without [`Staging::commit`], it is removed.
pub struct Staging {
    out: PathBuf,
    parent: PathBuf,
    directory: tempfile::TempDir,
}

impl Staging {
    pub fn begin(out: &Path) -> io::Result<Staging> {
        let parent = match out.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&parent)?;
        let directory = tempfile::Builder::new().prefix(".dealsim-staging-").tempdir_in(&parent)?;
        Ok(Staging { out: out.to_path_buf(), parent, directory })
    }

    /// The directory the staged files will replace.
    pub fn destination(&self) -> &Path {
        &self.out
    }

    /// Where a file named `name` (which may hold a subdirectory, `charts/npv.png`) is staged.
    pub fn path(&self, name: &str) -> PathBuf {
        self.directory.path().join(name)
    }

    pub fn write(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let path = self.path(name);
        if let Some(directory) = path.parent() {
            fs::create_dir_all(directory)?;
        }
        fs::write(path, bytes)
    }

    /// Moves the staged files into place, replacing whatever `out` held.
    pub fn commit(self) -> io::Result<()> {
        let (out, parent) = (self.out, self.parent);
        let staged = self.directory.keep();
        if out.exists() {
            let previous = tempfile::Builder::new().prefix(".dealsim-previous-").tempdir_in(&parent)?.keep();
            fs::remove_dir(&previous)?;
            fs::rename(&out, &previous)?;
            if let Err(error) = fs::rename(&staged, &out) {
                // Put the previous result back rather than leave nothing.
                let _ = fs::rename(&previous, &out);
                let _ = fs::remove_dir_all(&staged);
                return Err(error);
            }
            fs::remove_dir_all(&previous)?;
        } else {
            fs::rename(&staged, &out)?;
        }
        Ok(())
    }
}

/// Writes every file through a [`Staging`] directory.
pub fn write_atomically(out: &Path, files: &[(&str, Vec<u8>)]) -> io::Result<()> {
    let staging = Staging::begin(out)?;
    for (name, bytes) in files {
        staging.write(name, bytes)?;
    }
    staging.commit()
}

/// Money in billions, the scale analysts read these deals at.
pub fn billions(value: f64) -> String {
    format!("${:.2}B", value / 1e9)
}

fn figure(metric: &str, value: f64) -> String {
    if metric.ends_with(".cap_hit") || metric.ends_with(".met") || metric.ends_with(".occurred") {
        format!("{:.1}%", value * 100.0)
    } else if metric.ends_with(".stake") {
        format!("{:.2}%", value * 100.0)
    } else if metric.ends_with("_year") || metric.ends_with(".year") || metric.ends_with(".multiple") {
        format!("{value:.2}")
    } else {
        billions(value)
    }
}

/// Which summary metrics the terminal and the report's key tables show: the answers to an
/// analyst's first questions.
pub fn is_key_figure(metric: &str) -> bool {
    let suffixes = [".paid", ".cap_hit", ".cap_hit_year", ".shortfall", ".met", ".stake", ".npv", ".funding_gap"];
    !metric.starts_with("stream.") && !metric.starts_with("event.") && suffixes.iter().any(|s| metric.ends_with(s))
}

/// A compact table of key figures per deal: mean ± standard error and the 90% range.
pub fn key_figures_table(rows: &[SummaryRow]) -> String {
    let mut table = String::new();
    let mut current_deal = "";
    for row in rows.iter().filter(|row| is_key_figure(&row.metric)) {
        if row.deal != current_deal {
            current_deal = &row.deal;
            let _ = writeln!(table, "\n{current_deal}");
            let _ = writeln!(table, "  {:<44} {:>22} {:>26}", "metric", "mean ± s.e.", "P5 .. P95");
        }
        let (Some(mean), Some(p05), Some(p95)) = (row.mean, row.p05, row.p95) else {
            let _ = writeln!(table, "  {:<44} {:>22}", row.metric, "no path");
            continue;
        };
        let error = row.std_error.unwrap_or(0.0);
        let center = format!("{} ± {}", figure(&row.metric, mean), figure(&row.metric, error));
        let range = format!("{} .. {}", figure(&row.metric, p05), figure(&row.metric, p95));
        let _ = writeln!(table, "  {:<44} {:>22} {:>26}", row.metric, center, range);
    }
    table
}

/// Paired differences of each party's NPV against the baseline deal.
pub fn comparison_table(rows: &[ComparisonRow]) -> String {
    let mut table = String::new();
    let npv_rows = rows.iter().filter(|row| row.metric.starts_with("party.") && row.metric.ends_with(".npv"));
    for row in npv_rows {
        if table.is_empty() {
            let _ = writeln!(table, "\npaired differences (deal − baseline), same paths:");
            let header = ("deal − baseline", "metric", "mean ± s.e.", "unpaired s.e.", "P(> 0)");
            let _ = writeln!(
                table,
                "  {:<34} {:<26} {:>22} {:>14} {:>8}",
                header.0, header.1, header.2, header.3, header.4
            );
        }
        let (Some(mean), Some(se), Some(unpaired), Some(positive)) =
            (row.mean_difference, row.std_error, row.unpaired_std_error, row.prob_positive)
        else {
            continue;
        };
        let pair = format!("{} − {}", row.deal, row.baseline);
        let center = format!("{} ± {}", billions(mean), billions(se));
        let positive = format!("{:.1}%", positive * 100.0);
        let _ =
            writeln!(table, "  {pair:<34} {:<26} {center:>22} {:>14} {positive:>8}", row.metric, billions(unpaired));
    }
    table
}

/// The `top` inputs with the largest swing for each deal's target metric.
pub fn tornado_table(rows: &[SensitivityRow], top: usize) -> String {
    let mut table = String::new();
    let mut shown = 0;
    let mut current: Option<(&str, &str)> = None;
    for row in rows {
        if current != Some((&row.deal, &row.metric)) {
            current = Some((&row.deal, &row.metric));
            shown = 0;
            let _ = writeln!(
                table,
                "\nwhat moves {} under {} (input at P10 / P90, all else random):",
                row.metric, row.deal
            );
        }
        if shown == top {
            continue;
        }
        shown += 1;
        let money = !row.metric.ends_with(".cap_hit") && !row.metric.ends_with(".met");
        let show = |value: f64| if money { billions(value) } else { format!("{value:.3}") };
        let _ = writeln!(
            table,
            "  {:<58} {:>11} .. {:<11} swing {:>10}  rank corr. {:+.2}",
            row.input,
            show(row.metric_low),
            show(row.metric_high),
            show(row.swing),
            row.rank_correlation
        );
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_an_existing_result_whole() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("result");
        write_atomically(&out, &[("a.csv", b"old".to_vec()), ("stale.csv", b"x".to_vec())]).unwrap();
        write_atomically(&out, &[("a.csv", b"new".to_vec())]).unwrap();
        assert_eq!(fs::read(out.join("a.csv")).unwrap(), b"new");
        assert!(!out.join("stale.csv").exists());
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no staging directories are left behind");
    }

    #[test]
    fn figures_are_formatted_by_kind() {
        assert_eq!(figure("revenue_share.x.paid", 38e9), "$38.00B");
        assert_eq!(figure("revenue_share.x.cap_hit", 0.25), "25.0%");
        assert_eq!(figure("party.microsoft.stake", 0.27), "27.00%");
        assert_eq!(figure("revenue_share.x.cap_hit_year", 2029.5), "2029.50");
    }
}
