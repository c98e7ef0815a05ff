// The optimizers' element loops compiled for generic (baseline x86-64 or the host's).

#include <cmath>

#include "optimizers/update_rules.h"

namespace pynn {
namespace optimizer_detail {
namespace {
#include "optimizers/update_rules.inc"
}  // namespace

const UpdateRules<float> update_rules_generic_f32 = make_update_rules<float>();
const UpdateRules<double> update_rules_generic_f64 = make_update_rules<double>();

template <>
const UpdateRules<float>& update_rules<float>() {
  switch (active_isa()) {
#if defined(PYNN_X86)
    case Isa::avx512: return update_rules_avx512_f32;
    case Isa::avx2: return update_rules_avx2_f32;
#endif
    default: return update_rules_generic_f32;
  }
}

template <>
const UpdateRules<double>& update_rules<double>() {
  switch (active_isa()) {
#if defined(PYNN_X86)
    case Isa::avx512: return update_rules_avx512_f64;
    case Isa::avx2: return update_rules_avx2_f64;
#endif
    default: return update_rules_generic_f64;
  }
}

}  // namespace optimizer_detail
}  // namespace pynn

