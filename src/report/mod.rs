//! What a run reports, as rows, text and bytes: CSV tables, the terminal's tables, charts and
//! the HTML report. Nothing here touches the file system.

pub mod catalogue;
pub mod charts;
pub mod describe;
pub mod html;
pub mod probabilities;
pub mod run_info;
mod run_tables;
mod tables;
pub mod terminal;
pub mod workbook;

pub use run_tables::{RunTables, Sensitivity};
pub use tables::{
    ComparisonRow, ConditionalRow, OutcomeRow, OutcomeTable, PERCENTILES, SummaryRow, TimeseriesRow, comparison_rows,
    conditional_rows, csv_bytes, outcome_tables, summary_rows, timeseries_rows,
};
