// ops/ops_cuda.cu — the CUDA side of the autograd functions: the calls of
// ops_cuda.hpp mapped onto logitloss/cuda.cuh. Built only with
// LOGITLOSS_EXPERIMENTS_CUDA=ON; no LibTorch header is included here.
#include <logitloss/cuda.cuh>

#include "ops_cuda.hpp"

namespace logitloss {
namespace torch_ops {
namespace cuda_impl {
namespace {

namespace lc = logitloss::cuda;

template <class T>
void run(const loss_call<T>& c) {
    lc::options<T> o;
    o.reduce = c.reduction == reduce::none ? lc::reduction::none
               : c.reduction == reduce::sum ? lc::reduction::sum
                                            : lc::reduction::mean;
    o.weight = c.weight;
    o.pos_weight = c.classes > 0 ? c.pos_weight : nullptr;
    o.pos_weight_size = c.classes;
    o.losses = c.losses;
    o.result = c.result;
    o.workspace = c.workspace;
    o.workspace_bytes = c.workspace_bytes;
    const lc::input_kind kind = c.kind == inputs::logits ? lc::input_kind::logits : lc::input_kind::probabilities;
    if (c.check_scratch != nullptr) lc::check_inputs(kind, c.x, c.y, c.n, o, c.stream, c.check_scratch);
    if (kind == lc::input_kind::logits) {
        if (c.grad != nullptr)
            lc::bce_with_logits_forward_backward(c.x, c.y, c.n, c.grad, o, c.stream);
        else
            lc::bce_with_logits_forward(c.x, c.y, c.n, o, c.stream);
    } else {
        if (c.grad != nullptr)
            lc::bce_forward_backward(c.x, c.y, c.n, c.grad, o, c.stream);
        else
            lc::bce_forward(c.x, c.y, c.n, o, c.stream);
    }
}

}  // namespace

std::size_t workspace_bytes(std::size_t n, bool is_double) noexcept {
    return is_double ? lc::workspace_size<double>(n) : lc::workspace_size<float>(n);
}

void loss(const loss_call<float>& call) { run(call); }
void loss(const loss_call<double>& call) { run(call); }

void sigmoid(const float* x, std::size_t n, float* out, CUstream_st* stream) { lc::sigmoid(x, n, out, stream); }
void sigmoid(const double* x, std::size_t n, double* out, CUstream_st* stream) { lc::sigmoid(x, n, out, stream); }

void sigmoid_backward(const float* x, const float* grad_out, std::size_t n, float* grad_in, CUstream_st* stream) {
    lc::sigmoid_backward(x, grad_out, n, grad_in, stream);
}
void sigmoid_backward(const double* x, const double* grad_out, std::size_t n, double* grad_in,
                      CUstream_st* stream) {
    lc::sigmoid_backward(x, grad_out, n, grad_in, stream);
}

void scale(float* data, std::size_t n, const float* factor, CUstream_st* stream) { lc::scale(data, n, factor, stream); }
void scale(double* data, std::size_t n, const double* factor, CUstream_st* stream) {
    lc::scale(data, n, factor, stream);
}

}  // namespace cuda_impl
}  // namespace torch_ops
}  // namespace logitloss
