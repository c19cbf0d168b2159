"""bench/run.py's harness: the workloads' plans (FULL, SMOKE), how each side's driver is run
in its own process (environment, peak RSS, the OpenBLAS it mapped), the statistics of its
samples, and Bench, which runs a workload on every side, one after another or interleaved."""
import collections
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import peer_env  # bench/peer_env.py, next to this script
import table  # bench/table.py
import sequence  # bench/sequence.py

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
