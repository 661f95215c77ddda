// logitloss/diagnostics.hpp — where the logistic function saturates in each
// floating-point type, what PyTorch's Sigmoid -> BCELoss pipeline computes
// there, and how many logits of an array sit in its dead zones.
//
// Every threshold below is an exact value of its type, derived in higher
// precision (see the comments) and re-checked by tests/test_diagnostics.cpp:
// the property holds at the threshold and fails at the neighbouring value.
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>

#include "formulas.hpp"

LOGITLOSS_NAMESPACE_BEGIN

// Saturation thresholds of type T (float or double).
//
// sigmoid_one / sigmoid_zero: the correctly rounded sigmoid (and
// logitloss::sigmoid) is exactly 1 for x >= sigmoid_one and exactly +0 for
// x <= sigmoid_zero. sigmoid_one is the first value of T above
// ln(2^(p+1) - 1), p = 24 or 53 significand bits, past which sigmoid(-x)
// drops under half an ulp of 1; sigmoid_zero is the last value below
// -ln(2^q - 1), where sigmoid(x) drops under 2^-q, half the smallest
// subnormal (q = 150 or 1075).
//
// naive_sigmoid_one / naive_sigmoid_zero: the same for 1/(1+exp(-x)) evaluated
// in T, as PyTorch's sigmoid computes it: 1 + exp(-x) rounds to 1 once
// exp(-x) <= 2^-p (x >= p ln 2), and exp(-x) overflows to +inf below
// -ln(max). These are the edges of the dead zones of Sigmoid -> BCELoss:
// for x >= naive_sigmoid_one the chained gradient
// bce_grad(p, y) * p * (1 - p) is exactly 0 for every target (p == 1), and
// for x <= naive_sigmoid_zero it is exactly 0 for every target (p == 0),
// while the true gradient sigmoid(x) - y is as large as 1.
template <class T>
struct thresholds;

template <>
struct thresholds<float> {
    // ln(2^25 - 1) = 17.3286794841963...
    static constexpr float sigmoid_one = 0x1.154246p+4f;  // 17.32868
    // -ln(2^150 - 1) = -103.972077083991...
    static constexpr float sigmoid_zero = -0x1.9fe36ap+6f;  // -103.972084
    // 24 ln 2 = 16.6355323...
    static constexpr float naive_sigmoid_one = 0x1.0a2b24p+4f;  // 16.6355324
    // -ln(FLT_MAX) = -88.7228391...
    static constexpr float naive_sigmoid_zero = -0x1.62e43p+6f;  // -88.7228394
};

template <>
struct thresholds<double> {
    // ln(2^54 - 1) = 37.4299477502370466...
    static constexpr double sigmoid_one = 0x1.2b708872320e2p+5;  // 37.429947750237048
    // -ln(2^1075 - 1) = -745.133219101941207...
    static constexpr double sigmoid_zero = -0x1.74910d52d3052p+9;  // -745.13321910194122
    // 53 ln 2 = 36.7368005696771...
    static constexpr double naive_sigmoid_one = 0x1.25e4f7b2737fbp+5;  // 36.736800569677108
    // -ln(DBL_MAX) = -709.782712893383996...
    static constexpr double naive_sigmoid_zero = -0x1.62e42fefa39fp+9;  // -709.78271289338409
};

// What PyTorch computes for Sigmoid followed by BCELoss, in T, so that its
// behaviour can be shown and tested beside the stable formulation. Host only
// (uses std::exp).
namespace naive {

// torch.sigmoid as evaluated element-wise: 1 / (1 + exp(-x)).
template <class T>
[[nodiscard]] inline T sigmoid(T x) noexcept {
    return T(1) / (T(1) + std::exp(-x));
}

// BCELoss(sigmoid(x), y) with ATen's clamp of the logs at -100, where
// log(1-p) is log1p(-p).
template <class T>
[[nodiscard]] inline T sigmoid_bce(T x, T y) noexcept {
    const T p = sigmoid(x);
    const T clamp = detail::aten_bce<T>::log_clamp();
    const T lp = std::fmax(std::log(p), clamp);
    const T lq = std::fmax(std::log1p(-p), clamp);
    return -(y * lp + (T(1) - y) * lq);
}

// d/dx of BCELoss(sigmoid(x), y) as autograd chains it: BCELoss backward
// (p - y) / max((1 - p) p, eps), then sigmoid backward g (1 - p) p. eps is
// ATen's float constant 1e-12f in every type (for double 9.99999996e-13).
template <class T>
[[nodiscard]] inline T sigmoid_bce_grad(T x, T y) noexcept {
    const T p = sigmoid(x);
    const T g = (p - y) / std::fmax((T(1) - p) * p, detail::aten_bce<T>::grad_epsilon());
    return g * (T(1) - p) * p;
}

}  // namespace naive

// Where the logits of an array sit relative to the dead zones of
// Sigmoid -> BCELoss (see thresholds<T>).
struct saturation_report {
    std::size_t count = 0;      // elements examined
    std::size_t dead_high = 0;  // x >= naive_sigmoid_one: p == 1, gradient 0 for every target
    std::size_t dead_low = 0;   // x <= naive_sigmoid_zero: p == 0, gradient 0 for every target
    std::size_t nan = 0;        // NaN logits
    // sigmoid itself saturated (logitloss::sigmoid returns exactly 1 or 0).
    std::size_t sigmoid_one = 0;
    std::size_t sigmoid_zero = 0;

    [[nodiscard]] double fraction_dead_high() const noexcept { return fraction(dead_high); }
    [[nodiscard]] double fraction_dead_low() const noexcept { return fraction(dead_low); }
    // Fraction of elements whose Sigmoid -> BCELoss gradient is exactly 0
    // whatever the target.
    [[nodiscard]] double fraction_dead() const noexcept { return fraction(dead_high + dead_low); }

private:
    [[nodiscard]] double fraction(std::size_t k) const noexcept {
        return count == 0 ? 0.0 : static_cast<double>(k) / static_cast<double>(count);
    }
};

// Counts, for n logits, how many sit in each dead zone. x may be null when
// n == 0.
template <class T>
[[nodiscard]] saturation_report saturation(const T* x, std::size_t n) noexcept {
    using th = thresholds<T>;
    saturation_report r;
    r.count = n;
    for (std::size_t i = 0; i < n; ++i) {
        const T v = x[i];
        r.nan += std::isnan(v) ? 1u : 0u;
        r.dead_high += v >= th::naive_sigmoid_one ? 1u : 0u;
        r.dead_low += v <= th::naive_sigmoid_zero ? 1u : 0u;
        r.sigmoid_one += v >= th::sigmoid_one ? 1u : 0u;
        r.sigmoid_zero += v <= th::sigmoid_zero ? 1u : 0u;
    }
    return r;
}

LOGITLOSS_NAMESPACE_END
