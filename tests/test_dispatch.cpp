// The runtime-dispatch library (logitloss/dispatch.hpp), from a program
// compiled for baseline x86-64: path selection, every path this CPU runs on
// a large float32 sample against the double reference (the widest path is
// also swept over all 2^32 floats in test_float32_exhaustive, and every path
// against MPFR in test_float64_mpfr), the FMA paths bit for bit against
// each other and the scalar formulas, sums and means across paths and
// thread counts, and input errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <logitloss/dispatch.hpp>
#include <logitloss/logitloss.hpp>

#include "support.hpp"

namespace ll = logitloss;
namespace dp = logitloss::dispatch;

namespace {

// Restores the path chosen before a test case changed it.
struct keep_path {
    std::string before = dp::path();
    ~keep_path() { dp::use_path(before); }
};

bool has_fma(const std::string& path) { return path == "avx512bw" || path == "avx2_fma"; }

// Bit patterns over the whole float range, and every float within 64 ulps
// of the type's thresholds and of the places where results turn subnormal.
std::vector<float> float32_sample() {
    std::vector<float> xs;
    std::mt19937 rng(32);
    for (int i = 0; i < (1 << 22); ++i) xs.push_back(support::from_bits<float>(static_cast<std::uint32_t>(rng())));
    using th = ll::thresholds<float>;
    for (float c : {th::sigmoid_one, th::sigmoid_zero, th::naive_sigmoid_one, th::naive_sigmoid_zero, 0.f, -87.33655f,
                    -103.27893f, 88.72284f, 1e-20f}) {
        for (float s : {1.f, -1.f}) {
            float lo = s * c, hi = s * c;
            for (int k = 0; k <= 64; ++k, lo = std::nextafter(lo, -1e30f), hi = std::nextafter(hi, 1e30f)) {
                xs.push_back(lo);
                xs.push_back(hi);
            }
        }
    }
    return xs;
}

}  // namespace

TEST_CASE("dispatch: the paths this CPU runs, and choosing one") {
    keep_path keep;
    const std::vector<std::string> paths = dp::available_paths();
    REQUIRE(!paths.empty());
    std::string list;
    for (const auto& p : paths) list += p + " ";
    MESSAGE("available paths, widest first: " << list << "(in use: " << std::string(dp::path()) << ")");
#if defined(__x86_64__)
    CHECK(paths.back() == "sse2");
    const std::vector<std::string> order = {"avx512bw", "avx2_fma", "sse2"};
    std::size_t last = 0;
    for (const auto& p : paths) {
        const auto it = std::find(order.begin(), order.end(), p);
        REQUIRE(it != order.end());
        CHECK(static_cast<std::size_t>(it - order.begin()) >= last);
        last = static_cast<std::size_t>(it - order.begin());
    }
#endif
    for (const auto& p : paths) {
        CHECK(dp::use_path(p));
        CHECK(std::string(dp::path()) == p);
    }
    const std::string now = dp::path();
    CHECK_FALSE(dp::use_path("avx1024"));
    CHECK(std::string(dp::path()) == now);
    CHECK(dp::use_path(""));
    CHECK(std::string(dp::path()) == paths.front());
}

TEST_CASE("dispatch: LOGITLOSS_SIMD chooses the first path") {
    // ctest runs this case once more with LOGITLOSS_SIMD=sse2
    // (test_dispatch_env) and with a name no library has
    // (test_dispatch_env_unknown).
    const char* env = std::getenv("LOGITLOSS_SIMD");
    const auto paths = dp::available_paths();
    if (env == nullptr || *env == '\0') {
        CHECK(std::string(dp::path()) == paths.front());
    } else if (std::find(paths.begin(), paths.end(), env) != paths.end()) {
        CHECK(std::string(dp::path()) == env);
    } else {
        // A configuration error, not bad input: every call throws
        // std::runtime_error naming the variable, until use_path chooses.
        CHECK(std::string(dp::path()).empty());
        std::vector<float> x(4, 0.f), out(4);
        bool thrown = false;
        try {
            dp::sigmoid(x.data(), x.size(), out.data());
        } catch (const ll::error&) {
            FAIL("logitloss::error for a configuration error");
        } catch (const std::runtime_error& e) {
            thrown = true;
            CHECK(std::string(e.what()).find(std::string("LOGITLOSS_SIMD=") + env) != std::string::npos);
        }
        CHECK(thrown);
        CHECK_THROWS_AS((void)dp::bce_with_logits_forward(x.data(), x.data(), x.size()), std::runtime_error);
        REQUIRE(dp::use_path(""));
        CHECK(std::string(dp::path()) == paths.front());
        dp::sigmoid(x.data(), x.size(), out.data());
        CHECK(out[0] == 0.5f);
    }
}

