//! Every metric and series a shipped scenario writes has a readable name in the catalogue.

use std::fs;
use std::path::Path;

use assert_cmd::Command;
use dealsim::io::scenario_file::read_scenario;
use dealsim::report::catalogue::Catalogue;

/// The distinct values of one column of a CSV file with a header.
fn column(file: &Path, name: &str) -> Vec<String> {
    let text = fs::read_to_string(file).unwrap();
    let mut lines = text.lines();
    let index = lines.next().unwrap().split(',').position(|c| c == name).unwrap();
    let mut values: Vec<String> = lines.map(|line| line.split(',').nth(index).unwrap().to_string()).collect();
    values.sort();
    values.dedup();
    values
}

#[test]
fn every_shipped_metric_and_series_has_a_readable_name() {
    let scenarios = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    for entry in fs::read_dir(&scenarios).unwrap() {
        let scenario = entry.unwrap().path();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        Command::cargo_bin("dealsim")
            .unwrap()
            .arg("run")
            .arg(&scenario)
            .args(["--paths", "300", "--no-charts", "--no-sensitivity", "--out"])
            .arg(&out)
            .assert()
            .success();
        let loaded = read_scenario(&scenario, &[]).unwrap();
        let catalogue = Catalogue::of(&loaded.scenario);
        for metric in column(&out.join("summary.csv"), "metric") {
            let entry = catalogue.metric(&metric);
            assert_ne!(entry.name, metric, "{}: summary metric {metric} has no readable name", scenario.display());
        }
        for series in column(&out.join("timeseries.csv"), "series") {
            let entry = catalogue.series(&series);
            assert_ne!(entry.name, series, "{}: series {series} has no readable name", scenario.display());
        }
    }
}
