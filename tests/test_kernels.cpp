// Array kernels: exact tail, reductions and their accumulator, weight and
// pos_weight, determinism across SIMD widths, Eigen-free paths.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <type_traits>
#include <vector>

#include <logitloss/logitloss.hpp>

#include "support.hpp"

namespace ll = logitloss;

namespace {

template <class T>
struct data {
    std::vector<T> x, y, w;
};

template <class T>
data<T> make_data(std::size_t n, std::uint64_t seed, bool probabilities = false) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> logit(0.0, 8.0);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    data<T> d;
    for (std::size_t i = 0; i < n; ++i) {
        d.x.push_back(static_cast<T>(probabilities ? u(rng) : logit(rng)));
        const double r = u(rng);
        d.y.push_back(static_cast<T>(r < 0.4 ? 0.0 : r < 0.8 ? 1.0 : u(rng)));
        d.w.push_back(static_cast<T>(2 * u(rng)));
    }
    return d;
}

// The element-wise functions through the batch type the kernels use: the
// kernels must reproduce these bits. (The scalar functions may differ by a
// rounding where the SIMD arch has no fused multiply-add.)
template <class T>
T simd_bce_with_logits(T x, T y, T pw = T(1)) {
    using B = xsimd::batch<T>;
    return ll::bce_with_logits(B(x), B(y), B(pw)).get(0);
}
template <class T>
T simd_bce_with_logits_grad(T x, T y, T pw = T(1)) {
    using B = xsimd::batch<T>;
    return ll::bce_with_logits_grad(B(x), B(y), B(pw)).get(0);
}
template <class T>
T simd_bce(T p, T y) {
    using B = xsimd::batch<T>;
    return ll::bce(B(p), B(y)).get(0);
}
template <class T>
T simd_bce_grad(T p, T y) {
    using B = xsimd::batch<T>;
    return ll::bce_grad(B(p), B(y)).get(0);
}

template <class T>
ll::options<T> none_into(std::vector<T>& out) {
    ll::options<T> o;
    o.reduce = ll::reduction::none;
    o.losses = ll::span<T>(out);
    return o;
}

}  // namespace

TEST_CASE_TEMPLATE("exact tail: an element's value does not depend on its position", T, float, double) {
    const auto d = make_data<T>(300, 5);
    std::vector<T> full_loss(300), full_grad(300);
    (void)ll::bce_with_logits_forward_backward(d.x.data(), d.y.data(), 300, full_grad.data(), none_into(full_loss));
    for (std::size_t off = 0; off < 20; ++off) {
        for (std::size_t n = 0; off + n <= 300; n += 7) {
            std::vector<T> loss(n), grad(n);
            (void)ll::bce_with_logits_forward_backward(d.x.data() + off, d.y.data() + off, n, grad.data(),
                                                       none_into(loss));
            for (std::size_t i = 0; i < n; ++i) {
                REQUIRE(support::to_bits(loss[i]) == support::to_bits(full_loss[off + i]));
                REQUIRE(support::to_bits(grad[i]) == support::to_bits(full_grad[off + i]));
            }
        }
    }
    // ... and equals the element-wise function evaluated in a batch.
    using B = xsimd::batch<T>;
    for (std::size_t i = 0; i < 300; ++i) {
        alignas(64) T v[B::size];
        ll::bce_with_logits(B(d.x[i]), B(d.y[i])).store_aligned(v);
        REQUIRE(support::to_bits(v[0]) == support::to_bits(full_loss[i]));
    }
}

