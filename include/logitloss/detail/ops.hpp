// logitloss/detail/ops.hpp — the primitive operations the formulas are written
// in, for scalar float/double on the host and in CUDA device code. The xsimd
// batch versions live in ops_xsimd.hpp with the same names and meanings.
//
// Every formula in formulas.hpp is written against `ops<T>` only, so the
// scalar, SIMD and CUDA paths are one source text. The primitives are chosen
// so that each has one exact meaning on every backend:
//   fma        fused a*b+c, one rounding (scalar: always fused, see below)
//   two_prod   a*b as an unevaluated pair hi+lo with hi+lo == a*b exactly
//   residual   n - q*d, exact whenever that value is representable (the
//              remainder of a rounded quotient q ~ n/d)
//   select     lane-wise c ? a : b, never evaluating a NaN into a trap
//   pow2       2^k for an integral k in the normal exponent range, exactly
//   scale_pow2 v * 2^k for such k (one instruction on AVX-512)
//   split_exp  v = m * 2^k with m in [1,2), for positive normal v
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "config.hpp"

namespace logitloss {

// A loss value and its derivative, computed in one pass. Outside the
// LOGITLOSS_ABI_TAG namespace, as the other public types (kernels.hpp).
template <class T>
struct value_and_grad {
    T value;
    T grad;
};

}  // namespace logitloss

LOGITLOSS_NAMESPACE_BEGIN

