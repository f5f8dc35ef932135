//! `report.xlsx`: a run's tables as an Excel workbook, with number formats, frozen headers and
//! native charts (a fan of a key series and the tornado), for analysts who work in a spreadsheet.

use rust_xlsxwriter::{
    Chart, ChartAxisCrossing, ChartType, DocProperties, ExcelDateTime, Format, FormatBorder, Workbook, Worksheet,
    XlsxError,
};

use crate::analysis::sensitivity::SensitivityRow;
use crate::format::Unit;
use crate::report::catalogue::{self, Catalogue};
use crate::report::{RunTables, SummaryRow, TimeseriesRow};
use crate::scenario::Scenario;

/// Sheet names, as the workbook's tabs show them.
pub const SUMMARY: &str = "Summary";
pub const COMPARISON: &str = "Comparison";
pub const SENSITIVITY: &str = "Sensitivity";
pub const TIME_SERIES: &str = "Time series";
pub const INPUTS: &str = "Inputs";
pub const CONDITIONAL: &str = "Conditional";
pub const PROBABILITIES: &str = "Probabilities";

/// Inputs on the tornado chart: the rest move the metric too little to read.
const TORNADO_BARS: usize = 10;

/// The cell formats of the workbook, one per unit and kind of cell.
struct Formats {
    header: Format,
    money: Format,
    probability: Format,
    stake: Format,
    year: Format,
    multiple: Format,
    count: Format,
    number: Format,
}

