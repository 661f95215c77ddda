// The optional testing headers that need more than the standard library
// (testing_mpfr.hpp: MPFR; testing/rapidcheck.hpp: rapidcheck), instantiated
// for float and double under the strict warning flags (compiled, not linked).
#include <logitloss/testing/rapidcheck.hpp>
#include <logitloss/testing_mpfr.hpp>

namespace {

template <class T>
bool generators_and_references() {
    namespace lt = logitloss::testing;
    namespace lg = lt::gen;
    return rc::check("compiles", [] {
        const T x = *lg::logit<T>(), y = *lg::target<T>(), p = *lg::probability<T>();
        const T f = *lg::finite_logit<T>(), s = *lg::special<T>(), t = *lg::near_threshold<T>();
        const auto b = *lg::batch_of<T>(100);
        RC_ASSERT(b.size() <= 100u);
        RC_ASSERT(!(lt::reference::bce_with_logits(x, y) < 0) && !(lt::reference::bce(p, y) < 0));
        RC_ASSERT(lt::ulp_distance(f, f) == 0u && lt::ulp_distance(s, s) == 0u && lt::ulp_distance(t, t) == 0u);
    });
}

}  // namespace

int main() {
    const double r = logitloss::testing::reference::sigmoid(0.0) + logitloss::testing::reference::bce_grad(0.5, 1.0);
    return generators_and_references<float>() && generators_and_references<double>() && r == -1.5 ? 0 : 1;
}
