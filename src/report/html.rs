//! `report.html`: one self-contained page (charts as base64 data URIs, no scripts, no network)
//! with the run's facts, the key figures per deal, the deals compared, every chart with how to
//! read it, the sensitivity tables, the summary tables and the uncertain inputs.

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::analysis::sensitivity::SensitivityRow;
use crate::report::catalogue;
use crate::report::charts::Chart;
use crate::report::run_info::RunInfo;
use crate::report::terminal::is_key_figure;
use crate::report::{ComparisonRow, OutcomeTable, SummaryRow};
use crate::scenario::Scenario;

/// The tables behind a run's report: summary.csv, comparison.csv and sensitivity.csv rows
/// (the last two may be empty).
#[derive(Clone, Copy, Debug)]
pub struct ReportTables<'a> {
    pub summary: &'a [SummaryRow],
    pub comparison: &'a [ComparisonRow],
    pub sensitivity: &'a [SensitivityRow],
    pub outcomes: &'a [OutcomeTable],
}

/// Inputs shown in the report's sensitivity table for each deal and metric.
const SENSITIVITY_ROWS: usize = 10;

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            _ => escaped.push(c),
        }
    }
    escaped
}

fn figure(metric: &str, value: f64) -> String {
    catalogue::metric(metric).format(value)
}

fn cell(metric: &str, value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_string(), |value| figure(metric, value))
}

fn is_world_metric(metric: &str) -> bool {
    metric.starts_with("stream.") || metric.starts_with("event.")
}

