//! Charts and report.html rendered in memory from a small run of the shipped scenarios: every
//! chart decodes, has its stated size and is not blank; the report embeds every chart.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use dealsim::analysis::sensitivity::{SensitivityOptions, tornado};
use dealsim::engine::{self, Aggregates, RunOptions};
use dealsim::io::history::{History, history_file, read_history};
use dealsim::io::scenario_file::read_scenario;
use dealsim::report::catalogue::Catalogue;
use dealsim::report::charts::{self, Chart, ChartFormat, HEIGHT, WIDTH};
use dealsim::report::html::{ReportTables, render_report};
use dealsim::report::run_info::RunInfo;
use dealsim::report::{comparison_rows, summary_rows};
use dealsim::scenario::Scenario;
use dealsim::terms::TermKind;

fn scenario(name: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(name);
    read_scenario(&path, &[]).unwrap_or_else(|e| panic!("{e}")).scenario
}

/// base.toml's seed, which the growth files must share to be paired with it.
fn base_seed() -> u64 {
    scenario("base.toml").simulation.seed
}

fn small_run(scenario: &Scenario) -> Aggregates {
    let options = RunOptions { paths: 500, seed: 7, threads: 1, baseline: 0, target_relative_se: None, shard: None };
    engine::run(scenario, options, &|_| {}).unwrap()
}

/// A tornado small enough for a test: 300 paths, one thread, the default targets.
fn small_tornado() -> dealsim::analysis::sensitivity::SensitivityOptions {
    dealsim::analysis::sensitivity::SensitivityOptions {
        paths: 300,
        seed: 7,
        threads: 1,
        targets: Vec::new(),
        baseline: 0,
    }
}

fn histories(scenario: &Scenario) -> BTreeMap<String, History> {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    scenario
        .streams
        .iter()
        .filter_map(|s| read_history(&history_file(&data, &s.name)).unwrap().map(|h| (s.name.clone(), h)))
        .collect()
}

/// Decodes a PNG into (width, height, RGB bytes).
fn decode_png(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("a PNG header");
    let mut pixels = vec![0; reader.output_buffer_size().expect("a sane size")];
    let frame = reader.next_frame(&mut pixels).expect("PNG data");
    assert_eq!(frame.color_type, png::ColorType::Rgb);
    pixels.truncate(frame.buffer_size());
    (frame.width, frame.height, pixels)
}

/// Distinct colours in the middle of the image (the plot area, away from titles and axes).
fn plot_area_colours(width: u32, height: u32, pixels: &[u8]) -> usize {
    let mut colours = HashSet::new();
    for y in height / 4..height * 3 / 4 {
        for x in width / 5..width * 4 / 5 {
            let i = (y * width + x) as usize * 3;
            colours.insert([pixels[i], pixels[i + 1], pixels[i + 2]]);
        }
    }
    colours.len()
}

fn assert_png_chart(chart: &Chart) {
    let (width, height, pixels) = decode_png(&chart.bytes);
    assert_eq!(width, WIDTH, "{}", chart.file_name);
    assert!(height >= HEIGHT, "{}: {height} px high", chart.file_name);
    let colours = plot_area_colours(width, height, &pixels);
    assert!(colours > 8, "{} looks blank: {colours} colours in its plot area", chart.file_name);
    // Text is drawn: dark, anti-aliased glyph pixels exist somewhere (titles, ticks).
    let dark = pixels.chunks_exact(3).filter(|p| p.iter().all(|&c| c < 80)).count();
    assert!(dark > 500, "{}: no text drawn ({dark} dark pixels)", chart.file_name);
}

fn kinds(charts: &[Chart]) -> Vec<&str> {
    charts.iter().map(|c| c.file_name.split_once('-').map_or(c.file_name.as_str(), |(kind, _)| kind)).collect()
}

#[test]
fn every_chart_of_the_base_scenario_renders() {
    let scenario = scenario("base.toml");
    let aggregates = small_run(&scenario);
    let charts = charts::render_charts(&scenario, &aggregates, &histories(&scenario), ChartFormat::Png).unwrap();
    let names: Vec<&str> = charts.iter().map(|c| c.file_name.as_str()).collect();
    for expected in [
        "revenue-openai.png",
        "compute-spend.png",
        "revenue-share-apr-2026-openai-to-microsoft.png",
        "commitment-apr-2026-azure-250b.png",
        "commitment-apr-2026-aws-138b.png",
        "npv.png",
        "equity-apr-2026.png",
    ] {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }
    for chart in &charts {
        assert_png_chart(chart);
        assert!(!chart.title.is_empty() && !chart.caption.is_empty(), "{} has a title and caption", chart.file_name);
    }
}

