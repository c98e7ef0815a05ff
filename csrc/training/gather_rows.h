// The rows of a training batch: out[i, :] = x[index[i], :], rows of row_bytes bytes, for the shuffled
// batches of fit. The rows come from all over a large data set (MNIST's 188 MB), so the copy waits on
// memory: each of pynn's threads fetches its share of the rows (a W1 batch of 32 rows of 3136 bytes: 19.5 us
// with numpy.take, 7.8 us here on two threads).
#pragma once

#include <cstdint>

namespace pynn {

// Copies the rows and returns -1, or returns the position of the first index outside [0, num_rows) and
// copies nothing.
int64_t gather_rows(const void* x, int64_t num_rows, int64_t row_bytes, const int64_t* index, int64_t count,
                    void* out);

}  // namespace pynn
