//! Reading a scenario from disk: the file given and every file it `extends`.

use std::cell::RefCell;
use std::path::Path;

use crate::scenario::{Diagnostic, Diagnostics, Override, Scenario, parse_scenario_file};

/// A scenario file read from disk.
#[derive(Debug)]
pub struct ScenarioFile {
    pub scenario: Scenario,
    /// The text of every file read, the given file's first, then each it extends in turn: what
    /// a run's identity hashes.
    pub texts: Vec<String>,
}

/// Reads, parses and validates the scenario at `path` with `overrides`, following `extends`.
pub fn read_scenario(path: &Path, overrides: &[Override]) -> Result<ScenarioFile, Diagnostics> {
    let origin = path.display().to_string();
    let source = std::fs::read_to_string(path).map_err(|error| {
        Diagnostics(vec![Diagnostic {
            origin: origin.clone(),
            line: 1,
            column: 1,
            key_path: String::new(),
            message: format!("cannot read the scenario: {error}"),
        }])
    })?;
    let texts = RefCell::new(vec![source.clone()]);
    let read = |file: &str| {
        let text = std::fs::read_to_string(file).map_err(|error| error.to_string())?;
        texts.borrow_mut().push(text.clone());
        Ok(text)
    };
    let scenario = parse_scenario_file(&origin, &source, overrides, &read)?;
    Ok(ScenarioFile { scenario, texts: texts.into_inner() })
}
