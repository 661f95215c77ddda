// Instantiates every public header for float and double, scalar and SIMD, so
// that the strict-warning builds (tests/compile/CMakeLists.txt) see all of it.
#include <logitloss/diagnostics.hpp>
#include <logitloss/dispatch.hpp>
#include <logitloss/eigen.hpp>
#include <logitloss/formulas.hpp>
#include <logitloss/kernels.hpp>
#include <logitloss/logitloss.hpp>
#include <logitloss/testing.hpp>
#include <logitloss/version.hpp>

#include <vector>

namespace {

template <class T>
T element_wise(T x, T y) {
    const auto vg = logitloss::bce_with_logits_value_and_grad(x, y, T(2));
    const auto pg = logitloss::bce_value_and_grad(logitloss::sigmoid(x), y);
    return logitloss::softplus(x) + logitloss::log_sigmoid(x) + logitloss::bce_with_logits(x, y) +
           logitloss::bce_with_logits_grad(x, y) + logitloss::bce(logitloss::sigmoid(x), y) +
           logitloss::bce_grad(logitloss::sigmoid(x), y) + vg.value + vg.grad + pg.value + pg.grad;
}

template <class T>
T arrays() {
    std::vector<T> x(37, T(0.25)), y(37, T(1)), g(37), l(37), w(37, T(1));
    logitloss::options<T> o;
    o.weight = logitloss::span<const T>(w);
    T r = logitloss::bce_with_logits_forward(x.data(), y.data(), x.size(), o);
    r += logitloss::bce_with_logits_forward_backward(x.data(), y.data(), x.size(), g.data(), o);
    r += logitloss::bce_forward(x.data(), y.data(), x.size(), o);
    o.reduce = logitloss::reduction::none;
    o.losses = logitloss::span<T>(l);
    r += logitloss::bce_forward_backward(x.data(), y.data(), x.size(), g.data(), o);
    logitloss::sigmoid(x.data(), x.size(), g.data());
    logitloss::softplus(x.data(), x.size(), g.data());
    logitloss::log_sigmoid(x.data(), x.size(), g.data());
    const auto s = logitloss::saturation(x.data(), x.size());
    Eigen::Array<T, Eigen::Dynamic, 1> ex = Eigen::Array<T, Eigen::Dynamic, 1>::Zero(37), ey = ex, eg;
    r += logitloss::bce_with_logits_forward_backward(ex, ey, eg);
    r += logitloss::bce_forward_backward(ex, ey, eg);
    logitloss::sigmoid(ex, eg);
    return r + static_cast<T>(s.fraction_dead());
}

template <class T>
T testing_helpers() {
    namespace lt = logitloss::testing;
    T r = static_cast<T>(lt::ulp_distance(T(1), T(2)) > 0);
    r += lt::ranges<T>::linear.hi + lt::special_values<T>()[0];
    float acc = 0.f;
    lt::for_each_float(1.f, 1.001f, [&](float x) { acc += lt::reference::sigmoid(x) - lt::reference::log_sigmoid(x); });
    lt::for_each_float(1.f, 1.001f, [](float x) { (void)lt::reference::bce_with_logits_grad(x, 0.5f); }, 2u);
    return r + static_cast<T>(acc + lt::reference::bce(0.5f, 1.f) + lt::reference::bce_grad(0.5f, 1.f) +
                              lt::reference::softplus(1.f) + lt::reference::bce_with_logits(1.f, 0.f, 2.f));
}

}  // namespace

int main() {
    const float f = element_wise(0.5f, 1.f) + arrays<float>() + testing_helpers<float>();
    const double d = element_wise(0.5, 1.0) + arrays<double>() + testing_helpers<double>();
    // Every SIMD architecture the flags allow (with -march=x86-64-v4 from
    // avx512bw down to sse2, avx512f and avx512cd included), not only the
    // widest: each has code of its own in ops_xsimd.hpp.
    float v = 0.f;
    xsimd::supported_architectures::for_each([&](auto arch) {
        using A = decltype(arch);
        v += element_wise(xsimd::batch<float, A>(0.5f), xsimd::batch<float, A>(1.f)).get(0);
        v += static_cast<float>(element_wise(xsimd::batch<double, A>(0.5), xsimd::batch<double, A>(1.0)).get(0));
    });
    return (f + static_cast<float>(d) + v) > 0.f ? 0 : 1;
}
