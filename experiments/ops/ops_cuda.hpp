// ops/ops_cuda.hpp — the seam between ops.cpp (a C++ translation unit that
// sees LibTorch) and ops_cuda.cu (a CUDA one that sees cuda.cuh and no
// LibTorch). Plain pointers and sizes only, so that nvcc never compiles the
// LibTorch headers and the CUDA side builds and is compile-tested without a
// CUDA LibTorch. Internal to the library.
#pragma once

#include <cstddef>

struct CUstream_st;  // cudaStream_t is CUstream_st*

namespace logitloss {
namespace torch_ops {
namespace cuda_impl {

enum class inputs { logits, probabilities };
enum class reduce { none, sum, mean };

// One loss call; device pointers. Arrays are contiguous; weight has n
// elements; pos_weight has classes elements (0: none).
template <class T>
struct loss_call {
    inputs kind = inputs::logits;
    const T* x = nullptr;
    const T* y = nullptr;
    std::size_t n = 0;
    const T* weight = nullptr;
    const T* pos_weight = nullptr;
    std::size_t classes = 0;
    reduce reduction = reduce::mean;
    T* grad = nullptr;    // null: forward only
    T* losses = nullptr;  // reduce::none
    T* result = nullptr;  // reduce::sum and ::mean: one element
    void* workspace = nullptr;
    std::size_t workspace_bytes = 0;
    unsigned long long* check_scratch = nullptr;  // non-null: check values first (waits)
    CUstream_st* stream = nullptr;
};

// Bytes of workspace a sum or mean over n elements needs.
std::size_t workspace_bytes(std::size_t n, bool is_double) noexcept;

// Throw std::runtime_error (logitloss::cuda::error) with a clear message.
void loss(const loss_call<float>& call);
void loss(const loss_call<double>& call);
void sigmoid(const float* x, std::size_t n, float* out, CUstream_st* stream);
void sigmoid(const double* x, std::size_t n, double* out, CUstream_st* stream);
void sigmoid_backward(const float* x, const float* grad_out, std::size_t n, float* grad_in, CUstream_st* stream);
void sigmoid_backward(const double* x, const double* grad_out, std::size_t n, double* grad_in, CUstream_st* stream);
// data[i] *= *factor, factor one element of device memory, read there: no
// element is read or written where it is 1, and nothing waits for the host.
void scale(float* data, std::size_t n, const float* factor, CUstream_st* stream);
void scale(double* data, std::size_t n, const double* factor, CUstream_st* stream);

}  // namespace cuda_impl
}  // namespace torch_ops
}  // namespace logitloss
