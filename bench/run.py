#!/usr/bin/env python3
"""Runs gradflow and its peers (PyTorch eager, and the LibTorch C++ twin where built) side by
side on this machine, prints a table of medians [min, max] and the ratios, and writes the same
as JSON. Standard library only: the drivers do the work (bench/README.md).

    python3 bench/run.py --gradflow-bench BUILD/bench/gradflow-bench            # full, ~5 min
    python3 bench/run.py --smoke --gradflow-bench BUILD/bench/gradflow-bench    # CI, seconds

The peer (every torch and LibTorch child) runs with OpenBLAS's OpenMP build first on
LD_LIBRARY_PATH, gradflow's children never (bench/peer_env.py); each child reports the OpenBLAS
file mapped in its own process and its kernel family, and the run prints them per side.
"""
import argparse
import functools
import json
import os
import statistics
import sys
import time
from pathlib import Path

import peer_env  # bench/peer_env.py, next to this script
import table  # bench/table.py: the table's rows as data, and their rendering
import sequence  # bench/sequence.py: the transformer, attention and generate workloads
import dashboard_cost  # bench/dashboard_cost.py: the transformer's step with and without train --dashboard

from harness import BENCH, CNN_EPOCH_STEPS, ROOT, Bench, CpuSteal, child_env, figure_of, round_fractions

# The MLP and CNN lines of the report's table, in its order (bench/table.py says what each field
# means); bench/sequence.py has the sequence workloads' lines.
ROWS = [
    table.Row("1 xor step", "us/step", ("xor", 1), "fastest", "each peer/gf", {"torch": 40, "libtorch": 15}, 1e6),
    table.Row("2 mnist b64 epoch, gf 1t", "s/epoch", ("mnist", 1), "fastest", "best peer/gf", 1.5),
    table.Row("2 mnist b64 epoch, gf 2t", "s/epoch", ("mnist", 2), "fastest", "best peer/gf", 1.5),
    table.Row("2 mnist b256 epoch, gf 1t", "s/epoch", ("mnist256", 1), "fastest", "best peer/gf", 1.5),
    table.Row("2 mnist b256 epoch, gf 2t", "s/epoch", ("mnist256", 2), "fastest", "best peer/gf", 1.5),
    table.Row("3 large mlp b1024, gf 2t", "GFLOP/s", ("large", 2), "highest", "sgemm ceiling", 0.9,
              rounds="round_fractions"),
    table.Row("4 wide, speed-up 1t->2t", "ms/step", ("wide", (1, 2)), "speed-up", "speed-up", 1.8, 1e3),
    table.Row("5 peak RSS, mnist b64, uint8 pixels", "MiB", ("memory", None), "memory", "torch/gf", 4),
    table.Row("6 time to first step, xor", "ms", ("first_step", None), "first step", "torch/gf", None, 1e3),
    table.Row("7 cnn b64 step, gf 1t", "ms/step", ("cnn", 1), "fastest", "best peer/gf", 2, 1e3, CNN_EPOCH_STEPS),
    table.Row("7 cnn b64 step, gf 2t", "ms/step", ("cnn", 2), "fastest", "best peer/gf", 2, 1e3, CNN_EPOCH_STEPS),
    table.Row("8 conv1+conv2 fwd+bwd b64, gf 2t", "GFLOP/s", ("conv", 2), "highest", "sgemm ceiling", 0.5,
              rounds="conv_round_fractions"),
    table.Row("8 conv1+conv2 fwd+bwd b64, gf 1t", "GFLOP/s", ("conv", 1), "highest", "own 1t sgemm"),
    table.Row("9 peak RSS, cnn b64, uint8 images", "MiB", ("memory_cnn", None), "memory", "torch/gf", 2),
    # Issue 24: graphs/fashion_mnist_mobilenet.yaml's step against its twin's (no LibTorch twin).
    table.Row("16 mobilenet b64 step, gf 1t", "ms/step", ("mobilenet", 1), "fastest", "best peer/gf", 1.5, 1e3,
              CNN_EPOCH_STEPS),
    table.Row("16 mobilenet b64 step, gf 2t", "ms/step", ("mobilenet", 2), "fastest", "best peer/gf", 1.5, 1e3,
              CNN_EPOCH_STEPS),
]

# The workloads main() times, with gradflow's thread counts (the peers run each at 1 and 2).
# sgemm is no row of its own: it is the ceiling the GFLOP/s rows are set against.
TIMED = (("xor", [1]), ("mnist", [1, 2]), ("mnist256", [1, 2]), ("large", [2]), ("wide", [1, 2]),
         ("sgemm", [1, 2]), ("cnn", [1, 2]), ("conv", [1, 2]), ("mobilenet", [1, 2]))
