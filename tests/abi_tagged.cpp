// A translation unit of the unit tests compiled under its own
// LOGITLOSS_ABI_TAG (the others have none), as a program that builds some
// files with other instruction-set flags is told to: the public types must
// be the same in both, or the functions below would not link against their
// declarations in test_bad_input.cpp, nor would their errors be caught
// there as logitloss::error.
#define LOGITLOSS_ABI_TAG unit_test_tag
#include <logitloss/logitloss.hpp>

float tagged_bce_with_logits_forward(const float* x, const float* y, std::size_t n,
                                     const logitloss::options<float>& opt) {
    return logitloss::bce_with_logits_forward(x, y, n, opt);
}

logitloss::value_and_grad<double> tagged_bce_with_logits_value_and_grad(double x, double y) {
    return logitloss::bce_with_logits_value_and_grad(x, y);
}
