// Flush denormals to zero for the duration of a scope, on the calling thread.
//
// Training drives some values towards zero geometrically (Adam's moments of a weight whose gradient is
// always 0, e.g. the border pixels of MNIST); once they become denormal, every operation on them costs
// ~100x on x86. The MXCSR flags are per thread and OpenMP workers do not inherit them, so a kernel sets
// them inside each parallel chunk. Results differ from IEEE gradual underflow only for |x| < 1.2e-38
// (float) / 2.2e-308 (double), which become 0.
#pragma once

#if defined(PYNN_X86)
#include <xmmintrin.h>
#endif

namespace pynn {

class FlushDenormals {
 public:
  FlushDenormals() {
#if defined(PYNN_X86)
    saved_ = _mm_getcsr();
    _mm_setcsr(saved_ | 0x8040);  // FTZ (bit 15) and DAZ (bit 6)
#endif
  }
  ~FlushDenormals() {
#if defined(PYNN_X86)
    _mm_setcsr(saved_);
#endif
  }
  FlushDenormals(const FlushDenormals&) = delete;
  FlushDenormals& operator=(const FlushDenormals&) = delete;

 private:
  unsigned int saved_ = 0;
};

}  // namespace pynn
