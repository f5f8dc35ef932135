//! The command line: parses flags, loads the scenario, runs it, writes outputs, sets exit codes.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::builder::TypedValueParser as _;
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sha2::{Digest, Sha256};

use crate::analysis::sensitivity::{self, SensitivityOptions};
use crate::analysis::solve::{self, EvaluateOptions, SearchRange, Target, bisect};
use crate::engine::means::DrawCache;
use crate::engine::metrics::Layout;
use crate::engine::{self, RunOptions};
use crate::io::batch::{Placement, ShardSpec};
use crate::io::history::{self, History};
use crate::io::output_dir::{self, Input, OutputDir, OutputError, Writer};
use crate::io::path_table::PathTable;
use crate::io::scenario_file::{ScenarioFile, read_scenario};
use crate::io::shard_file::{self, ShardFile};
use crate::io::shard_set::{self, SHARD_FILE, ShardSetError};
use crate::report::catalogue::Catalogue;
use crate::report::charts::{self, ChartFormat};
use crate::report::html::{self, ReportTables};
use crate::report::probabilities::{self, Threshold};
use crate::report::run_info::RunInfo;
use crate::report::terminal;
use crate::report::{self, RunTables, Sensitivity, describe, workbook};
use crate::scenario::{Diagnostics, Override, Scenario, pair, world_differences};

/// Prints to stdout, ignoring a closed pipe (`dealsim run … | head`): whatever was to be written
/// to disk is there already, and a reader that stopped reading is no failure.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// [`say!`] with a newline.
macro_rules! sayln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

const EXAMPLES: &str = "Examples:
  dealsim validate scenarios/base.toml
  dealsim run scenarios/base.toml
  dealsim run scenarios/base.toml --paths 1000000 --threads 2 --out output/base-1m
  dealsim run scenarios/base.toml --set deals.apr-2026.revenue_shares.openai-to-microsoft.cap=50B
  dealsim run scenarios/deal-structures.toml --seed 7 --set simulation.discount_rate=10%";

/// Monte Carlo simulation of the financial terms of cloud and AI deals.
#[derive(Debug, Parser)]
#[command(name = "dealsim", version, about, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Simulate a scenario and write summary.csv, timeseries.csv and run.json.
    #[command(after_help = EXAMPLES)]
    Run(RunArgs),
    /// Check a scenario and list its parties, deals and uncertain inputs, without simulating.
    #[command(after_help = VALIDATE_EXAMPLES)]
    Validate(ScenarioArgs),
    /// Rank the uncertain inputs by how much each moves the target metrics, print the largest
    /// swings and write sensitivity.csv (`run` also charts them as tornadoes).
    #[command(after_help = SENSITIVITY_EXAMPLES)]
    Sensitivity(SensitivityArgs),
    /// Find the value of one scalar term at which a target holds, e.g. the cap at which
    /// Microsoft's mean NPV is the same under two deals.
    #[command(after_help = SOLVE_EXAMPLES)]
    Solve(SolveArgs),
    /// Run the deals of two scenario files side by side and compare them path by path, each on
    /// its own file's world where the worlds differ.
    #[command(after_help = COMPARE_EXAMPLES)]
    Compare(CompareArgs),
    /// Combine the shards of a run (`run --shard K/N`) into the run's outputs.
    #[command(after_help = MERGE_EXAMPLES)]
    Merge(MergeArgs),
}

const VALIDATE_EXAMPLES: &str = "Examples:
  dealsim validate scenarios/base.toml
  dealsim validate scenarios/deal-structures.toml --set deals.apr-2026.revenue_shares.openai-to-microsoft.cap=50B";

const SENSITIVITY_EXAMPLES: &str = "Examples:
  dealsim sensitivity scenarios/base.toml
  dealsim sensitivity scenarios/base.toml --target party.microsoft.npv --paths 50000
  dealsim sensitivity scenarios/deal-structures.toml --target revenue_share.openai-to-microsoft.paid --out output/tornado";

const COMPARE_EXAMPLES: &str = "Examples (proposal.toml: a copy of base.toml's world with other deals):
  dealsim compare scenarios/base.toml proposal.toml
  dealsim compare scenarios/base.toml proposal.toml --paths 200000 --baseline apr-2026 --out output/proposal";

const MERGE_EXAMPLES: &str = "Examples:
  dealsim run scenarios/base.toml --paths 4000000 --shard 1/2 --out runs/base-4m/shard-0
  dealsim run scenarios/base.toml --paths 4000000 --shard 2/2 --out runs/base-4m/shard-1
  dealsim merge scenarios/base.toml runs/base-4m        (writes runs/base-4m/merged)
  dealsim merge scenarios/base.toml runs/base-4m/shard-* --out output/base-4m
In a Slurm job array, a Kubernetes Indexed Job or an AWS Batch array job, each task runs
  dealsim run SCENARIO --shard auto --out OUTDIR/shard-<index> (deploy/ has the recipes).";

