// ops/ops.hpp — LibTorch autograd functions on the logitloss kernels:
// sigmoid, BCE on probabilities (ATen semantics) and BCE with logits
// (weight, pos_weight, every reduction). CPU tensors run the SIMD array
// kernels (kernels.hpp, through the runtime-dispatch library when it is
// built); CUDA tensors run cuda.cuh when the library is built with
// -DLOGITLOSS_EXPERIMENTS_CUDA=ON.
//
// The loss functions compute the loss and its gradient in one fused pass in
// forward and save the gradient; backward scales it by grad_output (a
// grad_output of 1 returns it as it is: README.md in this directory). A
// call that needs no gradient (grad mode off, or an input that does not
// require grad) runs the forward-only kernel and records nothing.
//
// Policy (README.md in this directory):
//   dtypes      float32 and float64; target, weight and pos_weight must have
//               the input's dtype and device. Anything else: c10::Error
//               naming the dtype.
//   contiguity  non-contiguous tensors are copied with .contiguous(); the
//               gradient is returned contiguous.
//   shapes      target: the input's shape. weight: broadcastable to the
//               input's shape (never enlarging it). pos_weight: one value,
//               or shape [C] (leading 1s allowed) with C = input.size(-1).
//   values      checked by default, as the CPU kernels check them: targets
//               and probabilities in [0, 1], weight and pos_weight finite and >= 0, no
//               NaN; the error names the first bad element (flat index of
//               the contiguous tensor). On CUDA the check is one more kernel
//               and a wait for its answer; check = false skips it (then a
//               probability out of range gives NaN, a target out of range
//               follows the formula).
//   gradients   flow to the input only: a target, weight or pos_weight that
//               requires grad is an error. Backward is not itself
//               differentiable (no double backward).
#pragma once

#include <cstdint>
#include <string_view>

#include <torch/torch.h>
#include <c10/util/Optional.h>  // c10::optional: its own class in 1.13, an alias of std::optional in 2.x

namespace logitloss {
namespace torch_ops {

// PyTorch's reductions; mean divides by the number of elements.
enum class reduction : std::int64_t { none, sum, mean };

// "none", "sum" or "mean"; anything else is a c10::Error.
reduction parse_reduction(std::string_view name);

// sigmoid(x); backward: logitloss::sigmoid_backward, grad * sigmoid(x) *
// sigmoid(-x) from the saved input (within 1 ulp in float32), so the tails keep their tiny, correct gradients (torch's
// grad * (1 - y) * y is 0 in float32 from x = 16.64 on).
struct Sigmoid : torch::autograd::Function<Sigmoid> {
    static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& input);
    static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                   torch::autograd::variable_list grad_outputs);
};

// sigmoid with ATen's semantics, for runs that must reproduce torch.sigmoid
// followed by BCELoss with these functions (the studies' --loss-impl ours).
// Forward is ATen's own sigmoid, which in float32 rounds to exactly 1 from
// x = 16.64 on and to 0 below -88.72 (thresholds<float>::naive_sigmoid_one
// and _zero in diagnostics.hpp). Backward is ATen's sigmoid_backward
// formula on the saved output y, grad * (1 - y) * y, in ATen's order of
// operations, so it has the bits of torch's (tested on the CPU) and is
// exactly 0 wherever y rounded to 0 or 1: the dead gradient the studies
// show. Sigmoid above is the accurate one. CPU and CUDA tensors (CUDA
// needs no CUDA build of this library: both directions are ATen's own
// elementwise kernels there).
struct SigmoidATen : torch::autograd::Function<SigmoidATen> {
    static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& input);
    static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                   torch::autograd::variable_list grad_outputs);
};

// torch::binary_cross_entropy on probabilities: loss and gradient as ATen
// computes them (log clamped at -100, p(1-p) floored at 1e-12), exactly.
struct BCE : torch::autograd::Function<BCE> {
    static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& input,
                                 const torch::Tensor& target, const c10::optional<torch::Tensor>& weight,
                                 reduction reduce, bool check);
    static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                   torch::autograd::variable_list grad_outputs);
};

// torch::binary_cross_entropy_with_logits: pos_weight y softplus(-x) +
// (1 - y) softplus(x), times weight; gradient (1-y) sigmoid(x) -
// pos_weight y sigmoid(-x), times weight (and 1/n for the mean).
struct BCEWithLogits : torch::autograd::Function<BCEWithLogits> {
    static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& input,
                                 const torch::Tensor& target, const c10::optional<torch::Tensor>& weight,
                                 const c10::optional<torch::Tensor>& pos_weight, reduction reduce, bool check);
    static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                   torch::autograd::variable_list grad_outputs);
};

// The functions by torch::nn::functional's names (reduction "none", "sum"
// or "mean", as in PyTorch); an absent or undefined weight is no weight.
torch::Tensor sigmoid(const torch::Tensor& input);
// SigmoidATen's function: records it when the input requires grad.
torch::Tensor sigmoid_aten(const torch::Tensor& input);

torch::Tensor binary_cross_entropy(const torch::Tensor& input, const torch::Tensor& target,
                                   const c10::optional<torch::Tensor>& weight = c10::nullopt,
                                   std::string_view reduction = "mean", bool check = true);

torch::Tensor binary_cross_entropy_with_logits(const torch::Tensor& input, const torch::Tensor& target,
                                               const c10::optional<torch::Tensor>& weight = c10::nullopt,
                                               const c10::optional<torch::Tensor>& pos_weight = c10::nullopt,
                                               std::string_view reduction = "mean", bool check = true);

// Short names, the library's own.
inline torch::Tensor bce(const torch::Tensor& input, const torch::Tensor& target,
                         const c10::optional<torch::Tensor>& weight = c10::nullopt,
                         std::string_view reduction = "mean", bool check = true) {
    return binary_cross_entropy(input, target, weight, reduction, check);
}
inline torch::Tensor bce_with_logits(const torch::Tensor& input, const torch::Tensor& target,
                                     const c10::optional<torch::Tensor>& weight = c10::nullopt,
                                     const c10::optional<torch::Tensor>& pos_weight = c10::nullopt,
                                     std::string_view reduction = "mean", bool check = true) {
    return binary_cross_entropy_with_logits(input, target, weight, pos_weight, reduction, check);
}

// The loss of binary_cross_entropy_with_logits and its gradient
// d(loss)/d(input) (the input's shape, weights and the mean's 1/n included)
// from the one fused pass, outside autograd: nothing is recorded and the
// input need not require grad. What BCEWithLogits's forward computes and
// saves, for loops that apply the gradient themselves and for timing the
// kernel without autograd's bookkeeping. Arguments and checks as above.
struct loss_and_grad {
    torch::Tensor loss, grad;
};
loss_and_grad bce_with_logits_and_grad(const torch::Tensor& input, const torch::Tensor& target,
                                       const c10::optional<torch::Tensor>& weight = c10::nullopt,
                                       const c10::optional<torch::Tensor>& pos_weight = c10::nullopt,
                                       std::string_view reduction = "mean", bool check = true);

// Whether this build runs CUDA tensors (LOGITLOSS_EXPERIMENTS_CUDA).
bool cuda_enabled() noexcept;

}  // namespace torch_ops
}  // namespace logitloss