namespace detail {

// Primary template: specialised below for float/double and in ops_xsimd.hpp
// for xsimd::batch. A missing specialisation means a type the functions do
// not take (an integer, long double, arguments of mixed types that deduced
// T from the first) or xsimd batches used without including
// <logitloss/logitloss.hpp> (or detail/ops_xsimd.hpp).
template <class T, class Enable = void>
struct ops {
    static_assert(sizeof(T) == 0,
                  "logitloss: the functions take float, double or an xsimd batch of them, every argument of "
                  "one type (sigmoid(0.f), bce_with_logits(x, 1.f) for a float x); for xsimd batches include "
                  "<logitloss/logitloss.hpp>");
};

// The scalar element type behind T (float for xsimd::batch<float, A>).
template <class T, class Enable = void>
struct scalar_of {
    using type = T;
};
template <class T>
using scalar_of_t = typename scalar_of<T>::type;

// Bit layout of the IEEE binary formats the library supports.
template <class S>
struct float_bits;
template <>
struct float_bits<float> {
    using uint = std::uint32_t;
    static constexpr int mantissa_bits = 23;
    static constexpr int exponent_bias = 127;
    static constexpr int min_normal_exponent = -126;
};
template <>
struct float_bits<double> {
    using uint = std::uint64_t;
    static constexpr int mantissa_bits = 52;
    static constexpr int exponent_bias = 1023;
    static constexpr int min_normal_exponent = -1022;
};

template <class S>
LOGITLOSS_HD LOGITLOSS_INLINE typename float_bits<S>::uint to_bits(S v) noexcept {
    typename float_bits<S>::uint u;
    std::memcpy(&u, &v, sizeof v);
    return u;
}
template <class S>
LOGITLOSS_HD LOGITLOSS_INLINE S from_bits(typename float_bits<S>::uint u) noexcept {
    S v;
    std::memcpy(&v, &u, sizeof v);
    return v;
}

// +inf and a quiet NaN of type S, from their bit patterns.
template <class S>
LOGITLOSS_HD LOGITLOSS_INLINE S infinity() noexcept {
    using U = typename float_bits<S>::uint;
    return from_bits<S>(((U(1) << (sizeof(S) * 8 - 1 - float_bits<S>::mantissa_bits)) - 1) << float_bits<S>::mantissa_bits);
}
template <class S>
LOGITLOSS_HD LOGITLOSS_INLINE S quiet_nan() noexcept {
    using U = typename float_bits<S>::uint;
    return from_bits<S>(to_bits(infinity<S>()) | (U(1) << (float_bits<S>::mantissa_bits - 1)));
}

// s + c += v with s the plain running sum and c the running sum of the
// exact rounding errors of s (Knuth's two-sum, valid for any order of
// magnitude): Ogita, Rump and Oishi's Sum2, whose error is about
// 2^-53 |sum| + n^2 2^-106 sum|v|. Only additions: nothing here can be
// contracted. Scalars, SIMD batches (the CPU accumulator) and device code.
template <class V>
LOGITLOSS_HD LOGITLOSS_INLINE void two_sum_add(V& s, V& c, const V& v) noexcept {
    const V t = s + v;
    const V bp = t - s;
    c += (s - (t - bp)) + (v - bp);
    s = t;
}

// hi + lo, a sum in double-word arithmetic, rounded once to T (hi alone when
// it is inf or NaN: lo is meaningless then; hi - hi == 0 exactly when hi is
// finite). For float, the double s = hi + lo is first rounded to odd: when
// it is inexact (its two-sum error e is not 0) and its last bit is even, it
// moves one ulp toward the exact sum. A value rounded to odd with two bits
// more than float (double has 29 more) rounds to the float nearest the
// exact sum; s itself would not where it falls exactly halfway between two
// floats and e breaks the tie (as in 1 + 2^-24 + 2^-80).
template <class T>
LOGITLOSS_HD LOGITLOSS_INLINE T rounded_sum(double hi, double lo) noexcept {
    if (!(hi - hi == 0.0)) return static_cast<T>(hi);
    double s = hi, e = 0.0;
    two_sum_add(s, e, lo);  // s = hi + lo rounded, s + e == hi + lo exactly
    if (sizeof(T) == sizeof(double) || !(s - s == 0.0)) return static_cast<T>(s);
    std::uint64_t u = to_bits(s);
    // s == 0 has e == 0 (a sum of doubles that rounds to 0 is 0), and an
    // even last bit is never the largest finite magnitude: u +- 1 stays finite.
    if (e != 0.0 && (u & 1u) == 0) u = (e > 0.0) == (s > 0.0) ? u + 1 : u - 1;
    return static_cast<T>(from_bits<double>(u));
}

// The scalar fma on x86-64 host code built without -mfma (plain x86-64, or
// any -march below haswell / x86-64-v3): there std::fma compiles into a
// call into libm, which spills every live register and makes each scalar
// function about 3.3 times slower. Instead the FMA instruction is used
// whenever the running CPU has it (and the OS enables its AVX state, which
// __builtin_cpu_supports tests), and libm's fma otherwise. Both round a*b+c
// once, so the results are the same bits. Not under nvcc, whose host pass
// keeps std::fma.
#if !defined(__CUDACC__) && defined(__x86_64__) && !defined(__FMA__) && (defined(__GNUC__) || defined(__clang__))
#define LOGITLOSS_DETAIL_RUNTIME_FMA 1
template <class S>
LOGITLOSS_INLINE S runtime_fma(S a, S b, S c) noexcept {
    if (__builtin_cpu_supports("fma")) {
        // a = a*b + c; {AT&T|Intel} operand orders, for -masm=intel too.
        if constexpr (sizeof(S) == 8) {
            __asm__("vfmadd213sd {%2, %1, %0|%0, %1, %2}" : "+x"(a) : "x"(b), "xm"(c));
        } else {
            __asm__("vfmadd213ss {%2, %1, %0|%0, %1, %2}" : "+x"(a) : "x"(b), "xm"(c));
        }
        return a;
    }
    return std::fma(a, b, c);
}
#else
#define LOGITLOSS_DETAIL_RUNTIME_FMA 0
#endif

template <class S>
struct ops<S, std::enable_if_t<std::is_same<S, float>::value || std::is_same<S, double>::value>> {
    using value_type = S;
    using mask_type = bool;
    using uint = typename float_bits<S>::uint;

    // c ? a : b. On the host as a bit blend, so that no branch is left for
    // the compiler to build: under -ftrapping-math (the default) GCC does
    // not if-convert a floating-point ternary whose arms it has sunk into
    // branches, and a loop over any function would then not vectorize.
    // The same bits either way (NaN payloads and -0 included).
    LOGITLOSS_HD static LOGITLOSS_INLINE S select(bool c, S a, S b) noexcept {
#if LOGITLOSS_DEVICE_PASS
        return c ? a : b;
#else
        const uint m = uint(0) - uint(c);
        return from_bits<S>((to_bits(a) & m) | (to_bits(b) & ~m));
#endif
    }
    LOGITLOSS_HD static LOGITLOSS_INLINE bool mask_and(bool a, bool b) noexcept { return a && b; }
    LOGITLOSS_HD static LOGITLOSS_INLINE bool mask_or(bool a, bool b) noexcept { return a || b; }

