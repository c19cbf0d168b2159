"""Workload 14 for bench/run.py: what `train --dashboard` costs the run it serves (issue 29). The
byte-level transformer (graphs/fortunes_transformer.yaml, on its real data: Debian's fortunes,
scripts/setup.sh --data) trains with and without `--dashboard`; with it, a client asks
/api/runs for new lines every 500 ms as the open page does, so the server works as it would for
a user watching. The step times are the run's own: every step line of --metrics
(train.log_every_steps: 5 in a copy of the graph) gives batch / samples_per_s over its 5 steps,
validations and data loading excluded; each run's first line (warm-up) is dropped. Runs
alternate, without then with, `rounds` times at the same thread count, so both share the
machine's drifting speed; each run stops after `lines` step lines.

--smoke times a small regression MLP instead (no data package needed): it only checks the
harness.
"""
import http.client
import json
import re
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import table  # bench/table.py

ROOT = Path(__file__).resolve().parent.parent
FORTUNES = Path("/usr/share/games/fortunes")
THREADS = 2
FULL = {"rounds": 3, "lines": 9}
SMOKE = {"rounds": 1, "lines": 3}


def transformer_graph(work):
    """graphs/fortunes_transformer.yaml with a step line every 5 steps."""
    text = (ROOT / "graphs" / "fortunes_transformer.yaml").read_text()
    path = work / "fortunes_transformer.yaml"
    path.write_text(text.replace("\ntrain:\n", "\ntrain:\n  log_every_steps: 5\n", 1))
    return path


def smoke_graph(work):
    rows = "\n".join(",".join(f"{((i * 7 + j * 3) % 11) / 11:.3f}" for j in range(33)) for i in range(256))
    (work / "smoke.csv").write_text(rows + "\n")
    path = work / "smoke.yaml"
    path.write_text("""graph: dashboard_smoke
seed: 1
inputs:
  x: {shape: [32]}
  y: {shape: [1]}
nodes:
  - {name: fc1, op: linear, inputs: [x], units: 64}
  - {name: h1, op: relu, inputs: [fc1]}
  - {name: out, op: linear, inputs: [h1], units: 1}
  - {name: loss, op: mse, inputs: [out, y]}
  - {name: opt, op: sgd, inputs: [loss], lr: 0.01}
data:
  train:
    x: {csv: smoke.csv, columns: "0:32"}
    y: {csv: smoke.csv, columns: [32]}
train: {epochs: 1000000, batch_size: 32, log_every_steps: 200}
""")
    return path


class Page:
    """What the open page does to the server: asks /api/runs for new lines every 500 ms."""

    def __init__(self, port):
        self.port, self.stop, self.answers = port, threading.Event(), 0
        self.thread = threading.Thread(target=self.follow, daemon=True)
        self.thread.start()

    def follow(self):
        have = []
        while not self.stop.is_set():
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                c.request("GET", "/api/runs?have=" + ",".join(have))
                answer = json.loads(c.getresponse().read())
                c.close()
                have = [f"{r['generation']}.{r['from'] + len(r['lines'])}" for r in answer["runs"]]
                self.answers += 1
            except (OSError, ValueError, http.client.HTTPException):
                pass
            time.sleep(0.5)

    def close(self):
        self.stop.set()
        self.thread.join(timeout=5)


def one_run(runner, graph, work, env, dashboard, lines):
    """Step times (seconds) of one run, from its step lines after the first."""
    metrics = work / ("with.jsonl" if dashboard else "without.jsonl")
    metrics.unlink(missing_ok=True)
    cmd = [str(runner), "train", str(graph), "--threads", str(THREADS), "--metrics", str(metrics)]
    if dashboard:
        cmd += ["--dashboard", "0"]
    proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    page, port = None, []

    def read_stdout():
        for line in proc.stdout:
            m = re.search(r"dashboard: http://127\.0\.0\.1:(\d+)/", line)
            if m:
                port.append(int(m.group(1)))

    reader = threading.Thread(target=read_stdout, daemon=True)
    reader.start()
    steps = []
    deadline = time.time() + 1800
    try:
        while len(steps) < lines + 1:
            if dashboard and page is None and port:
                page = Page(port[0])
            if proc.poll() is not None:
                raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.read()[-1000:]}")
            if time.time() > deadline:
                raise RuntimeError(f"{' '.join(cmd)}: fewer than {lines + 1} step lines in 30 minutes")
            time.sleep(0.1)
            text = metrics.read_text() if metrics.exists() else ""
            steps = [json.loads(l) for l in text.splitlines() if l.endswith("}") and "samples_per_s" in l]
        # A short run can write its lines before the page's first answer: it keeps training
        # until the page was served at least once.
        while dashboard and (page is None or page.answers == 0) and proc.poll() is None and time.time() < deadline:
            if page is None and port:
                page = Page(port[0])
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if page:
            page.close()
    if dashboard and (page is None or page.answers == 0):
        raise RuntimeError("the dashboard never answered the page")
    batch = 32
    return [batch / s["samples_per_s"] for s in steps[1:lines + 1]], (page.answers if page else 0)


def stats(samples):
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples), "samples": samples}


def run(runner, smoke, notes, env):
    """{"without": stats, "with": stats, "round_medians": {...}, "answers": n} in seconds per step,
    or {"skipped": why}. `env`: gradflow's children's environment (run.py's child_env)."""
    if not Path(runner).exists():
        return {"skipped": f"{runner} not found"}
    plan = SMOKE if smoke else FULL
    with tempfile.TemporaryDirectory(prefix="gradflow-dashboard-bench-") as tmp:
        work = Path(tmp)
        if smoke:
            graph = smoke_graph(work)
        elif not FORTUNES.is_dir():
            notes.append("dashboard row skipped: Debian's fortunes is not installed (scripts/setup.sh --data)")
            return {"skipped": "no fortunes"}
        else:
            graph = transformer_graph(work)
        out = {"without": [], "with": [], "round_medians": {"without": [], "with": []}, "answers": 0,
               "threads": THREADS, "graph": graph.name}
        for _ in range(plan["rounds"]):
            for side in ("without", "with"):
                times, answers = one_run(runner, graph, work, env, side == "with", plan["lines"])
                out[side] += times
                out["round_medians"][side].append(statistics.median(times))
                out["answers"] += answers
        out["without"], out["with"] = stats(out["without"]), stats(out["with"])
        return out


def cells(res, row, judge):
    """The row's cells: both figures side by side, with/without, and the target."""
    d = res.get(row.gradflow[0]) or {}
    if "skipped" in d or not d:
        return ["n/a", "", "", "n/a", row.note, judge(None)]
    w, wo = d["with"], d["without"]
    ratio = w["median"] / wo["median"]
    rounds = [a / b for a, b in zip(d["round_medians"]["with"], d["round_medians"]["without"])]
    return [f"without {table.fmt(wo, row.scale)}; with --dashboard {table.fmt(w, row.scale)}", "", "",
            f"with/without {ratio:.3f}x" + table.round_range(rounds, "{:.3f}x"),
            f"with/without <= {row.target:g}x ({d['answers']} page answers served)", judge(ratio <= row.target)]


table.RENDER["with/without"] = cells

ROWS = [table.Row("14 transformer b32 step, train --dashboard, gf 2t", "ms/step", ("dashboard", THREADS),
                  "with/without", "none", 1.03, 1e3)]


def rows(res, judge):
    return table.render(res, ROWS, judge)
