// train: the command that trains a graph on its data (eval and predict: eval_commands.cpp).
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <memory>
#include <thread>

#include "commands.hpp"
#include "session.hpp"
#include "metrics_log.hpp"
#include "plot.hpp"
#include "training_report.hpp"
#include "gradflow/atomic_file.hpp"
#include "gradflow/checkpoint.hpp"
#include "gradflow/epoch_schedule.hpp"
#include "gradflow/mpi_launch.hpp"
#include "gradflow/scheduler.hpp"
#include "gradflow/trainer.hpp"
#ifdef GRADFLOW_WITH_MPI
#include "gradflow/distributed.hpp"
#endif

namespace gradflow {
class MpiRuntime;  // distributed.hpp; only with GRADFLOW_WITH_MPI
}

namespace gradflow::runner {

namespace {

struct TrainArgs : CommonOptions {
  std::optional<int64_t> epochs, batch_size;
  std::string save, resume, weights, metrics, plot;
  std::string scheduler = "auto";
  bool check_numerics = false;
};

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
  Session session = open_session(args);
  Model& model = *session.model;
  const GraphSpec& spec = model.spec();
  const DataSets& data = session.data;
  if (model.optimizers().empty())
    throw file_error(spec.file.string(), "the graph has no optimizer node: nothing to train");
  if (data.train.empty())
    throw file_error(spec.file.string(), "the graph has no training data (data.train)");
  model.scheduler().set_policy(parse_policy(args.scheduler));
  model.set_check_numerics(args.check_numerics);
  model.init_parameters(spec.seed);

