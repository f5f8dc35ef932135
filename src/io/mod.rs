//! The file system: scenario files, the output directory, historical actuals, per-path Parquet
//! and shard files.

pub mod history;
pub mod output_dir;
pub mod path_table;
pub mod scenario_file;
pub mod shard_file;
