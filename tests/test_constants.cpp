// Every constant in detail/constants.hpp re-derived in higher precision
// (MPFR), with the property its comment states.
#include <doctest/doctest.h>

#include <mpfr.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include <logitloss/diagnostics.hpp>
#include <logitloss/formulas.hpp>

#include "support.hpp"

namespace ll = logitloss;

namespace {

struct big {
    mpfr_t v;
    big() { mpfr_init2(v, 512); }
    ~big() { mpfr_clear(v); }
    big(const big&) = delete;
    big& operator=(const big&) = delete;
};

template <class T>
T rounded(const big& b) {
    return std::is_same<T, float>::value ? static_cast<T>(mpfr_get_flt(b.v, MPFR_RNDN))
                                         : static_cast<T>(mpfr_get_d(b.v, MPFR_RNDN));
}

// Number of significant bits of a finite non-zero value.
template <class T>
int significant_bits(T v) {
    int e;
    T m = std::frexp(std::fabs(v), &e);
    int bits = 0;
    while (m != T(0)) {
        m = m * 2;
        const T whole = std::floor(m);
        m -= whole;
        ++bits;
    }
    return bits;
}

}  // namespace

TEST_CASE_TEMPLATE("constants: ln 2 split, 1/ln 2, sqrt 2 and the reduction bounds", T, float, double) {
    using C = ll::detail::constants<T>;
    big ln2, t;
    mpfr_const_log2(ln2.v, MPFR_RNDN);
    // ln2_hi is short enough that k * ln2_hi is exact for every k reached:
    // the exponents of the log reduction (subnormals included) and, for
    // double, the k of exp(-a) up to exp_arg_max.
    const int hi_bits = significant_bits(C::ln2_hi());
    double k_max = std::numeric_limits<T>::digits - std::numeric_limits<T>::min_exponent + 1;
    if constexpr (std::is_same<T, double>::value)
        k_max = std::max(k_max, std::ceil(C::exp_arg_max() / 0.6931471805599453) + 1);
    CHECK(hi_bits + static_cast<int>(std::ceil(std::log2(k_max))) <= std::numeric_limits<T>::digits);
    // ln2_hi + ln2_lo is ln 2 to within half an ulp of ln2_lo.
    mpfr_sub_d(t.v, ln2.v, static_cast<double>(C::ln2_hi()), MPFR_RNDN);
    CHECK(rounded<T>(t) == C::ln2_lo());
    mpfr_sqrt_ui(t.v, 2, MPFR_RNDN);
    CHECK(rounded<T>(t) == C::sqrt2());
    mpfr_div_ui(t.v, t.v, 2, MPFR_RNDN);
    mpfr_ui_sub(t.v, 1, t.v, MPFR_RNDN);
    CHECK(rounded<T>(t) == C::one_minus_half_sqrt2());
    if constexpr (std::is_same<T, double>::value) {
        mpfr_ui_div(t.v, 1, ln2.v, MPFR_RNDN);
        CHECK(rounded<T>(t) == C::inv_ln2());
        // exp(-exp_arg_max) rounds to +0: it is below half the smallest subnormal.
        big half;
        mpfr_set_d(half.v, std::numeric_limits<T>::denorm_min(), MPFR_RNDN);
        mpfr_div_2ui(half.v, half.v, 1, MPFR_RNDN);
        mpfr_set_d(t.v, -C::exp_arg_max(), MPFR_RNDN);
        mpfr_exp(t.v, t.v, MPFR_RNDN);
        CHECK(mpfr_cmp(t.v, half.v) < 0);
        CHECK(C::round_magic() == T(1.5) * std::ldexp(T(1), std::numeric_limits<T>::digits - 1));
        CHECK(C::min_normal_exponent() == T(std::numeric_limits<T>::min_exponent - 1));
    }
    CHECK(C::min_normal() == std::numeric_limits<T>::min());
    CHECK(C::subnormal_scale() == std::ldexp(T(1), static_cast<int>(C::subnormal_scale_log2())));
    CHECK(C::subnormal_scale() * std::numeric_limits<T>::denorm_min() >= std::numeric_limits<T>::min());
}

TEST_CASE_TEMPLATE("constants: polynomial truncation errors are below the stated bounds", T, float, double) {
    using C = ll::detail::constants<T>;
    const bool is_float = std::is_same<T, float>::value;
    if constexpr (std::is_same<T, double>::value) {
        // exp: the first dropped Taylor term on |r| <= ln2 / 2 (+ a margin for the rounding of k).
        const long double r = 0.5L * std::log(2.0L) * 1.0001L;
        const long double exp_dropped = std::pow(r, C::exp_degree + 1) * ll::detail::inv_factorial(C::exp_degree + 1);
        CHECK(exp_dropped < std::ldexp(1.0L, -63));
    }
    // log1p(f) = 2s (1 + s^2/3 + s^4/5 + ...), s <= 3 - 2 sqrt 2: the first
    // dropped term relative to the result is s^(2k)/(2k+1), k = log_terms + 1.
    const long double s = 3.0L - 2.0L * std::sqrt(2.0L);
    const int k = C::log_terms + 1;
    const long double log_dropped = std::pow(s, 2 * k) / (2 * k + 1);
    CHECK(log_dropped < std::ldexp(1.0L, is_float ? -34 : -60));
}

