// Scalar and SIMD under the compiler's contraction of a*b+c into fused
// multiply-adds (GCC's default -ffp-contract=fast, which is how most users
// build; this file is compiled with that flag explicitly). The Newton
// residuals of the divisions go through ops::residual, one fused operation,
// and what the compiler still fuses it fuses alike in both paths. So on every
// architecture with FMA the batch should give the scalar bits for every
// element-wise function and every non-NaN input, as it does without
// contraction (test_formulas.cpp, built with -ffp-contract=off). This file
// checks that on 2^16 sampled logits (a third of them dense around the
// thresholds) and 2^16 probabilities per type. NaN inputs are left out: a
// NaN result's sign bit may differ.
#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <type_traits>
#include <vector>

#include <logitloss/logitloss.hpp>

#include "support.hpp"

namespace ll = logitloss;

namespace {

// Probabilities in [0, 1], uniform in their bit patterns (so as dense near 0
// as the format is), half of them mirrored to 1 - p (dense near 1).
template <class T>
std::vector<T> probabilities(std::size_t n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    const auto one = support::to_bits(T(1));
    std::vector<T> v{T(0), T(1)};
    while (v.size() < n) {
        const T p = support::from_bits<T>(static_cast<support::bits_t<T>>(rng() % (std::uint64_t(one) + 1)));
        v.push_back(rng() % 2 == 0 ? p : T(1) - p);
    }
    return v;
}

// For each function, the number of inputs where batch and scalar differ.
template <class T, class Arch>
std::vector<std::size_t> mismatches(const std::vector<T>& xs, const std::vector<T>& ps) {
    using B = xsimd::batch<T, Arch>;
    constexpr std::size_t W = B::size;
    const T targets[] = {T(0), T(1), T(0.3)};
    const T pw = T(2.5);
    std::vector<std::size_t> count(12, 0);
    const auto tally = [&](std::size_t f, const B& batch, auto scalar, const T* in) {
        alignas(64) T out[W];
        batch.store_aligned(out);
        for (std::size_t j = 0; j < W; ++j) {
            const T s = scalar(in[j]);
            if (support::to_bits(out[j]) != support::to_bits(s)) ++count[f];
        }
    };
    for (std::size_t i = 0; i + W <= xs.size(); i += W) {
        const T* in = xs.data() + i;
        const B x = B::load_unaligned(in);
        tally(0, ll::sigmoid(x), [](T v) { return ll::sigmoid(v); }, in);
        tally(1, ll::softplus(x), [](T v) { return ll::softplus(v); }, in);
        tally(2, ll::log_sigmoid(x), [](T v) { return ll::log_sigmoid(v); }, in);
        for (const T y : targets) {
            tally(3, ll::bce_with_logits(x, B(y)), [y](T v) { return ll::bce_with_logits(v, y); }, in);
            tally(4, ll::bce_with_logits_grad(x, B(y)), [y](T v) { return ll::bce_with_logits_grad(v, y); }, in);
            tally(5, ll::bce_with_logits(x, B(y), B(pw)), [y, pw](T v) { return ll::bce_with_logits(v, y, pw); }, in);
            tally(6, ll::bce_with_logits_grad(x, B(y), B(pw)),
                  [y, pw](T v) { return ll::bce_with_logits_grad(v, y, pw); }, in);
            const auto both = ll::bce_with_logits_value_and_grad(x, B(y));
            tally(7, both.value, [y](T v) { return ll::bce_with_logits_value_and_grad(v, y).value; }, in);
            tally(8, both.grad, [y](T v) { return ll::bce_with_logits_value_and_grad(v, y).grad; }, in);
        }
    }
    for (std::size_t i = 0; i + W <= ps.size(); i += W) {
        const T* in = ps.data() + i;
        const B p = B::load_unaligned(in);
        for (const T y : targets) {
            tally(9, ll::bce(p, B(y)), [y](T v) { return ll::bce(v, y); }, in);
            tally(10, ll::bce_grad(p, B(y)), [y](T v) { return ll::bce_grad(v, y); }, in);
            tally(11, ll::bce_value_and_grad(p, B(y)).grad, [y](T v) { return ll::bce_value_and_grad(v, y).grad; },
                  in);
        }
    }
    return count;
}

const char* const names[] = {"sigmoid",
                             "softplus",
                             "log_sigmoid",
                             "bce_with_logits",
                             "bce_with_logits_grad",
                             "bce_with_logits, pos_weight",
                             "bce_with_logits_grad, pos_weight",
                             "bce_with_logits_value_and_grad: value",
                             "bce_with_logits_value_and_grad: grad",
                             "bce",
                             "bce_grad",
                             "bce_value_and_grad: grad"};

}  // namespace

TEST_CASE_TEMPLATE("built with -ffp-contract=fast: every FMA architecture gives the scalar bits" *
                       doctest::skip(support::arch_count(true) == 0),
                   T, float, double) {
    const std::vector<T> xs = support::sample_logits<T>(1 << 16, 31, 60.0);
    const std::vector<T> ps = probabilities<T>(1 << 16, 37);
    std::size_t archs = 0;
    support::for_each_arch([&](auto arch) {
        using Arch = decltype(arch);
        if constexpr (support::arch_has_fma<Arch>()) {
            ++archs;
            CAPTURE(std::string(Arch::name()));
            const std::vector<std::size_t> count = mismatches<T, Arch>(xs, ps);
            for (std::size_t f = 0; f < count.size(); ++f) {
                CAPTURE(std::string(names[f]));
                CHECK(count[f] == 0);
            }
        }
    });
    CHECK(archs > 0);
}
