// logitloss/detail/logistic_wide.hpp — the float logit functions, evaluated
// in double. D is double, or xsimd::batch<double, A> holding the widened
// halves of a float batch, or double in CUDA device code.
//
// Why double: a float result is within 1 ulp of the correctly rounded one
// whenever the value rounded to float is within about half a float ulp
// (2^-25 relative) of the exact result. In double every step below may err
// by up to ~2^-35 relative and the one final rounding to float still lands
// within 1 ulp, and on the correctly rounded float except for inputs whose
// exact result lies within ~2^-35 of a rounding boundary. That removes
// everything the float-only evaluation needed for its accuracy: no
// unevaluated pairs, no Newton corrections, no subnormal intermediates
// (exp(-288) is a normal double; the final conversion rounds subnormal float
// results once, correctly). The same structure serves glibc's expf and logf.
//
// Shared core for a logit x: e = exp(-|x|), m = e/(1+e) = sigmoid(-|x|),
// and log1p(e).
#pragma once

#include "config.hpp"
#include "logistic.hpp"
#include "ops.hpp"

LOGITLOSS_NAMESPACE_BEGIN
namespace detail {

// Minimax polynomial coefficients (relative error, Remez exchange in
// 60-digit arithmetic; tests/test_constants.cpp re-measures each bound
// against MPFR).
struct wide_constants {
    // exp(t) on |t| <= ln2/2, degree 8: relative error 2^-40.2.
    static constexpr int exp_degree = 8;
    LOGITLOSS_HD static constexpr double exp_coefficient(int i) noexcept {
        constexpr double c[] = {0.9999999999997623,  0.9999999999806229,    0.5000000000618229,
                                0.1666666688544792,  0.04166666422004677,   0.00833326703183685,
                                0.0013889178644855983, 0.0001991542206939871, 2.4727216032157518e-05};
        return c[i];
    }
    // 2 atanh(s)/s as a polynomial in z = s^2 on [0, 1/9] (s = e/(2+e) for
    // e in [0, 1]), degree 6: relative error 2^-38.5.
    static constexpr int log_degree = 6;
    LOGITLOSS_HD static constexpr double log_coefficient(int i) noexcept {
        constexpr double c[] = {2.0000000000050284,  0.6666666622731363,  0.4000006254068954, 0.28568102606319407,
                                0.2230587860695183, 0.17116512554159607, 0.21878676018936616};
        return c[i];
    }
    // ln 2 and 1/ln 2 rounded to double; with k <= 416 the reduction
    // t = k ln2 - a errs by at most 2^-46 absolute.
    LOGITLOSS_HD static constexpr double ln2() noexcept { return 0.6931471805599453; }
    LOGITLOSS_HD static constexpr double inv_ln2() noexcept { return 1.4426950408889634; }
    // 1.5 * 2^52: adding and subtracting it rounds to an integer.
    LOGITLOSS_HD static constexpr double round_magic() noexcept { return 6755399441055744.0; }
    // From a = 288 on, e is set to 0 (every result is then exactly what
    // e = +0 gives), and below it exp(-a) > 2^-416 is a normal double. Past
    // -thresholds<float>::sigmoid_zero (103.97) sigmoid(-a) alone rounds to
    // 0 in float, but a pos_weight and a weight (the array kernels multiply
    // it in double) scale e before the one rounding: with both as large as
    // FLT_MAX = 2^128, w pw e^-a stays below half the smallest subnormal
    // float, 2^-150, only for a > (150 + 256) ln 2 = 281.4. (sigmoid_backward's
    // grad_out alone, up to 2^128, needs a > 278 ln 2 = 192.7.)
    LOGITLOSS_HD static constexpr double zero_from() noexcept { return 288.0; }
};

struct wide_exp_coefficients {
    LOGITLOSS_HD static constexpr double coefficient(int i) noexcept { return wide_constants::exp_coefficient(i); }
};
struct wide_log_coefficients {
    LOGITLOSS_HD static constexpr double coefficient(int i) noexcept { return wide_constants::log_coefficient(i); }
};

template <class D>
struct wide_core {
    D e;  // exp(-|x|), 0 from |x| >= zero_from()
    D m;  // sigmoid(-|x|) = e/(1+e)
};

// NaN in, NaN in every member.
template <class D>
LOGITLOSS_HD LOGITLOSS_INLINE wide_core<D> make_wide_core(D x) noexcept {
    using O = ops<D>;
    using C = wide_constants;
    const D a0 = O::abs(x);
    // Lanes at or beyond zero_from compute with a = 0 and are zeroed; NaN
    // stays NaN.
    const auto zero = a0 >= D(C::zero_from());
    const D a = O::select(zero, D(0), a0);
    const D magic(C::round_magic());
    const D k = (a * D(C::inv_ln2()) + magic) - magic;  // round(a / ln2), in [0, 416]
    const D t = O::fma(k, D(C::ln2()), O::neg(a));    // exp(-a) = 2^-k exp(t), |t| <= ln2/2 + 2^-46
    const D e = O::select(zero, D(0), O::scale_pow2(estrin<wide_exp_coefficients, 0, C::exp_degree>::eval(t), O::neg(k)));
    return {e, e / (D(1) + e)};
}

// log1p(e) for e in [0, 1]: 2 atanh(s), s = e/(2+e) in [0, 1/3].
template <class D>
LOGITLOSS_HD LOGITLOSS_INLINE D wide_log1p(D e) noexcept {
    const D s = e / (D(2) + e);
    return s * estrin<wide_log_coefficients, 0, wide_constants::log_degree>::eval(s * s);
}

// The float logit functions, in double. Each matches the contract of the
// public function of the same name in formulas.hpp.
struct wide_sigmoid {
    template <class D>
    LOGITLOSS_HD LOGITLOSS_INLINE D operator()(D x) const noexcept {
        const D m = make_wide_core(x).m;
        return ops<D>::select(x >= D(0), D(1) - m, m);
    }
};

// g sigmoid'(x) = g (m - m^2), m = sigmoid(-|x|): m is accurate to about
// 2^-35 relative and the factor 1 - m >= 1/2 does not amplify it.
struct wide_sigmoid_backward {
    template <class D>
    LOGITLOSS_HD LOGITLOSS_INLINE D operator()(D x, D g) const noexcept {
        using O = ops<D>;
        const D m = make_wide_core(x).m;
        return g * O::fma(O::neg(m), m, m);
    }
};

struct wide_softplus {
    template <class D>
    LOGITLOSS_HD LOGITLOSS_INLINE D operator()(D x) const noexcept {
        return ops<D>::select(x >= D(0), x, D(0)) + wide_log1p(make_wide_core(x).e);
    }
};

struct wide_log_sigmoid {
    template <class D>
    LOGITLOSS_HD LOGITLOSS_INLINE D operator()(D x) const noexcept {
        using O = ops<D>;
        return O::neg(O::select(x <= D(0), O::neg(x), D(0)) + wide_log1p(make_wide_core(x).e));
    }
};

// BCE with logits, with PyTorch's pos_weight p: loss = a softplus(-x) +
// b softplus(x) with a = p y and b = 1 - y (both exact in double, and
// a + b == 1 exactly for p = 1). Unit: p is 1, so a = y and a + b = 1
// without arithmetic; the results are bitwise those of the general form
// with p = 1.
template <class D, bool Unit>
struct wide_bce {
    D x, a, b, ab;
    LOGITLOSS_HD LOGITLOSS_INLINE wide_bce(D x_, D y, D pos_weight) noexcept : x(x_), b(D(1) - y) {
        if constexpr (Unit) {
            a = y;
            ab = D(1);
        } else {
            a = pos_weight * y;
            ab = a + b;
        }
    }
    // ab log1p(e) + x (x >= 0 ? b : -a); the x term is 0 when its weight is
    // 0 so that x = +-inf with a zero weight gives 0, not NaN.
    LOGITLOSS_HD LOGITLOSS_INLINE D value(D log1p_e) const noexcept {
        using O = ops<D>;
        const D wx = O::select(x >= D(0), b, O::neg(a));
        const D xw = O::select(wx == D(0), D(0), x * wx);
        if constexpr (Unit) {
            return log1p_e + xw;
        } else {
            return O::fma(ab, log1p_e, xw);
        }
    }
    // b sigmoid(x) - a sigmoid(-x) with m = sigmoid(-|x|), so that neither
    // sigmoid is formed as 1 - (something close to 1):
    // x >= 0: b - ab m;  x < 0: ab m - a.
    LOGITLOSS_HD LOGITLOSS_INLINE D grad(D m) const noexcept {
        using O = ops<D>;
        if constexpr (Unit) {
            return O::select(x >= D(0), b - m, m - a);
        } else {
            return O::select(x >= D(0), O::fma(O::neg(ab), m, b), O::fma(ab, m, O::neg(a)));
        }
    }
};

template <bool Unit = false>
struct wide_bce_with_logits {
    template <class D>
    LOGITLOSS_HD LOGITLOSS_INLINE D operator()(D x, D y, D pos_weight) const noexcept {
        return wide_bce<D, Unit>(x, y, pos_weight).value(wide_log1p(make_wide_core(x).e));
    }
};

template <bool Unit = false>
struct wide_bce_with_logits_grad {
    template <class D>
    LOGITLOSS_HD LOGITLOSS_INLINE D operator()(D x, D y, D pos_weight) const noexcept {
        return wide_bce<D, Unit>(x, y, pos_weight).grad(make_wide_core(x).m);
    }
};

template <bool Unit = false>
struct wide_bce_with_logits_value_and_grad {
    template <class D>
    LOGITLOSS_HD LOGITLOSS_INLINE value_and_grad<D> operator()(D x, D y, D pos_weight) const noexcept {
        const auto c = make_wide_core(x);
        const wide_bce<D, Unit> w(x, y, pos_weight);
        return {w.value(wide_log1p(c.e)), w.grad(c.m)};
    }
};

}  // namespace detail
LOGITLOSS_NAMESPACE_END