TEST_CASE("constants: inverse factorials are correctly rounded") {
    big f, t;
    mpfr_set_ui(f.v, 1, MPFR_RNDN);
    for (int n = 2; n <= 18; ++n) {
        mpfr_mul_ui(f.v, f.v, static_cast<unsigned long>(n), MPFR_RNDN);
        mpfr_ui_div(t.v, 1, f.v, MPFR_RNDN);
        CAPTURE(n);
        CHECK(mpfr_get_d(t.v, MPFR_RNDN) == ll::detail::inv_factorial(n));
    }
}

TEST_CASE("constants: the ATen BCELoss clamp and epsilon") {
    CHECK(ll::detail::aten_bce<float>::log_clamp() == -100.f);
    CHECK(ll::detail::aten_bce<double>::grad_epsilon() == static_cast<double>(1e-12f));  // ATen's float EPSILON
    CHECK(ll::detail::aten_bce<float>::grad_epsilon() == 1e-12f);
}

// The float logit functions' double evaluation (logistic_wide.hpp): its
// constants, and the minimax polynomials' relative errors measured against
// MPFR on a dense grid (the Remez extrema lie between grid points only by
// a grid step, where the error curve is flat).
namespace {

// max over t in [lo, hi] of |poly(t) / f(t) - 1|, poly evaluated exactly
// (MPFR Horner on the double coefficients), as log2.
template <class Coef, class F>
double max_relative_error_log2(double lo, double hi, int degree, Coef coef, F f) {
    big p, v, err, worst;
    mpfr_set_zero(worst.v, 1);
    const int steps = 1 << 16;
    for (int i = 0; i <= steps; ++i) {
        const double t = lo + (hi - lo) * i / steps;
        mpfr_set_d(p.v, coef(degree), MPFR_RNDN);
        for (int j = degree - 1; j >= 0; --j) {
            mpfr_mul_d(p.v, p.v, t, MPFR_RNDN);
            mpfr_add_d(p.v, p.v, coef(j), MPFR_RNDN);
        }
        f(v, t);
        mpfr_div(err.v, p.v, v.v, MPFR_RNDN);
        mpfr_sub_ui(err.v, err.v, 1, MPFR_RNDN);
        mpfr_abs(err.v, err.v, MPFR_RNDN);
        if (mpfr_cmp(err.v, worst.v) > 0) mpfr_set(worst.v, err.v, MPFR_RNDN);
    }
    return std::log2(mpfr_get_d(worst.v, MPFR_RNDN));
}

}  // namespace

TEST_CASE("constants: the double evaluation of the float logit functions") {
    using W = ll::detail::wide_constants;
    big t;
    mpfr_const_log2(t.v, MPFR_RNDN);
    CHECK(mpfr_get_d(t.v, MPFR_RNDN) == W::ln2());
    mpfr_ui_div(t.v, 1, t.v, MPFR_RNDN);
    CHECK(mpfr_get_d(t.v, MPFR_RNDN) == W::inv_ln2());
    CHECK(W::round_magic() == 1.5 * std::ldexp(1.0, 52));
    // e is zeroed only where even a weight and a pos_weight of FLT_MAX each
    // cannot lift e^-a to half the smallest subnormal float, and exp(-a) is
    // a normal double below that point.
    CHECK(W::zero_from() > 406 * W::ln2());
    CHECK(std::exp(-W::zero_from()) > std::numeric_limits<double>::min());
    CHECK(std::nearbyint(W::zero_from() * W::inv_ln2()) <= 416);  // the k the reduction bound covers
    // exp(t) on |t| <= ln2/2 (+ the 2^-46 of the reduction): 2^-40.2.
    const double h = 0.5 * W::ln2() + std::ldexp(1.0, -40);
    const double exp_err = max_relative_error_log2(-h, h, W::exp_degree, W::exp_coefficient,
                                                   [](big& v, double x) {
                                                       mpfr_set_d(v.v, x, MPFR_RNDN);
                                                       mpfr_exp(v.v, v.v, MPFR_RNDN);
                                                   });
    MESSAGE("exp polynomial: max relative error 2^" << exp_err);
    CHECK(exp_err < -40.0);
    // 2 atanh(s)/s in z = s^2 on [0, 1/9]: 2^-38.5.
    const double log_err = max_relative_error_log2(0.0, 1.0 / 9.0, W::log_degree, W::log_coefficient,
                                                   [](big& v, double z) {
                                                       if (z == 0) {
                                                           mpfr_set_ui(v.v, 2, MPFR_RNDN);
                                                           return;
                                                       }
                                                       big s;
                                                       mpfr_set_d(s.v, z, MPFR_RNDN);
                                                       mpfr_sqrt(s.v, s.v, MPFR_RNDN);
                                                       mpfr_atanh(v.v, s.v, MPFR_RNDN);
                                                       mpfr_div(v.v, v.v, s.v, MPFR_RNDN);
                                                       mpfr_mul_ui(v.v, v.v, 2, MPFR_RNDN);
                                                   });
    MESSAGE("log polynomial: max relative error 2^" << log_err);
    CHECK(log_err < -38.0);
}
