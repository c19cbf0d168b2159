// SIGINT and SIGTERM while `train` runs: the first asks the TrainingRun to stop after the
// step in progress and write its checkpoint (exit 130 or 143 then); a second one exits at
// once. A checkpoint being written then is left as it was: the atomic writer renames only a
// whole file, and the next write removes the temporary file that was cut off.
#pragma once

#include <string>

#include "gradflow/training_run.hpp"

namespace gradflow::runner {

class StopSignals {
 public:
  // Installs the handlers for `run`; `saving`: whether the run writes a checkpoint (--save),
  // which the line printed on the first signal says.
  StopSignals(TrainingRun& run, bool saving);
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  ~StopSignals();  // restores the previous handlers

  // The first signal received, or 0.
  int received() const;
  // After the run: 0, or 128 + the signal that stopped it (SIGINT's 130 on the ranks of an
  // mpirun job that stopped for another rank's signal), said on stderr when `show` (rank 0).
  int exit_status(const TrainingRun& run, bool show, const std::string& save) const;
};

// 128 + the signal, as a shell reports a process its signal ended: 130 for SIGINT, 143 for SIGTERM.
int exit_status_of(int signal);
const char* signal_name(int signal);  // "SIGINT", "SIGTERM"

}  // namespace gradflow::runner
