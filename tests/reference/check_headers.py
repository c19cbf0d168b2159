#!/usr/bin/python3
"""The ctest check of the convention in README.md: every tests/**/torch_*_reference.hpp is what
its generator in tests/reference/ writes today: the same text, and the same numbers to within
1e-3 relative or 1e-6 absolute (OpenBLAS picks its kernels for the CPU, and a float sum's last
bits follow the kernel: attention's gradients, sums with cancellation, differ by up to 4e-4
relative between the Haswell and SkylakeX kernels);
every generator's docstring starts with "Writes <header>" and names test files that exist.

    /usr/bin/python3 tests/reference/check_headers.py

Exits 77 (skipped) where the numbers cannot be made: no torch in Debian's python.
"""
import ast
import concurrent.futures
import difflib
import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PYTHON = "/usr/bin/python3"
SKIP = 77


def generators():
    return sorted(HERE.glob("torch_*_reference.py"))


def docstring_problems(script):
    """(header path, problems) from the generator's docstring."""
    doc = ast.get_docstring(ast.parse(script.read_text())) or ""
    m = re.match(r"Writes (tests/\S+\.hpp)", doc)
    if not m:
        return None, [f"{script.name}: the docstring does not start with 'Writes tests/<header>.hpp'"]
    first_paragraph = doc.split("\n\n")[0]
    missing = [p for p in re.findall(r"tests/[\w/]+\.(?:cpp|hpp)", first_paragraph)
               if p != m.group(1) and not (ROOT / p).exists()]
    return m.group(1), [f"{script.name}: names {p}, which does not exist" for p in missing]


NUMBER = re.compile(r"-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def same_up_to_rounding(made, committed, rtol=1e-3, atol=1e-6):
    """The same text around the numbers, and each number within rtol (or atol near 0)."""
    if NUMBER.sub("#", made) != NUMBER.sub("#", committed):
        return False
    pairs = zip(NUMBER.findall(made), NUMBER.findall(committed))
    return all(abs(float(a) - float(b)) <= atol + rtol * abs(float(b)) for a, b in pairs)


def regenerate(script, header):
    run = subprocess.run([PYTHON, str(script)], cwd=ROOT, capture_output=True, text=True)
    if run.returncode != 0:
        return [f"{script.name} failed:\n{run.stderr}"]
    committed = (ROOT / header).read_text() if (ROOT / header).exists() else ""
    if same_up_to_rounding(run.stdout, committed):
        return []
    diff = difflib.unified_diff(committed.splitlines(), run.stdout.splitlines(), header, script.name + " today",
                                lineterm="", n=0)
    return [f"{header} is not what {script.name} writes:\n" + "\n".join(list(diff)[:20])]


def main():
    if subprocess.run([PYTHON, "-c", "import torch"], capture_output=True).returncode != 0:
        print("skipped: Debian's python3-torch is not installed (scripts/setup.sh --test)")
        return SKIP
    problems, jobs = [], []
    for script in generators():
        header, found = docstring_problems(script)
        problems += found
        if header:
            jobs.append((script, header))
    headers = {header for _, header in jobs}
    for path in sorted(ROOT.glob("tests/**/torch_*_reference.hpp")):
        if str(path.relative_to(ROOT)) not in headers:
            problems.append(f"{path.relative_to(ROOT)}: no generator in tests/reference/ writes it")
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for found in pool.map(lambda job: regenerate(*job), jobs):
            problems += found
    for p in problems:
        print(p)
    print(f"{len(jobs)} generated headers checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
