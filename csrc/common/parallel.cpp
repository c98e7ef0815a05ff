#include "common/parallel.h"

#include <pthread.h>

#include <atomic>

namespace pynn {
namespace {
std::atomic<int> g_threads{1};
thread_local int t_serial_depth = 0;

// Set in the child of a fork() (see forked_child() in parallel.h); inherited by the child's own children.
std::atomic<bool> g_forked_child{false};

void mark_forked_child() { g_forked_child.store(true, std::memory_order_relaxed); }

// Registered once, when the extension (and with it this library) is loaded. Only an atomic store runs in the
// child handler, which is async-signal-safe. The handler is never unregistered: pynn._C is never unloaded.
[[maybe_unused]] const int g_atfork_registered = pthread_atfork(nullptr, nullptr, &mark_forked_child);
}  // namespace

bool forked_child() { return g_forked_child.load(std::memory_order_relaxed); }

int get_num_threads() {
  return t_serial_depth > 0 || forked_child() ? 1 : g_threads.load(std::memory_order_relaxed);
}

SerialScope::SerialScope() { ++t_serial_depth; }
SerialScope::~SerialScope() { --t_serial_depth; }

void set_num_threads(int n) { g_threads.store(n < 1 ? 1 : n, std::memory_order_relaxed); }

bool have_openmp() { return PYNN_HAVE_OPENMP != 0; }

}  // namespace pynn
