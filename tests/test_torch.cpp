// Agreement with PyTorch (LibTorch 1.13, CPU): binary_cross_entropy and
// binary_cross_entropy_with_logits, forward and backward through autograd,
// every reduction, with weight and pos_weight, on random and edge inputs.
// Where the two disagree by more than our bound, the higher-precision
// reference decides who is wrong: it must always be torch, and those inputs
// are counted by class (the README lists them).
#include "doctest_torch.hpp"

#include <cinttypes>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <logitloss/logitloss.hpp>

#include "support.hpp"

namespace ll = logitloss;
using support::ulp_error_f32;

namespace {

torch::Tensor tensor(const std::vector<float>& v, std::int64_t rows, std::int64_t cols) {
    return torch::from_blob(const_cast<float*>(v.data()), {rows, cols}, torch::kFloat32).clone();
}
std::vector<float> values(const torch::Tensor& t) {
    const auto c = t.contiguous().to(torch::kFloat32);
    return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

at::Reduction::Reduction torch_reduction(ll::reduction r) {
    return r == ll::reduction::none ? at::Reduction::None
           : r == ll::reduction::sum ? at::Reduction::Sum
                                     : at::Reduction::Mean;
}

struct inputs {
    std::int64_t rows = 0, cols = 0;
    std::vector<float> x, y, w, pw;
};

// Logits: normal(0, 8), heavy tails out to the saturation thresholds and
// beyond, and the edges (0, +-denormals, +-thresholds); targets hard and soft.
inputs make_inputs(std::int64_t rows, std::int64_t cols, std::uint32_t seed, bool probabilities) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.f, 8.f);
    std::uniform_real_distribution<float> u(0.f, 1.f), wide(-120.f, 120.f);
    using th = ll::thresholds<float>;
    const float edges[] = {0.f, -0.f, 1e-40f, -1e-40f, th::naive_sigmoid_one, th::sigmoid_one, -th::naive_sigmoid_one,
                           th::naive_sigmoid_zero, th::sigmoid_zero, 30.f, -30.f, 90.f, -90.f, 1e6f, -1e6f};
    inputs in;
    in.rows = rows;
    in.cols = cols;
    for (std::int64_t i = 0; i < rows * cols; ++i) {
        float x;
        if (probabilities) {
            const int k = static_cast<int>(rng() % 10);
            x = k == 0 ? 0.f : k == 1 ? 1.f : k == 2 ? std::ldexp(u(rng), -static_cast<int>(rng() % 140))
                : k == 3 ? 1.f - std::ldexp(u(rng), -static_cast<int>(rng() % 25)) : u(rng);
        } else {
            const int k = static_cast<int>(rng() % 10);
            x = k == 0 ? edges[rng() % (sizeof edges / sizeof edges[0])] : k < 3 ? wide(rng) : normal(rng);
        }
        in.x.push_back(x);
        const float r = u(rng);
        in.y.push_back(r < 0.4f ? 0.f : r < 0.8f ? 1.f : u(rng));
        in.w.push_back(2.f * u(rng));
    }
    for (std::int64_t c = 0; c < cols; ++c) in.pw.push_back(c == 0 ? 1.f : 4.f * u(rng));
    return in;
}

struct tally {
    std::map<std::string, std::uint64_t> torch_wrong;  // class -> count
    std::map<std::string, std::uint32_t> torch_worst;  // class -> max ulp
    std::uint32_t ours_worst = 0;
    void torch(const std::string& cls, std::uint32_t e) {
        ++torch_wrong[cls];
        torch_worst[cls] = std::max(torch_worst[cls], e);
    }
};

std::string logit_class(float x, float y, bool grad) {
    using th = ll::thresholds<float>;
    const bool hard = y == 0.f || y == 1.f;
    std::string c = grad ? "gradient" : "loss";
    c += hard ? (y == 0.f ? ", y = 0" : ", y = 1") : ", soft y";
    if (std::fabs(x) >= th::naive_sigmoid_one)
        c += x > 0 ? ", x >= 16.64" : ", x <= -16.64";
    else if (std::fabs(x) < 1e-3f)
        c += ", |x| < 1e-3";
    else
        c += ", other x";
    return c;
}

}  // namespace

