// The one place pynn's kernels get their threads from.
//
// A single OpenMP team, sized by set_num_threads() (Python: pynn.set_num_threads). Work is always split by
// output, in chunks fixed by the shape, so that a result never depends on the number of threads.
// Without OpenMP everything runs serially on the calling thread.
#pragma once

#include <cstdint>
#include <string>

#if PYNN_HAVE_OPENMP
#include <omp.h>
#endif

namespace pynn {

int get_num_threads();
void set_num_threads(int n);
bool have_openmp();

// The file of the OpenMP runtime this library's OpenMP calls go to (the shared object that holds the
// omp_in_parallel it is bound to), e.g. a wheel's vendored .../pynn.libs/libgomp-<hash>.so.1.0.0, or another
// package's runtime that was loaded first with RTLD_GLOBAL. Empty without OpenMP or where it cannot be told.
std::string openmp_library();

// True in a process made by fork() from one that had loaded pynn (a pthread_atfork child handler, registered
// when the library loads, sets it). GNU OpenMP is not fork-safe: its pool threads do not exist in the child,
// and the first team of more than one thread waits for them forever. So in a forked child every
// parallel_region runs serially on the calling thread, without entering OpenMP, and get_num_threads()
// returns 1 whatever set_num_threads() asked for. Results are the same, since they never depend on the
// thread count.
bool forked_child();

// While one lives, the kernels the constructing thread calls run on that thread alone (get_num_threads()
// returns 1 there): for a caller that strings together kernels too small to pay for waking the team.
// Results are the same as with the team, since they never depend on the thread count.
class SerialScope {
 public:
  SerialScope();
  ~SerialScope();
  SerialScope(const SerialScope&) = delete;
  SerialScope& operator=(const SerialScope&) = delete;
};

// Run body(thread_id, num_threads) on a team of `threads` threads (the calling thread included).
// Called from inside another region (a conv tile calling the GEMM), it runs on a nested team of one thread,
// so that a team_barrier() in body binds to that team and not to the outer one (whose other threads would
// never reach it). In a forked child (forked_child()) it never starts a team of more than one thread: a
// one-thread team (nested) is safe there, since libgomp then does not touch its pool.
template <class Body>
void parallel_region(int threads, Body&& body) {
#if PYNN_HAVE_OPENMP
  const bool nested = omp_in_parallel();
  if (nested || (threads > 1 && !forked_child())) {
#pragma omp parallel num_threads(nested ? 1 : threads)
    body(omp_get_thread_num(), omp_get_num_threads());
    return;
  }
#endif
  (void)threads;
  body(0, 1);
}

// Call body(begin, end) over [0, count) cut into contiguous chunks of at least `grain` items, one chunk
// per thread at most. Uses fewer threads when there is not enough work to pay for waking them.
template <class Body>
void parallel_for(int64_t count, int64_t grain, Body&& body) {
  if (count <= 0) return;
  if (grain < 1) grain = 1;
  int64_t threads = get_num_threads();
  const int64_t max_useful = (count + grain - 1) / grain;
  if (threads > max_useful) threads = max_useful;
  if (threads <= 1) {
    body(int64_t{0}, count);
    return;
  }
  parallel_region(static_cast<int>(threads), [&](int tid, int nt) {
    const int64_t begin = count * tid / nt;
    const int64_t end = count * (tid + 1) / nt;
    if (begin < end) body(begin, end);
  });
}

}  // namespace pynn

namespace pynn {

// A barrier for the team of the enclosing parallel_region (a no-op on one thread, and outside any OpenMP
// region, as in a forked child's serial regions: libgomp's orphaned barrier returns when there is no team).
inline void team_barrier() {
#if PYNN_HAVE_OPENMP
#pragma omp barrier
#endif
}

}  // namespace pynn