impl Formats {
    fn new() -> Formats {
        let format = |code: &str| Format::new().set_num_format(code);
        Formats {
            header: Format::new().set_bold().set_text_wrap().set_border_bottom(FormatBorder::Thin),
            // Values are dollars; each `,` after the digits divides by a thousand.
            money: format(r#"$#,##0.00,,,"B";-$#,##0.00,,,"B""#),
            probability: format("0.0%"),
            stake: format("0.00%"),
            year: format("0.00"),
            multiple: format(r#"0.00"×""#),
            count: format("#,##0"),
            number: format("#,##0.####"),
        }
    }

    fn of(&self, unit: Unit) -> &Format {
        match unit {
            Unit::Money => &self.money,
            Unit::Probability => &self.probability,
            Unit::Share => &self.stake,
            Unit::Year => &self.year,
            Unit::Multiple => &self.multiple,
            Unit::Count => &self.count,
        }
    }

    /// An uncertain input's values carry no unit in the scenario; amounts of a million or more
    /// are money, in $B, and the rest (rates, shares, years) plain numbers.
    fn of_input(&self, typical: f64) -> &Format {
        if typical.abs() >= 1e6 { &self.money } else { &self.number }
    }
}

/// The workbook of a run's tables. The same run gives the same bytes: the document's creation
/// time is fixed rather than the clock's.
pub fn workbook_bytes(scenario: &Scenario, tables: &RunTables) -> Result<Vec<u8>, XlsxError> {
    let formats = Formats::new();
    let mut workbook = Workbook::new();
    let title = if scenario.name.is_empty() { "dealsim run".to_string() } else { scenario.name.clone() };
    workbook.set_properties(
        &DocProperties::new().set_title(title).set_creation_datetime(&ExcelDateTime::from_ymd(2000, 1, 1)?),
    );
    summary_sheet(workbook.add_worksheet(), scenario, tables, &formats)?;
    if !tables.comparison.is_empty() {
        comparison_sheet(workbook.add_worksheet(), tables, &formats)?;
    }
    if let Some(rows) = tables.sensitivity.as_ref().filter(|rows| !rows.is_empty()) {
        sensitivity_sheet(workbook.add_worksheet(), tables, rows, &formats)?;
    }
    time_series_sheet(workbook.add_worksheet(), scenario, &tables.timeseries, &formats)?;
    inputs_sheet(workbook.add_worksheet(), scenario, &formats)?;
    if !tables.conditional.is_empty() {
        conditional_sheet(workbook.add_worksheet(), tables, &formats)?;
    }
    if !tables.probabilities.is_empty() {
        probabilities_sheet(workbook.add_worksheet(), tables, &formats)?;
    }
    workbook.save_to_buffer()
}

/// Writes a header row, freezes it and sets the columns' widths.
fn header(sheet: &mut Worksheet, columns: &[(&str, f64)], formats: &Formats) -> Result<(), XlsxError> {
    for (col, (name, width)) in columns.iter().enumerate() {
        let col = col as u16;
        sheet.write_string_with_format(0, col, *name, &formats.header)?;
        sheet.set_column_width(col, *width)?;
    }
    sheet.set_freeze_panes(1, 0)?;
    Ok(())
}

/// Writes a value where there is one; a missing statistic stays an empty cell.
fn number(sheet: &mut Worksheet, row: u32, col: u16, value: Option<f64>, format: &Format) -> Result<(), XlsxError> {
    if let Some(value) = value {
        sheet.write_number_with_format(row, col, value, format)?;
    }
    Ok(())
}

/// The statistics of the Summary sheet, by the name it shows.
type Statistic = fn(&SummaryRow) -> Option<f64>;
const STATISTICS: [(&str, Statistic); 4] =
    [("mean", |r| r.mean), ("P5", |r| r.p05), ("P50", |r| r.p50), ("P95", |r| r.p95)];

/// A column per deal, four rows per metric (mean, P5, P50, P95): the deals side by side, each
/// metric by its readable name, with its identifier (as in summary.csv) in the last column.
fn summary_sheet(
    sheet: &mut Worksheet,
    scenario: &Scenario,
    tables: &RunTables,
    formats: &Formats,
) -> Result<(), XlsxError> {
    sheet.set_name(SUMMARY)?;
    let mut columns = vec![("metric", 46.0), ("statistic", 10.0)];
    columns.extend(scenario.deals.iter().map(|deal| (deal.name.as_str(), 16.0)));
    columns.push(("identifier", 46.0));
    let identifier_column = (columns.len() - 1) as u16;
    header(sheet, &columns, formats)?;
    sheet.set_freeze_panes(1, 2)?;
    // Metrics in the order summary.csv first lists them; a metric of one deal only leaves the
    // other deals' cells empty.
    let mut metrics: Vec<&str> = Vec::new();
    for row in &tables.summary {
        if !metrics.contains(&row.metric.as_str()) {
            metrics.push(&row.metric);
        }
    }
    let catalogue = Catalogue::of(scenario);
    let mut row = 1;
    for metric in metrics {
        let entry = catalogue.metric(metric);
        let format = formats.of(entry.unit);
        for (statistic, pick) in STATISTICS {
            sheet.write_string(row, 0, entry.heading())?;
            sheet.write_string(row, 1, statistic)?;
            sheet.write_string(row, identifier_column, metric)?;
            for (d, deal) in scenario.deals.iter().enumerate() {
                let found = tables.summary.iter().find(|r| r.deal == deal.name && r.metric == metric);
                number(sheet, row, 2 + d as u16, found.and_then(pick), format)?;
            }
            row += 1;
        }
    }
    Ok(())
}

fn comparison_sheet(sheet: &mut Worksheet, tables: &RunTables, formats: &Formats) -> Result<(), XlsxError> {
    sheet.set_name(COMPARISON)?;
    let columns = [
        ("deal", 20.0),
        ("baseline", 20.0),
        ("metric", 46.0),
        ("paths", 11.0),
        ("mean difference", 14.0),
        ("standard error", 14.0),
        ("standard error if unpaired", 14.0),
        ("P5", 12.0),
        ("P50", 12.0),
        ("P95", 12.0),
        ("P(difference > 0)", 12.0),
    ];
    header(sheet, &columns, formats)?;
    for (i, comparison) in tables.comparison.iter().enumerate() {
        let row = 1 + i as u32;
        let format = formats.of(catalogue::metric_unit(&comparison.metric));
        sheet.write_string(row, 0, &comparison.deal)?;
        sheet.write_string(row, 1, &comparison.baseline)?;
        sheet.write_string(row, 2, &comparison.metric)?;
        sheet.write_number_with_format(row, 3, comparison.count as f64, &formats.count)?;
        let values = [
            comparison.mean_difference,
            comparison.std_error,
            comparison.unpaired_std_error,
            comparison.p05,
            comparison.p50,
            comparison.p95,
        ];
        for (offset, value) in values.into_iter().enumerate() {
            number(sheet, row, 4 + offset as u16, value, format)?;
        }
        number(sheet, row, 10, comparison.prob_positive, &formats.probability)?;
    }
    Ok(())
}

fn sensitivity_sheet(
    sheet: &mut Worksheet,
    tables: &RunTables,
    rows: &[SensitivityRow],
    formats: &Formats,
) -> Result<(), XlsxError> {
    sheet.set_name(SENSITIVITY)?;
    let columns = [
        ("deal", 18.0),
        ("minus baseline", 18.0),
        ("metric", 40.0),
        ("input", 56.0),
        ("input at P10", 12.0),
        ("input at P90", 12.0),
        ("metric, input at P10", 14.0),
        ("metric, input at P90", 14.0),
        ("swing", 12.0),
        ("swing s.e.", 12.0),
        ("rank correlation", 12.0),
    ];
    header(sheet, &columns, formats)?;
    for (i, sensitivity) in rows.iter().enumerate() {
        let row = 1 + i as u32;
        let format = formats.of(catalogue::metric_unit(&sensitivity.metric));
        let input_format = formats.of_input(sensitivity.input_high);
        sheet.write_string(row, 0, &sensitivity.deal)?;
        sheet.write_string(row, 1, &sensitivity.baseline)?;
        sheet.write_string(row, 2, &sensitivity.metric)?;
        sheet.write_string(row, 3, &sensitivity.input)?;
        sheet.write_number_with_format(row, 4, sensitivity.input_low, input_format)?;
        sheet.write_number_with_format(row, 5, sensitivity.input_high, input_format)?;
        sheet.write_number_with_format(row, 6, sensitivity.metric_low, format)?;
        sheet.write_number_with_format(row, 7, sensitivity.metric_high, format)?;
        sheet.write_number_with_format(row, 8, sensitivity.swing, format)?;
        sheet.write_number_with_format(row, 9, sensitivity.swing_se, format)?;
        sheet.write_number_with_format(row, 10, sensitivity.rank_correlation, &formats.number)?;
    }
    // The tornado of the first deal's first metric (rows come grouped by deal and metric,
    // largest swing first): bars from the metric's mean to its value with the input at its P10
    // and at its P90.
    let first = &rows[0];
    let bars = rows
        .iter()
        .take_while(|r| r.deal == first.deal && r.baseline == first.baseline && r.metric == first.metric)
        .count()
        .min(TORNADO_BARS);
    let last = bars as u32;
    let mean = tables.summary.iter().find(|r| r.deal == first.deal && r.metric == first.metric).and_then(|r| r.mean);
    let mut chart = Chart::new(ChartType::Bar);
    for (name, col) in [("input at P10", 6), ("input at P90", 7)] {
        chart
            .add_series()
            .set_name(name)
            .set_categories((SENSITIVITY, 1, 3, last, 3))
            .set_values((SENSITIVITY, 1, col, last, col))
            // The two bars of an input share its row.
            .set_overlap(100);
    }
    chart.title().set_name(&format!("{}: {} by input (tornado)", first.deal, first.metric));
    // Largest swing on top, and the bars start at the metric's mean.
    chart.x_axis().set_reverse();
    if let Some(mean) = mean {
        chart.y_axis().set_crossing(ChartAxisCrossing::AxisValue(mean));
    }
    chart.y_axis().set_num_format(chart_number_format(catalogue::metric_unit(&first.metric)));
    chart.set_width(900).set_height(60 + 36 * bars as u32);
    sheet.insert_chart(1, columns.len() as u16 + 1, &chart)?;
    Ok(())
}

/// An axis's number format: fewer decimals than the cells, as axis labels are round numbers.
fn chart_number_format(unit: Unit) -> &'static str {
    match unit {
        Unit::Money => r#"$#,##0,,,"B";-$#,##0,,,"B""#,
        Unit::Probability | Unit::Share => "0%",
        Unit::Year => "0",
        Unit::Multiple => r#"0.0"×""#,
        Unit::Count => "#,##0",
    }
}

fn time_series_sheet(
    sheet: &mut Worksheet,
    scenario: &Scenario,
    timeseries: &[TimeseriesRow],
    formats: &Formats,
) -> Result<(), XlsxError> {
    sheet.set_name(TIME_SERIES)?;
    let columns = [
        ("deal", 18.0),
        ("series", 46.0),
        ("period", 10.0),
        ("year", 9.0),
        ("mean", 12.0),
        ("P5", 12.0),
        ("P25", 12.0),
        ("P50", 12.0),
        ("P75", 12.0),
        ("P95", 12.0),
    ];
    header(sheet, &columns, formats)?;
    for (i, point) in timeseries.iter().enumerate() {
        let row = 1 + i as u32;
        let format = formats.of(catalogue::series_unit(&point.series));
        sheet.write_string(row, 0, &point.deal)?;
        sheet.write_string(row, 1, &point.series)?;
        sheet.write_string(row, 2, &point.period)?;
        sheet.write_number_with_format(row, 3, point.year, &formats.year)?;
        let values = [point.mean, point.p05, point.p25, point.p50, point.p75, point.p95];
        for (offset, value) in values.into_iter().enumerate() {
            number(sheet, row, 4 + offset as u16, value, format)?;
        }
    }
    if let Some((series, first, last)) = fan_series(scenario, timeseries) {
        let (first, last) = (first as u32 + 1, last as u32 + 1);
        let mut chart = Chart::new(ChartType::Line);
        for (name, col) in [("P5", 5), ("P50", 7), ("P95", 9)] {
            chart.add_series().set_name(name).set_categories((TIME_SERIES, first, 2, last, 2)).set_values((
                TIME_SERIES,
                first,
                col,
                last,
                col,
            ));
        }
        chart.title().set_name(&format!("{series}: P5, P50 and P95 by period"));
        chart.y_axis().set_num_format(chart_number_format(catalogue::metric_unit(series)));
        chart.set_width(900).set_height(420);
        sheet.insert_chart(1, columns.len() as u16 + 1, &chart)?;
    }
    Ok(())
}

/// The series of the fan chart, with its first and last row in `timeseries`: the first deal's
/// revenue of the first stream (what every term is a share of), else its first series.
fn fan_series<'a>(scenario: &Scenario, timeseries: &'a [TimeseriesRow]) -> Option<(&'a str, usize, usize)> {
    let deal = &scenario.deals.first()?.name;
    let revenue = scenario.streams.first().map(|stream| format!("stream.{}.revenue", stream.name));
    let first = timeseries
        .iter()
        .position(|row| &row.deal == deal && Some(&row.series) == revenue.as_ref())
        .or_else(|| timeseries.iter().position(|row| &row.deal == deal))?;
    let series = &timeseries[first].series;
    let count = timeseries[first..].iter().take_while(|row| &row.deal == deal && &row.series == series).count();
    Some((series, first, first + count - 1))
}

