#!/usr/bin/env python3
"""A vectorized numpy implementation of `dealsim run scenarios/base.toml`, for benchmarking.

It computes the same model as dealsim on the same scenario (the world and its one deal
`apr-2026`), written the way a careful notebook would: every quantity is an array of shape
(paths,) or (paths, periods), and only what is sequential in time loops over periods (the
revenue-share cap). Its outputs are the ones dealsim computes from the simulation: for every
scalar metric of summary.csv the count, mean, std, standard error, p05/p25/p50/p75/p95, min and
max, and for every series of timeseries.csv the per-period mean and percentiles (fan charts).

The scenario's figures are written out below (SCENARIO), each next to the key of
scenarios/base.toml it comes from; the model follows docs/scenario-format.md ("Semantics") and
src/sampling/world.rs, src/terms/*.rs. Random numbers come from numpy's own generator, not from
dealsim's keyed streams, so the two agree statistically, not path by path: `--check DIR` compares
the means with dealsim's summary.csv in units of the combined standard error.

    python3 benches/numpy_reference.py --paths 100000 [--seed S] [--no-series] [--check DIR]

See benches/numpy_reference.md for what it omits and for measured timings.
"""

import argparse
import csv
import math
import os
import resource
import sys
import time

import numpy as np
from scipy import special, stats

# --------------------------------------------------------------------------------------------
# The scenario: scenarios/base.toml, key by key.
# --------------------------------------------------------------------------------------------
START_YEAR = 2026          # simulation.start
YEARS = 10                 # simulation.years
STEPS = 4                  # simulation.steps_per_year
PERIODS = YEARS * STEPS
DT = 1.0 / STEPS
DEFAULT_SEED = 20260427    # simulation.seed

PARTIES = ["openai", "microsoft", "amazon", "others"]
DISCOUNT = {"openai": 0.12, "microsoft": 0.083, "amazon": 0.095, "others": 0.09}


def pert(low, mode, high):
    """A PERT distribution (beta with lambda = 4 on [low, high]) as (alpha, beta, low, high)."""
    width = high - low
    return (1.0 + 4.0 * (mode - low) / width, 1.0 + 4.0 * (high - mode) / width, low, high)


B = 1e9
SCENARIO = {
    "initial_cash": pert(60 * B, 72 * B, 90 * B),          # parties.openai.initial_cash
    "other_costs": (0.30, pert(0.18, 0.25, 0.35), 3.0),    # parties.openai.other_costs
    "initial": pert(20.5 * B, 22 * B, 24 * B),             # streams.openai.initial
    "growth": (pert(0.30, 0.70, 1.30), pert(0.05, 0.12, 0.22), 3.0),  # streams.openai.growth
    "volatility": (0.30, 0.15, 3.0),                       # streams.openai.volatility
    "jump_rate": 0.10,                                     # streams.openai.jumps.rate
    "jump_size": (-0.40, -0.10),                           # streams.openai.jumps.size (uniform)
    "channels": [                                          # streams.openai.channels: start, end, half-life
        ("chatgpt", 0.58, pert(0.35, 0.45, 0.55), 3.0),
        ("api", 0.42, pert(0.35, 0.45, 0.55), 3.0),
        ("frontier_aws", 0.0, pert(0.03, 0.10, 0.25), 2.0),
    ],
    "cost_ratio": (1.4, ("uniform", 0.45, 0.75), 3.0),     # compute.cost_ratio
    "providers": [                                         # compute.providers: owner, margin, share
        ("azure", "microsoft", pert(0.25, 0.40, 0.50), (0.65, ("uniform", 0.25, 0.45), 3.0)),
        ("aws", "amazon", pert(0.25, 0.35, 0.40), (0.05, pert(0.08, 0.15, 0.25), 2.0)),
        ("others", "others", pert(0.10, 0.20, 0.35), (0.30, pert(0.35, 0.45, 0.55), 3.0)),
    ],
    "multiple": (35.0, pert(8, 15, 30), 3.0),              # valuation.multiple
    # events: hazard rate, first and last period of the window
    "ipo": (pert(0.15, 0.5, 1.2), 1, 11),                  # from 2026-Q2 through 2028
    "agi": (pert(0.0, 0.02, 0.10), 0, PERIODS - 1),        # whole horizon
    # correlations (Spearman rank) between growth.start and multiple.end / ipo.annual_rate
    "rank_growth_multiple": 0.5,
    "rank_growth_ipo": 0.3,
    # deal apr-2026
    "equity_microsoft": 0.27,
    "rs_rate": 0.20, "rs_first": 0, "rs_last": 19,         # 20% from 2026 through 2030
    "rs_cap": pert(30 * B, 38 * B, 50 * B),
    "rs_paid_before": ([0.0, 2e9, 3.7e9], [0.5, 0.25, 0.25]),
    "azure_total": 250 * B,
    "azure_years": ([5.0, 6.0, 7.0, 8.0], [0.2, 0.3, 0.3, 0.2]),
    "azure_top": pert(0.25, 0.75, 1.0),
    "aws_total": ([100e9, 138e9], [0.2, 0.8]),
    "aws_last": 31,                                        # through 2033
    "aws_top": pert(0.25, 0.75, 1.0),
    "tranche1": (15 * B, 0),                               # $15B in 2026-Q1
    "tranche2": (35 * B, 11),                              # $35B on ipo by 2028
}

