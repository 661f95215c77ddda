// logitloss/testing.hpp — helpers to test loss code over logit ranges, ours
// or a user's: ULP distance, iteration over every float in a range (one
// thread or several), higher-precision reference functions, and the
// vocabulary of logit ranges and special values. Standard library only
// (plus diagnostics.hpp of this library for the thresholds).
//
//   ulp_distance(a, b)                 representable steps between a and b
//   for_each_float(lo, hi, f)          f(x) for every float x in [lo, hi], in order
//   for_each_float(lo, hi, f, threads) the same on `threads` threads
//   reference::sigmoid(x) ...          float functions evaluated in long double,
//                                      rounded once to float (where long double
//                                      is wider than double: see below)
//   ranges<T>::saturated_negative ...  named logit ranges [lo, hi]
//   threshold_values<T>()              the saturation thresholds of T, both signs
//   special_values<T>()                ±0, ±inf, NaN, ±min normal, ±denorm min, ±max
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <limits>
#include <thread>
#include <type_traits>
#include <vector>

#include "diagnostics.hpp"

LOGITLOSS_NAMESPACE_BEGIN
namespace testing {

// The unsigned integer type holding T's bits (float: 32, double: 64).
template <class T>
using bits_t = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;

namespace detail {

template <class T>
bits_t<T> bits_of(T v) noexcept {
    bits_t<T> b;
    std::memcpy(&b, &v, sizeof b);
    return b;
}

template <class T>
T from_bits(bits_t<T> b) noexcept {
    T v;
    std::memcpy(&v, &b, sizeof v);
    return v;
}

// v's position on a line where consecutive values of T (infinities
// included) are one apart and +0 and -0 coincide: +-0 is at 2^(bits-1),
// negative values below it, positive values above.
template <class T>
bits_t<T> line_position(T v) noexcept {
    constexpr bits_t<T> sign = bits_t<T>(1) << (sizeof(T) * 8 - 1);
    const bits_t<T> b = bits_of(v);
    return (b & sign) ? sign - (b & ~sign) : sign + b;
}

}  // namespace detail

// Distance between a and b in representable steps of T: 0 when they are
// equal (+0 and -0 are equal) and when both are NaN; the maximum value of
// bits_t<T> when exactly one is NaN. Infinities are one step beyond max.
template <class T>
[[nodiscard]] bits_t<T> ulp_distance(T a, T b) noexcept {
    static_assert(std::is_same<T, float>::value || std::is_same<T, double>::value, "float or double");
    const bool na = std::isnan(a), nb = std::isnan(b);
    if (na || nb) return na && nb ? bits_t<T>(0) : std::numeric_limits<bits_t<T>>::max();
    const bits_t<T> pa = detail::line_position(a), pb = detail::line_position(b);
    return pa > pb ? pa - pb : pb - pa;
}

// Calls f(x) for every float x with lo <= x <= hi, in increasing order.
// The zeros follow the bounds' signs: -0 is visited when lo is -0 or
// negative, +0 when hi is +0 or positive (both: -0 first). Nothing is
// called when lo > hi or either bound is NaN. An exception from f ends the
// walk and propagates.
template <class F>
void for_each_float(float lo, float hi, F&& f) {
    if (!(lo <= hi)) return;
    // Visit by position on the line of floats; -0 and +0 share a position,
    // so the walk uses the raw bit patterns through zero.
    float x = lo;
    for (;;) {
        f(x);
        if (detail::bits_of(x) == detail::bits_of(hi)) return;
        if (x == 0.f && std::signbit(x) && !std::signbit(hi)) {
            x = 0.f;  // -0 -> +0
        } else {
            x = std::nextafter(x, std::numeric_limits<float>::infinity());
        }
        if (x > hi) return;
    }
}

namespace detail {
// Thrown inside the other runs of a threaded for_each_float once one run's
// f has thrown, to end them early; never leaves for_each_float.
struct run_stopped {};
}  // namespace detail

// As for_each_float(lo, hi, f), split into `threads` contiguous runs that
// run at once, each on its own thread started for the call and joined
// before it returns (threads = 0: std::thread::hardware_concurrency(); a
// run whose thread cannot be started runs on the caller's thread). f is
// called concurrently from different threads: it must be safe for that.
// Within a run, values come in increasing order. When f throws (a failed
// assertion of a test framework, say), the other runs stop at their next
// value and, every thread joined, the exception of the lowest run that
// threw is rethrown.
template <class F>
void for_each_float(float lo, float hi, F&& f, unsigned threads) {
    if (!(lo <= hi)) return;
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
    // Runs over positions on the line of floats (with -0 and +0 as one
    // position); the run holding 0 visits both zeros, as the serial form.
    const std::uint64_t first = detail::line_position(lo), last = detail::line_position(hi);
    const std::uint64_t count = last - first + 1;
    if (threads <= 1 || count < 2 * std::uint64_t(threads)) {
        for_each_float(lo, hi, f);
        return;
    }
    auto at = [](std::uint64_t position) {
        constexpr std::uint32_t sign = 0x80000000u;
        const auto p = static_cast<std::uint32_t>(position);
        return p >= sign ? detail::from_bits<float>(p - sign) : detail::from_bits<float>(sign | (sign - p));
    };
    struct run {
        float lo, hi;
        std::exception_ptr failure;
    };
    std::vector<run> runs;
    runs.reserve(threads);
    const std::uint64_t per = count / threads, extra = count % threads;
    std::uint64_t begin = first;
    for (unsigned t = 0; t < threads; ++t) {
        const std::uint64_t end = begin + per + (t < extra ? 1 : 0);  // [begin, end)
        float run_lo = at(begin);                 // +0 at zero's position
        if (begin == first) run_lo = lo;          // keeps the sign of a zero lo
        else if (run_lo == 0.f) run_lo = -0.f;    // the range holds -0 too: visit both
        const float run_hi = end - 1 == last ? hi : at(end - 1);
        runs.push_back({run_lo, run_hi, nullptr});
        begin = end;
    }
    std::atomic<bool> stop{false};
    const auto walk = [&f, &stop](run& r) noexcept {
        try {
            for_each_float(r.lo, r.hi, [&f, &stop](float x) {
                if (stop.load(std::memory_order_relaxed)) throw detail::run_stopped{};
                f(x);
            });
        } catch (const detail::run_stopped&) {
        } catch (...) {
            r.failure = std::current_exception();
            stop.store(true, std::memory_order_relaxed);
        }
    };
    std::vector<std::thread> pool;
    pool.reserve(threads - 1);
    std::vector<run*> own;  // runs on the caller's thread
    own.reserve(threads);
    for (unsigned t = 0; t + 1 < threads; ++t) {
        try {
            pool.emplace_back(walk, std::ref(runs[t]));
        } catch (...) {
            own.push_back(&runs[t]);  // reserved: cannot throw
        }
    }
    own.push_back(&runs[threads - 1]);
    for (run* r : own) walk(*r);
    for (auto& th : pool) th.join();
    for (const auto& r : runs)
        if (r.failure) std::rethrow_exception(r.failure);
}

// A closed range [lo, hi] of logits.
template <class T>
struct range {
    T lo;
    T hi;
    [[nodiscard]] constexpr bool contains(T x) const noexcept { return lo <= x && x <= hi; }
};

// Named logit ranges of type T; the boundaries are values of T (see
// thresholds<T> in diagnostics.hpp for their derivation).
//   saturated_negative  sigmoid(x) is +0 (correctly rounded): x <= sigmoid_zero
//   subnormal_result    sigmoid(x) is below the smallest normal (before
//                       rounding) but not 0: the log-sigmoid and gradient
//                       tails of subnormal arithmetic
//   naive_overflow      exp(-x) overflows in T: PyTorch's 1/(1+exp(-x)) is 0
//   linear              |x| <= 1/2: sigmoid(x) - 1/2 is x/4 within 2.1%
//   naive_saturated     1 + exp(-x) rounds to 1 in T: PyTorch's sigmoid is 1,
//                       the chained Sigmoid->BCELoss gradient is 0
//   saturated_positive  sigmoid(x) is 1 (correctly rounded): x >= sigmoid_one
//   subnormal_input     x is subnormal or zero
template <class T>
struct ranges {
    using th = thresholds<T>;
    static constexpr T max = std::numeric_limits<T>::max();
    static constexpr T min_normal = std::numeric_limits<T>::min();
    // The largest T below -ln(1/min_normal - 1), where sigmoid(x) is below
    // the smallest normal: -0x1.5d58ap+6 (float), -0x1.6232bdd7abcd3p+9 (double).
    static constexpr T subnormal_top =
        sizeof(T) == 4 ? T(-0x1.5d58ap+6) : T(-0x1.6232bdd7abcd3p+9);
    static constexpr range<T> saturated_negative{-max, th::sigmoid_zero};
    static constexpr range<T> subnormal_result{
        sizeof(T) == 4 ? T(-0x1.9fe368p+6) : T(-0x1.74910d52d3051p+9), subnormal_top};  // next above sigmoid_zero
    static constexpr range<T> naive_overflow{-max, th::naive_sigmoid_zero};
    static constexpr range<T> linear{T(-0.5), T(0.5)};
    static constexpr range<T> naive_saturated{th::naive_sigmoid_one, max};
    static constexpr range<T> saturated_positive{th::sigmoid_one, max};
    static constexpr range<T> subnormal_input{-min_normal, min_normal};
};

// The thresholds of T (thresholds<T> in diagnostics.hpp, and where
// sigmoid's result leaves the normal range), each with both signs: where a
// loss implementation is most likely to change behaviour.
template <class T>
[[nodiscard]] std::array<T, 10> threshold_values() noexcept {
    using th = thresholds<T>;
    constexpr T top = ranges<T>::subnormal_top;
    return {th::sigmoid_one,       -th::sigmoid_one,       th::sigmoid_zero, -th::sigmoid_zero, th::naive_sigmoid_one,
            -th::naive_sigmoid_one, th::naive_sigmoid_zero, -th::naive_sigmoid_zero, top, -top};
}

// ±0, ±inf, NaN, ±min normal, ±denorm min, ±max of T.
template <class T>
[[nodiscard]] std::array<T, 11> special_values() noexcept {
    using L = std::numeric_limits<T>;
    return {T(0), -T(0), L::infinity(), -L::infinity(), L::quiet_NaN(), L::min(), -L::min(), L::denorm_min(),
            -L::denorm_min(), L::max(), -L::max()};
}

// Reference versions of the public element-wise functions for float,
// evaluated in long double (64 significand bits on x86-64, 113 on AArch64
// Linux) and rounded once to float. The result is the correctly rounded
// value unless the exact value lies within about 2^-60 (relative) of the
// midpoint between two floats, where the long double error can tip the
// rounding: a rare case (tests that need certainty accept both neighbours
// there, as the library's own sweep does). NaN in, NaN out; a probability
// outside [0, 1] gives NaN, as the library's bce and bce_grad do; targets are
// not checked. Host only.
//
// Defined only where long double is wider than double (x86-64, AArch64
// Linux; LOGITLOSS_TESTING_FLOAT_REFERENCE is then 1): where it is double
// (MSVC, Apple arm64) it would be no more precise than the library's own
// evaluation of float functions in double, so it is left out (the macro is
// 0) and the rest of this header still works.
#if LDBL_MANT_DIG >= 64
#define LOGITLOSS_TESTING_FLOAT_REFERENCE 1
namespace reference {

namespace detail {
using L = long double;
inline L softplus(L x) noexcept { return std::fmax(x, L(0)) + std::log1p(std::exp(-std::fabs(x))); }
inline L sigmoid(L x) noexcept {
    const L e = std::exp(-std::fabs(x));
    return x >= 0 ? 1 / (1 + e) : e / (1 + e);
}
// The two terms of the BCE-with-logits loss (f = softplus) or gradient
// (f = sigmoid): pos_weight y f(-x) and (1 - y) f(x), each 0 where its
// weight is, so that a hard target never multiplies an infinite f by 0.
struct terms {
    L negative, positive;
};
template <class F>
terms weighted(float x, float y, float pos_weight, F f) noexcept {
    const L lx = x, ly = y;
    const L a = L(pos_weight) * ly;  // exact
    return {a == 0 ? L(0) : a * f(-lx), ly == 1 ? L(0) : (1 - ly) * f(lx)};
}
inline bool any_nan(float x, float y, float pos_weight) noexcept {
    return std::isnan(x) || std::isnan(y) || std::isnan(pos_weight);
}
}  // namespace detail

[[nodiscard]] inline float sigmoid(float x) noexcept {
    return std::isnan(x) ? x : static_cast<float>(detail::sigmoid(x));
}
// grad_out sigmoid(x) sigmoid(-x) = grad_out e / (1 + e)^2, e = exp(-|x|).
[[nodiscard]] inline float sigmoid_backward(float x, float grad_out) noexcept {
    if (std::isnan(x) || std::isnan(grad_out)) return std::numeric_limits<float>::quiet_NaN();
    using L = long double;
    const L e = std::exp(-std::fabs(static_cast<L>(x)));
    return static_cast<float>(L(grad_out) * (e / ((1 + e) * (1 + e))));
}
[[nodiscard]] inline float sigmoid_grad(float x) noexcept { return sigmoid_backward(x, 1.f); }
[[nodiscard]] inline float softplus(float x) noexcept {
    return std::isnan(x) ? x : static_cast<float>(detail::softplus(x));
}
[[nodiscard]] inline float log_sigmoid(float x) noexcept {
    return std::isnan(x) ? x : static_cast<float>(-detail::softplus(-static_cast<long double>(x)));
}
// pos_weight y softplus(-x) + (1 - y) softplus(x).
[[nodiscard]] inline float bce_with_logits(float x, float y, float pos_weight = 1.f) noexcept {
    if (detail::any_nan(x, y, pos_weight)) return std::numeric_limits<float>::quiet_NaN();
    const detail::terms t = detail::weighted(x, y, pos_weight, [](detail::L v) { return detail::softplus(v); });
    return static_cast<float>(t.negative + t.positive);
}
// d/dx: (1 - y) sigmoid(x) - pos_weight y sigmoid(-x).
[[nodiscard]] inline float bce_with_logits_grad(float x, float y, float pos_weight = 1.f) noexcept {
    if (detail::any_nan(x, y, pos_weight)) return std::numeric_limits<float>::quiet_NaN();
    const detail::terms t = detail::weighted(x, y, pos_weight, [](detail::L v) { return detail::sigmoid(v); });
    return static_cast<float>(t.positive - t.negative);
}
// PyTorch BCELoss on a probability p: -(y max(log p, -100) + (1 - y)
// max(log(1 - p), -100)), log(1 - p) taken without rounding 1 - p.
[[nodiscard]] inline float bce(float p, float y) noexcept {
    // !(p in [0, 1]) holds for NaN too; fmax would turn log's NaN into -100.
    if (!(p >= 0.f && p <= 1.f) || std::isnan(y)) return std::numeric_limits<float>::quiet_NaN();
    using L = long double;
    const L lp = p, ly = y;
    const L log_p = std::fmax(std::log(lp), L(-100)), log_q = std::fmax(std::log1p(-lp), L(-100));
    const L a = ly == 0 ? L(0) : ly * log_p, b = ly == 1 ? L(0) : (1 - ly) * log_q;
    return static_cast<float>(-(a + b));
}
// ATen's BCELoss gradient: (p - y) / max(p (1 - p), 1e-12f), exactly.
[[nodiscard]] inline float bce_grad(float p, float y) noexcept {
    if (!(p >= 0.f && p <= 1.f) || std::isnan(y)) return std::numeric_limits<float>::quiet_NaN();
    using L = long double;
    const L lp = p;
    const L d = std::fmax(lp * (1 - lp), L(1e-12f));
    return static_cast<float>((lp - L(y)) / d);
}

}  // namespace reference
#else
#define LOGITLOSS_TESTING_FLOAT_REFERENCE 0
#endif
}  // namespace testing
LOGITLOSS_NAMESPACE_END