TEST_CASE("dispatch: every path, float32 sample, within 2 ulp of the reference") {
    keep_path keep;
    const std::vector<float> xs = float32_sample();
    const std::size_t n = xs.size();
    std::vector<double> want[6];
    for (auto& w : want) w.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        const auto r = support::reference(static_cast<double>(xs[i]));
        want[0][i] = r.sig_pos;   // sigmoid(x), bce_with_logits_grad(x, 0)
        want[1][i] = -r.sp_neg;   // log_sigmoid(x)
        want[2][i] = r.sp_pos;    // softplus(x), bce_with_logits(x, 0)
        want[3][i] = r.sp_neg;    // bce_with_logits(x, 1)
        want[4][i] = -r.sig_neg;  // bce_with_logits_grad(x, 1)
    }
    const char* names[7] = {"sigmoid", "log_sigmoid", "softplus", "bce_with_logits(x, 0)", "bce_with_logits(x, 1)",
                            "bce_with_logits_grad(x, 0)", "bce_with_logits_grad(x, 1)"};
    const int which[7] = {0, 1, 2, 2, 3, 0, 4};
    std::vector<float> out[7], zeros(n, 0.f), ones(n, 1.f);
    for (auto& o : out) o.resize(n);
    std::vector<std::uint32_t> err(n);
    for (const auto& p : dp::available_paths()) {
        std::uint32_t path_worst = 0;
        REQUIRE(dp::use_path(p));
        dp::sigmoid(xs.data(), n, out[0].data());
        dp::log_sigmoid(xs.data(), n, out[1].data());
        dp::softplus(xs.data(), n, out[2].data());
        ll::options<float> o;
        o.reduce = ll::reduction::none;
        o.losses = ll::span<float>(out[3]);
        (void)dp::bce_with_logits_forward_backward(xs.data(), zeros.data(), n, out[5].data(), o);
        o.losses = ll::span<float>(out[4]);
        (void)dp::bce_with_logits_forward_backward(xs.data(), ones.data(), n, out[6].data(), o);
        for (int f = 0; f < 7; ++f) {
            support::ulp_errors_f32(out[f].data(), want[which[f]].data(), err.data(), n);
            const std::uint32_t worst = *std::max_element(err.begin(), err.end());
            CAPTURE(p);
            CAPTURE(std::string(names[f]));
            CHECK(worst <= 2);
            path_worst = std::max(path_worst, worst);
        }
        MESSAGE(p << ": " << n << " inputs, 7 functions, max " << path_worst << " ulp");
    }
}

TEST_CASE_TEMPLATE("dispatch: the FMA paths give the scalar formulas' bits, element by element", T, float, double) {
    keep_path keep;
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<T> logit(T(-120), T(120)), unit(T(0), T(1));
    const std::size_t n = 100003;
    std::vector<T> x(n), y(n), p(n);
    for (std::size_t i = 0; i < n; ++i) {
        x[i] = i % 7 == 0 ? logit(rng) / T(100) : logit(rng);
        y[i] = i % 3 == 0 ? unit(rng) : T(i % 2);
        p[i] = unit(rng);
    }
    std::vector<T> loss(n), grad(n), s(n), sp(n), ls(n), sb(n);
    int paths_checked = 0;
    for (const auto& path : dp::available_paths()) {
        if (!has_fma(path)) continue;
        REQUIRE(dp::use_path(path));
        ++paths_checked;
        ll::options<T> o;
        o.reduce = ll::reduction::none;
        o.losses = ll::span<T>(loss);
        (void)dp::bce_with_logits_forward_backward(x.data(), y.data(), n, grad.data(), o);
        dp::sigmoid(x.data(), n, s.data());
        dp::softplus(x.data(), n, sp.data());
        dp::log_sigmoid(x.data(), n, ls.data());
        dp::sigmoid_backward(x.data(), y.data(), n, sb.data());
        std::size_t differ = 0;
        for (std::size_t i = 0; i < n; ++i) {
            differ += support::to_bits(loss[i]) != support::to_bits(ll::bce_with_logits(x[i], y[i]));
            differ += support::to_bits(grad[i]) != support::to_bits(ll::bce_with_logits_grad(x[i], y[i]));
            differ += support::to_bits(s[i]) != support::to_bits(ll::sigmoid(x[i]));
            differ += support::to_bits(sp[i]) != support::to_bits(ll::softplus(x[i]));
            differ += support::to_bits(ls[i]) != support::to_bits(ll::log_sigmoid(x[i]));
            differ += support::to_bits(sb[i]) != support::to_bits(ll::sigmoid_backward(x[i], y[i]));
        }
        CAPTURE(path);
        CHECK(differ == 0);
    }
    MESSAGE(paths_checked << " FMA paths checked");
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) CHECK(paths_checked >= 1);
#endif
}

