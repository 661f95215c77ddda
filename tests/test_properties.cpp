// The property suite: what the library promises, stated as properties over
// logit ranges and checked with rapidcheck (generators of
// logitloss/testing/rapidcheck.hpp; references of testing.hpp for float and
// testing_mpfr.hpp for double), for float and double, through the scalar
// formulas and the SIMD formulas (an xsimd batch of this build's widest
// arch), and through the array kernels. Plus monotonicity over every float32.
//
// Each property prints one line "property: <name>: <cases> cases, <s> s".
// RC_PARAMS (rapidcheck's settings: seed=..., max_success=..., noshrink=1)
// applies; ctest fixes the seed. LOGITLOSS_PROPERTY_SCALE multiplies the
// number of cases of every property.
#include <doctest/doctest.h>

#include <rapidcheck.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include <logitloss/logitloss.hpp>
#include <logitloss/testing.hpp>
#include <logitloss/testing/rapidcheck.hpp>
#include <logitloss/testing_mpfr.hpp>

#include "support.hpp"

namespace ll = logitloss;
namespace lt = logitloss::testing;
namespace lg = logitloss::testing::gen;

namespace {

// ---------------------------------------------------------------- harness

int scaled(int cases) {
    const char* s = std::getenv("LOGITLOSS_PROPERTY_SCALE");
    const double k = s ? std::atof(s) : 1.0;
    return std::max(1, static_cast<int>(cases * (k > 0 ? k : 1.0)));
}

// Runs `f` as a rapidcheck property for `cases` successful cases (the seed
// and shrinking settings of RC_PARAMS apply), prints the record line, and
// reports failure (with the shrunk counterexample, on stderr) to doctest.
template <class F>
void property(const std::string& name, int cases, F&& f) {
    using namespace rc::detail;
    TestParams params = configuration().testParams;
    params.maxSuccess = scaled(cases);
    TestMetadata metadata;
    metadata.id = name;
    metadata.description = name;
    const auto start = std::chrono::steady_clock::now();
    const TestResult result = checkProperty(toProperty(std::forward<F>(f)), metadata, params);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    SuccessResult success;
    const bool ok = result.match(success);
    std::printf("property: %s: %d cases, %.2f s\n", name.c_str(), ok ? success.numSuccess : -1, seconds);
    if (!ok) {
        std::fprintf(stderr, "\n- %s\n", name.c_str());
        printResultMessage(result, std::cerr);
        std::cerr << std::endl;
    }
    CHECK_MESSAGE(ok, name);
}

// Spacing of T at |v|: the distance from |v| to the next value up.
template <class T>
T ulp(T v) {
    const T a = std::fabs(v);
    return std::nextafter(a, std::numeric_limits<T>::infinity()) - a;
}

template <class T>
std::string hex(T v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%a", static_cast<double>(v));  // exact for float and double
    return buf;
}

// Fails the case with every value printed exactly.
#define EXPECT(cond, ...)                                                  \
    do {                                                                   \
        if (!(cond)) RC_FAIL(std::string(#cond) + "  [" + (__VA_ARGS__) + "]"); \
    } while (0)

template <class T>
bool same_bits(T a, T b) {
    return lt::detail::bits_of(a) == lt::detail::bits_of(b);
}

// ---------------------------------------------------------------- paths

// The scalar formulas, and the same formulas on an xsimd batch (lane 0 of
// a batch holding the value in every lane).
struct scalar_path {
    template <class T>
    static T in(T v) {
        return v;
    }
    template <class T>
    static T out(T v) {
        return v;
    }
};
struct simd_path {
    template <class T>
    static xsimd::batch<T> in(T v) {
        return xsimd::batch<T>(v);
    }
    template <class T>
    static T out(const xsimd::batch<T>& v) {
        return v.get(0);
    }
};

template <class T, class Path>
struct on {
    using type = T;
    static T sigmoid(T x) { return Path::out(ll::sigmoid(Path::in(x))); }
    static T softplus(T x) { return Path::out(ll::softplus(Path::in(x))); }
    static T log_sigmoid(T x) { return Path::out(ll::log_sigmoid(Path::in(x))); }
    static T sigmoid_grad(T x) { return Path::out(ll::sigmoid_grad(Path::in(x))); }
    static T sigmoid_backward(T x, T g) { return Path::out(ll::sigmoid_backward(Path::in(x), Path::in(g))); }
    static T loss(T x, T y, T pw = T(1)) { return Path::out(ll::bce_with_logits(Path::in(x), Path::in(y), Path::in(pw))); }
    static T grad(T x, T y, T pw = T(1)) {
        return Path::out(ll::bce_with_logits_grad(Path::in(x), Path::in(y), Path::in(pw)));
    }
    static T bce(T p, T y) { return Path::out(ll::bce(Path::in(p), Path::in(y))); }
    static T bce_grad(T p, T y) { return Path::out(ll::bce_grad(Path::in(p), Path::in(y))); }
};
#define ELEMENT_PATHS on<float, scalar_path>, on<float, simd_path>, on<double, scalar_path>, on<double, simd_path>

template <class C>
std::string label(const char* what) {
    using T = typename C::type;
    const bool simd = std::is_same<C, on<T, simd_path>>::value;
    return std::string(what) + " [" + (sizeof(T) == 4 ? "float" : "double") + ", " + (simd ? "simd" : "scalar") + "]";
}

// A pos_weight: 1 half of the time, else in [0, 16] (multiples of 2^-8).
template <class T>
rc::Gen<T> pos_weight() {
    return rc::gen::oneOf(rc::gen::just(T(1)), rc::gen::map(rc::gen::inRange(0, 4097), [](int k) {
                              return std::ldexp(static_cast<T>(k), -8);
                          }));
}

// The published bounds (README "Accuracy"): 2 ulp for every function with
// hard targets; 4 ulp for soft-target losses; for a soft-target gradient
// 8u ((1 - y) sigmoid(x) + pos_weight y sigmoid(-x)), u the unit roundoff.
constexpr std::uint64_t hard_bound = 2, soft_loss_bound = 4;

}  // namespace

// ---------------------------------------------------------------- identities

TEST_CASE_TEMPLATE("property: bce_with_logits(x, 0) == softplus(x), bitwise", C, ELEMENT_PATHS) {
    using T = typename C::type;
    property(label<C>("bce_with_logits(x, 0) == softplus(x)"), 10000, [] {
        const T x = *lg::logit<T>();
        EXPECT(same_bits(C::loss(x, T(0)), C::softplus(x)), hex(x));
    });
}

TEST_CASE_TEMPLATE("property: bce_with_logits(x, 1) == softplus(-x), bitwise", C, ELEMENT_PATHS) {
    using T = typename C::type;
    property(label<C>("bce_with_logits(x, 1) == softplus(-x)"), 10000, [] {
        const T x = *lg::logit<T>();
        EXPECT(same_bits(C::loss(x, T(1)), C::softplus(-x)), hex(x));
    });
}

TEST_CASE_TEMPLATE("property: log_sigmoid(x) == -softplus(-x), bitwise", C, ELEMENT_PATHS) {
    using T = typename C::type;
    property(label<C>("log_sigmoid(x) == -softplus(-x)"), 10000, [] {
        const T x = *lg::logit<T>();
        EXPECT(same_bits(C::log_sigmoid(x), T(-C::softplus(-x))), hex(x));
    });
}

TEST_CASE_TEMPLATE("property: softplus(x) - softplus(-x) == x within the bounds", C, ELEMENT_PATHS) {
    using T = typename C::type;
    property(label<C>("softplus(x) - softplus(-x) == x"), 10000, [] {
        const T x = *lg::logit<T>();
        RC_PRE(!std::isnan(x));
        const T a = C::softplus(x), b = C::softplus(-x), d = a - b;
        if (std::isinf(x)) {
            EXPECT(d == x, hex(x));
            return;
        }
        // Each term within 2 ulp, then one rounding of the difference.
        const T bound = T(hard_bound) * (ulp(a) + ulp(b)) + ulp(d) / 2;
        EXPECT(std::fabs(d - x) <= bound, hex(x) + " gives " + hex(a) + " - " + hex(b));
    });
}

TEST_CASE_TEMPLATE("property: sigmoid(x) + sigmoid(-x) == 1 within the bounds", C, ELEMENT_PATHS) {
    using T = typename C::type;
    property(label<C>("sigmoid(x) + sigmoid(-x) == 1"), 10000, [] {
        const T x = *lg::logit<T>();
        RC_PRE(!std::isnan(x));
        const T a = C::sigmoid(x), b = C::sigmoid(-x), s = a + b;
        const T bound = T(hard_bound) * (ulp(a) + ulp(b)) + ulp(s) / 2;
        EXPECT(std::fabs(s - T(1)) <= bound, hex(x) + " gives " + hex(a) + " + " + hex(b));
    });
}

TEST_CASE_TEMPLATE("property: bce_with_logits(x, y) == bce_with_logits(-x, 1 - y)", C, ELEMENT_PATHS) {
    using T = typename C::type;
    property(label<C>("bce_with_logits(x, y) == bce_with_logits(-x, 1 - y)"), 10000, [] {
        const T x = *lg::logit<T>(), y = *lg::target<T>();
        RC_PRE(!std::isnan(x));
        const T z = T(1) - y;
        RC_PRE(T(1) - z == y);  // 1 - y exact: the two calls see the same pair of weights
        const T a = C::loss(x, y), b = C::loss(-x, z);
        if (y == 0 || y == 1) {
            EXPECT(same_bits(a, b), hex(x) + ", y = " + hex(y));  // the same softplus call
        } else {
            // Both within 4 ulp of the same exact value.
            EXPECT(lt::ulp_distance(a, b) <= 2 * soft_loss_bound, hex(x) + ", y = " + hex(y));
        }
    });
}

// ---------------------------------------------------------------- order and sign

TEST_CASE_TEMPLATE("property: sigmoid_grad is even, in [0, 1/4], and scales with grad_out", C, ELEMENT_PATHS) {
    using T = typename C::type;
    property(label<C>("sigmoid_grad(-x) == sigmoid_grad(x) <= 1/4"), 10000, [] {
        const T x = *lg::logit<T>();
        const T d = C::sigmoid_grad(x);
        if (std::isnan(x)) {
            EXPECT(std::isnan(d) && std::isnan(C::sigmoid_backward(T(1), x)), hex(x));
            return;
        }
        EXPECT(same_bits(C::sigmoid_grad(-x), d), hex(x));
        EXPECT(d >= T(0) && d <= T(0.25), hex(x) + " -> " + hex(d));
        // A power-of-two grad_out scales the value exactly where it stays
        // normal (one rounding either way, of the same exact value).
        const T g = std::ldexp(T(1), *rc::gen::inRange(-8, 9));
        const T b = C::sigmoid_backward(x, g);
        if (std::fabs(b) >= std::numeric_limits<T>::min() && d >= std::numeric_limits<T>::min())
            EXPECT(same_bits(b, T(d * g)), hex(x) + " g = " + hex(g));
        EXPECT(same_bits(C::sigmoid_backward(x, -g), T(-b)), hex(x));
    });
}

TEST_CASE_TEMPLATE("property: sigmoid, log_sigmoid and softplus are non-decreasing", C, ELEMENT_PATHS) {
    using T = typename C::type;
    property(label<C>("monotonic on pairs and neighbours"), 10000, [] {
        T a = *lg::logit<T>();
        T b = *rc::gen::oneOf(lg::logit<T>(), rc::gen::just(std::nextafter(a, std::numeric_limits<T>::infinity())));
        RC_PRE(!std::isnan(a) && !std::isnan(b));
        if (b < a) std::swap(a, b);
        const std::string at = hex(a) + " <= " + hex(b);
        EXPECT(C::sigmoid(a) <= C::sigmoid(b), at);
        EXPECT(C::log_sigmoid(a) <= C::log_sigmoid(b), at);
        EXPECT(C::softplus(a) <= C::softplus(b), at);
    });
}

TEST_CASE("property: sigmoid, log_sigmoid and softplus are non-decreasing over every float32") {
    // Every float from -inf to +inf in order (the two zeros as one), in
    // contiguous runs on the machine's threads, through the SIMD array maps;
    // each value is compared with its predecessor's, run edges included.
    const auto start = std::chrono::steady_clock::now();
    const std::uint64_t first = lt::detail::line_position(-std::numeric_limits<float>::infinity());
    const std::uint64_t last = lt::detail::line_position(std::numeric_limits<float>::infinity());
    const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
    struct run {
        std::uint64_t begin, end;  // positions [begin, end)
        float first[3], last[3];
        std::uint64_t violations = 0, first_violation = 0;
    };
    std::vector<run> runs(threads);
    const std::uint64_t count = last - first + 1, per = (count + threads - 1) / threads;
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t) {
        runs[t].begin = first + t * per;
        runs[t].end = std::min(last + 1, first + (t + 1) * per);
        pool.emplace_back([&r = runs[t]] {
            constexpr std::size_t chunk = 1 << 16;
            std::vector<float> x(chunk), out[3] = {std::vector<float>(chunk), std::vector<float>(chunk),
                                                   std::vector<float>(chunk)};
            float prev[3] = {0, 0, 0};
            for (std::uint64_t p = r.begin; p < r.end; p += chunk) {
                const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk, r.end - p));
                for (std::size_t i = 0; i < n; ++i) x[i] = lg::detail::at_position<float>(static_cast<std::uint32_t>(p + i));
                ll::sigmoid(x.data(), n, out[0].data());
                ll::log_sigmoid(x.data(), n, out[1].data());
                ll::softplus(x.data(), n, out[2].data());
                for (int f = 0; f < 3; ++f) {
                    const float* o = out[f].data();
                    if (p == r.begin) {
                        r.first[f] = o[0];
                    } else if (!(prev[f] <= o[0])) {
                        if (r.violations++ == 0) r.first_violation = p;
                    }
                    for (std::size_t i = 1; i < n; ++i)
                        if (!(o[i - 1] <= o[i]) && r.violations++ == 0) r.first_violation = p + i;
                    prev[f] = o[n - 1];
                }
            }
            for (int f = 0; f < 3; ++f) r.last[f] = prev[f];
        });
    }
    for (auto& th : pool) th.join();
    std::uint64_t violations = 0;
    for (unsigned t = 0; t < threads; ++t) {
        violations += runs[t].violations;
        if (runs[t].violations)
            MESSAGE("first decrease at x = " << hex(lg::detail::at_position<float>(
                                                    static_cast<std::uint32_t>(runs[t].first_violation))));
        if (t > 0)
            for (int f = 0; f < 3; ++f) violations += !(runs[t - 1].last[f] <= runs[t].first[f]);
    }
    CHECK(violations == 0);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("property: monotonic over every float32 [float, simd arrays]: %" PRIu64 " values x 3 functions, %.2f s\n",
                count, seconds);
}

