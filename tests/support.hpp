// Shared helpers of the test suite: ULP distance, double references of the
// logistic functions, and iteration over the SIMD architectures this build
// supports.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include <xsimd/xsimd.hpp>

#include <logitloss/testing.hpp>

namespace support {

// The bit helpers and the ULP distance are the public testing header's
// (logitloss/testing.hpp): the suite uses what users are offered.
using logitloss::testing::bits_t;
using logitloss::testing::ulp_distance;

template <class T>
bits_t<T> to_bits(T v) {
    return logitloss::testing::detail::bits_of(v);
}
template <class T>
T from_bits(bits_t<T> b) {
    return logitloss::testing::detail::from_bits<T>(b);
}

// The float next to r in the direction of `up` (r finite).
inline float step(float r, bool up) {
    if (r == 0.f) return up ? std::numeric_limits<float>::denorm_min() : -std::numeric_limits<float>::denorm_min();
    std::uint32_t b = to_bits(r);
    b = ((r > 0.f) == up) ? b + 1 : b - 1;
    return from_bits<float>(b);
}

// Distance of `got` from the correctly rounded value of the real number
// approximated by `ref` (a double of relative error below 2^-48, or an
// MPFR-rounded value). When ref lies so close to a rounding boundary of float
// that its own error could flip the rounding, both neighbours are possible
// correctly rounded results and the larger distance is reported. The sweeps
// use the equivalent pair below (round_f32 once per reference, then
// ulp_error_f32 on the rounded value), which the exhaustive test checks
// against this one.
inline std::uint32_t ulp_error_f32(float got, double ref) {
    const float r = static_cast<float>(ref);
    std::uint32_t d = ulp_distance(got, r);
    const double rd = static_cast<double>(r);
    if (!(std::fabs(rd) <= static_cast<double>(std::numeric_limits<float>::max())) || ref == rd) return d;
    const float other = step(r, rd < ref);
    if (std::fabs(other) > std::numeric_limits<float>::max()) return d;
    const double mid = 0.5 * (rd + static_cast<double>(other));  // exact in double
    if (std::fabs(ref - mid) <= std::fabs(ref) * 0x1p-46) {
        const std::uint32_t d2 = ulp_distance(got, other);
        if (d2 > d) d = d2;
    }
    return d;
}

// A double reference rounded to float once, for comparing many results
// against it: `pos` is the rounded value's place on the line of floats (+0
// and -0 share 0; a NaN reference is nan_pos), `adj` is 0, or the step (+1 or
// -1) to the other neighbour when the reference sits within its own error of
// a rounding boundary, as in ulp_error_f32.
struct rounded_f32 {
    static constexpr std::int32_t nan_pos = std::numeric_limits<std::int32_t>::min();
    std::int32_t pos;
    std::int32_t adj;
};

// round_f32 for whole arrays, written without branches so that the compiler
// vectorises it.
inline void round_f32(const double* ref, rounded_f32* out, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        const double q = ref[i];
        const float r = static_cast<float>(q);
        const double rd = static_cast<double>(r);
        std::uint32_t rb;
        std::memcpy(&rb, &r, 4);
        const std::uint32_t rm = rb & 0x7fffffffu;
        const std::int32_t pos = (rb >> 31) ? -std::int32_t(rm) : std::int32_t(rm);
        // Gap from |r| to the next float towards |ref|, and whether ref sits
        // within the reference's own error of the midpoint of that gap.
        const std::uint32_t away = std::fabs(q) > std::fabs(rd);
        const std::uint32_t nb = rm + 2 * away - 1 + 2 * ((1 - away) & (rm == 0));
        float nf;
        std::memcpy(&nf, &nb, 4);
        const double gap = std::fabs(static_cast<double>(nf) - std::fabs(rd));
        const double off = std::fabs(std::fabs(q - rd) - 0.5 * gap);
        const std::int32_t amb = off <= std::fabs(q) * 0x1p-46;
        out[i].pos = r != r ? rounded_f32::nan_pos : pos;
        out[i].adj = amb * (q > rd ? 1 : -1);
    }
}

