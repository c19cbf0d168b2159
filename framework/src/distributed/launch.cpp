// Launch detection from the environment: mpirun starts N processes, and each would otherwise
// run as if alone. See mpi_launch.hpp.
#include "gradflow/mpi_launch.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cstdlib>
#include <cstring>

namespace gradflow {

namespace {

std::optional<int> as_count(const char* text) {
  if (!text) return std::nullopt;
  int value = 0;
  const char* end = text + std::strlen(text);
  const auto [last, ec] = std::from_chars(text, end, value);
  if (ec != std::errc{} || last != end || value < 0) return std::nullopt;
  return value;
}

// Each launcher family's (size, rank) variables; PMIx states only the rank.
struct LauncherVariables {
  const char* size;
  const char* rank;
};
constexpr LauncherVariables kLaunchers[] = {
    {"OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK"},  // Open MPI
    {"PMI_SIZE", "PMI_RANK"},                          // MPICH (Hydra) and Intel MPI
    {nullptr, "PMIX_RANK"},                            // PMIx launchers (prun, srun --mpi=pmix)
};

}  // namespace

MpiLaunch detect_mpi_launch(const EnvLookup& lookup) {
  const auto get = [&](const char* name) { return lookup ? lookup(name) : std::getenv(name); };
  for (const LauncherVariables& launcher : kLaunchers) {
    const char* size = launcher.size ? get(launcher.size) : nullptr;
    const char* rank = get(launcher.rank);
    if (!size && !rank) continue;
    return MpiLaunch{size ? launcher.size : launcher.rank, as_count(size), as_count(rank)};
  }
  return {};
}

std::optional<std::string> launch_problem(const MpiLaunch& launch, std::optional<int> mpi_ranks) {
  if (!launch.launched()) return std::nullopt;
  const std::string ranks_text = launch.ranks ? fmt::format("{} ranks", *launch.ranks) : "several ranks";
  if (!mpi_ranks) {
    if (launch.ranks == 1) return std::nullopt;  // one copy: it is the single-process run it looks like
    return fmt::format(
        "started by an MPI launcher as one of {} ({} is set), but this graph-runner was built without MPI: "
        "every rank would train alone and write the same files. Install MPI and rebuild (bash scripts/setup.sh "
        "--mpi && bash scripts/build.sh; the configure step then says 'data-parallel training (MPI): built'), "
        "or run graph-runner without mpirun",
        ranks_text, launch.variable);
  }
  if (launch.ranks && *launch.ranks != *mpi_ranks)
    return fmt::format(
        "started by an MPI launcher as one of {} ({} is set), but the MPI library graph-runner was built with "
        "sees {} rank{}: the launcher belongs to another MPI. Start it with the mpirun of the MPI it was built "
        "with (the configure step names it)",
        ranks_text, launch.variable, *mpi_ranks, *mpi_ranks == 1 ? "" : "s");
  return std::nullopt;
}

}  // namespace gradflow
