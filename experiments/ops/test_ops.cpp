// test_torch_ops: the autograd functions of ops.hpp.
//
//   gradcheck   float64 central differences against autograd's gradient, for
//               every function and reduction, with weight and pos_weight,
//               grad_output not 1, and non-contiguous inputs.
//   accuracy    float32 and float64, 10,000 random and edge elements per
//               variant: every loss and gradient within 4 ulp of a long
//               double evaluation of PyTorch's formula (the core's 2 ulp
//               plus one rounding each for the weight, the mean's 1/n and
//               grad_output); soft-target logit gradients, a difference
//               that cancels, within 8u times the sum of its terms.
//   torch       agreement with torch's own functions, forward and backward,
//               run on the device under test.
//               torch's float32 is off by up to ~9e8 ulp in the tails (the
//               project README, "Where PyTorch is the inaccurate one"), so
//               both dtypes are compared against torch run in float64 where
//               torch's float64 is accurate: |x| <= 12 (its cancellation
//               costs e^|x| 2^-53 relative: below 2e-11), and for
//               probabilities from p >= 1e-6 (float32) or 1e-3 (float64):
//               torch takes log(1 - p) for log1p(-p), off by 2^-53/p.
//               float32 results within 4 ulp of torch float64 rounded to
//               float, float64 ones within 1e-9 relative (ATen's gradient
//               floor is the float constant 1e-12f for both dtypes, as in
//               the core). Elements where torch's own float32 misses the reference are
//               counted and printed.
//   policy      broadcasting of weight and pos_weight, contiguity, empty
//               inputs, the forward-only path, and the errors.
//   CUDA        when this build has the CUDA path and a GPU is present: the
//               same checks on CUDA tensors, against the reference and
//               against torch's own CUDA functions (float64 on the GPU, the
//               same trusted ranges), run to run reproducibility of the
//               reduction, unaligned inputs, the sum against the CPU's.
//               Skipped otherwise, a failure with LOGITLOSS_TEST_REQUIRE_CUDA=1.
#include "ops/ops.hpp"

#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include "doctest_torch.hpp"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include <logitloss/formulas.hpp>
#include <logitloss/testing.hpp>

namespace ops = logitloss::torch_ops;
using torch::Tensor;
using L = long double;

namespace {

template <class T>
constexpr torch::ScalarType dtype_of() {
    return std::is_same<T, float>::value ? torch::kFloat32 : torch::kFloat64;
}

template <class T>
Tensor tensor(const std::vector<T>& v, std::vector<int64_t> shape) {
    return torch::from_blob(const_cast<T*>(v.data()), shape, dtype_of<T>()).clone();
}

template <class T>
std::vector<T> values(const Tensor& t) {
    const Tensor c = t.detach().to(torch::kCPU).to(dtype_of<T>()).contiguous();
    return std::vector<T>(c.data_ptr<T>(), c.data_ptr<T>() + c.numel());
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const c10::Error& e) {
        return e.what_without_backtrace();
    }
    return "(no error)";
}

#define CHECK_ERROR(expr, text)                                                   \
    do {                                                                          \
        const std::string message_ = error_of([&] { static_cast<void>(expr); }); \
        INFO("error: " << message_);                                              \
        CHECK(message_.find(text) != std::string::npos);                          \
    } while (false)

int64_t torch_reduction(const std::string& r) {
    return r == "none" ? at::Reduction::None : r == "sum" ? at::Reduction::Sum : at::Reduction::Mean;
}

c10::optional<Tensor> maybe(bool on, const Tensor& t) {
    return on ? c10::optional<Tensor>(t) : c10::nullopt;
}

// ---- references in long double: PyTorch's formulas, evaluated directly --

L softplus_l(L x) { return std::fmax(x, L(0)) + std::log1p(std::exp(-std::fabs(x))); }
L sigmoid_l(L x) {
    const L e = std::exp(-std::fabs(x));
    return x >= 0 ? 1 / (1 + e) : e / (1 + e);
}

// value and gradient of one element; scale: the sum of the gradient's two
// terms, what a soft target's cancellation is measured against.
struct ref {
    L value, grad, scale;
};

ref logits_ref(L x, L y, L pw) {
    const L a = y == 0 ? L(0) : pw * y, b = y == 1 ? L(0) : 1 - y;
    const L value = (a == 0 ? L(0) : a * softplus_l(-x)) + (b == 0 ? L(0) : b * softplus_l(x));
    const L gp = b == 0 ? L(0) : b * sigmoid_l(x), gn = a == 0 ? L(0) : a * sigmoid_l(-x);
    return {value, gp - gn, gp + gn};
}

// ATen: -(y max(log p, -100) + (1-y) max(log(1-p), -100)); gradient
// (p - y) / max(p (1 - p), eps) with eps = 1e-12f (a float constant in ATen,
// for both dtypes).
template <class T>
ref bce_ref(L p, L y) {
    const L lp = std::fmax(std::log(p), L(-100)), lq = std::fmax(std::log1p(-p), L(-100));
    const L value = -((y == 0 ? L(0) : y * lp) + (y == 1 ? L(0) : (1 - y) * lq));
    return {value, (p - y) / std::fmax(p * (1 - p), L(1e-12f)), L(0)};
}

// ---- inputs ---------------------------------------------------------------

enum class fn { logits, probabilities, sigmoid };

template <class T>
struct sample {
    int64_t rows = 0, cols = 0;
    std::vector<T> x, y, w, pw, gout;
};

