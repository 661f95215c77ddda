// See scalar_baseline.hpp. Its own ABI tag keeps the inline functions of
// the headers, compiled here for the baseline target, apart from bench.cpp's.
#define LOGITLOSS_ABI_TAG bench_baseline
#include "scalar_baseline.hpp"

#include "scalar_loops.hpp"

namespace bench_baseline {

template <class T>
T scalar_fb(const T* x, const T* y, std::size_t n, T* g) {
    return scalar_loops::fb(x, y, n, g);
}
template <class T>
void scalar_sigmoid(const T* x, std::size_t n, T* out) {
    scalar_loops::sigmoid(x, n, out);
}

template float scalar_fb<float>(const float*, const float*, std::size_t, float*);
template double scalar_fb<double>(const double*, const double*, std::size_t, double*);
template void scalar_sigmoid<float>(const float*, std::size_t, float*);
template void scalar_sigmoid<double>(const double*, std::size_t, double*);

}  // namespace bench_baseline