const SOLVE_EXAMPLES: &str = "Examples:
  dealsim solve scenarios/deal-structures.toml \\
    --vary deals.apr-2026.revenue_shares.openai-to-microsoft.cap --between 10B 400B \\
    --target 'apr-2026:party.microsoft.npv = oct-2025:party.microsoft.npv'
  dealsim solve scenarios/base.toml --vary simulation.discount_rate --between 0.02 0.3 \\
    --target 'apr-2026:party.openai.npv = 0'";

#[derive(Debug, Args)]
struct SolveArgs {
    #[command(flatten)]
    scenario: ScenarioArgs,
    /// The scalar to vary, by key path (as for --set).
    #[arg(long, value_name = "KEY")]
    vary: String,
    /// The range to search, as a scenario file writes values: 10B, 2%, 0.3.
    #[arg(long, num_args = 2, value_names = ["LOW", "HIGH"], allow_hyphen_values = true)]
    between: Vec<String>,
    /// `DEAL:METRIC = DEAL:METRIC` or `DEAL:METRIC = NUMBER`, on mean values.
    #[arg(long, value_parser = Target::parse)]
    target: Target,
    /// Paths per evaluation (default: [simulation].paths).
    #[arg(long, value_parser = clap::value_parser!(u64).range(2..=crate::scenario::MAX_PATHS))]
    paths: Option<u64>,
    /// Random seed, the same for every evaluation (default: [simulation].seed).
    #[arg(long)]
    seed: Option<u64>,
    /// Worker threads (default: every core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

#[derive(Debug, Args)]
struct SensitivityArgs {
    #[command(flatten)]
    scenario: ScenarioArgs,
    /// Paths per pinned run (the tornado costs 2 runs per uncertain input, plus one).
    #[arg(long, default_value_t = sensitivity::DEFAULT_PATHS,
          value_parser = clap::value_parser!(u64).range(2..=crate::scenario::MAX_PATHS))]
    paths: u64,
    /// Random seed (default: [simulation].seed).
    #[arg(long)]
    seed: Option<u64>,
    /// Worker threads (default: every core). Results do not depend on it.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// A metric to explain, e.g. party.microsoft.npv (repeatable; default: each party's NPV and
    /// each revenue share's paid).
    #[arg(long = "target", value_name = "METRIC")]
    targets: Vec<String>,
    /// The deal whose targets every other deal's are also explained against, as paired
    /// differences (default: the first).
    #[arg(long, value_name = "DEAL")]
    baseline: Option<String>,
    /// Output directory (default: output/<scenario file stem>): a new or empty directory, or a
    /// previous dealsim output; files dealsim did not write there are never touched.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// The per-path table written by `--keep-paths`.
const PATHS_FILE: &str = "paths.parquet";

/// The run's tables as a workbook, unless `--no-xlsx`.
const WORKBOOK_FILE: &str = "report.xlsx";

#[derive(Debug, Args)]
struct ScenarioArgs {
    /// The scenario file (TOML).
    scenario: PathBuf,
    /// Override one scalar by key path, e.g. deals.apr-2026.revenue_shares.openai-to-microsoft.cap=50B
    /// (repeatable; the value is TOML, or a bare word such as 50B or 20%).
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = Override::parse)]
    overrides: Vec<Override>,
}

#[derive(Debug, Args)]
struct RunArgs {
    #[command(flatten)]
    scenario: ScenarioArgs,
    #[command(flatten)]
    settings: RunSettings,
    /// Run only shard K of N (e.g. 2/4, on another machine or core set) and write its shard
    /// file (and, with --keep-paths, its paths) to the output directory; `dealsim merge`
    /// combines the N shard directories into the outputs of the whole run, identical to running
    /// it in one go. `auto`: the shard of this task of a Slurm job array (SLURM_ARRAY_TASK_ID),
    /// Kubernetes Indexed Job (JOB_COMPLETION_INDEX) or AWS Batch array job
    /// (AWS_BATCH_JOB_ARRAY_INDEX), of DEALSIM_SHARD_COUNT shards where the engine does not say.
    #[arg(long, value_name = "K/N|auto", value_parser = ShardSpec::parse, conflicts_with = "target_se")]
    shard: Option<ShardSpec>,
}

/// `dealsim merge`: the shards of one run into its outputs.
#[derive(Debug, Args)]
struct MergeArgs {
    #[command(flatten)]
    scenario: ScenarioArgs,
    /// The output directories of `run --shard`, in any order, or the directory that holds them
    /// (each of its subdirectories that holds a shard file is a shard).
    #[arg(required = true, value_name = "SHARD_DIR")]
    shards: Vec<PathBuf>,
    /// Output directory (default: merged/ in the directory that holds the shards, or
    /// output/<scenario file stem> if they are not in one): a new or empty directory, or a
    /// previous dealsim output; files dealsim did not write there are never touched.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Worker threads for sensitivity.csv (default: every core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    #[command(flatten)]
    outputs: OutputSettings,
}