const STYLE: &str = "
body { font-family: 'DejaVu Sans', 'Helvetica Neue', Arial, sans-serif; color: #212121; margin: 0; background: #f4f5f7; }
main { max-width: 1240px; margin: 0 auto; padding: 28px 36px 60px; background: #fff; }
h1 { font-size: 28px; margin: 0 0 6px; }
h2 { font-size: 21px; margin: 36px 0 10px; border-bottom: 2px solid #1f77b4; padding-bottom: 4px; }
h3 { font-size: 17px; margin: 22px 0 8px; }
p.description { font-size: 15px; line-height: 1.5; color: #333; max-width: 60em; }
table { border-collapse: collapse; font-size: 13.5px; margin: 6px 0 14px; }
th, td { padding: 4px 9px; border-bottom: 1px solid #e3e3e3; text-align: right; white-space: nowrap; }
th { background: #eef2f6; font-weight: 600; }
td.name, th.name { text-align: left; font-family: 'DejaVu Sans Mono', Menlo, Consolas, monospace; font-size: 12.5px; }
td.text { text-align: left; white-space: normal; }
tbody tr:nth-child(even) { background: #fafbfc; }
table.facts td, table.facts th { text-align: left; }
td.num { font-variant-numeric: tabular-nums; }
table.summary { font-size: 12.5px; }
table.summary td, table.summary th { padding: 3px 7px; }
table.summary td.name { font-size: 11.5px; }
div.wide { overflow-x: auto; }
figure { margin: 18px 0 30px; }
figure img { width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: 14px; line-height: 1.45; color: #333; margin-top: 6px; }
figcaption b { color: #111; }
nav { font-size: 14px; margin: 10px 0 0; }
nav a { margin-right: 14px; color: #1f77b4; }
.note { font-size: 13px; color: #555; }
";

/// The whole page. `charts` may be empty (then the page says so).
pub fn render_report(scenario: &Scenario, info: &RunInfo<'_>, tables: ReportTables<'_>, charts: &[Chart]) -> String {
    let mut html = String::with_capacity(charts.iter().map(|c| c.bytes.len() * 4 / 3 + 512).sum::<usize>() + 64_000);
    let name = if scenario.name.is_empty() { "(unnamed scenario)" } else { &scenario.name };
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>dealsim: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n",
        escape(name)
    );
    let _ = writeln!(html, "<h1>{}</h1>", escape(name));
    if !scenario.description.is_empty() {
        let _ = writeln!(html, "<p class=\"description\">{}</p>", escape(&scenario.description));
    }
    html.push_str("<nav><a href=\"#run\">Run</a><a href=\"#key-figures\">Key figures</a>");
    if !tables.comparison.is_empty() {
        html.push_str("<a href=\"#comparison\">Deal against deal</a>");
    }
    if !tables.outcomes.is_empty() {
        html.push_str("<a href=\"#outcomes\">By outcome</a>");
    }
    html.push_str("<a href=\"#charts\">Charts</a>");
    if !tables.sensitivity.is_empty() {
        html.push_str("<a href=\"#sensitivity\">Sensitivity</a>");
    }
    html.push_str("<a href=\"#tables\">Tables</a><a href=\"#inputs\">Uncertain inputs</a></nav>\n");
    run_facts(&mut html, scenario, info);
    key_figures(&mut html, scenario, tables.summary);
    comparison(&mut html, tables.comparison);
    outcomes(&mut html, tables.outcomes, charts);
    chart_section(&mut html, charts);
    sensitivity(&mut html, tables.sensitivity);
    summary_tables(&mut html, scenario, tables.summary);
    inputs(&mut html, info);
    html.push_str("</main>\n</body>\n</html>\n");
    html
}

fn run_facts(html: &mut String, scenario: &Scenario, info: &RunInfo<'_>) {
    let grid = scenario.grid();
    let mut rows: Vec<(&str, String)> = vec![
        ("scenario file", info.scenario_file.clone()),
        ("scenario hash (SHA-256)", info.scenario_hash.clone()),
        ("seed", info.seed.to_string()),
        ("paths", info.paths.to_string()),
        ("horizon", format!("{} to {} ({} periods)", grid.label(0), grid.horizon_label(), info.periods)),
        ("threads", info.threads.to_string()),
        ("simulation time", format!("{:.2} s ({:.0} paths/s)", info.elapsed_seconds, info.paths_per_second)),
        ("dealsim version", info.version.to_string()),
        ("deals", info.deals.join(", ")),
    ];
    if !info.overrides.is_empty() {
        rows.push(("overrides (--set)", info.overrides.join("; ")));
    }
    if !info.correlations.is_empty() {
        let pairs: Vec<String> =
            info.correlations.iter().map(|c| format!("{} ~ {}: {}", c.between[0], c.between[1], c.rank)).collect();
        rows.push(("rank correlations", pairs.join("; ")));
    }
    html.push_str("<h2 id=\"run\">Run</h2>\n<table class=\"facts\"><tbody>\n");
    for (label, value) in rows {
        let _ = writeln!(html, "<tr><th>{}</th><td class=\"text\">{}</td></tr>", escape(label), escape(&value));
    }
    html.push_str("</tbody></table>\n");
}

fn key_figures(html: &mut String, scenario: &Scenario, summary: &[SummaryRow]) {
    html.push_str(
        "<h2 id=\"key-figures\">Key figures per deal</h2>\n<p class=\"note\">Mean ± standard error of the mean, \
         and the 5th, 50th and 95th percentiles over all paths. Money in $B, undiscounted except NPV; \
         0/1 outcomes (cap hit, met) read as probabilities; cap-hit years only over the paths that hit the cap.</p>\n",
    );
    for deal in &scenario.deals {
        let rows: Vec<&SummaryRow> =
            summary.iter().filter(|row| row.deal == deal.name && is_key_figure(&row.metric)).collect();
        let _ = writeln!(html, "<h3>{}</h3>", escape(&deal.name));
        if !deal.description.is_empty() {
            let _ = writeln!(html, "<p class=\"note\">{}</p>", escape(&deal.description));
        }
        html.push_str(
            "<table class=\"key\"><thead><tr><th class=\"name\">metric</th><th>mean ± s.e.</th><th>P5</th>\
             <th>median</th><th>P95</th><th>paths</th></tr></thead><tbody>\n",
        );
        for row in rows {
            let center = match (row.mean, row.std_error) {
                (Some(mean), Some(error)) => format!("{} ± {}", figure(&row.metric, mean), figure(&row.metric, error)),
                (Some(mean), None) => figure(&row.metric, mean),
                _ => "no path".to_string(),
            };
            let _ = writeln!(
                html,
                "<tr><td class=\"name\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                escape(&row.metric),
                escape(&center),
                escape(&cell(&row.metric, row.p05)),
                escape(&cell(&row.metric, row.p50)),
                escape(&cell(&row.metric, row.p95)),
                row.count
            );
        }
        html.push_str("</tbody></table>\n");
    }
}

/// comparison.csv's key metrics: each deal against the baseline, path by path. Metrics the two
/// deals share exactly (a difference of zero on every path) are left out.
fn comparison(html: &mut String, rows: &[ComparisonRow]) {
    let Some(first) = rows.first() else { return };
    let _ = writeln!(
        html,
        "<h2 id=\"comparison\">Deal against deal</h2>\n<p class=\"note\">Each deal minus the baseline ({}) on the \
         same paths. The paired standard error comes from the per-path differences; the unpaired one is what \
         independent runs would give. P(&gt; 0) is the share of paths where the deal gives more. Metrics equal \
         under both deals on every path are left out; comparison.csv has every metric.</p>",
        escape(&first.baseline)
    );
    let differs = |row: &&ComparisonRow| {
        is_key_figure(&row.metric) && (row.mean_difference != Some(0.0) || row.std_error != Some(0.0))
    };
    for pair in rows.chunk_by(|a, b| a.deal == b.deal) {
        let _ = writeln!(html, "<h3>{} − {}</h3>", escape(&pair[0].deal), escape(&pair[0].baseline));
        html.push_str(
            "<table class=\"comparison\"><thead><tr><th class=\"name\">metric</th><th>mean difference ± s.e.</th>\
             <th>unpaired s.e.</th><th>P5</th><th>median</th><th>P95</th><th>P(&gt; 0)</th></tr></thead><tbody>\n",
        );
        for row in pair.iter().filter(differs) {
            let m = &row.metric;
            let center = match (row.mean_difference, row.std_error) {
                (Some(mean), Some(error)) => format!("{} ± {}", figure(m, mean), figure(m, error)),
                _ => "no path".to_string(),
            };
            let positive = row.prob_positive.map_or_else(|| "–".to_string(), |p| format!("{:.1}%", p * 100.0));
            let _ = writeln!(
                html,
                "<tr><td class=\"name\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                escape(m),
                escape(&center),
                escape(&cell(m, row.unpaired_std_error)),
                escape(&cell(m, row.p05)),
                escape(&cell(m, row.p50)),
                escape(&cell(m, row.p95)),
                positive
            );
        }
        html.push_str("</tbody></table>\n");
    }
}

/// Each party's mean NPV by how each event with outcomes ends, deal by deal, with its chart.
fn outcomes(html: &mut String, tables: &[OutcomeTable], charts: &[Chart]) {
    if tables.is_empty() {
        return;
    }
    html.push_str(
        "<h2 id=\"outcomes\">By outcome</h2>\n<p class=\"note\">Each party's mean NPV over the paths where the event \
         ends each way, and where it does not occur by the horizon. The share of paths in each case heads its column; \
         conditional.csv has the percentiles and the other key metrics.</p>\n",
    );
    for table in tables {
        let _ = writeln!(html, "<h3>How {} ends</h3>", escape(&table.event));
        html.push_str(
            "<table class=\"comparison\"><thead><tr><th class=\"name\">deal</th><th class=\"name\">party</th>",
        );
        for (column, probability) in table.columns.iter().zip(&table.probabilities) {
            let share = probability.map_or(String::new(), |p| format!(" ({:.0}%)", p * 100.0));
            let _ = write!(html, "<th>{}{share}</th>", escape(column));
        }
        html.push_str("</tr></thead><tbody>\n");
        for row in &table.rows {
            let _ = write!(
                html,
                "<tr><td class=\"name\">{}</td><td class=\"name\">{}</td>",
                escape(&row.deal),
                escape(&row.party)
            );
            for mean in &row.means {
                let _ = write!(html, "<td class=\"num\">{}</td>", escape(&cell("party.npv", *mean)));
            }
            html.push_str("</tr>\n");
        }
        html.push_str("</tbody></table>\n");
        let file = format!("outcomes-{}.", table.event);
        if let Some(chart) = charts.iter().find(|chart| chart.file_name.starts_with(&file)) {
            figure_of(html, chart);
        }
    }
}

/// sensitivity.csv: the inputs that move each target most, largest swing first.
fn sensitivity(html: &mut String, rows: &[SensitivityRow]) {
    if rows.is_empty() {
        return;
    }
    html.push_str(
        "<h2 id=\"sensitivity\">What moves the results</h2>\n<p class=\"note\">Each uncertain input fixed at its \
         10th and then its 90th percentile, everything else random on the same paths: the target's mean at each, \
         and the swing between them. The rank correlation is between the input's draws and the target over \
         the unpinned paths. The largest swings are shown; sensitivity.csv has every input.</p>\n",
    );
    for target in rows.chunk_by(|a, b| a.deal == b.deal && a.metric == b.metric) {
        let (deal, metric) = (&target[0].deal, &target[0].metric);
        let _ = writeln!(html, "<h3>{}: {}</h3>", escape(deal), escape(metric));
        html.push_str(
            "<table class=\"sensitivity\"><thead><tr><th class=\"name\">input</th><th>input P10</th><th>input P90</th>\
             <th>target at P10</th><th>target at P90</th><th>swing</th><th>rank corr.</th></tr></thead><tbody>\n",
        );
        for row in target.iter().take(SENSITIVITY_ROWS) {
            let _ = writeln!(
                html,
                "<tr><td class=\"name\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{:+.2}</td></tr>",
                escape(&row.input),
                escape(&crate::format::scenario_number(row.input_low)),
                escape(&crate::format::scenario_number(row.input_high)),
                escape(&figure(metric, row.metric_low)),
                escape(&figure(metric, row.metric_high)),
                escape(&figure(metric, row.swing)),
                row.rank_correlation
            );
        }
        html.push_str("</tbody></table>\n");
    }
}

fn chart_section(html: &mut String, charts: &[Chart]) {
    html.push_str("<h2 id=\"charts\">Charts</h2>\n");
    if charts.is_empty() {
        html.push_str("<p class=\"note\">No charts were drawn for this run.</p>\n");
    }
    // The outcome charts stand with their tables, in "By outcome".
    for chart in charts.iter().filter(|chart| !chart.file_name.starts_with("outcomes-")) {
        figure_of(html, chart);
    }
}

/// A chart embedded with its caption.
fn figure_of(html: &mut String, chart: &Chart) {
    let _ = write!(
        html,
        "<figure id=\"{}\">\n<img alt=\"{}\" src=\"data:{};base64,",
        escape(&chart.file_name),
        escape(&chart.title),
        chart.format.mime()
    );
    STANDARD.encode_string(&chart.bytes, html);
    let _ = write!(
        html,
        "\">\n<figcaption><b>{}.</b> {}</figcaption>\n</figure>\n",
        escape(&chart.title),
        escape(&chart.caption)
    );
}

fn table_header(html: &mut String) {
    html.push_str(
        "<div class=\"wide\"><table class=\"summary\"><thead><tr><th class=\"name\">metric</th><th>paths</th><th>mean</th>\
         <th>s.e.</th><th>P5</th><th>P25</th><th>median</th><th>P75</th><th>P95</th><th>min</th><th>max</th>\
         </tr></thead><tbody>\n",
    );
}

fn table_row(html: &mut String, row: &SummaryRow) {
    let m = &row.metric;
    let _ = writeln!(
        html,
        "<tr><td class=\"name\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
         <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
         <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
        escape(m),
        row.count,
        escape(&cell(m, row.mean)),
        escape(&cell(m, row.std_error)),
        escape(&cell(m, row.p05)),
        escape(&cell(m, row.p25)),
        escape(&cell(m, row.p50)),
        escape(&cell(m, row.p75)),
        escape(&cell(m, row.p95)),
        escape(&cell(m, row.min)),
        escape(&cell(m, row.max)),
    );
}

/// summary.csv as tables: the world's metrics once, then each deal's own metrics.
fn summary_tables(html: &mut String, scenario: &Scenario, summary: &[SummaryRow]) {
    html.push_str(
        "<h2 id=\"tables\">Summary tables</h2>\n<p class=\"note\">The rows of summary.csv. Money in $B \
         (undiscounted except NPV); percentiles are within 0.4% of the exact order statistic, min and max are \
         exact.</p>\n",
    );
    let Some(first) = scenario.deals.first() else {
        return;
    };
    let world: Vec<&SummaryRow> =
        summary.iter().filter(|row| row.deal == first.name && is_world_metric(&row.metric)).collect();
    if !world.is_empty() {
        html.push_str("<h3>The world (the same under every deal)</h3>\n");
        table_header(html);
        for row in world {
            table_row(html, row);
        }
        html.push_str("</tbody></table></div>\n");
    }
    for deal in &scenario.deals {
        let _ = writeln!(html, "<h3>{}</h3>", escape(&deal.name));
        table_header(html);
        for row in summary.iter().filter(|row| row.deal == deal.name && !is_world_metric(&row.metric)) {
            table_row(html, row);
        }
        html.push_str("</tbody></table></div>\n");
    }
}

fn inputs(html: &mut String, info: &RunInfo<'_>) {
    let _ = writeln!(html, "<h2 id=\"inputs\">Uncertain inputs ({})</h2>", info.uncertain_inputs.len());
    if info.uncertain_inputs.is_empty() {
        html.push_str("<p class=\"note\">Every input is fixed.</p>\n");
        return;
    }
    html.push_str(
        "<p class=\"note\">Each is drawn once per path.</p>\n<table class=\"inputs\"><thead><tr>\
         <th class=\"name\">key path</th><th class=\"name\">distribution</th></tr></thead><tbody>\n",
    );
    for input in &info.uncertain_inputs {
        let _ = writeln!(
            html,
            "<tr><td class=\"name\">{}</td><td class=\"name\">{}</td></tr>",
            escape(&input.key),
            escape(&input.distribution)
        );
    }
    html.push_str("</tbody></table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(escape("<a href=\"x\">R&D's</a>"), "&lt;a href=&quot;x&quot;&gt;R&amp;D&#39;s&lt;/a&gt;");
    }

    #[test]
    fn figures_read_by_kind() {
        assert_eq!(figure("revenue_share.x.paid", 38e9), "$38.00B");
        assert_eq!(figure("party.microsoft.npv", 26_597.341e9), "$26.60T");
        assert_eq!(figure("party.openai.npv", -1.5e9), "−$1.50B");
        assert_eq!(figure("commitment.x.met", 0.51), "51.0%");
        assert_eq!(figure("investment.x.multiple", 2.0), "2.00×");
        assert_eq!(figure("commitment.x.met", -0.173), "−17.3%");
        assert_eq!(figure("party.x.npv", -1e6), "$0.00B");
    }
}