#[test]
fn each_chart_function_renders_into_memory() {
    let bands = charts::Bands {
        x: vec![2026.25, 2026.5, 2026.75, 2027.0],
        p05: vec![10.0, 11.0, 12.0, 13.0],
        p25: vec![12.0, 13.0, 14.0, 15.0],
        p50: vec![14.0, 15.0, 16.0, 17.0],
        p75: vec![16.0, 17.0, 18.0, 19.0],
        p95: vec![20.0, 21.0, 22.0, 23.0],
    };
    let values: Vec<f64> = (0..1000).map(|i| f64::from(i) / 10.0).collect();
    let histogram = charts::histogram_from_quantiles(&values, 1000, 1000, 0.0..100.0);
    let history = History { annual_revenue: vec![(2024, 3.7e9), (2025, 13.1e9)], run_rate: vec![(2026.0, 20e9)] };
    let bars = charts::Bars { labels: vec!["2027".into(), "never".into()], shares: vec![60.0, 40.0] };
    let cap = charts::Level { median: 38.0, p05: 31.0, p95: 47.0 };
    let holding = charts::Holding { party: "x".into(), stake: bands.clone(), value: histogram.clone() };
    let npv = charts::PartyNpv { party: "x".into(), deals: vec![("a".into(), histogram.clone())] };
    let format = ChartFormat::Png;
    let rendered = [
        charts::revenue_fan("s", &bands, Some(&history), 2026.0, format).unwrap(),
        charts::revenue_share_chart("t", &bands, 2026.75, Some(cap), Some(&bars), format).unwrap(),
        charts::revenue_share_chart("t", &bands, 2027.0, None, None, format).unwrap(),
        charts::commitment_chart("t", &bands, cap, charts::Level::fixed(2026.8), &histogram, 50.0, format).unwrap(),
        charts::npv_chart(&[npv.clone(), npv], format).unwrap(),
        charts::equity_chart("d", &[holding], format).unwrap(),
        charts::compute_spend_chart(
            &bands.x,
            &[("a".into(), bands.p50.clone()), ("b".into(), bands.p05.clone())],
            "quarter",
            format,
        )
        .unwrap(),
    ];
    for (i, bytes) in rendered.iter().enumerate() {
        let chart = Chart {
            file_name: format!("chart-{i}.png"),
            title: String::new(),
            caption: String::new(),
            format,
            bytes: bytes.clone(),
        };
        assert_png_chart(&chart);
    }
}

#[test]
fn charts_render_for_every_deal_structure_and_as_svg() {
    let scenario = scenario("deal-structures.toml");
    let aggregates = small_run(&scenario);
    let charts = charts::render_charts(&scenario, &aggregates, &histories(&scenario), ChartFormat::Svg).unwrap();
    assert!(kinds(&charts).contains(&"equity"));
    for chart in &charts {
        assert!(chart.file_name.ends_with(".svg"));
        let text = std::str::from_utf8(&chart.bytes).unwrap();
        assert!(text.starts_with("<svg") && text.trim_end().ends_with("</svg>"), "{}", chart.file_name);
        assert!(text.contains("<text"), "{} has labels", chart.file_name);
    }
    // Every deal with a revenue share gets its chart, uncapped ones included.
    for deal in &scenario.deals {
        for term in deal.terms_of(TermKind::RevenueShare) {
            let name = format!("revenue-share-{}-{}.svg", deal.name, term.name());
            assert!(charts.iter().any(|c| c.file_name == name), "{name}");
        }
    }
}

#[test]
fn the_report_embeds_every_chart_and_the_key_table() {
    let scenario = scenario("base.toml");
    let aggregates = small_run(&scenario);
    let charts = charts::render_charts(&scenario, &aggregates, &histories(&scenario), ChartFormat::Png).unwrap();
    let summary = summary_rows(&scenario, &aggregates);
    let info = RunInfo::new(&scenario, Path::new("scenarios/base.toml"), "ab".repeat(32), vec![], &aggregates);
    let tables = ReportTables {
        summary: &summary,
        comparison: &[],
        sensitivity: &[],
        scatters: &[],
        probabilities: &[],
        outcomes: &[],
    };
    let html = render_report(&scenario, &info, tables, &charts);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("April 2026 amended terms"), "scenario name");
    assert!(html.contains("<th>seed</th><td class=\"text\">7</td>"), "seed");
    assert!(html.contains("<th>paths</th><td class=\"text\">500</td>"), "paths");
    // The answer comes first, by readable names; the details follow, closed.
    let answer = html.find("<h2 id=\"answer\">The answer</h2>").expect("the answer");
    assert!(answer < html.find("<details").unwrap(), "the answer before the details");
    assert!(html.contains(">Revenue share openai-to-microsoft: cap reached (% of paths)</td>"));
    assert!(html.contains(">Microsoft NPV ($B)</td>"));
    assert!(html.contains("streams.openai.growth.start"), "uncertain inputs are listed");
    assert!(!html.contains("<script") && !html.contains("http://") && !html.contains("src=\"https"), "self-contained");
    let images: Vec<&str> = html.split("src=\"data:image/png;base64,").skip(1).collect();
    assert_eq!(images.len(), charts.len(), "one image per chart");
    // The key charts come first, so each chart is found by its bytes, once.
    for chart in &charts {
        let matching = images.iter().filter(|image| {
            let encoded = &image[..image.find('"').unwrap()];
            STANDARD.decode(encoded).unwrap() == chart.bytes
        });
        assert_eq!(matching.count(), 1, "{} is embedded once", chart.file_name);
        decode_png(&chart.bytes);
        assert!(html.contains(&format!("<b>{}.</b>", chart.title)), "caption of {}", chart.file_name);
    }
}