/// `dealsim compare`: two scenario files side by side, paired path by path.
#[derive(Debug, Args)]
struct CompareArgs {
    /// The first scenario file; its deals come first and the first is the default baseline.
    first: PathBuf,
    /// The second scenario file, whose world (everything but the deals) must match the first's.
    second: PathBuf,
    /// Override one scalar by key path in both files (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = Override::parse)]
    overrides: Vec<Override>,
    #[command(flatten)]
    settings: RunSettings,
}

/// How to run and what to write, shared by `run` and `compare`.
#[derive(Debug, Args)]
struct RunSettings {
    /// Number of paths (default: [simulation].paths).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=crate::scenario::MAX_PATHS))]
    paths: Option<u64>,
    /// Keep adding paths until every reported mean's standard error is below this share of its
    /// magnitude (e.g. 0.005), or --max-paths is reached; run.json records why it stopped.
    #[arg(long, value_name = "REL", conflicts_with = "paths", value_parser = positive_fraction)]
    target_se: Option<f64>,
    /// The path cap for --target-se.
    #[arg(long, value_name = "N", requires = "target_se", default_value_t = 10_000_000,
          value_parser = clap::value_parser!(u64).range(1..=crate::scenario::MAX_PATHS))]
    max_paths: u64,
    /// Random seed (default: [simulation].seed).
    #[arg(long)]
    seed: Option<u64>,
    /// Worker threads (default: every core). Results do not depend on it.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Output directory (default: output/<scenario file stem>): a new or empty directory, or a
    /// previous dealsim output; files dealsim did not write there are never touched.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// The deal every other deal is compared with in comparison.csv (default: the first).
    #[arg(long, value_name = "DEAL")]
    baseline: Option<String>,
    #[command(flatten)]
    outputs: OutputSettings,
    /// Also write paths.parquet: one row per path with its uncertain inputs and every deal's
    /// scalar metrics (`<deal>:<metric>`), for analysis beyond the summary.
    #[arg(long)]
    keep_paths: bool,
}

/// Which of the derived outputs to write, and how; shared by `run`, `compare` and `merge`.
#[derive(Debug, Args)]
struct OutputSettings {
    /// Chart format: charts/*.png or charts/*.svg, also embedded in report.html.
    #[arg(long, value_name = "FORMAT", default_value = "png",
          value_parser = clap::builder::PossibleValuesParser::new(["png", "svg"])
              .map(|s: String| ChartFormat::parse(&s).unwrap_or_default()))]
    format: ChartFormat,
    /// Write neither charts/ nor report.html (faster batch runs).
    #[arg(long)]
    no_charts: bool,
    /// Write no report.xlsx (the run's tables as an Excel workbook).
    #[arg(long)]
    no_xlsx: bool,
    /// Skip sensitivity.csv (by default written when the scenario has uncertain inputs).
    #[arg(long)]
    no_sensitivity: bool,
    /// Paths per pinned run of the tornado behind sensitivity.csv, at most the run's; its
    /// swing_se column says how precise each swing is.
    #[arg(long, value_name = "N", default_value_t = sensitivity::DEFAULT_PATHS,
          value_parser = clap::value_parser!(u64).range(1..))]
    sensitivity_paths: u64,
    /// A target probability, e.g. 'revenue_share.openai-to-microsoft.paid > 40B' or
    /// 'apr-2026:party.openai.npv < 0' (repeatable): the chance, under each deal (or the one
    /// named), that the metric ends beyond the value; written to probabilities.csv.
    #[arg(long = "prob", value_name = "TARGET", value_parser = Threshold::parse)]
    thresholds: Vec<Threshold>,
}

/// Checks every `--prob` names a deal and a metric the scenario has, before anything runs.
fn check_thresholds(scenario: &Scenario, thresholds: &[Threshold]) -> Result<(), Failure> {
    if thresholds.is_empty() {
        return Ok(());
    }
    let layout = engine::metrics::Layout::of(scenario, 0);
    for threshold in thresholds {
        threshold.check(scenario, &layout).map_err(|error| Failure::Input(format!("error: {error}")))?;
    }
    Ok(())
}

fn positive_fraction(text: &str) -> Result<f64, String> {
    match text.trim_end_matches('%').parse::<f64>() {
        Ok(value) if value > 0.0 && text.ends_with('%') => Ok(value / 100.0),
        Ok(value) if value > 0.0 && value < 1.0 => Ok(value),
        _ => Err(format!("expected a share such as 0.005 or 0.5%, found `{text}`")),
    }
}

/// A failure and the exit code it maps to: 2 for invalid input or usage, 1 for runtime failures.
#[derive(Debug)]
enum Failure {
    Input(String),
    Runtime(String),
}

