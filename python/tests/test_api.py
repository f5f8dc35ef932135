"""dealsim from Python: runs of the shipped scenarios, their tables as polars data frames, the
paths, the workbook, and errors that name where a scenario is wrong."""

import os
import pathlib
import subprocess

import polars as pl
import pytest

import dealsim

SCENARIOS = pathlib.Path(__file__).resolve().parents[2] / "scenarios"
CAP = "deals.apr-2026.revenue_shares.openai-to-microsoft.cap"


@pytest.fixture(scope="module")
def base():
    return dealsim.run(SCENARIOS / "base.toml", paths=2000, seed=7, threads=2)


@pytest.fixture(scope="module")
def structures():
    return dealsim.run(SCENARIOS / "deal-structures.toml", paths=2000, sensitivity=False)


def mean(result, deal, metric):
    rows = result.summary.filter((pl.col("deal") == deal) & (pl.col("metric") == metric))
    assert rows.height == 1, (deal, metric)
    return rows["mean"][0]


def test_tables_are_data_frames_with_the_csv_columns(base):
    assert base.summary.columns == [
        "deal", "metric", "count", "mean", "std", "std_error",
        "p05", "p25", "p50", "p75", "p95", "min", "max",
    ]
    assert base.summary["count"].to_list()[0] == 2000
    assert set(base.timeseries.columns) >= {"deal", "series", "period", "year", "mean", "p05", "p95"}
    assert base.sensitivity.height > 0
    assert base.comparison is None, "one deal: nothing to compare"
    assert base.conditional is not None and base.conditional.height > 0


def test_the_tornado_runs_at_the_paths_asked_and_gives_each_swing_its_error():
    small = dealsim.run(SCENARIOS / "base.toml", paths=2000, seed=7, sensitivity_paths=256, keep_paths=False)
    assert "swing_se" in small.sensitivity.columns
    assert (small.sensitivity["swing_se"] >= 0).all()
    # The same tornado as the command line's at that path count, row for row.
    again = dealsim.run(SCENARIOS / "base.toml", paths=256, seed=7, keep_paths=False)
    assert small.sensitivity.equals(again.sensitivity)


def test_a_run_is_reproducible_and_independent_of_threads(base):
    again = dealsim.run(SCENARIOS / "base.toml", paths=2000, seed=7, threads=1, sensitivity=False)
    assert again.summary.equals(base.summary)
    assert again.sensitivity is None


def test_set_overrides_by_key_path(base):
    capped = dealsim.run(SCENARIOS / "base.toml", paths=2000, seed=7, set={CAP: "1B"}, sensitivity=False,
                         keep_paths=False)
    paid = "revenue_share.openai-to-microsoft.paid"
    assert mean(capped, "apr-2026", paid) <= 1e9 * (1 + 1e-9)
    assert mean(capped, "apr-2026", paid) < mean(base, "apr-2026", paid)


def test_comparison_against_a_chosen_baseline(structures):
    assert structures.comparison is not None
    assert set(structures.comparison["baseline"]) == {"apr-2026"}
    assert structures.sensitivity is None
    other = dealsim.run(SCENARIOS / "deal-structures.toml", paths=500, baseline="oct-2025", sensitivity=False,
                        keep_paths=False)
    assert set(other.comparison["baseline"]) == {"oct-2025"}
    with pytest.raises(ValueError, match="no such deal"):
        dealsim.run(SCENARIOS / "deal-structures.toml", paths=10, baseline="nope", keep_paths=False)


def test_paths_are_a_lazy_frame_of_every_path(base):
    paths = base.paths()
    assert isinstance(paths, pl.LazyFrame)
    frame = paths.collect()
    assert frame.height == 2000
    npv = "apr-2026:party.microsoft.npv"
    assert abs(frame[npv].mean() - mean(base, "apr-2026", "party.microsoft.npv")) <= 1e-6 * abs(frame[npv].mean())


def test_no_kept_paths_says_so():
    result = dealsim.run(SCENARIOS / "base.toml", paths=100, sensitivity=False, keep_paths=False)
    with pytest.raises(dealsim.RunError, match="keep_paths"):
        result.paths()


def test_the_summary_matches_the_command_line(tmp_path, base):
    binary = os.environ.get("DEALSIM_BINARY")
    if not binary:
        pytest.skip("DEALSIM_BINARY does not name the command-line binary")
    subprocess.run([binary, "run", SCENARIOS / "base.toml", "--paths", "2000", "--seed", "7", "--no-charts",
                    "--no-sensitivity", "--out", tmp_path / "out"], check=True, capture_output=True)
    from_cli = pl.read_csv(tmp_path / "out" / "summary.csv")
    assert from_cli.equals(base.summary)