TEST_CASE_TEMPLATE("property: losses are non-negative", C, ELEMENT_PATHS) {
    using T = typename C::type;
    property(label<C>("loss >= 0"), 10000, [] {
        const T x = *lg::logit<T>(), y = *lg::target<T>(), pw = *pos_weight<T>(), p = *lg::probability<T>();
        RC_PRE(!std::isnan(x));
        const T l = C::loss(x, y, pw), b = C::bce(p, y);
        EXPECT(l >= 0, hex(x) + ", y = " + hex(y) + ", pos_weight = " + hex(pw) + " gives " + hex(l));
        EXPECT(b >= 0, "p = " + hex(p) + ", y = " + hex(y) + " gives " + hex(b));
    });
}

TEST_CASE_TEMPLATE("property: the gradient has the sign of sigmoid(x) - y", C, ELEMENT_PATHS) {
    using T = typename C::type;
    property(label<C>("sign(grad) == sign(sigmoid(x) - y)"), 10000, [] {
        const T x = *lg::logit<T>(), y = *lg::target<T>();
        RC_PRE(!std::isnan(x));
        const T g = C::grad(x, y), r = lt::reference::bce_with_logits_grad(x, y);  // sigmoid(x) - y, exactly rounded
        EXPECT((g > 0) == (r > 0) && (g < 0) == (r < 0), hex(x) + ", y = " + hex(y) + " gives " + hex(g) +
                                                              ", sigmoid(x) - y = " + hex(r));
    });
}

