"""graphs/breast_cancer.yaml and graphs/wine.yaml against scikit-learn (issue: "the tabular
case"). scikit-learn draws a stratified 70/30 split seeded 0 and fits StandardScaler +
LogisticRegression on it; the graph is trained on the same rows (its data section pointed at
the two halves, written as raw CSVs), and must reach at least that test accuracy. Then
`predict --input` on the raw test rows must give the classes `eval` scored: the standardize
node travels with the checkpoint, nothing is preprocessed outside the model.
Usage: tabular_graphs.py GRAPH_RUNNER SOURCE_DIR WORK_DIR NAME"""
import os
import re
import shutil
import subprocess
import sys

import numpy as np
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

runner, source, work = (os.path.abspath(a) for a in sys.argv[1:4])
name = sys.argv[4]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
X, y = {"breast_cancer": load_breast_cancer, "wine": load_wine}[name](return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
reference = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X_train, y_train)
sklearn_accuracy = 100 * reference.score(X_test, y_test)

for part, features, labels in (("train", X_train, y_train), ("test", X_test, y_test)):
    np.savetxt(f"{work}/{part}.csv", np.column_stack([features, labels]), delimiter=",", fmt="%.10g")
np.savetxt(f"{work}/test_inputs.csv", X_test, delimiter=",", fmt="%.10g")

# The shipped graph with its data section replaced by the two halves (same nodes, same training).
graph = open(f"{source}/graphs/{name}.yaml").read()
width = X.shape[1]
data = (f"data:\n"
        f"  train:\n    x: {{csv: train.csv, columns: \"0:{width}\"}}\n    y: {{csv: train.csv, columns: [{width}]}}\n"
        f"  test:\n    x: {{csv: test.csv, columns: \"0:{width}\"}}\n    y: {{csv: test.csv, columns: [{width}]}}\n")
graph, replaced = re.subn(r"^data:\n(?:  .*\n)+", data, graph, flags=re.M)
assert replaced == 1, "the graph's data section was not found"
open(f"{work}/{name}.yaml", "w").write(graph)


def run(*args):
    result = subprocess.run([runner, *args], capture_output=True, text=True, cwd=work)
    if result.returncode != 0:
        sys.exit(f"FAIL: graph-runner {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
    return result.stdout + result.stderr


run("train", f"{name}.yaml", "--save", "w.st", "--threads", "1")
evaluation = run("eval", f"{name}.yaml", "--weights", "w.st")
accuracy = float(re.search(r"accuracy ([0-9.]+)%", evaluation).group(1))
print(f"{name}: gradflow {accuracy:.2f}%, scikit-learn's standardised logistic regression "
      f"{sklearn_accuracy:.2f}% on the same {len(y_test)} test rows")
if accuracy < round(sklearn_accuracy, 2):  # eval prints two decimals
    sys.exit(f"FAIL: {name} reaches {accuracy:.2f}%, below scikit-learn's {sklearn_accuracy:.2f}%")

# Raw rows in, classes out: the same classes as eval scored.
predicted = run("predict", f"{name}.yaml", "--weights", "w.st", "--input", "test_inputs.csv", "--classes")
labels = re.search(r"^labels: \[(.*)\]$", graph, flags=re.M).group(1).split(", ")
classes = [line.strip() for line in predicted.splitlines() if line.strip() in labels]
if len(classes) != len(y_test):
    sys.exit(f"FAIL: predict --input printed {len(classes)} classes for {len(y_test)} rows:\n{predicted}")
raw_accuracy = 100 * np.mean([labels.index(c) == int(t) for c, t in zip(classes, y_test)])
if abs(raw_accuracy - accuracy) > 0.005:  # eval prints two decimals
    sys.exit(f"FAIL: predict --input on raw rows scores {raw_accuracy:.2f}%, eval {accuracy:.2f}%")
print(f"{name}: predict --input on the raw test rows gives eval's classes ({raw_accuracy:.2f}%)")