impl Failure {
    fn exit_code(&self) -> ExitCode {
        match self {
            Failure::Input(_) => ExitCode::from(2),
            Failure::Runtime(_) => ExitCode::from(1),
        }
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    exit_cleanly_on_signals();
    let result = match cli.command {
        Command::Run(args) => run(&args),
        Command::Validate(args) => validate(&args),
        Command::Sensitivity(args) => sensitivity(&args),
        Command::Solve(args) => solve(&args),
        Command::Compare(args) => compare(&args),
        Command::Merge(args) => merge(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            match &failure {
                Failure::Input(message) => eprintln!("{message}"),
                Failure::Runtime(message) => eprintln!("error: {message}"),
            }
            failure.exit_code()
        }
    }
}

/// Ctrl-C, SIGTERM and SIGHUP remove the temporaries of an output not yet committed (after a
/// commit under way has finished), then exit with 128 + the signal's number, as a shell reports
/// a process the signal ended.
fn exit_cleanly_on_signals() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    // Without the handler the default action stays, and the next command into the directory
    // removes what the stopped one left.
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else { return };
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            let abandoned = output_dir::abandon_unfinished();
            if abandoned.removed > 0 {
                eprintln!("\ninterrupted: the unfinished output was removed; the output directory is as it was");
            } else {
                eprintln!("\ninterrupted");
            }
            std::process::exit(128 + signal);
        }
    });
}

/// Where a command writes, checked before it computes anything.
struct Output {
    directory: OutputDir,
    /// How messages name it: `--out DIR`, or the default directory.
    label: String,
}

impl Output {
    fn open(given: Option<&Path>, default: PathBuf, writer: Writer, inputs: &[Input<'_>]) -> Result<Output, Failure> {
        let (path, label) = match given {
            Some(path) => (path.to_path_buf(), format!("--out {}", path.display())),
            None => (default.clone(), format!("{} (the default for --out)", default.display())),
        };
        match OutputDir::open(&path, writer, inputs) {
            Ok(directory) => Ok(Output { directory, label }),
            Err(error) => Err(output_failure(&label, &path, error)),
        }
    }

    fn path(&self) -> &Path {
        self.directory.path()
    }

    fn failure(&self, error: OutputError) -> Failure {
        output_failure(&self.label, self.path(), error)
    }

    fn stage(&mut self, name: &str, bytes: &[u8]) -> Result<(), Failure> {
        self.directory.stage(name, bytes).map_err(|error| self.failure(error))
    }

    /// Puts the staged files in place; returns the directory, for the closing message.
    fn commit(self) -> Result<PathBuf, Failure> {
        let (path, label) = (self.path().to_path_buf(), self.label);
        self.directory.commit().map_err(|error| output_failure(&label, &path, error))?;
        Ok(path)
    }
}

/// A refusal is invalid input (exit 2, nothing touched); anything else failed to write.
fn output_failure(label: &str, path: &Path, error: OutputError) -> Failure {
    if error.is_refusal() { Failure::Input(format!("error: {label}: {error}")) } else { cannot_write(path, &error) }
}

fn scenario_input(path: &Path) -> Input<'_> {
    Input { what: "the scenario file", path }
}

/// The scenario, parsed and validated, with the hash of what defined it.
struct Loaded {
    scenario: Scenario,
    hash: String,
}

fn load(args: &ScenarioArgs) -> Result<Loaded, Failure> {
    let origin = args.scenario.display().to_string();
    let ScenarioFile { scenario, texts } =
        read_scenario(&args.scenario, &args.overrides).map_err(|diagnostics: Diagnostics| {
            let count = diagnostics.0.len();
            let noun = if count == 1 { "error" } else { "errors" };
            Failure::Input(format!("{diagnostics}\n{origin}: {count} {noun}; nothing was simulated or written"))
        })?;
    // The texts of the file and of every file it extends, so a shard of another version of a
    // base file does not merge.
    let mut hasher = Sha256::new();
    for (index, text) in texts.iter().enumerate() {
        if index > 0 {
            hasher.update(b"\n--extends\n");
        }
        hasher.update(text.as_bytes());
    }
    for set in &args.overrides {
        hasher.update(format!("\n--set {}={}", set.key, set.value).as_bytes());
    }
    let hash = hasher.finalize().iter().fold(String::new(), |mut text, byte| {
        let _ = write!(text, "{byte:02x}");
        text
    });
    Ok(Loaded { scenario, hash })
}

fn default_out(scenario: &Path) -> PathBuf {
    let stem = scenario.file_stem().map_or_else(|| "scenario".into(), |s| s.to_string_lossy().into_owned());
    Path::new("output").join(stem)
}

fn run(args: &RunArgs) -> Result<(), Failure> {
    let Loaded { scenario, hash } = load(&args.scenario)?;
    let placement = match args.shard {
        Some(spec) => Some(spec.resolve(&environment()).map_err(|error| Failure::Input(format!("error: {error}")))?),
        None => None,
    };
    let file = &args.scenario.scenario;
    let writer = if placement.is_some() { Writer::Shard } else { Writer::Run };
    let output = Output::open(args.settings.out.as_deref(), default_out(file), writer, &[scenario_input(file)])?;
    execute(&scenario, hash, file, &args.scenario.overrides, &args.settings, output, placement)
}