// Logits: N(0, 8), uniform on [-120, 120] and the saturation edges; or
// probabilities: 0, 1, tiny, near 1 and uniform. Targets 40% 0, 40% 1, 20%
// soft; weights in [0, 2); pos_weight per column in [0, 4) (column 0: 1);
// grad_output in [0.5, 1.5).
template <class T>
sample<T> make_sample(fn kind, int64_t rows, int64_t cols, std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<double> normal(0.0, 8.0);
    std::uniform_real_distribution<double> u(0.0, 1.0), wide(-120.0, 120.0);
    const double edges[] = {0.0, -0.0, 1e-30, -1e-30, 16.6355, -16.6355, 17.0, -17.0, 30.0, -30.0,
                            88.72, -88.72, 103.98, -103.98, 1e4, -1e4, 12.0, -12.0};
    sample<T> s;
    s.rows = rows;
    s.cols = cols;
    for (int64_t i = 0; i < rows * cols; ++i) {
        const int k = static_cast<int>(rng() % 10);
        double x;
        if (kind == fn::probabilities) {
            x = k == 0   ? 0.0
                : k == 1 ? 1.0
                : k == 2 ? std::ldexp(u(rng), -static_cast<int>(rng() % 140))
                : k == 3 ? 1.0 - std::ldexp(u(rng), -static_cast<int>(rng() % 25))
                         : u(rng);
        } else {
            x = k == 0 ? edges[rng() % (sizeof edges / sizeof edges[0])] : k < 3 ? wide(rng) : normal(rng);
        }
        s.x.push_back(static_cast<T>(x));
        const double r = u(rng);
        s.y.push_back(static_cast<T>(r < 0.4 ? 0.0 : r < 0.8 ? 1.0 : u(rng)));
        s.w.push_back(static_cast<T>(2.0 * u(rng)));
        s.gout.push_back(static_cast<T>(0.5 + u(rng)));
    }
    for (int64_t c = 0; c < cols; ++c) s.pw.push_back(static_cast<T>(c == 0 ? 1.0 : 4.0 * u(rng)));
    return s;
}

// ---- comparison -------------------------------------------------------------

template <class T>
bool within_ulps(T ours, L truth, L abs_bound, unsigned ulps) {
    if (std::isnan(ours) || std::isnan(truth)) return std::isnan(ours) && std::isnan(truth);
    if (logitloss::testing::ulp_distance(ours, static_cast<T>(truth)) <= ulps) return true;
    return std::fabs(static_cast<L>(ours) - truth) <= abs_bound;
}

// Failures are counted, and the first few described, instead of one
// doctest assertion per element.
struct tally {
    std::size_t failed = 0;
    std::string first;
    template <class T>
    void fail(const char* what, std::size_t i, T ours, L expected) {
        if (failed++ < 4) {
            std::ostringstream o;
            o.precision(21);
            o << what << " at " << i << ": got " << ours << ", expected " << expected << "; ";
            first += o.str();
        }
    }
};

constexpr unsigned tolerance_ulps = 4;

template <class T>
constexpr L unit_roundoff() {
    return std::is_same<T, float>::value ? std::ldexp(L(1), -24) : std::ldexp(L(1), -53);
}

// Whether torch's float64 evaluation can be trusted at element i (see the
// file comment).
template <class T>
bool torch64_trusted(fn kind, T x) {
    if (kind != fn::probabilities) return std::fabs(x) <= T(12);
    return x == T(0) || x >= T(std::is_same<T, float>::value ? 1e-6 : 1e-3);
}

// ours vs torch float64: float within tolerance_ulps of the rounded value;
// double within 1e-9 of the value plus the scale of its cancellation.
template <class T>
bool agrees_with_torch64(T ours, double t, L scale, L relative = 1e-9L) {
    if (std::isnan(ours) || std::isnan(t)) return std::isnan(ours) && std::isnan(t);
    if (std::is_same<T, float>::value)
        return logitloss::testing::ulp_distance(ours, static_cast<T>(t)) <= tolerance_ulps;
    return std::fabs(static_cast<L>(ours) - t) <= relative * (std::fabs(L(t)) + scale) + 1e-300L;
}

struct variant {
    fn kind;
    bool use_w, use_pw;
    std::string reduction;
};

