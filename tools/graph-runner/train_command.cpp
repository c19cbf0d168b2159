// train: the command that trains a graph on its data (eval and predict: eval_commands.cpp).
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <thread>

#include "command_line.hpp"
#include "commands.hpp"
#include "dashboard/dashboard.hpp"
#include "session.hpp"
#include "stop_signals.hpp"
#include "training_report.hpp"
#include "gradflow/atomic_file.hpp"
#include "gradflow/mpi_launch.hpp"
#include "gradflow/scheduler.hpp"
#include "gradflow/training_run.hpp"
#ifdef GRADFLOW_WITH_MPI
#include "gradflow/distributed.hpp"
#endif

namespace gradflow {
class MpiRuntime;  // distributed.hpp; only with GRADFLOW_WITH_MPI
}

namespace gradflow::runner {

namespace {

struct TrainArgs : CommonOptions {
  std::optional<int64_t> epochs, batch_size, max_steps;
  std::string save, resume, weights, metrics, plot;
  std::string scheduler = "auto";
  bool check_numerics = false;
  bool partial = false;
  std::optional<int> dashboard;  // --dashboard [PORT]
};

// What the run would write, refused before the graph and its data load: an unwritable path
// found after hours of training costs the hours.
void check_outputs(const TrainArgs& args) {
  if (!args.save.empty()) check_writable(args.save, "the checkpoint");
  if (!args.metrics.empty()) check_writable(args.metrics, "the metrics file");
  if (!args.plot.empty()) check_writable(args.plot, "the plot");
}

SchedulePolicy parse_policy(const std::string& name) {
  if (name == "sequential") return SchedulePolicy::Sequential;
  if (name == "parallel") return SchedulePolicy::Parallel;
  return SchedulePolicy::Auto;
}

// Trains in this process; under mpirun `mpi` is set and this process is one rank of a
// data-parallel job (docs/distributed.md): only rank 0 prints, writes metrics and checkpoints.
int train(const TrainArgs& args, [[maybe_unused]] MpiRuntime* mpi) {
  bool rank0 = true;
#ifdef GRADFLOW_WITH_MPI
  rank0 = !mpi || mpi->rank() == 0;
#endif
  if (rank0) check_outputs(args);  // under mpirun only rank 0 writes
  Session session = open_session(args);
  Model& model = *session.model;
  RunOptions options(model.spec().train);
  options.save = args.save;
  options.weights = args.weights;
  options.resume = args.resume;
  options.partial = args.partial;
  options.max_steps = args.max_steps;
  options.train.epochs = args.epochs.value_or(options.train.epochs);
  options.train.batch_size = args.batch_size.value_or(options.train.batch_size);
  ReportOptions report;
  report.metrics = args.metrics;
  report.plot = args.plot;
  report.save = args.save;
  report.progress_bar = mpi == nullptr && isatty(STDOUT_FILENO) != 0;  // mpirun's pty is not the user's terminal
  std::unique_ptr<GradientSync> sync;
#ifdef GRADFLOW_WITH_MPI
  MpiGradientSync* mpi_sync = nullptr;
  if (mpi) {
    auto owned = std::make_unique<MpiGradientSync>(*mpi, model);
    mpi_sync = owned.get();
    report.rank0 = mpi->rank() == 0;
    report.parallel_note = fmt::format(", data-parallel on {} ranks ({} gradient floats per step in {} buckets)",
                                       mpi->size(), mpi_sync->floats_per_step(), mpi_sync->bucket_count());
    sync = std::move(owned);
  }
#endif
  std::optional<dashboard::TrainingDashboard> live;  // rank 0 serves it; the server stops with the run
  if (args.dashboard && report.rank0) {
    live.emplace(args.metrics, args.graph, *args.dashboard);
    report.metrics = live->metrics();
    fmt::print("dashboard: {} shows this run ({})\n", live->url(), live->metrics());
  }
  TrainingRun run(model, session.data, options, sync.get());
  model.scheduler().set_policy(parse_policy(args.scheduler));
  model.set_check_numerics(args.check_numerics);
  TrainingReport shown(model, session.data, report);
  // Under mpirun, signals stay Open MPI's (TrainingRun::request_stop is single-process).
  std::optional<StopSignals> signals;
  if (mpi == nullptr) signals.emplace(run, !args.save.empty());
  run.run(shown);
#ifdef GRADFLOW_WITH_MPI
  if (mpi_sync && mpi->rank() == 0 && mpi_sync->steps_synced())
    fmt::print("gradient allreduce: rank 0 waited {:.3f} ms per step after backward ({} steps)\n",
               mpi_sync->wait_seconds() * 1e3 / static_cast<double>(mpi_sync->steps_synced()), mpi_sync->steps_synced());
#endif
  shown.finish();
  return signals ? signals->exit_status(run, report.rank0, args.save) : 0;
}

// Under an MPI launcher the process trains as one rank, or refuses before it reads data or
// touches a file when it cannot be one (built without MPI, or the launcher is another MPI's).
int run_train(const TrainArgs& args) {
  const MpiLaunch launch = detect_mpi_launch();
#ifdef GRADFLOW_WITH_MPI
  if (launch.launched()) {
    MpiRuntime mpi;
    if (const auto problem = launch_problem(launch, mpi.size())) {
      fmt::print(stderr, "error: {}\n", *problem);
      return 1;
    }
    TrainArgs local = args;
    // Ranks sharing a host share its cores: by default each takes its share of them.
    if (const char* per_host = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE"); per_host && local.threads == 0)
      local.threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / std::max(1, std::atoi(per_host)));
    try {
      const int status = train(local, &mpi);
      std::fflush(stdout);
      return status;
    } catch (const RanksDisagree& e) {
      // Thrown on every rank alike: each exits cleanly (MPI_Finalize), rank 0 says why.
      if (mpi.rank() == 0) fmt::print(stderr, "error: {}\n", e.what());
      return 1;
    } catch (const GraphError& e) {
      std::string text;
      for (const auto& d : e.diagnostics()) text += "\n" + d.format();
      mpi.abort("bad graph file:" + text, 1);
    } catch (const std::exception& e) {
      // One rank's failure: the others would wait for it, so end them all now.
      mpi.abort(fmt::format("error: {}", e.what()), 1);
    }
  }
#else
  if (const auto problem = launch_problem(launch, std::nullopt)) throw std::runtime_error(*problem);
#endif
  return train(args, nullptr);
}

}  // namespace

Command add_train(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  CLI::App* command = app.add_subcommand("train", "train a graph");
  add_common_options(*command, *args);
  command->add_option("--epochs", args->epochs, "epochs to train (default: train.epochs)")->check(whole_number(0));
  command->add_option("--batch-size", args->batch_size, "samples per step (default: train.batch_size)")
      ->check(whole_number(1));
  command->add_option("--seed", args->seed, "overrides the graph's seed");
  command->add_option("--save", args->save,
                      "checkpoint file written every train.checkpoint_every epochs (checkpoint_every_steps steps), at "
                      "the end, and on SIGINT or SIGTERM");
  CLI::Option* resume =
      command->add_option("--resume", args->resume, "checkpoint to continue from")->check(existing_file("checkpoint"));
  CLI::Option* weights_option =
      command
          ->add_option("--weights", args->weights,
                       "start from these parameters and buffers (fine-tuning, e.g. an imported model) with a fresh "
                       "optimizer and schedule")
          ->check(existing_file("checkpoint"))
          ->excludes(resume);
  command->add_option("--max-steps", args->max_steps,
                      "stop after this many optimizer steps in all (a resumed run's included) and save where it is")
      ->check(whole_number(1));
  command->add_flag("--partial", args->partial,
                    "with --weights: load the parameters and buffers whose name and shape match, keep the others "
                    "initial, and list both")
      ->needs(weights_option);
  command->add_option("--metrics", args->metrics,
                      "JSON lines: one per epoch, and one every train.log_every_steps steps (default 10)");
  command
      ->add_option("--dashboard", args->dashboard,
                   "serve live curves of this run at http://127.0.0.1:PORT/ while it trains (PORT: 6006; 0: any "
                   "free port)")
      ->expected(0, 1)
      ->default_str("6006")
      ->check(CLI::Range(0, 65535));
  command->add_option("--plot", args->plot, "SVG of the loss and accuracy curves, drawn after training");
  command->add_option("--scheduler", args->scheduler, "auto, sequential or parallel")
      ->check(CLI::IsMember({"auto", "sequential", "parallel"}))
      ->capture_default_str();
  command->add_flag("--check-numerics", args->check_numerics,
                    "stop at the first NaN or Inf, naming the node and the pass; the last checkpoint is kept");
  return {command, [args] { return run_train(*args); }};
}

}  // namespace gradflow::runner
