// logitloss/detail/logistic.hpp — the shared numerical core: exp(-|x|) as an
// unevaluated pair, 1 + exp(-|x|), the small sigmoid e/(1+e), log1p(e), and a
// log with exact argument reduction. Written once against ops<T>; T is float,
// double, an xsimd batch, or a float/double in CUDA device code.
//
// The design goal is that every public float function rounds at most once or
// twice after an intermediate that is accurate to ~2^-28 relative (float) or
// ~2^-57 (double); the exhaustive tests measure what that gives.
#pragma once

#include "config.hpp"
#include "constants.hpp"
#include "ops.hpp"

LOGITLOSS_NAMESPACE_BEGIN
namespace detail {

// An unevaluated sum hi + lo with |lo| <= ulp(hi) (approximately).
template <class T>
struct pair {
    T hi;
    T lo;
};

// sum_{i=N..Last} C::coefficient(i) t^(i-N) in Estrin's scheme: split at
// the largest power of two h below the length, P = P_lo + t^h P_hi,
// recursively (at h/2 when P_hi would be a single coefficient, which saves
// forming t^h). The dependency chain is about log2 of the degree deep
// instead of the degree (Horner's rule), which is what limits a loop of
// independent elements on a wide out-of-order core; the t^h are common
// subexpressions.
template <class T, int H>
struct power_of {
    LOGITLOSS_HD static LOGITLOSS_INLINE T eval(T t) noexcept {
        const T p = power_of<T, H / 2>::eval(t);
        return p * p;
    }
};
template <class T>
struct power_of<T, 1> {
    LOGITLOSS_HD static LOGITLOSS_INLINE T eval(T t) noexcept { return t; }
};

template <class C, int N, int Last>
struct estrin {
    LOGITLOSS_HD static constexpr int split() noexcept {
        int h = 1;
        while (2 * h < Last - N + 1) h *= 2;
        return (Last - N + 1 - h == 1 && h >= 4) ? h / 2 : h;
    }
    template <class T>
    LOGITLOSS_HD static LOGITLOSS_INLINE T eval(T t) noexcept {
        constexpr int h = split();
        return ops<T>::fma(power_of<T, h>::eval(t), estrin<C, N + h, Last>::eval(t), estrin<C, N, N + h - 1>::eval(t));
    }
};
template <class C, int N>
struct estrin<C, N, N> {
    template <class T>
    LOGITLOSS_HD static LOGITLOSS_INLINE T eval(T) noexcept {
        return T(C::coefficient(N));
    }
};

// Taylor coefficients of exp, 1/n!, and of 2 atanh(s)/s in z = s^2,
// 2/(2k+1), rounded to S.
template <class S>
struct exp_taylor {
    LOGITLOSS_HD static constexpr S coefficient(int n) noexcept { return S(inv_factorial(n)); }
};
template <class S>
struct atanh_taylor {
    LOGITLOSS_HD static constexpr S coefficient(int k) noexcept { return S(2.0 / (2 * k + 1)); }
};

// exp(-|x|) = hi + lo, relative error below 2^-27 (float) / 2^-56 (double)
// before the final scaling; results in the subnormal range are rounded once
// (within 1 ulp there). NaN in, NaN out; |x| = inf gives +0.
//
// Algorithm: a = |x| (result 0 beyond a_max); k = round(a / ln2); r = k ln2 - a exactly as
// r + r_lo (Cody-Waite with a short ln2_hi, then an exact two-sum);
// exp(r + r_lo) = 1 + r + r^2 Q(r) + r_lo (1 + r) with Q the Taylor series;
// scale by 2^-k in two exact steps (the second one rounds into subnormals).
template <class T>
LOGITLOSS_HD LOGITLOSS_INLINE pair<T> exp_neg_abs(T x) noexcept {
    using O = ops<T>;
    using S = scalar_of_t<T>;
    using C = constants<S>;
    const T a_max(C::exp_arg_max());
    const T a0 = O::abs(x);
    // Beyond a_max the result is +0. Those lanes compute with a = 0 instead
    // and are zeroed at the end, so that saturated logits (half of all
    // floats) never run through subnormal arithmetic, which costs a
    // microcode assist per instruction on x86. NaN stays NaN.
    const auto beyond = a0 > a_max;
    const T a = O::select(beyond, T(0), a0);
    const T magic(C::round_magic());
    const T k = (a * T(C::inv_ln2()) + magic) - magic;
    const T r_hi = k * T(C::ln2_hi()) - a;  // exact: short ln2_hi, Sterbenz
    const T t = k * T(C::ln2_lo());
    const T r = r_hi + t;  // two-sum: r + r_lo == r_hi + t exactly
    const T tv = r - r_hi;
    const T r_lo = (r_hi - (r - tv)) + (t - tv);
    const T q = estrin<exp_taylor<S>, 2, C::exp_degree>::eval(r);
    const T v = O::fma(r * r, q, O::fma(r_lo, r, r_lo));
    const T s = T(1) + r;  // fast two-sum, |r| < 1
    const T s_lo = (T(1) - s) + r;
    const T w = s_lo + v;
    const T p_hi = s + w;  // renormalise p = exp(r + r_lo)
    const T p_lo = (s - p_hi) + w;
    const T min_exp(C::min_normal_exponent());
    const T k2 = O::select(-k < min_exp, min_exp, -k);  // 2^k2 is normal
    const T s1 = O::pow2(-k - k2);                      // in [2^-(p+1), 1]: p_hi * s1 stays normal, exact
    const T s2 = O::pow2(k2);
    return {O::select(beyond, T(0), (p_hi * s1) * s2), O::select(beyond, T(0), (p_lo * s1) * s2)};
}

// Everything the logistic functions of x share: e = exp(-|x|) as a pair,
// d = 1 + e as an exact pair, and inv = 1/d.hi rounded.
template <class T>
struct logistic_core {
    T x;
    T e_hi, e_lo;
    T d_hi, d_lo;
    T inv;
};

template <class T>
LOGITLOSS_HD LOGITLOSS_INLINE logistic_core<T> make_logistic_core(T x) noexcept {
    const pair<T> e = exp_neg_abs(x);
    const T d_hi = T(1) + e.hi;
    const T d_lo = ((T(1) - d_hi) + e.hi) + e.lo;  // fast two-sum, e <= 1
    return {x, e.hi, e.lo, d_hi, d_lo, T(1) / d_hi};
}

// m = e/(1+e) = sigmoid(-|x|) in (0, 1/2], within 0.5 ulp of a value
// accurate to ~2^-27 relative: one division, then the residual e - q*(1+e)
// (ops::residual: rounded once, exact where representable) and a Newton
// correction. Subnormal m is rounded once.
template <class T>
LOGITLOSS_HD LOGITLOSS_INLINE T small_sigmoid(const logistic_core<T>& c) noexcept {
    using O = ops<T>;
    const T q = c.e_hi * c.inv;
    const T res = O::residual(c.e_hi, q, c.d_hi) + (c.e_lo - q * c.d_lo);
    return O::fma(res, c.inv, q);
}

// log(1+f+f_lo) + j ln2 for f in [1/sqrt2 - 1, sqrt2 - 1], |f_lo| tiny,
// inv1pf ~ 1/(1+f), j integral.
//
// log1p(f) = 2 atanh(s), s = f/(2+f), written as f - (h - s(h + R)) with
// h = f^2/2 and R = sum 2 s^(2k)/(2k+1): the leading term f is exact, so the
// rounding of s only reaches the small correction.
template <class T>
LOGITLOSS_HD LOGITLOSS_INLINE T log_reduced(T j, T f, T f_lo, T inv1pf) noexcept {
    using O = ops<T>;
    using S = scalar_of_t<T>;
    using C = constants<S>;
    const T s = f / (T(2) + f);
    const T z = s * s;
    const T big_r = z * estrin<atanh_taylor<S>, 1, C::log_terms>::eval(z);
    const T h = T(S(0.5)) * f * f;
    const T corr = O::fma(O::neg(s), h + big_r, h);
    const T lp = f - O::fma(O::neg(f_lo), inv1pf, corr);
    return O::fma(j, T(C::ln2_hi()), O::fma(j, T(C::ln2_lo()), lp));
}

// log1p(e) = log(d) for d = 1 + e in [1, 2], from the exact pair d.
template <class T>
LOGITLOSS_HD LOGITLOSS_INLINE T log1p_exp(const logistic_core<T>& c) noexcept {
    using O = ops<T>;
    using S = scalar_of_t<T>;
    const auto big = c.d_hi >= T(constants<S>::sqrt2());
    const T half(S(0.5));
    const T f = O::select(big, c.d_hi * half, c.d_hi) - T(1);  // exact
    const T f_lo = O::select(big, c.d_lo * half, c.d_lo);
    const T inv1pf = O::select(big, c.inv + c.inv, c.inv);
    const T j = O::select(big, T(1), T(0));
    return log_reduced(j, f, f_lo, inv1pf);
}

// Argument reduction of log(v) for v > 0 (normal or subnormal):
// v = (1 + f) 2^j with f in [1/sqrt2 - 1, sqrt2 - 1), exactly.
template <class T>
LOGITLOSS_HD LOGITLOSS_INLINE void log_reduce(T v, T& j, T& f) noexcept {
    using O = ops<T>;
    using S = scalar_of_t<T>;
    using C = constants<S>;
    const auto tiny = v < T(C::min_normal());
    const T vs = O::select(tiny, v * T(C::subnormal_scale()), v);
    T m, k;
    O::split_exp(vs, m, k);
    k = O::select(tiny, k - T(C::subnormal_scale_log2()), k);
    const auto big = m >= T(C::sqrt2());
    f = O::select(big, m * T(S(0.5)), m) - T(1);  // exact
    j = O::select(big, k + T(1), k);
}

// log(p) for p in [0, 1]; log(0) = -inf. Out-of-range p is the caller's.
template <class T>
LOGITLOSS_HD LOGITLOSS_INLINE T log_unit(T p) noexcept {
    using O = ops<T>;
    using S = scalar_of_t<T>;
    T j, f;
    log_reduce(p, j, f);
    const T r = log_reduced(j, f, T(0), T(0));
    return O::select(p == T(0), T(-infinity<S>()), r);
}

// log(1 - p) for p in [0, 1]; log1p(-1) = -inf. The argument 1 + f is
// formed exactly: f = -p below 1 - 1/sqrt2, f = 1 - 2p (and j = -1) below
// 1/2, and the exact 1 - p reduced like log() above that.
template <class T>
LOGITLOSS_HD LOGITLOSS_INLINE T log1m_unit(T p) noexcept {
    using O = ops<T>;
    using S = scalar_of_t<T>;
    using C = constants<S>;
    T j, f;
    log_reduce(T(1) - p, j, f);
    const auto below_half = p < T(S(0.5));
    const auto small = p < T(C::one_minus_half_sqrt2());
    f = O::select(small, O::neg(p), O::select(below_half, T(1) - (p + p), f));
    j = O::select(small, T(0), O::select(below_half, T(-1), j));
    const T r = log_reduced(j, f, T(0), T(0));
    return O::select(p == T(1), T(-infinity<S>()), r);
}

}  // namespace detail
LOGITLOSS_NAMESPACE_END
