"""Rows of the benchmark's table that the MLP, CNN and sequence workloads share."""


def memory_row(label, memory, divisor, status):
    """A peak-RSS row: gradflow, torch and LibTorch in MiB (n/a for a side that did not run),
    torch's over gradflow's, and the target gradflow <= torch / divisor judged by `status`."""
    gm, tm, lm = (memory.get(side, {}).get("peak_rss_mib") for side in ("gradflow", "torch", "libtorch"))

    def mib(v):
        return f"{v:.0f}" if v else "n/a"

    return [label, "MiB", mib(gm), mib(tm), mib(lm), f"{tm / gm:.2f}x" if gm and tm else "n/a",
            f"gf <= 1/{divisor} torch", status(gm <= tm / divisor if gm and tm else None)]
