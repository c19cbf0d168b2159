// The operator table (op_table.hpp): no row allocates on the heap in its steady-state step
// (forward and backward, or an optimizer's update) at 1 or at 2 threads, once the first steps
// have sized its buffers. Its own binary: it replaces the global operator new.
#include <catch2/catch.hpp>
#include <tbb/global_control.h>

#include "op_table.hpp"
#include "support/count_allocations.hpp"

using namespace gradflow;
using namespace gradflow::test;

TEST_CASE("operator table: a steady-state step makes no heap allocation", "[op_table][allocations]") {
  load_example_plugins(GRADFLOW_EXAMPLE_PLUGIN_DIR);
  for (const OpRow& row : op_table()) {
    for (const size_t threads : {size_t{1}, size_t{2}}) {
      INFO("operator table row " << row_name(row) << " at " << threads << " threads");
      tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
      RowRun run(row, 64);
      for (int i = 0; i < 3; ++i) run.step();
      const int64_t before = allocations.load();
      for (int i = 0; i < 5; ++i) run.step();
      CHECK(allocations.load() - before == 0);
    }
  }
}
