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
import collections
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import peer_env  # bench/peer_env.py, next to this script
import table  # bench/table.py: the table's rows as data, and their rendering
import sequence  # bench/sequence.py: the transformer, attention and generate workloads
import dashboard_cost  # bench/dashboard_cost.py: the transformer's step with and without train --dashboard

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PEER_SIDES = table.PEER_SIDES

# (workload, gradflow threads, extra driver args, reps) per mode. The peer runs each at 1 and
# 2 threads and its better figure counts.
FULL = {
    "xor": ({"--steps": 20000}, {"--steps": 3000}, 5),
    "mnist": ({}, {}, 3),
    "mnist256": ({"--batch": 256}, {"--batch": 256}, 3),
    "large": ({"--steps": 3}, {"--steps": 3}, 3),
    "wide": ({"--steps": 10}, {"--steps": 10}, 3),
    "sgemm": ({"--steps": 10}, {"--steps": 10}, 3),
    "memory": ({"--reps": 1}, {"--reps": 1}, 1),
    # 100 steps of the CNN a repetition, not its 938-step epoch: torch takes 35-60 ms a step here.
    "cnn": ({"--steps": 100}, {"--steps": 100}, 3),
    "mobilenet": ({"--steps": 30}, {"--steps": 30}, 1),
    "conv": ({"--steps": 20}, {"--steps": 20}, 3),
    "cnn_memory": ({"--reps": 1, "--steps": 20}, {"--reps": 1, "--steps": 20}, 1),
    "first_step": ({}, {}, 5),
}
SMOKE = {
    "xor": ({"--steps": 50}, {"--steps": 50}, 2),
    "mnist": ({"--samples": 512}, {"--samples": 512}, 2),
    "mnist256": ({"--samples": 512, "--batch": 256}, {"--samples": 512, "--batch": 256}, 2),
    "large": ({"--batch": 64, "--steps": 2}, {"--batch": 64, "--steps": 2}, 2),
    "wide": ({"--batch": 32, "--steps": 2}, {"--batch": 32, "--steps": 2}, 2),
    "sgemm": ({"--batch": 128, "--steps": 2}, {"--batch": 128, "--steps": 2}, 2),
    "memory": ({"--reps": 1, "--samples": 512}, {"--reps": 1, "--samples": 512}, 1),
    "cnn": ({"--samples": 512, "--steps": 4}, {"--samples": 512, "--steps": 4}, 2),
    "mobilenet": ({"--samples": 512, "--steps": 4}, {"--samples": 512, "--steps": 4}, 2),
    "conv": ({"--batch": 8, "--steps": 2}, {"--batch": 8, "--steps": 2}, 2),
    "cnn_memory": ({"--reps": 1, "--samples": 512, "--steps": 2}, {"--reps": 1, "--samples": 512, "--steps": 2}, 1),
    "first_step": ({}, {}, 1),
}
DRIVER_WORKLOAD = {"mnist256": "mnist", "memory": "mnist", "cnn_memory": "cnn"} | sequence.DRIVER
FULL |= sequence.FULL
SMOKE |= sequence.SMOKE
NO_LIBTORCH_TWIN = ("sgemm", "mobilenet")
CNN_EPOCH_STEPS = 938  # a 60,000-image epoch at batch 64: the cnn rows scale a step to it


def flat(args):
    return [str(x) for kv in args.items() for x in kv]


def child_env(side, env_threads=None):
    """The environment of one child: every side gets the same OpenBLAS kernel family
    (peer_env.openblas_core_for_this_cpu); the peers get OpenBLAS's OpenMP build first on
    LD_LIBRARY_PATH, gradflow never (issue 17)."""
    env = peer_env.gradflow_environ() if side == "gradflow" else peer_env.peer_environ()
    if env_threads:  # OpenMP pools (torch's BLAS, numpy) size themselves from this at start
        env["OMP_NUM_THREADS"] = str(env_threads)
    return env


def openblas_in(pid, exe):
    """The OpenBLAS files in /proc/<pid>/maps once the child runs `exe` (until its exec it is a
    copy of this python) and has libopenblas itself mapped; None until then. The loader maps
    libblas.so.3 and liblapack.so.3 too, in its own order: a second look a moment later gathers
    those a first one caught mid-way."""
    def look():
        try:
            if os.path.realpath(f"/proc/{pid}/exe") != exe:
                return []
            return peer_env.openblas_mapped(pid)
        except OSError:
            return []
    first = look()
    if not any("libopenblas" in os.path.basename(p) for p in first):
        return None
    time.sleep(0.1)
    return first + [p for p in look() if p not in first]


