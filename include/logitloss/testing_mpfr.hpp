// logitloss/testing_mpfr.hpp — reference versions of the public element-wise
// functions for double, evaluated with MPFR and rounded once to double. A
// companion of testing.hpp (which holds the float references in long double
// and needs nothing but the standard library); this header needs MPFR
// (`libmpfr-dev`; link with -lmpfr -lgmp).
//
//   #include <logitloss/testing_mpfr.hpp>
//   logitloss::testing::reference::softplus(710.0)    // double overloads
//
// Precision: the transcendental parts (exp, log, log1p) are computed with
// 256 significand bits; the rational parts (1 - y, p - y, p (1 - p), the
// weights) exactly, with as many bits as they need. The result is rounded
// once to double (subnormals included) with mpfr_get_d, so it is the
// correctly rounded value unless the exact value lies within about 2^-250
// (relative) of a midpoint between two doubles. NaN in, NaN out; a
// probability outside [0, 1] gives NaN, as the library's bce and bce_grad
// do; targets are not checked. Host only; safe to call from several
// threads (no global MPFR state is changed).
#pragma once

#include <mpfr.h>

#include <cmath>
#include <limits>

#include "testing.hpp"

LOGITLOSS_NAMESPACE_BEGIN
namespace testing {
namespace reference {
namespace mpfr_detail {

// Working precision of the transcendental parts, and one that holds any sum
// or product of two doubles exactly (exponents span 2^1024 ... 2^-1074, so a
// difference of two doubles needs at most 2098 bits and p (1 - p) 1128).
constexpr mpfr_prec_t transcendental_bits = 256;
constexpr mpfr_prec_t exact_bits = 2200;

// An mpfr_t that clears itself.
class number {
public:
    explicit number(mpfr_prec_t bits) { mpfr_init2(v_, bits); }
    explicit number(mpfr_prec_t bits, double d) {
        mpfr_init2(v_, bits);
        mpfr_set_d(v_, d, MPFR_RNDN);  // exact: bits >= 53
    }
    ~number() { mpfr_clear(v_); }
    number(const number&) = delete;
    number& operator=(const number&) = delete;
    mpfr_ptr get() noexcept { return v_; }
    [[nodiscard]] double rounded() const noexcept { return mpfr_get_d(v_, MPFR_RNDN); }

private:
    mpfr_t v_;
};

// out = softplus(x) = max(x, 0) + log1p(exp(-|x|)).
// Evaluated in transcendental_bits whatever out's precision is.
inline void softplus(mpfr_ptr out, double x) {
    number e(transcendental_bits, -std::fabs(x));
    mpfr_exp(e.get(), e.get(), MPFR_RNDN);
    mpfr_log1p(e.get(), e.get(), MPFR_RNDN);
    if (x > 0) mpfr_add_d(e.get(), e.get(), x, MPFR_RNDN);
    mpfr_set(out, e.get(), MPFR_RNDN);
}

// out = sigmoid(x) = e / (1 + e) for x < 0, 1 / (1 + e) otherwise, e = exp(-|x|).
inline void sigmoid(mpfr_ptr out, double x) {
    number e(transcendental_bits, -std::fabs(x)), d(transcendental_bits);
    mpfr_exp(e.get(), e.get(), MPFR_RNDN);
    mpfr_add_ui(d.get(), e.get(), 1, MPFR_RNDN);
    if (x >= 0) {
        mpfr_ui_div(e.get(), 1, d.get(), MPFR_RNDN);
    } else {
        mpfr_div(e.get(), e.get(), d.get(), MPFR_RNDN);
    }
    mpfr_set(out, e.get(), MPFR_RNDN);
}

// The two weighted terms of the BCE-with-logits loss (f = softplus) or of its
// gradient (f = sigmoid), as in testing.hpp: pos_weight y f(-x) and
// (1 - y) f(x), each 0 where its weight is.
template <class F>
void weighted(mpfr_ptr negative, mpfr_ptr positive, double x, double y, double pos_weight, F f) {
    number w(exact_bits);
    mpfr_set_zero(negative, 1);
    mpfr_set_zero(positive, 1);
    if (y != 0 && pos_weight != 0) {
        f(negative, -x);
        mpfr_set_d(w.get(), y, MPFR_RNDN);
        mpfr_mul_d(w.get(), w.get(), pos_weight, MPFR_RNDN);  // exact in exact_bits
        mpfr_mul(negative, negative, w.get(), MPFR_RNDN);
    }
    if (y != 1) {
        f(positive, x);
        mpfr_set_d(w.get(), y, MPFR_RNDN);
        mpfr_ui_sub(w.get(), 1, w.get(), MPFR_RNDN);  // exact
        mpfr_mul(positive, positive, w.get(), MPFR_RNDN);
    }
}

inline bool any_nan(double a, double b, double c = 0.0) noexcept {
    return std::isnan(a) || std::isnan(b) || std::isnan(c);
}

}  // namespace mpfr_detail

[[nodiscard]] inline double sigmoid(double x) {
    if (std::isnan(x)) return x;
    mpfr_detail::number r(mpfr_detail::transcendental_bits);
    mpfr_detail::sigmoid(r.get(), x);
    return r.rounded();
}
// grad_out sigmoid(x) sigmoid(-x) = grad_out e / (1 + e)^2, e = exp(-|x|).
[[nodiscard]] inline double sigmoid_backward(double x, double grad_out) {
    if (mpfr_detail::any_nan(x, grad_out)) return std::numeric_limits<double>::quiet_NaN();
    mpfr_detail::number e(mpfr_detail::transcendental_bits, -std::fabs(x)), d(mpfr_detail::transcendental_bits);
    mpfr_exp(e.get(), e.get(), MPFR_RNDN);
    mpfr_add_ui(d.get(), e.get(), 1, MPFR_RNDN);
    mpfr_sqr(d.get(), d.get(), MPFR_RNDN);
    mpfr_div(e.get(), e.get(), d.get(), MPFR_RNDN);
    mpfr_mul_d(e.get(), e.get(), grad_out, MPFR_RNDN);
    return e.rounded();
}
[[nodiscard]] inline double sigmoid_grad(double x) { return sigmoid_backward(x, 1.0); }
[[nodiscard]] inline double softplus(double x) {
    if (std::isnan(x)) return x;
    mpfr_detail::number r(mpfr_detail::transcendental_bits);
    mpfr_detail::softplus(r.get(), x);
    return r.rounded();
}
[[nodiscard]] inline double log_sigmoid(double x) {
    if (std::isnan(x)) return x;
    mpfr_detail::number r(mpfr_detail::transcendental_bits);
    mpfr_detail::softplus(r.get(), -x);
    return -r.rounded();
}
// pos_weight y softplus(-x) + (1 - y) softplus(x).
[[nodiscard]] inline double bce_with_logits(double x, double y, double pos_weight = 1.0) {
    if (mpfr_detail::any_nan(x, y, pos_weight)) return std::numeric_limits<double>::quiet_NaN();
    mpfr_detail::number n(mpfr_detail::exact_bits), p(mpfr_detail::exact_bits);
    mpfr_detail::weighted(n.get(), p.get(), x, y, pos_weight, mpfr_detail::softplus);
    mpfr_add(n.get(), n.get(), p.get(), MPFR_RNDN);
    return n.rounded();
}
// d/dx: (1 - y) sigmoid(x) - pos_weight y sigmoid(-x).
[[nodiscard]] inline double bce_with_logits_grad(double x, double y, double pos_weight = 1.0) {
    if (mpfr_detail::any_nan(x, y, pos_weight)) return std::numeric_limits<double>::quiet_NaN();
    mpfr_detail::number n(mpfr_detail::exact_bits), p(mpfr_detail::exact_bits);
    mpfr_detail::weighted(n.get(), p.get(), x, y, pos_weight, mpfr_detail::sigmoid);
    mpfr_sub(p.get(), p.get(), n.get(), MPFR_RNDN);
    return p.rounded();
}
// PyTorch BCELoss on a probability p: -(y max(log p, -100) + (1 - y)
// max(log(1 - p), -100)), log(1 - p) taken as log1p(-p), without rounding 1 - p.
[[nodiscard]] inline double bce(double p, double y) {
    using mpfr_detail::number;
    // NaN, and a probability outside [0, 1], as the library's bce.
    if (!(p >= 0.0 && p <= 1.0) || std::isnan(y)) return std::numeric_limits<double>::quiet_NaN();
    number lp(mpfr_detail::transcendental_bits, p), lq(mpfr_detail::transcendental_bits, -p);
    number w(mpfr_detail::exact_bits, y), a(mpfr_detail::exact_bits), b(mpfr_detail::exact_bits);
    mpfr_log(lp.get(), lp.get(), MPFR_RNDN);
    mpfr_log1p(lq.get(), lq.get(), MPFR_RNDN);
    if (mpfr_cmp_si(lp.get(), -100) < 0) mpfr_set_si(lp.get(), -100, MPFR_RNDN);  // also -inf at p = 0
    if (mpfr_cmp_si(lq.get(), -100) < 0) mpfr_set_si(lq.get(), -100, MPFR_RNDN);
    mpfr_set_zero(a.get(), 1);
    mpfr_set_zero(b.get(), 1);
    if (y != 0) mpfr_mul(a.get(), lp.get(), w.get(), MPFR_RNDN);
    mpfr_ui_sub(w.get(), 1, w.get(), MPFR_RNDN);  // 1 - y, exact
    if (y != 1) mpfr_mul(b.get(), lq.get(), w.get(), MPFR_RNDN);
    mpfr_add(a.get(), a.get(), b.get(), MPFR_RNDN);
    mpfr_neg(a.get(), a.get(), MPFR_RNDN);
    return a.rounded();
}
// ATen's BCELoss gradient: (p - y) / max(p (1 - p), 1e-12f), exactly (ATen's
// EPSILON is a float constant, also for a double tensor).
[[nodiscard]] inline double bce_grad(double p, double y) {
    using mpfr_detail::number;
    // NaN, and a probability outside [0, 1], as the library's bce_grad.
    if (!(p >= 0.0 && p <= 1.0) || std::isnan(y)) return std::numeric_limits<double>::quiet_NaN();
    number q(mpfr_detail::exact_bits, p), d(mpfr_detail::exact_bits), num(mpfr_detail::exact_bits, p);
    mpfr_ui_sub(d.get(), 1, q.get(), MPFR_RNDN);       // 1 - p, exact
    mpfr_mul(d.get(), d.get(), q.get(), MPFR_RNDN);    // p (1 - p), exact
    constexpr double floor = static_cast<double>(1e-12f);
    if (mpfr_cmp_d(d.get(), floor) < 0) mpfr_set_d(d.get(), floor, MPFR_RNDN);
    mpfr_sub_d(num.get(), num.get(), y, MPFR_RNDN);    // p - y, exact
    mpfr_div(q.get(), num.get(), d.get(), MPFR_RNDN);  // one rounding to exact_bits, then one to double
    return q.rounded();
}

}  // namespace reference
}  // namespace testing
LOGITLOSS_NAMESPACE_END
