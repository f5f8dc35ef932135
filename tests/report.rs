//! `dealsim run` writes charts/ and report.html beside the CSVs; `--no-charts` writes neither;
//! `--format svg` writes SVG charts.

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn base() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/base.toml")
}

fn run(out: &Path, extra: &[&str]) {
    let output = Command::cargo_bin("dealsim")
        .unwrap()
        .arg("run")
        .arg(base())
        .args(["--paths", "500", "--out"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

fn chart_files(out: &Path) -> Vec<String> {
    let mut names: Vec<String> = match fs::read_dir(out.join("charts")) {
        Ok(entries) => entries.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

#[test]
fn run_writes_the_report_and_png_charts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("base");
    run(&out, &[]);
    let charts = chart_files(&out);
    assert!(charts.len() >= 6, "{charts:?}");
    assert!(charts.iter().all(|name| name.ends_with(".png")), "{charts:?}");
    for name in &charts {
        let bytes = fs::read(out.join("charts").join(name)).unwrap();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{name} is a PNG");
    }
    let html = fs::read_to_string(out.join("report.html")).unwrap();
    assert_eq!(html.matches("src=\"data:image/png;base64,").count(), charts.len(), "every chart is in the report");
    assert!(html.contains("April 2026 amended terms"));
    for file in ["summary.csv", "timeseries.csv", "run.json"] {
        assert!(out.join(file).exists(), "{file}");
    }
}

#[test]
fn no_charts_writes_neither_charts_nor_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("base");
    run(&out, &["--no-charts"]);
    assert!(!out.join("charts").exists());
    assert!(!out.join("report.html").exists());
    assert!(out.join("summary.csv").exists());
}

#[test]
fn format_svg_writes_svg_charts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("base");
    run(&out, &["--format", "svg"]);
    let charts = chart_files(&out);
    assert!(!charts.is_empty());
    assert!(charts.iter().all(|name| name.ends_with(".svg")), "{charts:?}");
    let svg = fs::read_to_string(out.join("charts/npv.svg")).unwrap();
    assert!(svg.starts_with("<svg"));
    let html = fs::read_to_string(out.join("report.html")).unwrap();
    assert_eq!(html.matches("src=\"data:image/svg+xml;base64,").count(), charts.len());
}

#[test]
fn an_unknown_format_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    Command::cargo_bin("dealsim")
        .unwrap()
        .arg("run")
        .arg(base())
        .args(["--paths", "10", "--format", "gif", "--out"])
        .arg(dir.path().join("x"))
        .assert()
        .code(2);
}
