"""Export, checked by python3-onnx and run in ONNX Runtime against graph-runner predict (1e-5),
at batch 1 and batch 1000: every example graph in graphs/ whose ops all export, and one graph
per row of the operator table (tests/operators/op_table.cpp) whose op has an ONNX form,
built-in or example plugin, written by op_table_cases. The table itself fails on an operator
without a row, or on one whose export_onnx disagrees with what its row says. The cases of the
operators are imported again and predict the same numbers, every one of them.
Usage: test_export.py GRAPH_RUNNER SOURCE_DIR OP_TABLE_CASES WORK_DIR"""
import concurrent.futures
import glob
import os
import shutil
import subprocess
import sys

from onnx_check import compare, predict_vs_ort, read_csv, run

runner, src, cases_tool, work = sys.argv[1:5]
shutil.rmtree(work, ignore_errors=True)  # no file from an earlier run may pass for this one's
os.makedirs(work)


def table_cases():
    """(name, graph) for every row of the operator table with an ONNX form
    (tests/operators/op_table.cpp), as op_table_cases writes them: one table, here and in C++."""
    out = run([cases_tool, os.path.join(work, "cases")])
    return [tuple(line.split(" ", 1)) for line in out.splitlines() if line.strip()]


def check_graph(name, graph, extra=(), epochs=None):
    weights = os.path.join(work, f"{name}.safetensors")
    model = os.path.join(work, f"{name}.onnx")
    run([runner, "train", graph, *(["--epochs", str(epochs)] if epochs is not None else []), "--save", weights,
         *extra])
    run([runner, "export", graph, "--weights", weights, "-o", model, *extra])
    worst = predict_vs_ort(runner, graph, weights, model, work, name, extra=extra)
    return f"ok   {name}: ONNX Runtime matches predict at batch 1 and 1000 (worst error {worst:.2g})"


# The operators whose ONNX form import reads back (docs/onnx.md, What import reads): their
# exported cases are imported again and must predict what the graph they came from predicts.
# The 1-D cases (conv1d, max_pool1d, avg_pool1d) start with a linear over [C, L], which exports
# as Transpose + MatMul; import of those comes with the tensor operators (issue 26), so their
# import is checked on torch's exports (test_import.py) until then.
def check_imports_back(name, graph):
    weights, model = os.path.join(work, f"{name}.safetensors"), os.path.join(work, f"{name}.onnx")
    graph_back, weights_back = os.path.join(work, f"{name}_back.yaml"), os.path.join(work, f"{name}_back.safetensors")
    run([runner, "import", model, "-o", graph_back, "--weights", weights_back])
    inputs = os.path.join(work, f"{name}_in1000.csv")
    header, ours = read_csv(run([runner, "predict", graph, "--weights", weights, "--input", inputs]))
    _, back = read_csv(run([runner, "predict", graph_back, "--weights", weights_back, "--input", inputs]))
    worst = compare(f"{name} imported back", (header, ours), (header, back))
    return f"ok   {name}: its ONNX export imports back and predicts the same (worst error {worst:.2g})"


def check_example(graph):
    name = os.path.splitext(os.path.basename(graph))[0]
    weights = os.path.join(work, f"{name}.safetensors")
    run([runner, "train", graph, "--epochs", "0", "--save", weights])
    p = subprocess.run([runner, "export", graph, "--weights", weights, "-o", os.path.join(work, name + ".onnx")],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0 and "no ONNX mapping exists" in p.stderr:
        return f"skip {name}: an op without an ONNX mapping ({p.stderr.strip()})"
    return check_graph(name, graph, epochs=0)


def check_case(name, graph):
    lines = [check_graph(name, graph)]
    lines.append(check_imports_back(name, graph))
    return "\n".join(lines)


def main():
    cases = table_cases()
    if not cases:
        sys.exit(f"FAIL: {cases_tool} wrote no case")
    # Each check writes files of its own name only, so they run side by side (about 130 checks
    # of several processes each: minutes under the sanitizers); reports print in order, and the
    # first failure (run() and compare() exit) ends the test with its message.
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 1)) as pool:
        checks = [pool.submit(check_example, graph) for graph in sorted(glob.glob(os.path.join(src, "graphs", "*.yaml")))]
        checks += [pool.submit(check_case, name, graph) for name, graph in cases]
        try:
            for check in checks:
                print(check.result(), flush=True)
        except SystemExit:
            pool.shutdown(cancel_futures=True)  # the checks not started yet are not run
            raise


main()
