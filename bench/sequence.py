"""The sequence workloads of issue 16 for bench/run.py: the byte-level transformer's training
step (bench/graphs/transformer.yaml, graphs/fortunes_transformer.yaml's network), one causal
attention layer forward and backward at T 128 and T 512 (bench/graphs/attention_t*.yaml), and
sampling speed (`generate`) at three prompt lengths. gradflow at 1 and 2 threads against
PyTorch eager at its better of 1 and 2 (the LibTorch twin has none of these). A gradflow side
that fails (an operator not built yet) is noted and its rows show n/a; the peer's figures are
still taken.
"""
import table  # bench/table.py

# workload -> (gradflow driver args, peer driver args, reps), as run.py's FULL and SMOKE.
_SEQ = {"--samples": 18117}
FULL = {
    "transformer": ({"--steps": 10}, {"--steps": 10}, 3),
    "transformer_memory": ({"--reps": 1, "--steps": 5}, {"--reps": 1, "--steps": 5}, 1),
    "attention_t128": ({"--seq": 128, "--steps": 10}, {"--seq": 128, "--steps": 10}, 3),
    "attention_t512": ({"--seq": 512, "--steps": 5}, {"--seq": 512, "--steps": 5}, 3),
    "generate_p1": ({"--prompt": 1, "--length": 64}, {"--prompt": 1, "--length": 64}, 3),
    "generate_p64": ({"--prompt": 64, "--length": 64}, {"--prompt": 64, "--length": 64}, 3),
    "generate_p128": ({"--prompt": 128, "--length": 64}, {"--prompt": 128, "--length": 64}, 3),
}
_TINY = {"--samples": 64, "--batch": 2, "--steps": 2}
SMOKE = {
    "transformer": (_TINY, _TINY, 2),
    "transformer_memory": (_TINY | {"--reps": 1}, _TINY | {"--reps": 1}, 1),
    "attention_t128": ({"--seq": 128, "--batch": 2, "--steps": 2}, {"--seq": 128, "--batch": 2, "--steps": 2}, 2),
    "attention_t512": ({"--seq": 512, "--batch": 1, "--steps": 1}, {"--seq": 512, "--batch": 1, "--steps": 1}, 1),
    "generate_p1": ({"--prompt": 1, "--length": 4}, {"--prompt": 1, "--length": 4}, 1),
    "generate_p64": ({"--prompt": 64, "--length": 4}, {"--prompt": 64, "--length": 4}, 1),
    "generate_p128": ({"--prompt": 128, "--length": 4}, {"--prompt": 128, "--length": 4}, 1),
}
DRIVER = {"transformer_memory": "transformer", "attention_t128": "attention", "attention_t512": "attention",
          "generate_p1": "generate", "generate_p64": "generate", "generate_p128": "generate"}
TIMED = ("transformer", "attention_t128", "attention_t512", "generate_p1", "generate_p64", "generate_p128")
TRANSFORMER_FLOPS = 23.35e9 / 32  # a step's per window: torch_bench.py's transformer_step_flops(1)


def run(b, figure_of):
    """{"workloads": {w: {side: {threads: figure}}}, "memory": {side: {"peak_rss_mib"}},
    "failed": {w: message}} for the Bench `b` of run.py."""
    out = {"workloads": {}, "memory": {}, "failed": {}}
    peers = [p for p in b.peers() if p == "torch"]
    for w in TIMED:
        row = {"gradflow": {}, "torch": {}, "libtorch": {}}
        for side in ["gradflow"] + peers:
            # --smoke: torch at 1 thread only (each torch process takes seconds to start)
            for t in (1, 2) if side == "gradflow" or not b.a.smoke else (1,):
                try:
                    r = b.side(side, w, t, b.plan[w][2])
                    row[side][t] = figure_of(r) | {k: r[k] for k in ("batch", "seq", "prompt", "length") if k in r}
                except RuntimeError as e:
                    out["failed"][f"{w} {side}"] = str(e).splitlines()[-1][-300:]
                    break
        out["workloads"][w] = row
    for side in ["gradflow"] + peers:
        try:
            out["memory"][side] = {"peak_rss_mib": b.side(side, "transformer_memory", 1, 1)["peak_rss_mib"]}
        except RuntimeError as e:
            out["failed"][f"transformer_memory {side}"] = str(e).splitlines()[-1][-300:]
    return out


def _fmt(s, scale=1.0, digits=3):
    if s is None:
        return "n/a"
    return f"{s['median'] * scale:.{digits}g} [{s['min'] * scale:.{digits}g}, {s['max'] * scale:.{digits}g}]"


def _best(runs, lower_is_better):
    if not runs:
        return None
    t = (min if lower_is_better else max)(runs, key=lambda k: runs[k]["median"])
    return t, runs[t]


def rows(seq, status):
    """Table rows (run.py's 8 columns) for the result of run()."""
    out = []
    W = seq["workloads"]
    tr = W.get("transformer", {})
    tb = _best(tr.get("torch"), True)
    for t in (1, 2):
        g = tr.get("gradflow", {}).get(t)
        r = tb[1]["median"] / g["median"] if tb and g else None
        gflops = f"; gf {TRANSFORMER_FLOPS * g.get('batch', 32) / g['median'] / 1e9:.0f} GFLOP/s" if g else ""
        out.append([f"10 transformer b32 step, gf {t}t", "ms/step", _fmt(g, 1e3),
                    _fmt(tb[1], 1e3) + f" @{tb[0]}t" if tb else "n/a", "n/a", f"{r:.2f}x" if r else "n/a",
                    f">=1.5x best peer{gflops}", status(r >= 1.5 if r else None)])
    out.append(table.memory_row("11 peak RSS, transformer b32", seq["memory"], 2, status))
    for w, what in (("attention_t128", "T128 b32"), ("attention_t512", "T512 b8")):
        tb = _best(W.get(w, {}).get("torch"), True)
        for t in (1, 2):
            g = W.get(w, {}).get("gradflow", {}).get(t)
            r = tb[1]["median"] / g["median"] if tb and g else None
            out.append([f"12 attention {what} fwd+bwd, gf {t}t", "ms/step", _fmt(g, 1e3),
                        _fmt(tb[1], 1e3) + f" @{tb[0]}t" if tb else "n/a", "n/a", f"{r:.2f}x" if r else "n/a",
                        "(none)", ""])
    for w in ("generate_p1", "generate_p64", "generate_p128"):
        tb = _best(W.get(w, {}).get("torch"), False)
        for t in (1, 2):
            g = W.get(w, {}).get("gradflow", {}).get(t)
            r = g["median"] / tb[1]["median"] if tb and g else None
            out.append([f"13 generate, prompt {w.split('_p')[1]}, gf {t}t", "bytes/s", _fmt(g),
                        _fmt(tb[1]) + f" @{tb[0]}t" if tb else "n/a", "n/a", f"{r:.2f}x (gf/peer)" if r else "n/a",
                        "(none; neither side keeps a key/value cache)", ""])
    return out


def figures(seq):
    """Every median taken, for the smoke check."""
    return [s["median"] for w in seq["workloads"].values() for side in w.values() for s in side.values()]

