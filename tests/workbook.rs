//! report.xlsx, read back as a spreadsheet program reads it: its sheets, the Summary's figures
//! against summary.csv, number formats, frozen headers' presence in the file, the charts, and
//! `--no-xlsx`.

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use calamine::{Data, Reader, Xlsx, open_workbook};

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(name)
}

fn run(scenario: &Path, out: &Path, extra: &[&str]) {
    let output = Command::cargo_bin("dealsim")
        .unwrap()
        .arg("run")
        .arg(scenario)
        .args(["--paths", "500", "--no-charts", "--out"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

/// summary.csv as (deal, metric) → its columns by name.
fn summary_csv(out: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let mut reader = csv::Reader::from_path(out.join("summary.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|record| {
            let record = record.unwrap();
            headers.iter().zip(record.iter()).map(|(h, v)| (h.to_string(), v.to_string())).collect()
        })
        .collect()
}

fn text(cell: Option<&Data>) -> String {
    match cell {
        Some(Data::String(text)) => text.clone(),
        other => panic!("expected text, found {other:?}"),
    }
}

fn float(cell: Option<&Data>) -> f64 {
    match cell {
        Some(Data::Float(value)) => *value,
        other => panic!("expected a number, found {other:?}"),
    }
}

#[test]
fn the_workbook_holds_the_summary_with_formats_and_charts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("structures");
    run(&scenario("deal-structures.toml"), &out, &[]);
    let mut workbook: Xlsx<_> = open_workbook(out.join("report.xlsx")).unwrap();
    assert_eq!(
        workbook.sheet_names(),
        ["Summary", "Comparison", "Sensitivity", "Time series", "Inputs", "Conditional"],
        "every sheet, the optional ones too, in order"
    );

    // A column per deal, in the scenario's order; four statistics per metric.
    let summary = workbook.worksheet_range("Summary").unwrap();
    let rows = summary_csv(&out);
    // Readable names first, the identifiers of summary.csv in the last column.
    let identifier_column = summary.width() as u32 - 1;
    assert_eq!(text(summary.get_value((0, identifier_column))), "identifier");
    let deals: Vec<String> = (2..identifier_column).map(|col| text(summary.get_value((0, col)))).collect();
    let mut expected_deals: Vec<String> = Vec::new();
    for row in &rows {
        if !expected_deals.contains(&row["deal"]) {
            expected_deals.push(row["deal"].clone());
        }
    }
    assert_eq!(deals, expected_deals);
    let loaded = dealsim::io::scenario_file::read_scenario(&scenario("deal-structures.toml"), &[]).unwrap();
    let catalogue = dealsim::report::catalogue::Catalogue::of(&loaded.scenario);
    let mut checked = 0;
    for row in 1..summary.height() as u32 {
        let metric = text(summary.get_value((row, identifier_column)));
        assert_eq!(text(summary.get_value((row, 0))), catalogue.metric(&metric).heading());
        let statistic = text(summary.get_value((row, 1)));
        let column = match statistic.as_str() {
            "mean" => "mean",
            "P5" => "p05",
            "P50" => "p50",
            "P95" => "p95",
            other => panic!("unexpected statistic {other}"),
        };
        for (d, deal) in deals.iter().enumerate() {
            let csv = rows.iter().find(|r| &r["deal"] == deal && r["metric"] == metric);
            let cell = summary.get_value((row, 2 + d as u32));
            match csv.map(|r| r[column].as_str()) {
                None | Some("") => assert!(matches!(cell, None | Some(Data::Empty)), "{deal} {metric} {statistic}"),
                Some(value) => {
                    let value: f64 = value.parse().unwrap();
                    let tolerance = 1e-12 * value.abs().max(1.0);
                    assert!((float(cell) - value).abs() <= tolerance, "{deal} {metric} {statistic}");
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 100, "{checked} figures compared");

    // Money in $B, probabilities and stakes in percent.
    let styles = workbook.worksheet_style("Summary").unwrap();
    let format_of = |metric: &str| {
        let row = (1..summary.height() as u32)
            .find(|&row| text(summary.get_value((row, identifier_column))) == metric)
            .unwrap();
        styles.get((row, 2)).and_then(|style| style.number_format.as_ref()).map(|f| f.format_code.clone())
    };
    assert_eq!(format_of("party.microsoft.npv").as_deref(), Some(r#"$#,##0.00,,,"B";-$#,##0.00,,,"B""#));
    assert_eq!(format_of("revenue_share.openai-to-microsoft.cap_hit").as_deref(), Some("0.0%"));
    assert_eq!(format_of("party.microsoft.stake").as_deref(), Some("0.00%"));
    assert_eq!(format_of("event.ipo.year").as_deref(), Some("0.00"));

    let inputs = workbook.worksheet_range("Inputs").unwrap();
    assert!(
        (1..inputs.height() as u32)
            .any(|row| text(inputs.get_value((row, 0))) == "deals.apr-2026.revenue_shares.openai-to-microsoft.cap"),
        "the cap is an uncertain input"
    );

    // The charts and frozen panes are in the file's parts.
    let bytes = fs::read(out.join("report.xlsx")).unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let names: Vec<String> = archive.file_names().map(|name| name.unwrap().into_owned()).collect();
    assert_eq!(names.iter().filter(|name| name.starts_with("xl/charts/chart")).count(), 2, "{names:?}");
    let mut sheet = String::new();
    std::io::Read::read_to_string(&mut archive.by_name("xl/worksheets/sheet1.xml").unwrap(), &mut sheet).unwrap();
    assert!(sheet.contains(r#"state="frozen""#), "the Summary's header is frozen");
}

#[test]
fn the_same_run_writes_the_same_workbook_and_no_xlsx_writes_none() {
    let dir = tempfile::tempdir().unwrap();
    let (one, two, none) = (dir.path().join("one"), dir.path().join("two"), dir.path().join("none"));
    run(&scenario("base.toml"), &one, &["--threads", "1"]);
    run(&scenario("base.toml"), &two, &["--threads", "2"]);
    assert_eq!(fs::read(one.join("report.xlsx")).unwrap(), fs::read(two.join("report.xlsx")).unwrap());
    let workbook: Xlsx<_> = open_workbook(one.join("report.xlsx")).unwrap();
    assert_eq!(
        workbook.sheet_names(),
        ["Summary", "Sensitivity", "Time series", "Inputs", "Conditional"],
        "one deal: no comparison"
    );
    run(&scenario("base.toml"), &none, &["--no-xlsx"]);
    assert!(!none.join("report.xlsx").exists());
    let manifest = fs::read_to_string(one.join(".dealsim-manifest.json")).unwrap();
    assert!(manifest.contains("report.xlsx"), "listed in the manifest like every output");
}

#[test]
fn target_probabilities_get_a_sheet_of_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("probabilities");
    run(&scenario("base.toml"), &out, &["--no-sensitivity", "--prob", "party.openai.npv < 0"]);
    let mut workbook: Xlsx<_> = open_workbook(out.join("report.xlsx")).unwrap();
    let sheet = workbook.worksheet_range("Probabilities").unwrap();
    assert_eq!(text(sheet.get((0, 5))), "probability");
    assert_eq!(
        (text(sheet.get((1, 0))), text(sheet.get((1, 1))), text(sheet.get((1, 2)))),
        ("apr-2026".into(), "party.openai.npv".into(), "<".into())
    );
    let csv = fs::read_to_string(out.join("probabilities.csv")).unwrap();
    let probability: f64 = csv.lines().nth(1).unwrap().split(',').nth(5).unwrap().parse().unwrap();
    assert_eq!(float(sheet.get((1, 5))), probability);
    // Without --prob, no sheet.
    let plain = dir.path().join("plain");
    run(&scenario("base.toml"), &plain, &["--no-sensitivity"]);
    let workbook: Xlsx<_> = open_workbook(plain.join("report.xlsx")).unwrap();
    assert!(!workbook.sheet_names().contains(&"Probabilities".to_string()));
}
