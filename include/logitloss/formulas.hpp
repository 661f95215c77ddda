// logitloss/formulas.hpp — the element-wise functions, each written once as a
// template over T: float, double, xsimd::batch<float|double, Arch> (include
// <logitloss/logitloss.hpp> for batches), or float/double in CUDA device code.
//
// Accuracy (measured over every float32 input and 10^6+ float64 inputs
// against MPFR; see README "Accuracy"): every function below is within the
// stated bound of the correctly rounded result, subnormal results included.
// None of them throws; special values are listed in the README table.
//
// The logit functions (sigmoid, sigmoid_backward/_grad, softplus,
// log_sigmoid, bce_with_logits*) are computed for float in double and
// rounded once (logistic_wide.hpp), for double in double-word arithmetic
// (logistic.hpp).
#pragma once

#include "detail/config.hpp"
#include "detail/constants.hpp"
#include "detail/logistic.hpp"
#include "detail/logistic_wide.hpp"
#include "detail/ops.hpp"

LOGITLOSS_NAMESPACE_BEGIN

// sigmoid(x) = 1/(1+e^-x). Within 1 ulp (float and double).
// sigmoid(-inf) = +0, sigmoid(+inf) = 1, NaN -> NaN.
template <class T>
[[nodiscard]] LOGITLOSS_HD LOGITLOSS_INLINE T sigmoid(T x) noexcept {
    if constexpr (detail::is_float_v<T>) {
        return detail::in_double<T>::apply(detail::wide_sigmoid{}, x);
    } else {
        using O = detail::ops<T>;
        const auto c = detail::make_logistic_core(x);
        const T m = detail::small_sigmoid(c);  // sigmoid(-|x|)
        return O::select(x >= T(0), T(1) - m, m);
    }
}

// sigmoid's backward: grad_out * sigmoid'(x), sigmoid'(x) = sigmoid(x)
// sigmoid(-x), formed as m - m^2 from m = sigmoid(-|x|) (never from
// 1 - sigmoid(x), which is 0 in float from x = 16.64 on and leaves the
// gradient 0 wherever sigmoid saturates). The whole product is rounded once
// for float (evaluated in double): within 1 ulp. double: within 2 ulp, plus
// |grad_out| * denorm_min where sigmoid'(x) is subnormal (|x| above about
// 708; it is rounded before grad_out scales it). Even in x; x = +-inf gives
// a zero with grad_out's sign, NaN in either argument NaN, and grad_out =
// +-inf where sigmoid'(x) is 0 NaN (the product inf * 0). ATen's
// sigmoid_backward takes the output y instead and forms grad_out (1 - y) y.
template <class T>
[[nodiscard]] LOGITLOSS_HD LOGITLOSS_INLINE T sigmoid_backward(T x, T grad_out) noexcept {
    if constexpr (detail::is_float_v<T>) {
        return detail::in_double<T>::apply(detail::wide_sigmoid_backward{}, x, grad_out);
    } else {
        using O = detail::ops<T>;
        const T m = detail::small_sigmoid(detail::make_logistic_core(x));  // sigmoid(-|x|)
        return grad_out * O::fma(O::neg(m), m, m);
    }
}

// sigmoid'(x) = sigmoid(x) sigmoid(-x) = sigmoid_backward(x, 1), bitwise.
// Within 1 ulp (float), 2 ulp (double), subnormal results included;
// sigmoid_grad(+-0) = 0.25, sigmoid_grad(+-inf) = +0, NaN -> NaN.
template <class T>
[[nodiscard]] LOGITLOSS_HD LOGITLOSS_INLINE T sigmoid_grad(T x) noexcept {
    return sigmoid_backward(x, T(1));
}

// softplus(x) = log(1+e^x) = max(x,0) + log1p(e^-|x|). Within 2 ulp.
// softplus(-inf) = +0, softplus(+inf) = +inf, NaN -> NaN.
template <class T>
[[nodiscard]] LOGITLOSS_HD LOGITLOSS_INLINE T softplus(T x) noexcept {
    if constexpr (detail::is_float_v<T>) {
        return detail::in_double<T>::apply(detail::wide_softplus{}, x);
    } else {
        using O = detail::ops<T>;
        const auto c = detail::make_logistic_core(x);
        return O::select(x >= T(0), x, T(0)) + detail::log1p_exp(c);
    }
}