// ---------------------------------------------------------------- accuracy

TEST_CASE_TEMPLATE("property: every function within its published bound of the reference", C, ELEMENT_PATHS) {
    using T = typename C::type;
    namespace ref = lt::reference;
    property(label<C>("logistic functions within 2 ulp"), 10000, [] {
        const T x = *lg::logit<T>();
        EXPECT(lt::ulp_distance(C::sigmoid(x), ref::sigmoid(x)) <= hard_bound, hex(x));
        EXPECT(lt::ulp_distance(C::softplus(x), ref::softplus(x)) <= hard_bound, hex(x));
        EXPECT(lt::ulp_distance(C::log_sigmoid(x), ref::log_sigmoid(x)) <= hard_bound, hex(x));
        EXPECT(lt::ulp_distance(C::sigmoid_grad(x), ref::sigmoid_grad(x)) <= hard_bound, hex(x));
    });
    property(label<C>("losses within 2 ulp (hard) and 4 ulp (soft)"), 10000, [] {
        const T x = *lg::logit<T>(), y = *lg::target<T>(), pw = *pos_weight<T>();
        const bool hard = (y == 0 || y == 1) && pw == 1;
        const T l = C::loss(x, y, pw), r = ref::bce_with_logits(x, y, pw);
        const auto d = lt::ulp_distance(l, r);
        // double: a term whose value is subnormal is rounded (to a multiple
        // of denorm_min) before it is weighted: (1 + pos_weight) denorm_min
        // more. float is evaluated in double: no such term.
        const bool subnormal_slack = sizeof(T) == 8 && !std::isnan(l) &&
                                     std::fabs(l - r) <= (1 + pw) * std::numeric_limits<T>::denorm_min();
        EXPECT(d <= (hard ? hard_bound : soft_loss_bound) || (!hard && subnormal_slack),
               hex(x) + ", y = " + hex(y) + ", pos_weight = " + hex(pw) + ": " + hex(l) + " vs " + hex(r) + ", " +
                   std::to_string(d) + " ulp");
    });
    property(label<C>("gradients within 2 ulp (hard) and 8u (terms) (soft)"), 10000, [] {
        const T x = *lg::logit<T>(), y = *lg::target<T>(), pw = *pos_weight<T>();
        RC_PRE(!std::isnan(x));
        const T g = C::grad(x, y, pw), r = ref::bce_with_logits_grad(x, y, pw);
        const std::string at = hex(x) + ", y = " + hex(y) + ", pos_weight = " + hex(pw) + ": " + hex(g) + " vs " + hex(r);
        if ((y == 0 || y == 1) && pw == 1) {
            EXPECT(lt::ulp_distance(g, r) <= hard_bound, at);
        } else {
            // The two terms in double (float) or long double (double) for the bound.
            using W = std::conditional_t<sizeof(T) == 4, double, long double>;
            const W terms = (W(1) - W(y)) * W(ref::sigmoid(x)) + W(pw) * W(y) * W(ref::sigmoid(-x));
            const W u = W(std::numeric_limits<T>::epsilon()) / 2;
            // plus the final rounding of a subnormal result (float), or, as for
            // the loss, (1 + pos_weight) denorm_min for subnormal terms (double)
            const W tiny = W(std::numeric_limits<T>::denorm_min());
            const W bound = 8 * u * terms + (sizeof(T) == 4 ? tiny / 2 : (1 + W(pw)) * tiny);
            EXPECT(std::fabs(W(g) - W(r)) <= bound, at);
        }
    });
    property(label<C>("bce and bce_grad within 2 ulp (hard) and 4 ulp (soft)"), 10000, [] {
        const T p = *lg::probability<T>(), y = *lg::target<T>();
        const std::uint64_t bound = (y == 0 || y == 1) ? hard_bound : soft_loss_bound;
        const std::string at = "p = " + hex(p) + ", y = " + hex(y);
        EXPECT(lt::ulp_distance(C::bce(p, y), ref::bce(p, y)) <= bound, at);
        EXPECT(lt::ulp_distance(C::bce_grad(p, y), ref::bce_grad(p, y)) <= bound, at);
    });
}