// Ours on `device`, torch in float64 (and float32, for the count), the
// long double reference: losses (none) or the reduced loss, and gradients.
template <class T>
void run_variant(const variant& v, torch::Device device, std::uint32_t seed, std::size_t& torch32_off) {
    const sample<T> s = make_sample<T>(v.kind, 2000, 5, seed);
    const auto n = static_cast<std::size_t>(s.rows * s.cols);
    const std::vector<int64_t> shape{s.rows, s.cols};
    const Tensor x = tensor(s.x, shape), y = tensor(s.y, shape), w = tensor(s.w, shape), pw = tensor(s.pw, {s.cols});
    const Tensor gout = tensor(s.gout, shape);
    const bool none = v.reduction == "none", mean = v.reduction == "mean";
    const double scalar_gout = 1.25;

    auto run = [&](const Tensor& xin, bool torch_own) {
        Tensor xr = xin.detach().clone().requires_grad_(true);
        const auto opts = xr.options();
        const Tensor yr = y.to(opts), wr = w.to(opts), pwr = pw.to(opts);
        Tensor out;
        if (v.kind == fn::sigmoid)
            out = torch_own ? torch::sigmoid(xr) : ops::sigmoid(xr);
        else if (v.kind == fn::probabilities)
            out = torch_own ? torch::binary_cross_entropy(xr, yr, maybe(v.use_w, wr), torch_reduction(v.reduction))
                            : ops::binary_cross_entropy(xr, yr, maybe(v.use_w, wr), v.reduction);
        else
            out = torch_own ? torch::binary_cross_entropy_with_logits(xr, yr, maybe(v.use_w, wr),
                                                                      maybe(v.use_pw, pwr),
                                                                      torch_reduction(v.reduction))
                            : ops::binary_cross_entropy_with_logits(xr, yr, maybe(v.use_w, wr), maybe(v.use_pw, pwr),
                                                                    v.reduction);
        if (out.dim() == 0)
            out.backward(torch::full({}, scalar_gout, opts));
        else
            out.backward(gout.to(opts));
        return std::make_pair(out.detach(), xr.grad());
    };
    // torch's own functions on the same device: on CUDA, its CUDA kernels.
    const auto ours = run(x.to(device), false);
    const auto t64 = run(x.to(device, torch::kFloat64), true);
    const auto t32 = std::is_same<T, float>::value ? run(x.to(device), true) : t64;
    const std::vector<T> loss = values<T>(ours.first), grad = values<T>(ours.second);
    const std::vector<double> loss64 = values<double>(t64.first), grad64 = values<double>(t64.second);
    const std::vector<T> loss32 = values<T>(t32.first), grad32 = values<T>(t32.second);

    tally ref_fail, torch_fail;
    L total = 0;
    const bool elementwise = v.kind == fn::sigmoid || none;
    for (std::size_t i = 0; i < n; ++i) {
        const L xi = s.x[i], yi = s.y[i];
        const L wi = v.use_w ? L(s.w[i]) : L(1);
        const L pwi = v.use_pw ? L(s.pw[i % static_cast<std::size_t>(s.cols)]) : L(1);
        ref r;
        if (v.kind == fn::sigmoid)
            r = {sigmoid_l(xi), sigmoid_l(xi) * sigmoid_l(-xi), L(0)};
        else if (v.kind == fn::probabilities)
            r = bce_ref<T>(xi, yi);
        else
            r = logits_ref(xi, yi, pwi);
        const L g_scale = (elementwise ? L(s.gout[i]) : L(scalar_gout)) * (mean ? 1 / L(n) : L(1)) * wi;
        const L value = wi * r.value, gradient = r.grad * g_scale, cancel = r.scale * g_scale;
        total += value;
        // The absolute bound only where two terms cancel: a logit gradient
        // with a soft target; every other gradient is held to its ulps.
        const bool soft = v.kind == fn::logits && yi > L(0) && yi < L(1);
        const L bound = soft ? 8 * unit_roundoff<T>() * cancel : L(0);
        const bool trusted = torch64_trusted(v.kind, s.x[i]);
        if (elementwise) {
            if (!within_ulps(loss[i], value, L(0), tolerance_ulps)) ref_fail.fail("loss", i, loss[i], value);
            if (trusted && !agrees_with_torch64(loss[i], loss64[i], L(0)))
                torch_fail.fail("loss vs torch64", i, loss[i], loss64[i]);
            if (!within_ulps(loss32[i], value, L(0), tolerance_ulps)) ++torch32_off;
        }
        if (!within_ulps(grad[i], gradient, bound, tolerance_ulps)) ref_fail.fail("grad", i, grad[i], gradient);
        if (trusted && !agrees_with_torch64(grad[i], grad64[i], cancel))
            torch_fail.fail("grad vs torch64", i, grad[i], grad64[i]);
        if (!within_ulps(grad32[i], gradient, bound, tolerance_ulps)) ++torch32_off;
    }
    if (!elementwise) {
        const L reduced = mean ? total / L(n) : total;
        if (!within_ulps(loss[0], reduced, L(0), tolerance_ulps)) ref_fail.fail("reduced loss", 0, loss[0], reduced);
        if (!agrees_with_torch64(loss[0], loss64[0], L(0)))
            torch_fail.fail("reduced loss vs torch64", 0, loss[0], loss64[0]);
    }
    INFO("dtype " << (std::is_same<T, float>::value ? "float32" : "float64") << ", function "
                  << static_cast<int>(v.kind) << ", weight " << v.use_w << ", pos_weight " << v.use_pw
                  << ", reduction " << v.reduction << ", device " << device);
    INFO("reference: " << ref_fail.first);
    INFO("torch64: " << torch_fail.first);
    CHECK(ref_fail.failed == 0);
    CHECK(torch_fail.failed == 0);
}

std::vector<variant> all_variants() {
    std::vector<variant> vs{{fn::sigmoid, false, false, "none"}};
    for (const char* r : {"none", "sum", "mean"}) {
        for (bool w : {false, true}) {
            vs.push_back({fn::probabilities, w, false, r});
            for (bool pw : {false, true}) vs.push_back({fn::logits, w, pw, r});
        }
    }
    return vs;
}

// ---- gradcheck ----------------------------------------------------------------

// Autograd's gradient of sum(f(x) * v), v random (a scalar for 0-dim
// outputs), against central differences with step h in float64.
void gradcheck(const std::function<Tensor(const Tensor&)>& f, const Tensor& x0, const char* what) {
    constexpr double h = 1e-6, rtol = 1e-6, atol = 1e-8;
    Tensor x = x0.detach().clone().requires_grad_(true);  // clone keeps x0's strides
    const Tensor out = f(x);
    const Tensor v = torch::rand(out.sizes(), torch::kFloat64) + 0.5;
    (out * v).sum().backward();
    const std::vector<double> analytic = values<double>(x.grad());
    torch::NoGradGuard no_grad;
    Tensor flat = x0.detach().contiguous().clone().view(-1);
    std::size_t failed = 0;
    std::string first;
    for (int64_t j = 0; j < flat.numel(); ++j) {
        const double keep = flat[j].item<double>();
        flat[j] = keep + h;
        const double plus = (f(flat.view(x0.sizes())) * v).sum().item<double>();
        flat[j] = keep - h;
        const double minus = (f(flat.view(x0.sizes())) * v).sum().item<double>();
        flat[j] = keep;
        const double numeric = (plus - minus) / (2 * h);
        const double a = analytic[static_cast<std::size_t>(j)];
        if (!(std::fabs(a - numeric) <= atol + rtol * std::fabs(numeric)) && failed++ == 0)
            first = "element " + std::to_string(j) + ": autograd " + std::to_string(a) + ", numeric " +
                    std::to_string(numeric);
    }
    INFO(what << ": " << first);
    CHECK(failed == 0);
}

}  // namespace

