// logitloss/detail/ops_xsimd.hpp — ops<T> for xsimd::batch<float|double, Arch>
// (xsimd 8.1): the same primitives, with the same meanings, as ops.hpp.
#pragma once

#include <cstdint>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include "ops.hpp"

#if defined(__SSE2__)
#include <immintrin.h>
#endif

LOGITLOSS_NAMESPACE_BEGIN
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
    // FMA it is a*b+c with two roundings (formulas never rely on fma for
    // exactness: two_prod and residual pick a fused or a Dekker form).
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

    // n - q*d, exact when representable: one fused multiply-add where the
    // arch has one (see ops<S>::residual), else Dekker's product and two
    // subtractions, n - hi being exact (Sterbenz) and so the last one too.
    static LOGITLOSS_INLINE B residual(B n, B q, B d) noexcept {
        if constexpr (has_fused_fma) {
            return fma(neg(q), d, n);
        } else {
            B hi, lo;
            two_prod(q, d, hi, lo);
            return (n - hi) - lo;
        }
    }

    // Integer work is done as exact float arithmetic plus one conversion, so
    // no integer shifts are needed on AVX-512 (GCC 12 warns inside the
    // AVX-512 shift intrinsics under -Wall); only pow2 for double on the
    // x86 paths below AVX-512, which have no such conversion, shifts.
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

    // Whether pow2 for double builds its bits with 64-bit integer adds and a
    // shift rather than one double -> int64 conversion: on SSE2 ... AVX2,
    // which have no such instruction (xsimd 8.1 converts lane by lane
    // through memory there). Not on the AVX-512 family, whose shift
    // intrinsics GCC 12 warns about (AVX-512DQ converts in one instruction;
    // avx512f and avx512cd keep the conversion), nor on neon64, which
    // converts natively.
    static constexpr bool integer_pow2 = sizeof(S) == 8 && !arch_fma<A>::avx512
#if defined(__aarch64__)
                                         && !std::is_base_of<xsimd::neon64, A>::value
