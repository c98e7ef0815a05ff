// The optimizers' element loops compiled for avx2 (this file's flags: see CMakeLists.txt).
#if defined(PYNN_X86)
#include <cmath>

#include "optimizers/update_rules.h"

namespace pynn {
namespace optimizer_detail {
namespace {
#include "optimizers/update_rules.inc"
}  // namespace

const UpdateRules<float> update_rules_avx2_f32 = make_update_rules<float>();
const UpdateRules<double> update_rules_avx2_f64 = make_update_rules<double>();

}  // namespace optimizer_detail
}  // namespace pynn
#endif
