#include "common/cpu.h"

#include <atomic>
#include <cstring>

#if defined(PYNN_X86)
#include <cpuid.h>
#endif

namespace pynn {
namespace {

#if defined(PYNN_X86)
struct CpuFeatures {
  bool avx2_fma = false;
  bool avx512 = false;
};

unsigned long long read_xcr0() {
  unsigned int lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<unsigned long long>(hi) << 32) | lo;
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned int a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = c & (1u << 27);
  const bool avx = c & (1u << 28);
  const bool fma = c & (1u << 12);
  const bool f16c = c & (1u << 29);
  if (!osxsave || !avx) return f;
  const unsigned long long xcr0 = read_xcr0();
  const bool os_ymm = (xcr0 & 0x6) == 0x6;           // SSE and AVX state
  const bool os_zmm = (xcr0 & 0xe6) == 0xe6;         // + opmask, ZMM_Hi256, Hi16_ZMM
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return f;
  const bool avx2 = b & (1u << 5);
  const bool bmi2 = b & (1u << 8);
  const bool avx512f = b & (1u << 16);
  const bool avx512dq = b & (1u << 17);
  const bool avx512bw = b & (1u << 30);
  const bool avx512vl = b & (1u << 31);
  f.avx2_fma = os_ymm && avx2 && fma && f16c && bmi2;
  f.avx512 = f.avx2_fma && os_zmm && avx512f && avx512dq && avx512bw && avx512vl;
  return f;
}

const CpuFeatures& features() {
  static const CpuFeatures f = detect();
  return f;
}
#endif

std::atomic<int> g_isa{-1};

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512: return "avx512";
    case Isa::avx2: return "avx2";
    default: return "generic";
  }
}

bool cpu_supports(Isa isa) {
  switch (isa) {
    case Isa::generic: return true;
#if defined(PYNN_X86)
    case Isa::avx2: return features().avx2_fma;
    case Isa::avx512: return features().avx512;
#endif
    default: return false;
  }
}

Isa best_isa() {
  if (cpu_supports(Isa::avx512)) return Isa::avx512;
  if (cpu_supports(Isa::avx2)) return Isa::avx2;
  return Isa::generic;
}

Isa active_isa() {
  int v = g_isa.load(std::memory_order_relaxed);
  if (v < 0) {
    v = static_cast<int>(best_isa());
    g_isa.store(v, std::memory_order_relaxed);
  }
  return static_cast<Isa>(v);
}

int set_isa(const char* name) {
  Isa isa;
  if (std::strcmp(name, "generic") == 0) isa = Isa::generic;
  else if (std::strcmp(name, "avx2") == 0) isa = Isa::avx2;
  else if (std::strcmp(name, "avx512") == 0) isa = Isa::avx512;
  else return -1;
  if (!cpu_supports(isa)) return -2;
  g_isa.store(static_cast<int>(isa), std::memory_order_relaxed);
  return 0;
}

}  // namespace pynn