/// The process environment, for `--shard auto`; a variable that is not UTF-8 is none an engine sets.
fn environment() -> std::collections::HashMap<String, String> {
    std::env::vars_os()
        .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
        .collect()
}

fn compare(args: &CompareArgs) -> Result<(), Failure> {
    let load_one =
        |scenario: &PathBuf| load(&ScenarioArgs { scenario: scenario.clone(), overrides: args.overrides.clone() });
    let (first, second) = (load_one(&args.first)?, load_one(&args.second)?);
    let stem = |path: &Path| path.file_stem().map_or_else(|| "scenario".into(), |s| s.to_string_lossy().into_owned());
    // --paths and --seed apply to both files, so they are not differences.
    let mut second_scenario = second.scenario;
    if args.settings.paths.is_some() || args.settings.target_se.is_some() {
        second_scenario.simulation.paths = first.scenario.simulation.paths;
    }
    if args.settings.seed.is_some() {
        second_scenario.simulation.seed = first.scenario.simulation.seed;
    }
    let files = format!("{} and {}", args.first.display(), args.second.display());
    let combined = pair(&first.scenario, &second_scenario, &files, &stem(&args.first), &stem(&args.second))
        .map_err(|error| Failure::Input(format!("error: {error}")))?;
    let differences = world_differences(&first.scenario, &second_scenario);
    if !differences.is_empty() {
        sayln!(
            "{files}: the worlds differ at {} key(s) (first | second), so each file's deals run on its own world, \
             both drawn from the same random numbers path by path:\n{}",
            differences.0.len(),
            differences.listed()
        );
    }
    let hash = format!("{}+{}", first.hash, second.hash);
    let default = Path::new("output").join(format!("{}-vs-{}", stem(&args.first), stem(&args.second)));
    let inputs = [scenario_input(&args.first), scenario_input(&args.second)];
    let output = Output::open(args.settings.out.as_deref(), default, Writer::Compare, &inputs)?;
    execute(&combined, hash, &args.first, &args.overrides, &args.settings, output, None)
}

/// The index of the deal `--baseline` names; the first deal without it.
fn baseline_deal(scenario: &Scenario, name: Option<&str>) -> Result<usize, Failure> {
    let Some(name) = name else { return Ok(0) };
    scenario.deals.iter().position(|d| d.name == name).ok_or_else(|| {
        let deals: Vec<&str> = scenario.deals.iter().map(|d| d.name.as_str()).collect();
        Failure::Input(format!("error: --baseline {name}: no such deal; expected one of: {}", deals.join(", ")))
    })
}

/// Runs a loaded scenario and writes every output into `output` (or, for a shard, its shard
/// file). `file` names the scenario in run.json and locates its data/ for the charts' history.
fn execute(
    scenario: &Scenario,
    hash: String,
    file: &Path,
    overrides: &[Override],
    args: &RunSettings,
    mut output: Output,
    placement: Option<Placement>,
) -> Result<(), Failure> {
    let baseline = baseline_deal(scenario, args.baseline.as_deref())?;
    check_thresholds(scenario, &args.outputs.thresholds)?;
    let options = RunOptions {
        paths: match args.target_se {
            Some(_) => args.max_paths,
            None => args.paths.unwrap_or(scenario.simulation.paths),
        },
        seed: args.seed.unwrap_or(scenario.simulation.seed),
        threads: args.threads,
        baseline,
        target_relative_se: args.target_se,
        shard: placement.as_ref().map(|placement| placement.shard),
    };
    let progress = Progress::new(options.paths);
    let update = |done| progress.update(done);
    let aggregates = if args.keep_paths {
        // Written as the run goes, to a temporary that becomes paths.parquet with the rest.
        let paths = output.directory.temp_file().map_err(|error| output.failure(error))?;
        let mut table = PathTable::create(paths.path(), scenario).map_err(|e| cannot_write(output.path(), &e))?;
        let aggregates = engine::run_recording(scenario, options, &update, &mut table)
            .map_err(|error| Failure::Runtime(error.to_string()))?;
        table.finish().map_err(|e| cannot_write(output.path(), &e))?;
        output.directory.stage_file(PATHS_FILE, paths).map_err(|error| output.failure(error))?;
        aggregates
    } else {
        engine::run(scenario, options, &update).map_err(|error| Failure::Runtime(error.to_string()))?
    };
    progress.finish();
    if let Some(placement) = placement {
        let bytes = ShardFile::of(&aggregates, &hash, options.paths, baseline, placement.shard)
            .to_bytes()
            .map_err(|e| Failure::Runtime(e.to_string()))?;
        output.stage(SHARD_FILE, &bytes)?;
        let out = output.commit()?;
        let shard_paths = engine::chunk_paths(&aggregates.chunks, options.paths);
        sayln!(
            "shard {placement}: paths {}..{} of {}, seed {}, {:.2} s; wrote {}\n\
             merge the shards with: dealsim merge {} SHARD_DIR... (or the directory that holds them)",
            shard_paths.start,
            shard_paths.end,
            options.paths,
            options.seed,
            aggregates.elapsed.as_secs_f64(),
            out.join(SHARD_FILE).display(),
            file.display()
        );
        return Ok(());
    }
    let results = Results {
        scenario,
        hash,
        file,
        overrides,
        outputs: &args.outputs,
        paths: options.paths,
        threads: args.threads,
        baseline,
    };
    write_results(&results, &aggregates, output, None)
}