def run_child(cmd, env, watch_maps=False):
    """Runs cmd; returns (stdout, wall seconds, peak RSS in MiB, OpenBLAS files). Uses wait4 so
    the peak belongs to this child alone. With watch_maps, reads the child's /proc/<pid>/maps
    every few milliseconds until an OpenBLAS file shows (for a child that cannot report it
    itself), else the files are None."""
    start = time.perf_counter()
    mapped, done = None, None
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        if watch_maps:
            exe = os.path.realpath(cmd[0])
            while mapped is None:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    done = status, usage
                    break
                mapped = openblas_in(proc.pid, exe)
                if mapped is None:
                    time.sleep(0.005)
        status, usage = done or os.wait4(proc.pid, 0)[1:]
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode()
        err.seek(0)
        errors = err.read().decode()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited {proc.returncode}: {errors.strip()[-2000:]}")
    return text, wall, usage.ru_maxrss / 1024.0, mapped


def probe_cores(paths, env):
    """The kernel family of each OpenBLAS file, from a short python that loads them with the
    child's environment (OPENBLAS_CORETYPE included): what a child that cannot call
    openblas_get_corename itself chose when it loaded the same file."""
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); import peer_env; "
            "print(json.dumps([peer_env.corename(p) for p in sys.argv[2:]]))")
    r = subprocess.run([sys.executable, "-c", code, str(BENCH), *paths], env=env, capture_output=True, text=True)
    try:
        return json.loads(r.stdout)
    except ValueError:
        return [None] * len(paths)


def find_torch_python(explicit):
    """A python that imports torch: --python, this one, or Debian's (python3-torch)."""
    for exe in [explicit] if explicit else [sys.executable, "/usr/bin/python3"]:
        if exe and subprocess.run([exe, "-c", "import torch"], capture_output=True,
                                  env=child_env("torch")).returncode == 0:
            return exe
    return None


def stats(samples):
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples),
            "samples": samples}


def figure_of(driver_result):
    """A driver's JSON as a figure: stats of its samples, its metric, and torch_bench's
    per-library sgemm samples where present."""
    fig = stats(driver_result["samples"]) | {"metric": driver_result["metric"]}
    for k in ("samples_torch", "samples_numpy"):
        if k in driver_result:
            fig[k] = driver_result[k]
    return fig


def round_fractions(W, workload="large"):
    """The large MLP's (or the convolutions') GFLOP/s over the best sgemm of the same round,
    round by round (the sgemm runs interleaved with it; torch's figure is the better of
    torch.mm and numpy)."""
    large = W[workload]["gradflow"][2].get("round_medians")
    gf = W["sgemm"]["gradflow"][2].get("round_medians")
    if not large or not gf:
        return None
    ceilings = list(gf)
    t2 = W["sgemm"]["torch"].get(2, {})
    if t2.get("round_medians"):
        n = len(t2["round_medians"])
        for lib in ("samples_torch", "samples_numpy"):
            if lib in t2:
                per = len(t2[lib]) // n
                for i in range(n):
                    ceilings[i] = max(ceilings[i], statistics.median(t2[lib][i * per:(i + 1) * per]))
    return [l / c for l, c in zip(large, ceilings)]


