// Launch detection (framework/src/distributed/launch.cpp): which launcher started the process,
// and the exact refusal when this build cannot serve it.
#include <catch2/catch.hpp>

#include <map>
#include <string>

#include "gradflow/mpi_launch.hpp"

using gradflow::detect_mpi_launch;
using gradflow::launch_problem;
using gradflow::MpiLaunch;

namespace {
MpiLaunch launched_with(std::map<std::string, std::string> env) {
  return detect_mpi_launch([env](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}
}  // namespace

TEST_CASE("mpi launch: each launcher family's variables", "[distributed][launch]") {
  CHECK_FALSE(launched_with({}).launched());
  CHECK_FALSE(launched_with({{"PATH", "/usr/bin"}}).launched());

  const MpiLaunch ompi = launched_with({{"OMPI_COMM_WORLD_SIZE", "4"}, {"OMPI_COMM_WORLD_RANK", "3"}});
  CHECK(ompi.variable == "OMPI_COMM_WORLD_SIZE");
  CHECK(ompi.ranks == 4);
  CHECK(ompi.rank == 3);

  const MpiLaunch mpich = launched_with({{"PMI_SIZE", "2"}, {"PMI_RANK", "0"}});
  CHECK(mpich.variable == "PMI_SIZE");
  CHECK(mpich.ranks == 2);

  const MpiLaunch pmix = launched_with({{"PMIX_RANK", "1"}});
  CHECK(pmix.variable == "PMIX_RANK");
  CHECK_FALSE(pmix.ranks);
  CHECK(pmix.rank == 1);

  CHECK_FALSE(launched_with({{"OMPI_COMM_WORLD_SIZE", "two"}}).ranks);  // launched, size unknown
  CHECK(launched_with({{"OMPI_COMM_WORLD_SIZE", "two"}}).launched());
}

TEST_CASE("mpi launch: a build without MPI refuses more than one rank", "[distributed][launch]") {
  CHECK_FALSE(launch_problem(MpiLaunch{}, std::nullopt));
  CHECK_FALSE(launch_problem(MpiLaunch{"OMPI_COMM_WORLD_SIZE", 1, 0}, std::nullopt));
  CHECK(launch_problem(MpiLaunch{"OMPI_COMM_WORLD_SIZE", 2, 1}, std::nullopt) ==
        "started by an MPI launcher as one of 2 ranks (OMPI_COMM_WORLD_SIZE is set), but this graph-runner was "
        "built without MPI: every rank would train alone and write the same files. Install MPI and rebuild (bash "
        "scripts/setup.sh --mpi && bash scripts/build.sh; the configure step then says 'data-parallel training "
        "(MPI): built'), or run graph-runner without mpirun");
  const auto unknown = launch_problem(MpiLaunch{"PMIX_RANK", std::nullopt, 0}, std::nullopt);
  REQUIRE(unknown);
  CHECK(unknown->starts_with("started by an MPI launcher as one of several ranks (PMIX_RANK is set)"));
}

TEST_CASE("mpi launch: a build with MPI refuses another MPI's launcher", "[distributed][launch]") {
  CHECK_FALSE(launch_problem(MpiLaunch{"OMPI_COMM_WORLD_SIZE", 2, 0}, 2));
  CHECK_FALSE(launch_problem(MpiLaunch{"PMIX_RANK", std::nullopt, 0}, 2));  // nothing to compare with
  CHECK(launch_problem(MpiLaunch{"PMI_SIZE", 2, 0}, 1) ==
        "started by an MPI launcher as one of 2 ranks (PMI_SIZE is set), but the MPI library graph-runner was "
        "built with sees 1 rank: the launcher belongs to another MPI. Start it with the mpirun of the MPI it was "
        "built with (the configure step names it)");
}
