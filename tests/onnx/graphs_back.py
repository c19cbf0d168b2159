"""gradflow's own export of every example graph (graphs/*.yaml), imported back: the imported
graph predicts what the original does (3e-5: a fused operator such as multihead_attention
comes back as the matmul, softmax and reshape nodes its export wrote, which round differently;
the transformer's four blocks measured 1e-5). A graph whose ops do not all import would be
listed in CANNOT with the error import gives (none is), so that one starting to import, or
another stopping, fails the test."""
import glob
import os
import subprocess

from onnx_check import check_model, compare, read_csv, run, sample_shapes, token_inputs, write_inputs

# graph -> what import says when it cannot import it back: none today.
CANNOT = {}


def import_back(runner, graph, work):
    name = os.path.splitext(os.path.basename(graph))[0]
    weights, model = os.path.join(work, f"{name}.safetensors"), os.path.join(work, f"{name}.onnx")
    run([runner, "train", graph, "--epochs", "0", "--save", weights])
    p = subprocess.run([runner, "export", graph, "--weights", weights, "-o", model], capture_output=True, text=True)
    if p.returncode != 0:
        return name, f"not exported: {p.stderr.strip()}"
    back, back_weights = os.path.join(work, f"{name}_back.yaml"), os.path.join(work, f"{name}_back.safetensors")
    p = subprocess.run([runner, "import", model, "-o", back, "--weights", back_weights], capture_output=True, text=True)
    if p.returncode != 0:
        return name, p.stderr.strip()
    onnx_model = check_model(model)
    inputs = os.path.join(work, f"{name}_x.csv")
    write_inputs(inputs, sample_shapes(onnx_model), 50, seed=3, ids=token_inputs(onnx_model))
    header, ours = read_csv(run([runner, "predict", graph, "--weights", weights, "--input", inputs]))
    _, again = read_csv(run([runner, "predict", back, "--weights", back_weights, "--input", inputs]))
    return name, compare(f"{name} exported and imported back", (header, ours), (header, again), tolerance=3e-5)
