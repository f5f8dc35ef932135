//! The native half of the `dealsim` Python package: loads a scenario, runs it and hands its tables
//! to Python as the bytes of the files the command line writes (CSV and the workbook), which the
//! package's Python half reads as polars data frames. Going through bytes keeps this module free
//! of Python polars' ABI, whatever version the analyst has installed.

use std::path::{Path, PathBuf};

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use dealsim::analysis::sensitivity;
use dealsim::engine::{self, RunOptions};
use dealsim::io::path_table::PathTable;
use dealsim::io::scenario_file::read_scenario;
use dealsim::report::probabilities::{Threshold, probability_rows};
use dealsim::report::{RunTables, Sensitivity, workbook};
use dealsim::scenario::{Override, Scenario, pair};

create_exception!(
    _dealsim,
    ScenarioError,
    PyException,
    "The scenario or an override is invalid: each line names file:line:col and the key path."
);
create_exception!(_dealsim, RunError, PyException, "A valid scenario could not be run or its results written.");

/// How to run a loaded scenario, as the keyword arguments of `run` and `compare` give it.
struct Settings {
    paths: Option<u64>,
    seed: Option<u64>,
    threads: usize,
    baseline: Option<String>,
    sensitivity: bool,
    /// Paths per pinned run of the tornado, at most the run's.
    sensitivity_paths: u64,
    paths_file: Option<PathBuf>,
    /// Target probabilities, as `--prob` takes them.
    thresholds: Vec<String>,
}

/// Runs a scenario file and returns its tables as `(name, bytes)`: `summary.csv`,
/// `timeseries.csv`, and where they have rows `comparison.csv`, `conditional.csv` and
/// `sensitivity.csv`, plus `report.xlsx`. With `paths_file`, every path's inputs and metrics are
/// written there as Parquet.
#[pyfunction]
#[pyo3(signature = (scenario, *, overrides = Vec::new(), paths = None, seed = None, threads = 0, baseline = None,
                    sensitivity = true, sensitivity_paths = sensitivity::DEFAULT_PATHS, paths_file = None,
                    thresholds = Vec::new()))]
#[allow(clippy::too_many_arguments)]
fn run<'py>(
    py: Python<'py>,
    scenario: PathBuf,
    overrides: Vec<String>,
    paths: Option<u64>,
    seed: Option<u64>,
    threads: usize,
    baseline: Option<String>,
    sensitivity: bool,
    sensitivity_paths: u64,
    paths_file: Option<PathBuf>,
    thresholds: Vec<String>,
) -> PyResult<Vec<(String, Bound<'py, PyBytes>)>> {
    let overrides = parse_overrides(&overrides)?;
    let settings = Settings { paths, seed, threads, baseline, sensitivity, sensitivity_paths, paths_file, thresholds };
    // The simulation runs without the interpreter lock, so other Python threads go on.
    let files = py.detach(|| run_scenario(&load(&scenario, &overrides)?, &settings))?;
    Ok(as_bytes(py, files))
}

/// Runs the deals of two scenario files side by side, as `dealsim compare` does: the
/// first file's deals first, then the second's (renamed `<second file stem>/<deal>` where a name
/// is taken); the tables as [`run`] returns them.
#[pyfunction]
#[pyo3(signature = (first, second, *, overrides = Vec::new(), paths = None, seed = None, threads = 0, baseline = None,
                    sensitivity = true, sensitivity_paths = sensitivity::DEFAULT_PATHS, paths_file = None,
                    thresholds = Vec::new()))]
#[allow(clippy::too_many_arguments)]
fn compare<'py>(
    py: Python<'py>,
    first: PathBuf,
    second: PathBuf,
    overrides: Vec<String>,
    paths: Option<u64>,
    seed: Option<u64>,
    threads: usize,
    baseline: Option<String>,
    sensitivity: bool,
    sensitivity_paths: u64,
    paths_file: Option<PathBuf>,
    thresholds: Vec<String>,
) -> PyResult<Vec<(String, Bound<'py, PyBytes>)>> {
    let overrides = parse_overrides(&overrides)?;
    let settings = Settings { paths, seed, threads, baseline, sensitivity, sensitivity_paths, paths_file, thresholds };
    let files = py.detach(|| {
        let (one, mut other) = (load(&first, &overrides)?, load(&second, &overrides)?);
        // A path count or seed given applies to both files, so it is not a difference.
        if paths.is_some() {
            other.simulation.paths = one.simulation.paths;
        }
        if seed.is_some() {
            other.simulation.seed = one.simulation.seed;
        }
        let files = format!("{} and {}", first.display(), second.display());
        let stem = |path: &PathBuf| {
            path.file_stem().map_or_else(|| "scenario".into(), |stem| stem.to_string_lossy().into_owned())
        };
        let combined = pair(&one, &other, &files, &stem(&first), &stem(&second))
            .map_err(|error| ScenarioError::new_err(error.to_string()))?;
        run_scenario(&combined, &settings)
    })?;
    Ok(as_bytes(py, files))
}