TEST_CASE("gradcheck: float64 central differences, every function and reduction, weight and pos_weight") {
    torch::manual_seed(7);
    const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
    const Tensor logits = torch::randn({4, 3}, f64) * 3;
    const Tensor probs = torch::rand({4, 3}, f64) * 0.9 + 0.05;  // away from the clamps
    const Tensor target = torch::rand({4, 3}, f64);
    const Tensor hard = (torch::rand({4, 3}, f64) > 0.5).to(torch::kFloat64);
    const Tensor weight = torch::rand({4, 3}, f64) + 0.25;
    const Tensor pos_weight = torch::rand({3}, f64) * 3;
    const Tensor one_pos_weight = torch::full({1}, 2.5, f64);

    gradcheck([](const Tensor& x) { return ops::sigmoid(x); }, logits, "sigmoid");
    gradcheck([](const Tensor& x) { return ops::sigmoid(x); }, logits.t(), "sigmoid, transposed input");
    for (const char* r : {"none", "sum", "mean"}) {
        for (bool w : {false, true}) {
            const std::string tag = std::string(r) + (w ? ", weight" : "");
            gradcheck([&](const Tensor& x) { return ops::bce(x, target, maybe(w, weight), r); }, probs,
                      ("bce, " + tag).c_str());
            gradcheck([&](const Tensor& x) { return ops::bce(x, hard, maybe(w, weight), r); }, probs,
                      ("bce, hard targets, " + tag).c_str());
            for (int pw = 0; pw < 3; ++pw) {
                const c10::optional<Tensor> p = pw == 0 ? c10::nullopt
                                                : pw == 1 ? c10::optional<Tensor>(pos_weight)
                                                          : c10::optional<Tensor>(one_pos_weight);
                const std::string t = tag + (pw == 1 ? ", pos_weight [C]" : pw == 2 ? ", pos_weight [1]" : "");
                gradcheck([&](const Tensor& x) { return ops::bce_with_logits(x, target, maybe(w, weight), p, r); },
                          logits, ("bce_with_logits, " + t).c_str());
            }
        }
        // A transposed (non-contiguous) input and target.
        gradcheck([&](const Tensor& x) { return ops::bce_with_logits(x, target.t(), weight.t(), c10::nullopt, r); },
                  logits.t(), (std::string("bce_with_logits, transposed, ") + r).c_str());
    }
}

TEST_CASE("accuracy and agreement with torch on the CPU, float32 and float64") {
    std::size_t off32 = 0;
    std::uint32_t seed = 1000;
    for (const variant& v : all_variants()) {
        run_variant<float>(v, torch::kCPU, seed, off32);
        std::size_t unused = 0;
        run_variant<double>(v, torch::kCPU, seed + 500, unused);
        ++seed;
    }
    MESSAGE("elements where torch's own float32 result is more than " << tolerance_ulps
                                                                    << " ulp from the reference (ours never is): "
                                                                    << off32);
    CHECK(off32 > 0);  // the inputs reach the tails where torch float32 is known to be inaccurate
}

TEST_CASE("broadcasting of weight and pos_weight matches torch") {
    torch::manual_seed(3);
    const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
    const Tensor x = torch::randn({2, 4, 3}, f64) * 4, y = torch::rand({2, 4, 3}, f64);
    struct weights {
        const char* what;
        c10::optional<Tensor> w, pw;
    };
    const weights cases[] = {
        {"weight [C]", torch::rand({3}, f64), c10::nullopt},
        {"weight [N, 1]", torch::rand({4, 1}, f64), c10::nullopt},
        {"weight [1, N, C]", torch::rand({1, 4, 3}, f64), c10::nullopt},
        {"weight 0-dim", torch::full({}, 0.7, f64), c10::nullopt},
        {"pos_weight [C]", c10::nullopt, torch::rand({3}, f64) * 3},
        {"pos_weight [1, C]", c10::nullopt, torch::rand({1, 3}, f64) * 3},
        {"pos_weight [1]", c10::nullopt, torch::full({1}, 2.0, f64)},
        {"pos_weight 0-dim", c10::nullopt, torch::full({}, 0.5, f64)},
        {"weight [C] and pos_weight [C]", torch::rand({3}, f64), torch::rand({3}, f64) * 3},
    };
    for (const auto& c : cases) {
        for (const char* r : {"none", "sum", "mean"}) {
            INFO(c.what << ", reduction " << r);
            Tensor a = x.clone().requires_grad_(true), b = x.clone().requires_grad_(true);
            const Tensor ours = ops::bce_with_logits(a, y, c.w, c.pw, r);
            const Tensor theirs = torch::binary_cross_entropy_with_logits(b, y, c.w, c.pw, torch_reduction(r));
            CHECK(ours.sizes() == theirs.sizes());
            CHECK(torch::allclose(ours, theirs, 1e-12, 1e-14));
            ours.sum().backward();
            theirs.sum().backward();
            CHECK(torch::allclose(a.grad(), b.grad(), 1e-12, 1e-14));
            if (!c.pw) {
                const Tensor p = torch::sigmoid(x);
                CHECK(torch::allclose(ops::bce(p, y, c.w, r),
                                      torch::binary_cross_entropy(p, y, c.w, torch_reduction(r)), 1e-12, 1e-14));
            }
        }
    }
}

