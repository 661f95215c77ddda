// logitloss/detail/checks.hpp — what the CPU kernels (kernels.hpp) and the
// CUDA kernels (cuda.cuh) share outside the formulas: which weights their
// value checks accept, how a bad value is written in an error message, and
// how the mean is formed from the sum.
#pragma once

#include <cstddef>
#include <cstdio>
#include <limits>
#include <string>

#include "config.hpp"
#include "ops.hpp"

LOGITLOSS_NAMESPACE_BEGIN
namespace detail {

// A probability or target the kernels accept: in [0, 1] (NaN is not).
// Host and device.
template <class T>
LOGITLOSS_HD inline bool valid_unit(T v) noexcept {
    return v >= T(0) && v <= T(1);
}

// A weight or pos_weight the kernels accept: finite (v - v is 0, not NaN)
// and >= 0, the same set as [0, max()] (all_in_range's vector form). Host
// and device (without numeric_limits, which device code may not call).
template <class T>
LOGITLOSS_HD inline bool valid_weight(T v) noexcept {
    return v >= T(0) && v - v == T(0);
}

// v for an error message, with enough digits to tell it from every other
// value of T (1.0000001f is not shown as 1.000000). Host only.
template <class T>
std::string describe(T v) {
    if (v != v) return "nan";
    char text[40];
    std::snprintf(text, sizeof text, "%.*g", std::numeric_limits<T>::max_digits10, static_cast<double>(v));
    return text;
}

// The mean of n values from their sum rounded to T: PyTorch's order (the
// rounded sum divided by n), the division in double, so that a float n above
// 2^24 is not rounded first (the same bits as sum / T(n) while n is exact in
// T). Within 1.5 ulp of the exact mean: the sum's half ulp, divided by n, is
// less than one ulp of the mean, and the division rounds once more (1.2 ulp
// occurs, tests/test_kernels.cpp). NaN for n = 0. Host and device.
template <class T>
LOGITLOSS_HD inline T mean_of(T sum, std::size_t n) noexcept {
    return n > 0 ? static_cast<T>(static_cast<double>(sum) / static_cast<double>(n)) : quiet_nan<T>();
}

// The mean from the sum rounded to T and the unrounded total (the kernels'
// double-word sum, hi + lo): mean_of(sum, n), except where the sum has
// overflowed T while the total is finite (float losses or weights near
// FLT_MAX: two losses of 3e38 sum to inf in float, 6e38 in double). There
// the rounded sum would make the mean inf although it is in range; the
// total divided by n in double, rounded once to T, is the mean (within an
// ulp). A double sum beyond DBL_MAX has overflowed in the total itself, and
// its mean stays inf, as in PyTorch. Host and device.
template <class T>
LOGITLOSS_HD inline T mean_of(T sum, double total, std::size_t n) noexcept {
    const bool sum_overflowed = sum - sum != T(0) && total - total == 0.0;  // inf - inf is NaN
    return n > 0 && sum_overflowed ? static_cast<T>(total / static_cast<double>(n)) : mean_of(sum, n);
}

}  // namespace detail
LOGITLOSS_NAMESPACE_END