TEST_CASE_TEMPLATE("reductions: none, sum and mean, loss and gradient", T, float, double) {
    const std::size_t n = 1003;
    const auto d = make_data<T>(n, 9);
    std::vector<T> loss(n), grad_none(n), grad_sum(n), grad_mean(n);
    CHECK(ll::bce_with_logits_forward_backward(d.x.data(), d.y.data(), n, grad_none.data(), none_into(loss)) == T(0));
    long double exact = 0;
    for (T l : loss) exact += l;
    ll::options<T> o;
    o.reduce = ll::reduction::sum;
    const T sum = ll::bce_with_logits_forward_backward(d.x.data(), d.y.data(), n, grad_sum.data(), o);
    CHECK(sum == ll::bce_with_logits_forward(d.x.data(), d.y.data(), n, o));
    CHECK(support::ulp_distance(sum, static_cast<T>(exact)) <= 1);
    const T mean = ll::bce_with_logits_forward_backward(d.x.data(), d.y.data(), n, grad_mean.data());
    CHECK(mean == sum / static_cast<T>(n));
    for (std::size_t i = 0; i < n; ++i) {
        CHECK(grad_sum[i] == grad_none[i]);
        if constexpr (std::is_same<T, float>::value) {
            // float: the gradient is scaled by 1/n in double and rounded once.
            const double g = ll::bce_with_logits_grad(double(d.x[i]), double(d.y[i])) / static_cast<double>(n);
            CHECK(support::ulp_distance(grad_mean[i], static_cast<float>(g)) <= 1);
        } else {
            CHECK(grad_mean[i] == grad_none[i] / static_cast<T>(n));
        }
        CHECK(support::to_bits(loss[i]) == support::to_bits(simd_bce_with_logits(d.x[i], d.y[i])));
    }
    // Empty input: sum 0, mean NaN (as PyTorch).
    o.reduce = ll::reduction::sum;
    CHECK(ll::bce_with_logits_forward<xsimd::default_arch, T>(nullptr, nullptr, 0, o) == T(0));
    CHECK(std::isnan(ll::bce_with_logits_forward<xsimd::default_arch, T>(nullptr, nullptr, 0)));
}

TEST_CASE("float mean over more than 2^24 elements divides by n, not by n rounded to float") {
    const std::size_t n = (std::size_t(1) << 24) + 1;  // float(n) == 2^24
    const std::vector<float> x(n, 0.f), y(n, 0.f);     // every loss is ln 2
    ll::options<float> o;
    o.reduce = ll::reduction::sum;
    const float sum = ll::bce_with_logits_forward(x.data(), y.data(), n, o);
    const float mean = ll::bce_with_logits_forward(x.data(), y.data(), n);
    const float by_exact_n = static_cast<float>(static_cast<double>(sum) / 16777217.0);
    CHECK(mean == by_exact_n);
    // The case tells the two apart: dividing by float(n) lands elsewhere.
    CHECK(sum / static_cast<float>(n) != by_exact_n);
    CHECK(support::ulp_distance(mean, static_cast<float>(0.6931471805599453)) <= 1);
}

TEST_CASE_TEMPLATE("weight and pos_weight", T, float, double) {
    const std::size_t rows = 77, classes = 5, n = rows * classes;
    const auto d = make_data<T>(n, 13);
    std::vector<T> pw = {T(0.5), T(1), T(2), T(0), T(10)};
    std::vector<T> loss(n), grad(n), ones(n, T(1)), loss_plain(n), grad_plain(n);
    ll::options<T> o = none_into(loss);
    o.weight = ll::span<const T>(d.w);
    o.pos_weight = ll::span<const T>(pw);
    (void)ll::bce_with_logits_forward_backward(d.x.data(), d.y.data(), n, grad.data(), o);
    for (std::size_t i = 0; i < n; ++i) {
        const T p = pw[i % classes];
        if constexpr (std::is_same<T, float>::value) {
            // float: the weight is applied in double, one rounding.
            const double w = d.w[i], x = d.x[i], y = d.y[i];
            CHECK(support::ulp_distance(loss[i], static_cast<float>(w * ll::bce_with_logits(x, y, double(p)))) <= 1);
            CHECK(support::ulp_distance(grad[i], static_cast<float>(w * ll::bce_with_logits_grad(x, y, double(p)))) <= 1);
        } else {
            CHECK(loss[i] == d.w[i] * simd_bce_with_logits(d.x[i], d.y[i], p));
            CHECK(grad[i] == d.w[i] * simd_bce_with_logits_grad(d.x[i], d.y[i], p));
        }
    }
    // Weights and pos_weight of ones are the plain loss, bitwise.
    (void)ll::bce_with_logits_forward_backward(d.x.data(), d.y.data(), n, grad_plain.data(), none_into(loss_plain));
    ll::options<T> ones_opt = none_into(loss);
    ones_opt.weight = ll::span<const T>(ones);
    const T one = T(1);
    ones_opt.pos_weight = ll::span<const T>(&one, 1);
    (void)ll::bce_with_logits_forward_backward(d.x.data(), d.y.data(), n, grad.data(), ones_opt);
    CHECK(loss == loss_plain);
    CHECK(grad == grad_plain);
    // A single pos_weight applies to every element.
    const T three = T(3);
    ll::options<T> single = none_into(loss);
    single.pos_weight = ll::span<const T>(&three, 1);
    (void)ll::bce_with_logits_forward(d.x.data(), d.y.data(), n, single);
    for (std::size_t i = 0; i < n; ++i) CHECK(loss[i] == simd_bce_with_logits(d.x[i], d.y[i], T(3)));
    // PyTorch's weight with mean divides by n, not by the sum of weights.
    ll::options<T> wm;
    wm.weight = ll::span<const T>(d.w);
    ll::options<T> ws = wm;
    ws.reduce = ll::reduction::sum;
    CHECK(ll::bce_with_logits_forward(d.x.data(), d.y.data(), n, wm) ==
          ll::bce_with_logits_forward(d.x.data(), d.y.data(), n, ws) / static_cast<T>(n));
}

