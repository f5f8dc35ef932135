//! Every table a run reports, built in one place from the scenario and its aggregates: what the
//! command line writes as CSV, the workbook lays out in sheets and Python reads as data frames.

use crate::analysis::sensitivity::{self, Scatter, SensitivityOptions, SensitivityRow};
use crate::engine::{Aggregates, RunError};
use crate::report::html::ReportTables;
use crate::report::probabilities::ProbabilityRow;
use crate::report::{
    ComparisonRow, ConditionalRow, OutcomeTable, SummaryRow, TimeseriesRow, comparison_rows, conditional_rows,
    csv_bytes, outcome_tables, summary_rows, timeseries_rows,
};
use crate::scenario::Scenario;

/// How a run's tornado is computed, or whether it is left out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sensitivity {
    /// No tornado (`--no-sensitivity`): sensitivity.csv is not written.
    Skip,
    /// A tornado at `paths` paths per pinned run (the callers cap it at
    /// [`sensitivity::DEFAULT_PATHS`] or at what the analyst asks), on the run's seed, with
    /// `threads` workers (0: every core), explaining each deal's paired difference from deal
    /// `baseline` too.
    Compute { paths: u64, threads: usize, baseline: usize },
}

/// The tables of one run. `comparison` and `conditional` may be empty, and are then not written
/// as files.
#[derive(Clone, Debug, PartialEq)]
pub struct RunTables {
    pub summary: Vec<SummaryRow>,
    pub timeseries: Vec<TimeseriesRow>,
    pub comparison: Vec<ComparisonRow>,
    pub conditional: Vec<ConditionalRow>,
    /// The tornado, where it was computed (possibly with no rows, when no target metric exists).
    pub sensitivity: Option<Vec<SensitivityRow>>,
    /// From the tornado's paths: each target of the baseline deal against its top input.
    pub scatters: Vec<Scatter>,
    /// The chances asked for with `--prob`; probabilities.csv where there are any.
    pub probabilities: Vec<ProbabilityRow>,
    /// NPVs by outcome of each event with outcomes, drawn from `summary` and `conditional`.
    pub outcomes: Vec<OutcomeTable>,
}

impl RunTables {
    /// Builds every table; the tornado reruns the scenario (2 pinned runs per uncertain input),
    /// so it is the one part that can fail or take long.
    pub fn build(scenario: &Scenario, aggregates: &Aggregates, sensitivity: Sensitivity) -> Result<Self, RunError> {
        let summary = summary_rows(scenario, aggregates);
        let conditional = conditional_rows(scenario, aggregates);
        let mut tables = RunTables {
            outcomes: outcome_tables(scenario, &summary, &conditional),
            timeseries: timeseries_rows(scenario, aggregates),
            comparison: comparison_rows(scenario, aggregates),
            summary,
            conditional,
            sensitivity: None,
            scatters: Vec::new(),
            probabilities: Vec::new(),
        };
        tables.add_sensitivity(scenario, aggregates.seed, sensitivity)?;
        Ok(tables)
    }

    /// Computes the tornado on the run's `seed` (nothing for [`Sensitivity::Skip`] or a scenario
    /// without uncertain inputs): for callers that show the other tables while it runs.
    pub fn add_sensitivity(
        &mut self,
        scenario: &Scenario,
        seed: u64,
        sensitivity: Sensitivity,
    ) -> Result<(), RunError> {
        if let Sensitivity::Compute { paths, threads, baseline } = sensitivity
            && !scenario.inputs.is_empty()
        {
            let options = SensitivityOptions { paths, seed, threads, targets: Vec::new(), baseline };
            let (rows, scatters) = sensitivity::tornado_with_scatters(scenario, &options)?;
            self.sensitivity = Some(rows);
            self.scatters = scatters;
        }
        Ok(())
    }

    /// The CSV files of the tables, by file name: summary.csv and timeseries.csv always,
    /// comparison.csv and conditional.csv where they have rows, sensitivity.csv where the
    /// tornado was computed.
    pub fn csv_files(&self) -> Result<Vec<(&'static str, Vec<u8>)>, csv::Error> {
        let mut files =
            vec![("summary.csv", csv_bytes(&self.summary)?), ("timeseries.csv", csv_bytes(&self.timeseries)?)];
        if !self.comparison.is_empty() {
            files.push(("comparison.csv", csv_bytes(&self.comparison)?));
        }
        if !self.conditional.is_empty() {
            files.push(("conditional.csv", csv_bytes(&self.conditional)?));
        }
        if let Some(sensitivity) = &self.sensitivity {
            files.push(("sensitivity.csv", csv_bytes(sensitivity)?));
        }
        if !self.probabilities.is_empty() {
            files.push(("probabilities.csv", csv_bytes(&self.probabilities)?));
        }
        Ok(files)
    }

    /// The tables the HTML report and the charts read.
    pub fn report_tables(&self) -> ReportTables<'_> {
        ReportTables {
            summary: &self.summary,
            comparison: &self.comparison,
            sensitivity: self.sensitivity.as_deref().unwrap_or_default(),
            scatters: &self.scatters,
            probabilities: &self.probabilities,
            outcomes: &self.outcomes,
        }
    }
}
