"""The sequence workloads of issues 16 and 25 for bench/run.py: the byte-level transformer's training
step (bench/graphs/transformer.yaml, graphs/fortunes_transformer.yaml's network), one causal
attention layer forward and backward at T 128 and T 512 (bench/graphs/attention_t*.yaml), and
sampling speed (`generate`) at three prompt lengths; the byte-level LSTM language model's training step
(bench/graphs/lstm.yaml, graphs/fortunes_lstm.yaml's network). gradflow at 1 and 2 threads against
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
    "lstm": ({"--steps": 5}, {"--steps": 5}, 2),
    "lstm_memory": ({"--reps": 1, "--steps": 5}, {"--reps": 1, "--steps": 5}, 1),
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
    "lstm": (_TINY, _TINY, 2),
    "lstm_memory": (_TINY | {"--reps": 1}, _TINY | {"--reps": 1}, 1),
}
DRIVER = {"transformer_memory": "transformer", "attention_t128": "attention", "attention_t512": "attention",
          "generate_p1": "generate", "generate_p64": "generate", "generate_p128": "generate",
          "lstm_memory": "lstm"}
TIMED = ("transformer", "attention_t128", "attention_t512", "generate_p1", "generate_p64", "generate_p128",
         "lstm")
TRANSFORMER_FLOPS = 23.35e9 / 32  # a step's per window: torch_bench.py's transformer_step_flops(1)
# The LSTM's step per window: T 128 positions of 2·(4H·(E+H) + 4H·2H + H·V) multiply-adds forward
# (H 256, E 64, vocabulary 256; two layers, the output linear), and twice that backward.
LSTM_FLOPS = 3 * 128 * 2 * (4 * 256 * (64 + 256) + 4 * 256 * 512 + 256 * 256)
MEMORY = {"memory": "transformer_memory", "memory_lstm": "lstm_memory"}  # result key -> workload
# Workloads whose sides alternate round after round (run.py's Bench.interleaved), so that a shared
# machine's load falls on both alike: short steps, compared with a 1.5x target.
INTERLEAVED = {"lstm": 4}  # workload -> rounds


def run(b, figure_of, only=None):
    """{"workloads": {w: {side: {threads: figure}}}, "memory": {side: {"peak_rss_mib"}},
    "memory_lstm": ..., "failed": {w: message}} for the Bench `b` of run.py; `only`: these
    workloads (of TIMED) and their memory rows alone."""
    out = {"workloads": {}, "failed": {}}
    peers = [p for p in b.peers() if p == "torch"]
    for w in [w for w in TIMED if only is None or w in only]:
        row = {"gradflow": {}, "torch": {}, "libtorch": {}}
        out["workloads"][w] = row
        if w in INTERLEAVED and not b.a.smoke:
            try:
                configs = [(w, side, t) for t in (1, 2) for side in ["gradflow"] + peers]
                for (side, t), figure in b.interleaved(configs, INTERLEAVED[w])[w].items():
                    row[side][t] = figure
            except RuntimeError as e:
                out["failed"][w] = str(e).splitlines()[-1][-300:]
            continue
        for side in ["gradflow"] + peers:
            # --smoke: torch at 1 thread only (each torch process takes seconds to start)
            for t in (1, 2) if side == "gradflow" or not b.a.smoke else (1,):
                try:
                    r = b.side(side, w, t, b.plan[w][2])
                    row[side][t] = figure_of(r) | {k: r[k] for k in ("batch", "seq", "prompt", "length") if k in r}
                except RuntimeError as e:
                    out["failed"][f"{w} {side}"] = str(e).splitlines()[-1][-300:]
                    break
    for key, workload in MEMORY.items():
        if only is not None and DRIVER[workload] not in only:
            continue
        out[key] = {}
        for side in ["gradflow"] + peers:
            try:
                out[key][side] = {"peak_rss_mib": b.side(side, workload, 1, 1)["peak_rss_mib"]}
            except RuntimeError as e:
                out["failed"][f"{workload} {side}"] = str(e).splitlines()[-1][-300:]
    return out


# The sequence lines of the report's table, in its order (bench/table.py says what each field means).
Row = table.Row
NO_TARGET = "(none)"
NO_CACHE = "(none; neither side keeps a key/value cache)"
ROWS = [
    Row("10 transformer b32 step, gf 1t", "ms/step", ("transformer", 1), "fastest", "best peer", 1.5, 1e3,
        flops=TRANSFORMER_FLOPS),
    Row("10 transformer b32 step, gf 2t", "ms/step", ("transformer", 2), "fastest", "best peer", 1.5, 1e3,
        flops=TRANSFORMER_FLOPS),
    Row("11 peak RSS, transformer b32", "MiB", ("memory", None), "memory", "torch/gf", 2),
    Row("12 attention T128 b32 fwd+bwd, gf 1t", "ms/step", ("attention_t128", 1), "fastest", "none", scale=1e3,
        note=NO_TARGET),
    Row("12 attention T128 b32 fwd+bwd, gf 2t", "ms/step", ("attention_t128", 2), "fastest", "none", scale=1e3,
        note=NO_TARGET),
    Row("12 attention T512 b8 fwd+bwd, gf 1t", "ms/step", ("attention_t512", 1), "fastest", "none", scale=1e3,
        note=NO_TARGET),
    Row("12 attention T512 b8 fwd+bwd, gf 2t", "ms/step", ("attention_t512", 2), "fastest", "none", scale=1e3,
        note=NO_TARGET),
    Row("13 generate, prompt 1, gf 1t", "bytes/s", ("generate_p1", 1), "highest", "gf/peer",
        note=NO_CACHE),
    Row("13 generate, prompt 1, gf 2t", "bytes/s", ("generate_p1", 2), "highest", "gf/peer",
        note=NO_CACHE),
    Row("13 generate, prompt 64, gf 1t", "bytes/s", ("generate_p64", 1), "highest", "gf/peer",
        note=NO_CACHE),
    Row("13 generate, prompt 64, gf 2t", "bytes/s", ("generate_p64", 2), "highest", "gf/peer",
        note=NO_CACHE),
    Row("13 generate, prompt 128, gf 1t", "bytes/s", ("generate_p128", 1), "highest", "gf/peer",
        note=NO_CACHE),
    Row("13 generate, prompt 128, gf 2t", "bytes/s", ("generate_p128", 2), "highest", "gf/peer",
        note=NO_CACHE),
    # Issue 25: graphs/fortunes_lstm.yaml's step (bench/graphs/lstm.yaml) against torch's own CPU LSTM.
    Row("15 lstm LM b32 step, gf 1t", "ms/step", ("lstm", 1), "fastest", "best peer", 1.5, 1e3, flops=LSTM_FLOPS),
    Row("15 lstm LM b32 step, gf 2t", "ms/step", ("lstm", 2), "fastest", "best peer", 1.5, 1e3, flops=LSTM_FLOPS),
    Row("15 peak RSS, lstm LM b32", "MiB", ("memory_lstm", None), "memory", "torch/gf", 1),
]


def rows(seq, judge):
    """The table's sequence lines (run.py's 8 columns) for what run() measured."""
    return table.render(seq, [r for r in ROWS if r.gradflow[0] in seq or r.gradflow[0] in seq["workloads"]], judge)


def figures(seq):
    """Every median taken, for the smoke check."""
    return [s["median"] for w in seq["workloads"].values() for side in w.values() for s in side.values()]