fn parse_overrides(texts: &[String]) -> PyResult<Vec<Override>> {
    texts
        .iter()
        .map(|text| Override::parse(text).map_err(|message| ScenarioError::new_err(format!("--set {text}: {message}"))))
        .collect()
}

fn load(file: &Path, overrides: &[Override]) -> PyResult<Scenario> {
    read_scenario(file, overrides)
        .map(|file| file.scenario)
        .map_err(|diagnostics| ScenarioError::new_err(diagnostics.to_string()))
}

fn run_scenario(scenario: &Scenario, settings: &Settings) -> PyResult<Vec<(String, Vec<u8>)>> {
    let baseline = match &settings.baseline {
        None => 0,
        Some(name) => scenario.deals.iter().position(|deal| &deal.name == name).ok_or_else(|| {
            let deals: Vec<&str> = scenario.deals.iter().map(|deal| deal.name.as_str()).collect();
            PyValueError::new_err(format!("baseline {name}: no such deal; expected one of: {}", deals.join(", ")))
        })?,
    };
    let layout = engine::metrics::Layout::of(scenario, baseline);
    let thresholds = settings
        .thresholds
        .iter()
        .map(|text| {
            let threshold =
                Threshold::parse(text).map_err(|message| ScenarioError::new_err(format!("prob: {message}")))?;
            threshold.check(scenario, &layout).map_err(ScenarioError::new_err)?;
            Ok(threshold)
        })
        .collect::<PyResult<Vec<Threshold>>>()?;
    let options = RunOptions {
        paths: settings.paths.unwrap_or(scenario.simulation.paths),
        seed: settings.seed.unwrap_or(scenario.simulation.seed),
        threads: settings.threads,
        baseline,
        target_relative_se: None,
        shard: None,
    };
    let failed = |error: &dyn std::fmt::Display| RunError::new_err(error.to_string());
    let aggregates = match &settings.paths_file {
        Some(file) => {
            let mut table = PathTable::create(file, scenario).map_err(|e| failed(&e))?;
            let aggregates = engine::run_recording(scenario, options, &|_| {}, &mut table).map_err(|e| failed(&e))?;
            table.finish().map_err(|e| failed(&e))?;
            aggregates
        }
        None => engine::run(scenario, options, &|_| {}).map_err(|e| failed(&e))?,
    };
    let sensitivity = if settings.sensitivity {
        Sensitivity::Compute {
            paths: options.paths.min(settings.sensitivity_paths),
            threads: settings.threads,
            baseline: options.baseline,
        }
    } else {
        Sensitivity::Skip
    };
    let mut tables = RunTables::build(scenario, &aggregates, sensitivity).map_err(|e| failed(&e))?;
    tables.probabilities = probability_rows(scenario, &aggregates, &thresholds);
    let mut files: Vec<(String, Vec<u8>)> = tables
        .csv_files()
        .map_err(|e| failed(&e))?
        .into_iter()
        .map(|(name, bytes)| (name.to_string(), bytes))
        .collect();
    files.push(("report.xlsx".to_string(), workbook::workbook_bytes(scenario, &tables).map_err(|e| failed(&e))?));
    Ok(files)
}

fn as_bytes(py: Python<'_>, files: Vec<(String, Vec<u8>)>) -> Vec<(String, Bound<'_, PyBytes>)> {
    files.into_iter().map(|(name, bytes)| (name, PyBytes::new(py, &bytes))).collect()
}

#[pymodule]
fn _dealsim(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_function(wrap_pyfunction!(run, module)?)?;
    module.add_function(wrap_pyfunction!(compare, module)?)?;
    module.add("ScenarioError", module.py().get_type::<ScenarioError>())?;
    module.add("RunError", module.py().get_type::<RunError>())?;
    Ok(())
}
