// The scalar rows' loops, included by bench.cpp (built with the benchmark's
// flags) and by scalar_baseline.cpp (built for the compiler's baseline
// target, under its own LOGITLOSS_ABI_TAG). Internal linkage: each
// translation unit keeps its own copy, so the linker cannot use one
// target's code for the other's rows.
#pragma once

#include <cstddef>

#include <logitloss/formulas.hpp>

namespace {
namespace scalar_loops {

// The scalar instantiation of the formulas, summed in double.
template <class T>
T fb(const T* x, const T* y, std::size_t n, T* g) {
    double acc = 0;
    const T inv_n = T(1) / static_cast<T>(n);
    for (std::size_t i = 0; i < n; ++i) {
        const auto vg = logitloss::bce_with_logits_value_and_grad(x[i], y[i]);
        acc += static_cast<double>(vg.value);
        g[i] = vg.grad * inv_n;
    }
    return static_cast<T>(acc / static_cast<double>(n));
}

template <class T>
void sigmoid(const T* x, std::size_t n, T* out) {
    for (std::size_t i = 0; i < n; ++i) out[i] = logitloss::sigmoid(x[i]);
}

}  // namespace scalar_loops
}  // namespace