/// Every uncertain input: its key path (as `--set` names it), its distribution, and the values
/// it takes.
fn inputs_sheet(sheet: &mut Worksheet, scenario: &Scenario, formats: &Formats) -> Result<(), XlsxError> {
    sheet.set_name(INPUTS)?;
    let columns = [("input", 60.0), ("distribution", 60.0), ("mean", 12.0), ("P5", 12.0), ("P50", 12.0), ("P95", 12.0)];
    header(sheet, &columns, formats)?;
    for (i, input) in scenario.inputs.iter().enumerate() {
        let row = 1 + i as u32;
        let distribution = &input.distribution;
        let format = formats.of_input(distribution.quantile(0.5));
        sheet.write_string(row, 0, &input.key)?;
        sheet.write_string(row, 1, distribution.describe())?;
        let values =
            [distribution.mean(), distribution.quantile(0.05), distribution.quantile(0.5), distribution.quantile(0.95)];
        for (offset, value) in values.into_iter().enumerate() {
            number(sheet, row, 2 + offset as u16, value.is_finite().then_some(value), format)?;
        }
    }
    Ok(())
}

fn conditional_sheet(sheet: &mut Worksheet, tables: &RunTables, formats: &Formats) -> Result<(), XlsxError> {
    sheet.set_name(CONDITIONAL)?;
    let columns = [
        ("deal", 18.0),
        ("metric", 40.0),
        ("event", 30.0),
        ("given the event", 16.0),
        ("paths", 11.0),
        ("mean", 12.0),
        ("P5", 12.0),
        ("P50", 12.0),
        ("P95", 12.0),
    ];
    header(sheet, &columns, formats)?;
    for (i, conditional) in tables.conditional.iter().enumerate() {
        let row = 1 + i as u32;
        let format = formats.of(catalogue::metric_unit(&conditional.metric));
        sheet.write_string(row, 0, &conditional.deal)?;
        sheet.write_string(row, 1, &conditional.metric)?;
        sheet.write_string(row, 2, &conditional.event)?;
        sheet.write_string(row, 3, if conditional.occurred == 1 { "occurred" } else { "did not occur" })?;
        sheet.write_number_with_format(row, 4, conditional.count as f64, &formats.count)?;
        let values = [conditional.mean, conditional.p05, conditional.p50, conditional.p95];
        for (offset, value) in values.into_iter().enumerate() {
            number(sheet, row, 5 + offset as u16, value, format)?;
        }
    }
    Ok(())
}

