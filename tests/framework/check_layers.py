#!/usr/bin/env python3
"""No #include under framework/ runs up a layer (docs/design.md, "The layers").

Reads every #include line of framework/src and framework/include/gradflow. A file's layer is its
folder under src/; a public header's is the folder that implements it (src/LAYER/NAME.cpp for
include/gradflow/NAME.hpp, or PUBLIC_HEADERS below). A layer may include its own folder and the
layers of lower tiers; an include of a higher tier, or of another layer of the same tier, fails.

Usage: check_layers.py [REPOSITORY]   (ctest runs it as framework:layers)
       check_layers.py --self-test    (framework:layers_self_test: it fails where it should)
Exits 1 after naming every such include as FILE:LINE with both layers, 0 when there is none.
"""
import contextlib
import io
import pathlib
import re
import sys
import tempfile

# Lowest first. A tier's layers know nothing of each other: data never includes io, nor io data.
TIERS = [
    ["core"],                              # tensors, attributes, diagnostics, rng, files, names
    ["compute"],                           # kernels, OpenBLAS, conv, pool, attention
    ["graph"],                             # the operator contract, registry, GraphSpec, Model, scheduler
    ["data", "io", "plugin"],              # samples and CSV/IDX; safetensors, checkpoints; plugins
    ["spec"],                              # the graph file (YAML): parser, sections, sources, load_graph
    ["train"],                             # the training loop, schedules, gradcheck, classes
    ["inference", "onnx", "distributed"],  # Predictor; ONNX export/import; MPI and the launcher
]
TIER = {layer: tier for tier, layers in enumerate(TIERS) for layer in layers}

# Public headers that no src/LAYER/NAME.cpp implements: where each belongs.
PUBLIC_HEADERS = {
    "batch_source.hpp": "graph",  # what Model::load_batch reads
    "csv_idx_readers.hpp": "data",  # data/csv_reader.cpp, idx_reader.cpp, data_file_support.cpp
    "graph_file.hpp": "spec",     # parse_graph_file, load_graph (spec/graph_parser.cpp, load_graph.cpp)
    "mpi_launch.hpp": "distributed",  # distributed/launch.cpp
    "onnx.hpp": "graph",          # the operator's ONNX writer interface (the writer is onnx/)
    "operator.hpp": "graph",      # the operator contract
    "plugin.hpp": "plugin",       # plugin/plugin_loader.cpp
    "plugin_abi.h": "plugin",
    "train_spec.hpp": "graph",    # GraphSpec::train, as the file describes it
}

INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')


def public_layers(root):
    """Every public header's layer, and the problems found placing them."""
    src = root / "framework" / "src"
    layers, problems = {}, []
    for header in sorted((root / "framework" / "include" / "gradflow").iterdir()):
        name = header.name
        if name in PUBLIC_HEADERS:
            layers[name] = PUBLIC_HEADERS[name]
            continue
        owners = sorted({p.parent.name for p in src.glob(f"*/{header.stem}.cpp")})
        if len(owners) == 1:
            layers[name] = owners[0]
        else:
            problems.append(f"framework/include/gradflow/{name}: implemented in "
                            f"{' and '.join(owners) or 'no src/LAYER/' + header.stem + '.cpp'}; "
                            f"name its layer in PUBLIC_HEADERS ({__file__})")
    return layers, problems


def layer_of_include(target, including, root, public):
    """The layer an include names, or None when it is the including file's own folder."""
    if target.startswith("gradflow/"):
        return public.get(target[len("gradflow/"):], "?")
    if (including.parent / target).exists():
        return None  # beside the including file ("onnx_import.hpp")
    first = target.split("/")[0]
    if first in TIER and (root / "framework" / "src" / target).exists():
        return first
    return "?"


def check(root):
    """Prints every problem of the tree at `root` and a summary; returns how many there are."""
    public, problems = public_layers(root)
    files = [(p, public.get(p.name, "?")) for p in sorted((root / "framework" / "include" / "gradflow").iterdir())]
    for path in sorted((root / "framework" / "src").rglob("*")):
        if path.suffix in (".cpp", ".hpp", ".h"):
            layer = path.relative_to(root / "framework" / "src").parts[0]
            if layer not in TIER:
                problems.append(f"{path.relative_to(root)}: folder src/{layer} is in no tier; "
                                f"add it to TIERS ({__file__})")
                continue
            files.append((path, layer))
    checked = 0
    for path, layer in files:
        if layer == "?":
            continue  # reported by public_layers
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            match = INCLUDE.match(line)
            if not match:
                continue
            checked += 1
            target = match.group(1)
            used = layer_of_include(target, path, root, public)
            where = f"{path.relative_to(root)}:{number}"
            if used == "?":
                problems.append(f"{where}: #include \"{target}\" names no file of a layer")
            elif used is not None and used != layer and TIER[used] >= TIER[layer]:
                how = "a layer above it" if TIER[used] > TIER[layer] else "a layer of its own tier"
                problems.append(f"{where}: #include \"{target}\": layer '{layer}' (tier {TIER[layer]}) includes "
                                f"'{used}' (tier {TIER[used]}), {how}")
    for problem in problems:
        print(problem)
    print(f"check_layers: {checked} includes in {len(files)} files, {len(problems)} problem(s); "
          f"layers, lowest first: {' < '.join('/'.join(t) for t in TIERS)}")
    return len(problems)


def self_test():
    """A small tree with one include of each kind: only the upward and sideways ones fail."""
    files = {
        "include/gradflow/model.hpp": '#include "gradflow/tensor.hpp"\n',
        "include/gradflow/tensor.hpp": "",
        "src/core/tensor.cpp": '#include "gradflow/tensor.hpp"\n#include "gradflow/model.hpp"\n',
        "src/graph/model.cpp": '#include "gradflow/model.hpp"\n// #include "spec/reader.hpp"\n',
        "src/data/rows.cpp": '#include "io/file.hpp"\n',
        "src/io/file.hpp": "",
        "src/spec/reader.hpp": '#include "gradflow/model.hpp"\n#include "reader_util.hpp"\n',
        "src/spec/reader_util.hpp": "",
    }
    expected = [
        "framework/src/core/tensor.cpp:2: #include \"gradflow/model.hpp\": layer 'core' (tier 0) includes "
        "'graph' (tier 2), a layer above it",
        "framework/src/data/rows.cpp:1: #include \"io/file.hpp\": layer 'data' (tier 3) includes 'io' (tier 3), "
        "a layer of its own tier",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp)
        for name, text in files.items():
            (root / "framework" / name).parent.mkdir(parents=True, exist_ok=True)
            (root / "framework" / name).write_text(text, encoding="utf-8")
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            count = check(root)
    found = out.getvalue().splitlines()[:-1]
    if count != len(expected) or found != expected:
        print("check_layers --self-test: expected\n  " + "\n  ".join(expected) + "\ngot\n  " + "\n  ".join(found))
        return 1
    print(f"check_layers --self-test: the {len(expected)} bad includes of {len(files)} files found, nothing else")
    return 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parents[2])
    return 1 if check(root) else 0


if __name__ == "__main__":
    sys.exit(main())
