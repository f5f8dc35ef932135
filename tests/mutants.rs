//! Mutants of the shipped scenarios: lines deleted, duplicated or swapped, numbers replaced by
//! extremes, strings emptied, files cut short. Every mutant is refused or runs; none panics or
//! hangs, in the library (validation, then a 50-path run) or through the binary (exit 0, 1 or 2).
//! The mutants are seeded, so every run of the test sees the same ones.

use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use assert_cmd::Command;
use dealsim::engine::{self, RunOptions};
use dealsim::scenario::parse_scenario_file;
use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// Mutants per shipped scenario (five scenarios ship).
const MUTANTS_PER_FILE: usize = 80;
/// Mutants of each file also run through the binary.
const BINARY_MUTANTS_PER_FILE: usize = 3;
/// Far longer than validating and running 50 paths takes; past it a mutant counts as a hang.
const TIMEOUT: Duration = Duration::from_secs(30);

/// What replaces a number: the extremes of f64, values that are not numbers, and a huge one.
const EXTREMES: [&str; 11] = [
    "0",
    "-1",
    "1e308",
    "-1e308",
    "1e-308",
    "nan",
    "inf",
    "-inf",
    "\"NaN\"",
    "1e999",
    "\"99999999999999999999999999999999999999999999999999T\"",
];

fn shipped_scenarios() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    files
}

/// Byte ranges of the numbers in a line (digits, with signs, points, exponents and `_`).
fn numbers(line: &str) -> Vec<(usize, usize)> {
    let bytes = line.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let starts_number = bytes[i].is_ascii_digit() && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric());
        if starts_number {
            let start = if i > 0 && bytes[i - 1] == b'-' { i - 1 } else { i };
            let mut end = i;
            while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || b"._+-".contains(&bytes[end])) {
                end += 1;
            }
            found.push((start, end));
            i = end;
        } else {
            i += 1;
        }
    }
    found
}

/// Byte ranges of the double-quoted strings in a line, quotes included.
fn strings(line: &str) -> Vec<(usize, usize)> {
    let quotes: Vec<usize> = line.match_indices('"').map(|(i, _)| i).collect();
    quotes.chunks_exact(2).map(|pair| (pair[0], pair[1] + 1)).collect()
}

/// One seeded mutant of `text` and what was done.
fn mutant(text: &str, rng: &mut Xoshiro256PlusPlus) -> (String, String) {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let line = rng.random_range(0..lines.len());
    let description = match rng.random_range(0..6) {
        0 => {
            let removed = lines.remove(line);
            format!("line {} deleted: {removed}", line + 1)
        }
        1 => {
            lines.insert(line, lines[line].clone());
            format!("line {} duplicated", line + 1)
        }
        2 => {
            let other = rng.random_range(0..lines.len());
            lines.swap(line, other);
            format!("lines {} and {} swapped", line + 1, other + 1)
        }
        3 => {
            // A number on the chosen line or after it, replaced by an extreme.
            let Some((index, (start, end))) =
                (line..lines.len()).find_map(|i| numbers(&lines[i]).first().map(|&range| (i, range)))
            else {
                return (text[..text.len() / 2].to_string(), "cut in half (no number left to replace)".to_string());
            };
            let extreme = EXTREMES[rng.random_range(0..EXTREMES.len())];
            let old = lines[index][start..end].to_string();
            lines[index].replace_range(start..end, extreme);
            format!("line {}: {old} replaced by {extreme}", index + 1)
        }
        4 => {
            let Some((index, (start, end))) =
                (line..lines.len()).find_map(|i| strings(&lines[i]).first().map(|&range| (i, range)))
            else {
                return (String::new(), "emptied (no string left to empty)".to_string());
            };
            lines[index].replace_range(start..end, "\"\"");
            format!("line {}: a string emptied", index + 1)
        }
        _ => {
            let mut cut = rng.random_range(0..text.len());
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            return (text[..cut].to_string(), format!("cut at byte {cut}"));
        }
    };
    (lines.join("\n") + "\n", description)
}

/// The seeded mutants of one shipped scenario.
fn mutants_of(file: &Path, seed: u64) -> Vec<(String, String)> {
    let text = fs::read_to_string(file).unwrap();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    (0..MUTANTS_PER_FILE).map(|_| mutant(&text, &mut rng)).collect()
}

/// Validates a mutant and, when it is valid, runs 50 paths of it; on another thread, so that a
/// hang fails the test instead of stalling it. Tells whether the mutant was valid.
/// Whether a mutant of the scenario at `origin` validates (and then runs); the files it extends
/// are read unmutated from beside it.
fn survives(origin: &Path, text: String) -> Result<bool, String> {
    let origin = origin.display().to_string();
    let (done, outcome) = mpsc::channel();
    std::thread::spawn(move || {
        let result = catch_unwind(AssertUnwindSafe(|| {
            let read = |file: &str| fs::read_to_string(file).map_err(|error| error.to_string());
            let Ok(scenario) = parse_scenario_file(&origin, &text, &[], &read) else { return false };
            let options =
                RunOptions { paths: 50, seed: 1, threads: 1, baseline: 0, target_relative_se: None, shard: None };
            // A runtime error (a value that runs away) is an answer; only a panic is not.
            let _ = engine::run(&scenario, options, &|_| {});
            true
        }));
        let _ = done.send(result);
    });
    match outcome.recv_timeout(TIMEOUT) {
        Ok(Ok(valid)) => Ok(valid),
        Ok(Err(_)) => Err("panicked".to_string()),
        Err(_) => Err(format!("still running after {TIMEOUT:?}")),
    }
}

#[test]
fn mutants_of_the_shipped_scenarios_never_panic_or_hang() {
    let files = shipped_scenarios();
    assert!(files.len() >= 3, "the shipped scenarios are found");
    let mut failures = Vec::new();
    let (mut count, mut valid) = (0, 0);
    for (index, file) in files.iter().enumerate() {
        for (text, description) in mutants_of(file, index as u64) {
            count += 1;
            match survives(file, text) {
                Ok(ran) => valid += usize::from(ran),
                Err(problem) => failures.push(format!("{} ({description}): {problem}", file.display())),
            }
        }
    }
    assert!(count >= 300, "{count} mutants");
    // Deleting a comment or duplicating a blank line leaves a valid scenario, which then runs.
    assert!(valid >= count / 10, "only {valid} of {count} mutants validate: the run is hardly exercised");
    assert!(failures.is_empty(), "{} of {count} mutants failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn mutants_through_the_binary_exit_with_0_1_or_2() {
    let dir = tempfile::tempdir().unwrap();
    for (index, file) in shipped_scenarios().iter().enumerate() {
        let mutants = mutants_of(file, index as u64);
        // Spread over the file's mutants, whatever they are.
        for (n, (text, description)) in mutants.iter().step_by(MUTANTS_PER_FILE / BINARY_MUTANTS_PER_FILE).enumerate() {
            let scenario = dir.path().join(format!("{index}-{n}.toml"));
            fs::write(&scenario, text).unwrap();
            let output = Command::cargo_bin("dealsim")
                .unwrap()
                .timeout(TIMEOUT)
                .arg("run")
                .arg(&scenario)
                .args(["--paths", "50", "--no-charts", "--no-sensitivity", "--out"])
                .arg(dir.path().join(format!("out-{index}-{n}")))
                .output()
                .unwrap();
            let code = output.status.code();
            assert!(
                matches!(code, Some(0..=2)),
                "{} ({description}): exit {code:?}\n{}",
                file.display(),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}