/// The target probabilities asked for with `--prob`.
fn probabilities_sheet(sheet: &mut Worksheet, tables: &RunTables, formats: &Formats) -> Result<(), XlsxError> {
    sheet.set_name(PROBABILITIES)?;
    let columns = [
        ("deal", 18.0),
        ("metric", 40.0),
        ("beyond", 8.0),
        ("threshold", 14.0),
        ("paths", 11.0),
        ("probability", 12.0),
        ("at least", 12.0),
        ("at most", 12.0),
        ("standard error", 12.0),
    ];
    header(sheet, &columns, formats)?;
    for (i, target) in tables.probabilities.iter().enumerate() {
        let row = 1 + i as u32;
        sheet.write_string(row, 0, &target.deal)?;
        sheet.write_string(row, 1, &target.metric)?;
        sheet.write_string(row, 2, target.side)?;
        sheet.write_number_with_format(row, 3, target.threshold, formats.of(catalogue::metric_unit(&target.metric)))?;
        sheet.write_number_with_format(row, 4, target.count as f64, &formats.count)?;
        let shares = [target.probability, target.low, target.high, target.std_error];
        for (offset, share) in shares.into_iter().enumerate() {
            sheet.write_number_with_format(row, 5 + offset as u16, share, &formats.probability)?;
        }
    }
    Ok(())
}
