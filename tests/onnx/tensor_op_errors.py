"""Models of one tensor operator each that import refuses, for test_errors.py: every node that
would act on the batch axis or that gradflow cannot express, with the exact reason import gives
(after "node 'n' (op_type T): ")."""
from onnx import TensorProto, helper


def ints(name, values):
    return helper.make_tensor(name, TensorProto.INT64, [len(values)], values)


def floats(name, dims, values):
    return helper.make_tensor(name, TensorProto.FLOAT, dims, values)


def cases(value):
    """(what, nodes, inputs, outputs, initializers, reason): x is [batch, 3, 4], v is [batch, 4]; the
    output y has symbolic sizes (shape inference fills them in), of the rank the node gives."""
    x, v = value("x", [3, 4]), value("v", [4])
    y, y2, y4 = (helper.make_tensor_value_info("y", TensorProto.FLOAT, [f"d{k}" for k in range(r)]) for r in (3, 2, 4))
    n = helper.make_node
    batch = "axis 0 is the batch axis; gradflow's operators act within each sample (axes 1 to 2 here)"
    return [
        ("a Transpose moving the batch", [n("Transpose", ["x"], ["y"], name="n", perm=[1, 0, 2])], [x], [y], [],
         "perm [1, 0, 2]: only a permutation that keeps the batch axis (0) first is supported; this one moves it"),
        ("a Softmax over the batch", [n("Softmax", ["x"], ["y"], name="n", axis=0)], [x], [y], [], batch),
        ("a Concat on the batch", [n("Concat", ["x", "x"], ["y"], name="n", axis=0)], [x], [y], [], batch),
        ("an Add broadcast against the batch", [n("Add", ["v", "x"], ["y"], name="n")], [v, x], [y], [],
         "its inputs have 2 and 3 axes: broadcasting one against the other's batch axis is not supported (both need "
         "the batch axis first)"),
        ("a Mul by a constant with a batch of 3", [n("Mul", ["x", "c"], ["y"], name="n")], [x], [y],
         [floats("c", [3, 3, 4], [1.0] * 36)],
         "the constant input 1 has shape [3, 3, 4]: its first axis meets the batch axis, so it must be 1 (the same "
         "for every sample)"),
        ("a Pow by a computed exponent", [n("Pow", ["x", "x"], ["y"], name="n")], [x], [y], [],
         "only a constant exponent (one number) is supported"),
        ("a Slice with a negative step", [n("Slice", ["x", "s", "e", "a", "st"], ["y"], name="n")], [x], [y],
         [ints("s", [3]), ints("e", [0]), ints("a", [2]), ints("st", [-1])],
         "step -1 on axis 2: only positive steps are supported"),
        ("a Slice of the batch", [n("Slice", ["x", "s", "e"], ["y"], name="n")], [x], [y], [ints("s", [0]), ints("e", [2])],
         batch),
        ("a ReduceMean over every axis", [n("ReduceMean", ["x"], ["y"], name="n")], [x], [y], [],
         "no axes: a reduction over every axis includes the batch axis; only sample axes are supported"),
        ("a MatMul of two vectors", [n("MatMul", ["v", "v"], ["y"], name="n")], [v], [y2], [],
         "input 0 is [batch, 4]: a product of matrices [batch, n, k] or more is supported (a [batch, k] operand would "
         "multiply across the batch)"),
        ("a Gather of scattered indices", [n("Gather", ["x", "i"], ["y"], name="n", axis=2)], [x], [y], [ints("i", [0, 2])],
         "only one index, or a list of consecutive increasing indices, is supported (a slice)"),
        ("a Pad of the batch", [n("Pad", ["x", "p"], ["y"], name="n")], [x], [y], [ints("p", [1, 0, 0, 0, 0, 0])],
         "padding the batch axis is not supported"),
        ("a Pad by a negative amount", [n("Pad", ["x", "p"], ["y"], name="n")], [x], [y], [ints("p", [0, 0, -1, 0, 0, 1])],
         "pads [0, 0, -1, 0, 0, 1]: negative pads (cropping) are not supported"),
        ("a Pad by 2^40", [n("Pad", ["x", "p"], ["y"], name="n")], [x], [y], [ints("p", [0, 0, 0, 0, 0, 2 ** 40])],
         "pads [0, 0, 0, 0, 0, 1099511627776]: a padded sample would hold more than 2147483647 values"),
        ("a Flatten at axis 2", [n("Flatten", ["x"], ["y"], name="n", axis=2)], [x], [y2], [],
         "axis 2 of an input of 3 axes: only axis 1 (-2), which keeps the batch axis apart, is supported; another axis "
         "would merge sample axes into the batch"),
        ("a Squeeze of the batch", [n("Squeeze", ["x", "a"], ["y"], name="n")], [x], [y2], [ints("a", [0])], batch),
        ("an Unsqueeze before the batch", [n("Unsqueeze", ["x", "a"], ["y"], name="n")], [x], [y4], [ints("a", [0])],
         "axis 0 is the batch axis; gradflow's operators act within each sample (axes 1 to 3 here)"),
        ("an Expand of data", [n("Expand", ["x", "s"], ["y"], name="n")], [x], [y], [ints("s", [1, 3, 4])],
         "only a constant expanded to [batch, ...its other axes] is supported (a class token); data is broadcast by "
         "the operators that read it"),
        ("a LayerNormalization over two axes", [n("LayerNormalization", ["x", "g"], ["y"], name="n", axis=1)], [x], [y],
         [floats("g", [3, 4], [1.0] * 12)],
         "axis 1: only a normalisation over the last axis is supported (torch.nn.LayerNorm of one size)"),
        ("a Clip by a computed bound", [n("Clip", ["x", "x"], ["y"], name="n")], [x], [y], [],
         "input 1 must be a constant number"),
        ("a Mul by infinity", [n("Constant", [], ["c"], name="k", value=floats("c", [], [float("inf")])),
                               n("Mul", ["x", "c"], ["y"], name="n")], [x], [y], [],
         "the constant input 1 is inf: a graph file holds finite numbers only"),
        ("a Selu of another alpha", [n("Selu", ["x"], ["y"], name="n", alpha=2.0)], [x], [y], [],
         "only the standard alpha (1.6732632) and gamma (1.0507010) are supported (torch.nn.SELU)"),
    ]
