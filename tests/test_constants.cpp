// Every constant in detail/constants.hpp re-derived in higher precision
// (MPFR), with the property its comment states.
#include <doctest/doctest.h>

#include <mpfr.h>

#include <cmath>
#include <limits>

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
    // ln2_hi is short enough that k * ln2_hi is exact for the k reached.
    const int hi_bits = significant_bits(C::ln2_hi());
    const double k_max = std::ceil(static_cast<double>(C::exp_arg_max()) / 0.6931471805599453) + 1;
    CHECK(hi_bits + static_cast<int>(std::ceil(std::log2(k_max))) <= std::numeric_limits<T>::digits);
    // ln2_hi + ln2_lo is ln 2 to within half an ulp of ln2_lo.
    mpfr_sub_d(t.v, ln2.v, static_cast<double>(C::ln2_hi()), MPFR_RNDN);
    CHECK(rounded<T>(t) == C::ln2_lo());
    mpfr_ui_div(t.v, 1, ln2.v, MPFR_RNDN);
    CHECK(rounded<T>(t) == C::inv_ln2());
    mpfr_sqrt_ui(t.v, 2, MPFR_RNDN);
    CHECK(rounded<T>(t) == C::sqrt2());
    mpfr_div_ui(t.v, t.v, 2, MPFR_RNDN);
    mpfr_ui_sub(t.v, 1, t.v, MPFR_RNDN);
    CHECK(rounded<T>(t) == C::one_minus_half_sqrt2());
    // exp(-exp_arg_max) rounds to +0: it is below half the smallest subnormal.
    big half;
    mpfr_set_d(half.v, static_cast<double>(std::numeric_limits<T>::denorm_min()), MPFR_RNDN);
    mpfr_div_2ui(half.v, half.v, 1, MPFR_RNDN);
    mpfr_set_d(t.v, -static_cast<double>(C::exp_arg_max()), MPFR_RNDN);
    mpfr_exp(t.v, t.v, MPFR_RNDN);
    CHECK(mpfr_cmp(t.v, half.v) < 0);
    CHECK(C::round_magic() == T(1.5) * std::ldexp(T(1), std::numeric_limits<T>::digits - 1));
    CHECK(C::min_normal() == std::numeric_limits<T>::min());
    CHECK(C::min_normal_exponent() == T(std::numeric_limits<T>::min_exponent - 1));
    CHECK(C::subnormal_scale() == std::ldexp(T(1), static_cast<int>(C::subnormal_scale_log2())));
    CHECK(C::subnormal_scale() * std::numeric_limits<T>::denorm_min() >= std::numeric_limits<T>::min());
}

TEST_CASE_TEMPLATE("constants: polynomial truncation errors are below the stated bounds", T, float, double) {
    using C = ll::detail::constants<T>;
    const bool is_float = std::is_same<T, float>::value;
    // exp: the first dropped Taylor term on |r| <= ln2 / 2 (+ a margin for the rounding of k).
    const long double r = 0.5L * std::log(2.0L) * 1.0001L;
    const long double exp_dropped = std::pow(r, C::exp_degree + 1) * ll::detail::inv_factorial(C::exp_degree + 1);
    CHECK(exp_dropped < std::ldexp(1.0L, is_float ? -31 : -63));
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
    CHECK(ll::detail::aten_bce<double>::grad_epsilon() == 1e-12);
    CHECK(ll::detail::aten_bce<float>::grad_epsilon() == 1e-12f);
}