#[test]
fn the_report_shows_the_comparison_and_sensitivity_tables() {
    let structures = scenario("deal-structures.toml");
    let aggregates = small_run(&structures);
    let summary = summary_rows(&structures, &aggregates);
    let comparison = comparison_rows(&structures, &aggregates);
    let options = SensitivityOptions { targets: vec!["party.microsoft.npv".into()], ..small_tornado() };
    let sensitivity = tornado(&structures, &options).unwrap();
    let info = RunInfo::new(&structures, Path::new("structures.toml"), "ab".repeat(32), vec![], &aggregates);
    let tables = ReportTables {
        summary: &summary,
        comparison: &comparison,
        sensitivity: &sensitivity,
        scatters: &[],
        probabilities: &[],
        outcomes: &[],
    };
    let html = render_report(&structures, &info, tables, &[]);
    assert!(html.contains("<details id=\"comparison\">"));
    // The answer has a column per deal, and the paired difference against the baseline.
    let answer = &html[html.find("<table class=\"answer\">").unwrap()..];
    let answer = &answer[..answer.find("</table>").unwrap()];
    for deal in &structures.deals {
        assert!(answer.contains(&format!(">{}", deal.name)), "a column for {}", deal.name);
    }
    assert!(answer.contains("apr-2026 (baseline)"));
    assert!(answer.contains("<span class=\"diff\">+$"), "a paired difference");
    let uncapped = html.split("<h3>apr-2026-uncapped − apr-2026</h3>").nth(1).expect("a table per deal pair");
    let uncapped = &uncapped[..uncapped.find("</table>").unwrap()];
    assert!(
        uncapped.contains("<td class=\"text\" title=\"party.microsoft.npv\">Microsoft NPV ($B)</td>"),
        "the NPV difference has its row"
    );
    assert!(!uncapped.contains("commitment.azure-250b.met"), "a commitment both deals share is left out");
    assert!(html.contains("<details id=\"sensitivity\"><summary>What moves the results</summary>"));
    assert!(html.contains("<h3>apr-2026: Microsoft NPV ($B)</h3>"));
    let largest = &sensitivity[0];
    assert!(html.contains(&format!("<td class=\"name\">{}</td>", largest.input)), "the largest swing is listed");
    let shown = html.matches("<table class=\"sensitivity\">").count();
    assert_eq!(
        shown,
        2 * structures.deals.len() - 1,
        "per deal, a table for the one target and one for its difference"
    );
    assert!(html.contains("<h3>apr-2026-uncapped − apr-2026: difference in Microsoft NPV ($B)</h3>"));
}

#[test]
fn paired_npv_differences_are_charted_when_deals_are_compared() {
    let structures = scenario("deal-structures.toml");
    let aggregates = small_run(&structures);
    let charts = charts::render_charts(&structures, &aggregates, &histories(&structures), ChartFormat::Png).unwrap();
    let difference = charts.iter().find(|c| c.file_name == "npv-difference.png").expect("a paired-difference chart");
    assert_png_chart(difference);
    // Box plots across deals, and cash with the funding gap, come with the comparison.
    for name in ["npv-boxes.png", "cash.png"] {
        assert_png_chart(charts.iter().find(|c| c.file_name == name).unwrap_or_else(|| panic!("{name}")));
    }
    assert!(difference.caption.contains("same sampled world"));
    // Two files' worlds side by side: the same paths, not the same world.
    let mut vintage = scenario("growth-q1-2026.toml");
    vintage.simulation.seed = base_seed();
    let paired = dealsim::scenario::pair(&scenario("base.toml"), &vintage, "both", "base", "growth-q1-2026").unwrap();
    let charts = charts::render_charts(&paired, &small_run(&paired), &histories(&paired), ChartFormat::Png).unwrap();
    let difference = charts.iter().find(|c| c.file_name == "npv-difference.png").expect("a paired-difference chart");
    assert!(difference.caption.contains("each deal on its own file's world"), "{}", difference.caption);
    // One deal alone has nothing to compare.
    let base = scenario("base.toml");
    let single = charts::render_charts(&base, &small_run(&base), &histories(&base), ChartFormat::Png).unwrap();
    assert!(single.iter().all(|c| c.file_name != "npv-difference.png"));
}