/// What the outputs of a run (or of merged shards) are written from, besides its aggregates.
struct Results<'a> {
    scenario: &'a Scenario,
    hash: String,
    file: &'a Path,
    overrides: &'a [Override],
    outputs: &'a OutputSettings,
    /// The path count asked for (the cap of a --target-se run), and worker threads: sensitivity.csv
    /// runs at min(paths, --sensitivity-paths) paths per pinned run.
    paths: u64,
    threads: usize,
    /// The deal comparison.csv and the tornado's paired differences are against.
    baseline: usize,
}

fn cannot_write(out: &Path, error: &dyn std::fmt::Display) -> Failure {
    Failure::Runtime(format!("cannot write results to {}: {error}", out.display()))
}

/// Writes every output of a run into `output`, commits them and prints the key figures.
fn write_results(
    results: &Results<'_>,
    aggregates: &engine::Aggregates,
    mut output: Output,
    shards: Option<u64>,
) -> Result<(), Failure> {
    let Results { scenario, file, overrides, outputs, .. } = *results;
    let overrides = overrides.iter().map(|o| format!("{}={}", o.key, o.value)).collect();
    let mut info = RunInfo::new(scenario, file, results.hash.clone(), overrides, aggregates);
    info.shards = shards;
    let runtime = |error: &dyn std::fmt::Display| Failure::Runtime(error.to_string());
    let sensitivity = if outputs.no_sensitivity {
        Sensitivity::Skip
    } else {
        Sensitivity::Compute {
            paths: results.paths.min(outputs.sensitivity_paths),
            threads: results.threads,
            baseline: results.baseline,
        }
    };
    // The key figures come first: the tornado reruns the scenario and takes the longest.
    let mut tables = RunTables::build(scenario, aggregates, Sensitivity::Skip).map_err(|e| runtime(&e))?;
    sayln!(
        "{}: {} paths, seed {}, {} thread{}, {:.2} s ({:.0} paths/s)",
        if scenario.name.is_empty() { "scenario" } else { &scenario.name },
        aggregates.paths,
        aggregates.seed,
        aggregates.threads,
        if aggregates.threads == 1 { "" } else { "s" },
        info.elapsed_seconds,
        info.paths_per_second
    );
    if let engine::Stop::PathCap { relative_se, worst_metric, worst_relative_se } = aggregates.stop {
        let metric = &aggregates.layout.metrics[worst_metric];
        let name = match metric.scope {
            engine::metrics::Scope::Deal(deal) => format!("{}:{}", scenario.deals[deal].name, metric.name),
            engine::metrics::Scope::World => metric.name.clone(),
        };
        sayln!(
            "did not converge: the least precise mean, {name}, has a standard error of {}% of its magnitude after {} \
             paths (target {}%)",
            percent(worst_relative_se),
            aggregates.paths,
            percent(relative_se)
        );
    }
    let catalogue = Catalogue::of(scenario);
    say!("{}", terminal::key_figures_table(&catalogue, &tables.summary));
    say!("{}", terminal::comparison_table(&catalogue, &tables.comparison));
    tables.probabilities = probabilities::probability_rows(scenario, aggregates, &outputs.thresholds);
    say!("{}", terminal::probability_table(&catalogue, &tables.probabilities));
    say!("{}", terminal::outcome_tables_text(&tables.outcomes));
    tables.add_sensitivity(scenario, aggregates.seed, sensitivity).map_err(|e| runtime(&e))?;
    // The deals' own targets; the paired differences' tornados are in sensitivity.csv and the report.
    let own: Vec<_> =
        tables.report_tables().sensitivity.iter().filter(|row| row.baseline.is_empty()).cloned().collect();
    say!("{}", terminal::tornado_table(&catalogue, &own, 3));
    let mut files: Vec<(&str, Vec<u8>)> = tables.csv_files().map_err(|e| runtime(&e))?;
    files.push(("run.json", serde_json::to_vec_pretty(&info).map_err(|e| runtime(&e))?));
    if !outputs.no_xlsx {
        files.push((WORKBOOK_FILE, workbook::workbook_bytes(scenario, &tables).map_err(|e| runtime(&e))?));
    }
    let mut report_files = if outputs.no_charts {
        Vec::new()
    } else {
        chart_files(file, outputs.format, scenario, aggregates, &info, tables.report_tables())?
    };
    files.extend(report_files.iter_mut().map(|(name, bytes)| (name.as_str(), std::mem::take(bytes))));
    for (name, bytes) in &files {
        output.stage(name, bytes)?;
    }
    let out = output.commit()?;
    sayln!("\nwrote {}", out.display());
    Ok(())
}

