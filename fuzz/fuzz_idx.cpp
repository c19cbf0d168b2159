// libFuzzer target: read_idx on arbitrary bytes (plain or gzipped).
#include <cstddef>
#include <cstdint>
#include <exception>

#include "fuzz_util.hpp"
#include "gradflow/csv_idx_readers.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static gradflow_fuzz::TempInput input(".idx");
  try {
    gradflow::Tensor t = gradflow::read_idx(input.write(data, size));
    (void)t;
  } catch (const std::exception&) {
  }
  return 0;
}
