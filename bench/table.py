"""The benchmark's table: rows as data (Row; run.py's ROWS for the MLP and CNN workloads,
sequence.py's ROWS for the transformer, attention and generate ones) and render(), which turns
a run's results into the table's lines. Every target lives in a row; nothing here decides one.

A row names its workload (the first column), its unit, where gradflow's figure is (result key,
gradflow's thread count), how the peers' figures are read (`peer`, a key of RENDER), what the
target compares (`compare`) and its threshold (`target`):
  peer:    fastest     each peer's lowest median over its thread counts (times)
           highest     each peer's highest median over its thread counts (GFLOP/s, bytes/s)
           speed-up    each peer's 1-thread time over its 2-thread time
           memory      each side's peak RSS
           first step  each side's time to its first step
  compare: each peer/gf     every peer's time over gradflow's >= target[peer]
           best peer/gf     the fastest peer's time over gradflow's >= target (the ratio shown)
           best peer        the same, the target written without the ratio
           sgemm ceiling    gradflow's GFLOP/s >= target x the best 2-thread sgemm measured
           own 1t sgemm     gradflow's GFLOP/s as a share of its own 1-thread sgemm (no target)
           gf/peer          gradflow's figure over the best peer's (no target)
           speed-up         gradflow's 1-thread time over its 2-thread time >= target
           torch/gf         gradflow's figure <= torch's / target (memory), or no target
           none             no target: the row's `note` stands in the target column
"""
import dataclasses

PEER_SIDES = ("torch", "libtorch")


@dataclasses.dataclass(frozen=True)
class Row:
    workload: str
    unit: str
    gradflow: tuple           # (result key, gradflow threads)
    peer: str
    compare: str
    target: object = None     # a ratio, a fraction of the ceiling, a divisor, or one ratio per peer
    scale: float = 1.0        # the drivers' figure (seconds, GFLOP/s, MiB) to `unit`
    epoch_steps: int = 0      # the target also shows an epoch of this many steps
    note: str = ""            # compare "none" and "gf/peer": the target column's text
    flops: float = 0.0        # > 0: the target also shows gradflow's GFLOP/s at this many FLOP a sample
    rounds: str = ""          # sgemm ceiling: where the ceiling keeps this row's round-by-round fractions


def render(res, rows, judge):
    """Lines of (workload, unit, gradflow, torch, libtorch, ratio, target, status), one per row;
    `judge(ok)` gives the status column."""
    return [[row.workload, row.unit, *RENDER[row.peer](res, row, judge)] for row in rows]


def best(side_runs, lower_is_better=True):
    """The better of a side's thread counts: (threads, stats) or None."""
    if not side_runs:
        return None
    pick = min if lower_is_better else max
    t = pick(side_runs, key=lambda k: side_runs[k]["median"])
    return t, side_runs[t]


def fmt(s, scale=1.0, digits=3):
    if s is None:
        return "n/a"
    return f"{s['median'] * scale:.{digits}g} [{s['min'] * scale:.{digits}g}, {s['max'] * scale:.{digits}g}]"


def at(side_best, scale=1.0):
    """A peer's best figure and the thread count that gave it."""
    return fmt(side_best[1], scale) + f" @{side_best[0]}t" if side_best else "n/a"


def round_range(values, form):
    """' (rounds 1.71x-1.93x)': the spread of a ratio taken round by round, where there were rounds."""
    if not values or len(values) < 2:
        return ""
    return f" (rounds {form.format(min(values))}-{form.format(max(values))})"