// ---------------------------------------------------------------- the two formulations

TEST_CASE_TEMPLATE("property: bce(sigmoid(x), y) agrees with bce_with_logits(x, y) where sigmoid(x) is inside (0, 1)",
                   C, ELEMENT_PATHS) {
    using T = typename C::type;
    property(label<C>("bce(sigmoid(x), y) ~ bce_with_logits(x, y)"), 10000, [] {
        const T x = *lg::logit<T>(), y = *lg::target<T>();
        const T p = C::sigmoid(x);
        RC_PRE(p > 0 && p < 1);
        // ATen's clamp: both logs above -100 (else the divergence below).
        RC_PRE(lt::reference::bce(p, T(1)) < 100 && lt::reference::bce(p, T(0)) < 100);
        const T a = C::bce(p, y), b = C::loss(x, y);
        // p is within 2 ulp of sigmoid(x); the loss moves by |dL/dp| per unit of p.
        using W = long double;
        const W slope = W(y) / W(p) + (W(1) - W(y)) / (W(1) - W(p));
        const W bound = W(hard_bound) * W(ulp(p)) * slope + W(soft_loss_bound) * (W(ulp(a)) + W(ulp(b)));
        EXPECT(std::fabs(W(a) - W(b)) <= bound, hex(x) + ", y = " + hex(y) + ": " + hex(a) + " vs " + hex(b));
    });
}

