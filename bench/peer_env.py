"""The peer's environment and the OpenBLAS report (issue 17), shared by bench/run.py,
bench/torch_bench.py and the PyTorch twins (bench/twins/fashion_mnist_data.py). Standard library only.

torch's libtorch_cpu links libopenblas.so.0 (and libblas.so.3 / liblapack.so.3). On Debian those
names resolve through the alternatives system to OpenBLAS's pthreads build, the one
scripts/setup.sh installs for gradflow, whose threads fight torch's OpenMP pool. The peer instead
runs with OpenBLAS's OpenMP build (libopenblas0-openmp, bench/setup_peer.sh) first on
LD_LIBRARY_PATH, which the dynamic loader searches before the alternatives' links, for every
library torch loads. Only the peer: gradflow dlopens the pthreads build by its full path
(framework/src/compute/blas.cpp) and its children never get this directory.
"""
import ctypes
import os
import sysconfig

# The dynamic loader reads LD_LIBRARY_PATH once, at exec: a process that wants it for itself
# re-executes (reexec_as_peer) and marks the new process with this variable.
_REEXEC_MARK = "GRADFLOW_PEER_ENV"


def peer_blas_dir():
    """/usr/lib/<multiarch>/openblas-openmp where libopenblas0-openmp is installed, else None."""
    machine = os.uname().machine
    for arch in (sysconfig.get_config_var("MULTIARCH"), f"{machine}-linux-gnu",
                 "i386-linux-gnu" if machine in ("i686", "i386") else None):
        if arch:
            d = f"/usr/lib/{arch}/openblas-openmp"
            if os.path.exists(os.path.join(d, "libopenblas.so.0")):
                return d
    return None


def openblas_core_for_this_cpu():
    """The OpenBLAS kernel family this CPU supports, as gradflow's blas.cpp picks it. OpenBLAS
    0.3.21 does not recognise newer CPUs and falls back to generic SSE3 kernels; every side
    (gradflow, torch, LibTorch, numpy) gets the same choice so the peer runs at its best too."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next(line for line in f if line.startswith("flags")).split()
    except (OSError, StopIteration):
        return None
    if all(f in flags for f in ("avx512f", "avx512bw", "avx512vl", "avx512dq")):
        return "SkylakeX"
    if "avx2" in flags and "fma" in flags:
        return "Haswell"
    return "Sandybridge" if "avx" in flags else None


def _without(path_list, d):
    return ":".join(p for p in path_list.split(":") if p and os.path.normpath(p) != d)


def with_coretype(env):
    """env with OPENBLAS_CORETYPE set to this CPU's family unless the user chose one."""
    core = openblas_core_for_this_cpu()
    if core and "OPENBLAS_CORETYPE" not in env:
        env["OPENBLAS_CORETYPE"] = core
    return env


def peer_environ(env=None):
    """A copy of env (default os.environ) for a peer process: the kernel family as for every side,
    and the OpenMP build's directory first on LD_LIBRARY_PATH (where it is installed)."""
    env = with_coretype(dict(os.environ if env is None else env))
    d = peer_blas_dir()
    if d:
        rest = _without(env.get("LD_LIBRARY_PATH", ""), d)
        env["LD_LIBRARY_PATH"] = d + (":" + rest if rest else "")
    return env


def gradflow_environ(env=None):
    """A copy of env for a gradflow process: the same kernel family, and never the peer's
    directory on LD_LIBRARY_PATH (gradflow loads OpenBLAS by full path anyway)."""
    env = with_coretype(dict(os.environ if env is None else env))
    d = peer_blas_dir()
    if d and "LD_LIBRARY_PATH" in env:
        rest = _without(env["LD_LIBRARY_PATH"], d)
        if rest:
            env["LD_LIBRARY_PATH"] = rest
        else:
            del env["LD_LIBRARY_PATH"]
    return env


def reexec_as_peer():
    """For a peer script run by hand: re-executes this python with peer_environ() unless this
    process already has it. Call before importing torch (the loader reads LD_LIBRARY_PATH only
    at exec). Returns only in a process that already runs with the peer's environment, or where
    GRADFLOW_PEER_ENV=0 asks to keep the environment as it is (to measure the system's BLAS)."""
    import sys
    env = peer_environ()
    if os.environ.get(_REEXEC_MARK) in ("0", "1") or (
            env.get("LD_LIBRARY_PATH") == os.environ.get("LD_LIBRARY_PATH") and
            env.get("OPENBLAS_CORETYPE") == os.environ.get("OPENBLAS_CORETYPE")):
        return
    env[_REEXEC_MARK] = "1"
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


def openblas_mapped(pid="self"):
    """The OpenBLAS files mapped in a process, from /proc/<pid>/maps, in mapping order: every
    file whose path names openblas, and the libblas.so / liblapack.so of another provider
    (the reference BLAS, say). Raises OSError when the process is gone."""
    paths = []
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            slash = line.find("/")
            if slash < 0:
                continue
            path = line[slash:].rstrip("\n")
            name = os.path.basename(path)
            if ("openblas" in path or name.startswith(("libblas.so", "liblapack.so"))) and path not in paths:
                paths.append(path)
    return paths


def corename(path):
    """openblas_get_corename() of an OpenBLAS file, loaded into this process (the same handle
    where it is mapped already); None where it has none. A libblas.so.3 of OpenBLAS's resolves
    the name through its libopenblas.so.0, whose kernels its calls run on."""
    try:
        fn = ctypes.CDLL(path).openblas_get_corename
    except (OSError, AttributeError):
        return None
    fn.restype = ctypes.c_char_p
    name = fn()
    return name.decode() if name else None


def blas_report():
    """This process's OpenBLAS files with their kernel family: [{"path": ..., "core": ...}]."""
    return [{"path": p, "core": corename(p)} for p in openblas_mapped()]


def describe(files):
    """One line for a report: 'path (core), path (core)'."""
    return ", ".join(f"{f['path']} ({f.get('core') or 'no core name'})" for f in files) or "no OpenBLAS mapped"


if __name__ == "__main__":  # python3 bench/peer_env.py: what a peer would get here
    print("peer LD_LIBRARY_PATH:", peer_environ().get("LD_LIBRARY_PATH"))
    print("OPENBLAS_CORETYPE:", peer_environ().get("OPENBLAS_CORETYPE"))
