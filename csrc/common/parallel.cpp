#include "common/parallel.h"

#include <pthread.h>
#if defined(__linux__)
#include <link.h>
#endif

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

std::string openmp_library() {
#if PYNN_HAVE_OPENMP && defined(__linux__)
  // The address of omp_in_parallel as this library's GOT holds it, i.e. as the dynamic linker bound it (a
  // runtime in the global scope wins over the one in our own DT_NEEDED), then the loaded object that holds it.
  struct Query {
    uintptr_t address;
    std::string path;
  } query{reinterpret_cast<uintptr_t>(&omp_in_parallel), {}};
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* data) -> int {
        auto* q = static_cast<Query*>(data);
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          const uintptr_t start = info->dlpi_addr + ph.p_vaddr;
          if (ph.p_type == PT_LOAD && q->address >= start && q->address < start + ph.p_memsz) {
            q->path = info->dlpi_name ? info->dlpi_name : "";
            return 1;
          }
        }
        return 0;
      },
      &query);
  return query.path;
#else
  return {};
#endif
}

}  // namespace pynn