TEST_CASE_TEMPLATE("property: beyond the thresholds bce(sigmoid(x), y) diverges as documented", C, ELEMENT_PATHS) {
    using T = typename C::type;
    using th = ll::thresholds<T>;
    property(label<C>("bce(sigmoid(x), y) at saturation"), 5000, [] {
        const T x = *rc::gen::oneOf(lg::detail::in_range(lt::ranges<T>::saturated_positive),
                                    lg::detail::in_range(lt::ranges<T>::saturated_negative));
        const T p = C::sigmoid(x);
        const std::string at = hex(x);
        if (x >= th::sigmoid_one) {
            // p == 1: the confidently right loss is 0, the wrong one ATen's clamp,
            // and the chained gradient bce_grad(p, y) p (1 - p) is 0 for both.
            EXPECT(p == 1, at);
            EXPECT(C::bce(p, T(1)) == 0 && C::bce(p, T(0)) == 100, at);
            EXPECT(C::bce_grad(p, T(0)) * p * (1 - p) == 0, at);
            EXPECT(C::loss(x, T(0)) >= T(th::sigmoid_one), at);  // while the logit loss keeps growing with x
            EXPECT(C::grad(x, T(0)) == 1, at);
        } else {
            EXPECT(p == 0, at);
            EXPECT(C::bce(p, T(0)) == 0 && C::bce(p, T(1)) == 100, at);
            EXPECT(C::bce_grad(p, T(1)) * p * (1 - p) == 0, at);
            EXPECT(C::loss(x, T(1)) >= -T(th::sigmoid_zero), at);
            EXPECT(C::grad(x, T(1)) == -1, at);
        }
    });
}