def time_cells(res, row, judge):
    key, threads = row.gradflow
    w = res["workloads"].get(key, {})
    g = w.get("gradflow", {}).get(threads)  # None: gradflow's side failed
    bests = {side: best(w.get(side)) for side in PEER_SIDES}
    peers = {side: b[1]["median"] for side, b in bests.items() if b}
    ratio = min(peers.values()) / g["median"] if peers and g else None
    if row.compare == "none":
        target, status = row.note, ""
    elif row.compare == "each peer/gf":
        judged = [(side, peers[side] / g["median"], t) for side, t in row.target.items() if side in peers]
        target = ("; ".join(f"{side}/gf {r:.1f}x >= {t:g}x" for side, r, t in judged)
                  or ", ".join(f">={t:g}x {side}" for side, t in row.target.items()))
        status = judge(all(r >= t for _, r, t in judged) if judged else None)
    elif row.compare == "best peer" or not ratio:
        gflops = f"; gf {row.flops * g.get('batch', 32) / g['median'] / 1e9:.0f} GFLOP/s" if row.flops and g else ""
        target, status = f">={row.target:g}x best peer{gflops}", judge(ratio >= row.target if ratio else None)
    else:
        target, status = f"best peer/gf {ratio:.2f}x >= {row.target:g}x", judge(ratio >= row.target)
        if row.epoch_steps:
            target += (f"; epoch ({row.epoch_steps} steps) gf {g['median'] * row.epoch_steps:.1f} s, "
                       f"peer {min(peers.values()) * row.epoch_steps:.1f} s")
    return [fmt(g, row.scale), *(at(bests[side], row.scale) for side in PEER_SIDES),
            f"{ratio:.2f}x" if ratio else "n/a", target, status]


def rate_cells(res, row, judge):
    key, threads = row.gradflow
    w = res["workloads"].get(key, {})
    g = w.get("gradflow", {}).get(threads)
    bests = {side: best(w.get(side), False) for side in PEER_SIDES}
    peers = [at(bests[side], row.scale) for side in PEER_SIDES]
    if row.compare == "gf/peer":
        tb = bests["torch"]
        r = g["median"] / tb[1]["median"] if tb and g else None
        return [fmt(g, row.scale), *peers, f"{r:.2f}x (gf/peer)" if r else "n/a", row.note, ""]
    if row.compare == "own 1t sgemm":
        s1 = res["workloads"]["sgemm"]["gradflow"][1]
        return [fmt(g), *peers, f"{g['median'] / s1['median']:.0%} of {s1['median']:.1f}",
                "(gf's own 1t sgemm; no target)", ""]
    ceiling = res["sgemm_ceiling"]
    frac = g["median"] / ceiling["gflops"]
    return [fmt(g), *peers,
            f"{frac:.0%} of {ceiling['gflops']:.1f}" + round_range(ceiling.get(row.rounds), "{:.0%}"),
            f">={row.target:.0%} of sgemm ({ceiling['source']})", judge(frac >= row.target)]


def speedup_cells(res, row, judge):
    key, (t1, t2) = row.gradflow
    w = res["workloads"][key]
    g1, g2 = w["gradflow"][t1], w["gradflow"][t2]
    sp = g1["median"] / g2["median"]
    rounds = [a / b for a, b in zip(g1.get("round_medians", []), g2.get("round_medians", []))]
    peers = [f"{side} {w[side][t1]['median'] / w[side][t2]['median']:.2f}x" for side in PEER_SIDES if w[side]]
    return [f"{t1}t {fmt(g1, row.scale)}; {t2}t {fmt(g2, row.scale)}", ", ".join(peers) or "n/a", "",
            f"{sp:.2f}x" + round_range(rounds, "{:.2f}x"), f">={row.target:g}x", judge(sp >= row.target)]


def memory_cells(res, row, judge):
    """gradflow, torch and LibTorch in MiB (n/a for a side that did not run), torch's over
    gradflow's, and the target gradflow <= torch / row.target."""
    memory = res[row.gradflow[0]]
    gm, tm, lm = (memory.get(side, {}).get("peak_rss_mib") for side in ("gradflow",) + PEER_SIDES)

    def mib(v):
        return f"{v:.0f}" if v else "n/a"

    return [mib(gm), mib(tm), mib(lm), f"{tm / gm:.2f}x" if gm and tm else "n/a",
            f"gf <= 1/{row.target} torch", judge(gm <= tm / row.target if gm and tm else None)]


def first_step_cells(res, row, judge):
    fs = res[row.gradflow[0]]
    g = fs.get("gradflow")
    return [fmt(g, row.scale), fmt(fs.get("torch"), row.scale), fmt(fs.get("libtorch"), row.scale),
            f"{fs['torch']['median'] / g['median']:.1f}x" if g and "torch" in fs else "n/a", "(none)", ""]


RENDER = {"fastest": time_cells, "highest": rate_cells, "speed-up": speedup_cells, "memory": memory_cells,
          "first step": first_step_cells}
