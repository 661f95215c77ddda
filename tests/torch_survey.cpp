// Survey of LibTorch's own float32 accuracy over all 2^32 logits (a tool, not
// a test; scripts/torch-survey runs it): binary_cross_entropy_with_logits
// for y = 0 and y = 1, its autograd gradient, and torch::sigmoid, each
// against the same double reference and ULP measure as our exhaustive test
// (which measures logitloss itself). Prints, per function, how many inputs
// are off by more than 2 ulp, the worst error and where it occurs.
//   torch_survey [threads]
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
    stat s[5];
    const std::int64_t chunk = 1 << 22;
    std::vector<float> x(chunk);
    std::vector<double> want[5];
    for (auto& w : want) w.resize(chunk);
    std::vector<std::uint32_t> err(chunk);
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
            const auto r = support::reference(x[static_cast<std::size_t>(i)]);
            const auto k = static_cast<std::size_t>(i);
            want[0][k] = r.sp_pos;
            want[1][k] = r.sp_neg;
            want[2][k] = r.sig_pos;
            want[3][k] = -r.sig_neg;
            want[4][k] = r.sig_pos;
        }
        for (int f = 0; f < 5; ++f) {
            support::ulp_errors_f32(out[f], want[f].data(), err.data(), static_cast<std::size_t>(chunk));
            for (std::size_t k = 0; k < err.size(); ++k)
                if (!std::isnan(x[k])) s[f].add(err[k], x[k]);
        }
        if ((begin / chunk) % 64 == 0) std::fprintf(stderr, "\r%5.1f%%", 100.0 * static_cast<double>(begin) / 4294967296.0);
    }
    std::fprintf(stderr, "\n");
    std::printf("| LibTorch function (float32) | inputs off by > 2 ulp | max ulp | at x |\n");
    std::printf("|---|---|---|---|\n");
    std::uint64_t total = 0;
    for (int f = 0; f < 5; ++f) {
        std::printf("| %s | %" PRIu64 " | %u | %.9g |\n", names[f], s[f].over2, s[f].worst, static_cast<double>(s[f].at));
        if (f < 4) total += s[f].over2;
    }
    std::printf("binary_cross_entropy_with_logits, loss and gradient for y in {0, 1}: %" PRIu64 " (input, function) pairs off by more than 2 ulp\n", total);
    return 0;
}
