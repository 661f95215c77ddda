// The demo: what Sigmoid -> BCELoss (PyTorch semantics) does at extreme
// logits, next to bce_with_logits, in float32 and float64; and where each
// type saturates (logitloss/diagnostics.hpp).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include <logitloss/logitloss.hpp>

namespace ll = logitloss;

namespace {

template <class T>
const char* type_name() {
    return sizeof(T) == 4 ? "float32" : "float64";
}

std::string fmt(double v) {
    char buf[64];
    if (v == 0)
        std::snprintf(buf, sizeof buf, "%s0", std::signbit(v) ? "-" : "");
    else if (std::fabs(v) >= 1e-3 && std::fabs(v) < 1e7)
        std::snprintf(buf, sizeof buf, "%.6g", v);
    else
        std::snprintf(buf, sizeof buf, "%.4e", v);
    return buf;
}

// One row per logit: the naive pipeline's sigmoid, loss and chained
// gradient, and bce_with_logits' loss and gradient.
template <class T>
void extreme_logits_table(T y, std::vector<T> xs) {
    std::sort(xs.begin(), xs.end(), [](T a, T b) { return std::fabs(a) < std::fabs(b); });
    std::printf("\n%s, target y = %g: loss and d(loss)/dx\n\n", type_name<T>(), static_cast<double>(y));
    std::printf("| logit x | sigmoid(x) (PyTorch) | Sigmoid->BCELoss | its gradient | bce_with_logits | its gradient |  |\n");
    std::printf("|---:|---:|---:|---:|---:|---:|---|\n");
    for (T x : xs) {
        const T naive_grad = ll::naive::sigmoid_bce_grad(x, y);
        const T grad = ll::bce_with_logits_grad(x, y);
        const bool dead = naive_grad == T(0) && grad != T(0);
        // Below p(1-p) = 1e-12 ATen's epsilon floor makes the chained
        // gradient 1e12 p instead of 1: it fades long before it is 0.
        const bool fading = !dead && std::fabs(naive_grad) < T(1e-3) * std::fabs(grad);
        std::printf("| %.*g | %s | %s | %s | %s | %s | %s |\n", sizeof(T) == 4 ? 9 : 17, static_cast<double>(x),
                    fmt(static_cast<double>(ll::naive::sigmoid(x))).c_str(),
                    fmt(static_cast<double>(ll::naive::sigmoid_bce(x, y))).c_str(), fmt(static_cast<double>(naive_grad)).c_str(),
                    fmt(static_cast<double>(ll::bce_with_logits(x, y))).c_str(), fmt(static_cast<double>(grad)).c_str(),
                    dead ? "**dead**" : fading ? "vanishing" : "");
    }
}

template <class T>
void thresholds_table() {
    using th = ll::thresholds<T>;
    std::printf("\n%s saturation thresholds (exact values of the type)\n\n", type_name<T>());
    std::printf("| threshold | value | meaning |\n|---|---:|---|\n");
    std::printf("| naive_sigmoid_one | %.17g | 1/(1+exp(-x)) == 1 from here: Sigmoid->BCELoss gradient is 0 for every target |\n",
                static_cast<double>(th::naive_sigmoid_one));
    std::printf("| sigmoid_one | %.17g | the correctly rounded sigmoid == 1 from here |\n", static_cast<double>(th::sigmoid_one));
    std::printf("| naive_sigmoid_zero | %.17g | exp(-x) overflows at and below: sigmoid == 0, gradient 0 for every target |\n",
                static_cast<double>(th::naive_sigmoid_zero));
    std::printf("| sigmoid_zero | %.17g | the correctly rounded sigmoid == +0 at and below |\n", static_cast<double>(th::sigmoid_zero));
}

template <class T>
void report() {
    using th = ll::thresholds<T>;
    const T inf = std::numeric_limits<T>::infinity();
    const T one = th::naive_sigmoid_one, before = std::nextafter(one, T(0));
    // y = 0, x growing: a confidently wrong positive logit.
    extreme_logits_table<T>(T(0), {T(0), T(2), T(5), T(10), T(15), before, one, th::sigmoid_one, T(20), T(50), T(100),
                                   T(1000), T(1e6), T(3e9)});
    // y = 1, x falling: a confidently wrong negative logit.
    const T zero = th::naive_sigmoid_zero, after = std::nextafter(zero, T(0));
    extreme_logits_table<T>(T(1), {T(0), T(-5), T(-20), T(-27), T(-28), T(-50), after, zero, T(-100), th::sigmoid_zero,
                                   T(-1000), T(-1e6)});
    // y = 1, x growing: confidently right; the true gradient is tiny, not 0.
    extreme_logits_table<T>(T(1), {T(10), before, one, T(50), T(100), T(200), inf});
    thresholds_table<T>();
}

}  // namespace

int main() {
    std::printf("logitloss %s demo: Sigmoid -> BCELoss (PyTorch semantics: 1/(1+exp(-x)), logs clamped at -100,\n"
                "backward (p-y)/max(p(1-p), 1e-12) chained through sigmoid's p(1-p)) against bce_with_logits.\n",
                LOGITLOSS_VERSION_STRING);
    report<float>();
    report<double>();
    // The array statistic: where a batch of logits sits.
    std::vector<float> batch = {-3.f, 0.5f, 12.f, 17.f, 40.f, -95.f, 3e9f, 2.f};
    const auto s = ll::saturation(batch.data(), batch.size());
    std::printf("\nsaturation() of the logits {-3, 0.5, 12, 17, 40, -95, 3e9, 2}: %.1f%% in a dead zone "
                "(%zu high, %zu low)\n", 100.0 * s.fraction_dead(), s.dead_high, s.dead_low);
    return 0;
}
