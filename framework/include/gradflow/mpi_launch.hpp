// How this process was started: by an MPI launcher (Open MPI's mpirun, MPICH's mpiexec, a PMIx
// launcher) or not, read from the launchers' environment variables alone. Part of libgradflow,
// not of the MPI code, so that a graph-runner built without MPI can refuse to run as one of N
// unsynchronised copies that would all write the same files.
#pragma once

#include <functional>
#include <optional>
#include <string>

namespace gradflow {

struct MpiLaunch {
  std::string variable;      // the variable that said so, e.g. "OMPI_COMM_WORLD_SIZE"; empty: not launched
  std::optional<int> ranks;  // the job's size, where the launcher states it
  std::optional<int> rank;   // this process's rank, where the launcher states it

  bool launched() const { return !variable.empty(); }
};

// Looks a variable up; std::getenv by default (tests pass their own).
using EnvLookup = std::function<const char*(const char*)>;
MpiLaunch detect_mpi_launch(const EnvLookup& lookup = {});

// Why this process must not train as launched, or nothing when it may. `mpi_ranks` is the size
// the MPI library reports (MPI_Comm_size), or nothing for a build without MPI.
std::optional<std::string> launch_problem(const MpiLaunch& launch, std::optional<int> mpi_ranks);

}  // namespace gradflow
