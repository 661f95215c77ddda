// studies/curves_kernels.cpp — the two studies without a model: curves
// (loss and gradient against the logit, the exact thresholds, the GAN
// generator losses) and kernels (GB/s of the fused loss against torch's and
// a copy).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <iostream>
#include <limits>
#include <stdexcept>
#include <type_traits>

#include <logitloss/diagnostics.hpp>

#include "ops/ops.hpp"
#include "torch_common.hpp"

namespace logitloss::experiments::studies {

namespace {

namespace ops = logitloss::torch_ops;
using torch::Tensor;

template <class T>
constexpr torch::ScalarType dtype_of() {
    return std::is_same<T, float>::value ? torch::kFloat32 : torch::kFloat64;
}

// Loss and gradient of each formulation on a vector of logits x (float64
// values, converted to the dtype) and one target.
struct evaluated {
    Tensor loss, grad;  // float64 copies, for printing
};

evaluated torch_sigmoid_bce(const Tensor& x64, double y, torch::ScalarType dtype) {
    Tensor x = x64.to(dtype).detach().requires_grad_(true);
    const Tensor target = torch::full_like(x, y);
    const Tensor loss = torch::binary_cross_entropy(torch::sigmoid(x), target, {}, at::Reduction::None);
    loss.backward(torch::ones_like(loss));
    return {loss.detach().to(torch::kFloat64), x.grad().to(torch::kFloat64)};
}

evaluated ours_bce_with_logits(const Tensor& x64, double y, torch::ScalarType dtype) {
    Tensor x = x64.to(dtype).detach().requires_grad_(true);
    const Tensor target = torch::full_like(x, y);
    const Tensor loss = ops::bce_with_logits(x, target, c10::nullopt, c10::nullopt, "none");
    loss.backward(torch::ones_like(loss));
    return {loss.detach().to(torch::kFloat64), x.grad().to(torch::kFloat64)};
}

// The ordinal of a float in value order (negative values below positive
// ones), so that bisection can run over the representable values.
template <class T>
using bits_t = std::conditional_t<std::is_same<T, float>::value, std::int32_t, std::int64_t>;

template <class T>
bits_t<T> ordinal(T x) {
    bits_t<T> b;
    std::memcpy(&b, &x, sizeof b);
    return b >= 0 ? b : std::numeric_limits<bits_t<T>>::min() - b;
}

template <class T>
T from_ordinal(bits_t<T> o) {
    const bits_t<T> b = o >= 0 ? o : std::numeric_limits<bits_t<T>>::min() - o;
    T x;
    std::memcpy(&x, &b, sizeof x);
    return x;
}

// The smallest value of T in (lo, hi] where `holds` is true, given that it
// is false at lo, true at hi, and monotone in between.
template <class T, class P>
T first_true(T lo, T hi, P holds) {
    auto a = ordinal(lo), b = ordinal(hi);
    while (b - a > 1) {
        const auto m = a + (b - a) / 2;
        if (holds(from_ordinal<T>(m)))
            b = m;
        else
            a = m;
    }
    return from_ordinal<T>(b);
}

// f on a tensor of 64 copies of x on `device`: on the CPU long enough that
// ATen runs its vectorised loop on it, as on a batch (a lone element takes
// the scalar loop, whose std::exp may round differently).
template <class T, class F>
T on_batch(T x, F f, const torch::Device& device) {
    const auto options = torch::TensorOptions().dtype(dtype_of<T>()).device(device);
    const Tensor t = torch::full({64}, static_cast<double>(x), options);
    return f(t)[0].template item<T>();
}

template <class T>
struct measured_thresholds {
    T torch_one, torch_zero, ours_one, ours_zero, torch_grad_dead;
};

// The edges of torch's sigmoid and chained gradient, and of ours (when
// `ours`), evaluated on `device`.
template <class T>
measured_thresholds<T> measure(const torch::Device& device, bool ours) {
    const auto torch_sig = [&](T x) {
        return on_batch(x, [](const Tensor& t) { return torch::sigmoid(t); }, device);
    };
    const auto ours_sig = [&](T x) { return on_batch(x, [](const Tensor& t) { return ops::sigmoid(t); }, device); };
    const auto chained_grad = [&](T x) {
        return on_batch(x, [](const Tensor& t) {
            Tensor v = t.clone().requires_grad_(true);
            torch::binary_cross_entropy(torch::sigmoid(v), torch::zeros_like(v), {}, at::Reduction::Sum).backward();
            return v.grad();
        }, device);
    };
    measured_thresholds<T> m;
    m.torch_one = first_true<T>(T(0), T(1e4), [&](T x) { return torch_sig(x) == T(1); });
    // The last x where the sigmoid is 0: one value below the first where it is not.
    m.torch_zero = std::nextafter(first_true<T>(T(-1e4), T(0), [&](T x) { return torch_sig(x) != T(0); }), T(-1e4));
    if (ours) {
        m.ours_one = first_true<T>(T(0), T(1e4), [&](T x) { return ours_sig(x) == T(1); });
        m.ours_zero = std::nextafter(first_true<T>(T(-1e4), T(0), [&](T x) { return ours_sig(x) != T(0); }), T(-1e4));
    }
    m.torch_grad_dead = first_true<T>(T(0), T(1e4), [&](T x) { return chained_grad(x) == T(0); });
    return m;
}

// Whether every measured edge equals diagnostics.hpp's, torch's and ours.
struct edges_equal {
    bool torch = true, ours = true;
};

// The rows of one type on one device (`type` names both); ours only when
// `ours` (the CUDA kernels may be left out of a build).
template <class T>
edges_equal threshold_rows(std::ostream& md, std::string& csv, const std::string& type, const torch::Device& device,
                           bool ours) {
    using th = logitloss::thresholds<T>;
    const measured_thresholds<T> m = measure<T>(device, ours);
    edges_equal all;
    const auto row = [&](bool& equal, const char* what, const char* name, T exact_value, T measured) {
        equal = equal && exact_value == measured;
        md << "| " << type << " | " << what << " | `" << name << "` = " << general(static_cast<double>(exact_value), 17)
           << " | " << general(static_cast<double>(measured), 17) << " | "
           << (exact_value == measured
                   ? std::string("yes")
                   : "no: " + std::to_string(static_cast<long long>(ordinal(measured)) - ordinal(exact_value)) +
                         " representable values apart")
           << " |\n";
        csv += csv_line({type, name, exact(static_cast<double>(exact_value)), general(static_cast<double>(measured), 17),
                         exact_value == measured ? "yes" : "no"});
    };
    row(all.torch, "torch.sigmoid is exactly 1 from", "naive_sigmoid_one", th::naive_sigmoid_one, m.torch_one);
    row(all.torch, "Sigmoid+BCELoss gradient (y = 0) is exactly 0 from", "naive_sigmoid_one", th::naive_sigmoid_one,
        m.torch_grad_dead);
    row(all.torch, "torch.sigmoid is exactly 0 up to", "naive_sigmoid_zero", th::naive_sigmoid_zero, m.torch_zero);
    if (ours) {
        row(all.ours, "correctly rounded sigmoid (ours) is exactly 1 from", "sigmoid_one", th::sigmoid_one,
            m.ours_one);
        row(all.ours, "correctly rounded sigmoid (ours) is exactly 0 up to", "sigmoid_zero", th::sigmoid_zero,
            m.ours_zero);
    }
    return all;
}

// One table row per logit: the original investigation's columns (logit, sigmoid, grad_BCEWL,
// grad_BCE) and the losses and float64 gradient beside them.
void logit_table(std::ostream& md, const std::vector<double>& logits, double y) {
    // The float32 values of the logits, so that every column sees the same input.
    const Tensor x = torch::tensor(logits, torch::kFloat64).to(torch::kFloat32).to(torch::kFloat64);
    const Tensor sig = torch::sigmoid(x.to(torch::kFloat32)).to(torch::kFloat64);
    const evaluated bce32 = torch_sigmoid_bce(x, y, torch::kFloat32);
    const evaluated bce64 = torch_sigmoid_bce(x, y, torch::kFloat64);
    const evaluated wl32 = ours_bce_with_logits(x, y, torch::kFloat32);
    md << "| logit | sigmoid | grad_BCEWL | grad_BCE | grad_BCE (float64) | loss_BCEWL | loss_BCE |\n"
          "|---:|---:|---:|---:|---:|---:|---:|\n";
    for (std::size_t i = 0; i < logits.size(); ++i) {
        const auto at = [&](const Tensor& t) { return t[static_cast<std::int64_t>(i)].item<double>(); };
        md << "| " << general(static_cast<double>(static_cast<float>(logits[i])), 9) << " | " << general(at(sig), 8)
           << " | " << general(at(wl32.grad), 6) << " | " << general(at(bce32.grad), 6) << " | "
           << general(at(bce64.grad), 6) << " | " << general(at(wl32.loss), 6) << " | " << general(at(bce32.loss), 6)
           << " |\n";
    }
    md << "\n";
}

std::string datablock(const std::string& name, const std::string& rows) {
    return "$" + name + " << EOD\n" + rows + "EOD\n";
}

}  // namespace

int run_curves(const settings& given) {
    // A few thousand elements: the curves on the CPU, whatever --device
    // says, and the report's header says so. With --device cuda the
    // thresholds are measured on the GPU too (torch's CUDA sigmoid has its
    // own exp), and the header names the GPU.
    const settings& s = given;
    const bool gpu_edges = s.device == "cuda";
    if (gpu_edges) {
        if (!torch::cuda::is_available())
            throw std::runtime_error("--device cuda: LibTorch sees no CUDA device (a CPU-only LibTorch, or no GPU)");
        std::cerr << "[curves] the curves are computed on the CPU (a few thousand elements); the thresholds on the "
                     "CPU and on the GPU\n";
    }
    if (s.threads > 0) at::set_num_threads(s.threads);
    progress bar(s.study, 4, "parts");

    // The grid: every 0.05 on [-120, 120], and the thresholds themselves.
    std::vector<double> grid;
    for (int i = -2400; i <= 2400; ++i) grid.push_back(i * 0.05);
    for (double t : {static_cast<double>(thresholds<float>::naive_sigmoid_one),
                     static_cast<double>(thresholds<float>::sigmoid_one),
                     static_cast<double>(thresholds<float>::naive_sigmoid_zero),
                     static_cast<double>(thresholds<float>::sigmoid_zero), thresholds<double>::naive_sigmoid_one,
                     thresholds<double>::sigmoid_one, std::log(1e-12)})
        grid.push_back(t);
    std::sort(grid.begin(), grid.end());
    const Tensor x = torch::tensor(grid, torch::kFloat64);

    report rep(s, "loss and gradient against the logit");
    rep.header("preset", resolve(s, false).summary);
    rep.header("computed on", gpu_edges ? "the CPU; the thresholds on the CPU and on the GPU" : "the CPU");
    std::ostream& md = rep.md;
    std::string csv = csv_line({"logit", "y", "sigmoid_torch_f32", "bce_loss_torch_f32", "bce_grad_torch_f32",
                                "bce_loss_torch_f64", "bce_grad_torch_f64", "bcewl_loss_ours_f32",
                                "bcewl_grad_ours_f32", "bcewl_loss_ours_f64", "bcewl_grad_ours_f64"});
    std::ostringstream gp;
    const Tensor sig32 = torch::sigmoid(x.to(torch::kFloat32)).to(torch::kFloat64);
    for (const double y : {0.0, 1.0}) {
        const evaluated b32 = torch_sigmoid_bce(x, y, torch::kFloat32), b64 = torch_sigmoid_bce(x, y, torch::kFloat64);
        const evaluated w32 = ours_bce_with_logits(x, y, torch::kFloat32), w64 = ours_bce_with_logits(x, y, torch::kFloat64);
        std::string rows;
        for (std::size_t i = 0; i < grid.size(); ++i) {
            const auto at = [&](const Tensor& t) { return t[static_cast<std::int64_t>(i)].item<double>(); };
            const std::vector<double> v = {at(sig32), at(b32.loss), at(b32.grad), at(b64.loss), at(b64.grad),
                                           at(w32.loss), at(w32.grad), at(w64.loss), at(w64.grad)};
            std::vector<std::string> fields = {exact(grid[i]), fixed(y, 0)};
            for (double q : v) fields.push_back(exact(q));
            csv += csv_line(fields);
            rows += exact(grid[i]) + " " + exact(v[1]) + " " + exact(v[3]) + " " + exact(v[5]) + " " + exact(v[2]) +
                    " " + exact(v[4]) + " " + exact(v[6]) + "\n";
        }
        gp << datablock(y == 0 ? "y0" : "y1", rows);
    }
    bar.update(1, "loss and gradient curves");
    rep.csv << csv;

    md << "Sigmoid→BCELoss as torch computes it (torch::sigmoid then torch::binary_cross_entropy, autograd "
          "chaining their backwards), in float32 and float64, and BCE with logits as logitloss::torch_ops "
          "computes it (float32), for one element. Full curves on [-120, 120] (step 0.05, thresholds included) "
          "in curves.csv; GAN curves in curves_gan.csv.\n\n";
    md << "## Thresholds (diagnostics.hpp) and where torch actually saturates\n\n"
          "Each `thresholds<T>` value is the exact edge stated in diagnostics.hpp; the measured column is found by "
          "bisection over the representable values of T, evaluating torch (on a 64-element tensor, its "
          "vectorised path, as for a batch) or logitloss::torch_ops::sigmoid"
       << (gpu_edges ? "; the rows marked CUDA evaluate them on the GPU (torch's CUDA kernels, and ours where this "
                       "build has them)"
                     : "")
       << ".\n\n";
    md << "| type | property | threshold | measured | equal |\n|---|---|---:|---:|---|\n";
    std::string tcsv = csv_line({"type", "threshold", "value", "measured", "equal"});
    // One statement each: the float32 rows come first in the report.
    const torch::Device cpu(torch::kCPU);
    std::vector<edges_equal> edges;
    edges.push_back(threshold_rows<float>(md, tcsv, "float32", cpu, true));
    edges.push_back(threshold_rows<double>(md, tcsv, "float64", cpu, true));
    if (gpu_edges) {
        const torch::Device gpu(torch::kCUDA, 0);
        const bool ours = ops::cuda_enabled();
        edges.push_back(threshold_rows<float>(md, tcsv, "float32 (CUDA)", gpu, ours));
        edges.push_back(threshold_rows<double>(md, tcsv, "float64 (CUDA)", gpu, ours));
        if (!ours) md << "\n(This build has no CUDA kernels of its own: the CUDA rows are torch's only.)\n";
    }
    bool torch_equal = true, ours_equal = true;
    for (const edges_equal& e : edges) {
        torch_equal = torch_equal && e.torch;
        ours_equal = ours_equal && e.ours;
    }
    rep.extra_csv("thresholds", tcsv);
    bar.update(2, "thresholds");
    md << "\nA second mechanism does not depend on the sigmoid's rounding: BCELoss's backward divides by "
          "max(p(1-p), 1e-12), so once p(1-p) < 1e-12, that is |x| > ln(1e12) = 27.63, the chained gradient is "
          "(p - y) p(1-p) / 1e-12 instead of p - y, about 1e12 e^-|x|: vanishing exponentially before it is "
          "exactly 0. It applies for y = 1 on the negative side in both dtypes (until p rounds to 0 at the "
          "naive_sigmoid_zero edge), and for y = 0 on the positive side in float64; in float32, p rounds to 1 at "
          "16.64 before p(1-p) can fall under 1e-12.\n\n";
    if (!torch_equal)
        md << "Where a torch edge differs from diagnostics.hpp's value, torch's own arithmetic is the cause: the "
              "thresholds are exact for 1/(1+exp(-x)) with a correctly rounded exp, and torch's exp is not (on the "
              "CPU its vectorised exp, SLEEF, overflows slightly before ln(DBL_MAX) in float64; on a GPU, the CUDA "
              "math library's exp may round differently near the edges).\n\n";
    if (!ours_equal) {
        md << "**Our sigmoid misses an edge of diagnostics.hpp (the rows above): a defect of logitloss.**\n\n";
        std::cerr << "[curves] our sigmoid misses an edge of diagnostics.hpp (see the thresholds table)\n";
    }

    md << "## Gradient at extreme logits, y = 0\n\n";
    const float f_one = thresholds<float>::naive_sigmoid_one;
    logit_table(md,
                {0, 10, 16, std::nextafter(f_one, 0.f), f_one, 17, thresholds<float>::sigmoid_one, 20,
                 thresholds<double>::naive_sigmoid_one, 37.5, 50, 100, 1000, 1e6},
                0.0);
    md << "## Gradient at extreme logits, y = 1 (a confidently wrong negative logit)\n\n";
    const float f_zero = thresholds<float>::naive_sigmoid_zero;
    logit_table(md,
                {0, -10, -16.6355324, -20, -27.631021, -30, -50, std::nextafter(f_zero, 0.f), f_zero, -89,
                 thresholds<float>::sigmoid_zero, -200, -745.2, -1000},
                1.0);
    md << "grad_BCEWL and loss_BCEWL: logitloss::torch_ops::binary_cross_entropy_with_logits in float32; grad_BCE and "
          "loss_BCE: torch's Sigmoid→BCELoss in float32 (and its gradient in float64); sigmoid: torch's float32 "
          "sigmoid. Logits are the float32 values.\n\n";
    bar.update(3, "tables");

    // GAN generator losses against the discriminator's logit l on fakes:
    // saturating log(1 - D) = -softplus(l), gradient -sigmoid(l);
    // non-saturating -log D = softplus(-l), gradient sigmoid(l) - 1.
    std::vector<double> lg;
    for (int i = -600; i <= 600; ++i) lg.push_back(i * 0.05);
    const Tensor l = torch::tensor(lg, torch::kFloat64);
    const evaluated zero = ours_bce_with_logits(l, 0.0, torch::kFloat32);  // softplus(l), sigmoid(l)
    const evaluated one = ours_bce_with_logits(l, 1.0, torch::kFloat32);   // softplus(-l), sigmoid(l) - 1
    Tensor ln = l.to(torch::kFloat32).detach().requires_grad_(true);
    const Tensor naive_sat = torch::log(1 - torch::sigmoid(ln));
    naive_sat.backward(torch::ones_like(naive_sat));
    const Tensor naive_sat_grad = ln.grad().to(torch::kFloat64).clone();
    ln.mutable_grad().zero_();
    const Tensor naive_ns = -torch::log(torch::sigmoid(ln));
    naive_ns.backward(torch::ones_like(naive_ns));
    const Tensor naive_ns_grad = ln.grad().to(torch::kFloat64);
    std::string gan = csv_line({"logit", "D", "saturating_loss", "saturating_grad", "nonsaturating_loss",
                                "nonsaturating_grad", "saturating_loss_naive_f32", "saturating_grad_naive_f32",
                                "nonsaturating_loss_naive_f32", "nonsaturating_grad_naive_f32"});
    std::string grows;
    const Tensor d = torch::sigmoid(l);
    const Tensor ns64 = naive_sat.detach().to(torch::kFloat64), nn64 = naive_ns.detach().to(torch::kFloat64);
    for (std::size_t i = 0; i < lg.size(); ++i) {
        const auto at = [&](const Tensor& t) { return t[static_cast<std::int64_t>(i)].item<double>(); };
        const double sat = -at(zero.loss), sat_g = -at(zero.grad), ns = at(one.loss), ns_g = at(one.grad);
        gan += csv_line({exact(lg[i]), exact(at(d)), exact(sat), exact(sat_g), exact(ns), exact(ns_g), exact(at(ns64)),
                         exact(at(naive_sat_grad)), exact(at(nn64)), exact(at(naive_ns_grad))});
        grows += exact(lg[i]) + " " + exact(sat) + " " + exact(sat_g) + " " + exact(ns) + " " + exact(ns_g) + "\n";
    }
    rep.extra_csv("gan", gan);
    gp << datablock("gan", grows);
    md << "## GAN generator losses against the discriminator's logit\n\n"
          "D(G(z)) = sigmoid(l), l the discriminator's logit on a fake. The saturating generator loss "
          "log(1 − D(G(z))) has gradient −sigmoid(l) with respect to l: when the discriminator rejects the fakes "
          "confidently (l ≪ 0), it vanishes, exactly when the generator most needs a signal. The non-saturating "
          "−log D(G(z)) has gradient sigmoid(l) − 1 → −1 there. Both from BCE with logits (stable; the naive "
          "float32 forms, log(1 − sigmoid(l)) and −log(sigmoid(l)), are in curves_gan.csv).\n\n"
          "| l | D(G(z)) | log(1 − D) | d/dl | −log D | d/dl |\n|---:|---:|---:|---:|---:|---:|\n";
    for (double v : {-20.0, -10.0, -5.0, -2.0, 0.0, 2.0, 5.0}) {
        const auto i = static_cast<std::int64_t>(std::lround((v + 30) / 0.05));
        md << "| " << general(v) << " | " << general(d[i].item<double>(), 6) << " | "
           << general(-zero.loss[i].item<double>(), 6) << " | " << general(-zero.grad[i].item<double>(), 6) << " | "
           << general(one.loss[i].item<double>(), 6) << " | " << general(one.grad[i].item<double>(), 6) << " |\n";
    }
    md << "\n";

    // The plot: loss and gradient for y = 0 and y = 1, and the GAN losses;
    // the float32 thresholds as dashed lines.
    const auto marks = [&](bool positive) {
        std::ostringstream m;
        m << "unset arrow\nunset label\n";
        const std::vector<std::pair<double, std::string>> lines =
            positive ? std::vector<std::pair<double, std::string>>{{thresholds<float>::naive_sigmoid_one, "16.64 f32"},
                                                                  {-std::log(1e-12), "27.63 (1e-12)"},
                                                                  {thresholds<double>::naive_sigmoid_one, "36.74 f64"}}
                     : std::vector<std::pair<double, std::string>>{{std::log(1e-12), "-27.63 (1e-12)"},
                                                                  {thresholds<float>::naive_sigmoid_zero, "-88.72 f32"}};
        int k = 1;
        for (const auto& [v, text] : lines) {
            m << "set arrow " << k << " from " << exact(v) << ", graph 0 to " << exact(v)
              << ", graph 1 nohead dt 2 lc rgb 'gray40'\n";
            m << "set label " << k << " '" << text << "' at " << exact(v) << ", graph " << (k % 2 ? "0.95" : "0.88")
              << " left offset 0.5,0 tc rgb 'gray30'\n";
            ++k;
        }
        return m.str();
    };
    gp << "set multiplot layout 3,2 title 'Sigmoid→BCELoss (torch) vs BCE with logits (logitloss), per element'\n"
          "set grid\nset xlabel 'logit x'\n";
    gp << marks(true) << "set title 'loss, y = 0'\nset xrange [-20:120]\nset ylabel 'loss'\nset key bottom right\n"
       << "plot $y0 using 1:4 with lines lw 3 lc rgb '#1f77b4' title 'BCE with logits (ours, f32)', "
          "$y0 using 1:2 with lines lw 2 lc rgb '#d62728' title 'Sigmoid→BCELoss (torch f32)', "
          "$y0 using 1:3 with lines lw 2 dt 3 lc rgb '#2ca02c' title 'Sigmoid→BCELoss (torch f64)'\n";
    gp << "set title 'gradient d loss / dx, y = 0'\nset ylabel 'gradient'\nset yrange [-0.1:1.1]\nset key center right\n"
       << "plot $y0 using 1:7 with lines lw 3 lc rgb '#1f77b4' title 'BCE with logits (ours, f32)', "
          "$y0 using 1:5 with lines lw 2 lc rgb '#d62728' title 'Sigmoid→BCELoss (torch f32)', "
          "$y0 using 1:6 with lines lw 2 dt 3 lc rgb '#2ca02c' title 'Sigmoid→BCELoss (torch f64)'\n"
          "set autoscale y\n";
    gp << marks(false) << "set title 'loss, y = 1'\nset xrange [-120:20]\nset ylabel 'loss'\nset key bottom left\n"
       << "plot $y1 using 1:4 with lines lw 3 lc rgb '#1f77b4' title 'BCE with logits (ours, f32)', "
          "$y1 using 1:2 with lines lw 2 lc rgb '#d62728' title 'Sigmoid→BCELoss (torch f32)', "
          "$y1 using 1:3 with lines lw 2 dt 3 lc rgb '#2ca02c' title 'Sigmoid→BCELoss (torch f64)'\n";
    gp << "set title 'gradient d loss / dx, y = 1'\nset ylabel 'gradient'\nset yrange [-1.1:0.1]\nset key center left\n"
       << "plot $y1 using 1:7 with lines lw 3 lc rgb '#1f77b4' title 'BCE with logits (ours, f32)', "
          "$y1 using 1:5 with lines lw 2 lc rgb '#d62728' title 'Sigmoid→BCELoss (torch f32)', "
          "$y1 using 1:6 with lines lw 2 dt 3 lc rgb '#2ca02c' title 'Sigmoid→BCELoss (torch f64)'\n"
          "set autoscale y\n";
    gp << "unset arrow\nunset label\nset xrange [-30:30]\nset xlabel \"discriminator's logit l on fakes\"\n"
          "set key top left\nset title 'GAN generator loss'\nset ylabel 'loss'\nset yrange [-32:32]\n"
          "plot $gan using 1:2 with lines lw 3 title 'saturating log(1 - D(G(z)))', "
          "$gan using 1:4 with lines lw 3 title 'non-saturating -log D(G(z))'\n"
          "set title 'GAN generator gradient d loss / dl'\nset ylabel 'gradient'\nset yrange [-1.1:0.1]\n"
          "set key bottom left\n"
          "plot $gan using 1:3 with lines lw 3 title 'saturating: -sigmoid(l)', "
          "$gan using 1:5 with lines lw 3 title 'non-saturating: sigmoid(l) - 1'\n"
          "unset multiplot\n";
    rep.plot(gp.str(), 1400, 1500);
    bar.finish();
    return rep.write() && ours_equal ? 0 : 1;
}

// ---- kernels ------------------------------------------------------------------------

namespace {

// The median over reps of the time per call of f, each repetition timing
// `calls` calls back to back between two synchronizations: on a GPU one call
// of a few microseconds would otherwise be timed together with the host's
// dispatch and the synchronization's round trip (tens of microseconds).
template <class F>
double median_ms(F&& f, int reps, std::int64_t calls, const torch::Device& device) {
    for (int i = 0; i < 2; ++i) f();  // warm-up: allocator, kernels' first launch
    synchronize(device);
    std::vector<double> times;
    for (int r = 0; r < reps; ++r) {
        synchronize(device);
        const auto start = std::chrono::steady_clock::now();
        for (std::int64_t c = 0; c < calls; ++c) f();
        synchronize(device);
        times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() /
                        static_cast<double>(calls));
    }
    return median(std::move(times));
}

// Calls per timed repetition for N elements: on CUDA enough for 2^28
// elements of work (at least 1); on the CPU one call is long enough.
std::int64_t calls_for(std::int64_t n, bool cuda) {
    return cuda ? std::max<std::int64_t>(1, (std::int64_t(1) << 28) / n) : 1;
}

Tensor grad_of(const Tensor& loss, const Tensor& x) { return torch::autograd::grad({loss}, {x})[0]; }

}  // namespace

