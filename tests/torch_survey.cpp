// Survey of LibTorch's own float32 accuracy over all 2^32 logits (a tool, not
// a test; scripts/torch-survey runs it): binary_cross_entropy_with_logits
// for y = 0 and y = 1, its autograd gradient, and torch::sigmoid, each
// against the same double reference and ULP measure as our exhaustive test.
// Prints, per function, how many inputs are off by more than 2 ulp, the
// worst error and where it occurs.
#include <torch/torch.h>

#include <cinttypes>
#include <cstdio>
#include <vector>

#include <logitloss/logitloss.hpp>

#include "support.hpp"

namespace {
struct stat {
    std::uint64_t over2 = 0;
    std::uint32_t worst = 0;
    float at = 0.f;
    void add(std::uint32_t e, float x) {
        over2 += e > 2;
        if (e > worst) {
            worst = e;
            at = x;
        }
    }
};
}  // namespace

int main(int argc, char** argv) {
    const int threads = argc > 1 ? std::atoi(argv[1]) : 0;
    if (threads > 0) at::set_num_threads(threads);
    const char* names[5] = {"binary_cross_entropy_with_logits(x, 0)", "binary_cross_entropy_with_logits(x, 1)",
                            "gradient, y = 0", "gradient, y = 1", "sigmoid(x)"};
    stat s[5], ours[5];
    const std::int64_t chunk = 1 << 22;
    std::vector<float> x(chunk);
    for (std::uint64_t begin = 0; begin < (std::uint64_t(1) << 32); begin += chunk) {
        for (std::int64_t i = 0; i < chunk; ++i) x[static_cast<std::size_t>(i)] = support::from_bits<float>(static_cast<std::uint32_t>(begin + static_cast<std::uint64_t>(i)));
        const auto base = torch::from_blob(x.data(), {chunk}, torch::kFloat32);
        const auto zeros = torch::zeros_like(base), ones = torch::ones_like(base);
        // Loss and autograd gradient, as loss.backward() computes it.
        auto run = [&](const torch::Tensor& y, torch::Tensor& loss, torch::Tensor& grad) {
            auto xt = base.clone().requires_grad_(true);
            auto l = torch::binary_cross_entropy_with_logits(xt, y, {}, {}, at::Reduction::None);
            l.backward(torch::ones_like(l));
            loss = l.detach();
            grad = xt.grad();
        };
        torch::Tensor l0, l1, g0, g1;
        run(zeros, l0, g0);
        run(ones, l1, g1);
        const auto sg = torch::sigmoid(base);
        const float* out[5] = {l0.data_ptr<float>(), l1.data_ptr<float>(), g0.data_ptr<float>(), g1.data_ptr<float>(),
                               sg.data_ptr<float>()};
        for (std::int64_t i = 0; i < chunk; ++i) {
            const float xv = x[static_cast<std::size_t>(i)];
            if (std::isnan(xv)) continue;
            const auto r = support::reference(xv);
            const double want[5] = {r.sp_pos, r.sp_neg, r.sig_pos, -r.sig_neg, r.sig_pos};
            const float mine[5] = {logitloss::bce_with_logits(xv, 0.f), logitloss::bce_with_logits(xv, 1.f),
                                   logitloss::bce_with_logits_grad(xv, 0.f), logitloss::bce_with_logits_grad(xv, 1.f),
                                   logitloss::sigmoid(xv)};
            for (int f = 0; f < 5; ++f) {
                s[f].add(support::ulp_error_f32(out[f][i], want[f]), xv);
                ours[f].add(support::ulp_error_f32(mine[f], want[f]), xv);
            }
        }
        if ((begin / chunk) % 64 == 0) std::fprintf(stderr, "\r%5.1f%%", 100.0 * static_cast<double>(begin) / 4294967296.0);
    }
    std::fprintf(stderr, "\n");
    std::printf("| function | torch: inputs > 2 ulp | torch: max ulp | at x | logitloss: inputs > 2 ulp | logitloss: max ulp |\n");
    std::printf("|---|---|---|---|---|---|\n");
    std::uint64_t total = 0;
    for (int f = 0; f < 5; ++f) {
        std::printf("| %s | %" PRIu64 " | %u | %.9g | %" PRIu64 " | %u |\n", names[f], s[f].over2, s[f].worst,
                    static_cast<double>(s[f].at), ours[f].over2, ours[f].worst);
        if (f < 4) total += s[f].over2;
    }
    std::printf("binary_cross_entropy_with_logits, loss and gradient for y in {0, 1}: %" PRIu64 " (input, function) pairs off by more than 2 ulp\n", total);
    return 0;
}
