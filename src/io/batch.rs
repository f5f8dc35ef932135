//! Which shard a batch engine's array task runs (`--shard K/N` or `--shard auto`): for `auto`,
//! the shard index and count from the variables a Slurm job array, a Kubernetes Indexed Job or an
//! AWS Batch array job sets in each task's environment.

use std::collections::HashMap;
use std::fmt;

use crate::engine::Shard;

/// The shard count where the engine gives none (Kubernetes, AWS Batch), or, for a Slurm array,
/// the count that makes the task IDs the shard indexes (a re-run of some of a run's shards).
pub const SHARD_COUNT: &str = "DEALSIM_SHARD_COUNT";

const SLURM_ID: &str = "SLURM_ARRAY_TASK_ID";
const SLURM_MIN: &str = "SLURM_ARRAY_TASK_MIN";
const SLURM_MAX: &str = "SLURM_ARRAY_TASK_MAX";
const SLURM_COUNT: &str = "SLURM_ARRAY_TASK_COUNT";
const SLURM_STEP: &str = "SLURM_ARRAY_TASK_STEP";
const SLURM_JOB: &str = "SLURM_JOB_ID";
const KUBERNETES_INDEX: &str = "JOB_COMPLETION_INDEX";
const AWS_INDEX: &str = "AWS_BATCH_JOB_ARRAY_INDEX";
const AWS_SIZE: &str = "AWS_BATCH_JOB_ARRAY_SIZE";

/// What `--shard` was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardSpec {
    /// `K/N`, 1-based on the command line.
    Given(Shard),
    /// `auto`: from the batch engine's environment.
    Auto,
}

impl ShardSpec {
    /// `K/N` with 1 <= K <= N, or `auto`.
    pub fn parse(text: &str) -> Result<ShardSpec, String> {
        if text.trim() == "auto" {
            return Ok(ShardSpec::Auto);
        }
        let parsed = text
            .split_once('/')
            .and_then(|(k, n)| Some((k.trim().parse::<u64>().ok()?, n.trim().parse::<u64>().ok()?)));
        match parsed {
            Some((k, n)) if k >= 1 && k <= n => Ok(ShardSpec::Given(Shard { index: k - 1, count: n })),
            _ => Err(format!("expected K/N with 1 <= K <= N, such as 2/4, or auto; found `{text}`")),
        }
    }

    /// The shard to run; `env` is the process environment for `auto`.
    pub fn resolve(self, env: &HashMap<String, String>) -> Result<Placement, AutoShardError> {
        match self {
            ShardSpec::Given(shard) => Ok(Placement { shard, engine: None, read: Vec::new() }),
            ShardSpec::Auto => auto_shard(env),
        }
    }
}

/// The batch engines `--shard auto` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Slurm,
    Kubernetes,
    AwsBatch,
}

impl Engine {
    const ALL: [Engine; 3] = [Engine::Slurm, Engine::Kubernetes, Engine::AwsBatch];

    /// The variable that marks a task of this engine's arrays: its index.
    fn index_variable(self) -> &'static str {
        match self {
            Engine::Slurm => SLURM_ID,
            Engine::Kubernetes => KUBERNETES_INDEX,
            Engine::AwsBatch => AWS_INDEX,
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Engine::Slurm => "Slurm job array",
            Engine::Kubernetes => "Kubernetes Indexed Job",
            Engine::AwsBatch => "AWS Batch array job",
        })
    }
}

/// The shard a run is, and for `auto` where that came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    pub shard: Shard,
    pub engine: Option<Engine>,
    /// The variables read, `NAME=value`, in the order read.
    pub read: Vec<String>,
}

impl fmt::Display for Placement {
    /// `3/8`, and for `auto` the engine and variables it came from.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.shard.index + 1, self.shard.count)?;
        match self.engine {
            Some(engine) => write!(f, " (index {}, {engine}: {})", self.shard.index, self.read.join(", ")),
            None => Ok(()),
        }
    }
}

/// Why `--shard auto` found no shard: each names the variables concerned (exit code 2).
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum AutoShardError {
    #[error(
        "--shard auto: no batch engine's task index is set: {SLURM_ID} (a Slurm job array), {KUBERNETES_INDEX} (a \
         Kubernetes Indexed Job) or {AWS_INDEX} (an AWS Batch array job){hint}; or give the shard as --shard K/N"
    )]
    NoEngine { hint: String },
    #[error("--shard auto: the task indexes of several batch engines are set ({}); unset all but one", .0.join(", "))]
    SeveralEngines(Vec<String>),
    #[error("--shard auto ({engine}, {read}): {variable} is not set; {why}")]
    Missing { engine: Engine, read: String, variable: &'static str, why: &'static str },
    #[error("--shard auto ({engine}): {variable}={value} is not a whole number")]
    NotANumber { engine: Engine, variable: &'static str, value: String },
    #[error("--shard auto ({engine}): {}: {why}", read.join(", "))]
    Inconsistent { engine: Engine, read: Vec<String>, why: String },
}

