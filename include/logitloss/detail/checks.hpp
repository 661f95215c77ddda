// logitloss/detail/checks.hpp — what the value checks of the CPU kernels
// (kernels.hpp) and the CUDA kernels (cuda.cuh) share: which weights they
// accept, and how a bad value is written in an error message.
#pragma once

#include <cstdio>
#include <limits>
#include <string>

#include "config.hpp"

LOGITLOSS_NAMESPACE_BEGIN
namespace detail {

// A weight or pos_weight the kernels accept: finite (v - v is 0, not NaN)
// and >= 0. Host and device.
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

}  // namespace detail
LOGITLOSS_NAMESPACE_END
