"""validate builds the model without touching its tensors: a graph of 100,000,000 hidden units
(1.2 GB of parameters, 3.6 GB with gradients and Adam's state) validates in a few megabytes.
Was 6.2 GB (issue: "validate of units: 100000000 allocates 5 GB before refusing").
Usage: validate_memory.py GRAPH_RUNNER WORK_DIR"""
import os
import subprocess
import sys

runner, work = sys.argv[1:3]
os.makedirs(work, exist_ok=True)
graph = os.path.join(work, "wide.yaml")
with open(graph, "w") as f:
    f.write("graph: wide\nseed: 7\ninputs:\n  x: {shape: [2]}\n  y: {shape: [1]}\nnodes:\n"
            "  - {name: fc1, op: linear, inputs: [x], units: 100000000}\n"
            "  - {name: h1, op: sigmoid, inputs: [fc1]}\n"
            "  - {name: fc2, op: linear, inputs: [h1], units: 1}\n"
            "  - {name: loss, op: mse, inputs: [fc2, y]}\n"
            "  - {name: opt, op: adam, inputs: [loss], lr: 0.1}\n"
            "data:\n  train:\n    x: [[0, 0], [0, 1]]\n    y: [[0], [1]]\n")
# The budget is lifted so that a small machine's limit (its physical memory) does not refuse
# the graph first: what is measured is the memory validate touches.
env = dict(os.environ, GRADFLOW_MEMORY_LIMIT="64G")
child = subprocess.Popen([runner, "validate", graph], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
output = child.stdout.read()
_, status, usage = os.wait4(child.pid, 0)
peak_mb = usage.ru_maxrss / 1024
print(f"validate: exit {os.waitstatus_to_exitcode(status)}, peak RSS {peak_mb:.0f} MB")
if os.waitstatus_to_exitcode(status) != 0 or not output.rstrip().endswith("wide.yaml: valid"):
    sys.exit(f"FAIL: validate did not accept the graph:\n{output}")
if "400000001 parameters" not in output:  # fc1: 200,000,000 + 100,000,000; fc2: 100,000,000 + 1
    sys.exit(f"FAIL: the table does not count 400000001 parameters:\n{output}")
if peak_mb > 256:
    sys.exit(f"FAIL: validate's peak RSS is {peak_mb:.0f} MB; it must not touch the parameters' storage")