TEST_CASE("contiguity, the forward-only path, empty inputs") {
    torch::manual_seed(5);
    const Tensor x = torch::randn({6, 5}) * 10, y = torch::rand({6, 5}), w = torch::rand({6, 5});
    SUBCASE("a transposed input gives the bits of its contiguous copy") {
        for (const char* r : {"none", "sum", "mean"}) {
            Tensor a = x.t().requires_grad_(true), b = x.t().contiguous().requires_grad_(true);
            CHECK_FALSE(a.is_contiguous());
            const Tensor la = ops::bce_with_logits(a, y.t(), w.t(), c10::nullopt, r);
            const Tensor lb = ops::bce_with_logits(b, y.t().contiguous(), w.t().contiguous(), c10::nullopt, r);
            CHECK(torch::equal(la, lb));
            la.sum().backward();
            lb.sum().backward();
            CHECK(torch::equal(a.grad(), b.grad()));
            CHECK(a.grad().sizes() == a.sizes());
        }
    }
    SUBCASE("no grad: the forward-only kernels give the same losses") {
        for (const char* r : {"none", "sum", "mean"}) {
            const Tensor with_grad = ops::bce_with_logits(x.clone().requires_grad_(true), y, w, c10::nullopt, r);
            const Tensor sigmoid_with_grad = ops::sigmoid(x.clone().requires_grad_(true));
            CHECK(with_grad.grad_fn() != nullptr);  // the autograd function ran
            CHECK(sigmoid_with_grad.grad_fn() != nullptr);
            torch::NoGradGuard guard;
            CHECK(torch::equal(with_grad.detach(), ops::bce_with_logits(x, y, w, c10::nullopt, r)));
            CHECK(torch::equal(sigmoid_with_grad.detach(), ops::sigmoid(x)));
        }
    }
    SUBCASE("empty input: sum 0, mean NaN, none empty, as torch") {
        Tensor e = torch::empty({0, 3}).requires_grad_(true);
        const Tensor t = torch::empty({0, 3});
        const Tensor pw = torch::ones({3});
        CHECK(ops::bce_with_logits(e, t, c10::nullopt, pw, "sum").item<float>() == 0.f);
        CHECK(std::isnan(ops::bce_with_logits(e, t, c10::nullopt, pw, "mean").item<float>()));
        CHECK(std::isnan(torch::binary_cross_entropy_with_logits(e, t).item<float>()));
        CHECK(ops::bce_with_logits(e, t, c10::nullopt, c10::nullopt, "none").sizes() == e.sizes());
        ops::bce(torch::sigmoid(e), t, c10::nullopt, "sum").backward();
        CHECK(e.grad().sizes() == e.sizes());
    }
    SUBCASE("sigmoid's gradient keeps its tail where torch's is 0") {
        Tensor a = torch::full({1}, 20.f).requires_grad_(true), b = torch::full({1}, 20.f).requires_grad_(true);
        ops::sigmoid(a).backward(torch::ones({1}));
        torch::sigmoid(b).backward(torch::ones({1}));
        CHECK(b.grad().item<float>() == 0.f);
        CHECK(a.grad().item<float>() == doctest::Approx(std::exp(-20.0)).epsilon(1e-6));
    }
    SUBCASE("sigmoid's backward is the core's sigmoid_backward, bit for bit") {
        for (const auto dtype : {torch::kFloat32, torch::kFloat64}) {
            const Tensor xs = torch::randn({1000}, dtype) * 40, g = torch::randn({1000}, dtype);
            Tensor a = xs.clone().requires_grad_(true);
            ops::sigmoid(a).backward(g);
            const Tensor got = a.grad().to(torch::kFloat64), xd = xs.to(torch::kFloat64), gd = g.to(torch::kFloat64);
            std::int64_t differ = 0;
            for (int64_t i = 0; i < 1000; ++i) {
                const double want = dtype == torch::kFloat32
                                        ? static_cast<double>(logitloss::sigmoid_backward(
                                              static_cast<float>(xd[i].item<double>()), static_cast<float>(gd[i].item<double>())))
                                        : logitloss::sigmoid_backward(xd[i].item<double>(), gd[i].item<double>());
                differ += got[i].item<double>() != want;
            }
            CAPTURE(dtype);
            CHECK(differ == 0);
        }
    }
}

// The bits of a tensor, for comparisons that tell -0 from +0 and see every
// ulp (torch::equal compares values).
Tensor bits_of(const Tensor& t) {
    const Tensor c = t.detach().contiguous();
    return c.view(c.scalar_type() == torch::kDouble ? torch::kLong : torch::kInt);
}

// The gradient a BCEWithLogits node saved in forward, before its backward.
Tensor saved_gradient(const Tensor& loss) {
    const auto* node = dynamic_cast<const torch::autograd::CppNode<ops::BCEWithLogits>*>(loss.grad_fn().get());
    REQUIRE(node != nullptr);
    return node->ctx_.get_saved_variables().at(0);
}