#[test]
fn tornado_charts_render_one_per_target_of_the_first_deal() {
    let base = scenario("base.toml");
    let summary = dealsim::report::summary_rows(&base, &small_run(&base));
    let options = small_tornado();
    let rows = dealsim::analysis::sensitivity::tornado(&base, &options).unwrap();
    let tornadoes = charts::tornado_charts(&Catalogue::of(&base), &summary, &[], &rows, ChartFormat::Png).unwrap();
    let names: Vec<&str> = tornadoes.iter().map(|c| c.file_name.as_str()).collect();
    assert!(names.contains(&"tornado-apr-2026-party-microsoft-npv.png"), "{names:?}");
    assert!(names.contains(&"tornado-apr-2026-revenue-share-openai-to-microsoft-paid.png"), "{names:?}");
    for chart in &tornadoes {
        assert_png_chart(chart);
    }
    assert!(charts::tornado_charts(&Catalogue::of(&base), &summary, &[], &[], ChartFormat::Png).unwrap().is_empty());
}

#[test]
fn each_deal_gets_a_tornado_of_its_difference_from_the_baseline() {
    let structures = scenario("deal-structures.toml");
    let run = small_run(&structures);
    let (summary, comparison) =
        (dealsim::report::summary_rows(&structures, &run), dealsim::report::comparison_rows(&structures, &run));
    let options = small_tornado();
    let rows = dealsim::analysis::sensitivity::tornado(&structures, &options).unwrap();
    let tornadoes =
        charts::tornado_charts(&Catalogue::of(&structures), &summary, &comparison, &rows, ChartFormat::Png).unwrap();
    let differences: Vec<&str> =
        tornadoes.iter().map(|c| c.file_name.as_str()).filter(|name| name.starts_with("tornado-difference-")).collect();
    // One per deal other than the baseline, each for a party's NPV.
    assert_eq!(differences.len(), structures.deals.len() - 1, "{differences:?}");
    for (name, deal) in differences.iter().zip(&structures.deals[1..]) {
        assert!(name.starts_with(&format!("tornado-difference-{}-party-", deal.name)), "{name}");
        assert!(name.ends_with("-npv.png"), "{name}");
    }
    for chart in tornadoes.iter().filter(|c| c.file_name.starts_with("tornado-difference-")) {
        assert_png_chart(chart);
        assert!(chart.title.contains(" − apr-2026: what moves the difference in "), "{}", chart.title);
    }
}

#[test]
fn the_convergence_chart_needs_more_than_one_wave_of_paths() {
    let base = scenario("base.toml");
    let options = RunOptions { paths: 20_000, seed: 7, threads: 0, baseline: 0, target_relative_se: None, shard: None };
    let run = engine::run(&base, options, &|_| {}).unwrap();
    let charts = charts::render_charts(&base, &run, &histories(&base), ChartFormat::Png).unwrap();
    let convergence = charts.iter().find(|c| c.file_name == "convergence.png").expect("a convergence chart");
    assert_png_chart(convergence);
    assert!(convergence.caption.contains("from 4,096 paths to all 20,000"), "{}", convergence.caption);
    // One wave of paths has no course to show.
    let small = charts::render_charts(&base, &small_run(&base), &histories(&base), ChartFormat::Png).unwrap();
    assert!(small.iter().all(|c| c.file_name != "convergence.png"));
}

#[test]
fn scatter_charts_render_one_per_target_with_points() {
    let base = scenario("base.toml");
    let options = small_tornado();
    let (_, scatters) = dealsim::analysis::sensitivity::tornado_with_scatters(&base, &options).unwrap();
    let charts = charts::scatter_charts(&Catalogue::of(&base), &scatters, ChartFormat::Png).unwrap();
    let names: Vec<&str> = charts.iter().map(|c| c.file_name.as_str()).collect();
    assert!(names.contains(&"scatter-apr-2026-revenue-share-openai-to-microsoft-paid.png"), "{names:?}");
    for chart in &charts {
        assert_png_chart(chart);
        assert!(chart.caption.contains("300 of the tornado's paths"), "{}", chart.caption);
    }
}
