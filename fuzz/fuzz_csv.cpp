// libFuzzer target: read_csv on arbitrary bytes (plain or gzipped), with options taken from
// the first input byte so header, delimiter and column selection are all exercised.
#include <cstddef>
#include <cstdint>
#include <exception>

#include "fuzz_util.hpp"
#include "gradflow/csv_idx_readers.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static gradflow_fuzz::TempInput input(".csv");
  gradflow::CsvOptions options;
  if (size > 0) {
    const uint8_t mode = data[0];
    options.header = (mode & 1) != 0;
    options.delimiter = (mode & 2) != 0 ? ';' : ',';
    if ((mode & 4) != 0) options.columns = {0, -1};
    if ((mode & 8) != 0) options.columns = {static_cast<int64_t>(mode >> 4) - 8};
    ++data;
    --size;
  }
  try {
    gradflow::Tensor t = gradflow::read_csv(input.write(data, size), options);
    (void)t;
  } catch (const std::exception&) {
  }
  return 0;
}