int run_kernels(const settings& s) {
    const torch::Device device = setup_device(s, false);
    const bool cuda = device.is_cuda();
    const bool ours = !cuda || ops::cuda_enabled();
    const plan p = resolve(s, cuda);
    if (!cuda)
        std::cerr << "[kernels] --device cpu: timing the CPU kernels instead (the study is meant for --device cuda)\n";
    if (!ours)
        std::cerr << "[kernels] this build has no CUDA path in logitloss_torch_ops (-DLOGITLOSS_EXPERIMENTS_CUDA=ON): "
                     "timing torch and the copy only\n";
    std::vector<std::int64_t> sizes;
    for (std::uint64_t n = p.min_n; n <= p.max_n; n *= 4) sizes.push_back(static_cast<std::int64_t>(n));

    struct row {
        std::int64_t n, calls;
        double ours_ms, checked_ms, kernel_ms, torch_ms, copy_ms, loss_diff, grad_diff;
    };
    std::vector<row> rows;
    double work = 0;
    for (auto n : sizes) work += static_cast<double>(n);
    progress bar(s.study, work / 1e6, "M elements");
    double done = 0;
    for (const std::int64_t n : sizes) {
        torch::manual_seed(s.seed);
        const auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(device);
        const Tensor x = torch::randn({n}, opts) * 4;
        const Tensor y = torch::rand({n}, opts).gt(0.5).to(torch::kFloat32);
        const std::int64_t calls = calls_for(n, cuda);
        row r{n, calls, std::nan(""), std::nan(""), std::nan(""), 0, 0, std::nan(""), std::nan("")};
        const auto native = [&] {
            Tensor v = x.detach().requires_grad_(true);
            const Tensor loss = torch::binary_cross_entropy_with_logits(v, y);
            return std::make_pair(loss, grad_of(loss, v));
        };
        const auto fused = [&](bool check) {
            Tensor v = x.detach().requires_grad_(true);
            const Tensor loss = ops::bce_with_logits(v, y, c10::nullopt, c10::nullopt, "mean", check);
            return std::make_pair(loss, grad_of(loss, v));
        };
        if (ours) {
            // The two should agree before their speeds are compared: the
            // mean to float rounding, the gradient (about 1/N per element)
            // to a few ulp of 1/N.
            const auto [la, ga] = fused(true);
            const auto [lb, gb] = native();
            r.loss_diff = std::fabs(la.item<double>() - lb.item<double>()) / std::max(1e-30, std::fabs(lb.item<double>()));
            r.grad_diff = (ga - gb).abs().max().item<double>() * static_cast<double>(n);
            r.ours_ms = median_ms([&] { fused(false); }, p.reps, calls, device);
            r.checked_ms = median_ms([&] { fused(true); }, p.reps, calls, device);
            // The fused pass alone: the same kernel, no autograd graph.
            r.kernel_ms = median_ms(
                [&] { ops::bce_with_logits_and_grad(x, y, c10::nullopt, c10::nullopt, "mean", false); }, p.reps,
                calls, device);
        }
        r.torch_ms = median_ms([&] { native(); }, p.reps, calls, device);
        Tensor dst = torch::empty_like(x);
        r.copy_ms = median_ms([&] { dst.copy_(x); }, p.reps, calls, device);
        rows.push_back(r);
        done += static_cast<double>(n) / 1e6;
        bar.update(done, "N = " + std::to_string(n));
    }
    bar.finish();

    const auto gbs = [](double bytes_per_element, std::int64_t n, double ms) {
        return std::isnan(ms) ? std::nan("") : bytes_per_element * static_cast<double>(n) / (ms * 1e6);
    };
    report rep(s, cuda ? "fused BCE with logits vs torch on the GPU, in GB/s"
                       : "fused BCE with logits vs torch on the CPU (CPU kernels timed instead of a GPU), in GB/s");
    rep.header("preset", p.summary);
    rep.header("traffic model", "loss: read logits and targets, write the gradient = 12 bytes per float32 element; "
                                "copy: 8 bytes per element");
    std::ostream& md = rep.md;
    if (!cuda)
        md << "**CPU run.** This study is meant for a GPU (`--device cuda`); with `--device cpu` it times the CPU "
              "paths instead: logitloss_torch_ops's SIMD array kernels and torch's CPU kernels, on "
           << at::get_num_threads() << (at::get_num_threads() == 1 ? " thread.\n\n" : " threads.\n\n");
    md << "One forward and backward of the mean binary cross-entropy with logits on N float32 logits (N(0, 16)) "
          "and 0/1 targets, the gradient taken with torch::autograd::grad: **ours** is "
          "logitloss::torch_ops::bce_with_logits (loss and gradient in one fused pass; backward scales the saved "
          "gradient in place; a grad_output of 1 leaves it as it is, the graph not being retained), with its value "
          "check off (`check = false`) and on (the default: one more read of the inputs"
       << (cuda ? " and a wait for its answer" : "")
       << "); **kernel** is the same fused pass without autograd (logitloss::torch_ops::bce_with_logits_and_grad, "
          "check off), so that ours − kernel is autograd's share"
       << (cuda ? " (on CUDA that includes one more launch, a kernel that reads grad_output on the device and "
                  "returns at once when it is 1)"
                : "")
       << "; **torch** is torch::binary_cross_entropy_with_logits and its backward. GB/s counts only the useful "
          "traffic, 12 bytes per element, so it is comparable to the copy's 8 bytes per element "
          "(`dst.copy_(src)`). Median of "
       << p.reps << " timed repetitions after 2 warm-ups, each "
       << (cuda ? "max(1, 2^28 / N) calls back to back between torch::cuda::synchronize() calls, the time divided by "
                  "the calls (one call alone would be timed with the host's dispatch and the synchronization)"
                : "one call between clock reads")
       << ".";
    const std::uint64_t l2 = cuda_l2_bytes(device);
    if (l2 > 0)
        md << " The device's L2 cache holds " << fixed(static_cast<double>(l2) / (1 << 20), 0)
           << " MiB: rows marked (L2) have 12 N bytes within half of it, and the repeated calls then run from the "
              "cache rather than device memory (half, because a working set close to the cache's size is not reliably "
              "held in it: the cache is split in partitions, and the previous call's other buffers share it).";
    md << "\n\n";
    md << "| N | ours ms | ours GB/s | ours checked GB/s | kernel ms | kernel GB/s | torch ms | torch GB/s | copy ms | "
          "copy GB/s | ours / copy | kernel / copy | ours / torch | loss rel. diff | max grad diff × N |\n"
          "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    std::string csv = csv_line({"n", "ours_ms", "ours_gbs", "ours_checked_ms", "ours_checked_gbs", "torch_ms",
                                "torch_gbs", "copy_ms", "copy_gbs", "loss_rel_diff", "max_grad_diff_times_n",
                                "kernel_ms", "kernel_gbs", "calls_per_rep"});
    std::string data;
    for (const auto& r : rows) {
        const double og = gbs(12, r.n, r.ours_ms), cg = gbs(12, r.n, r.checked_ms), tg = gbs(12, r.n, r.torch_ms),
                     pg = gbs(8, r.n, r.copy_ms), kg = gbs(12, r.n, r.kernel_ms);
        const bool cached = l2 > 0 && 2 * 12 * static_cast<std::uint64_t>(r.n) <= l2;
        md << "| " << r.n << (cached ? " (L2)" : "") << " | " << general(r.ours_ms, 4) << " | " << fixed(og, 1)
           << " | " << fixed(cg, 1) << " | "
           << general(r.kernel_ms, 4) << " | " << fixed(kg, 1) << " | " << general(r.torch_ms, 4) << " | " << fixed(tg, 1) << " | "
           << general(r.copy_ms, 4) << " | " << fixed(pg, 1) << " | " << fixed(100 * og / pg, 0) << "% | "
           << fixed(100 * kg / pg, 0) << "% | " << fixed(r.torch_ms / r.ours_ms, 2) << "x | "
           << general(r.loss_diff, 3) << " | " << general(r.grad_diff, 3) << " |\n";
        csv += csv_line({std::to_string(r.n), exact(r.ours_ms), exact(og), exact(r.checked_ms), exact(cg),
                         exact(r.torch_ms), exact(tg), exact(r.copy_ms), exact(pg), exact(r.loss_diff),
                         exact(r.grad_diff), exact(r.kernel_ms), exact(kg), std::to_string(r.calls)});
        data += std::to_string(r.n) + " " + exact(og) + " " + exact(cg) + " " + exact(tg) + " " + exact(pg) + " " +
                exact(kg) + "\n";
    }
    // Speeds are compared only between results that agree: past these
    // bounds (float rounding of a mean; a few ulp of a gradient of 1/N)
    // the study reports it and exits 1, the table written all the same.
    constexpr double loss_tolerance = 1e-5, grad_tolerance = 1e-4;
    std::string disagree;
    for (const auto& r : rows)
        if (ours && !(r.loss_diff <= loss_tolerance && r.grad_diff <= grad_tolerance))
            disagree += (disagree.empty() ? "" : ", ") + std::string("N = ") + std::to_string(r.n);
    md << "\nloss rel. diff: |ours − torch| / |torch| of the mean loss; max grad diff × N: the largest gradient "
          "difference in units of 1/N, the size of one element's gradient. Both must stay within "
       << general(loss_tolerance) << " and " << general(grad_tolerance) << " (the study fails otherwise)"
       << (disagree.empty() ? (ours ? ": they do.\n" : ".\n") : ": **they do not at " + disagree + "**.\n");
    rep.csv << csv;
    std::ostringstream gp;
    gp << datablock("k", data);
    // N in powers of 2, as the sizes are chosen: 16K, 64K, ..., 256M.
    const auto size_label = [](std::int64_t n) {
        return n % (1 << 20) == 0 ? std::to_string(n >> 20) + "M"
               : n % (1 << 10) == 0 ? std::to_string(n >> 10) + "K"
                                    : std::to_string(n);
    };
    gp << "set xtics (";
    for (std::size_t i = 0; i < rows.size(); ++i)
        gp << (i ? ", " : "") << "'" << size_label(rows[i].n) << "' " << rows[i].n;
    gp << ")\n";
    gp << "set title 'BCE with logits forward+backward, float32 (" << (cuda ? "GPU" : "CPU")
       << "): GB/s of useful traffic'\nset logscale x 4\nset xlabel 'N (elements)'\n"
          "set ylabel 'GB/s'\nset grid\nset key top left\nset yrange [0:*]\n"
          "plot $k using 1:2 with linespoints lw 2 pt 7 title 'ours (fused, check off)', "
          "$k using 1:3 with linespoints lw 2 pt 6 title 'ours (checked)', "
          "$k using 1:6 with linespoints lw 2 pt 9 title 'kernel alone (no autograd)', "
          "$k using 1:4 with linespoints lw 2 pt 5 title 'torch', "
          "$k using 1:5 with linespoints lw 2 dt 2 pt 4 title 'copy (8 B/element)'\n";
    rep.plot(gp.str(), 1000, 600);
    const bool written = rep.write();
    if (!disagree.empty())
        std::cerr << "[kernels] ours and torch disagree beyond the tolerance at " << disagree << " (see the report)\n";
    return written && disagree.empty() ? 0 : 1;
}

}  // namespace logitloss::experiments::studies
