//! `report.html`: one self-contained page (charts as base64 data URIs, no scripts, no network)
//! that reads as a memo: the answer first (a column per deal: the key metrics by their readable
//! names, mean, P5–P95 and the paired difference against the baseline), then the few charts that
//! matter, then the details in closed sections (the deals compared, outcomes, every other chart,
//! sensitivity, the summary tables, the inputs and the run's facts).

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::analysis::sensitivity::SensitivityRow;
use crate::format;
use crate::report::catalogue::{self, Catalogue};
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
    pub scatters: &'a [crate::analysis::sensitivity::Scatter],
    pub probabilities: &'a [crate::report::probabilities::ProbabilityRow],
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
    catalogue::metric_unit(metric).format(value)
}

fn cell(metric: &str, value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_string(), |value| figure(metric, value))
}

fn is_world_metric(metric: &str) -> bool {
    metric.starts_with("stream.") || metric.starts_with("event.")
}

const STYLE: &str = "
body { font-family: 'DejaVu Sans', 'Helvetica Neue', Arial, sans-serif; color: #212121; margin: 0; background: #f4f5f7; }
main { max-width: 1340px; margin: 0 auto; padding: 28px 36px 60px; background: #fff; }
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
p.facts { font-size: 13.5px; color: #444; margin: 4px 0 0; }
table.answer { font-size: 13.5px; }
table.answer th.deal { text-align: right; }
table.answer td { vertical-align: top; padding: 6px 8px; }
table.answer td.metric { text-align: left; font-weight: 600; white-space: normal; min-width: 12em; }
table.answer .range, table.answer .diff { display: block; font-size: 12px; color: #555; }
table.answer .diff { color: #1f4e79; }
details { margin: 10px 0; border: 1px solid #e3e3e3; border-radius: 4px; padding: 0 14px; }
details[open] { padding-bottom: 12px; }
summary { font-size: 17px; font-weight: 600; padding: 9px 0; cursor: pointer; color: #1f3b57; }
nav.contents a { white-space: nowrap; }
";

/// The whole page. `charts` may be empty (then the page says so).
pub fn render_report(scenario: &Scenario, info: &RunInfo<'_>, tables: ReportTables<'_>, charts: &[Chart]) -> String {
    let catalogue = Catalogue::of(scenario);
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
    let grid = scenario.grid();
    let _ = writeln!(
        html,
        "<p class=\"facts\">{} paths · seed {} · {} to {} · money undiscounted except NPV</p>",
        format::count(info.paths as f64),
        info.seed,
        grid.label(0),
        grid.horizon_label()
    );
    let key_files = key_chart_files(charts);
    let (key_charts, other_charts): (Vec<&Chart>, Vec<&Chart>) =
        charts.iter().partition(|chart| key_files.contains(&chart.file_name.as_str()));
    let mut contents = vec![("answer", "The answer".to_string())];
    if !key_charts.is_empty() {
        contents.push(("key-charts", "Key charts".to_string()));
    }
    let mut details: Vec<(&str, String, String)> = Vec::new();
    let mut section = |id: &'static str, title: String, write: &dyn Fn(&mut String)| {
        let mut body = String::new();
        write(&mut body);
        if !body.is_empty() {
            details.push((id, title, body));
        }
    };
    section("comparison", "Deal against deal: every key metric, path by path".to_string(), &|h| {
        comparison(h, &catalogue, tables.comparison)
    });
    section("outcomes", "By outcome".to_string(), &|h| outcomes(h, tables.outcomes, charts));
    section("charts", format!("All charts ({})", other_charts.len()), &|h| {
        for chart in other_charts.iter().filter(|chart| !chart.file_name.starts_with("outcomes-")) {
            figure_of(h, chart);
        }
    });
    section("sensitivity", "What moves the results".to_string(), &|h| sensitivity(h, &catalogue, tables.sensitivity));
    section("tables", "Summary tables".to_string(), &|h| summary_tables(h, scenario, tables.summary));
    section("inputs", format!("Uncertain inputs ({})", scenario.inputs.len()), &|h| inputs(h, scenario));
    section("run", "The run".to_string(), &|h| run_facts(h, scenario, info));
    contents.extend(details.iter().map(|(id, title, _)| (*id, title.clone())));
    html.push_str("<nav class=\"contents\">");
    for (id, title) in &contents {
        let _ = write!(html, "<a href=\"#{id}\">{}</a>", escape(title));
    }
    html.push_str("</nav>\n");
    answer(&mut html, scenario, tables);
    if !key_charts.is_empty() {
        html.push_str("<h2 id=\"key-charts\">Key charts</h2>\n");
        for chart in key_charts {
            figure_of(&mut html, chart);
        }
    }
    html.push_str("<h2 id=\"details\">Details</h2>\n");
    for (id, title, body) in details {
        let _ = write!(html, "<details id=\"{id}\"><summary>{}</summary>\n{body}</details>\n", escape(&title));
    }
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
    html.push_str("<table class=\"facts\"><tbody>\n");
    for (label, value) in rows {
        let _ = writeln!(html, "<tr><th>{}</th><td class=\"text\">{}</td></tr>", escape(label), escape(&value));
    }
    html.push_str("</tbody></table>\n");
}

/// comparison.csv's key metrics: each deal against the baseline, path by path. Metrics the two
/// deals share exactly (a difference of zero on every path) are left out.
fn comparison(html: &mut String, catalogue: &Catalogue, rows: &[ComparisonRow]) {
    let Some(first) = rows.first() else { return };
    let _ = writeln!(
        html,
        "<p class=\"note\">Each deal minus the baseline ({}) on the \
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
                "<tr><td class=\"text\" title=\"{}\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                escape(m),
                escape(&catalogue.metric(m).heading()),
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
        "<p class=\"note\">Each party's mean NPV over the paths where the event \
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
fn sensitivity(html: &mut String, catalogue: &Catalogue, rows: &[SensitivityRow]) {
    if rows.is_empty() {
        return;
    }
    html.push_str(
        "<p class=\"note\">Each uncertain input fixed at its \
         10th and then its 90th percentile, everything else random on the same paths: the target's mean at each, \
         and the swing between them, ± its standard error (from the per-path differences, which share every \
         other random number). The rank correlation is between the input's draws and the target over \
         the unpinned paths. The largest swings are shown; sensitivity.csv has every input.</p>\n",
    );
    for target in rows.chunk_by(|a, b| a.deal == b.deal && a.baseline == b.baseline && a.metric == b.metric) {
        let (deal, metric) = (&target[0].deal, &target[0].metric);
        let heading = escape(&catalogue.metric(metric).heading());
        let _ = match target[0].baseline.as_str() {
            "" => writeln!(html, "<h3>{}: {heading}</h3>", escape(deal)),
            baseline => writeln!(html, "<h3>{} − {}: difference in {heading}</h3>", escape(deal), escape(baseline)),
        };
        html.push_str(
            "<table class=\"sensitivity\"><thead><tr><th class=\"name\">input</th><th>input P10</th><th>input P90</th>\
             <th>target at P10</th><th>target at P90</th><th>swing ± s.e.</th><th>rank corr.</th></tr></thead><tbody>\n",
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
                escape(&format!("{} ± {}", figure(metric, row.swing), figure(metric, row.swing_se))),
                row.rank_correlation
            );
        }
        html.push_str("</tbody></table>\n");
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

fn table_row(html: &mut String, catalogue: &Catalogue, row: &SummaryRow) {
    let m = &row.metric;
    let _ = writeln!(
        html,
        "<tr><td class=\"text\" title=\"{}\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
         <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
         <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
        escape(m),
        escape(&catalogue.metric(m).heading()),
        format::count(row.count as f64),
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
    let catalogue = Catalogue::of(scenario);
    html.push_str(
        "<p class=\"note\">The rows of summary.csv. Money in $B \
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
            table_row(html, &catalogue, row);
        }
        html.push_str("</tbody></table></div>\n");
    }
    for deal in &scenario.deals {
        let _ = writeln!(html, "<h3>{}</h3>", escape(&deal.name));
        table_header(html);
        for row in summary.iter().filter(|row| row.deal == deal.name && !is_world_metric(&row.metric)) {
            table_row(html, &catalogue, row);
        }
        html.push_str("</tbody></table></div>\n");
    }
}

/// The uncertain inputs and their distributions, amounts in $B.
fn inputs(html: &mut String, scenario: &Scenario) {
    if scenario.inputs.is_empty() {
        html.push_str("<p class=\"note\">Every input is fixed.</p>\n");
        return;
    }
    html.push_str(
        "<p class=\"note\">Each is drawn once per path.</p>\n<table class=\"inputs\"><thead><tr>\
         <th class=\"name\">key path</th><th class=\"name\">distribution</th></tr></thead><tbody>\n",
    );
    for input in &scenario.inputs {
        let _ = writeln!(
            html,
            "<tr><td class=\"name\">{}</td><td class=\"name\">{}</td></tr>",
            escape(&input.key),
            escape(&input.distribution.describe_with(format::scenario_number))
        );
    }
    html.push_str("</tbody></table>\n");
}

/// The charts the memo shows before its details: each party's NPV difference against the
/// baseline (with one deal, each party's NPV), cash and the funding gap, and the first tornado.
fn key_chart_files(charts: &[Chart]) -> Vec<&str> {
    let first = |prefix: &str| charts.iter().find(|chart| chart.file_name.starts_with(prefix));
    let npv = first("npv-difference.").or_else(|| first("npv."));
    [npv, first("cash."), first("tornado-")].into_iter().flatten().map(|chart| chart.file_name.as_str()).collect()
}

/// The answer: a column per deal and a row per key metric, by its readable name: the mean,
/// the 5th–95th percentile range and, beside the baseline, the paired difference with its error.
fn answer(html: &mut String, scenario: &Scenario, tables: ReportTables<'_>) {
    let catalogue = Catalogue::of(scenario);
    let baseline = tables.comparison.first().map(|row| row.baseline.as_str());
    let mut metrics: Vec<&str> = Vec::new();
    for row in tables.summary.iter().filter(|row| is_key_figure(&row.metric)) {
        if !metrics.contains(&row.metric.as_str()) {
            metrics.push(&row.metric);
        }
    }
    // Each party's NPV answers the first question; the terms' figures explain it.
    metrics.sort_by_key(|metric| !(metric.starts_with("party.") && metric.ends_with(".npv")));
    html.push_str("<h2 id=\"answer\">The answer</h2>\n");
    let _ = writeln!(
        html,
        "<p class=\"note\">Mean over all paths, the 5th–95th percentile range under it{}. Money in $B, \
         undiscounted except NPV.</p>",
        match baseline {
            Some(baseline) => format!(
                ", and the paired difference against the baseline, {}, on the same paths, ± its standard error",
                escape(baseline)
            ),
            None => String::new(),
        }
    );
    html.push_str("<div class=\"wide\"><table class=\"answer\"><thead><tr><th class=\"name\"></th>");
    for deal in &scenario.deals {
        let role = if Some(deal.name.as_str()) == baseline { " (baseline)" } else { "" };
        let _ = write!(
            html,
            "<th class=\"deal\" title=\"{}\">{}{role}</th>",
            escape(&deal.description),
            escape(&deal.name)
        );
    }
    html.push_str("</tr></thead><tbody>\n");
    for metric in metrics {
        let entry = catalogue.metric(metric);
        let _ = write!(html, "<tr><td class=\"metric\" title=\"{}\">{}</td>", escape(metric), escape(&entry.heading()));
        for deal in &scenario.deals {
            let row = tables.summary.iter().find(|row| row.deal == deal.name && row.metric == metric);
            let Some((row, mean)) = row.and_then(|row| Some((row, row.mean?))) else {
                html.push_str("<td class=\"num\">–</td>");
                continue;
            };
            let _ = write!(html, "<td class=\"num\">{}", escape(&entry.format(mean)));
            if let (Some(p05), Some(p95)) = (row.p05, row.p95) {
                let _ = write!(
                    html,
                    "<span class=\"range\">{} – {}</span>",
                    escape(&entry.format(p05)),
                    escape(&entry.format(p95))
                );
            }
            let difference = tables.comparison.iter().find(|c| c.deal == deal.name && c.metric == metric);
            if let Some((difference, error)) = difference.and_then(|c| Some((c.mean_difference?, c.std_error?))) {
                let text = if difference == 0.0 && error == 0.0 {
                    "same on every path".to_string()
                } else {
                    let sign = if difference > 0.0 { "+" } else { "" };
                    format!("{sign}{} ± {}", entry.format(difference), entry.format(error))
                };
                let _ = write!(html, "<span class=\"diff\">{}</span>", escape(&text));
            }
            html.push_str("</td>");
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody></table></div>\n");
    target_probabilities(html, scenario, tables.probabilities);
}

/// The chances asked for with `--prob`: a row per target, a column per deal.
fn target_probabilities(html: &mut String, scenario: &Scenario, rows: &[crate::report::probabilities::ProbabilityRow]) {
    let catalogue = Catalogue::of(scenario);
    if rows.is_empty() {
        return;
    }
    html.push_str(
        "<h3>Target probabilities</h3>\n<p class=\"note\">The share of paths on which each metric ends beyond \
         the threshold asked for (--prob), ± its sampling error, and where paths lie too close to the \
         threshold for the quantile sketch to tell (within 0.4% of it), the range they leave open.</p>\n<div class=\"wide\"><table class=\"answer\"><thead><tr>\
         <th class=\"name\"></th>",
    );
    for deal in &scenario.deals {
        let _ = write!(html, "<th class=\"deal\">{}</th>", escape(&deal.name));
    }
    html.push_str("</tr></thead><tbody>\n");
    let mut targets: Vec<(&str, &str, f64)> = Vec::new();
    for row in rows {
        if !targets.contains(&(row.metric.as_str(), row.side, row.threshold)) {
            targets.push((&row.metric, row.side, row.threshold));
        }
    }
    for (metric, side, threshold) in targets {
        let entry = catalogue.metric(metric);
        let _ = write!(
            html,
            "<tr><td class=\"metric\" title=\"{}\">P({} {side} {})</td>",
            escape(metric),
            escape(&entry.heading()),
            escape(&entry.format(threshold))
        );
        for deal in &scenario.deals {
            let row = rows
                .iter()
                .find(|r| r.deal == deal.name && r.metric == metric && r.side == side && r.threshold == threshold);
            match row {
                Some(row) => {
                    let _ = write!(html, "<td class=\"num\">{}</td>", escape(&row.describe()));
                }
                None => html.push_str("<td class=\"num\">–</td>"),
            }
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody></table></div>\n");
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
