#include "common/scratch.h"

#include <cstdlib>
#include <new>

namespace pynn {
namespace {

struct Slot {
  void* ptr = nullptr;
  std::size_t size = 0;
  ~Slot() { std::free(ptr); }
};

thread_local Slot t_slots[kScratchSlots];

}  // namespace

void* thread_scratch(int slot, std::size_t bytes) {
  Slot& s = t_slots[slot];
  if (s.size < bytes) {
    std::size_t want = (bytes + 4095) & ~std::size_t(4095);
    void* p = std::aligned_alloc(64, want);
    if (!p) throw std::bad_alloc();
    std::free(s.ptr);
    s.ptr = p;
    s.size = want;
  }
  return s.ptr;
}

}  // namespace pynn
