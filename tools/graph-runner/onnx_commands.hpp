// graph-runner export and import (docs/onnx.md): ONNX models out of and into gradflow.
#pragma once

#include "commands.hpp"

namespace gradflow::runner {

Command add_export(CLI::App& app);
Command add_import(CLI::App& app);

}  // namespace gradflow::runner
