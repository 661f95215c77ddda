// Instantiates every public header for float and double, scalar and SIMD, so
// that the strict-warning builds (tests/compile/CMakeLists.txt) see all of it.
#include <logitloss/diagnostics.hpp>
#include <logitloss/dispatch.hpp>
#include <logitloss/eigen.hpp>
#include <logitloss/formulas.hpp>
#include <logitloss/kernels.hpp>
#include <logitloss/logitloss.hpp>
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

}  // namespace

int main() {
    using bf = xsimd::batch<float>;
    using bd = xsimd::batch<double>;
    const float f = element_wise(0.5f, 1.f) + arrays<float>();
    const double d = element_wise(0.5, 1.0) + arrays<double>();
    const bf vf = element_wise(bf(0.5f), bf(1.f));
    const bd vd = element_wise(bd(0.5), bd(1.0));
    return (f + static_cast<float>(d) + vf.get(0) + static_cast<float>(vd.get(0))) > 0.f ? 0 : 1;
}