TEST_CASE_TEMPLATE("dispatch: sums and means, the same bits on every FMA path and thread count", T, float, double) {
    keep_path keep;
    std::mt19937_64 rng(11);
    std::uniform_real_distribution<T> logit(T(-30), T(30)), unit(T(0), T(1));
    const std::size_t n = 9 * ll::detail::block_size + 76;  // several blocks, a tail; a multiple of 7
    const std::size_t classes = 7;
    std::vector<T> x(n + classes), y(n), w(n), pw(classes), p(n), grad(n);
    for (auto& v : x) v = logit(rng);
    for (auto& v : y) v = unit(rng);
    for (auto& v : w) v = unit(rng) * T(2);
    for (auto& v : pw) v = unit(rng) * T(3);
    for (auto& v : p) v = unit(rng);
    // Results of one path: for each case and thread count, the reduced loss
    // and the bits of the gradient's sum.
    auto run = [&](std::size_t threads) {
        std::vector<T> r;
        for (int reduce = 1; reduce <= 2; ++reduce) {
            ll::options<T> o;
            o.reduce = reduce == 1 ? ll::reduction::sum : ll::reduction::mean;
            o.threads = threads;
            r.push_back(dp::bce_with_logits_forward(x.data() + 3, y.data(), n, o));  // misaligned
            o.weight = ll::span<const T>(w);
            o.pos_weight = ll::span<const T>(pw);
            r.push_back(dp::bce_with_logits_forward_backward(x.data(), y.data(), n, grad.data(), o));
            T gs = 0;
            for (T g : grad) gs += g;
            r.push_back(gs);
            o.pos_weight = {};
            r.push_back(dp::bce_forward_backward(p.data(), y.data(), n, grad.data(), o));
        }
        return r;
    };
    std::vector<T> fma_reference;
    for (const auto& path : dp::available_paths()) {
        REQUIRE(dp::use_path(path));
        const std::vector<T> one = run(1);
        CAPTURE(path);
        for (std::size_t threads : {std::size_t(2), std::size_t(3), std::size_t(0)}) {
            const std::vector<T> many = run(threads);
            for (std::size_t k = 0; k < one.size(); ++k) CHECK(support::to_bits(many[k]) == support::to_bits(one[k]));
        }
        if (has_fma(path)) {
            if (fma_reference.empty()) fma_reference = one;
            for (std::size_t k = 0; k < one.size(); ++k)
                CHECK(support::to_bits(one[k]) == support::to_bits(fma_reference[k]));
        } else if (!fma_reference.empty()) {
            // Without FMA the elements may differ in their last bits; the
            // reduced values stay within 1 ulp of the FMA paths'.
            // (The plain sum of the gradient, k % 4 == 2, can cancel: not compared.)
            for (std::size_t k = 0; k < one.size(); ++k)
                if (k % 4 != 2) CHECK(support::ulp_distance(one[k], fma_reference[k]) <= 1);
        }
    }
}

TEST_CASE("dispatch: a float mean whose sum overflows float is the mean, on every path") {
    keep_path keep;
    const std::vector<float> x = {3e38f, 3e38f}, y = {0.f, 0.f};
    for (const auto& path : dp::available_paths()) {
        CAPTURE(path);
        REQUIRE(dp::use_path(path));
        CHECK(dp::bce_with_logits_forward(x.data(), y.data(), 2) == 3e38f);
    }
}

TEST_CASE("dispatch: bad input throws logitloss::error and writes nothing") {
    const std::vector<float> x = {0.5f, -2.f, 3.f}, y = {1.f, 0.f, 1.5f};
    std::vector<float> grad(3, 42.f);
    bool thrown = false;
    try {
        (void)dp::bce_with_logits_forward_backward(x.data(), y.data(), 3, grad.data());
    } catch (const ll::error& e) {
        thrown = true;
        CHECK(e.kind() == ll::error_kind::target_out_of_range);
        CHECK(e.index() == 2);
        CHECK(std::string(e.what()).find("bce_with_logits_forward_backward") != std::string::npos);
    }
    CHECK(thrown);
    CHECK(std::all_of(grad.begin(), grad.end(), [](float g) { return g == 42.f; }));
    ll::options<float> o;
    const std::vector<float> w = {1.f};
    o.weight = ll::span<const float>(w);
    CHECK_THROWS_AS((void)dp::bce_forward(x.data(), x.data(), 3, o), ll::error);
    CHECK_THROWS_AS(dp::sigmoid(static_cast<const float*>(nullptr), 3, grad.data()), ll::error);
    CHECK_THROWS_AS(dp::sigmoid_backward(x.data(), static_cast<const float*>(nullptr), 3, grad.data()), ll::error);
    dp::sigmoid(static_cast<const float*>(nullptr), 0, nullptr);  // n = 0: nothing to read
    dp::sigmoid_backward(static_cast<const float*>(nullptr), static_cast<const float*>(nullptr), 0, nullptr);
}