/// The engine's variables read so far, for the messages.
struct Reader<'a> {
    env: &'a HashMap<String, String>,
    engine: Engine,
    read: Vec<String>,
}

impl Reader<'_> {
    fn optional(&mut self, variable: &'static str) -> Result<Option<u64>, AutoShardError> {
        let Some(value) = self.env.get(variable) else { return Ok(None) };
        self.read.push(format!("{variable}={value}"));
        match value.trim().parse::<u64>() {
            Ok(number) => Ok(Some(number)),
            Err(_) => Err(AutoShardError::NotANumber { engine: self.engine, variable, value: value.clone() }),
        }
    }

    fn required(&mut self, variable: &'static str, why: &'static str) -> Result<u64, AutoShardError> {
        self.optional(variable)?.ok_or_else(|| self.missing(variable, why))
    }

    fn missing(&self, variable: &'static str, why: &'static str) -> AutoShardError {
        AutoShardError::Missing { engine: self.engine, read: self.read.join(", "), variable, why }
    }

    fn inconsistent(self, why: String) -> AutoShardError {
        AutoShardError::Inconsistent { engine: self.engine, read: self.read, why }
    }

    fn placement(self, index: u64, count: u64) -> Result<Placement, AutoShardError> {
        if count == 0 {
            return Err(self.inconsistent("the shard count must be at least 1".to_string()));
        }
        if index >= count {
            let why = format!("shard index {index} is not below the shard count {count} (indexes run from 0)");
            return Err(self.inconsistent(why));
        }
        Ok(Placement { shard: Shard { index, count }, engine: Some(self.engine), read: self.read })
    }
}

/// The shard of this task from its batch engine's variables in `env`.
///
/// Slurm: index = SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN, count = SLURM_ARRAY_TASK_COUNT, for
/// an array of contiguous task IDs; with [`SHARD_COUNT`] set, index = SLURM_ARRAY_TASK_ID and the
/// count is that, so `sbatch --array=3,5` re-runs shards 3 and 5 of a run. Kubernetes: index =
/// JOB_COMPLETION_INDEX, count = [`SHARD_COUNT`]. AWS Batch: index = AWS_BATCH_JOB_ARRAY_INDEX,
/// count = [`SHARD_COUNT`] or else AWS_BATCH_JOB_ARRAY_SIZE (both set must agree).
pub fn auto_shard(env: &HashMap<String, String>) -> Result<Placement, AutoShardError> {
    let present: Vec<Engine> =
        Engine::ALL.into_iter().filter(|engine| env.contains_key(engine.index_variable())).collect();
    let engine = match present.as_slice() {
        [one] => *one,
        [] => {
            let hint = if env.contains_key(SLURM_JOB) {
                format!(
                    " ({SLURM_JOB} is set: this Slurm job is not an array job: submit it with sbatch --array=0-7 for 8 shards)"
                )
            } else {
                String::new()
            };
            return Err(AutoShardError::NoEngine { hint });
        }
        several => {
            let set =
                several.iter().map(|engine| format!("{}={}", engine.index_variable(), env[engine.index_variable()]));
            return Err(AutoShardError::SeveralEngines(set.collect()));
        }
    };
    let mut reader = Reader { env, engine, read: Vec::new() };
    let index = reader.required(engine.index_variable(), "it is the task's index")?;
    let fixed_count = reader.optional(SHARD_COUNT)?;
    match engine {
        Engine::Slurm => match fixed_count {
            Some(count) => reader.placement(index, count),
            None => slurm_array(reader, index),
        },
        Engine::Kubernetes => {
            let why = "set it in the Job's pod template to the Job's completions";
            let count = fixed_count.ok_or_else(|| reader.missing(SHARD_COUNT, why))?;
            reader.placement(index, count)
        }
        Engine::AwsBatch => {
            let size = reader.optional(AWS_SIZE)?;
            match (fixed_count, size) {
                (Some(count), Some(size)) if count != size => {
                    Err(reader.inconsistent(format!("{SHARD_COUNT} and the array's size differ")))
                }
                (Some(count), _) | (None, Some(count)) => reader.placement(index, count),
                (None, None) => Err(reader.missing(SHARD_COUNT, "set it in the job definition to the array's size")),
            }
        }
    }
}