// log_sigmoid(x) = log sigmoid(x) = -softplus(-x). Within 2 ulp.
// log_sigmoid(-inf) = -inf, log_sigmoid(+inf) = -0, NaN -> NaN.
template <class T>
[[nodiscard]] LOGITLOSS_HD LOGITLOSS_INLINE T log_sigmoid(T x) noexcept {
    if constexpr (detail::is_float_v<T>) {
        return detail::in_double<T>::apply(detail::wide_log_sigmoid{}, x);
    } else {
        using O = detail::ops<T>;
        const auto c = detail::make_logistic_core(x);
        return O::neg(O::select(x <= T(0), O::neg(x), T(0)) + detail::log1p_exp(c));
    }
}

namespace detail {

// PyTorch's pos_weight form: loss = p y softplus(-x) + (1-y) softplus(x)
// with a = p y, b = 1 - y. Both terms are >= 0 for y in [0,1], p >= 0, so
// the sum never cancels.
template <class T>
struct bce_logit_weights {
    T a, b, ab;
};
template <class T>
LOGITLOSS_HD LOGITLOSS_INLINE bce_logit_weights<T> make_bce_logit_weights(T y, T pos_weight) noexcept {
    const T a = pos_weight * y;
    const T b = T(1) - y;
    return {a, b, a + b};  // a + b == 1 exactly when pos_weight == 1
}

// loss = (a+b) log1p(e^-|x|) + x*(x >= 0 ? b : -a). The x*w term is set to 0
// when w == 0 so that x = +-inf with a zero weight gives 0, not NaN.
template <class T>
LOGITLOSS_HD LOGITLOSS_INLINE T bce_logit_value(T x, const bce_logit_weights<T>& w, T log1p_e) noexcept {
    using O = ops<T>;
    const T wx = O::select(x >= T(0), w.b, O::neg(w.a));
    const T xw = O::select(wx == T(0), T(0), x * wx);
    return O::fma(w.ab, log1p_e, xw);
}

// d/dx = b sigmoid(x) - a sigmoid(-x), written with m = sigmoid(-|x|) so that
// neither sigmoid is ever formed as 1 - (something close to 1):
// x >= 0: b - (a+b) m;  x < 0: (a+b) m - a.
template <class T>
LOGITLOSS_HD LOGITLOSS_INLINE T bce_logit_grad(T x, const bce_logit_weights<T>& w, T m) noexcept {
    using O = ops<T>;
    return O::select(x >= T(0), O::fma(O::neg(w.ab), m, w.b), O::fma(w.ab, m, O::neg(w.a)));
}

}  // namespace detail

// Binary cross-entropy on a logit x and target y in [0,1], with PyTorch's
// pos_weight: pos_weight*y*softplus(-x) + (1-y)*softplus(x).
// Hard targets: within 2 ulp; bce_with_logits(x,0) == softplus(x) and
// bce_with_logits(x,1) == softplus(-x) bitwise. Soft targets: within 4 ulp.
// double with pos_weight != 1: plus pos_weight * denorm_min where
// softplus(-x) is subnormal (x above about 708): it is rounded before it
// is weighted (bce_with_logits(740.0, 1.0, 49.6) is about 11 ulp off).
// float is evaluated in double and has no such term.
template <class T>
[[nodiscard]] LOGITLOSS_HD LOGITLOSS_INLINE T bce_with_logits(T x, T y, T pos_weight = T(1)) noexcept {
    if constexpr (detail::is_float_v<T>) {
        return detail::in_double<T>::apply(detail::wide_bce_with_logits<>{}, x, y, pos_weight);
    } else {
        const auto c = detail::make_logistic_core(x);
        return detail::bce_logit_value(x, detail::make_bce_logit_weights(y, pos_weight), detail::log1p_exp(c));
    }
}

// d bce_with_logits / dx = sigmoid(x) - y (with pos_weight: (1-y) sigmoid(x)
// - pos_weight*y*sigmoid(-x)). Hard targets: within 1 ulp (double with
// pos_weight != 1: 2 ulp, the product rounded once more, plus
// pos_weight * denorm_min where sigmoid(-x) is subnormal, as above);
// grad(x,0) == sigmoid(x) bitwise and grad(x,1) == -sigmoid(-x) (as values:
// where sigmoid(-x) rounds to 0 the gradient is a zero of either sign), so a
// confidently right logit gets its tiny gradient, never 0.
template <class T>
[[nodiscard]] LOGITLOSS_HD LOGITLOSS_INLINE T bce_with_logits_grad(T x, T y, T pos_weight = T(1)) noexcept {
    if constexpr (detail::is_float_v<T>) {
        return detail::in_double<T>::apply(detail::wide_bce_with_logits_grad<>{}, x, y, pos_weight);
    } else {
        const auto c = detail::make_logistic_core(x);
        return detail::bce_logit_grad(x, detail::make_bce_logit_weights(y, pos_weight), detail::small_sigmoid(c));
    }
}

