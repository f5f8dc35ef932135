//! `paths.parquet` (`run --keep-paths`): one row per path with its uncertain inputs and every
//! deal's scalar metrics, written a row group at a time as the run completes paths.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, SyncSender};
use std::thread::{self, JoinHandle};

use polars::prelude::*;

use crate::engine::metrics::Layout;
use crate::engine::{PathBatch, PathSink};
use crate::scenario::Scenario;

/// Values buffered before a row group is written: bounds memory whatever the path count (a
/// million paths of a hundred columns is 800 MB of values), while keeping row groups large
/// enough for readers to scan quickly.
const ROW_GROUP_BYTES: usize = 32 << 20;
/// Row-group size limits in rows, whatever the column count.
const MIN_ROW_GROUP: usize = 4_096;
const MAX_ROW_GROUP: usize = 1 << 18;

/// Why `paths.parquet` could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PathTableError {
    #[error("cannot create {}: {source}", path.display())]
    Create { path: PathBuf, source: std::io::Error },
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: PolarsError },
}

/// The `<deal>:<metric>` columns: one per row of summary.csv, in its order, so a column's mean
/// is that row's mean.
fn metric_columns(scenario: &Scenario, layout: &Layout) -> Vec<(String, usize)> {
    let mut columns = Vec::new();
    for (d, deal) in scenario.deals.iter().enumerate() {
        for (slot, metric) in layout.metrics.iter().enumerate() {
            if metric.scope.reported_under(d) {
                columns.push((format!("{}:{}", deal.name, metric.name), slot));
            }
        }
    }
    columns
}

/// Streams paths into a Parquet file; [`PathTable::finish`] writes the footer.
pub struct PathTable {
    path: PathBuf,
    /// Row groups on their way to the encoder thread; dropped to tell it the last has gone.
    frames: Option<SyncSender<DataFrame>>,
    encoder: Option<JoinHandle<PolarsResult<u64>>>,
    input_names: Vec<PlSmallStr>,
    /// Each metric column's name and its index in a batch's metric row.
    metric_columns: Vec<(PlSmallStr, usize)>,
    metric_width: usize,
    rows_per_group: usize,
    paths: Vec<u64>,
    /// Column-major buffers: each input's values, then each metric column's.
    inputs: Vec<Vec<f64>>,
    metrics: Vec<Vec<f64>>,
    rows_written: u64,
}

impl PathTable {
    /// Creates the file with the columns `path`, each uncertain input's key, then
    /// `<deal>:<metric>` for every metric of summary.csv.
    pub fn create(path: &Path, scenario: &Scenario) -> Result<PathTable, PathTableError> {
        // Metric columns do not depend on the baseline (only paired differences do, and they are not kept).
        let layout = Layout::of(scenario, 0);
        let input_names: Vec<PlSmallStr> = scenario.inputs.iter().map(|input| input.key.as_str().into()).collect();
        let metric_columns: Vec<(PlSmallStr, usize)> =
            metric_columns(scenario, &layout).into_iter().map(|(name, slot)| (name.into(), slot)).collect();
        let mut schema = Schema::with_capacity(1 + input_names.len() + metric_columns.len());
        schema.insert("path".into(), DataType::UInt64);
        for name in input_names.iter().chain(metric_columns.iter().map(|(name, _)| name)) {
            schema.insert(name.clone(), DataType::Float64);
        }
        let file = File::create(path).map_err(|source| PathTableError::Create { path: path.to_path_buf(), source })?;
        let mut writer = ParquetWriter::new(BufWriter::new(file))
            .batched(&schema)
            .map_err(|source| PathTableError::Write { path: path.to_path_buf(), source })?;
        // Encoding and compressing a row group takes a while; a thread of its own does it while
        // the run simulates the next paths. One row group waits at most, which bounds memory.
        let (frames, received) = mpsc::sync_channel::<DataFrame>(1);
        let encoder = thread::spawn(move || {
            for frame in received {
                writer.write_batch(&frame)?;
            }
            writer.finish()
        });
        let rows_per_group = (ROW_GROUP_BYTES / (8 * schema.len())).clamp(MIN_ROW_GROUP, MAX_ROW_GROUP);
        Ok(PathTable {
            path: path.to_path_buf(),
            frames: Some(frames),
            encoder: Some(encoder),
            inputs: vec![Vec::with_capacity(rows_per_group); input_names.len()],
            metrics: vec![Vec::with_capacity(rows_per_group); metric_columns.len()],
            input_names,
            metric_width: layout.metrics.len(),
            metric_columns,
            rows_per_group,
            paths: Vec::with_capacity(rows_per_group),
            rows_written: 0,
        })
    }

