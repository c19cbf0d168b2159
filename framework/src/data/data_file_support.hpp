// What the CSV and IDX readers share: locating an error in a file, reading (and gunzipping)
// its bytes, naming a refused value. Internal to framework/src/data.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "gradflow/csv_idx_readers.hpp"

namespace gradflow::data_files {

// "NaN", "infinite" or "-infinite": how a refused value is named.
std::string non_finite_name(float value);

// "1 field", "3 fields".
std::string plural(int64_t n, const char* noun);

}  // namespace gradflow::data_files