# Workloads --workloads may pick alone: neither set against the sgemm ceiling nor interleaved with it.
SELECTABLE = ("xor", "mnist", "mnist256", "cnn", "mobilenet")


def report(res, judge, rows=ROWS):
    """The table's MLP, CNN and MobileNet lines (workload, unit, gradflow, torch, libtorch, ratio, target,
    status)."""
    return table.render(res, rows, judge)


def status(ok, smoke=False):
    """A row's status column; smoke figures are too small to judge targets by."""
    if smoke:
        return "(smoke)"
    return "n/a" if ok is None else ("met" if ok else "NOT MET")


def print_table(rows, file=sys.stdout):
    head = ["workload", "unit", "gradflow median [min, max]", "torch best", "libtorch best",
            "ratio peer/gf", "target", "status"]
    print("| " + " | ".join(head) + " |", file=file)
    print("|" + "---|" * len(head), file=file)
    for r in rows:
        print("| " + " | ".join(r) + " |", file=file)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="tiny workloads: checks the harness, no timing targets")
    p.add_argument("--gradflow-bench", type=Path, default=ROOT / "build" / "bench" / "gradflow-bench")
    p.add_argument("--libtorch-bench", type=Path, help="default: next to gradflow-bench")
    p.add_argument("--graph-runner", type=Path, help="default: BUILD/tools/graph-runner")
    p.add_argument("--python", help="a python that imports torch (default: this one, else /usr/bin/python3)")
    p.add_argument("--out", type=Path, default=BENCH / "results.json")
    p.add_argument("--sequence-only", action="store_true",
                   help="only the sequence workloads (transformer, attention, generate; bench/sequence.py)")
    p.add_argument("--workloads", help="only these timed workloads, comma-separated (of: " +
                   ", ".join(SELECTABLE + sequence.TIMED) + "): their table rows and JSON")
    p.add_argument("--dashboard-only", action="store_true",
                   help="only the transformer's step with and without train --dashboard (bench/dashboard_cost.py)")
    a = p.parse_args()
    build = a.gradflow_bench.resolve().parent.parent
    a.libtorch_bench = a.libtorch_bench or a.gradflow_bench.resolve().parent / "libtorch-bench"
    a.graph_runner = a.graph_runner or build / "tools" / "graph-runner"
    if not a.gradflow_bench.exists():
        sys.exit(f"run.py: {a.gradflow_bench} not found (build with -DGRADFLOW_BUILD_BENCH=ON)")

    judge = functools.partial(status, smoke=a.smoke)
    b = Bench(a)
    peer = child_env("torch")
    peer_line = (f"peer environment (torch, LibTorch): LD_LIBRARY_PATH={peer.get('LD_LIBRARY_PATH', '')} "
                 f"OPENBLAS_CORETYPE={peer.get('OPENBLAS_CORETYPE', '')}; gradflow: "
                 f"OPENBLAS_CORETYPE={child_env('gradflow').get('OPENBLAS_CORETYPE', '')}, no peer directory")
    if not peer_env.peer_blas_dir():
        b.notes.append("OpenBLAS's OpenMP build is not installed (bench/setup_peer.sh): the peer "
                       "uses whatever libopenblas.so.0 the system points to")
    print(peer_line, file=sys.stderr)
    for n in b.notes:
        print("note: " + n, file=sys.stderr)
    started = time.time()
    res = {"mode": "smoke" if a.smoke else "full", "machine": {"cpus": os.cpu_count(), "uname": os.uname().release,
                                                                 "loadavg_at_start": os.getloadavg()},
           "notes": b.notes, "workloads": {}}
    # The wide graph's 1- and 2-thread runs alternate, as do the large MLP and the sgemm
    # ceilings it is measured against (Bench.interleaved); the rest run one after another.
    rounds = 1 if a.smoke else 6
    # The convolutions join the large MLP's rounds: both are set against the same ceilings.
    pair_configs = {"wide": [("wide", "gradflow", 1), ("wide", "gradflow", 2)],
                    "large": [("large", "gradflow", 2), ("conv", "gradflow", 2), ("sgemm", "gradflow", 2)] +
                             ([("sgemm", "torch", 2)] if b.py else []),
                    # Small steps on a shared machine: the four runs alternate, so that load
                    # falls on both sides alike.
                    "mobilenet": [("mobilenet", side, t) for t in (1, 2) for side in ("gradflow", "torch")
                                  if side == "gradflow" or b.py]}
    measured = {}
    res["steal_pct"] = {}
    if a.sequence_only:
        return finish_sequence_only(a, b, res, peer_line, started, judge)
    if a.dashboard_only:
        return finish_dashboard_only(a, b, res, started, judge)
    selected = a.workloads.split(",") if a.workloads else [w for w, _ in TIMED]
    if a.workloads and not set(selected) <= set(SELECTABLE + sequence.TIMED):
        sys.exit(f"run.py: --workloads takes {', '.join(SELECTABLE + sequence.TIMED)}, got {a.workloads}")
    for w, gf_threads in [(w, t) for w, t in TIMED if w in selected]:
        print(f"running {w} ...", file=sys.stderr, flush=True)
        steal = CpuSteal()
        if w in pair_configs:
            measured |= b.interleaved(pair_configs[w], rounds)
        res["workloads"][w] = b.timed_workload(w, gf_threads, measured.get(w))
        res["steal_pct"][w] = steal.percent()
    if a.workloads:
        return finish_selected(a, b, res, selected, peer_line, started, judge)
    # The ceiling: the best 2-thread sgemm measured here (gradflow's own TBB-split serial
    # OpenBLAS, torch.mm, numpy.matmul on OpenBLAS-OpenMP).
    s = res["workloads"]["sgemm"]
    cands = [(s["gradflow"][2]["median"], "OpenBLAS serial in 2 TBB tiles")]
    if 2 in s["torch"]:
        t2 = s["torch"][2]
        cands += [(statistics.median(t2[k]), k.split("_")[1] + " 2t") for k in ("samples_torch", "samples_numpy") if k in t2]
    g, src = max(cands)
    res["sgemm_ceiling"] = {"gflops": g, "source": src, "candidates": {c[1]: c[0] for c in cands},
                            "round_fractions": round_fractions(res["workloads"]),
                            "conv_round_fractions": round_fractions(res["workloads"], "conv")}
    print("running memory, first_step ...", file=sys.stderr, flush=True)
    res["memory"] = b.memory()
    res["memory_cnn"] = b.memory("cnn_memory")
    res["first_step"] = b.first_step()
    print("running transformer, attention, generate ...", file=sys.stderr, flush=True)
    steal = CpuSteal()
    res["sequence"] = sequence.run(b, figure_of)
    res["steal_pct"]["sequence"] = steal.percent()
    print("running transformer with and without train --dashboard ...", file=sys.stderr, flush=True)
    steal = CpuSteal()
    res["dashboard"] = dashboard_cost.run(a.graph_runner, a.smoke, b.notes, child_env("gradflow"))
    res["steal_pct"]["dashboard"] = steal.percent()
    if a.smoke:
        res["xor_agreement"] = b.xor_agreement()
    res["elapsed_s"] = time.time() - started
    res["machine"]["loadavg_at_end"] = os.getloadavg()
    res["peer_environment"] = {k: peer.get(k) for k in ("LD_LIBRARY_PATH", "OPENBLAS_CORETYPE")}
    res["blas"], blas_lines = b.blas_summary()
    blas_bad = b.blas_problems()
    res["blas"]["problems"] = blas_bad

    rows = report(res, judge) + sequence.rows(res["sequence"], judge) + dashboard_cost.rows(res, judge)
    res["table"] = rows
    print_table(rows)
    for n in b.notes:
        print("note: " + n)
    print(peer_line)
    for line in blas_lines:
        print(line)
    for line in blas_bad:
        print("WARNING: " + line)
    for what, why in res["sequence"]["failed"].items():
        print(f"FAILED: {what}: {why}")
    steal = ", ".join(f"{w} {p:.0f}%" for w, p in res["steal_pct"].items() if p is not None)
    if steal:
        print(f"CPU time taken by the hypervisor (steal) during each workload: {steal}")
    print("load average (1, 5, 15 min) at start %.2f %.2f %.2f, at end %.2f %.2f %.2f on %d cpus" % (
        *res["machine"]["loadavg_at_start"], *res["machine"]["loadavg_at_end"], os.cpu_count()))
    if res.get("xor_agreement"):
        x = res["xor_agreement"]
        print(f"xor losses, same initial weights: max |gradflow - torch| = {x['max_abs_diff']:.2e} "
              f"({'agree' if x['ok'] else 'DISAGREE'})")
    a.out.write_text(json.dumps(res, indent=1) + "\n")
    print(f"wrote {a.out} ({res['elapsed_s']:.0f} s)")
    if a.smoke:  # harness checks only: every figure present and positive, xor losses agree
        figures = [s["median"] for w in res["workloads"].values() for side in w.values() for s in side.values()]
        figures += sequence.figures(res["sequence"])
        figures += [res["dashboard"][side]["median"] for side in ("with", "without") if side in res["dashboard"]]
        bad = ([f for f in figures if not f > 0] or res["sequence"]["failed"]
               or (res["xor_agreement"] and not res["xor_agreement"]["ok"])
               or blas_bad)
        if bad:
            sys.exit("smoke: harness check failed")