TEST_CASE_TEMPLATE("bce kernels on probabilities match the element-wise functions", T, float, double) {
    const std::size_t n = 517;
    auto d = make_data<T>(n, 21, true);
    d.x[0] = T(0);
    d.x[1] = T(1);
    std::vector<T> loss(n), grad(n);
    ll::options<T> o = none_into(loss);
    o.weight = ll::span<const T>(d.w);
    (void)ll::bce_forward_backward(d.x.data(), d.y.data(), n, grad.data(), o);
    for (std::size_t i = 0; i < n; ++i) {
        CHECK(loss[i] == d.w[i] * simd_bce(d.x[i], d.y[i]));
        CHECK(grad[i] == d.w[i] * simd_bce_grad(d.x[i], d.y[i]));
    }
}

TEST_CASE_TEMPLATE("array sigmoid, softplus, log_sigmoid and sigmoid_backward, in place and tails", T, float, double) {
    const auto d = make_data<T>(131, 17);
    std::vector<T> out(131), inplace = d.x;
    ll::sigmoid(d.x.data(), d.x.size(), out.data());
    ll::sigmoid(inplace.data(), inplace.size(), inplace.data());
    CHECK(out == inplace);
    for (std::size_t i = 0; i < out.size(); ++i) CHECK(out[i] == ll::sigmoid(xsimd::batch<T>(d.x[i])).get(0));
    ll::softplus(d.x.data(), d.x.size(), out.data());
    for (std::size_t i = 0; i < out.size(); ++i) CHECK(out[i] == ll::softplus(xsimd::batch<T>(d.x[i])).get(0));
    ll::log_sigmoid(d.x.data(), d.x.size(), out.data());
    for (std::size_t i = 0; i < out.size(); ++i) CHECK(out[i] == ll::log_sigmoid(xsimd::batch<T>(d.x[i])).get(0));
    // sigmoid_backward(x, grad_out): d.y as grad_out; in place over either.
    using B = xsimd::batch<T>;
    ll::sigmoid_backward(d.x.data(), d.y.data(), d.x.size(), out.data());
    for (std::size_t i = 0; i < out.size(); ++i)
        CHECK(out[i] == ll::sigmoid_backward(B(d.x[i]), B(d.y[i])).get(0));
    std::vector<T> over_x = d.x, over_g = d.y;
    ll::sigmoid_backward(over_x.data(), d.y.data(), over_x.size(), over_x.data());
    ll::sigmoid_backward(d.x.data(), over_g.data(), over_g.size(), over_g.data());
    CHECK(over_x == out);
    CHECK(over_g == out);
}