    /// Writes what is buffered and the footer; returns the number of rows written.
    pub fn finish(mut self) -> Result<u64, PathTableError> {
        self.flush()?;
        self.stop_encoder()?;
        Ok(self.rows_written)
    }

    /// Tells the encoder thread no more row groups are coming, waits for it to write the
    /// footer, and says why it failed if it did.
    fn stop_encoder(&mut self) -> Result<(), PathTableError> {
        self.frames = None;
        let Some(encoder) = self.encoder.take() else { return Ok(()) };
        match encoder.join() {
            Ok(result) => result.map(drop).map_err(|source| PathTableError::Write { path: self.path.clone(), source }),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    fn flush(&mut self) -> Result<(), PathTableError> {
        if self.paths.is_empty() {
            return Ok(());
        }
        let capacity = self.rows_per_group;
        let height = self.paths.len();
        let mut columns = Vec::with_capacity(1 + self.inputs.len() + self.metrics.len());
        columns.push(Column::new("path".into(), std::mem::replace(&mut self.paths, Vec::with_capacity(capacity))));
        for (name, values) in self.input_names.iter().zip(&mut self.inputs) {
            columns.push(Column::new(name.clone(), std::mem::replace(values, Vec::with_capacity(capacity))));
        }
        for ((name, _), values) in self.metric_columns.iter().zip(&mut self.metrics) {
            let values = std::mem::replace(values, Vec::with_capacity(capacity));
            columns.push(float_column(name.clone(), values));
        }
        let frame = DataFrame::new(height, columns)
            .map_err(|source| PathTableError::Write { path: self.path.clone(), source })?;
        if self.frames.as_ref().is_none_or(|frames| frames.send(frame).is_err()) {
            // The encoder only hangs up early when it fails; its error is the one to report.
            self.stop_encoder()?;
            let source = polars_err!(ComputeError: "the Parquet encoder stopped before the last row group");
            return Err(PathTableError::Write { path: self.path.clone(), source });
        }
        self.rows_written += height as u64;
        Ok(())
    }
}

impl Drop for PathTable {
    /// A table abandoned by a failed run still stops its encoder before its directory goes.
    fn drop(&mut self) {
        self.frames = None;
        if let Some(encoder) = self.encoder.take() {
            let _ = encoder.join();
        }
    }
}

/// A metric column; NaN (a path without the metric, such as a cap that never binds) is null.
fn float_column(name: PlSmallStr, values: Vec<f64>) -> Column {
    if values.iter().any(|value| value.is_nan()) {
        Float64Chunked::from_iter_options(name, values.into_iter().map(|value| (!value.is_nan()).then_some(value)))
            .into_column()
    } else {
        Column::new(name, values)
    }
}

impl PathSink for PathTable {
    fn record(&mut self, batch: &PathBatch<'_>) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let input_width = self.inputs.len();
        for i in 0..batch.count {
            self.paths.push(batch.first_path + i as u64);
            let inputs = &batch.inputs[i * input_width..(i + 1) * input_width];
            for (column, value) in self.inputs.iter_mut().zip(inputs) {
                column.push(*value);
            }
            let metrics = &batch.metrics[i * self.metric_width..(i + 1) * self.metric_width];
            for (column, (_, slot)) in self.metrics.iter_mut().zip(&self.metric_columns) {
                column.push(metrics[*slot]);
            }
            if self.paths.len() == self.rows_per_group {
                self.flush()?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{self, RunOptions};
    use crate::scenario::parse_scenario;

    #[test]
    fn writes_a_row_group_each_time_the_buffer_fills() {
        let scenario = parse_scenario("base.toml", include_str!("../../scenarios/base.toml"), &[]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("paths.parquet");
        let mut table = PathTable::create(&file, &scenario).unwrap();
        table.rows_per_group = 1_000;
        let options =
            RunOptions { paths: 2_500, seed: 3, threads: 2, baseline: 0, target_relative_se: None, shard: None };
        engine::run_recording(&scenario, options, &|_| {}, &mut table).unwrap();
        assert_eq!(table.finish().unwrap(), 2_500);
        let mut reader = ParquetReader::new(File::open(&file).unwrap());
        let heights: Vec<usize> = reader.get_metadata().unwrap().row_groups.iter().map(|g| g.num_rows()).collect();
        assert_eq!(heights, [1_000, 1_000, 500]);
    }
}