  TrainOptions options;
  options.batch_size = args.batch_size.value_or(spec.train.batch_size);
  options.shuffle = spec.train.shuffle;
  options.seed = spec.seed;
  options.clip_grad_norm = spec.train.clip_grad_norm;
  options.clip_grad_value = spec.train.clip_grad_value;
  ProgressBar bar(mpi == nullptr && isatty(STDOUT_FILENO) != 0);  // mpirun's pty is not the user's terminal
  options.on_batch = [&bar](int64_t done, int64_t total, double loss) { bar.update(done, total, loss); };
  const int64_t epochs = args.epochs.value_or(spec.train.epochs);
  EpochSchedule schedule(model, spec.train, epochs);
  TrainingState state;
  if (!args.weights.empty()) {
    // Fine-tuning: the parameters and buffers of a checkpoint (an imported model's, say), with
    // a fresh optimizer, epoch and schedule.
    load_checkpoint(args.weights, model, LoadMode::WeightsOnly);
    if (rank0) fmt::print("starting from the weights of {}\n", args.weights);
  }
  if (!args.resume.empty()) {
    // Under mpirun every rank loads the same file (the weights are compared below).
    state = load_checkpoint(args.resume, model, LoadMode::Resume);
    schedule.restore(state, args.resume);
    if (rank0) fmt::print("resumed from {} at epoch {}, step {}\n", args.resume, state.epoch, state.step);
  }
  std::unique_ptr<GradientSync> sync;
  std::string parallel_note;
#ifdef GRADFLOW_WITH_MPI
  if (mpi) {
    // Every rank must train the same graph from the same weights with the same options:
    // compared before the first step, so a mismatch is an error on every rank, not a hang.
    mpi->check_same_everywhere(fmt::format("graph file ({}: its bytes and {} parameters)", spec.file.string(),
                                           model.parameter_count()),
                               hash_file(spec.file.string()) ^ static_cast<uint64_t>(model.parameter_count()));
    const std::string run = fmt::format("{}/{}/{}/{}/{}/{}/{}/{}", options.batch_size, options.seed, options.shuffle,
                                        epochs, data.train.size, data.validation.size, state.epoch, state.step);
    mpi->check_same_everywhere("training options (batch size, seed, epochs, data sizes, resumed epoch and step)",
                               std::hash<std::string>{}(run));
    mpi->check_same_everywhere("initial weights (--resume checkpoint or seed)", hash_parameters(model));
    auto mpi_sync = std::make_unique<MpiGradientSync>(*mpi, model);
    parallel_note = fmt::format(", data-parallel on {} ranks ({} gradient floats per step in {} buckets)", mpi->size(),
                                mpi_sync->floats_per_step(), mpi_sync->bucket_count());
    sync = std::move(mpi_sync);
  }
#endif
  options.sync = sync.get();
  std::optional<MetricsLog> metrics;
  if (!args.metrics.empty() && rank0)
    metrics.emplace(args.metrics, args.resume.empty() ? std::nullopt : std::optional<int64_t>(state.epoch));
  // train.validate_every_steps: validation inside the epoch (every rank evaluates: it is collective).
  Trainer* running = nullptr;
  int64_t epoch = state.epoch;
  auto start = Clock::now();
  if (const auto every = spec.train.validate_every_steps)
    options.after_step = [&, every = *every](int64_t step) {
      if (step % every != 0) return;
      const Evaluation v = running->evaluate(data.validation);
      bar.clear();
      if (metrics) metrics->append_line(step_validation_json(step, epoch + 1, v, seconds_since(start)).dump());
      if (rank0) fmt::print("{}\n", format_step_validation(step, epoch + 1, epochs, v, seconds_since(start)));
    };
  Trainer trainer(model, options);
  running = &trainer;
  trainer.set_steps(state.step);
  const int64_t batch = batch_size_for(options.batch_size, data.train.size);
  if (rank0)
    fmt::print("training '{}': {} parameters, {} training samples{}{}, batch {}, {} epoch{}{}\n", spec.name,
               model.parameter_count(), data.train.size,
               data.validation.empty() ? "" : fmt::format(", {} validation samples", data.validation.size),
               data.test.empty() ? "" : fmt::format(", {} test samples", data.test.size), batch, epochs,
               epochs == 1 ? "" : "s", parallel_note);
  start = Clock::now();
  const int64_t first = state.epoch;
  CheckpointPacer checkpoints(spec.train.checkpoint_every);
  std::vector<CurvePoint> curves;
  const bool show_lr = spec.train.lr_schedule.has_value();
  bool stopped = schedule.should_stop();  // a resumed run that had stopped early stays stopped
  for (epoch = first; epoch < epochs && !stopped; ++epoch) {
    bar.start_epoch(epoch + 1, epochs, batch);
    schedule.begin_epoch();
    EpochMetrics m;
    m.lr = schedule.lr();
    m.train = trainer.train_epoch(data.train, epoch);
    bar.clear();
    if (!data.validation.empty()) m.validation = trainer.evaluate(data.validation);
    if (!data.test.empty()) m.test = trainer.evaluate(data.test);
    m.epoch = epoch + 1;
    schedule.end_epoch(m.epoch, m.validation ? std::optional(m.validation->loss) : std::nullopt);
    m.best_epoch = schedule.best_epoch();
    m.elapsed_s = seconds_since(start);
    state = {m.epoch, trainer.steps(), {}, {}};
    schedule.save(state);
    stopped = schedule.should_stop();
    if (metrics) metrics->append_line(to_json(m, state.step).dump());
    curves.push_back(to_curve_point(m));
    if (rank0 && (worth_printing(m.epoch, first, epochs) || stopped))
      fmt::print("{}\n", format_epoch(m, epochs, show_lr));
    if (rank0 && !args.save.empty() && m.epoch < epochs && !stopped && checkpoints.due(m.epoch))
      save_checkpoint(args.save, model, state);
  }
  if (const auto best = schedule.best_epoch()) {
    if (rank0 && stopped)
      fmt::print("early stopping: val_loss did not improve for {} epochs after epoch {}\n",
                 spec.train.early_stopping->patience, *best);
    schedule.restore_best_weights();
    if (rank0)
      fmt::print("best epoch {} (val_loss {:.6f}): {}\n", *best, *schedule.best_validation_loss(),
                 args.save.empty() ? "its weights are the model's" : "its weights are what --save holds");
  }
  if (rank0 && !args.save.empty()) {
    TrainingState final_state{state.epoch, state.step, {}, {}};
    schedule.save(final_state);
    save_checkpoint(args.save, model, final_state);
    fmt::print("saved {}\n", args.save);
  }
#ifdef GRADFLOW_WITH_MPI
  if (const auto* mpi_sync = dynamic_cast<const MpiGradientSync*>(sync.get()); rank0 && mpi_sync && mpi_sync->steps_synced())
    fmt::print("gradient allreduce: rank 0 waited {:.3f} ms per step after backward ({} steps)\n",
               mpi_sync->wait_seconds() * 1e3 / static_cast<double>(mpi_sync->steps_synced()), mpi_sync->steps_synced());
#endif
  if (rank0 && !args.plot.empty() && !curves.empty()) {
    write_file_atomically(args.plot, render_curves_svg(curves, spec.name));
    fmt::print("drew {}\n", args.plot);
  }
  return 0;
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
  command->add_option("--epochs", args->epochs, "epochs to train (default: train.epochs)")->check(CLI::NonNegativeNumber);
  command->add_option("--batch-size", args->batch_size, "samples per step (default: train.batch_size)")
      ->check(CLI::PositiveNumber);
  command->add_option("--seed", args->seed, "overrides the graph's seed");
  command->add_option("--save", args->save, "checkpoint file written every train.checkpoint_every epochs and at the end");
  CLI::Option* resume =
      command->add_option("--resume", args->resume, "checkpoint to continue from")->check(CLI::ExistingFile);
  command
      ->add_option("--weights", args->weights,
                   "start from these parameters and buffers (fine-tuning, e.g. an imported model) with a fresh "
                   "optimizer and schedule")
      ->check(CLI::ExistingFile)
      ->excludes(resume);
  command->add_option("--metrics", args->metrics, "JSON lines, one per epoch");
  command->add_option("--plot", args->plot, "SVG of the loss and accuracy curves, drawn after training");
  command->add_option("--scheduler", args->scheduler, "auto, sequential or parallel")
      ->check(CLI::IsMember({"auto", "sequential", "parallel"}))
      ->capture_default_str();
  command->add_flag("--check-numerics", args->check_numerics,
                    "stop at the first NaN or Inf, naming the node and the pass; the last checkpoint is kept");
  return {command, [args] { return run_train(*args); }};
}

}  // namespace gradflow::runner