// ---------------------------------------------------------------- the array layer

namespace {

using ll::kernel_abi::double_word;

// The accumulator the README documents for sum and mean, written out: 64 /
// sizeof(T) lanes of double, element i in lane i mod lanes, each lane a sum
// and the sum of its two-sum errors; lanes merged in order in double-word
// arithmetic; blocks of 16,384 elements merged in order; rounded once.
template <class T>
T documented_sum(const std::vector<double>& v) {
    constexpr std::size_t lanes = 64 / sizeof(T), block = 16384;
    auto two_sum_add = [](double& s, double& c, double x) {
        const double t = s + x, bp = t - s;
        c += (s - (t - bp)) + (x - bp);
        s = t;
    };
    auto merge = [&](double_word& a, const double_word& b) {
        two_sum_add(a.hi, a.lo, b.hi);
        a.lo += b.lo;
    };
    double_word total{0, 0};
    for (std::size_t b = 0; b < v.size(); b += block) {
        double s[lanes] = {}, c[lanes] = {};
        for (std::size_t i = b; i < std::min(v.size(), b + block); ++i) two_sum_add(s[i % lanes], c[i % lanes], v[i]);
        double_word part{0, 0};
        for (std::size_t l = 0; l < lanes; ++l) merge(part, double_word{s[l], c[l]});
        merge(total, part);
    }
    return static_cast<T>(std::isfinite(total.hi) ? total.hi + total.lo : total.hi);
}

template <class T>
struct outputs {
    T result;
    std::vector<T> grad, losses;
};

// bce_with_logits_forward_backward of a batch with the given reduction,
// weight and pos_weight.
template <class T>
outputs<T> run(const lt::batch<T>& b, ll::reduction r, const std::vector<T>& weight = {},
               const std::vector<T>& pos_weight = {}) {
    outputs<T> o;
    o.grad.assign(b.size(), T(-7));
    if (r == ll::reduction::none) o.losses.assign(b.size(), T(-7));
    ll::options<T> opt;
    opt.reduce = r;
    opt.weight = ll::span<const T>(weight.data(), weight.size());
    opt.pos_weight = ll::span<const T>(pos_weight.data(), pos_weight.size());
    opt.losses = ll::span<T>(o.losses.data(), o.losses.size());
    o.result = ll::bce_with_logits_forward_backward(b.logits(), b.targets(), b.size(), o.grad.data(), opt);
    return o;
}

template <class T>
bool same(const std::vector<T>& a, const std::vector<T>& b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](T u, T v) { return same_bits(u, v); });
}

constexpr bool simd_has_fma() { return support::arch_has_fma<xsimd::default_arch>(); }

}  // namespace

TEST_CASE_TEMPLATE("property: sum and mean equal the documented accumulator over the element losses", T, float,
                   double) {
    int overflowed = 0;  // float batches whose sum overflowed (the mean's own branch)
    property(std::string("reductions == documented accumulator [") + (sizeof(T) == 4 ? "float" : "double") + "]", 300,
             [&overflowed] {
                 const auto b = *lg::batch_of<T>(40000);
                 const auto none = run(b, ll::reduction::none);
                 const auto sum = run(b, ll::reduction::sum), mean = run(b, ll::reduction::mean);
                 const std::vector<double> l(none.losses.begin(), none.losses.end());
                 const T acc = documented_sum<T>(l);
                 const std::string at = "n = " + std::to_string(b.size()) + ": " + hex(sum.result) + " vs " + hex(acc);
                 if constexpr (sizeof(T) == 8) {
                     EXPECT(same_bits(sum.result, acc), at);  // the element values are the losses
                 } else {
                     // The sum adds each loss before its rounding to float: within
                     // half an ulp of each loss, and one rounding of the total.
                     double slack = ulp(sum.result);
                     for (T v : none.losses) slack += ulp(v) / 2.0;
                     EXPECT(std::isinf(acc) ? same_bits(sum.result, acc)
                                            : std::fabs(double(sum.result) - double(acc)) <= slack,
                            at);
                 }
                 EXPECT(same(sum.grad, none.grad), at);  // sum's gradient is the element gradient
                 const double n = static_cast<double>(b.size());
                 if (sizeof(T) == 4 && std::isinf(sum.result) && b.size() > 0) {
                     // A float sum past FLT_MAX whose double total is finite:
                     // the mean is that total over n, rounded once
                     // (detail::mean_of), not inf / n. The total of the
                     // rounded losses is within the sum's slack of the
                     // kernels' (every loss is below 2^128, n below 2^16:
                     // the double total is finite).
                     ++overflowed;
                     double total = 0.0, slack = 0.0;
                     for (T v : none.losses) {
                         total += double(v);
                         slack += ulp(v) / 2.0;
                     }
                     const double want = total / n;
                     const bool finite = std::isfinite(static_cast<T>(want));
                     EXPECT(finite ? std::fabs(double(mean.result) - want) <= slack / n + ulp(mean.result)
                                   : std::isinf(mean.result),
                            "n = " + std::to_string(b.size()) + ": mean " + hex(mean.result) +
                                " of an overflowed sum vs total / n " + std::to_string(want));
                 } else if (b.size() > 0) {
                     const T expected_mean = sum.result / static_cast<T>(b.size());
                     EXPECT(same_bits(mean.result, expected_mean),
                            "n = " + std::to_string(b.size()) + ": mean " + hex(mean.result) + " vs sum / n " +
                                hex(expected_mean));
                 } else {
                     EXPECT(std::isnan(mean.result) && sum.result == 0, at);
                 }
             });
    if (sizeof(T) == 4) MESSAGE("float batches whose sum overflowed: " << overflowed);
}