TEST_CASE("compensated sum: exact where a naive float loop is visibly wrong") {
    // 10^7 losses of ln 2 (x = 0, y = 0). A float running sum is off by
    // about 9%; the double-word lanes give the correctly rounded sum.
    const std::size_t n = 10'000'000;
    std::vector<float> x(n, 0.f), y(n, 0.f);
    const float l = simd_bce_with_logits(0.f, 0.f);
    const double exact = static_cast<double>(l) * static_cast<double>(n);
    float naive = 0.f;
    for (std::size_t i = 0; i < n; ++i) naive += l;
    const double naive_rel = std::fabs(naive - exact) / exact;
    MESSAGE("naive float loop relative error: " << naive_rel);
    CHECK(naive_rel > 1e-4);  // what the accumulator protects against
    ll::options<float> o;
    o.reduce = ll::reduction::sum;
    const float ours = ll::bce_with_logits_forward(x.data(), y.data(), n, o);
    CHECK(support::ulp_distance(ours, static_cast<float>(exact)) == 0);
    const float mean = ll::bce_with_logits_forward(x.data(), y.data(), n);
    CHECK(support::ulp_distance(mean, l) <= 1);
    // Cancellation between large weighted terms and small ones.
    std::vector<float> xs = {100.f, 0.f, 0.f, 100.f}, ys = {0.f, 0.f, 0.f, 0.f}, ws = {1e7f, 1.f, 1.f, 1e7f};
    ll::options<float> wo;
    wo.reduce = ll::reduction::sum;
    wo.weight = ll::span<const float>(ws);
    const double e2 = 2.0 * 1e7 * static_cast<double>(simd_bce_with_logits(100.f, 0.f)) + 2.0 * static_cast<double>(l);
    CHECK(support::ulp_distance(ll::bce_with_logits_forward(xs.data(), ys.data(), 4, wo), static_cast<float>(e2)) <= 1);
}

TEST_CASE("a float sum is rounded once from its double-word value, not through double") {
    // Losses 512, 2^-15 and 2^-81 (logits >= 288 with target 0 lose exactly
    // x, and a weight multiplies that exactly), in three lanes: the
    // double-word sum is exactly 512 + 2^-15 + 2^-81, just above the
    // midpoint 512 + 2^-15 of two floats. Rounded to double first, the 2^-81
    // is lost and the tie goes to even, 512; rounded once, 512 + 2^-14.
    const std::vector<float> x(5, 512.f), y(5, 0.f),
        w = {1.f, std::ldexp(1.f, -24), 0.f, 0.f, std::ldexp(1.f, -90)};
    ll::options<float> o;
    o.reduce = ll::reduction::sum;
    o.weight = ll::span<const float>(w);
    CHECK(ll::bce_with_logits_forward(x.data(), y.data(), x.size(), o) == 512.f + std::ldexp(1.f, -14));
    // Just below the midpoint, and on the negative side: negative weights,
    // unchecked (the value checks refuse them).
    o.check = false;
    const std::vector<float> below = {1.f, std::ldexp(1.f, -24), 0.f, 0.f, -std::ldexp(1.f, -90)};
    o.weight = ll::span<const float>(below);
    CHECK(ll::bce_with_logits_forward(x.data(), y.data(), x.size(), o) == 512.f);
    std::vector<float> negative(w);
    for (float& v : negative) v = -v;
    o.weight = ll::span<const float>(negative);
    CHECK(ll::bce_with_logits_forward(x.data(), y.data(), x.size(), o) == -(512.f + std::ldexp(1.f, -14)));
    // The rounding itself, at and beside the midpoint of 1 and 1 + 2^-23.
    const double mid = 1.0 + std::ldexp(1.0, -24), tiny = std::ldexp(1.0, -80);
    CHECK(ll::detail::rounded_sum<float>(mid, tiny) == 1.f + std::ldexp(1.f, -23));
    CHECK(ll::detail::rounded_sum<float>(mid, -tiny) == 1.f);
    CHECK(ll::detail::rounded_sum<float>(mid, 0.0) == 1.f);  // an exact tie: to even
    CHECK(ll::detail::rounded_sum<float>(-mid, -tiny) == -(1.f + std::ldexp(1.f, -23)));
    CHECK(ll::detail::rounded_sum<float>(tiny, mid) == 1.f + std::ldexp(1.f, -23));
    CHECK(ll::detail::rounded_sum<double>(mid, tiny) == mid);
    CHECK(std::isinf(ll::detail::rounded_sum<float>(HUGE_VAL, -1.0)));
    CHECK(std::isnan(ll::detail::rounded_sum<float>(NAN, 1.0)));
    CHECK(std::isinf(ll::detail::rounded_sum<float>(1e300, 1e300)));  // beyond float, and double, range
}