TEST_CASE("backward: a scalar grad_output scales the saved gradient in place unless the graph is retained") {
    torch::manual_seed(6);
    const Tensor x = torch::randn({257}) * 8, y = torch::rand({257});
    for (const char* r : {"sum", "mean"}) {
        CAPTURE(std::string(r));
        const auto loss = [&](const Tensor& v) { return ops::bce_with_logits(v, y, c10::nullopt, c10::nullopt, r); };
        // The saved gradient itself, as it is for a grad_output of 1 and
        // scaled in place for 4 (x 4 and / 4 are exact here).
        Tensor a = x.clone().requires_grad_(true), b = x.clone().requires_grad_(true);
        const Tensor la = loss(a), lb = loss(b);
        const void* saved = saved_gradient(la).data_ptr();
        const void* saved_b = saved_gradient(lb).data_ptr();
        la.backward();
        (lb * 4).backward();
        CHECK(a.grad().data_ptr() == saved);
        CHECK(b.grad().data_ptr() == saved_b);
        CHECK(torch::equal(bits_of(a.grad()), bits_of(b.grad() / 4)));
        const Tensor once = a.grad().clone();
        // A retained graph, through a view: backward calls accumulate their
        // gradients, and writing into .grad between them (zeroing it here)
        // changes nothing that a later call computes.
        Tensor c = x.clone().requires_grad_(true);
        const Tensor lc = loss(c.view({-1}));
        lc.backward({}, true);
        CHECK(torch::equal(c.grad(), once));
        c.grad().zero_();
        lc.backward({}, true);
        CHECK(torch::equal(c.grad(), once));
        lc.backward({}, true);
        CHECK(torch::equal(c.grad(), once + once));
        // autograd::grad through a retained graph hands out copies; the
        // last, unretained call hands out the saved gradient itself.
        Tensor d = x.clone().requires_grad_(true);
        const Tensor ld = loss(d);
        const void* saved_d = saved_gradient(ld).data_ptr();
        Tensor g1 = torch::autograd::grad({ld}, {d}, {}, true)[0];
        const Tensor g2 = torch::autograd::grad({ld}, {d}, {}, true)[0];
        CHECK(g1.data_ptr() != saved_d);
        g1.zero_();
        CHECK(torch::equal(g2, once));
        const Tensor g3 = torch::autograd::grad({ld}, {d})[0];
        CHECK(torch::equal(g3, once));
        CHECK(g3.data_ptr() == saved_d);
        // A grad_output other than 1: a scaled copy through a retained
        // graph, the saved gradient scaled in place through the last call.
        Tensor e = x.clone().requires_grad_(true);
        const Tensor le = loss(e);
        const void* saved_e = saved_gradient(le).data_ptr();
        const Tensor half = torch::autograd::grad({le}, {e}, {torch::full({}, 0.5f)}, true)[0];
        CHECK(torch::equal(half, once * 0.5));
        CHECK(half.data_ptr() != saved_e);
        const Tensor twice = torch::autograd::grad({le}, {e}, {torch::full({}, 2.f)})[0];
        CHECK(torch::equal(twice, once * 2));
        CHECK(twice.data_ptr() == saved_e);
        CHECK(torch::equal(half, once * 0.5));
    }
}

TEST_CASE("bce_with_logits_and_grad: the autograd function's loss and gradient, nothing recorded") {
    torch::manual_seed(8);
    const Tensor x = torch::randn({7, 4}) * 12, y = torch::rand({7, 4}), w = torch::rand({4}), pw = torch::rand({4}) * 3;
    for (const char* r : {"none", "sum", "mean"}) {
        CAPTURE(std::string(r));
        Tensor a = x.clone().requires_grad_(true);
        const Tensor la = ops::bce_with_logits(a, y, w, pw, r);
        la.backward(torch::ones_like(la));
        const ops::loss_and_grad got = ops::bce_with_logits_and_grad(a.t().t(), y, w, pw, r);
        CHECK_FALSE(got.loss.requires_grad());
        CHECK_FALSE(got.grad.requires_grad());
        CHECK(got.grad.sizes() == x.sizes());
        CHECK(torch::equal(bits_of(got.loss), bits_of(la)));
        CHECK(torch::equal(bits_of(got.grad), bits_of(a.grad())));
    }
    // A transposed input that requires grad: the results of its contiguous copy.
    const ops::loss_and_grad t = ops::bce_with_logits_and_grad(x.clone().requires_grad_(true).t(), y.t(), {}, {}, "none");
    const ops::loss_and_grad c = ops::bce_with_logits_and_grad(x.t().contiguous(), y.t().contiguous(), {}, {}, "none");
    CHECK_FALSE(t.loss.requires_grad());
    CHECK(torch::equal(bits_of(t.grad), bits_of(c.grad)));
    CHECK(torch::equal(bits_of(t.loss), bits_of(c.loss)));
    CHECK_ERROR(ops::bce_with_logits_and_grad(x, y * 2), "must be in [0, 1]");
}

TEST_CASE("sigmoid_aten: torch's sigmoid forward and sigmoid_backward, bit for bit on the CPU") {
    const double inf = std::numeric_limits<double>::infinity();
    SUBCASE("float32 and float64, forward and backward")
    for (const auto dtype : {torch::kFloat32, torch::kFloat64}) {
        INFO("dtype " << dtype);
        torch::manual_seed(13);
        // Both dead zones of each dtype and their edges (diagnostics.hpp),
        // the epsilon floor of BCELoss's backward (ln 1e-12 = -27.63), the
        // infinities, then random logits at three scales.
        const std::vector<double> edges = {0.0,   -0.0,   1.0,   -1.0,    16.6355,  16.6355324, 16.64,    17.0,
                                           17.3286794841963,  20.0,   36.7368005696771, 37.43,   50.0,     1e3,
                                           -16.64, -27.63, -88.72, -88.7228394,       -89.0,   -103.97,  -104.0,
                                           -709.78, -745.2, -1e6,  inf,   -inf};
        const Tensor x = torch::cat({torch::tensor(edges, torch::dtype(dtype)), torch::randn({4000}, dtype) * 4,
                                     torch::randn({4000}, dtype) * 40, (torch::rand({4000}, dtype) - 0.5) * 2000});
        const Tensor g = torch::randn(x.sizes(), dtype);
        Tensor a = x.clone().requires_grad_(true), b = x.clone().requires_grad_(true);
        const Tensor ya = ops::sigmoid_aten(a), yb = torch::sigmoid(b);
        ya.backward(g);
        yb.backward(g);
        CHECK(torch::equal(bits_of(ya), bits_of(yb)));
        CHECK(torch::equal(bits_of(a.grad()), bits_of(b.grad())));
        CHECK(torch::equal(bits_of(a.grad()), bits_of(at::sigmoid_backward(g, yb))));
        // A transposed input and a grad_output that is not contiguous: the
        // bits of torch on a contiguous copy of the input. (torch's own
        // float64 forward on the strided input can differ by an ulp: its
        // strided loop calls std::exp, its contiguous one a vectorised exp.)
        Tensor c = x.reshape({-1, 2}).t().requires_grad_(true);
        Tensor d = x.reshape({-1, 2}).t().contiguous().requires_grad_(true);
        const Tensor gt = g.reshape({-1, 2}).t();
        ops::sigmoid_aten(c).backward(gt);
        torch::sigmoid(d).backward(gt);
        CHECK(torch::equal(bits_of(c.grad()), bits_of(d.grad())));
        // No grad: the plain forward.
        torch::NoGradGuard no_grad;
        CHECK(torch::equal(bits_of(ops::sigmoid_aten(x)), bits_of(torch::sigmoid(x))));
    }
    SUBCASE("the float32 dead zone: exactly 0 from x = 16.64, where Sigmoid keeps the tail") {
        Tensor a = torch::full({1}, 16.64f).requires_grad_(true), b = torch::full({1}, 16.64f).requires_grad_(true);
        ops::sigmoid_aten(a).backward(torch::ones({1}));
        ops::sigmoid(b).backward(torch::ones({1}));
        CHECK(a.grad().item<float>() == 0.f);
        CHECK(b.grad().item<float>() > 0.f);
    }
    SUBCASE("errors") {
        CHECK_ERROR(ops::sigmoid_aten(torch::zeros({2}, torch::kLong)), "input has dtype Long");
        Tensor a = torch::zeros({2}).requires_grad_(true);
        const Tensor y = ops::sigmoid_aten(a).sum();
        CHECK_ERROR(torch::autograd::grad({y}, {a}, {}, true, true), "double backward");
    }
}

