// logitloss/detail/constants.hpp — every constant the formulas use, per scalar
// type, with where it comes from. tests/test_constants.cpp re-derives each one
// in higher precision (MPFR) and checks the properties stated here.
#pragma once

#include "config.hpp"

LOGITLOSS_NAMESPACE_BEGIN
namespace detail {

// 1/n!, computed exactly rounded in double (n! is exact in double for n <= 18).
LOGITLOSS_HD constexpr double inv_factorial(int n) noexcept {
    double f = 1.0;
    for (int i = 2; i <= n; ++i) f *= i;
    return 1.0 / f;
}

template <class S>
struct constants;

template <>
struct constants<float> {
    // Used by the float log of bce() (the float logit functions are
    // evaluated in double, logistic_wide.hpp).
    // ln 2 = ln2_hi + ln2_lo. ln2_hi is ln 2 truncated to 16 significant
    // bits, so j*ln2_hi is exact for every |j| < 2^8 (the log reduction
    // reaches |j| <= 150); ln2_lo is the remainder rounded to float.
    LOGITLOSS_HD static constexpr float ln2_hi() noexcept { return 0.693145751953125f; }  // 45426 / 2^16
    LOGITLOSS_HD static constexpr float ln2_lo() noexcept { return 1.428606765330187e-06f; }
    LOGITLOSS_HD static constexpr float min_normal() noexcept { return 1.17549435082228751e-38f; }  // 2^-126
    // Subnormal inputs of log() are scaled up by 2^24 first.
    LOGITLOSS_HD static constexpr float subnormal_scale() noexcept { return 16777216.0f; }
    LOGITLOSS_HD static constexpr float subnormal_scale_log2() noexcept { return 24.0f; }
    LOGITLOSS_HD static constexpr float sqrt2() noexcept { return 1.41421353816986084f; }  // sqrt 2 rounded to float
    LOGITLOSS_HD static constexpr float one_minus_half_sqrt2() noexcept { return 0.292893230915069580f; }
    // Terms of R(z) = sum_{k=1..K} 2 z^k/(2k+1) in log1p(f) = 2 atanh(s),
    // s = f/(2+f), |s| <= 3-2 sqrt2: the first dropped term, relative to the
    // result, s^(2K+2)/(2K+3), is below 2^-34.
    static constexpr int log_terms = 5;
};

template <>
struct constants<double> {
    // ln2_hi has 32 significant bits (k*ln2_hi exact for |k| < 2^21).
    LOGITLOSS_HD static constexpr double ln2_hi() noexcept { return 6.93147180369123816490e-01; }
    LOGITLOSS_HD static constexpr double ln2_lo() noexcept { return 1.90821492927058770002e-10; }
    LOGITLOSS_HD static constexpr double inv_ln2() noexcept { return 1.44269504088896338700e+00; }
    // exp(-a) rounds to +0 for a > 745.133...
    LOGITLOSS_HD static constexpr double exp_arg_max() noexcept { return 746.0; }
    LOGITLOSS_HD static constexpr double round_magic() noexcept { return 6755399441055744.0; }  // 1.5 * 2^52
    LOGITLOSS_HD static constexpr double min_normal_exponent() noexcept { return -1022.0; }
    LOGITLOSS_HD static constexpr double min_normal() noexcept { return 2.2250738585072014e-308; }
    LOGITLOSS_HD static constexpr double subnormal_scale() noexcept { return 18014398509481984.0; }  // 2^54
    LOGITLOSS_HD static constexpr double subnormal_scale_log2() noexcept { return 54.0; }
    LOGITLOSS_HD static constexpr double sqrt2() noexcept { return 1.4142135623730951; }
    LOGITLOSS_HD static constexpr double one_minus_half_sqrt2() noexcept { return 0.29289321881345248; }
    // r^15/15! < 2^-63 on |r| <= ln2/2.
    static constexpr int exp_degree = 14;
    // The first dropped term is below 2^-60 relative for |s| <= 3-2 sqrt2.
    // (sqrt2 and one_minus_half_sqrt2 below are branch points of the log
    // reduction; they are the correctly rounded values.)
    static constexpr int log_terms = 10;
};

// PyTorch BCELoss constants (ATen, aten/src/ATen/native/Loss.cpp): the log
// clamp and the denominator floor of the backward. ATen declares the floor
// as a float constant (1e-12f), so a double tensor's floor is
// double(1e-12f) = 9.999999960041972e-13, not 1e-12.
template <class S>
struct aten_bce {
    LOGITLOSS_HD static constexpr S log_clamp() noexcept { return S(-100); }
    LOGITLOSS_HD static constexpr S grad_epsilon() noexcept { return S(1e-12f); }
};

}  // namespace detail
LOGITLOSS_NAMESPACE_END
