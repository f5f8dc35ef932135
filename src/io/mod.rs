//! The file system and the process around it: scenario files, the output directory, historical
//! actuals, per-path Parquet, shard files and the sets a merge reads, and a batch task's shard.

pub mod batch;
pub mod history;
pub mod output_dir;
pub mod path_table;
pub mod scenario_file;
pub mod shard_file;
pub mod shard_set;