T = np.arange(PERIODS + 1) * DT  # t_k, k = 0..PERIODS


def trajectory(start, end, half_life, first=0):
    """x(t) = end + (start - end) 2^(-t/half_life) at t_first .. t_{first+PERIODS-1}: shape
    (paths, PERIODS) when start or end is per path, else (PERIODS,)."""
    decay = 2.0 ** (-T[first:first + PERIODS] / half_life)
    start = np.asarray(start, dtype=float)
    end = np.asarray(end, dtype=float)
    if start.ndim == 0 and end.ndim == 0:
        return end + (start - end) * decay
    return end[..., None] + (start - end)[..., None] * decay


# --------------------------------------------------------------------------------------------
# (a) Drawing every random number of every path.
# --------------------------------------------------------------------------------------------
def draw(n, seed):
    rng = np.random.default_rng(seed)

    def pert_draw(spec):
        a, b, low, high = spec
        return low + (high - low) * rng.beta(a, b, n)

    def pert_quantile(spec, u):
        a, b, low, high = spec
        return low + (high - low) * stats.beta.ppf(u, a, b)

    def value(spec):
        if spec[0] == "uniform":
            return rng.uniform(spec[1], spec[2], n)
        return pert_draw(spec)

    def discrete(values, weights):
        return np.asarray(values)[np.searchsorted(np.cumsum(weights), rng.random(n), side="right").clip(max=len(values) - 1)]

    d = {}
    # The correlated inputs: a Gaussian copula with rho = 2 sin(pi rank / 6), then each input's
    # quantile function of its uniform.
    rho_gm = 2.0 * math.sin(math.pi * SCENARIO["rank_growth_multiple"] / 6.0)
    rho_gi = 2.0 * math.sin(math.pi * SCENARIO["rank_growth_ipo"] / 6.0)
    corr = np.array([[1.0, rho_gm, rho_gi], [rho_gm, 1.0, 0.0], [rho_gi, 0.0, 1.0]])
    scores = rng.standard_normal((n, 3)) @ np.linalg.cholesky(corr).T
    u = special.ndtr(scores)
    d["growth_start"] = pert_quantile(SCENARIO["growth"][0], u[:, 0])
    d["multiple_end"] = pert_quantile(SCENARIO["multiple"][1], u[:, 1])
    d["ipo_rate"] = pert_quantile(SCENARIO["ipo"][0], u[:, 2])
    # Independent inputs.
    d["initial_cash"] = pert_draw(SCENARIO["initial_cash"])
    d["other_costs_end"] = pert_draw(SCENARIO["other_costs"][1])
    d["initial"] = pert_draw(SCENARIO["initial"])
    d["growth_end"] = pert_draw(SCENARIO["growth"][1])
    d["channel_end"] = [pert_draw(end) for _, _, end, _ in SCENARIO["channels"]]
    d["cost_ratio_end"] = value(SCENARIO["cost_ratio"][1])
    d["margin"] = [pert_draw(margin) for _, _, margin, _ in SCENARIO["providers"]]
    d["provider_share_end"] = [value(share[1]) for _, _, _, share in SCENARIO["providers"]]
    d["agi_rate"] = pert_draw(SCENARIO["agi"][0])
    d["rs_cap"] = pert_draw(SCENARIO["rs_cap"])
    d["rs_paid_before"] = discrete(*SCENARIO["rs_paid_before"])
    d["azure_top"] = pert_draw(SCENARIO["azure_top"])
    d["azure_years"] = discrete(*SCENARIO["azure_years"])
    d["aws_total"] = discrete(*SCENARIO["aws_total"])
    d["aws_top"] = pert_draw(SCENARIO["aws_top"])
    # Events: the exponential waiting time (in rate-years) from each window's start.
    d["ipo_wait"] = rng.standard_exponential(n)
    d["agi_wait"] = rng.standard_exponential(n)
    # The stream: a normal shock per period and the sum of a Poisson number of jump sizes.
    d["shocks"] = rng.standard_normal((n, PERIODS))
    counts = rng.poisson(SCENARIO["jump_rate"] * DT, (n, PERIODS))
    flat = counts.ravel()
    sizes = rng.uniform(*SCENARIO["jump_size"], int(flat.sum()))
    cells = np.repeat(np.arange(flat.size), flat)
    d["jumps"] = np.bincount(cells, weights=sizes, minlength=flat.size).reshape(n, PERIODS)
    return d


