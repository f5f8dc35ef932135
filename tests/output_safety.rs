//! Output safety: dealsim writes only where it may, replaces only the files it wrote, and a
//! command stopped at any moment leaves the previous output whole (or the new one, complete).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use predicates::str::contains;

const MANIFEST: &str = ".dealsim-manifest.json";
const TEMP_PREFIX: &str = ".dealsim-tmp-";
/// Small, quick runs for the cases that only need some output.
const QUICK: [&str; 4] = ["--paths", "300", "--no-charts", "--no-sensitivity"];

fn dealsim() -> Command {
    Command::cargo_bin("dealsim").unwrap()
}

fn shipped(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(name)
}

fn base() -> PathBuf {
    shipped("base.toml")
}

/// Every file under `dir` (hidden ones too) with its bytes; directories as empty entries
/// ending in `/`.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(directory) = pending.pop() {
        for entry in fs::read_dir(&directory).unwrap() {
            let path = entry.unwrap().path();
            let name = path.strip_prefix(dir).unwrap().display().to_string();
            if fs::symlink_metadata(&path).unwrap().is_dir() {
                files.insert(format!("{name}/"), Vec::new());
                pending.push(path);
            } else {
                files.insert(name, fs::read(&path).unwrap());
            }
        }
    }
    files
}

fn temporaries(dir: &Path) -> Vec<String> {
    snapshot(dir).into_keys().filter(|name| name.contains(TEMP_PREFIX)).collect()
}

/// A run's outputs without what differs between two runs of the same seed: the timing in
/// run.json. The manifest and temporaries are left out; `None` while a commit is under way.
fn results(dir: &Path) -> Option<BTreeMap<String, Vec<u8>>> {
    let manifest: serde_json::Value = serde_json::from_slice(&fs::read(dir.join(MANIFEST)).ok()?).unwrap();
    if manifest.get("commit").is_some() {
        return None;
    }
    let mut files = snapshot(dir);
    files.retain(|name, _| name != MANIFEST && !name.contains(TEMP_PREFIX));
    if let Some(info) = files.get_mut("run.json") {
        *info = without_timing(info);
    }
    Some(files)
}

fn without_timing(run_json: &[u8]) -> Vec<u8> {
    let mut info: serde_json::Value = serde_json::from_slice(run_json).unwrap();
    let fields = info.as_object_mut().unwrap();
    fields.remove("elapsed_seconds");
    fields.remove("paths_per_second");
    serde_json::to_vec(&info).unwrap()
}