// Loss and gradient of bce_with_logits in one pass (shared exp and division);
// bitwise equal to the two separate calls.
template <class T>
[[nodiscard]] LOGITLOSS_HD LOGITLOSS_INLINE value_and_grad<T> bce_with_logits_value_and_grad(T x, T y,
                                                                               T pos_weight = T(1)) noexcept {
    if constexpr (detail::is_float_v<T>) {
        return detail::in_double<T>::apply(detail::wide_bce_with_logits_value_and_grad<>{}, x, y, pos_weight);
    } else {
        const auto c = detail::make_logistic_core(x);
        const auto w = detail::make_bce_logit_weights(y, pos_weight);
        return {detail::bce_logit_value(x, w, detail::log1p_exp(c)),
                detail::bce_logit_grad(x, w, detail::small_sigmoid(c))};
    }
}

// PyTorch BCELoss on a probability p in [0,1] (ATen semantics, clamp
// included): -(y max(log p, -100) + (1-y) max(log1p(-p), -100)).
// Within 2 ulp of that formula evaluated exactly for a target of 0 or 1,
// within 4 ulp for a soft target (two logarithms, the rounded 1 - y of a
// target below 1/2 and the products; 3 occur). p outside [0,1] or NaN ->
// NaN (PyTorch raises; the checked array kernels raise).
template <class T>
[[nodiscard]] LOGITLOSS_HD LOGITLOSS_INLINE T bce(T p, T y) noexcept {
    using O = detail::ops<T>;
    using S = detail::scalar_of_t<T>;
    const T clamp(detail::aten_bce<S>::log_clamp());
    const T log_p = detail::log_unit(p);
    const T log_q = detail::log1m_unit(p);
    const T lp = O::select(log_p < clamp, clamp, log_p);
    const T lq = O::select(log_q < clamp, clamp, log_q);
    const T loss = O::fma(O::neg(y), lp, (y - T(1)) * lq) + T(0);  // + 0: a zero loss is +0
    const auto valid = O::mask_and(p >= T(0), p <= T(1));
    return O::select(valid, loss, T(detail::quiet_nan<S>()));
}

// PyTorch BCELoss backward per element, d/dp: (p - y) / max(p(1-p), 1e-12f)
// with ATen's epsilon (a float constant, for double too). Within 1 ulp of
// that formula evaluated exactly (numerator and denominator are formed
// exactly, one correctly rounded division). p outside [0,1] or NaN -> NaN.
template <class T>
[[nodiscard]] LOGITLOSS_HD LOGITLOSS_INLINE T bce_grad(T p, T y) noexcept {
    using O = detail::ops<T>;
    using S = detail::scalar_of_t<T>;
    const T eps(detail::aten_bce<S>::grad_epsilon());
    // numerator p - y as an exact pair (two-sum)
    const T n_hi = p - y;
    const T nv = n_hi - p;
    const T n_lo = (p - (n_hi - nv)) + (O::neg(y) - nv);
    // 1 - p exactly (fast two-sum, p in [0,1]), then p(1-p) as a pair
    const T u_hi = T(1) - p;
    const T u_lo = (T(1) - u_hi) - p;
    T d_hi, d_lo;
    O::two_prod(p, u_hi, d_hi, d_lo);
    d_lo = O::fma(p, u_lo, d_lo);
    // max(p(1-p), eps) decided on the exact value
    const auto floor = O::mask_or(d_hi < eps, O::mask_and(d_hi == eps, d_lo < T(0)));
    d_hi = O::select(floor, eps, d_hi);
    d_lo = O::select(floor, T(0), d_lo);
    // n/d with one Newton correction on an exact residual
    const T q = n_hi / d_hi;
    const T res = (O::residual(n_hi, q, d_hi) + n_lo) - q * d_lo;
    // When numerator and denominator are single values, q is already the
    // correctly rounded quotient, and the residual may have underflowed
    // (tiny p on the epsilon floor): no correction then.
    const auto exact = O::mask_and(n_lo == T(0), d_lo == T(0));
    const T g = O::select(exact, q, q + res / d_hi);
    const auto valid = O::mask_and(p >= T(0), p <= T(1));
    return O::select(valid, g, T(detail::quiet_nan<S>()));
}

// bce and bce_grad in one pass.
template <class T>
[[nodiscard]] LOGITLOSS_HD LOGITLOSS_INLINE value_and_grad<T> bce_value_and_grad(T p, T y) noexcept {
    return {bce(p, y), bce_grad(p, y)};
}

LOGITLOSS_NAMESPACE_END
