// baseline x86-64 (SSE2) or any other CPU build of the recurrent cells' row loops (recurrent_rows.inc); this file only compiles them
// with its flags and exports a table.
#include "recurrent/recurrent_rows.inc"

namespace pynn {

const RnnRowKernels<float> rnn_row_kernels_generic_f32 = make_rnn_row_kernels<float>();
const RnnRowKernels<double> rnn_row_kernels_generic_f64 = make_rnn_row_kernels<double>();

}  // namespace pynn