TEST_CASE("binary_cross_entropy_with_logits: forward and autograd backward, every reduction, weight, pos_weight") {
    torch::manual_seed(0);
    at::set_num_threads(1);
    const std::int64_t rows = 4000, cols = 5, n = rows * cols;
    tally t;
    for (int variant = 0; variant < 4; ++variant) {
        const bool use_w = variant & 1, use_pw = variant & 2;
        const inputs in = make_inputs(rows, cols, 100u + static_cast<std::uint32_t>(variant), false);
        for (ll::reduction red : {ll::reduction::none, ll::reduction::sum, ll::reduction::mean}) {
            // torch
            auto x = tensor(in.x, rows, cols).requires_grad_(true);
            const auto y = tensor(in.y, rows, cols);
            const auto w = use_w ? tensor(in.w, rows, cols) : torch::Tensor();
            const auto pw = use_pw ? torch::from_blob(const_cast<float*>(in.pw.data()), {cols}, torch::kFloat32).clone()
                                   : torch::Tensor();
            auto loss = torch::binary_cross_entropy_with_logits(x, y, w, pw, torch_reduction(red));
            loss.backward(red == ll::reduction::none ? torch::ones_like(loss) : torch::Tensor());
            const auto tl = values(loss.detach()), tg = values(x.grad());
            // ours
            std::vector<float> losses(static_cast<std::size_t>(n)), grad(static_cast<std::size_t>(n));
            ll::options<float> o;
            o.reduce = red;
            if (use_w) o.weight = ll::span<const float>(in.w);
            if (use_pw) o.pos_weight = ll::span<const float>(in.pw);
            if (red == ll::reduction::none) o.losses = ll::span<float>(losses);
            const float total = ll::bce_with_logits_forward_backward(in.x.data(), in.y.data(), static_cast<std::size_t>(n),
                                                                     grad.data(), o);
            // references per element, in double
            long double exact_sum = 0;
            const double scale = red == ll::reduction::mean ? 1.0 / static_cast<double>(n) : 1.0;
            for (std::int64_t i = 0; i < n; ++i) {
                const auto k = static_cast<std::size_t>(i);
                const double xv = in.x[k], yv = in.y[k], wv = use_w ? in.w[k] : 1.0,
                             pv = use_pw ? in.pw[static_cast<std::size_t>(i % cols)] : 1.0;
                const auto r = support::reference(xv);
                const double l = wv * (pv * yv * r.sp_neg + (1 - yv) * r.sp_pos);
                const double g = wv * ((1 - yv) * r.sig_pos - pv * yv * r.sig_neg) * scale;
                exact_sum += l;
                const bool hard = (yv == 0 || yv == 1) && !use_w && !use_pw;
                const std::uint32_t bound = hard ? 2 : 4;
                // Gradient: with soft targets (1-y) sigmoid(x) - pw y sigmoid(-x)
                // cancels where the two terms meet, so the bound is relative
                // to their sum (the conditioning of the problem itself):
                // |error| <= 8 u (terms), u = 2^-24 (README, "Accuracy").
                // With hard targets one term is 0 and the bound is in ulp.
                const double terms = wv * ((1 - yv) * r.sig_pos + pv * yv * r.sig_neg) * scale;
                // A weight multiplies an already rounded value: in the
                // subnormal range that is (1 + w) half-ulps of 2^-149 more.
                const double floor_abs = (1 + wv) * 0x1p-149;
                const double tol = 8 * 0x1p-24 * terms + floor_abs;
                const bool g_ok = hard ? ulp_error_f32(grad[k], g) <= bound : std::fabs(grad[k] - g) <= tol;
                CHECK(g_ok);
                // torch is tallied where it misses our bound by more than
                // one ulp more (a clear miss, not a rounding-tie disagreement).
                const bool tg_ok = hard ? ulp_error_f32(tg[k], g) <= bound + 1 : std::fabs(tg[k] - g) <= tol;
                if (hard) t.ours_worst = std::max(t.ours_worst, ulp_error_f32(grad[k], g));
                if (!tg_ok) t.torch(logit_class(in.x[k], in.y[k], true), ulp_error_f32(tg[k], g));
                if (red == ll::reduction::none) {
                    const std::uint32_t el = ulp_error_f32(losses[k], l);
                    if (hard) t.ours_worst = std::max(t.ours_worst, el);
                    CHECK((el <= bound || std::fabs(losses[k] - l) <= floor_abs));
                    const std::uint32_t tl_err = ulp_error_f32(tl[k], l);
                    if (tl_err > bound + 1 && std::fabs(tl[k] - l) > floor_abs) t.torch(logit_class(in.x[k], in.y[k], false), tl_err);
                }
            }
            if (red != ll::reduction::none) {
                const double exact = static_cast<double>(exact_sum) * scale;
                CHECK(ulp_error_f32(total, exact) <= 1);
                CHECK(std::fabs(tl[0] - total) <= 1e-5 * std::fabs(exact) + 1e-30);  // torch's sum: its own rounding
            }
        }
    }
    std::printf("\nLibTorch 1.13 binary_cross_entropy_with_logits (float32): inputs where torch is off by more than our bound\n");
    std::printf("| class | count | torch max ulp |\n|---|---|---|\n");
    for (const auto& [cls, count] : t.torch_wrong) std::printf("| %s | %" PRIu64 " | %u |\n", cls.c_str(), count, t.torch_worst[cls]);
    std::printf("logitloss worst on the same inputs (losses, hard-target gradients): %u ulp\n", t.ours_worst);
    std::fflush(stdout);
}

