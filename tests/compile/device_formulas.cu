// formulas.hpp in CUDA device code: every element-wise function, float and
// double, instantiated in a __global__ kernel (compile-only test).
#include <logitloss/formulas.hpp>

template <class T>
__global__ void all_formulas(const T* x, const T* y, T* out, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const auto vg = logitloss::bce_with_logits_value_and_grad(x[i], y[i], T(2));
    const auto pg = logitloss::bce_value_and_grad(logitloss::sigmoid(x[i]), y[i]);
    out[i] = logitloss::sigmoid(x[i]) + logitloss::log_sigmoid(x[i]) + logitloss::softplus(x[i]) +
             logitloss::bce_with_logits(x[i], y[i]) + logitloss::bce_with_logits_grad(x[i], y[i]) +
             logitloss::bce(x[i], y[i]) + logitloss::bce_grad(x[i], y[i]) + vg.value + vg.grad + pg.value + pg.grad;
}

template __global__ void all_formulas<float>(const float*, const float*, float*, int);
template __global__ void all_formulas<double>(const double*, const double*, double*, int);

// The host pass sees the same templates.
float host_side(float x) { return logitloss::sigmoid(x) + static_cast<float>(logitloss::softplus(double(x))); }
