// logitloss/cuda.cuh: every host launch function, and through it every
// kernel, instantiated for float and double (compile-only test: nothing
// here runs; a GPU run is the experiments' test_torch_ops with CUDA on).
#include <logitloss/cuda.cuh>

namespace lc = logitloss::cuda;

#define LOGITLOSS_INSTANTIATE(T)                                                                                      \
    template void lc::bce_with_logits_forward<T>(const T*, const T*, std::size_t, const lc::options<T>&,              \
                                                 cudaStream_t);                                                      \
    template void lc::bce_with_logits_forward_backward<T>(const T*, const T*, std::size_t, T*,                        \
                                                          const lc::options<T>&, cudaStream_t);                       \
    template void lc::bce_forward<T>(const T*, const T*, std::size_t, const lc::options<T>&, cudaStream_t);           \
    template void lc::bce_forward_backward<T>(const T*, const T*, std::size_t, T*, const lc::options<T>&,             \
                                              cudaStream_t);                                                         \
    template void lc::sigmoid<T>(const T*, std::size_t, T*, cudaStream_t);                                           \
    template void lc::sigmoid_backward<T>(const T*, const T*, std::size_t, T*, cudaStream_t);                        \
    template void lc::scale<T>(T*, std::size_t, const T*, cudaStream_t);                                             \
    template void lc::find_invalid<T>(lc::input_kind, const T*, const T*, std::size_t, const lc::options<T>&,         \
                                      unsigned long long*, cudaStream_t);                                            \
    template void lc::check_inputs<T>(lc::input_kind, const T*, const T*, std::size_t, const lc::options<T>&,         \
                                      cudaStream_t, unsigned long long*);                                            \
    template std::size_t lc::workspace_size<T>(std::size_t) noexcept;

LOGITLOSS_INSTANTIATE(float)
LOGITLOSS_INSTANTIATE(double)

// A typical call sequence, as a caller writes it (compiled, not run).
float mean_loss_and_grad(const float* x, const float* y, std::size_t n, float* grad, float* result,
                         cudaStream_t stream) {
    lc::options<float> opt;
    opt.result = result;
    lc::bce_with_logits_forward_backward(x, y, n, grad, opt, stream);
    float host = 0.f;
    if (cudaMemcpyAsync(&host, result, sizeof host, cudaMemcpyDeviceToHost, stream) != cudaSuccess ||
        cudaStreamSynchronize(stream) != cudaSuccess)
        return -1.f;
    return host;
}
