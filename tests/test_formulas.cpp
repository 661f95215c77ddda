// Element-wise formulas: identities the implementation promises bitwise, the
// fused forms, sampled accuracy of every SIMD architecture of this build, and
// scalar == SIMD.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <logitloss/logitloss.hpp>

#include "support.hpp"

namespace ll = logitloss;
using support::ulp_distance;

TEST_CASE_TEMPLATE("hard-target identities hold bitwise", T, float, double) {
    for (T x : support::sample_logits<T>(100000, 1, 120.0)) {
        const T sp = ll::softplus(x), spn = ll::softplus(-x);
        CHECK(support::to_bits(ll::bce_with_logits(x, T(0))) == support::to_bits(sp));
        CHECK(support::to_bits(ll::bce_with_logits(x, T(1))) == support::to_bits(spn));
        CHECK(support::to_bits(ll::log_sigmoid(x)) == support::to_bits(T(-spn)));
        CHECK(support::to_bits(ll::bce_with_logits_grad(x, T(0))) == support::to_bits(ll::sigmoid(x)));
        CHECK(ll::bce_with_logits_grad(x, T(1)) == -ll::sigmoid(-x));  // equal values (+0 where -sigmoid(-x) is -0)
        const auto vg = ll::bce_with_logits_value_and_grad(x, T(0.25), T(3));
        CHECK(support::to_bits(vg.value) == support::to_bits(ll::bce_with_logits(x, T(0.25), T(3))));
        CHECK(support::to_bits(vg.grad) == support::to_bits(ll::bce_with_logits_grad(x, T(0.25), T(3))));
    }
}

TEST_CASE_TEMPLATE("gradients in the tails are tiny and exact, never 0", T, float, double) {
    // sigmoid(x) - 1 = -sigmoid(-x): a confidently right logit keeps its gradient.
    for (T x : {T(17), T(20), T(40), T(80), T(100)}) {
        const double ref = -std::exp(-static_cast<double>(x)) / (1.0 + std::exp(-static_cast<double>(x)));
        const T g = ll::bce_with_logits_grad(x, T(1));
        if (static_cast<T>(ref) != T(0)) {
            CHECK(g < T(0));
            CHECK(ulp_distance(g, static_cast<T>(ref)) <= 1);
        }
    }
}

TEST_CASE_TEMPLATE("pos_weight has PyTorch's meaning", T, float, double) {
    // pos_weight * y * softplus(-x) + (1 - y) * softplus(x)
    for (T x : {T(-30), T(-3.5), T(-0.25), T(0), T(0.75), T(4), T(25)}) {
        for (T y : {T(0), T(0.3), T(1)}) {
            for (T pw : {T(0), T(0.5), T(1), T(7)}) {
                const double xd = x, yd = y, pd = pw;
                const auto r = support::reference(xd);
                const double loss = pd * yd * r.sp_neg + (1 - yd) * r.sp_pos;
                const double grad = (1 - yd) * r.sig_pos - pd * yd * r.sig_neg;
                CHECK(std::fabs(ll::bce_with_logits(x, y, pw) - loss) <= 8 * std::numeric_limits<T>::epsilon() * std::fabs(loss) + std::numeric_limits<T>::min());
                CHECK(std::fabs(ll::bce_with_logits_grad(x, y, pw) - grad) <= 8 * std::numeric_limits<T>::epsilon() * (std::fabs(grad) + pd * yd * r.sig_neg) + std::numeric_limits<T>::min());
            }
        }
    }
}