// The distance of got from a rounded reference: ulp_error_f32(got, ref) for
// the ref that `want` was rounded from (0 for NaN against NaN, 2^32 - 1 for
// NaN against a number). Branch-free.
inline std::uint32_t ulp_error_f32(float got, rounded_f32 want) {
    std::uint32_t gb;
    std::memcpy(&gb, &got, 4);
    const std::uint32_t gm = gb & 0x7fffffffu;
    const std::int64_t og = (gb >> 31) ? -std::int64_t(gm) : std::int64_t(gm);
    const std::int64_t d0 = og - want.pos, d1 = d0 - want.adj;
    const std::int64_t a0 = d0 < 0 ? -d0 : d0, a1 = d1 < 0 ? -d1 : d1;
    const std::int64_t a = a1 > a0 ? a1 : a0;
    const std::uint32_t gn = got != got, rn = want.pos == rounded_f32::nan_pos;
    const std::uint32_t nan_e = (gn & rn) ? 0u : 0xffffffffu;
    return (gn | rn) ? nan_e : static_cast<std::uint32_t>(a);
}

// ulp_error_f32 for whole arrays: e[i] = ulp_error_f32(got[i], ref[i]).
inline void ulp_errors_f32(const float* got, const rounded_f32* ref, std::uint32_t* e, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) e[i] = ulp_error_f32(got[i], ref[i]);
}
inline void ulp_errors_f32(const float* got, const double* ref, std::uint32_t* e, std::size_t n) {
    constexpr std::size_t block = 1024;
    rounded_f32 r[block];
    for (std::size_t i = 0; i < n; i += block) {
        const std::size_t m = n - i < block ? n - i : block;
        round_f32(ref + i, r, m);
        ulp_errors_f32(got + i, r, e + i, m);
    }
}

// n logits spread over every binade: uniform bit patterns (subnormals and
// infinities included, NaN left out) and, for a third of them, values
// uniform in [-dense, dense], where the functions change regime.
template <class T>
std::vector<T> sample_logits(std::size_t n, std::uint64_t seed, double dense) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> near(-dense, dense);
    std::vector<T> v;
    v.reserve(n);
    while (v.size() < n) {
        const T x = rng() % 3 == 0 ? static_cast<T>(near(rng)) : from_bits<T>(static_cast<bits_t<T>>(rng()));
        if (x == x) v.push_back(x);
    }
    return v;
}

// Double reference values of the logistic functions at a float or double x,
// accurate to a few ulp of double (glibc exp and log1p are within 1 ulp).
struct logistic_ref {
    double sig_pos, sig_neg;  // sigmoid(x), sigmoid(-x)
    double sp_pos, sp_neg;    // softplus(x), softplus(-x)
};
inline logistic_ref reference(double x) {
    const double a = std::fabs(x);
    const double e = std::exp(-a);
    const double l = std::log1p(e);
    const double small = e / (1.0 + e);  // sigmoid(-|x|)
    const double large = 1.0 / (1.0 + e);
    logistic_ref r{};
    r.sig_pos = x >= 0 ? large : small;
    r.sig_neg = x >= 0 ? small : large;
    r.sp_pos = x >= 0 ? a + l : l;
    r.sp_neg = x >= 0 ? l : a + l;
    return r;
}

// Calls f(Arch{}) for every xsimd architecture this translation unit was
// compiled for (with -march=native on an AVX-512 machine: avx512bw down to
// sse2).
template <class F>
void for_each_arch(F&& f) {
    xsimd::supported_architectures::for_each(f);
}

template <class Arch>
constexpr bool arch_has_fma() {
    return std::is_base_of<xsimd::avx512f, Arch>::value || std::is_same<Arch, xsimd::fma3<xsimd::avx2>>::value ||
           std::is_same<Arch, xsimd::fma3<xsimd::avx>>::value || std::is_same<Arch, xsimd::fma3<xsimd::sse4_2>>::value;
}

// How many archs for_each_arch visits, and how many of them have FMA: a test
// that compares archs with each other is skipped (doctest::skip) below two.
inline std::size_t arch_count(bool fma_only = false) {
    std::size_t k = 0;
    for_each_arch([&](auto arch) { k += (!fma_only || arch_has_fma<decltype(arch)>()) ? 1u : 0u; });
    return k;
}

}  // namespace support
