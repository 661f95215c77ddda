// Runs the dispatched float32 and float64 forward+backward (mean, checks on)
// `reps` times over n elements, for instruction counting under callgrind
// (scripts/profile). Built for baseline x86-64: the SIMD path is the
// dispatch library's, chosen with LOGITLOSS_SIMD.
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include <logitloss/dispatch.hpp>

namespace {

template <class T>
double run(std::size_t n, int reps) {
    std::mt19937_64 rng(1);
    std::normal_distribution<double> logit(0.0, 4.0);
    std::vector<T> x(n), y(n), g(n);
    for (std::size_t i = 0; i < n; ++i) {
        x[i] = static_cast<T>(logit(rng));
        y[i] = static_cast<T>(rng() & 1);
    }
    double sink = 0;
    for (int r = 0; r < reps; ++r)
        sink += static_cast<double>(logitloss::dispatch::bce_with_logits_forward_backward(x.data(), y.data(), n, g.data()));
    return sink;
}

}  // namespace

int main(int argc, char** argv) {
    const std::size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : std::size_t(1) << 20;
    const int reps = argc > 2 ? std::atoi(argv[2]) : 4;
    const double a = run<float>(n, reps), b = run<double>(n, reps);
    std::printf("path %s, n = %zu, reps = %d: %g %g\n", logitloss::dispatch::path(), n, reps, a, b);
    return 0;
}