class CpuSteal:
    """Share of CPU time the hypervisor gave to other guests while a workload ran (the
    'steal' column of /proc/stat): on a shared VM this is the noise in every figure."""

    def __init__(self):
        self.start = self.read()

    @staticmethod
    def read():
        try:
            with open("/proc/stat") as f:
                fields = [int(x) for x in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        return fields[7] if len(fields) > 7 else 0, sum(fields[:8])

    def percent(self):
        end = self.read()
        if not self.start or not end or end[1] == self.start[1]:
            return None
        return 100.0 * (end[0] - self.start[0]) / (end[1] - self.start[1])


class Bench:
    def __init__(self, a):
        self.a = a
        self.plan = SMOKE if a.smoke else FULL
        self.gf = [str(a.gradflow_bench)]
        self.py = find_torch_python(a.python)
        self.lt = a.libtorch_bench if a.libtorch_bench and Path(a.libtorch_bench).exists() else None
        self.notes = []
        # side -> Counter of the OpenBLAS files (path, core) its children mapped; how they were read
        self.blas = {s: collections.Counter() for s in ("gradflow",) + PEER_SIDES}
        self.blas_how = {}
        self.core_cache = {}
        self.watch_gradflow = False  # set when gradflow-bench does not report (built before it did)
        if not self.py:
            self.notes.append("PyTorch peer skipped: no python here imports torch (bench/setup_peer.sh)")
        if not self.lt:
            self.notes.append("LibTorch twin skipped: libtorch-bench not built (needs libtorch-dev)")

    def side(self, side, workload, threads, reps, **override):
        gf_args, peer_args, _ = self.plan[workload]
        args = {"--threads": threads, "--reps": reps, **(gf_args if side == "gradflow" else peer_args),
                **{"--" + k: v for k, v in override.items()}}
        w = DRIVER_WORKLOAD.get(workload, workload)
        cmd = {"gradflow": self.gf, "torch": [self.py, str(BENCH / "torch_bench.py")],
               "libtorch": [self.lt]}[side] + [w] + flat(args)
        env = child_env(side, threads)
        # gradflow-bench and torch_bench.py report their OpenBLAS themselves; the LibTorch twin
        # (and a gradflow-bench built before it reported) is read from outside.
        watch = side == "libtorch" or (side == "gradflow" and self.watch_gradflow)
        text, wall, rss, mapped = run_child(cmd, env, watch_maps=watch)
        res = json.loads(text)
        res["peak_rss_mib"] = rss
        self.record_blas(side, res.pop("blas", None), mapped, env)
        return res

    def record_blas(self, side, reported, mapped, env):
        if reported is not None:
            files = [(f["path"], f.get("core")) for f in reported]
            self.blas_how[side] = "in the process: /proc/self/maps and openblas_get_corename"
        elif mapped:
            key = (tuple(mapped), env.get("OPENBLAS_CORETYPE"), env.get("LD_LIBRARY_PATH"))
            if key not in self.core_cache:
                self.core_cache[key] = probe_cores(mapped, env)
            files = list(zip(mapped, self.core_cache[key]))
            self.blas_how[side] = ("from outside: /proc/<pid>/maps while it ran, core from a probe "
                                   "that loads the same file in the same environment")
        else:  # not reported, and not seen (or not watched: an older gradflow-bench)
            self.watch_gradflow |= side == "gradflow"
            self.blas[side][None] += 1
            return
        self.blas[side][tuple(files)] += 1

    def blas_summary(self):
        """{side: [{"files": [{"path", "core"}], "processes": n}], ...} and the printed lines."""
        out, lines = {}, []
        for side, seen in self.blas.items():
            if not seen:
                continue
            out[side] = {"how": self.blas_how.get(side), "mapped": [
                {"files": None if files is None else [{"path": p, "core": c} for p, c in files], "processes": n}
                for files, n in seen.most_common()]}
            total = sum(seen.values())
            for files, n in seen.most_common():
                what = ("not reported and not seen (a gradflow-bench built before it reported, or a "
                        "child that ended before its maps were read)" if files is None else
                        peer_env.describe([{"path": p, "core": c} for p, c in files]))
                lines.append(f"OpenBLAS mapped by {side} ({n} of {total} processes): {what}")
        return out, lines

    def blas_problems(self):
        """What contradicts the set-up: a peer on another OpenBLAS than the OpenMP build (where
        it is installed), gradflow on the OpenMP build."""
        d = peer_env.peer_blas_dir()
        bad = []
        for side, seen in self.blas.items():
            for files in filter(None, seen):
                libs = [p for p, _ in files if "libopenblas" in os.path.basename(p)]
                if side in PEER_SIDES and d and (not libs or any(not p.startswith(d + "/") for p in libs)):
                    bad.append(f"{side} did not map only {d}: {peer_env.describe([{'path': p, 'core': c} for p, c in files])}")
                if side == "gradflow" and d and any(p.startswith(d + "/") for p, _ in files):
                    bad.append(f"gradflow mapped the peer's OpenMP build: {[p for p, _ in files]}")
        return bad

    def peers(self):
        return [s for s, ok in (("torch", self.py), ("libtorch", self.lt)) if ok]

    def timed_workload(self, workload, gf_threads, measured=None):
        """gradflow at each of gf_threads; each peer at 1 and 2 threads. `measured` holds
        (side, threads) figures already taken by interleaved()."""
        reps = self.plan[workload][2]
        row = {"gradflow": {}, "torch": {}, "libtorch": {}}
        for (side, t), figure in (measured or {}).items():
            row[side][t] = figure
        for t in gf_threads:
            if t not in row["gradflow"]:
                row["gradflow"][t] = figure_of(self.side("gradflow", workload, t, reps))
        for peer in self.peers():
            if workload in NO_LIBTORCH_TWIN and peer == "libtorch":
                continue
            for t in (1, 2):
                if t in row[peer]:
                    continue
                if t == 2 and workload.startswith("mnist") and not self.a.smoke:
                    # On a loaded machine torch's 2-thread OpenMP runs can be 10x slower than
                    # its 1-thread runs; a tenth of an epoch shows that without spending minutes.
                    probe = self.side(peer, workload, t, 1, samples=6000)["samples"][0] * 10
                    if probe > 1.5 * row[peer][1]["median"]:
                        row[peer][t] = stats([probe]) | {"metric": "s_per_epoch",
                                                         "extrapolated_from_samples": 6000}
                        continue
                r = self.side(peer, workload, t, reps)
                row[peer][t] = figure_of(r)
        return row

    def interleaved(self, configs, rounds):
        """Runs every (workload, side, threads) of configs once per round, round after round, and
        pools each one's samples. The figures compared with each other (1 against 2 threads,
        the large MLP against the sgemm ceiling) then share the same spells of a shared
        machine's drifting speed, instead of each getting whichever spell it ran in.
        Returns {workload: {(side, threads): figure}}, each figure with its per-round medians."""
        runs = {c: [] for c in configs}
        for _ in range(rounds):
            for c in configs:
                workload, side, threads = c
                runs[c].append(self.side(side, workload, threads, self.plan[workload][2]))
        out = {}
        for (workload, side, threads), rs in runs.items():
            merged = {"metric": rs[0]["metric"], "samples": [x for r in rs for x in r["samples"]]}
            for k in ("samples_torch", "samples_numpy"):
                if k in rs[0]:
                    merged[k] = [x for r in rs for x in r[k]]
            out.setdefault(workload, {})[(side, threads)] = figure_of(merged) | {
                "round_medians": [statistics.median(r["samples"]) for r in rs]}
        return out

    def memory(self, workload="memory"):
        row = {}
        for side in ["gradflow"] + self.peers():
            row[side] = {"peak_rss_mib": self.side(side, workload, 1, 1)["peak_rss_mib"]}
        return row

    def first_step(self):
        reps = self.plan["first_step"][2]
        runner = self.a.graph_runner
        cmds = {"gradflow": [str(runner), "train", str(ROOT / "graphs" / "xor.yaml"), "--epochs", "1",
                             "--threads", "1"]}
        if self.py:
            cmds["torch"] = [self.py, str(BENCH / "torch_bench.py"), "first_step"]
        if self.lt:
            cmds["libtorch"] = [self.lt, "first_step", "--threads", "1"]
        row = {}
        for side, cmd in cmds.items():
            if side == "gradflow" and not Path(runner).exists():
                self.notes.append(f"time to first step: {runner} not found, gradflow side skipped")
                continue
            row[side] = stats([run_child(cmd, child_env(side, 1))[1] for _ in range(reps)])
        return row

    def xor_agreement(self):
        """Same initial weights on both sides: the first five losses must agree."""
        if not self.py:
            return None
        g = json.loads(run_child(self.gf + ["xor", "--trace", "--steps", "1", "--reps", "1"],
                                 child_env("gradflow"))[0])
        with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
            json.dump(g, f)
            f.flush()
            t = json.loads(run_child([self.py, str(BENCH / "torch_bench.py"), "xor", "--init", f.name,
                                      "--steps", "1", "--reps", "1"], child_env("torch"))[0])
        diff = max(abs(x - y) for x, y in zip(g["losses"], t["losses"]))
        return {"gradflow": g["losses"], "torch": t["losses"], "max_abs_diff": diff, "ok": diff < 1e-5}


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