TEST_CASE("a float mean is the rounded sum divided by n: within 1.5 ulp of the exact mean") {
    // PyTorch's order: the sum rounded to float (half an ulp of the sum),
    // then divided by n and rounded again. Half an ulp of the sum, divided
    // by n, is less than one ulp of the mean, so the mean is within 1.5 ulp,
    // and more than 1 occurs. Losses x exactly (x >= 288, target 0); their
    // sum and mean in long double are exact or within 2^-64 relative.
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> logit(388.f, 488.f);
    ll::options<float> sum;
    sum.reduce = ll::reduction::sum;
    double worst = 0;
    for (int t = 0; t < 20000; ++t) {
        const std::size_t n = 3 + static_cast<std::size_t>(t % 5);
        std::vector<float> x(n), y(n, 0.f);
        long double exact = 0;
        for (float& v : x) {
            v = logit(rng);
            exact += v;
        }
        exact /= static_cast<long double>(n);
        const float mean = ll::bce_with_logits_forward(x.data(), y.data(), n);
        const float total = ll::bce_with_logits_forward(x.data(), y.data(), n, sum);
        CHECK(mean == static_cast<float>(static_cast<double>(total) / static_cast<double>(n)));
        const long double ulp = static_cast<long double>(std::nextafter(mean, INFINITY)) - mean;
        worst = std::max(worst, static_cast<double>(std::fabs((mean - exact) / ulp)));
    }
    MESSAGE("largest distance of the mean from the exact mean: " << worst << " ulp");
    CHECK(worst < 1.5);
    CHECK(worst > 1.0);  // the bound is not 1 ulp
}

TEST_CASE("a float mean whose sum overflows float is the mean, not inf") {
    // Two losses of 3e38 (target 0: the loss is x) sum to 6e38, beyond
    // FLT_MAX; the sum is inf, as in PyTorch, and the mean 3e38 exactly.
    // Weights near FLT_MAX get there with ordinary logits.
    const std::vector<float> x = {3e38f, 3e38f}, y = {0.f, 0.f};
    ll::options<float> sum;
    sum.reduce = ll::reduction::sum;
    CHECK(std::isinf(ll::bce_with_logits_forward(x.data(), y.data(), 2, sum)));
    CHECK(ll::bce_with_logits_forward(x.data(), y.data(), 2) == 3e38f);
    std::vector<float> g(2);
    CHECK(ll::bce_with_logits_forward_backward(x.data(), y.data(), 2, g.data()) == 3e38f);
    CHECK(g[0] == 0.5f);
    const std::vector<float> big = {std::numeric_limits<float>::max(), std::numeric_limits<float>::max()};
    const std::vector<float> p = {0.5f, 0.5f}, t = {1.f, 0.f};
    ll::options<float> weighted;
    weighted.weight = ll::span<const float>(big);
    const float each = ll::bce(0.5f, 1.f);  // both elements: log 2 in float
    REQUIRE(each == ll::bce(0.5f, 0.f));
    // Each weighted loss is rounded to float (as in PyTorch): 2.36e38; their
    // sum (exact in double) overflows float; the mean is one of them.
    const float want = static_cast<float>(static_cast<double>(big[0]) * static_cast<double>(each));
    REQUIRE(std::isinf(want + want));
    CHECK(ll::bce_forward(p.data(), t.data(), 2, weighted) == want);
    // A mean of one element is that element, whatever its size.
    CHECK(ll::bce_with_logits_forward(x.data(), y.data(), 1) == 3e38f);
    // double: the total itself overflows; the mean stays inf (PyTorch's).
    const std::vector<double> xd = {1.5e308, 1.5e308}, yd = {0.0, 0.0};
    CHECK(std::isinf(ll::bce_with_logits_forward(xd.data(), yd.data(), 2)));
}