/// A share as a percentage with at most three decimals: 0.005 is "0.5".
fn percent(share: f64) -> String {
    let text = format!("{:.3}", share * 100.0);
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Reads the shards (given, or found in the directory given), checks they are every shard of
/// one run of this scenario, once, and writes the run's outputs.
fn merge(args: &MergeArgs) -> Result<(), Failure> {
    let Loaded { scenario, hash } = load(&args.scenario)?;
    let file = &args.scenario.scenario;
    let refused = |error: ShardSetError| Failure::Input(format!("error: {error}"));
    let shards = shard_set::read_shards(&args.shards).map_err(refused)?;
    let mut inputs = vec![scenario_input(file)];
    inputs.extend(shards.iter().map(|shard| Input { what: "the shard directory", path: &shard.path }));
    let default = shard_set::default_out(&shards).unwrap_or_else(|| default_out(file));
    let output = Output::open(args.out.as_deref(), default, Writer::Merge, &inputs)?;
    let expected = shard_file::Expected {
        scenario_hash: hash.clone(),
        seed: scenario.simulation.seed,
        paths: scenario.simulation.paths,
        baseline: 0,
    };
    let run = shard_file::common_run(&shards, &expected, &scenario)
        .map_err(|disagreement| Failure::Input(format!("error: {disagreement}")))?;
    shard_set::check_complete(&shards, run.shards).map_err(refused)?;
    check_thresholds(&scenario, &args.outputs.thresholds)?;
    let merged = shard_set::merge(&shards, &scenario, run.paths).map_err(refused)?;
    let results = Results {
        scenario: &scenario,
        hash,
        file,
        overrides: &args.scenario.overrides,
        outputs: &args.outputs,
        paths: run.paths,
        threads: args.threads,
        baseline: run.baseline,
    };
    write_results(&results, &merged, output, Some(run.shards))
}

/// The charts (under `charts/`) and `report.html`, drawn from the aggregates. A stream's actuals
/// come from `data/<stream>_revenue.csv` beside the scenario's directory; one that cannot be read
/// is left out with a warning.
fn chart_files(
    file: &Path,
    format: ChartFormat,
    scenario: &Scenario,
    aggregates: &engine::Aggregates,
    info: &RunInfo<'_>,
    tables: ReportTables<'_>,
) -> Result<Vec<(String, Vec<u8>)>, Failure> {
    let data = history::data_dir_for(file);
    let mut histories = std::collections::BTreeMap::<String, History>::new();
    for stream in &scenario.streams {
        match history::read_history(&history::history_file(&data, &stream.name)) {
            Ok(Some(actuals)) => {
                histories.insert(stream.name.clone(), actuals);
            }
            Ok(None) => {}
            Err(error) => eprintln!("warning: no actuals on the {} chart: {error}", stream.name),
        }
    }
    let mut charts = charts::render_charts(scenario, aggregates, &histories, format)
        .map_err(|error| Failure::Runtime(error.to_string()))?;
    let catalogue = Catalogue::of(scenario);
    charts.extend(
        charts::tornado_charts(&catalogue, tables.summary, tables.comparison, tables.sensitivity, format)
            .map_err(|error| Failure::Runtime(error.to_string()))?,
    );
    charts.extend(
        charts::scatter_charts(&catalogue, tables.scatters, format)
            .map_err(|error| Failure::Runtime(error.to_string()))?,
    );
    charts
        .extend(charts::outcome_charts(tables.outcomes, format).map_err(|error| Failure::Runtime(error.to_string()))?);
    let html = html::render_report(scenario, info, tables, &charts);
    let mut files: Vec<(String, Vec<u8>)> =
        charts.into_iter().map(|chart| (format!("charts/{}", chart.file_name), chart.bytes)).collect();
    files.push(("report.html".to_string(), html.into_bytes()));
    Ok(files)
}

/// A progress bar on stderr, shown only on a terminal and only once a run has taken a second.
struct Progress {
    bar: ProgressBar,
    started: Instant,
    shown: AtomicBool,
    terminal: bool,
}

impl Progress {
    fn new(paths: u64) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(paths), ProgressDrawTarget::hidden());
        if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} paths  {per_sec}  eta {eta}") {
            bar.set_style(style);
        }
        Progress {
            bar,
            started: Instant::now(),
            shown: AtomicBool::new(false),
            terminal: std::io::stderr().is_terminal(),
        }
    }

    fn update(&self, done: u64) {
        if self.terminal && self.started.elapsed() > Duration::from_secs(1) && !self.shown.swap(true, Ordering::Relaxed)
        {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
        self.bar.set_position(done);
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

fn solve(args: &SolveArgs) -> Result<(), Failure> {
    // The scenario as given must be valid before any value is tried.
    load(&args.scenario)?;
    let range = SearchRange::parse(&args.between[0], &args.between[1])
        .map_err(|message| Failure::Input(format!("error: --between: {message}")))?;
    let (low, high) = (range.low, range.high);
    let options = |scenario: &Scenario| EvaluateOptions {
        paths: args.paths.unwrap_or(scenario.simulation.paths),
        seed: args.seed.unwrap_or(scenario.simulation.seed),
    };
    // Check the key and the target once, with clear messages, before searching.
    let with_value = |value: f64| {
        let mut overrides = args.scenario.overrides.clone();
        overrides.push(Override { key: args.vary.clone(), value: format!("{value}") });
        read_scenario(&args.scenario.scenario, &overrides).map(|file| file.scenario)
    };
    let first =
        with_value(low).map_err(|diagnostics| Failure::Input(format!("--vary {}: {diagnostics}", args.vary)))?;
    let layout = Layout::of(&first, 0);
    args.target.check(&first, &layout).map_err(|message| Failure::Input(format!("error: --target: {message}")))?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()
        .map_err(|error| Failure::Runtime(format!("cannot start {} worker threads: {error}", args.threads)))?;
    let started = Instant::now();
    let mut draws = DrawCache::default();
    let evaluate = |value: f64| -> Result<(f64, f64), String> {
        let scenario = with_value(value).map_err(|d| format!("--vary {} = {value}: {d}", args.vary))?;
        pool.install(|| args.target.evaluate(&scenario, &options(&scenario), &mut draws))
    };
    let tolerance = 1e-6 * (high - low).abs().max(f64::MIN_POSITIVE);
    let breakeven = bisect(low, high, tolerance, evaluate).map_err(|error| Failure::Runtime(error.to_string()))?;
    sayln!(
        "{} = {} ± {} (95%) makes {} = {}",
        args.vary,
        range.show(breakeven.value),
        range.show(breakeven.band),
        args.target.left,
        args.target.right
    );
    if let Ok(solved) = with_value(breakeven.value)
        && let Some((outcome, share)) = solve::outcome_share(&solved, &args.vary)
    {
        let event = outcome.split('.').next().unwrap_or_default();
        sayln!("that is, {outcome} on {:.1}% of the paths where {event} occurs", share * 100.0);
    }
    sayln!(
        "{} bisection steps on common random numbers, {:.2} s",
        breakeven.iterations,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn sensitivity(args: &SensitivityArgs) -> Result<(), Failure> {
    let Loaded { scenario, .. } = load(&args.scenario)?;
    let known: Vec<String> = engine_metric_names(&scenario);
    for target in &args.targets {
        if !known.contains(target) {
            return Err(Failure::Input(format!(
                "error: --target {target}: no such deal metric; expected one of: {}",
                known.join(", ")
            )));
        }
    }
    let baseline = baseline_deal(&scenario, args.baseline.as_deref())?;
    let file = &args.scenario.scenario;
    let mut output =
        Output::open(args.out.as_deref(), default_out(file), Writer::Sensitivity, &[scenario_input(file)])?;
    let options = SensitivityOptions {
        paths: args.paths,
        seed: args.seed.unwrap_or(scenario.simulation.seed),
        threads: args.threads,
        targets: args.targets.clone(),
        baseline,
    };
    let started = Instant::now();
    let rows = sensitivity::tornado(&scenario, &options).map_err(|error| Failure::Runtime(error.to_string()))?;
    let bytes = report::csv_bytes(&rows).map_err(|error| Failure::Runtime(error.to_string()))?;
    output.stage("sensitivity.csv", &bytes)?;
    let out = output.commit()?;
    sayln!(
        "sensitivity: {} inputs x 2 pinned runs of {} paths, {:.2} s",
        scenario.inputs.len(),
        options.paths,
        started.elapsed().as_secs_f64()
    );
    say!("{}", terminal::tornado_table(&Catalogue::of(&scenario), &rows, 8));
    sayln!("\nwrote {}", out.join("sensitivity.csv").display());
    Ok(())
}

/// Names of the deal metrics a scenario reports, for checking `--target`.
fn engine_metric_names(scenario: &Scenario) -> Vec<String> {
    let mut names: Vec<String> = crate::engine::metrics::Layout::of(scenario, 0)
        .metrics
        .into_iter()
        .filter(|m| m.scope != crate::engine::metrics::Scope::World && !m.conditional)
        .map(|m| m.name)
        .collect();
    names.dedup();
    names
}

fn validate(args: &ScenarioArgs) -> Result<(), Failure> {
    let Loaded { scenario, .. } = load(args)?;
    say!("{}", describe::describe_scenario(&scenario));
    Ok(())
}
