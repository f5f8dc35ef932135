//! The terminal's tables: key figures, paired differences and the largest sensitivity swings.

use std::fmt::Write as _;

use crate::analysis::sensitivity::SensitivityRow;
use crate::format;
use crate::report::catalogue::{self, Catalogue};
use crate::report::{ComparisonRow, OutcomeTable, SummaryRow};

fn figure(metric: &str, value: f64) -> String {
    catalogue::metric_unit(metric).format(value)
}

/// Which summary metrics the terminal and the report's key tables show: the answers to an
/// analyst's first questions.
pub fn is_key_figure(metric: &str) -> bool {
    let suffixes = [".paid", ".cap_hit", ".cap_hit_year", ".shortfall", ".met", ".stake", ".npv", ".funding_gap"];
    !metric.starts_with("stream.") && !metric.starts_with("event.") && suffixes.iter().any(|s| metric.ends_with(s))
}

/// A compact table of key figures per deal: mean ± standard error and the 90% range.
pub fn key_figures_table(catalogue: &Catalogue, rows: &[SummaryRow]) -> String {
    let mut table = String::new();
    let mut current_deal = "";
    for row in rows.iter().filter(|row| is_key_figure(&row.metric)) {
        if row.deal != current_deal {
            current_deal = &row.deal;
            let _ = writeln!(table, "\n{current_deal}");
            let _ = writeln!(table, "  {:<62} {:>22} {:>24}", "metric", "mean ± s.e.", "P5 .. P95");
        }
        let (Some(mean), Some(p05), Some(p95)) = (row.mean, row.p05, row.p95) else {
            let _ = writeln!(table, "  {:<62} {:>22}", catalogue.metric(&row.metric).heading(), "no path");
            continue;
        };
        let error = row.std_error.unwrap_or(0.0);
        let center = format!("{} ± {}", figure(&row.metric, mean), figure(&row.metric, error));
        let range = format!("{} .. {}", figure(&row.metric, p05), figure(&row.metric, p95));
        let _ = writeln!(table, "  {:<62} {:>22} {:>24}", catalogue.metric(&row.metric).heading(), center, range);
    }
    table
}

/// Paired differences of each party's NPV against the baseline deal.
pub fn comparison_table(catalogue: &Catalogue, rows: &[ComparisonRow]) -> String {
    let mut table = String::new();
    let npv_rows = rows.iter().filter(|row| row.metric.starts_with("party.") && row.metric.ends_with(".npv"));
    for row in npv_rows {
        if table.is_empty() {
            let _ = writeln!(table, "\npaired differences (deal − baseline), same paths:");
            let header = ("deal − baseline", "metric", "mean ± s.e.", "unpaired s.e.", "P(> 0)");
            let _ = writeln!(
                table,
                "  {:<34} {:<28} {:>22} {:>14} {:>8}",
                header.0, header.1, header.2, header.3, header.4
            );
        }
        let (Some(mean), Some(se), Some(unpaired), Some(positive)) =
            (row.mean_difference, row.std_error, row.unpaired_std_error, row.prob_positive)
        else {
            continue;
        };
        let pair = format!("{} − {}", row.deal, row.baseline);
        let center = format!("{} ± {}", format::money(mean), format::money(se));
        let positive = format::percent(positive, 1);
        let _ = writeln!(
            table,
            "  {pair:<34} {:<28} {center:>22} {:>14} {positive:>8}",
            catalogue.metric(&row.metric).heading(),
            format::money(unpaired)
        );
    }
    table
}

/// Each party's mean NPV by outcome of each event that has outcomes, deal by deal.
pub fn outcome_tables_text(tables: &[OutcomeTable]) -> String {
    let mut text = String::new();
    for table in tables {
        let _ = writeln!(text, "\nmean NPV by how {} ends (share of paths):", table.event);
        let mut header = format!("  {:<28} {:<12}", "deal", "party");
        for (column, probability) in table.columns.iter().zip(&table.probabilities) {
            let probability = probability.map_or(String::new(), |p| format!(" ({:.0}%)", p * 100.0));
            header.push_str(&format!(" {:>22}", format!("{column}{probability}")));
        }
        let _ = writeln!(text, "{header}");
        for row in &table.rows {
            let mut line = format!("  {:<28} {:<12}", row.deal, row.party);
            for mean in &row.means {
                line.push_str(&format!(" {:>22}", mean.map_or("no path".to_string(), format::money)));
            }
            let _ = writeln!(text, "{line}");
        }
    }
    text
}

/// The chances asked for with `--prob`, a line each.
pub fn probability_table(catalogue: &Catalogue, rows: &[crate::report::probabilities::ProbabilityRow]) -> String {
    let mut table = String::new();
    if rows.is_empty() {
        return table;
    }
    let _ = writeln!(table, "\ntarget probabilities (share of paths, ± sampling error):");
    for row in rows {
        let entry = catalogue.metric(&row.metric);
        let _ = writeln!(
            table,
            "  {:<28} P({} {} {}) = {}",
            row.deal,
            entry.heading(),
            row.side,
            entry.format(row.threshold),
            row.describe()
        );
    }
    table
}

/// The `top` inputs with the largest swing for each deal's target metric.
pub fn tornado_table(catalogue: &Catalogue, rows: &[SensitivityRow], top: usize) -> String {
    let mut table = String::new();
    let mut shown = 0;
    let mut current: Option<(&str, &str, &str)> = None;
    for row in rows {
        if current != Some((&row.deal, &row.baseline, &row.metric)) {
            current = Some((&row.deal, &row.baseline, &row.metric));
            shown = 0;
            let heading = catalogue.metric(&row.metric).heading();
            let _ = if row.baseline.is_empty() {
                writeln!(table, "\nwhat moves {heading} under {} (input at P10 / P90, all else random):", row.deal)
            } else {
                writeln!(
                    table,
                    "\nwhat moves the difference in {heading}, {} − {} (input at P10 / P90, all else random):",
                    row.deal, row.baseline
                )
            };
        }
        if shown == top {
            continue;
        }
        shown += 1;
        let show = |value: f64| figure(&row.metric, value);
        let _ = writeln!(
            table,
            "  {:<58} {:>11} .. {:<11} swing {:>10}  rank corr. {:+.2}",
            format!(
                "{} ({} .. {})",
                row.input,
                format::scenario_number(row.input_low),
                format::scenario_number(row.input_high)
            ),
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
    fn figures_are_formatted_by_kind() {
        assert_eq!(figure("revenue_share.x.paid", 38e9), "$38.00B");
        assert_eq!(figure("revenue_share.x.cap_hit", 0.25), "25.0%");
        assert_eq!(figure("party.microsoft.stake", 0.27), "27.00%");
        assert_eq!(figure("revenue_share.x.cap_hit_year", 2029.5), "2029.5");
        assert_eq!(figure("party.openai.npv", -106.85e9), "−$106.85B");
    }
}
