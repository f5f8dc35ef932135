"""Monte Carlo simulation of the financial terms of cloud and AI deals, from Python.

>>> import dealsim
>>> r = dealsim.run("scenarios/base.toml", paths=100_000,
...                 set={"deals.apr-2026.revenue_shares.openai-to-microsoft.cap": "50B"})
>>> r.summary            # summary.csv as a polars DataFrame
>>> r.paths()            # every path's inputs and metrics, as a polars LazyFrame

The tables are those the command line writes (summary.csv, timeseries.csv, comparison.csv,
conditional.csv, sensitivity.csv), with the same columns; docs/ in the repository describes them.
"""

from __future__ import annotations

import io
import os
import tempfile
from typing import Mapping, Sequence

import polars as pl

from dealsim._dealsim import RunError, ScenarioError
from dealsim._dealsim import compare as _compare
from dealsim._dealsim import run as _run

__all__ = ["Result", "RunError", "ScenarioError", "compare", "run"]


def _set_value(value: object) -> str:
    """A --set value as the command line takes it: TOML, or a bare word such as 50B or 20%."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Result:
    """The results of one run: its tables as polars DataFrames, and its paths on demand.

    `comparison` and `conditional` are None when the run has no such table (one deal; no
    events), and `sensitivity` when it was not computed (`sensitivity=False`, or no uncertain
    inputs).
    """

    def __init__(self, files: Mapping[str, bytes], directory: tempfile.TemporaryDirectory | None):
        self._files = dict(files)
        # Holds paths.parquet; removed when the result is garbage-collected.
        self._directory = directory

    def _table(self, name: str) -> pl.DataFrame | None:
        data = self._files.get(name)
        return None if data is None else pl.read_csv(io.BytesIO(data))

    @property
    def summary(self) -> pl.DataFrame:
        """Per deal and metric: count, mean, std, std_error, p05…p95, min, max."""
        return self._table("summary.csv")

    @property
    def timeseries(self) -> pl.DataFrame:
        """Per deal, series and period: mean and p05…p95."""
        return self._table("timeseries.csv")

    @property
    def comparison(self) -> pl.DataFrame | None:
        """Each deal against the baseline, path by path: mean difference, its error, P(> 0)."""
        return self._table("comparison.csv")

    @property
    def conditional(self) -> pl.DataFrame | None:
        """Each deal's key metrics given each event (or outcome) occurred, or did not."""
        return self._table("conditional.csv")

    @property
    def probabilities(self) -> pl.DataFrame | None:
        """The target probabilities asked for with `prob`: per deal, the share of paths beyond."""
        return self._table("probabilities.csv")

    @property
    def sensitivity(self) -> pl.DataFrame | None:
        """The tornado: each uncertain input's swing on each deal's NPVs and revenue shares paid."""
        return self._table("sensitivity.csv")

    def paths(self) -> pl.LazyFrame:
        """One row per path: its uncertain inputs and every deal's metrics (`<deal>:<metric>`)."""
        if self._directory is None:
            raise RunError("this run kept no paths: run it with keep_paths=True")
        return pl.scan_parquet(os.path.join(self._directory.name, "paths.parquet"))

    def save_workbook(self, path: str | os.PathLike) -> None:
        """Writes the run's tables as an Excel workbook (what `dealsim run` writes as report.xlsx)."""
        with open(path, "wb") as file:
            file.write(self._files["report.xlsx"])


def run(
    scenario: str | os.PathLike,
    *,
    paths: int | None = None,
    set: Mapping[str, object] | None = None,
    seed: int | None = None,
    threads: int = 0,
    baseline: str | None = None,
    sensitivity: bool = True,
    sensitivity_paths: int = 10_000,
    keep_paths: bool = True,
    prob: Sequence[str] = (),
) -> Result:
    """Runs a scenario file, as `dealsim run` does, and returns its tables.

    paths, seed: override [simulation].paths and .seed. set: values by key path, as --set
    takes them ({"simulation.discount_rate": "10%"}). threads: worker threads, 0 for every core
    (results do not depend on it). baseline: the deal the others are compared with (default:
    the first). sensitivity: compute the tornado (2 short runs per uncertain input), at
    sensitivity_paths paths each (at most the run's); its swing_se column gives each swing's error.
    keep_paths: record every path for `Result.paths()`. prob: target probabilities as --prob
    takes them (["party.openai.npv < 0", "revenue_share.openai-to-microsoft.paid > 40B"]), in
    `Result.probabilities`.

    Raises ScenarioError for an invalid scenario or override (the message names
    file:line:col and the key path), RunError for a run that cannot be carried out.
    """
    return _result(_run, [scenario], set, keep_paths, paths=paths, seed=seed, threads=threads,
                   baseline=baseline, sensitivity=sensitivity, sensitivity_paths=sensitivity_paths,
                   thresholds=list(prob))


def compare(
    first: str | os.PathLike,
    second: str | os.PathLike,
    *,
    paths: int | None = None,
    set: Mapping[str, object] | None = None,
    seed: int | None = None,
    threads: int = 0,
    baseline: str | None = None,
    sensitivity: bool = True,
    sensitivity_paths: int = 10_000,
    keep_paths: bool = True,
    prob: Sequence[str] = (),
) -> Result:
    """Runs the deals of two scenario files side by side, as `dealsim compare` does.

    The first file's deals come first (the first is the default baseline), then the second's,
    renamed `<second file stem>/<deal>` where a name is taken. Where the files' worlds
    (everything but the deals) differ, each file's deals run on that file's own world, both
    sampled from the same random numbers path by path, and the world's metrics are reported
    under each deal. The files must name the same parties. The keywords are those of `run`;
    `set` applies to both files.
    """
    return _result(_compare, [first, second], set, keep_paths, paths=paths, seed=seed, threads=threads,
                   baseline=baseline, sensitivity=sensitivity, sensitivity_paths=sensitivity_paths,
                   thresholds=list(prob))


def _result(native, scenarios, values_by_key, keep_paths, **settings) -> Result:
    """Calls the native run or compare with the overrides as --set texts and, with keep_paths,
    a temporary directory for paths.parquet that the result owns."""
    overrides = [f"{key}={_set_value(value)}" for key, value in (values_by_key or {}).items()]
    directory = tempfile.TemporaryDirectory(prefix="dealsim-") if keep_paths else None
    paths_file = os.path.join(directory.name, "paths.parquet") if directory else None
    files = native(*map(os.fspath, scenarios), overrides=overrides, paths_file=paths_file, **settings)
    return Result(dict(files), directory)
