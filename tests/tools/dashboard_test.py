#!/usr/bin/env python3
"""graph-runner dashboard and train --dashboard, end to end (docs/dashboard.md). One case per
run, each a ctest of its own (tests/tools/CMakeLists.txt):

    dashboard_test.py GRAPH_RUNNER WORK_DIR CASE

  browser      the dashboard on two runs, one of them still being written by `train`, opened in
               headless Chromium: both runs drawn with the right number of points, lines appended
               to the growing file shown within 2 seconds, a screenshot (kept in WORK_DIR)
  paths        only the page, its script, style, chart library and /api/runs are served: any
               other path (/../../etc/passwd, the runs' own file names, ...) is 404; another
               Host is 403
  bad_files    not JSON lines, a line cut mid-write, a missing file or folder, a directory, a bad
               line appended later: exact messages, never a crash
  ports        a port in use: `dashboard` and `train --dashboard` say so and exit 1
  train        train --dashboard serves the run it trains (its --metrics file, or a temporary
               one it removes), and prints the address

Standard library only; Chromium is Debian's `chromium` (bash scripts/setup.sh --test). Exit 77
(skipped) when it is missing.
"""
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

SKIP = 77


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


class Dashboard:
    """A `graph-runner dashboard` (or `train --dashboard`) process and the port it printed."""

    def __init__(self, runner, args, cwd, pattern=r"http://127\.0\.0\.1:(\d+)/"):
        self.proc = subprocess.Popen([runner] + args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.lines = []
        deadline = time.time() + 60
        self.port = None
        while self.port is None:
            line = self.proc.stdout.readline()
            if not line:
                fail(f"{' '.join(args)} printed no address; exit {self.proc.wait()}: {self.proc.stderr.read()}")
            self.lines.append(line)
            m = re.search(pattern, line)
            if m:
                self.port = int(m.group(1))
            check(time.time() < deadline, "no address within 60 s")
        # The rest of stdout is drained, so that the process never blocks on a full pipe.
        threading.Thread(target=lambda: self.lines.extend(self.proc.stdout), daemon=True).start()

    def get(self, path, host=None, method="GET"):
        """(status, body) of a request sent with the path exactly as given (http.client does
        not normalise it)."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Host": host} if host else {}
        c.request(method, path, headers=headers)
        r = c.getresponse()
        body = r.read().decode("utf-8", "replace")
        c.close()
        return r.status, body

    def runs(self, query=""):
        status, body = self.get("/api/runs" + query)
        check(status == 200, f"/api/runs: {status}")
        return json.loads(body)

    def stop(self):
        """SIGTERM, as Ctrl-C would: the exit status and stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            fail("the dashboard did not stop within 30 s of SIGTERM")
        return code, self.proc.stderr.read()


def run(runner, args, cwd):
    r = subprocess.run([runner] + args, cwd=cwd, capture_output=True, text=True, timeout=300)
    return r.returncode, r.stdout + r.stderr


def write_graph(work, name, rows, units, extra_train=""):
    """A regression MLP on `rows` seeded random samples of 64 features from a CSV."""
    import random
    rng = random.Random(7)
    with open(work / f"{name}.csv", "w") as f:
        for _ in range(rows):
            xs = [rng.random() for _ in range(64)]
            f.write(",".join(f"{v:.3f}" for v in xs) + f",{sum(xs[:8]) / 8:.4f}\n")
    (work / f"{name}.yaml").write_text(f"""graph: {name}
seed: 1
inputs:
  x: {{shape: [64]}}
  y: {{shape: [1]}}
nodes:
  - {{name: fc1, op: linear, inputs: [x], units: {units}}}
  - {{name: h1, op: relu, inputs: [fc1]}}
  - {{name: fc2, op: linear, inputs: [h1], units: {units}}}
  - {{name: h2, op: relu, inputs: [fc2]}}
  - {{name: out, op: linear, inputs: [h2], units: 1}}
  - {{name: loss, op: mse, inputs: [out, y]}}
  - {{name: opt, op: sgd, inputs: [loss], lr: 0.01}}
data:
  train:
    x: {{csv: {name}.csv, columns: "0:64"}}
    y: {{csv: {name}.csv, columns: [64]}}
  split: 0.25
train: {{batch_size: 16{extra_train}}}
""")
    return work / f"{name}.yaml"


def metrics_lines(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def counts(lines):
    """(step lines, epoch lines) among `lines`: what the page draws per step and per epoch."""
    steps = sum(1 for l in lines if "samples_per_s" in l)
    epochs = sum(1 for l in lines if "samples_per_s" not in l and "loss" in l)
    return steps, epochs


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def open_in_browser(url, work, budget_ms, screenshot):
    """The page's DOM after `budget_ms` of the page's virtual time, and its screenshot. Virtual
    time skips the page's waits between polls but stands still while a request is out, so the
    page polls budget_ms / 500 times, as fast as the server answers."""
    profile = tempfile.mkdtemp(prefix="chromium-", dir=work)
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
           "--disable-extensions", "--hide-scrollbars", "--mute-audio", f"--user-data-dir={profile}",
           "--window-size=1400,1050", f"--virtual-time-budget={budget_ms}", f"--screenshot={screenshot}",
           "--dump-dom", url]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    shutil.rmtree(profile, ignore_errors=True)
    check(r.returncode == 0, f"chromium exited {r.returncode}: {r.stderr[-2000:]}")
    return r.stdout


def legend_items(dom):
    """The page's list of runs: {run id: {attribute: value}} from <li class="run" data-...>."""
    items = {}
    for tag in re.findall(r'<li class="run"[^>]*>', dom):
        attrs = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', tag))
        items[int(attrs["run"])] = attrs
    return items


def case_browser(runner, work):
    if not chromium():
        print("SKIP: chromium is not installed (bash scripts/setup.sh --test installs Debian's chromium)")
        sys.exit(SKIP)
    # Run A: finished. Run B: started now and still training while the page follows it.
    done = write_graph(work, "finished", rows=256, units=32, extra_train=", epochs: 12, log_every_steps: 3")
    code, out = run(runner, ["train", str(done), "--threads", "1", "--metrics", "finished.jsonl"], work)
    check(code == 0, f"train finished.yaml: {out}")
    a_lines = metrics_lines(work / "finished.jsonl")
    check(counts(a_lines) == (12 * 12 // 3, 12), f"finished.jsonl: {counts(a_lines)} (step, epoch) lines")
    growing = write_graph(work, "growing", rows=2048, units=256,
                          extra_train=", epochs: 100000, log_every_steps: 48")
    (work / "growing.jsonl").unlink(missing_ok=True)
    trainer = subprocess.Popen([runner, "train", str(growing), "--threads", "1", "--metrics", "growing.jsonl"],
                               cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    dash = Dashboard(runner, ["dashboard", "finished.jsonl", "growing.jsonl", "--port", "0"], work)
    # When each line count of the growing file was first seen (every 20 ms): the reference
    # the page's arrival times are compared with (both are this machine's wall clock).
    seen, stop = [], threading.Event()

    def tail():
        last = 0
        while not stop.is_set():
            try:
                n = (work / "growing.jsonl").read_bytes().count(b"\n")
            except FileNotFoundError:
                n = 0
            if n > last:
                seen.append((n, time.time() * 1000))
                last = n
            time.sleep(0.02)

    watcher = threading.Thread(target=tail)
    watcher.start()
    try:
        shot = work / "dashboard.png"
        shot.unlink(missing_ok=True)
        dom = open_in_browser(f"http://127.0.0.1:{dash.port}/", work, 15000, shot)
    finally:
        stop.set()
        watcher.join()
        trainer.terminate()
        trainer.wait()
        code, err = dash.stop()
    check(code == 0, f"the dashboard exited {code} on SIGTERM: {err}")
    (work / "dashboard.html").write_text(dom)  # kept beside the screenshot, for a failing run
    check(shot.exists() and shot.stat().st_size > 10000, f"no screenshot at {shot}")
    check(shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{shot} is not a PNG")

    items = legend_items(dom)
    check(set(items) == {0, 1}, f"the page lists runs {sorted(items)}, expected 0 and 1")
    a, b = items[0], items[1]
    # A: every line, as the file holds them.
    check(a["state"] == "live" and int(a["lines"]) == len(a_lines), f"finished.jsonl on the page: {a}")
    check((int(a["step-points"]), int(a["epoch-points"])) == counts(a_lines),
          f"finished.jsonl drawn with {a['step-points']} step and {a['epoch-points']} epoch points, expected "
          f"{counts(a_lines)}")
    # B: as many points as the lines of the file up to the last one the page had.
    b_all = metrics_lines(work / "growing.jsonl")
    shown = int(b["lines"])
    check(b["state"] == "live" and 0 < shown <= len(b_all), f"growing.jsonl on the page: {b}")
    check((int(b["step-points"]), int(b["epoch-points"])) == counts(b_all[:shown]),
          f"growing.jsonl drawn with {b['step-points']} step and {b['epoch-points']} epoch points for its first "
          f"{shown} lines, expected {counts(b_all[:shown])}")
    # Lines appended while the page was open appear on it within 2 seconds.
    arrivals = [tuple(map(int, x.split("@"))) for x in b["arrivals"].split()]
    check(arrivals, "the page recorded no arrival of growing.jsonl's lines")
    first_answer, last_answer = arrivals[0][1], int(re.search(r'data-answered-at="(\d+)"', dom).group(1))
    verified = 0
    for n, t in seen:
        if t <= first_answer:
            continue  # already there when the page opened
        in_time = [at for count, at in arrivals if count >= n and at <= t + 2000]
        if in_time:
            verified += 1
        elif t + 2000 <= last_answer:
            fail(f"line {n} of growing.jsonl, written at {t:.0f} ms, was not on the page 2 s later "
                 f"(arrivals: {arrivals[:20]}...)")
    check(verified > 0, f"no line was appended to growing.jsonl while the page was open (seen: {seen[:5]}..., "
                        f"page answers {first_answer}..{last_answer})")
    print(f"browser: finished.jsonl {a['step-points']} step + {a['epoch-points']} epoch points, growing.jsonl "
          f"{shown} lines ({b['step-points']} + {b['epoch-points']} points), {verified} appended lines shown within "
          f"2 s; screenshot {shot}")


def case_paths(runner, work):
    (work / "run.jsonl").write_text('{"epoch": 1, "loss": 0.5, "step": 10}\n')
    dash = Dashboard(runner, ["dashboard", "run.jsonl", "--port", "0"], work)
    try:
        for path, kind in [("/", "text/html"), ("/dashboard.js", "text/javascript"), ("/dashboard.css", "text/css"),
                           ("/chart.js", "text/javascript"), ("/api/runs", "application/json")]:
            c = http.client.HTTPConnection("127.0.0.1", dash.port, timeout=30)
            c.request("GET", path)
            r = c.getresponse()
            r.read()
            check(r.status == 200 and r.getheader("Content-Type", "").startswith(kind),
                  f"GET {path}: {r.status} {r.getheader('Content-Type')}")
            check(r.getheader("Cache-Control") == "no-store", f"GET {path}: Cache-Control {r.getheader('Cache-Control')}")
        for path in ["/../../etc/passwd", "/..%2f..%2fetc%2fpasswd", "/%2e%2e/%2e%2e/etc/passwd", "/etc/passwd",
                     "//etc/passwd", "/chart.js/../../../../etc/passwd", "/api/runs/../../../etc/passwd",
                     "/run.jsonl", "/./run.jsonl", "/api/run.jsonl", "/index.html", "/dashboard.js.map", "/api",
                     "/api/runs/0", "/favicon.ico", "/usr/share/javascript/chart.js/chart.min.js",
                     "/static/../chart.js/../../etc/passwd"]:
            status, body = dash.get(path)
            check((status, body) == (404, "404 not found\n"), f"GET {path}: {status} {body[:80]!r}, expected 404")
        status, _ = dash.get("/", method="POST")
        check(status == 404, f"POST /: {status}, expected 404")
        for host in ["localhost", "127.0.0.1"]:
            status, _ = dash.get("/", host=f"{host}:{dash.port}")
            check(status == 200, f"GET / with Host {host}: {status}")
        status, body = dash.get("/api/runs", host="attacker.example:80")
        check((status, body) == (403, "403 forbidden: this dashboard answers to localhost only\n"),
              f"GET /api/runs with Host attacker.example: {status} {body!r}")
        # Nothing about the request leaks the runs' bytes: the served line is the checked object.
        lines = dash.runs()["runs"][0]["lines"]
        check(lines == [{"epoch": 1, "loss": 0.5, "step": 10}], f"/api/runs lines: {lines}")
    finally:
        code, err = dash.stop()
    check(code == 0 and err == "", f"dashboard: exit {code}, stderr {err!r}")
    print("paths: 17 other paths 404, another Host 403")


def case_bad_files(runner, work):
    def refused(name, content, message):
        p = work / name
        if content is not None:
            p.write_text(content)
        code, out = run(runner, ["dashboard", name, "--port", "0"], work)
        check((code, out) == (1, f"error: {message}\n"), f"dashboard {name}: exit {code}, output {out!r}, "
                                                          f"expected 1 and 'error: {message}'")

    refused("table.csv", "x,y\n1,2\n", "table.csv:1: not JSON: a --metrics file holds one JSON object per line")
    refused("array.jsonl", "[1, 2]\n", "array.jsonl:1: expected a JSON object, got an array")
    refused("keys.jsonl", '{"epoch": 1, "loss": 0.5}\n{"eopch": 2, "loss": 0.4}\n',
            "keys.jsonl:2: expected 'epoch' and 'loss' (an epoch's line), 'step', 'loss' and 'samples_per_s' "
            "(a step line) or 'step' and 'val_loss' (a validation inside an epoch)")
    refused("text.jsonl", '{"epoch": 1, "loss": "low"}\n', "text.jsonl:1: 'loss' must be a number, got \"low\"")
    refused("nowhere/run.jsonl", None, "cannot watch nowhere/run.jsonl: there is no folder nowhere")
    (work / "folder.jsonl").mkdir(exist_ok=True)
    refused("folder.jsonl", None, "folder.jsonl is a directory, not a --metrics file")
    check(run(runner, ["dashboard", "--port", "0"], work)[0] == 2, "dashboard without a run: exit 2")
    check(run(runner, ["dashboard", "r.jsonl", "--port", "70000"], work)[0] == 2, "--port 70000: exit 2")

    # A line cut mid-write waits for its end; a file that does not exist yet waits for the file;
    # a bad line written later is shown on the page, said once on stderr, and the rest is kept.
    (work / "torn.jsonl").write_text('{"epoch": 1, "loss": 0.5, "step": 4}\n{"epoch": 2, "lo')
    (work / "later.jsonl").unlink(missing_ok=True)
    dash = Dashboard(runner, ["dashboard", "torn.jsonl", "later.jsonl", "--port", "0"], work)
    try:
        check(dash.lines[0] == "waiting for later.jsonl: it does not exist yet\n", f"first line {dash.lines[0]!r}")
        runs = dash.runs()["runs"]
        check([(r["state"], r["total"]) for r in runs] == [("live", 1), ("waiting", 0)], f"runs: {runs}")
        check(runs[1]["message"] == "waiting for later.jsonl: it does not exist yet", runs[1]["message"])
        with open(work / "torn.jsonl", "a") as f:
            f.write('ss": 0.25, "step": 8}\n')
        (work / "later.jsonl").write_text("")
        runs = dash.runs()["runs"]
        check(runs[0]["lines"][-1] == {"epoch": 2, "loss": 0.25, "step": 8} and runs[0]["total"] == 2,
              f"the line's end was written, but: {runs[0]}")
        check((runs[1]["state"], runs[1]["message"]) == ("waiting", "waiting for later.jsonl: it holds no whole line yet"),
              f"later.jsonl: {runs[1]}")
        with open(work / "torn.jsonl", "a") as f:
            f.write("garbage\n" + '{"epoch": 3, "loss": 0.125, "step": 12}\n')
        runs = dash.runs()["runs"]
        check(runs[0]["state"] == "failed" and runs[0]["total"] == 3 and
              runs[0]["message"] == "torn.jsonl:3: not JSON: a --metrics file holds one JSON object per line "
                                    "(1 line left out)", f"after a bad line: {runs[0]}")
        # A client that asks for what it has gets only what is new; an unknown generation, all.
        again = dash.runs("?have=0.2")["runs"][0]
        check(again["from"] == 2 and [l["epoch"] for l in again["lines"]] == [3], f"have=0.2: {again}")
        check(dash.runs("?have=9.2,x.y")["runs"][0]["from"] == 0, "have=9.2: not from 0")
        # A new run over the same path (train truncates its --metrics) starts the lines again.
        (work / "torn.jsonl").write_text('{"epoch": 1, "loss": 0.75, "step": 4}\n')
        run0 = dash.runs()["runs"][0]
        check((run0["generation"], run0["state"], run0["total"]) == (1, "live", 1), f"rewritten: {run0}")
    finally:
        code, err = dash.stop()
    check(code == 0, f"dashboard exit {code}")
    check(err == "warning: torn.jsonl:3: not JSON: a --metrics file holds one JSON object per line (1 line left out)\n",
          f"stderr {err!r}")
    print("bad_files: 6 refusals, a torn line, a missing file, a bad line later, a rewritten file")


def case_ports(runner, work):
    (work / "run.jsonl").write_text('{"epoch": 1, "loss": 0.5, "step": 10}\n')
    first = Dashboard(runner, ["dashboard", "run.jsonl", "--port", "0"], work)
    try:
        port = first.port
        code, out = run(runner, ["dashboard", "run.jsonl", "--port", str(port)], work)
        expected = (f"error: cannot listen on 127.0.0.1:{port}: the port is in use (another dashboard? --port "
                    f"picks another)\n")
        check((code, out) == (1, expected), f"a second dashboard on {port}: exit {code}, {out!r}")
        graph = write_graph(work, "tiny", rows=64, units=8, extra_train=", epochs: 2")
        code, out = run(runner, ["train", str(graph), "--dashboard", str(port), "--metrics", "m.jsonl"], work)
        check(code == 1 and out.endswith(expected) and "epoch 1/2" not in out,
              f"train --dashboard {port} with the port in use: exit {code}, {out!r}")
        check(first.runs()["runs"][0]["total"] == 1, "the first dashboard stopped serving")
    finally:
        code, _ = first.stop()
    check(code == 0, f"dashboard exit {code}")
    code, out = run(runner, ["dashboard", "run.jsonl", "--host", "192.0.2.1", "--port", "0"], work)
    check((code, out) == (1, "error: cannot listen on 192.0.2.1: '192.0.2.1' is not an address of this machine\n"),
          f"--host 192.0.2.1: exit {code}, {out!r}")
    print(f"ports: port {port} in use refused by dashboard and train --dashboard")


def case_train(runner, work):
    graph = write_graph(work, "served", rows=512, units=64, extra_train=", epochs: 100000, log_every_steps: 4")
    dash = Dashboard(runner, ["train", str(graph), "--threads", "1", "--dashboard", "0", "--metrics", "served.jsonl"],
                     work, pattern=r"dashboard: http://127\.0\.0\.1:(\d+)/ shows this run \(served\.jsonl\)")
    try:
        deadline = time.time() + 60
        while True:
            runs = dash.runs()["runs"]
            if runs[0]["total"] >= 3:
                break
            check(time.time() < deadline, f"no lines served within 60 s: {runs}")
            time.sleep(0.2)
        check([r["path"] for r in runs] == ["served.jsonl"], f"runs: {runs}")
        on_disk = metrics_lines(work / "served.jsonl")
        check(runs[0]["lines"] == on_disk[:len(runs[0]["lines"])], "served lines differ from the file's")
    finally:
        dash.proc.kill()
        dash.proc.wait()
    # Without --metrics: a temporary file, removed at the end; the address is printed.
    graph = write_graph(work, "short", rows=64, units=8, extra_train=", epochs: 3, log_every_steps: 2")
    code, out = run(runner, ["train", str(graph), "--dashboard", "0"], work)
    m = re.search(r"dashboard: http://127\.0\.0\.1:\d+/ shows this run \((.*gradflow-short-\d+\.jsonl)\)\n", out)
    check(code == 0 and m, f"train --dashboard 0: exit {code}, {out!r}")
    check(not os.path.exists(m.group(1)), f"{m.group(1)} was left behind")
    print("train: train --dashboard serves its --metrics file, or a temporary one it removes")


CASES = {"browser": case_browser, "paths": case_paths, "bad_files": case_bad_files, "ports": case_ports,
         "train": case_train}

if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[3] not in CASES:
        sys.exit(f"usage: {sys.argv[0]} GRAPH_RUNNER WORK_DIR {'|'.join(CASES)}")
    work = Path(sys.argv[2])
    work.mkdir(parents=True, exist_ok=True)
    CASES[sys.argv[3]](sys.argv[1], work)
