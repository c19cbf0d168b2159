#!/usr/bin/env python3
# Usage: git worktree add /tmp/old 0890d81 && cmake -S /tmp/old -B /tmp/old/build && cmake --build /tmp/old/build --target gradflow-bench; then python3 bench/experiments/layout_ab.py from the repository root (after scripts/build.sh).
# Interleaved A/B of gradflow-bench: the commit before the engine's new layout (0890d81) and now.
import json, os, statistics, subprocess
env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
env["OPENBLAS_CORETYPE"] = "SkylakeX"
sides = {"old": ("/tmp/old/build/bench/gradflow-bench", "/tmp/old/bench/graphs"),
         "new": ("build/bench/gradflow-bench", "bench/graphs")}
work = [["mnist", "--threads", "1"], ["mnist", "--threads", "2"], ["mnist", "--batch", "256", "--threads", "1"],
        ["large", "--threads", "2"], ["wide", "--threads", "1"], ["wide", "--threads", "2"], ["xor", "--threads", "1"]]
res = {}
for rnd in range(3):
    for w in work:
        for side in ("old", "new") if rnd % 2 == 0 else ("new", "old"):
            b, g = sides[side]
            out = subprocess.run([b, *w, "--graphs", g], capture_output=True, text=True, env=env).stdout
            d = json.loads(out)
            res.setdefault(" ".join(w), {}).setdefault(side, []).extend(d["samples"])
            metric = d["metric"]
        res[" ".join(w)]["metric"] = metric
for w, r in res.items():
    o, n = statistics.median(r["old"]), statistics.median(r["new"])
    print(f"{w:32s} {r['metric']:14s} old {o:.4g}  new {n:.4g}  new/old {n/o:.3f}")
