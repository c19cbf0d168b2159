"""The import tests' round of a torch model: exported by torch.onnx.export (opset 17, dynamic
batch, eval mode), imported by `graph-runner import`, validated, run by `predict` on random rows
and compared with torch; `check` also exports the imported graph again and runs it in ONNX
Runtime. Shared by test_import.py and test_import_fold.py."""
import os

import numpy as np
import torch

from onnx_check import compare, predict_vs_ort, read_csv, run


class TorchImport:
    def __init__(self, runner, work):
        self.runner, self.work = runner, work

    def export(self, name, model, sample_shape, **options):
        model.eval()
        path = os.path.join(self.work, f"{name}.onnx")
        torch.onnx.export(model, torch.zeros(1, *sample_shape), path, opset_version=17, input_names=["x"],
                          output_names=["y"], dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, **options)
        return path

    def import_and_predict(self, name, onnx_path, model, sample_shape, rows):
        """(graph, weights, inputs CSV, torch's outputs, worst error of predict against them)."""
        graph, weights = os.path.join(self.work, f"{name}.yaml"), os.path.join(self.work, f"{name}.safetensors")
        run([self.runner, "import", onnx_path, "-o", graph, "--weights", weights])
        run([self.runner, "validate", graph])
        x = np.random.default_rng(1).uniform(-2, 2, size=(rows, *sample_shape)).astype(np.float32)
        inputs = os.path.join(self.work, f"{name}_x.csv")
        np.savetxt(inputs, x.reshape(rows, -1), delimiter=",", fmt="%.9g")
        with torch.no_grad():
            expected = model(torch.from_numpy(x)).numpy().reshape(rows, -1).astype(np.float64)
        header, ours = read_csv(run([self.runner, "predict", graph, "--weights", weights, "--input", inputs]))
        worst = compare(f"{name}: predict vs torch", (header, expected), (header, ours))
        return graph, weights, inputs, expected, worst

    def check(self, name, model, sample_shape, rows=64):
        """The whole round; (graph, weights, inputs CSV, torch's outputs)."""
        graph, weights, inputs, expected, worst = self.import_and_predict(
            name, self.export(name, model, sample_shape), model, sample_shape, rows)
        again = os.path.join(self.work, f"{name}_again.onnx")
        run([self.runner, "export", graph, "--weights", weights, "-o", again])
        ort = predict_vs_ort(self.runner, graph, weights, again, self.work, f"{name}_again", batches=(1, 257))
        print(f"ok   {name}: imported, predict matches torch (worst error {worst:.2g}), exported again, ONNX Runtime "
              f"matches predict (worst error {ort:.2g})")
        return graph, weights, inputs, expected
