// logitloss/detail/ops_xsimd.hpp — ops<T> for xsimd::batch<float|double, Arch>
// (xsimd 8.1): the same primitives, with the same meanings, as ops.hpp.
#pragma once

#include <cstdint>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include "ops.hpp"

#if defined(__AVX512F__) || defined(__FMA__)
#include <immintrin.h>
#endif

namespace logitloss {
namespace detail {

template <class S, class A>
struct scalar_of<xsimd::batch<S, A>> {
    using type = S;
};

// Whether Arch has a fused multiply-add instruction. xsimd 8.1's own fma() is
// fused for fma3<...> and neon64 but falls back to an unfused x*y+z for the
// AVX-512 family, so the AVX-512 case calls the instruction directly.
template <class A>
struct arch_fma {
    static constexpr bool avx512 =
#if defined(__AVX512F__)
        std::is_base_of<xsimd::avx512f, A>::value;
#else
        false;
#endif
    static constexpr bool xsimd_fused =
#if defined(__FMA__)
        std::is_base_of<xsimd::fma3<xsimd::sse4_2>, A>::value || std::is_base_of<xsimd::fma3<xsimd::avx>, A>::value ||
        std::is_base_of<xsimd::fma3<xsimd::avx2>, A>::value ||
#endif
#if defined(__aarch64__)
        std::is_base_of<xsimd::neon64, A>::value ||
#endif
        false;
    static constexpr bool fused = avx512 || xsimd_fused;
};

template <class S, class A>
struct ops<xsimd::batch<S, A>> {
    using value_type = xsimd::batch<S, A>;
    using mask_type = xsimd::batch_bool<S, A>;
    using uint = typename float_bits<S>::uint;
    using int_batch = xsimd::batch<std::conditional_t<sizeof(S) == 4, std::int32_t, std::int64_t>, A>;
    using B = value_type;
    static constexpr bool has_fused_fma = arch_fma<A>::fused;

    static LOGITLOSS_INLINE B select(mask_type c, B a, B b) noexcept { return xsimd::select(c, a, b); }
    static LOGITLOSS_INLINE mask_type mask_and(mask_type a, mask_type b) noexcept { return a & b; }
    static LOGITLOSS_INLINE mask_type mask_or(mask_type a, mask_type b) noexcept { return a | b; }

    // Fused where the architecture has the instruction; on SSE/AVX without
    // FMA it is a*b+c with two roundings (formulas never rely on fusing for
    // exactness: they use two_prod for that).
    static LOGITLOSS_INLINE B fma(B a, B b, B c) noexcept {
#if defined(__AVX512F__)
        if constexpr (arch_fma<A>::avx512) {
            if constexpr (sizeof(S) == 4) {
                return B(_mm512_fmadd_ps(a, b, c));
            } else {
                return B(_mm512_fmadd_pd(a, b, c));
            }
        } else
#endif
            if constexpr (arch_fma<A>::xsimd_fused) {
            return xsimd::fma(a, b, c);
        } else {
            return a * b + c;
        }
    }

    static LOGITLOSS_INLINE B abs(B a) noexcept { return xsimd::abs(a); }

    // -a by flipping the sign bit. (xsimd 8.1 negates AVX-512 batches as
    // 0 - a, which turns -0 into +0 and differs from the scalar path.)
    static LOGITLOSS_INLINE B neg(B a) noexcept { return xsimd::bitwise_xor(a, B(S(-0.0))); }

    // a*b == hi + lo exactly: with FMA, lo = fma(a, b, -hi); without it,
    // Dekker's product with Veltkamp splitting.
    static LOGITLOSS_INLINE void two_prod(B a, B b, B& hi, B& lo) noexcept {
        hi = a * b;
        if constexpr (has_fused_fma) {
            lo = fma(a, b, -hi);
        } else {
            constexpr int half = (float_bits<S>::mantissa_bits + 2) / 2;  // 12 for float, 27 for double
            const B splitter(S((std::uint64_t(1) << half) + 1));
            const B ca = splitter * a, cb = splitter * b;
            const B ah = ca - (ca - a), bh = cb - (cb - b);
            const B al = a - ah, bl = b - bh;
            lo = ((ah * bh - hi) + ah * bl + al * bh) + al * bl;
        }
    }

    // Integer work is done as exact float arithmetic plus one conversion, so
    // no integer shifts are needed (GCC 12 warns inside the AVX-512 shift
    // intrinsics under -Wall).
    // Exact conversions between integral-valued floats and integers. On
    // AVX-512 the zero-masked intrinsics are used: the unmasked float ones
    // trip a GCC 12 false positive (-Wuninitialized in avx512fintrin.h).
    static LOGITLOSS_INLINE int_batch to_int(B v) noexcept {
#if defined(__AVX512F__)
        if constexpr (arch_fma<A>::avx512 && sizeof(S) == 4) {
            return int_batch(_mm512_maskz_cvttps_epi32(__mmask16(0xFFFF), v));
        } else
#endif
            return xsimd::to_int(v);
    }
    static LOGITLOSS_INLINE B to_float(int_batch v) noexcept {
#if defined(__AVX512F__)
        if constexpr (arch_fma<A>::avx512 && sizeof(S) == 4) {
            return B(_mm512_maskz_cvtepi32_ps(__mmask16(0xFFFF), v));
        } else
#endif
            return xsimd::to_float(v);
    }

    static LOGITLOSS_INLINE B pow2(B k) noexcept {
        constexpr int mb = float_bits<S>::mantissa_bits;
        const B biased = k + B(S(float_bits<S>::exponent_bias));  // in [1, bias]: exact
        const B shifted = biased * B(S(uint(1) << mb));            // (k + bias) 2^mb, exact
        return xsimd::bitwise_cast<B>(to_int(shifted));
    }

    static LOGITLOSS_INLINE void split_exp(B v, B& m, B& k) noexcept {
        constexpr int mb = float_bits<S>::mantissa_bits;
        const B mant_mask = xsimd::bitwise_cast<B>(int_batch((typename int_batch::value_type(1) << mb) - 1));
        const B exp_mask = xsimd::bitwise_cast<B>(int_batch(typename int_batch::value_type(2 * float_bits<S>::exponent_bias + 1) << mb));
        m = (v & mant_mask) | B(S(1));
        const B e = to_float(xsimd::bitwise_cast<int_batch>(B(v & exp_mask)));  // biased exponent * 2^mb, exact
        k = e * B(S(1) / S(uint(1) << mb)) - B(S(float_bits<S>::exponent_bias));
    }
};

}  // namespace detail
}  // namespace logitloss
