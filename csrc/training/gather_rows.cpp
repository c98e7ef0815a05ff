// Row gather for training batches (gather_rows.h).
#include "training/gather_rows.h"

#include <cstring>

#include "common/parallel.h"

namespace pynn {

int64_t gather_rows(const void* x, int64_t num_rows, int64_t row_bytes, const int64_t* index, int64_t count,
                    void* out) {
  for (int64_t i = 0; i < count; ++i) {
    if (index[i] < 0 || index[i] >= num_rows) return i;
  }
  const char* src = static_cast<const char*>(x);
  char* dst = static_cast<char*>(out);
  // A thread pays from a few rows of a few KB on; one row of a few bytes is not worth waking it.
  const int64_t grain = row_bytes >= 1024 ? 4 : (16384 + row_bytes - 1) / (row_bytes > 0 ? row_bytes : 1);
  parallel_for(count, grain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      std::memcpy(dst + i * row_bytes, src + index[i] * row_bytes, static_cast<size_t>(row_bytes));
    }
  });
  return -1;
}

}  // namespace pynn
