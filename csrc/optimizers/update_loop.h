// Shared pieces of the optimizer kernels (csrc/optimizers/*.cpp only; not part of the public header).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include "common/denormals.h"
#include "common/parallel.h"
#include "optimizers/update_rules.h"

namespace pynn {
namespace optimizer_detail {

// Elements per thread below which waking another thread costs more than it saves: these loops are
// memory-bound and do a few flops per element.
constexpr int64_t kUpdateGrain = 1 << 14;

// Run range(begin, end) over [0, n), split across pynn's threads by element, with denormals flushed to
// zero (the moments of a weight whose gradient stays 0 decay into denormals and would slow every step).
template <class Range>
void update_in_parallel(int64_t n, Range&& range) {
  parallel_for(n, kUpdateGrain, [&](int64_t begin, int64_t end) {
    FlushDenormals flush;
    range(begin, end);
  });
}

inline void require_slot(const void* slot, const char* optimizer, const char* slot_name, const char* why) {
  if (slot == nullptr)
    throw std::invalid_argument(std::string(optimizer) + ": slot '" + slot_name + "' is required " + why);
}

inline void require_step(int64_t step, const char* optimizer) {
  if (step < 1)
    throw std::invalid_argument(std::string(optimizer) + ": step must be >= 1 (the 1-based update number), got " +
                                std::to_string(step));
}

}  // namespace optimizer_detail
}  // namespace pynn