# --------------------------------------------------------------------------------------------
# (b) Simulating the world and applying the deal.
# --------------------------------------------------------------------------------------------
def hazard_period(wait, rate, first, last):
    """The period a hazard event occurs in (-1 where it does not): waiting time wait/rate years
    from the window's first period, inside the window."""
    with np.errstate(divide="ignore", invalid="ignore"):
        offset = wait / rate / DT
    occurs = (rate > 0) & (offset < last - first + 1)
    return np.where(occurs, first + np.floor(np.where(occurs, offset, 0)).astype(np.int64), -1)


def simulate(d, n):
    m = {}   # scalar metrics, in summary.csv's order
    s = {}   # series, in timeseries.csv's order
    # Stream: ln R_{k+1} = ln R_k + (ln(1+g_k) - sigma_k^2/2) dt + sigma_k sqrt(dt) Z_k + J_k.
    growth = trajectory(d["growth_start"], d["growth_end"], SCENARIO["growth"][2])
    sigma = trajectory(*SCENARIO["volatility"])
    step = (np.log1p(growth) - 0.5 * sigma**2) * DT + sigma * math.sqrt(DT) * d["shocks"] + d["jumps"]
    run_rate = np.exp(np.log(d["initial"])[:, None] + np.cumsum(step, axis=1))
    revenue = run_rate * DT

    # Channels: shares at t_k, normalized each period. The revenue share's base and the compute
    # bill are both over all channels.
    channel_shares = np.stack([trajectory(start, end, hl) for (_, start, _, hl), end
                               in zip(SCENARIO["channels"], d["channel_end"])])
    channel_shares /= channel_shares.sum(axis=0)
    channel_revenue = revenue[None] * channel_shares
    base_revenue = channel_revenue.sum(axis=0)

    # Compute: spend = cost ratio x revenue, split by normalized provider shares; owners earn margin.
    cost_ratio = trajectory(SCENARIO["cost_ratio"][0], d["cost_ratio_end"], SCENARIO["cost_ratio"][2])
    bill = cost_ratio * base_revenue
    provider_shares = np.stack([trajectory(share[0], end, share[2]) for (_, _, _, share), end
                                in zip(SCENARIO["providers"], d["provider_share_end"])])
    provider_shares /= provider_shares.sum(axis=0)
    spend = bill[None] * provider_shares                       # (providers, n, PERIODS)
    profit = spend * np.stack(d["margin"])[:, :, None]

    # Valuation at each period's end: multiple(t_{k+1}) x R_{k+1}.
    multiple = trajectory(SCENARIO["multiple"][0], d["multiple_end"], SCENARIO["multiple"][2], first=1)
    valuation = multiple * run_rate
    end_value = valuation[:, -1]

    # Parties' flows before the deal.
    other_costs = trajectory(SCENARIO["other_costs"][0], d["other_costs_end"], SCENARIO["other_costs"][2])
    flow = {p: np.zeros((n, PERIODS)) for p in PARTIES}
    flow["openai"] = revenue * (1.0 - other_costs) - spend.sum(axis=0)
    cloud_profit = {p: np.zeros(n) for p in PARTIES}
    for (name, owner, _, _), provider_profit in zip(SCENARIO["providers"], profit):
        flow[owner] = flow[owner] + provider_profit
        cloud_profit[owner] = cloud_profit[owner] + provider_profit.sum(axis=1)

    # Events.
    ipo = hazard_period(d["ipo_wait"], d["ipo_rate"], SCENARIO["ipo"][1], SCENARIO["ipo"][2])
    agi = hazard_period(d["agi_wait"], d["agi_rate"], SCENARIO["agi"][1], SCENARIO["agi"][2])

    # World metrics and series.
    m["stream.openai.revenue"] = revenue.sum(axis=1)
    m["stream.openai.run_rate_final"] = run_rate[:, -1]
    s["stream.openai.run_rate"] = run_rate
    s["stream.openai.revenue"] = revenue
    for name, period in (("ipo", ipo), ("agi", agi)):
        m[f"event.{name}.occurred"] = (period >= 0).astype(float)
        m[f"event.{name}.year"] = np.where(period >= 0, START_YEAR + (period + 1) * DT, np.nan)
    s["valuation.value"] = valuation

    # Revenue share: pay = min(rate x base, cap - paid so far), paid so far from paid_before.
    # Sequential in time: loop over the periods of the term.
    room = d["rs_cap"] - d["rs_paid_before"]
    paid = np.zeros(n)
    hit = room <= 0
    hit_year = np.where(hit, float(START_YEAR), np.nan)
    paid_cumulative = np.zeros((n, PERIODS))
    rs_pay = np.zeros((n, PERIODS))
    for k in range(PERIODS):
        if SCENARIO["rs_first"] <= k <= SCENARIO["rs_last"]:
            due = SCENARIO["rs_rate"] * base_revenue[:, k]
            reaches = ~hit & (paid + due >= room)
            pay = np.where(hit, 0.0, np.where(reaches, room - paid, due))
            paid = np.where(reaches, room, paid + pay)
            hit_year = np.where(reaches, START_YEAR + (k + 1) * DT, hit_year)
            hit = hit | reaches
            rs_pay[:, k] = pay
        paid_cumulative[:, k] = paid
    flow["openai"] = flow["openai"] - rs_pay
    flow["microsoft"] = flow["microsoft"] + rs_pay
    m["revenue_share.openai-to-microsoft.paid"] = paid
    m["revenue_share.openai-to-microsoft.cap_hit"] = hit.astype(float)
    m["revenue_share.openai-to-microsoft.cap_hit_year"] = hit_year
    s["revenue_share.openai-to-microsoft.paid_cumulative"] = paid_cumulative

    # Commitments: spend with the provider in the window; take-or-pay on the shortfall, paid to
    # the provider's owner in the window's last period (and counted in its cloud profit).
    periods = np.arange(PERIODS)
    rows = np.arange(n)
    azure_last = (np.maximum(np.round(d["azure_years"] * STEPS), 1.0)).astype(np.int64) - 1
    commitments = [
        ("azure-250b", 0, "microsoft", np.full(n, SCENARIO["azure_total"]), azure_last, d["azure_top"]),
        ("aws-138b", 1, "amazon", d["aws_total"], np.full(n, SCENARIO["aws_last"]), d["aws_top"]),
    ]
    commitment_series = {}
    for name, provider, owner, total, last, take_or_pay in commitments:
        counted = np.where(periods[None, :] <= last[:, None], spend[provider], 0.0)
        cumulative = np.cumsum(counted, axis=1)
        counted_spend = cumulative[:, -1]
        shortfall = np.maximum(total - counted_spend, 0.0)
        penalty = take_or_pay * shortfall
        flow["openai"][rows, last] -= penalty
        flow[owner][rows, last] += penalty
        cloud_profit[owner] = cloud_profit[owner] + penalty
        m[f"commitment.{name}.spend"] = counted_spend
        m[f"commitment.{name}.shortfall"] = shortfall
        m[f"commitment.{name}.penalty"] = penalty
        m[f"commitment.{name}.met"] = (counted_spend >= total).astype(float)
        commitment_series[f"commitment.{name}.spend_cumulative"] = cumulative

    # Investment: a tranche A in period k buys A / (V_k + A) and dilutes every stake by
    # V_k / (V_k + A). $15B in period 0 always; $35B in the IPO's period if by 2028-Q4.
    amount1, period1 = SCENARIO["tranche1"]
    amount2, last2 = SCENARIO["tranche2"]
    second = (ipo >= 0) & (ipo <= last2)
    period2 = np.where(second, ipo, PERIODS)          # PERIODS: never
    post1 = valuation[:, period1] + amount1
    dilution1 = valuation[:, period1] / post1
    pre2 = valuation[rows, np.minimum(period2, PERIODS - 1)]
    post2 = pre2 + amount2
    dilution2 = np.where(second, pre2 / post2, 1.0)
    bought2 = np.where(second, amount2 / post2, 0.0)
    after1 = periods[None, :] >= period1
    after2 = periods[None, :] >= period2[:, None]
    microsoft_stake = SCENARIO["equity_microsoft"] * np.where(after1, dilution1[:, None], 1.0) \
        * np.where(after2, dilution2[:, None], 1.0)
    amazon_stake = np.where(after1, (amount1 / post1)[:, None], 0.0) * np.where(after2, dilution2[:, None], 1.0) \
        + np.where(after2, bought2[:, None], 0.0)
    invested = np.zeros((n, PERIODS))
    invested[:, period1] += amount1
    invested[rows[second], period2[second]] += amount2
    flow["amazon"] = flow["amazon"] - invested
    flow["openai"] = flow["openai"] + invested
    investment_paid = amount1 + np.where(second, amount2, 0.0)
    m["investment.amazon-50b.paid"] = investment_paid
    m["investment.amazon-50b.stake"] = amazon_stake[:, -1]
    m["investment.amazon-50b.value"] = amazon_stake[:, -1] * end_value
    m["investment.amazon-50b.multiple"] = amazon_stake[:, -1] * end_value / investment_paid
    stake = {"microsoft": microsoft_stake, "amazon": amazon_stake}

    # Parties: NPV (flows discounted at (1+r)^-((k+1)dt), plus the stake's value at the horizon
    # discounted at (1+r)^-years), cash and its minimum for the party with initial cash.
    revenue_share_net = {"openai": -paid, "microsoft": paid, "amazon": np.zeros(n), "others": np.zeros(n)}
    for p in PARTIES:
        rate = DISCOUNT[p]
        factors = (1.0 + rate) ** (-(periods + 1) * DT)
        equity_value = stake[p][:, -1] * end_value if p in stake else np.zeros(n)
        m[f"party.{p}.npv"] = flow[p] @ factors + equity_value * (1.0 + rate) ** -YEARS
        m[f"party.{p}.cloud_profit"] = cloud_profit[p]
        m[f"party.{p}.revenue_share_net"] = revenue_share_net[p]
        if p in stake:
            m[f"party.{p}.equity_value"] = equity_value
            m[f"party.{p}.stake"] = stake[p][:, -1]
        s[f"party.{p}.cash_flow"] = flow[p]
        if p == "openai":
            cash = d["initial_cash"][:, None] + np.cumsum(flow[p], axis=1)
            min_cash = np.minimum(d["initial_cash"], cash.min(axis=1))
            m["party.openai.min_cash"] = min_cash
            m["party.openai.funding_gap"] = np.maximum(-min_cash, 0.0)
            s["party.openai.cash"] = cash
        if p in stake:
            s[f"party.{p}.stake"] = stake[p]
    s.update(commitment_series)
    for (name, _, _, _), provider_spend in zip(SCENARIO["providers"], spend):
        s[f"compute.{name}.spend"] = provider_spend
    return m, s