TEST_CASE_TEMPLATE("property: a weight of ones and a pos_weight of ones are no weights", T, float, double) {
    property(std::string("weight == 1 and pos_weight == 1 are none [") + (sizeof(T) == 4 ? "float" : "double") + "]",
             300, [] {
                 const auto b = *lg::batch_of<T>(20000);
                 const std::size_t classes = *rc::gen::element<std::size_t>(1, 2, 3, 8);
                 RC_PRE(b.size() % classes == 0);
                 const std::vector<T> ones(b.size(), T(1)), class_ones(classes, T(1));
                 for (auto r : {ll::reduction::none, ll::reduction::sum, ll::reduction::mean}) {
                     const auto plain = run(b, r), weighted = run(b, r, ones), positive = run(b, r, {}, class_ones);
                     const std::string at = "n = " + std::to_string(b.size()) + ", reduction " +
                                            std::to_string(static_cast<int>(r)) + ", classes " + std::to_string(classes);
                     EXPECT(same_bits(plain.result, weighted.result) && same(plain.grad, weighted.grad) &&
                                same(plain.losses, weighted.losses),
                            "weight: " + at);
                     EXPECT(same_bits(plain.result, positive.result) && same(plain.grad, positive.grad) &&
                                same(plain.losses, positive.losses),
                            "pos_weight: " + at);
                 }
             });
}

TEST_CASE_TEMPLATE("property: results do not depend on alignment, offset or tail length", T, float, double) {
    property(std::string("alignment, offset and tail [") + (sizeof(T) == 4 ? "float" : "double") + "]", 300, [] {
        const auto b = *lg::batch_of<T>(20000);
        const std::size_t other = *rc::gen::inRange<std::size_t>(0, 16);
        const std::size_t cut = b.size() ? *rc::gen::inRange<std::size_t>(0, b.size() + 1) : 0;
        const lt::batch<T> moved(b.logit_values(), b.target_values(), other);
        const lt::batch<T> prefix(std::vector<T>(b.logit_values().begin(), b.logit_values().begin() + std::ptrdiff_t(cut)),
                                  std::vector<T>(b.target_values().begin(), b.target_values().begin() + std::ptrdiff_t(cut)),
                                  b.offset());
        const std::string at =
            "n = " + std::to_string(b.size()) + ", offsets " + std::to_string(b.offset()) + "/" + std::to_string(other);
        for (auto r : {ll::reduction::none, ll::reduction::sum}) {
            const auto here = run(b, r), there = run(moved, r), part = run(prefix, r);
            EXPECT(same_bits(here.result, there.result) && same(here.grad, there.grad) && same(here.losses, there.losses),
                   at);
            // The first `cut` elements come out the same whether they end the
            // array (tail) or not.
            EXPECT(std::equal(part.grad.begin(), part.grad.end(), here.grad.begin(), same_bits<T>), at + ", cut " + std::to_string(cut));
            EXPECT(std::equal(part.losses.begin(), part.losses.end(), here.losses.begin(), same_bits<T>),
                   at + ", cut " + std::to_string(cut));
        }
        // And as the element-wise formulas give them: bitwise on FMA archs,
        // within one rounding of the a*b+c without (README, "Scalar and SIMD").
        const auto none = run(b, ll::reduction::none);
        for (std::size_t i = 0; i < b.size(); ++i) {
            const T x = b.logit_values()[i], y = b.target_values()[i];
            const T l = ll::bce_with_logits(x, y), g = ll::bce_with_logits_grad(x, y);
            const std::string ati = at + ", element " + std::to_string(i) + " = " + hex(x) + ", y = " + hex(y);
            if constexpr (simd_has_fma()) {
                EXPECT(same_bits(none.losses[i], l) && same_bits(none.grad[i], g), ati);
            } else {
                EXPECT(lt::ulp_distance(none.losses[i], l) <= 1 && lt::ulp_distance(none.grad[i], g) <= 1, ati);
            }
        }
    });
}

