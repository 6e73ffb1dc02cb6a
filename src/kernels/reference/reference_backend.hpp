// The float64 reference: no quantisation, exact exp, double sums. The ground truth for
// verification and for every kernel test.
#pragma once

#include <cstdint>
#include <memory>

#include "miniattn/kernel.hpp"

namespace miniattn {

std::unique_ptr<Backend> make_reference_backend();

// O (rows x d) and LSE (rows) in double for query rows of one (b, h) head against keys
// [0, n_keys) of its KV head. row[i] is the row index within the head (for the causal mask),
// q the row values (stride d), k and v n_keys x d. Rows that see no key give O = 0, LSE = -inf.
void reference_rows(const AttnParams& p, const float* q, const int64_t* row, int rows,
                    const float* k, const float* v, int64_t n_keys, double* o, double* lse);

}  // namespace miniattn