def finish_selected(a, b, res, selected, peer_line, started, judge):
    """--workloads: the rows of the workloads timed, their JSON; smoke checks them alike."""
    chosen = [w for w in selected if w in sequence.TIMED]
    if chosen:
        res["sequence"] = sequence.run(b, figure_of, only=chosen)
    res["elapsed_s"] = time.time() - started
    res["machine"]["loadavg_at_end"] = os.getloadavg()
    res["blas"], blas_lines = b.blas_summary()
    res["blas"]["problems"] = b.blas_problems()
    res["table"] = report(res, judge, [r for r in ROWS if r.gradflow[0] in selected])
    if chosen:
        res["table"] += sequence.rows(res["sequence"], judge)
    print_table(res["table"])
    for line in ["note: " + n for n in b.notes] + [peer_line] + blas_lines:
        print(line)
    print("load average (1, 5, 15 min) at start %.2f %.2f %.2f, at end %.2f %.2f %.2f on %d cpus" % (
        *res["machine"]["loadavg_at_start"], *res["machine"]["loadavg_at_end"], os.cpu_count()))
    a.out.write_text(json.dumps(res, indent=1) + "\n")
    print(f"wrote {a.out} ({res['elapsed_s']:.0f} s)")
    figures = [s["median"] for w in res["workloads"].values() for side in w.values() for s in side.values()]
    figures += sequence.figures(res["sequence"]) if chosen else []
    if a.smoke and ([f for f in figures if not f > 0] or res["blas"]["problems"] or (chosen and res["sequence"]["failed"])):
        sys.exit("smoke: harness check failed")