TEST_CASE("binary_cross_entropy on probabilities: ATen semantics reproduced") {
    at::set_num_threads(1);
    tally t;
    const std::int64_t rows = 5000, cols = 4, n = rows * cols;
    for (int variant = 0; variant < 2; ++variant) {
        const inputs in = make_inputs(rows, cols, 7u + static_cast<std::uint32_t>(variant), true);
        for (ll::reduction red : {ll::reduction::none, ll::reduction::sum, ll::reduction::mean}) {
            auto p = tensor(in.x, rows, cols).requires_grad_(true);
            const auto y = tensor(in.y, rows, cols);
            const auto w = variant ? tensor(in.w, rows, cols) : torch::Tensor();
            auto loss = torch::binary_cross_entropy(p, y, w, torch_reduction(red));
            loss.backward(red == ll::reduction::none ? torch::ones_like(loss) : torch::Tensor());
            const auto tl = values(loss.detach()), tg = values(p.grad());
            std::vector<float> losses(static_cast<std::size_t>(n)), grad(static_cast<std::size_t>(n));
            ll::options<float> o;
            o.reduce = red;
            if (variant) o.weight = ll::span<const float>(in.w);
            if (red == ll::reduction::none) o.losses = ll::span<float>(losses);
            const float total = ll::bce_forward_backward(in.x.data(), in.y.data(), static_cast<std::size_t>(n), grad.data(), o);
            // Both against ATen's formula evaluated in double.
            const double scale = red == ll::reduction::mean ? 1.0 / static_cast<double>(n) : 1.0;
            for (std::size_t k = 0; k < static_cast<std::size_t>(n); ++k) {
                const double pv = in.x[k], yv = in.y[k], wv = variant ? in.w[k] : 1.0;
                const double lp = std::max(std::log(pv), -100.0), lq = std::max(std::log1p(-pv), -100.0);
                const double l = wv * -(yv * lp + (1 - yv) * lq);
                const double g = wv * (pv - yv) / std::max(pv * (1 - pv), static_cast<double>(1e-12f)) * scale;
                const bool hard = (yv == 0 || yv == 1) && !variant;
                const std::uint32_t bound = hard ? 2 : 4;
                CHECK(ulp_error_f32(grad[k], g) <= bound);
                if (ulp_error_f32(tg[k], g) > bound + 1) ++t.torch_wrong[std::string("gradient") + (pv < 1e-3 ? ", p < 1e-3" : pv > 0.999 ? ", p > 0.999" : ", other p")];
                if (red == ll::reduction::none) {
                    CHECK(ulp_error_f32(losses[k], l) <= bound);
                    const std::uint32_t e = ulp_error_f32(tl[k], l);
                    if (e > bound + 1) {
                        const std::string cls = std::string("loss") + (pv < 1e-3 ? ", p < 1e-3" : pv > 0.999 ? ", p > 0.999" : ", other p");
                        ++t.torch_wrong[cls];
                        t.torch_worst[cls] = std::max(t.torch_worst[cls], e);
                    }
                }
            }
            if (red != ll::reduction::none) CHECK(std::fabs(total - tl[0]) <= 1e-5f * std::fabs(total));
        }
    }
    std::printf("\nLibTorch 1.13 binary_cross_entropy (float32): inputs where torch is off by more than our bound\n");
    std::printf("| class | count | torch max ulp |\n|---|---|---|\n");
    for (const auto& [cls, count] : t.torch_wrong) std::printf("| %s | %" PRIu64 " | %u |\n", cls.c_str(), count, t.torch_worst[cls]);
    std::fflush(stdout);
}

TEST_CASE("the naive thresholds are where PyTorch's sigmoid saturates and Sigmoid -> BCELoss dies") {
    using th = ll::thresholds<float>;
    const float at_one = th::naive_sigmoid_one, before_one = std::nextafter(at_one, 0.f);
    const float at_zero = th::naive_sigmoid_zero, after_zero = std::nextafter(at_zero, 0.f);
    auto x = torch::tensor({at_one, before_one, at_zero, after_zero}).requires_grad_(true);
    const auto s = torch::sigmoid(x);
    const auto sv = values(s.detach());
    CHECK(sv[0] == 1.f);
    CHECK(sv[1] < 1.f);
    CHECK(sv[2] == 0.f);
    CHECK(sv[3] > 0.f);
    // y = 0 at the top (confidently wrong), y = 1 at the bottom (confidently wrong).
    const auto y = torch::tensor({0.f, 0.f, 1.f, 1.f});
    torch::binary_cross_entropy(s, y, {}, at::Reduction::Sum).backward();
    const auto g = values(x.grad());
    CHECK(g[0] == 0.f);
    CHECK(g[1] != 0.f);
    CHECK(g[2] == 0.f);
    CHECK(g[3] != 0.f);
    // ll::naive reproduces it.
    CHECK(ll::naive::sigmoid_bce_grad(at_one, 0.f) == 0.f);
    CHECK(ll::naive::sigmoid_bce_grad(at_zero, 1.f) == 0.f);
}