fn run(scenario: &Path, out: &Path, extra: &[&str]) {
    let output = dealsim().arg("run").arg(scenario).arg("--out").arg(out).args(extra).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

fn spawn_run(out: &Path, extra: &[&str]) -> Child {
    Process::new(assert_cmd::cargo::cargo_bin("dealsim"))
        .arg("run")
        .arg(base())
        .arg("--out")
        .arg(out)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn a_directory_of_user_files_is_refused_and_left_untouched() {
    let root = tempfile::tempdir().unwrap();
    let docs = root.path().join("mydocs");
    fs::create_dir(&docs).unwrap();
    fs::write(docs.join("notes.txt"), "my notes").unwrap();
    let before = snapshot(root.path());
    dealsim()
        .arg("run")
        .arg(base())
        .args(QUICK)
        .arg("--out")
        .arg(&docs)
        .assert()
        .code(2)
        .stderr(contains(format!(
            "error: --out {}: the directory holds files dealsim did not write (notes.txt)",
            docs.display()
        )))
        .stderr(contains("choose an empty or new directory, or a previous dealsim output"));
    assert_eq!(snapshot(root.path()), before, "nothing is created, moved or removed");
}

#[test]
fn the_scenarios_directory_and_its_ancestors_are_refused() {
    let root = tempfile::tempdir().unwrap();
    let scenarios = root.path().join("scenarios");
    fs::create_dir(&scenarios).unwrap();
    let scenario = scenarios.join("mine.toml");
    fs::copy(base(), &scenario).unwrap();
    let before = snapshot(root.path());
    for out in [scenarios.clone(), root.path().to_path_buf()] {
        dealsim()
            .arg("run")
            .arg(&scenario)
            .args(QUICK)
            .arg("--out")
            .arg(&out)
            .assert()
            .code(2)
            .stderr(contains(format!("it holds the scenario file {}", scenario.display())));
    }
    // `--out .` from the scenario's directory, and the same for sensitivity and compare.
    dealsim().current_dir(&scenarios).args(["run", "mine.toml", "--out", "."]).assert().code(2);
    dealsim().current_dir(&scenarios).args(["sensitivity", "mine.toml", "--out", ".."]).assert().code(2);
    dealsim()
        .arg("compare")
        .arg(shipped("base.toml"))
        .arg(&scenario)
        .arg("--out")
        .arg(root.path())
        .assert()
        .code(2)
        .stderr(contains("holds the scenario file"));
    assert_eq!(snapshot(root.path()), before, "the scenario and its directory are as they were");
}

#[test]
fn out_naming_a_file_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("notes.txt");
    fs::write(&file, "my notes").unwrap();
    let before = snapshot(root.path());
    dealsim()
        .arg("run")
        .arg(base())
        .args(QUICK)
        .arg("--out")
        .arg(&file)
        .assert()
        .code(2)
        .stderr(contains("it is a file, not a directory"));
    dealsim()
        .arg("run")
        .arg(base())
        .args(QUICK)
        .arg("--out")
        .arg(file.join("results"))
        .assert()
        .code(2)
        .stderr(contains("notes.txt is a file, not a directory"));
    assert_eq!(snapshot(root.path()), before, "the file is unchanged and nothing is created beside it");
}

#[test]
fn sensitivity_after_run_keeps_the_runs_files() {
    // Both default to output/<stem>/.
    let root = tempfile::tempdir().unwrap();
    fs::copy(base(), root.path().join("mine.toml")).unwrap();
    dealsim().current_dir(root.path()).args(["run", "mine.toml", "--paths", "300"]).assert().success();
    let out = root.path().join("output/mine");
    let ran = snapshot(&out);
    for file in ["summary.csv", "timeseries.csv", "run.json", "sensitivity.csv", "report.html", "charts/npv.png"] {
        assert!(ran.contains_key(file), "the run wrote {file}");
    }
    dealsim()
        .current_dir(root.path())
        .args(["sensitivity", "mine.toml", "--paths", "300", "--target", "party.microsoft.npv"])
        .assert()
        .success();
    let after = snapshot(&out);
    let tornado = String::from_utf8(after["sensitivity.csv"].clone()).unwrap();
    assert!(tornado.lines().skip(1).all(|line| line.contains(",party.microsoft.npv,")), "{tornado}");
    assert_ne!(after["sensitivity.csv"], ran["sensitivity.csv"], "sensitivity.csv is updated");
    for (name, bytes) in &ran {
        if name != "sensitivity.csv" && name != MANIFEST {
            assert!(after.get(name) == Some(bytes), "{name} survives byte for byte");
        }
    }
    assert_eq!(after.len(), ran.len());
}

#[test]
fn a_second_run_replaces_the_first_and_removes_only_its_stale_files() {
    let root = tempfile::tempdir().unwrap();
    let (out, reference) = (root.path().join("out"), root.path().join("reference"));
    // Two deals and --keep-paths: comparison.csv and paths.parquet, which the second run lacks.
    run(&shipped("deal-structures.toml"), &out, &["--paths", "300", "--keep-paths", "--no-sensitivity"]);
    for file in ["comparison.csv", "paths.parquet", "charts/npv-difference.png"] {
        assert!(out.join(file).exists(), "{file}");
    }
    fs::write(out.join("notes.txt"), "mine").unwrap();
    fs::write(out.join("charts/annotated.png"), "mine").unwrap();
    run(&base(), &out, &QUICK);
    run(&base(), &reference, &QUICK);
    let mut files = results(&out).unwrap();
    assert_eq!(files.remove("notes.txt").as_deref(), Some(&b"mine"[..]), "the user's file survives");
    assert_eq!(files.remove("charts/annotated.png").as_deref(), Some(&b"mine"[..]));
    assert!(files.remove("charts/").is_some(), "charts/ stays for the user's file in it");
    assert_eq!(files, results(&reference).unwrap(), "exactly the second run's files, and no stale ones");
}

#[test]
fn merge_into_a_shard_directory_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let shards = root.path().join("shards");
    for shard in ["1/2", "2/2"] {
        let out = shards.join(&shard[..1]);
        run(&base(), &out, &["--paths", "40000", "--shard", shard]);
    }
    let before = snapshot(root.path());
    for (out, message) in
        [(shards.join("1"), "it is the shard directory"), (shards.clone(), "it holds the shard directory")]
    {
        dealsim()
            .arg("merge")
            .arg(base())
            .arg(shards.join("1"))
            .arg(shards.join("2"))
            .arg("--no-charts")
            .arg("--out")
            .arg(&out)
            .assert()
            .code(2)
            .stderr(contains(message));
    }
    assert_eq!(snapshot(root.path()), before, "the shards are intact");
}

/// Kill times as shares of a run's duration: spread over the whole run and a little beyond,
/// from a fixed seed so every test run tries the same moments.
fn kill_moments(count: usize) -> Vec<f64> {
    let mut state: u64 = 0x5eed_1234_abcd_0001;
    (0..count)
        .map(|_| {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            1.3 * (state >> 11) as f64 / (1u64 << 53) as f64
        })
        .collect()
}