TEST_CASE("every SIMD architecture of this build: sampled float32 accuracy and agreement with scalar") {
    const std::vector<float> xs = support::sample_logits<float>(1 << 18, 7, 120.0);
    support::for_each_arch([&](auto arch) {
        using Arch = decltype(arch);
        using B = xsimd::batch<float, Arch>;
        CAPTURE(std::string(Arch::name()));
        std::uint32_t worst[7] = {};
        std::uint32_t scalar_diff = 0;
        for (std::size_t i = 0; i + B::size <= xs.size(); i += B::size) {
            const B x = B::load_unaligned(xs.data() + i);
            alignas(64) float out[7][B::size];
            ll::sigmoid(x).store_aligned(out[0]);
            ll::softplus(x).store_aligned(out[1]);
            ll::log_sigmoid(x).store_aligned(out[2]);
            ll::bce_with_logits(x, B(0.f)).store_aligned(out[3]);
            ll::bce_with_logits(x, B(1.f)).store_aligned(out[4]);
            ll::bce_with_logits_grad(x, B(0.f)).store_aligned(out[5]);
            ll::bce_with_logits_grad(x, B(1.f)).store_aligned(out[6]);
            for (std::size_t j = 0; j < B::size; ++j) {
                const float xf = xs[i + j];
                const auto r = support::reference(xf);
                const double refs[7] = {r.sig_pos, r.sp_pos, -r.sp_neg, r.sp_pos, r.sp_neg, r.sig_pos, -r.sig_neg};
                const float scalar[7] = {ll::sigmoid(xf),
                                         ll::softplus(xf),
                                         ll::log_sigmoid(xf),
                                         ll::bce_with_logits(xf, 0.f),
                                         ll::bce_with_logits(xf, 1.f),
                                         ll::bce_with_logits_grad(xf, 0.f),
                                         ll::bce_with_logits_grad(xf, 1.f)};
                for (int f = 0; f < 7; ++f) {
                    if (std::isinf(static_cast<float>(refs[f]))) continue;
                    const std::uint32_t e = support::ulp_error_f32(out[f][j], refs[f]);
                    if (e > worst[f]) worst[f] = e;
                    const std::uint32_t d = ulp_distance(out[f][j], scalar[f]);
                    if (d > scalar_diff) scalar_diff = d;
                }
            }
        }
        for (int f = 0; f < 7; ++f) {
            CAPTURE(f);
            CHECK(worst[f] <= 2);
        }
        // With a fused multiply-add the batch runs exactly the scalar
        // operations (this file is built with -ffp-contract=off); without
        // one, two_prod is Dekker's and fma is a*b+c, so results may differ
        // by a rounding, each still within the bound above.
        if (support::arch_has_fma<Arch>())
            CHECK(scalar_diff == 0);
        else
            CHECK(scalar_diff <= 2);
    });
}

TEST_CASE("every SIMD architecture of this build: float64 agrees with scalar") {
    const std::vector<double> xs = support::sample_logits<double>(1 << 16, 11, 120.0);
    support::for_each_arch([&](auto arch) {
        using Arch = decltype(arch);
        using B = xsimd::batch<double, Arch>;
        CAPTURE(std::string(Arch::name()));
        std::uint64_t diff = 0;
        for (std::size_t i = 0; i + B::size <= xs.size(); i += B::size) {
            const B x = B::load_unaligned(xs.data() + i);
            alignas(64) double s[B::size], g[B::size], l[B::size];
            ll::sigmoid(x).store_aligned(s);
            ll::bce_with_logits_grad(x, B(1.0)).store_aligned(g);
            ll::bce_with_logits(x, B(0.3), B(2.0)).store_aligned(l);
            for (std::size_t j = 0; j < B::size; ++j) {
                const double xd = xs[i + j];
                diff = std::max<std::uint64_t>(diff, ulp_distance(s[j], ll::sigmoid(xd)));
                diff = std::max<std::uint64_t>(diff, ulp_distance(g[j], ll::bce_with_logits_grad(xd, 1.0)));
                diff = std::max<std::uint64_t>(diff, ulp_distance(l[j], ll::bce_with_logits(xd, 0.3, 2.0)));
            }
        }
        if (support::arch_has_fma<Arch>())
            CHECK(diff == 0);
        else
            CHECK(diff <= 2);
    });
}

// The scalar fma is one rounding of a*b+c in every build; on x86-64 built
// without -mfma it is the FMA instruction when the CPU has one (ops.hpp),
// so there its operand order is what this checks against libm's fma.
TEST_CASE_TEMPLATE("ops fma: a*b+c rounded once, bitwise libm's fma", T, float, double) {
    using O = ll::detail::ops<T>;
#if LOGITLOSS_DETAIL_RUNTIME_FMA
    const bool instruction = __builtin_cpu_supports("fma");
    MESSAGE(std::string(instruction ? "scalar fma: the FMA instruction, chosen at run time"
                                    : "scalar fma: libm's (this CPU has no FMA)"));
#endif
    // Fused: (1 + u)(1 - u) - 1 = -u^2 exactly, where the product rounded
    // first is 1 and gives 0 (u^2 is below half an ulp of 1).
    const T u = std::ldexp(T(1), sizeof(T) == 4 ? -13 : -27);
    CHECK(O::fma(T(1) + u, T(1) - u, T(-1)) == -u * u);
    CHECK(O::fma(T(1) - u, T(1) + u, T(-1)) == -u * u);
    CHECK(O::fma(T(2), T(3), T(-1)) == T(5));  // a*b + c, not a + b*c (-1) nor a*c + b (1)
    std::mt19937_64 rng(20261203);
    std::size_t differ = 0;
    const auto same = [](T x, T y) { return (std::isnan(x) && std::isnan(y)) || support::to_bits(x) == support::to_bits(y); };
    for (int i = 0; i < 1000000; ++i) {
        // Random bit patterns (every class: zeros, subnormals, infinities,
        // NaN), and operands whose product and addend nearly cancel.
        const auto bits = [&] { return support::from_bits<T>(static_cast<support::bits_t<T>>(rng())); };
        const T a = bits(), b = bits();
        const T c = (i & 1) ? bits() : -(a * b) * (T(1) + std::ldexp(T(static_cast<int>(rng() % 64)) - T(32), sizeof(T) == 4 ? -24 : -53));
        differ += !same(O::fma(a, b, c), std::fma(a, b, c));
    }
    CHECK(differ == 0);
}

