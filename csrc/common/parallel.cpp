#include "common/parallel.h"

#include <atomic>

namespace pynn {
namespace {
std::atomic<int> g_threads{1};
thread_local int t_serial_depth = 0;
}  // namespace

int get_num_threads() { return t_serial_depth > 0 ? 1 : g_threads.load(std::memory_order_relaxed); }

SerialScope::SerialScope() { ++t_serial_depth; }
SerialScope::~SerialScope() { --t_serial_depth; }

void set_num_threads(int n) { g_threads.store(n < 1 ? 1 : n, std::memory_order_relaxed); }

bool have_openmp() { return PYNN_HAVE_OPENMP != 0; }

}  // namespace pynn
