// Shared helpers of the test suite: ULP distance, double references of the
// logistic functions, and iteration over the SIMD architectures this build
// supports.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>

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
// correctly rounded results and the larger distance is reported. Written
// without library calls: the exhaustive sweep calls it 2^35 times.
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

// ulp_error_f32 for whole arrays, written without branches so that the
// compiler vectorises it: e[i] = ulp_error_f32(got[i], ref[i]).
inline void ulp_errors_f32(const float* got, const double* ref, std::uint32_t* e, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        const double q = ref[i];
        const float r = static_cast<float>(q);
        const double rd = static_cast<double>(r);
        std::uint32_t gb, rb;
        std::memcpy(&gb, &got[i], 4);
        std::memcpy(&rb, &r, 4);
        // positions on the line of floats (+0 and -0 together), branch-free
        const std::uint32_t gm = gb & 0x7fffffffu, rm = rb & 0x7fffffffu;
        const std::int64_t og = (gb >> 31) ? -std::int64_t(gm) : std::int64_t(gm);
        const std::int64_t orr = (rb >> 31) ? -std::int64_t(rm) : std::int64_t(rm);
        const std::int64_t d0 = og - orr;
        // Gap from |r| to the next float towards |ref|, and whether ref sits
        // within the reference's own error of the midpoint of that gap.
        const std::uint32_t away = std::fabs(q) > std::fabs(rd);
        const std::uint32_t nb = rm + 2 * away - 1 + 2 * ((1 - away) & (rm == 0));
        float nf;
        std::memcpy(&nf, &nb, 4);
        const double gap = std::fabs(static_cast<double>(nf) - std::fabs(rd));
        const double off = std::fabs(std::fabs(q - rd) - 0.5 * gap);
        const std::int64_t amb = off <= std::fabs(q) * 0x1p-46;
        const std::int64_t d1 = d0 - (q > rd ? 1 : -1);
        const std::int64_t a0 = d0 < 0 ? -d0 : d0, a1 = d1 < 0 ? -d1 : d1;
        const std::int64_t a = (amb & (a1 > a0)) ? a1 : a0;
        const std::uint32_t gn = got[i] != got[i], rn = r != r;
        const std::uint32_t nan_e = (gn & rn) ? 0u : 0xffffffffu;
        e[i] = (gn | rn) ? nan_e : static_cast<std::uint32_t>(a);
    }
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

}  // namespace support
