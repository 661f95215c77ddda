// A program outside the logitloss tree: it finds the library through CMake
// and checks a few values it can only get right with the real headers.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

#include <logitloss/dispatch.hpp>
#include <logitloss/logitloss.hpp>
#include <logitloss/testing.hpp>

int main() {
    const float g = logitloss::bce_with_logits_grad(20.f, 1.f);  // -sigmoid(-20), not 0
    std::vector<float> x = {-3.f, 0.f, 2.5f, 40.f}, y = {0.f, 1.f, 1.f, 0.f}, grad(4);
    const float loss = logitloss::bce_with_logits_forward_backward(x.data(), y.data(), x.size(), grad.data());
    std::printf("logitloss %s: grad(20, 1) = %g, mean loss = %g\n", LOGITLOSS_VERSION_STRING, static_cast<double>(g),
                static_cast<double>(loss));
    // The same through the runtime-dispatch library (logitloss::dispatch).
    std::vector<float> grad_dispatch(4);
    const float loss_dispatch =
        logitloss::dispatch::bce_with_logits_forward_backward(x.data(), y.data(), x.size(), grad_dispatch.data());
    std::printf("dispatch path %s: mean loss = %g\n", logitloss::dispatch::path(), static_cast<double>(loss_dispatch));
    // The testing helpers: every float of a named range against the reference.
    namespace lt = logitloss::testing;
    const auto r = lt::ranges<float>::subnormal_result;
    std::uint32_t worst = 0;
    unsigned long visited = 0;
    lt::for_each_float(r.lo, r.hi, [&](float v) {
        worst = std::max(worst, lt::ulp_distance(logitloss::softplus(v), lt::reference::softplus(v)));
        ++visited;
    });
    std::printf("testing.hpp: softplus over %lu floats of subnormal_result: max %u ulp\n", visited, worst);
    // The mean of the four losses from the reference (softplus(-3), ln 2,
    // softplus(-2.5), 40 + softplus(-40): 10.205156...), and -sigmoid(-20).
    double want_sum = 0.0;
    for (std::size_t i = 0; i < x.size(); ++i) want_sum += double(lt::reference::bce_with_logits(x[i], y[i]));
    const auto want_mean = static_cast<float>(want_sum / 4.0);
    const float want_g = -lt::reference::sigmoid(-20.f);
    const bool ok = worst <= 2 && visited > 1000000 && g < 0.f && lt::ulp_distance(g, want_g) <= 1 &&
                    lt::ulp_distance(loss, want_mean) <= 2 && grad[3] == 0.25f &&
                    lt::ulp_distance(loss_dispatch, loss) <= 1 && grad_dispatch[3] == 0.25f;
    return ok ? 0 : 1;
}