/// A Slurm array of contiguous task IDs, whichever its first: the task's place in it.
fn slurm_array(mut reader: Reader<'_>, id: u64) -> Result<Placement, AutoShardError> {
    let why = "Slurm sets it in every task of a job array";
    let min = reader.required(SLURM_MIN, why)?;
    let count = reader.required(SLURM_COUNT, why)?;
    let max = reader.optional(SLURM_MAX)?;
    let step = reader.optional(SLURM_STEP)?;
    let contiguous = format!(
        "the shards must be an array of contiguous task IDs such as --array=0-{}, or {SHARD_COUNT} must give the \
         shard count (the task IDs are then the shard indexes)",
        count.saturating_sub(1)
    );
    if step.is_some_and(|step| step != 1)
        || max.is_some_and(|max| max.checked_sub(min) != Some(count.saturating_sub(1)))
    {
        return Err(reader.inconsistent(contiguous));
    }
    match id.checked_sub(min) {
        Some(index) => reader.placement(index, count),
        None => Err(reader.inconsistent(format!("the task ID is below the array's first ({min})"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect()
    }

    fn shard(pairs: &[(&str, &str)]) -> Shard {
        auto_shard(&env(pairs)).unwrap_or_else(|error| panic!("{error}")).shard
    }

    fn error(pairs: &[(&str, &str)]) -> String {
        auto_shard(&env(pairs)).expect_err("refused").to_string()
    }

    const SLURM: [(&str, &str); 5] = [
        ("SLURM_ARRAY_TASK_ID", "12"),
        ("SLURM_ARRAY_TASK_MIN", "10"),
        ("SLURM_ARRAY_TASK_MAX", "17"),
        ("SLURM_ARRAY_TASK_COUNT", "8"),
        ("SLURM_ARRAY_TASK_STEP", "1"),
    ];

    #[test]
    fn k_of_n_and_auto_parse() {
        assert_eq!(ShardSpec::parse("2/4"), Ok(ShardSpec::Given(Shard { index: 1, count: 4 })));
        assert_eq!(ShardSpec::parse("auto"), Ok(ShardSpec::Auto));
        for bad in ["0/3", "4/3", "2", "a/b", "automatic"] {
            assert!(ShardSpec::parse(bad).unwrap_err().contains("expected K/N"), "{bad}");
        }
        let given = ShardSpec::Given(Shard { index: 1, count: 4 });
        assert_eq!(given.resolve(&env(&SLURM)).unwrap().shard, Shard { index: 1, count: 4 }, "K/N ignores the env");
    }

    #[test]
    fn slurm_index_counts_from_the_arrays_first_task() {
        assert_eq!(shard(&SLURM), Shard { index: 2, count: 8 });
        // Older Slurm sets no step or maximum.
        assert_eq!(
            shard(&SLURM[..2].iter().chain(&SLURM[3..4]).copied().collect::<Vec<_>>()),
            Shard { index: 2, count: 8 }
        );
        let placement = auto_shard(&env(&SLURM)).unwrap();
        assert_eq!(
            placement.to_string(),
            "3/8 (index 2, Slurm job array: SLURM_ARRAY_TASK_ID=12, SLURM_ARRAY_TASK_MIN=10, \
             SLURM_ARRAY_TASK_COUNT=8, SLURM_ARRAY_TASK_MAX=17, SLURM_ARRAY_TASK_STEP=1)"
        );
    }

    #[test]
    fn a_fixed_count_makes_slurm_task_ids_the_shard_indexes() {
        // `sbatch --array=5 --export=ALL,DEALSIM_SHARD_COUNT=8`: shard 5 of 8 again.
        let rerun = [
            ("SLURM_ARRAY_TASK_ID", "5"),
            ("SLURM_ARRAY_TASK_MIN", "5"),
            ("SLURM_ARRAY_TASK_MAX", "5"),
            ("SLURM_ARRAY_TASK_COUNT", "1"),
            ("DEALSIM_SHARD_COUNT", "8"),
        ];
        assert_eq!(shard(&rerun), Shard { index: 5, count: 8 });
        let beyond = error(&[("SLURM_ARRAY_TASK_ID", "8"), ("DEALSIM_SHARD_COUNT", "8")]);
        assert!(beyond.contains("shard index 8 is not below the shard count 8"), "{beyond}");
    }

    #[test]
    fn slurm_arrays_with_gaps_are_refused() {
        let mut stepped = SLURM.to_vec();
        stepped[4] = ("SLURM_ARRAY_TASK_STEP", "2");
        let message = error(&stepped);
        assert!(message.contains("SLURM_ARRAY_TASK_STEP=2"), "{message}");
        assert!(message.contains("contiguous task IDs such as --array=0-7"), "{message}");
        // --array=1,3,7: three tasks spread over seven IDs.
        let listed = [
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_MAX", "7"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
        ];
        assert!(error(&listed).contains("contiguous"));
        let below =
            error(&[("SLURM_ARRAY_TASK_ID", "1"), ("SLURM_ARRAY_TASK_MIN", "2"), ("SLURM_ARRAY_TASK_COUNT", "3")]);
        assert!(below.contains("below the array's first (2)"), "{below}");
    }

    #[test]
    fn missing_and_malformed_variables_are_named() {
        let message = error(&[("SLURM_ARRAY_TASK_ID", "3")]);
        assert!(message.contains("SLURM_ARRAY_TASK_MIN is not set"), "{message}");
        let message = error(&[("SLURM_ARRAY_TASK_ID", "3"), ("SLURM_ARRAY_TASK_MIN", "0")]);
        assert!(message.contains("SLURM_ARRAY_TASK_COUNT is not set"), "{message}");
        let message = error(&[("SLURM_ARRAY_TASK_ID", "x"), ("SLURM_ARRAY_TASK_MIN", "0")]);
        assert!(message.contains("SLURM_ARRAY_TASK_ID=x is not a whole number"), "{message}");
        let message = error(&[("JOB_COMPLETION_INDEX", "3")]);
        assert!(message.contains("Kubernetes Indexed Job, JOB_COMPLETION_INDEX=3): DEALSIM_SHARD_COUNT is not set"));
        let message = error(&[("AWS_BATCH_JOB_ARRAY_INDEX", "3")]);
        assert!(message.contains("DEALSIM_SHARD_COUNT is not set"), "{message}");
        let message = error(&[("JOB_COMPLETION_INDEX", "3"), ("DEALSIM_SHARD_COUNT", "0")]);
        assert!(message.contains("the shard count must be at least 1"), "{message}");
    }

    #[test]
    fn kubernetes_and_aws_batch_take_the_count_from_dealsim_shard_count() {
        assert_eq!(
            shard(&[("JOB_COMPLETION_INDEX", "63"), ("DEALSIM_SHARD_COUNT", "64")]),
            Shard { index: 63, count: 64 }
        );
        let message = error(&[("JOB_COMPLETION_INDEX", "64"), ("DEALSIM_SHARD_COUNT", "64")]);
        assert!(message.contains("JOB_COMPLETION_INDEX=64, DEALSIM_SHARD_COUNT=64: shard index 64"), "{message}");
        assert_eq!(
            shard(&[("AWS_BATCH_JOB_ARRAY_INDEX", "0"), ("DEALSIM_SHARD_COUNT", "2")]),
            Shard { index: 0, count: 2 }
        );
        // AWS Batch tells the array's size too: it stands for the count, and must agree with it.
        assert_eq!(
            shard(&[("AWS_BATCH_JOB_ARRAY_INDEX", "4"), ("AWS_BATCH_JOB_ARRAY_SIZE", "10")]),
            Shard { index: 4, count: 10 }
        );
        let message = error(&[
            ("AWS_BATCH_JOB_ARRAY_INDEX", "4"),
            ("DEALSIM_SHARD_COUNT", "8"),
            ("AWS_BATCH_JOB_ARRAY_SIZE", "10"),
        ]);
        assert!(message.contains("DEALSIM_SHARD_COUNT=8, AWS_BATCH_JOB_ARRAY_SIZE=10: DEALSIM_SHARD_COUNT and"));
    }

    #[test]
    fn no_engine_or_several_engines_are_refused() {
        let message = error(&[("DEALSIM_SHARD_COUNT", "8")]);
        assert!(message.contains("no batch engine's task index is set: SLURM_ARRAY_TASK_ID"), "{message}");
        assert!(error(&[("SLURM_JOB_ID", "77")]).contains("this Slurm job is not an array job"));
        let message = error(&[("JOB_COMPLETION_INDEX", "1"), ("SLURM_ARRAY_TASK_ID", "1")]);
        assert!(message.contains("several batch engines are set (SLURM_ARRAY_TASK_ID=1, JOB_COMPLETION_INDEX=1)"));
    }
}