def test_the_workbook_is_written(tmp_path, base):
    target = tmp_path / "report.xlsx"
    base.save_workbook(target)
    assert target.read_bytes()[:2] == b"PK"


def test_errors_name_the_file_position_and_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text((SCENARIOS / "base.toml").read_text().replace("[simulation]", "[simulation]\nseeed = 3", 1))
    with pytest.raises(dealsim.ScenarioError) as raised:
        dealsim.run(bad, paths=10)
    message = str(raised.value)
    assert f"{bad}:" in message
    assert "simulation.seeed" in message
    line = message.split(f"{bad}:")[1].split(":")[0]
    assert line.isdigit()


def test_a_bad_override_names_its_key():
    with pytest.raises(dealsim.ScenarioError, match=CAP.replace(".", r"\.")):
        dealsim.run(SCENARIOS / "base.toml", paths=10, set={CAP: "lots"})
    with pytest.raises(dealsim.ScenarioError, match="cannot read"):
        dealsim.run(SCENARIOS / "missing.toml", paths=10)


def test_compare_runs_two_files_on_one_world(tmp_path, base):
    text = (SCENARIOS / "base.toml").read_text()
    fixed = text.replace('name = "apr-2026"', 'name = "cap-50b"', 1).replace(
        'cap = { dist = "pert", low = "30B", mode = "38B", high = "50B" }', 'cap = "50B"', 1)
    assert 'cap = "50B"' in fixed
    second = tmp_path / "cap50.toml"
    second.write_text(fixed)
    both = dealsim.compare(SCENARIOS / "base.toml", second, paths=2000, seed=7, sensitivity=False)
    assert set(both.comparison["deal"]) == {"cap-50b"}
    assert set(both.comparison["baseline"]) == {"apr-2026"}
    # The first file's deal sees the draws it sees when run alone.
    alone = both.summary.filter(pl.col("deal") == "apr-2026")
    assert alone.equals(base.summary)
    assert "cap-50b:party.microsoft.npv" in both.paths().collect_schema().names()


def test_compare_runs_each_file_on_its_own_world(tmp_path):
    other = tmp_path / "other.toml"
    other.write_text((SCENARIOS / "base.toml").read_text().replace("volatility = {", "volatility = 0.25 # {", 1))
    both = dealsim.compare(SCENARIOS / "base.toml", other, paths=500, seed=3, sensitivity=False, keep_paths=False)
    for file, deal in [(SCENARIOS / "base.toml", "apr-2026"), (other, "other/apr-2026")]:
        alone = dealsim.run(file, paths=500, seed=3, sensitivity=False, keep_paths=False)
        mine = both.summary.filter(pl.col("deal") == deal).drop("deal")
        assert mine.equals(alone.summary.drop("deal")), deal
    revenue = both.comparison.filter(pl.col("metric") == "stream.openai.revenue")
    assert revenue["std_error"][0] < revenue["unpaired_std_error"][0]


def test_compare_refuses_other_parties(tmp_path):
    other = tmp_path / "other.toml"
    other.write_text((SCENARIOS / "base.toml").read_text() + "\n[parties.newcomer]\n")
    with pytest.raises(dealsim.ScenarioError, match="the parties differ"):
        dealsim.compare(SCENARIOS / "base.toml", other, paths=100)


def test_target_probabilities():
    result = dealsim.run(SCENARIOS / "base.toml", paths=2000, seed=7, sensitivity=False, keep_paths=False,
                         prob=["party.openai.npv < 0", "apr-2026:revenue_share.openai-to-microsoft.paid > 40B"])
    table = result.probabilities
    assert table["metric"].to_list() == ["party.openai.npv", "revenue_share.openai-to-microsoft.paid"]
    assert table["side"].to_list() == ["<", ">"]
    assert all(0.0 <= low <= p <= high <= 1.0 for low, p, high in zip(table["low"], table["probability"], table["high"]))
    assert dealsim.run(SCENARIOS / "base.toml", paths=200, sensitivity=False, keep_paths=False).probabilities is None
    with pytest.raises(dealsim.ScenarioError, match="no such metric"):
        dealsim.run(SCENARIOS / "base.toml", paths=200, prob=["party.nobody.npv < 0"])