TEST_CASE("testing_mpfr.hpp: exact values") {
    namespace ref = lt::reference;
    CHECK(ref::sigmoid(0.0) == 0.5);
    CHECK(ref::sigmoid(-std::numeric_limits<double>::infinity()) == 0.0);
    CHECK(ref::softplus(0.0) == 0x1.62e42fefa39efp-1);  // ln 2, correctly rounded
    CHECK(ref::log_sigmoid(0.0) == -0x1.62e42fefa39efp-1);
    CHECK(ref::softplus(1000.0) == 1000.0);
    CHECK(ref::softplus(-800.0) == 0.0);                                       // e^-800 < 2^-1075
    CHECK(ref::softplus(-744.0) == 2 * std::numeric_limits<double>::denorm_min());  // e^-744 = 1.55 denorm_min
    CHECK(ref::bce_with_logits(0.0, 0.5, 3.0) == 2 * 0x1.62e42fefa39efp-1);     // (1.5 + 0.5) ln 2
    CHECK(ref::bce_with_logits_grad(0.0, 1.0) == -0.5);
    CHECK(ref::bce_with_logits(-std::numeric_limits<double>::infinity(), 0.5, 0.0) == 0.0);  // zero weight: 0 term
    CHECK(ref::sigmoid_grad(0.0) == 0.25);
    CHECK(ref::sigmoid_grad(-std::numeric_limits<double>::infinity()) == 0.0);
    CHECK(ref::sigmoid_backward(0.0, -8.0) == -2.0);
    CHECK(ref::sigmoid_grad(-744.0) == 2 * std::numeric_limits<double>::denorm_min());  // e^-744 / (1 + e^-744)^2
    CHECK(std::isnan(ref::sigmoid_backward(1.0, std::numeric_limits<double>::quiet_NaN())));
    CHECK(ref::bce(1.0, 0.0) == 100.0);
    CHECK(ref::bce(0.5, 0.25) == 0x1.62e42fefa39efp-1);
    CHECK(ref::bce_grad(0.5, 1.0) == -2.0);
    CHECK(ref::bce_grad(0.0, 1.0) == -1.0 / static_cast<double>(1e-12f));  // ATen's floor is 1e-12f
    CHECK(std::isnan(ref::bce(0.5, std::numeric_limits<double>::quiet_NaN())));
    CHECK(std::isnan(ref::bce(1.5, 0.0)));  // outside [0, 1], as the library
    CHECK(std::isnan(ref::bce(-0.5, 1.0)));
    CHECK(std::isnan(ref::bce_grad(1.5, 0.0)));
    CHECK(std::isnan(ref::bce_grad(-0.5, 1.0)));
}

TEST_CASE_TEMPLATE("property: element outputs are the element-wise formulas, with weight and per-class pos_weight", T,
                   float, double) {
    property(std::string("array elements == formulas with weights [") + (sizeof(T) == 4 ? "float" : "double") + "]",
             300, [] {
                 const auto b = *lg::batch_of<T>(20000);
                 const std::size_t classes = *rc::gen::element<std::size_t>(1, 3, 7, 16, 17);
                 RC_PRE(b.size() % classes == 0);
                 const auto weight = *rc::gen::container<std::vector<T>>(b.size(), pos_weight<T>());
                 const auto pw = *rc::gen::container<std::vector<T>>(classes, pos_weight<T>());
                 const auto none = run(b, ll::reduction::none, weight, pw);
                 for (std::size_t i = 0; i < b.size(); ++i) {
                     const T x = b.logit_values()[i], y = b.target_values()[i], w = weight[i], p = pw[i % classes];
                     // float: the weight multiplies the element value while it is still
                     // in double, so the expectation is w times the double formula,
                     // rounded once (an element loss past FLT_MAX with weight < 1 is
                     // finite); double: weight times the rounded element value.
                     using W = std::conditional_t<sizeof(T) == 4, double, T>;
                     const W l = ll::bce_with_logits(W(x), W(y), W(p)), g = ll::bce_with_logits_grad(W(x), W(y), W(p));
                     const std::string at = "element " + std::to_string(i) + " of " + std::to_string(b.size()) +
                                            ": x = " + hex(x) + ", y = " + hex(y) + ", weight = " + hex(w) +
                                            ", pos_weight = " + hex(p);
                     const std::uint64_t tolerance = sizeof(T) == 8 && simd_has_fma() ? 0 : 1;
                     EXPECT(lt::ulp_distance(none.losses[i], T(W(w) * l)) <= tolerance, at);
                     EXPECT(lt::ulp_distance(none.grad[i], T(W(w) * g)) <= tolerance, at);
                 }
             });
}