TEST_CASE_TEMPLATE("ops pow2 and scale_pow2: 2^k exactly for every k of the normal range, on every arch", T, float,
                   double) {
    using L = std::numeric_limits<T>;
    const int lo = L::min_exponent - 1, hi = L::max_exponent - 1;  // 2^lo: the smallest normal
    const auto check_arch = [&](auto arch) {
        using B = xsimd::batch<T, decltype(arch)>;
        using O = ll::detail::ops<B>;
        CAPTURE(std::string(decltype(arch)::name()));
        std::size_t wrong = 0;
        alignas(64) T k[B::size], p[B::size], q[B::size];
        for (int first = lo; first <= hi; first += static_cast<int>(B::size)) {
            for (std::size_t j = 0; j < B::size; ++j) k[j] = static_cast<T>(std::min(hi, first + static_cast<int>(j)));
            const B kb = B::load_aligned(k);
            O::pow2(kb).store_aligned(p);
            O::scale_pow2(B(T(1.5)), kb).store_aligned(q);
            for (std::size_t j = 0; j < B::size; ++j) {
                const int e = static_cast<int>(k[j]);
                wrong += p[j] != std::ldexp(T(1), e) || ll::detail::ops<T>::pow2(k[j]) != p[j];
                // 1.5 2^k is normal and exact from k = lo on, below the largest binade.
                if (e < hi) wrong += q[j] != std::ldexp(T(1.5), e);
            }
        }
        CHECK(wrong == 0);
    };
    support::for_each_arch(check_arch);
}

TEST_CASE_TEMPLATE("bce on probabilities: ATen formula, clamp and epsilon", T, float, double) {
    // Exact endpoints: the logs are clamped at -100.
    CHECK(ll::bce(T(0), T(1)) == T(100));
    CHECK(ll::bce(T(1), T(0)) == T(100));
    CHECK(ll::bce(T(0), T(0)) == T(0));
    CHECK(ll::bce(T(1), T(1)) == T(0));
    CHECK(ll::bce(T(0), T(0.25)) == T(25));
    // Gradient: (p - y) / max(p (1 - p), 1e-12f) (ATen's floor is a float constant).
    CHECK(ll::bce_grad(T(0), T(1)) == T(-1) / T(1e-12f));
    CHECK(ll::bce_grad(T(1), T(0)) == T(1) / T(1e-12f));
    CHECK(ll::bce_grad(T(0), T(0)) == T(0));
    CHECK(ll::bce_grad(T(0.5), T(0.5)) == T(0));
    CHECK(ll::bce_grad(T(0.5), T(1)) == T(-2));
    // Interior values against the formula in double (float) or long double.
    std::mt19937_64 rng(3);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    for (int i = 0; i < 20000; ++i) {
        const T p = static_cast<T>(u(rng)), y = static_cast<T>(u(rng));
        const long double pl = p, yl = y;
        const long double loss = -(yl * std::max(std::log(pl), -100.0L) + (1 - yl) * std::max(std::log1p(-pl), -100.0L));
        const long double grad = (pl - yl) / std::max(pl * (1 - pl), static_cast<long double>(T(1e-12f)));
        CHECK(std::fabs(ll::bce(p, y) - loss) <= 4 * std::numeric_limits<T>::epsilon() * std::fabs(loss) + 1e-300L);
        CHECK(ulp_distance(ll::bce_grad(p, y), static_cast<T>(grad)) <= 1);
    }
}
