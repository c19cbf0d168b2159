#!/usr/bin/python3
"""A gradflow checkpoint of graphs/digits_conv1d.yaml loads into its PyTorch twin
(bench/twins/digits_conv1d_torch.py) with load_state_dict(strict=True) and gives the same logits
in evaluation mode: conv1d, batch_norm over [C, L], max_pool1d, avg_pool1d, dropout, linear.

    torch_loads_conv1d.py GRAPH_RUNNER SOURCE_DIR WORK_DIR

The comparison is torch_loads_cnn.py's (2 epochs, 40 digits, graph-runner predict at 1e-4),
with the digits read as sequences [8, 8].
"""
import os
import sys

import torch_loads_cnn

if __name__ == "__main__":
    runner, source, work = sys.argv[1:4]
    sys.path.insert(0, os.path.join(source, "bench", "twins"))
    from digits_conv1d_torch import DigitsConv1d  # noqa: E402  the twin's own module

    torch_loads_cnn.main(runner, source, work, "digits_conv1d", DigitsConv1d(), (8, 8))