TEST_CASE("reductions are bitwise identical across SIMD widths (accumulator)" *
          doctest::skip(support::arch_count() < 2)) {
    // The accumulator assigns element i to virtual lane i mod 16 whatever the
    // batch width, so every arch gives the same bits for the same values.
    std::mt19937 rng(1);
    std::lognormal_distribution<float> dist(0.f, 4.f);
    std::vector<float> v(100003);
    for (auto& e : v) e = dist(rng);
    std::vector<std::uint32_t> totals;
    support::for_each_arch([&](auto arch) {
        using B = xsimd::batch<float, decltype(arch)>;
        ll::detail::lane_accumulator<B> acc;
        std::size_t i = 0;
        for (; i + B::size <= v.size(); i += B::size) acc.add(i, B::load_unaligned(v.data() + i));
        alignas(64) float last[B::size] = {};
        for (std::size_t j = 0; i + j < v.size(); ++j) last[j] = v[i + j];
        acc.add(i, B::load_aligned(last));
        totals.push_back(support::to_bits(acc.total()));
    });
    REQUIRE(totals.size() >= 2);
    for (auto t : totals) CHECK(t == totals.front());
}

TEST_CASE_TEMPLATE("threads: the same bits for every thread count", T, float, double) {
    const std::size_t n = 1'000'003;  // 62 blocks and a tail
    const auto d = make_data<T>(n, 31);
    std::vector<T> pw = {T(0.5), T(2), T(1)};
    auto run = [&](std::size_t threads, ll::reduction red, std::vector<T>& grad, std::vector<T>& losses) {
        ll::options<T> o;
        o.threads = threads;
        o.reduce = red;
        o.weight = ll::span<const T>(d.w);
        if (red == ll::reduction::none) o.losses = ll::span<T>(losses);
        ll::options<T> p = o;
        p.pos_weight = ll::span<const T>(&pw[0], 1);
        return std::make_pair(ll::bce_with_logits_forward_backward(d.x.data(), d.y.data(), n, grad.data(), o),
                              ll::bce_with_logits_forward(d.x.data(), d.y.data(), n, p));
    };
    for (ll::reduction red : {ll::reduction::sum, ll::reduction::mean, ll::reduction::none}) {
        std::vector<T> g1(n), l1(n);
        const auto one = run(1, red, g1, l1);
        for (std::size_t threads : {std::size_t(2), std::size_t(3), std::size_t(7), std::size_t(0)}) {
            CAPTURE(threads);
            std::vector<T> g(n), l(n);
            const auto many = run(threads, red, g, l);
            CHECK(support::to_bits(many.first) == support::to_bits(one.first));
            CHECK(support::to_bits(many.second) == support::to_bits(one.second));
            CHECK(g == g1);
            CHECK(l == l1);
        }
    }
}

TEST_CASE("blocked reductions: bitwise identical across SIMD archs with a fused multiply-add" *
          doctest::skip(support::arch_count(true) < 2)) {
    // Each FMA arch computes the same element values (test_formulas), and
    // the reduction order does not depend on the width: same sum, same bits.
    const std::size_t n = 300'007;
    const auto d = make_data<float>(n, 41);
    std::vector<std::uint32_t> sums;
    support::for_each_arch([&](auto arch) {
        using Arch = decltype(arch);
        if constexpr (support::arch_has_fma<Arch>()) {
            ll::options<float> o;
            o.reduce = ll::reduction::sum;
            sums.push_back(support::to_bits(ll::bce_with_logits_forward<Arch>(d.x.data(), d.y.data(), n, o)));
        }
    });
    REQUIRE(sums.size() >= 2);
    for (auto s : sums) CHECK(s == sums.front());
}