#endif
        ;

    // 2^k for integral k in the normal exponent range. NaN lanes (callers
    // only pass NaN where the result is NaN anyway) are set to 0 first:
    // converting NaN to an integer is undefined behaviour.
    static LOGITLOSS_INLINE B pow2(B k) noexcept {
        constexpr int mb = float_bits<S>::mantissa_bits;
        const B defined = xsimd::select(k == k, k, B(S(0)));
        if constexpr (integer_pow2) {
            // As ops<S>::pow2, in 64-bit integer lanes (SSE2 and AVX2 add
            // and shift them natively): k + 1.5 * 2^52 holds k in its low
            // mantissa bits.
            const B magic(S(3) * S(uint(1) << (mb - 1)));
            const int_batch biased = xsimd::bitwise_cast<int_batch>(B(defined + magic)) -
                                     xsimd::bitwise_cast<int_batch>(magic) +
                                     int_batch(typename int_batch::value_type(float_bits<S>::exponent_bias));
            return xsimd::bitwise_cast<B>(int_batch(biased << mb));
        } else {
            const B biased = defined + B(S(float_bits<S>::exponent_bias));  // in [1, bias]: exact
            const B shifted = biased * B(S(uint(1) << mb));                  // (k + bias) 2^mb, exact
            return xsimd::bitwise_cast<B>(to_int(shifted));
        }
    }

    // v * 2^k for integral k with 2^k normal: one vscalef on AVX-512.
    static LOGITLOSS_INLINE B scale_pow2(B v, B k) noexcept {
#if defined(__AVX512F__)
        if constexpr (arch_fma<A>::avx512) {
            if constexpr (sizeof(S) == 4) {
                return B(_mm512_maskz_scalef_ps(__mmask16(0xFFFF), v, k));
            } else {
                return B(_mm512_maskz_scalef_pd(__mmask8(0xFF), v, k));
            }
        } else
#endif
            return v * pow2(k);
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

// A float batch as two double batches (elements [0, W/2) and [W/2, W)) and
// back. The conversions are exact one way and round once (to nearest, or
// as the floating-point environment says) the other.
template <class A>
struct in_double<xsimd::batch<float, A>> {
    using F = xsimd::batch<float, A>;
    using D = xsimd::batch<double, A>;
    static_assert(2 * D::size == F::size, "a float batch must widen to two double batches");

    // Elements [H W/2, (H+1) W/2) of v, widened.
    template <int H>
    static LOGITLOSS_INLINE D half(const F& v) noexcept {
#if defined(__AVX512F__)
        if constexpr (std::is_base_of<xsimd::avx512f, A>::value) {
            // Zero-masked forms: GCC 12 warns (-Wmaybe-uninitialized) on the
            // undefined pass-through of the unmasked intrinsics.
            const __m256 h = _mm256_castpd_ps(_mm512_maskz_extractf64x4_pd(0xF, _mm512_castps_pd(v), H));
            return D(_mm512_maskz_cvtps_pd(0xFF, h));
        } else
#endif
#if defined(__AVX__)
            if constexpr (std::is_base_of<xsimd::avx, A>::value) {
            const __m256 f = v;
            return D(_mm256_cvtps_pd(H == 0 ? _mm256_castps256_ps128(f) : _mm256_extractf128_ps(f, 1)));
        } else
#endif
#if defined(__SSE2__)
            if constexpr (std::is_base_of<xsimd::sse2, A>::value) {
            const __m128 f = v;
            return D(_mm_cvtps_pd(H == 0 ? f : _mm_movehl_ps(f, f)));
        } else
#endif
        {
            alignas(64) float f[F::size];
            alignas(64) double d[D::size];
            v.store_aligned(f);
            for (std::size_t j = 0; j < D::size; ++j) d[j] = static_cast<double>(f[H * D::size + j]);
            return D::load_aligned(d);
        }
    }

    static LOGITLOSS_INLINE F join(const D& lo, const D& hi) noexcept {
#if defined(__AVX512F__)
        if constexpr (std::is_base_of<xsimd::avx512f, A>::value) {
            const __m256 l = _mm512_maskz_cvtpd_ps(0xFF, lo), h = _mm512_maskz_cvtpd_ps(0xFF, hi);
            const __m512d both = _mm512_maskz_insertf64x4(0xFF, _mm512_castpd256_pd512(_mm256_castps_pd(l)), _mm256_castps_pd(h), 1);
            return F(_mm512_castpd_ps(both));
        } else
#endif
#if defined(__AVX__)
            if constexpr (std::is_base_of<xsimd::avx, A>::value) {
            return F(_mm256_set_m128(_mm256_cvtpd_ps(hi), _mm256_cvtpd_ps(lo)));
        } else
#endif
#if defined(__SSE2__)
            if constexpr (std::is_base_of<xsimd::sse2, A>::value) {
            return F(_mm_movelh_ps(_mm_cvtpd_ps(lo), _mm_cvtpd_ps(hi)));
        } else
#endif
        {
            alignas(64) double d[F::size];
            alignas(64) float f[F::size];
            lo.store_aligned(d);
            hi.store_aligned(d + D::size);
            for (std::size_t j = 0; j < F::size; ++j) f[j] = static_cast<float>(d[j]);
            return F::load_aligned(f);
        }
    }
    static LOGITLOSS_INLINE value_and_grad<F> join(const value_and_grad<D>& lo, const value_and_grad<D>& hi) noexcept {
        return {join(lo.value, hi.value), join(lo.grad, hi.grad)};
    }

    template <class Fn, class... Args>
    static LOGITLOSS_INLINE auto apply(Fn f, const Args&... args) noexcept {
        return join(f(half<0>(args)...), f(half<1>(args)...));
    }
};

}  // namespace detail
LOGITLOSS_NAMESPACE_END