TEST_CASE("errors: dtype, device, shape, broadcasting, values, gradients") {
    const Tensor x = torch::randn({4, 3}), y = torch::rand({4, 3});
    CHECK_ERROR(ops::bce_with_logits(x.to(torch::kLong), y), "input has dtype Long");
    CHECK_ERROR(ops::bce_with_logits(x.to(torch::kHalf), y.to(torch::kHalf)), "input has dtype Half");
    CHECK_ERROR(ops::sigmoid(x.to(torch::kInt)), "input has dtype Int");
    CHECK_ERROR(ops::bce(torch::sigmoid(x).to(torch::kBFloat16), y), "input has dtype BFloat16");
    CHECK_ERROR(ops::bce_with_logits(x, y.to(torch::kFloat64)), "target has dtype Double but input has dtype Float");
    CHECK_ERROR(ops::bce_with_logits(x, y, torch::rand({4, 3}, torch::kFloat64)), "weight has dtype Double");
    CHECK_ERROR(ops::bce_with_logits(x, y.reshape({3, 4})), "target has shape [3, 4] but input has shape [4, 3]");
    CHECK_ERROR(ops::bce(torch::sigmoid(x), y.view(-1)), "target has shape [12]");
    CHECK_ERROR(ops::bce_with_logits(x, y, torch::rand({4})), "weight of shape [4] does not broadcast");
    CHECK_ERROR(ops::bce_with_logits(x, y, torch::rand({2, 4, 3})), "does not broadcast");
    CHECK_ERROR(ops::bce_with_logits(x, y, c10::nullopt, torch::rand({4, 3})), "pos_weight of shape [4, 3]");
    CHECK_ERROR(ops::bce_with_logits(x, y, c10::nullopt, torch::rand({4})), "C = input.size(-1) = 3");
    CHECK_ERROR(ops::bce_with_logits(x, y, c10::nullopt, c10::nullopt, "average"), "reduction must be");
    CHECK_ERROR(ops::bce_with_logits(x, y, c10::nullopt, c10::nullopt, "none"), "(no error)");
    CHECK_ERROR(ops::bce_with_logits(torch::Tensor(), y), "input is an undefined tensor");
    if (torch::cuda::is_available() && !ops::cuda_enabled())
        CHECK_ERROR(ops::bce_with_logits(x.cuda(), y.cuda()), "has no CUDA path");

    // Values, checked as the CPU kernels check them, with the first bad index.
    Tensor bad_y = y.clone();
    bad_y[1][2] = 1.5f;
    CHECK_ERROR(ops::bce_with_logits(x, bad_y), "target at index 5 is 1.5");
    bad_y[0][1] = std::nanf("");
    CHECK_ERROR(ops::bce_with_logits(x, bad_y), "target at index 1 is nan");
    Tensor p = torch::sigmoid(x);
    p[3][0] = -0.25f;
    CHECK_ERROR(ops::bce(p, y), "probability at index 9 is -0.25");
    CHECK_ERROR(ops::bce_with_logits(x, y, -torch::ones({3})), "weight at index 0 is -1");
    CHECK_ERROR(ops::bce_with_logits(x, y, c10::nullopt, torch::tensor({1.f, -2.f, 1.f})), "pos_weight at index 1");
    // check = false: the element-wise semantics (NaN for p out of range).
    CHECK(std::isnan(ops::bce(p, y, c10::nullopt, "sum", false).item<float>()));
    const Tensor soft = ops::bce_with_logits(x, torch::full({4, 3}, 1.5f), c10::nullopt, c10::nullopt, "none", false);
    CHECK(torch::allclose(soft, torch::binary_cross_entropy_with_logits(x, torch::full({4, 3}, 1.5f), {}, {},
                                                                        at::Reduction::None),
                          1e-5, 1e-6));

    // Gradients flow to the input only.
    CHECK_ERROR(ops::bce_with_logits(x.clone().requires_grad_(true), y.clone().requires_grad_(true)),
                "gradients with respect to target are not implemented");
    CHECK_ERROR(ops::bce(p.clone().requires_grad_(true), y, torch::ones({4, 3}).requires_grad_(true)),
                "gradients with respect to weight");
    {
        torch::NoGradGuard guard;  // no gradient is asked for: no error
        CHECK_ERROR(ops::bce_with_logits(x, y.clone().requires_grad_(true)), "(no error)");
    }
    Tensor a = x.clone().requires_grad_(true);
    const Tensor loss = ops::bce_with_logits(a, y);
    CHECK_ERROR(torch::autograd::grad({loss}, {a}, {}, true, true), "double backward");
}

