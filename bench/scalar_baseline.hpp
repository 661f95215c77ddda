// The scalar formulas as a program built without -march calls them:
// scalar_baseline.cpp compiles scalar_loops.hpp with the benchmark's
// optimisation level (LOGITLOSS_BENCH_BASELINE_FLAGS) for the compiler's
// baseline target. On x86-64 that target has no FMA instruction: the
// scalar fma chooses the instruction or libm's fma at run time (ops.hpp).
#pragma once

#include <cstddef>

namespace bench_baseline {

template <class T>
T scalar_fb(const T* x, const T* y, std::size_t n, T* g);
template <class T>
void scalar_sigmoid(const T* x, std::size_t n, T* out);

}  // namespace bench_baseline