# --------------------------------------------------------------------------------------------
# (c) Summary statistics and per-period percentiles.
# --------------------------------------------------------------------------------------------
QUANTILES = [5, 25, 50, 75, 95]


def summarize(metrics):
    """Per metric: count, mean, std (n-1), std_error, p05..p95, min, max over the paths that
    have a value (conditional metrics are NaN elsewhere)."""
    rows = {}
    for name, values in metrics.items():
        if np.isnan(values).any():
            values = values[~np.isnan(values)]
        count = values.size
        mean = values.mean()
        std = values.std(ddof=1)
        percentiles = np.percentile(values, QUANTILES, method="nearest")
        rows[name] = dict(count=count, mean=mean, std=std, std_error=std / math.sqrt(count),
                          **{f"p{q:02d}": v for q, v in zip(QUANTILES, percentiles)},
                          min=values.min(), max=values.max())
    return rows


def fan_charts(series):
    """Per series and period: the mean and p05..p95 across paths (timeseries.csv's columns)."""
    out = {}
    for name, values in series.items():
        out[name] = dict(mean=values.mean(axis=0),
                         percentiles=np.percentile(values, QUANTILES, axis=0, method="nearest"))
    return out


# --------------------------------------------------------------------------------------------
# --check: agreement with dealsim's summary.csv (and timeseries.csv, if present).
# --------------------------------------------------------------------------------------------
def check(directory, summary, fans, series, n):
    with open(os.path.join(directory, "summary.csv"), newline="") as f:
        theirs = {row["metric"]: row for row in csv.DictReader(f)}
    print(f"\nagreement with {directory}/summary.csv (z = difference / sqrt(se_dealsim^2 + se_numpy^2))")
    print(f"{'metric':50} {'dealsim mean':>17} {'numpy mean':>17} {'z':>7}")
    worst, flagged = 0.0, []
    for name, ours in summary.items():
        if name not in theirs:
            print(f"{name:50} {'(not in dealsim output)':>17}")
            continue
        mean_d, se_d = float(theirs[name]["mean"]), float(theirs[name]["std_error"])
        se = math.hypot(se_d, ours["std_error"])
        diff = ours["mean"] - mean_d
        if se > 0:
            z = diff / se
        else:   # a constant on both sides (cloud profit of a party that sells no compute)
            z = 0.0 if abs(diff) <= 1e-9 * max(1.0, abs(mean_d)) else math.inf
        worst = max(worst, abs(z))
        flag = "  <-- |z| > 4" if abs(z) > 4 else ""
        if flag:
            flagged.append(name)
        print(f"{name:50} {mean_d:17.6g} {ours['mean']:17.6g} {z:7.2f}{flag}")
    missing = [name for name in theirs if name not in summary]
    print(f"{len(summary)} metrics compared, worst |z| = {worst:.2f}, {len(flagged)} with |z| > 4"
          + (f": {', '.join(flagged)}" if flagged else ""))
    if missing:
        print(f"dealsim metrics not computed here: {', '.join(missing)}")
    timeseries = os.path.join(directory, "timeseries.csv")
    if fans is None or not os.path.exists(timeseries):
        return
    # Series: dealsim writes per-period means but no standard errors; the check takes the
    # per-period std of this run for both sides (se = std x sqrt(1/n + 1/n_dealsim)).
    n_dealsim = float(next(iter(theirs.values()))["count"])
    their_means = {}
    with open(timeseries, newline="") as f:
        for row in csv.DictReader(f):
            their_means.setdefault(row["series"], []).append(float(row["mean"]))
    print(f"\nper-period means against {timeseries} (worst |z| over the {PERIODS} periods)")
    series_worst = 0.0
    for name, fan in fans.items():
        if name not in their_means:
            print(f"{name:50} (not in dealsim output)")
            continue
        theirs_k = np.array(their_means[name])
        se = series[name].std(axis=0, ddof=1) * math.sqrt(1.0 / n + 1.0 / n_dealsim)
        diff = fan["mean"] - theirs_k
        z = np.where(se > 0, diff / np.where(se > 0, se, 1.0), np.where(np.abs(diff) <= 1e-9 * np.abs(theirs_k), 0.0, np.inf))
        k = int(np.argmax(np.abs(z)))
        series_worst = max(series_worst, abs(z[k]))
        flag = "  <-- |z| > 4" if abs(z[k]) > 4 else ""
        print(f"{name:50} worst z {z[k]:7.2f} in period {k}{flag}")
    print(f"{len(fans)} series compared, worst |z| = {series_worst:.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paths", type=int, required=True)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--no-series", action="store_true", help="skip the per-period percentiles")
    parser.add_argument("--check", metavar="DIR", help="compare means with DIR/summary.csv written by dealsim")
    args = parser.parse_args()
    n = args.paths

    t0 = time.perf_counter()
    draws = draw(n, args.seed)
    t1 = time.perf_counter()
    metrics, series = simulate(draws, n)
    t2 = time.perf_counter()
    summary = summarize(metrics)
    fans = None if args.no_series else fan_charts(series)
    t3 = time.perf_counter()

    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    print(f"numpy reference: {n} paths, seed {args.seed}, {PERIODS} periods, "
          f"{len(metrics)} metrics, {0 if fans is None else len(fans)} series")
    label = "(c) statistics + fan charts" if fans is not None else "(c) statistics (no series)"
    for what, seconds in (("(a) draw random numbers", t1 - t0), ("(b) simulate", t2 - t1), (label, t3 - t2),
                          ("total", t3 - t0)):
        print(f"  {what:28}{seconds:8.3f} s")
    print(f"  {'throughput':28}{n / (t3 - t0):8,.0f} paths/s")
    print(f"  {'peak memory (ru_maxrss)':28}{peak_mib:8.0f} MiB")
    if args.check:
        check(args.check, summary, fans, series, n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