TEST_CASE("CUDA tensors: the reference, torch's CUDA functions, the CPU's sum (needs the CUDA build and a GPU)") {
    if (!ops::cuda_enabled() || !torch::cuda::is_available()) {
        const std::string why = ops::cuda_enabled() ? "no CUDA device" : "built without LOGITLOSS_EXPERIMENTS_CUDA";
        // Where the GPU is the point (scripts/experiments on a CUDA machine
        // sets it), a skip would hide that nothing ran.
        const char* required = std::getenv("LOGITLOSS_TEST_REQUIRE_CUDA");
        if (required != nullptr && std::string(required) == "1") FAIL("LOGITLOSS_TEST_REQUIRE_CUDA=1, but " << why);
        MESSAGE("skipped: " << why);
        return;
    }
    const torch::Device gpu(torch::kCUDA, 0);
    std::size_t off32 = 0;
    std::uint32_t seed = 3000;
    for (const variant& v : all_variants()) {
        run_variant<float>(v, gpu, seed, off32);
        std::size_t unused = 0;
        run_variant<double>(v, gpu, seed + 500, unused);
        ++seed;
    }
    // Reproducible, whatever the alignment: a large mean twice, and from
    // inputs one element off a 16-byte boundary (the scalar-load path).
    // Bits are compared only between runs of the same kernel: the fused and
    // the forward-only kernels are compiled separately, and nvcc may
    // contract a*b+c differently in each (then they differ within 1 ulp).
    torch::manual_seed(11);
    const int64_t n = (int64_t(1) << 22) + 3;
    const auto on_gpu = torch::TensorOptions().device(gpu);
    const Tensor big = torch::randn({n + 1}, on_gpu) * 20, t = torch::rand({n + 1}, on_gpu),
                 w = torch::rand({n + 1}, on_gpu);
    const Tensor x1 = big.narrow(0, 1, n), y1 = t.narrow(0, 1, n), w1 = w.narrow(0, 1, n);
    const Tensor xa = x1.clone(), ya = y1.clone(), wa = w1.clone();
    Tensor ga = xa.clone().requires_grad_(true), ga2 = xa.clone().requires_grad_(true);
    Tensor gbig = big.clone().requires_grad_(true);
    const Tensor first = ops::bce_with_logits(ga, ya, wa);
    const Tensor again = ops::bce_with_logits(ga2, ya, wa);
    const Tensor shifted = ops::bce_with_logits(gbig.narrow(0, 1, n), y1, w1);
    CHECK(torch::equal(first.detach(), again.detach()));
    CHECK(torch::equal(first.detach(), shifted.detach()));
    first.backward();
    again.backward();
    shifted.backward();
    CHECK(torch::equal(ga.grad(), ga2.grad()));
    CHECK(torch::equal(ga.grad(), gbig.grad().narrow(0, 1, n)));
    const Tensor forward_only = ops::bce_with_logits(xa, ya, wa);
    CHECK(torch::equal(forward_only, ops::bce_with_logits(x1, y1, w1)));
    CHECK(logitloss::testing::ulp_distance(first.item<float>(), forward_only.item<float>()) <= 1u);
    // Against the CPU kernels: the same sum (correctly rounded in practice).
    const Tensor cpu = ops::bce_with_logits(xa.cpu(), ya.cpu(), wa.cpu());
    CHECK(logitloss::testing::ulp_distance(first.item<float>(), cpu.item<float>()) <= 1u);
    // Sigmoid's backward on the GPU: the same formula as on the CPU, within
    // 1 ulp (nvcc may contract a*b+c where the CPU build does not).
    {
        const Tensor xs = torch::randn({100000}, on_gpu) * 40, g = torch::randn({100000}, on_gpu);
        Tensor a = xs.clone().requires_grad_(true), c = xs.cpu().requires_grad_(true);
        ops::sigmoid(a).backward(g);
        ops::sigmoid(c).backward(g.cpu());
        const Tensor diff = (bits_of(a.grad().cpu()).to(torch::kLong) - bits_of(c.grad()).to(torch::kLong)).abs();
        CHECK(diff.max().item<int64_t>() <= 1);
    }
    // Device value checks name the first bad element.
    Tensor bad = ya.clone();
    bad[12345] = 2.f;
    CHECK_ERROR(ops::bce_with_logits(xa, bad, wa), "target at index 12345 is 2");
    CHECK_ERROR(ops::bce_with_logits(xa, ya.cpu()), "target is on cpu but input is on cuda:0");
    // A scalar grad_output is applied on the device (ops.cpp,
    // scale_in_place): the saved gradient is handed out, as it is for 1 and
    // scaled in place for 4, with the bits of a multiplication; through a
    // retained graph, a scaled copy.
    for (const int64_t m : {int64_t(1) << 23, int64_t(1000)}) {
        CAPTURE(m);
        const Tensor xm = torch::randn({m}, on_gpu) * 8, ym = torch::rand({m}, on_gpu).gt(0.5).to(torch::kFloat32);
        Tensor ua = xm.clone().requires_grad_(true), ub = xm.clone().requires_grad_(true),
               uc = xm.clone().requires_grad_(true);
        const Tensor la = ops::bce_with_logits(ua, ym), lb = ops::bce_with_logits(ub, ym),
                     lc = ops::bce_with_logits(uc, ym);
        const void* saved_a = saved_gradient(la).data_ptr();
        const void* saved_b = saved_gradient(lb).data_ptr();
        la.backward();
        (lb * 4).backward();
        (lc * 4).backward({}, true);
        CHECK(ua.grad().data_ptr() == saved_a);
        CHECK(ub.grad().data_ptr() == saved_b);
        CHECK(torch::equal(ua.grad(), ub.grad() / 4));
        CHECK(torch::equal(ub.grad(), uc.grad()));
        CHECK(torch::equal(saved_gradient(lc), ua.grad()));
    }
}