def finish_sequence_only(a, b, res, peer_line, started, judge):
    """--sequence-only: the sequence workloads, their table and JSON; smoke checks them alike."""
    print("running transformer, attention, generate ...", file=sys.stderr, flush=True)
    steal = CpuSteal()
    res["sequence"] = sequence.run(b, figure_of)
    res["steal_pct"]["sequence"] = steal.percent()
    res["elapsed_s"] = time.time() - started
    res["machine"]["loadavg_at_end"] = os.getloadavg()
    res["blas"], blas_lines = b.blas_summary()
    res["blas"]["problems"] = b.blas_problems()
    res["table"] = sequence.rows(res["sequence"], judge)
    print_table(res["table"])
    for line in ["note: " + n for n in b.notes] + [peer_line] + blas_lines:
        print(line)
    for what, why in res["sequence"]["failed"].items():
        print(f"FAILED: {what}: {why}")
    print("load average (1, 5, 15 min) at start %.2f %.2f %.2f, at end %.2f %.2f %.2f on %d cpus" % (
        *res["machine"]["loadavg_at_start"], *res["machine"]["loadavg_at_end"], os.cpu_count()))
    a.out.write_text(json.dumps(res, indent=1) + "\n")
    print(f"wrote {a.out} ({res['elapsed_s']:.0f} s)")
    figures = sequence.figures(res["sequence"])
    if a.smoke and ([f for f in figures if not f > 0] or res["sequence"]["failed"] or res["blas"]["problems"]):
        sys.exit("smoke: harness check failed")


def finish_dashboard_only(a, b, res, started, judge):
    """--dashboard-only: the transformer's step with and without train --dashboard, its table row
    and JSON; smoke checks the harness alike."""
    print("running transformer with and without train --dashboard ...", file=sys.stderr, flush=True)
    steal = CpuSteal()
    res["dashboard"] = dashboard_cost.run(a.graph_runner, a.smoke, b.notes, child_env("gradflow"))
    res["steal_pct"]["dashboard"] = steal.percent()
    res["elapsed_s"] = time.time() - started
    res["machine"]["loadavg_at_end"] = os.getloadavg()
    res["table"] = dashboard_cost.rows(res, judge)
    print_table(res["table"])
    for n in b.notes:
        print("note: " + n)
    print("load average (1, 5, 15 min) at start %.2f %.2f %.2f, at end %.2f %.2f %.2f on %d cpus" % (
        *res["machine"]["loadavg_at_start"], *res["machine"]["loadavg_at_end"], os.cpu_count()))
    a.out.write_text(json.dumps(res, indent=1) + "\n")
    print(f"wrote {a.out} ({res['elapsed_s']:.0f} s)")
    d = res["dashboard"]
    if a.smoke and ("skipped" in d or not (d["with"]["median"] > 0 and d["without"]["median"] > 0)):
        sys.exit("smoke: harness check failed")


if __name__ == "__main__":
    main()