#[test]
fn a_kill_at_any_moment_leaves_the_previous_or_the_new_set() {
    let root = tempfile::tempdir().unwrap();
    let settings =
        |seed: &'static str| ["--paths", "30000", "--keep-paths", "--no-charts", "--no-sensitivity", "--seed", seed];
    let seeds = ["1", "2"];
    let mut references = Vec::new();
    let mut duration = Duration::ZERO;
    for seed in seeds {
        let reference = root.path().join(format!("reference-{seed}"));
        let started = Instant::now();
        run(&base(), &reference, &settings(seed));
        duration = duration.max(started.elapsed());
        references.push(results(&reference).unwrap());
    }
    let out = root.path().join("out");
    run(&base(), &out, &settings(seeds[0]));
    let mut current = 0;
    let mut outcomes = BTreeMap::<&str, usize>::new();
    // Two late moments as well: on a loaded machine a run can take several times the reference
    // run's time, and the kills must still reach both sides of the commit point.
    for moment in kill_moments(20).into_iter().chain([2.0, 4.0]) {
        let next = 1 - current;
        let mut child = spawn_run(&out, &settings(seeds[next]));
        std::thread::sleep(duration.mul_f64(moment));
        let _ = child.kill();
        child.wait().unwrap();
        match results(&out) {
            Some(files) if files == references[current] => *outcomes.entry("previous set").or_default() += 1,
            Some(files) if files == references[next] => {
                *outcomes.entry("new set").or_default() += 1;
                current = next;
            }
            Some(files) => panic!("a kill after {moment:.2} of a run left a mixed set: {:?}", files.keys()),
            None => {
                // Killed between the commit point and the end of its renames: every new file is
                // whole, in place or in its temporary, and the next command puts it in place.
                let manifest: serde_json::Value =
                    serde_json::from_slice(&fs::read(out.join(MANIFEST)).unwrap()).unwrap();
                for step in manifest["commit"]["moves"].as_array().unwrap() {
                    let (from, to) = (step["from"].as_str().unwrap(), step["to"].as_str().unwrap());
                    let bytes = fs::read(out.join(from)).or_else(|_| fs::read(out.join(to))).unwrap();
                    let bytes = if to == "run.json" { without_timing(&bytes) } else { bytes };
                    assert!(references[next][to] == bytes, "{to} is whole in the committed set");
                }
                *outcomes.entry("committed, renames pending").or_default() += 1;
                run(&base(), &out, &settings(seeds[next]));
                current = next;
            }
        }
    }
    eprintln!("after kills at 22 moments: {outcomes:?}");
    assert!(outcomes.len() >= 2, "the moments cover both sides of the commit: {outcomes:?}");
    let next = 1 - current;
    run(&base(), &out, &settings(seeds[next]));
    assert_eq!(results(&out).as_ref(), Some(&references[next]));
    assert_eq!(temporaries(&out), Vec::<String>::new(), "the next run removes every temporary the kills left");
}

/// Waits until a run has begun writing into `out`: its paths.parquet temporary exists.
fn wait_for_a_temporary(out: &Path, child: &mut Child) {
    let has_temporary = || {
        fs::read_dir(out).is_ok_and(|entries| {
            entries.flatten().any(|entry| entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX))
        })
    };
    let started = Instant::now();
    while !has_temporary() {
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it was interrupted");
        assert!(started.elapsed() < Duration::from_secs(60), "no temporary appeared");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn ctrl_c_and_sigterm_remove_the_temporaries() {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("out");
    run(&base(), &out, &QUICK);
    let previous = snapshot(&out);
    let long_run = ["--paths", "2000000", "--keep-paths", "--no-charts", "--no-sensitivity"];
    for (signal, code) in [("INT", 130), ("TERM", 143), ("HUP", 129)] {
        for out in [out.clone(), root.path().join("new")] {
            let mut child = spawn_run(&out, &long_run);
            wait_for_a_temporary(&out, &mut child);
            let sent = Process::new("kill").args(["-s", signal, &child.id().to_string()]).status().unwrap();
            assert!(sent.success());
            let output = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(code), "SIG{signal}: {stderr}");
            assert!(stderr.contains("interrupted: the unfinished output was removed"), "{stderr}");
        }
        assert_eq!(snapshot(&out), previous, "SIG{signal}: the previous output is intact, without temporaries");
        assert!(!root.path().join("new").exists(), "SIG{signal}: the directory made for the run is removed");
    }
}

#[test]
fn concurrent_runs_leave_one_complete_set() {
    let root = tempfile::tempdir().unwrap();
    let settings =
        |seed: &'static str| ["--paths", "3000", "--keep-paths", "--no-charts", "--no-sensitivity", "--seed", seed];
    let references: Vec<_> = ["1", "2"]
        .iter()
        .map(|seed| {
            let reference = root.path().join(format!("reference-{seed}"));
            run(&base(), &reference, &settings(seed));
            results(&reference).unwrap()
        })
        .collect();
    for attempt in 0..3 {
        let out = root.path().join(format!("shared-{attempt}"));
        let children = [spawn_run(&out, &settings("1")), spawn_run(&out, &settings("2"))];
        for child in children {
            let output = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(output.status.code() == Some(0), "both runs succeed, one after the other: {stderr}");
        }
        let files = results(&out).unwrap();
        assert!(references.contains(&files), "one run's set, complete: {:?}", files.keys());
        assert_eq!(temporaries(&out), Vec::<String>::new());
    }
}