    LOGITLOSS_HD static LOGITLOSS_INLINE S fma(S a, S b, S c) noexcept {
#if LOGITLOSS_DEVICE_PASS
        return ::fma(a, b, c);  // overloaded for float and double in device code
#elif LOGITLOSS_DETAIL_RUNTIME_FMA
        return runtime_fma(a, b, c);
#else
        return std::fma(a, b, c);
#endif
    }

    LOGITLOSS_HD static LOGITLOSS_INLINE S neg(S a) noexcept { return -a; }

    LOGITLOSS_HD static LOGITLOSS_INLINE S abs(S a) noexcept {
        return from_bits<S>(to_bits(a) & ~(uint(1) << (sizeof(S) * 8 - 1)));
    }

    // a*b == hi + lo exactly (barring overflow/underflow of lo).
    LOGITLOSS_HD static LOGITLOSS_INLINE void two_prod(S a, S b, S& hi, S& lo) noexcept {
        hi = a * b;
        lo = fma(a, b, -hi);
    }

    // n - q*d in one fused operation: exact when the value is representable,
    // as it is for q the rounded quotient n/d (barring underflow). No product
    // is left for the compiler to contract (-ffp-contract=fast would fuse a
    // separate n - hi into fma(-q, d, n) and count the low half twice).
    LOGITLOSS_HD static LOGITLOSS_INLINE S residual(S n, S q, S d) noexcept { return fma(-q, d, n); }

    // 2^k for integral k in [min_normal_exponent, 0], built from its bits. k
    // arrives as S; NaN and out-of-range k give an unspecified finite or
    // non-finite value (callers only feed NaN when the result is NaN anyway).
    LOGITLOSS_HD static LOGITLOSS_INLINE S pow2(S k) noexcept {
        // k + magic places the integer k in the low mantissa bits; unsigned
        // arithmetic keeps garbage (NaN) inputs free of undefined behaviour.
        constexpr S magic = S(3) * S(uint(1) << (float_bits<S>::mantissa_bits - 1));
        const uint biased = to_bits(S(k + magic)) - to_bits(magic) + uint(float_bits<S>::exponent_bias);
        return from_bits<S>(biased << float_bits<S>::mantissa_bits);
    }

    // v * 2^k for integral k with 2^k normal.
    LOGITLOSS_HD static LOGITLOSS_INLINE S scale_pow2(S v, S k) noexcept { return v * pow2(k); }

    // For positive normal v: m in [1,2) and integral k with v == m * 2^k.
    LOGITLOSS_HD static LOGITLOSS_INLINE void split_exp(S v, S& m, S& k) noexcept {
        constexpr int mb = float_bits<S>::mantissa_bits;
        constexpr S magic = S(3) * S(uint(1) << (mb - 1));
        const uint u = to_bits(v);
        const uint e = u >> mb;  // biased exponent (sign is 0)
        m = from_bits<S>((u & ((uint(1) << mb) - 1)) | (uint(float_bits<S>::exponent_bias) << mb));
        k = from_bits<S>(to_bits(magic) + e - uint(float_bits<S>::exponent_bias)) - magic;
    }
};

template <class T>
constexpr bool is_float_v = std::is_same<scalar_of_t<T>, float>::value;

// Float functions evaluated in double (see logistic_wide.hpp):
// apply(f, args...) calls f on the arguments widened to double and rounds
// what f returns, a value or a value_and_grad, once to float. Specialised
// for xsimd float batches in ops_xsimd.hpp.
template <class T, class Enable = void>
struct in_double;

template <>
struct in_double<float> {
    template <class F, class... Args>
    LOGITLOSS_HD static LOGITLOSS_INLINE auto apply(F f, Args... args) noexcept {
        return narrow(f(static_cast<double>(args)...));
    }
    LOGITLOSS_HD static LOGITLOSS_INLINE float narrow(double v) noexcept { return static_cast<float>(v); }
    LOGITLOSS_HD static LOGITLOSS_INLINE value_and_grad<float> narrow(const value_and_grad<double>& v) noexcept {
        return {static_cast<float>(v.value), static_cast<float>(v.grad)};
    }
};

}  // namespace detail
LOGITLOSS_NAMESPACE_END
