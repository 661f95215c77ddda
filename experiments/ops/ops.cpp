// ops/ops.cpp — the autograd functions of ops.hpp: argument policy (dtype,
// device, shape, broadcasting, contiguity), the CPU path on the array
// kernels, and the CUDA path through ops_cuda.hpp.
#include "ops.hpp"

#include <torch/csrc/autograd/graph_task.h>  // get_current_graph_task_keep_graph

#include <algorithm>
#include <cstddef>
#include <exception>
#include <string>
#include <type_traits>
#include <utility>

#if defined(LOGITLOSS_TORCH_OPS_DISPATCH)
#include <logitloss/dispatch.hpp>
#else
#include <logitloss/kernels.hpp>
#endif

#if defined(LOGITLOSS_TORCH_OPS_CUDA)
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "ops_cuda.hpp"
#endif

namespace logitloss {
namespace torch_ops {
namespace {

// The CPU kernels: the runtime-dispatch library (the widest SIMD path this
// CPU has, whatever -march this file is built with) when it is built, else
// the header templates for this file's own target.
#if defined(LOGITLOSS_TORCH_OPS_DISPATCH)
namespace kernels = logitloss::dispatch;
#else
namespace kernels = logitloss;
#endif

using torch::Tensor;

constexpr const char* sigmoid_name = "logitloss::torch_ops::sigmoid";
constexpr const char* bce_name = "logitloss::torch_ops::binary_cross_entropy";
constexpr const char* logits_name = "logitloss::torch_ops::binary_cross_entropy_with_logits";

void check_dtype(const char* fn, const char* what, const Tensor& t) {
    TORCH_CHECK(t.defined(), fn, ": ", what, " is an undefined tensor");
    const auto st = t.scalar_type();
    TORCH_CHECK(st == at::kFloat || st == at::kDouble, fn, ": ", what, " has dtype ", st,
                "; only float32 (Float) and float64 (Double) are supported");
}

void check_device(const char* fn, const Tensor& input) {
    TORCH_CHECK(input.device().is_cpu() || input.device().is_cuda(), fn, ": input is on ", input.device(),
                "; only CPU and CUDA tensors are supported");
#if !defined(LOGITLOSS_TORCH_OPS_CUDA)
    TORCH_CHECK(!input.device().is_cuda(), fn,
                ": input is a CUDA tensor, but this build of logitloss_torch_ops has no CUDA path "
                "(configure with -DLOGITLOSS_EXPERIMENTS_CUDA=ON against a CUDA LibTorch)");
#endif
}

// A tensor that goes with the input: same dtype, same device.
void check_companion(const char* fn, const char* what, const Tensor& t, const Tensor& input) {
    TORCH_CHECK(t.scalar_type() == input.scalar_type(), fn, ": ", what, " has dtype ", t.scalar_type(),
                " but input has dtype ", input.scalar_type(), "; they must be the same");
    TORCH_CHECK(t.device() == input.device(), fn, ": ", what, " is on ", t.device(), " but input is on ",
                input.device());
}

void check_no_grad(const char* fn, const char* what, const Tensor& t) {
    TORCH_CHECK(!t.defined() || !t.requires_grad(), fn, ": gradients with respect to ", what,
                " are not implemented; pass a ", what, " that does not require grad (detach it)");
}

bool present(const c10::optional<Tensor>& t) { return t.has_value() && t->defined(); }

// Whether `from` broadcasts to `to` without enlarging it: trailing sizes
// equal or 1, and no more dimensions than `to`.
bool broadcasts_to(c10::IntArrayRef from, c10::IntArrayRef to) {
    if (from.size() > to.size()) return false;
    for (std::size_t i = 1; i <= from.size(); ++i) {
        const auto f = from[from.size() - i], t = to[to.size() - i];
        if (f != t && f != 1) return false;
    }
    return true;
}

// pos_weight as the kernels take it: one value, or one per class of the
// last dimension (element i of the contiguous input is class i % C).
Tensor pos_weight_classes(const char* fn, const Tensor& pw, const Tensor& input) {
    const auto dims = pw.dim();
    if (pw.numel() == 1 && dims <= std::max<int64_t>(input.dim(), 1)) return pw.reshape({1}).contiguous();
    bool per_class = input.dim() >= 1 && dims >= 1 && dims <= input.dim() && pw.size(-1) == input.size(-1);
    for (int64_t d = 0; per_class && d + 1 < dims; ++d) per_class = pw.size(d) == 1;
    TORCH_CHECK(per_class, fn, ": pos_weight of shape ", pw.sizes(), " is not supported for input of shape ",
                input.sizes(), ": give one value (shape [] or [1]) or one per class (shape [C] with C = input.size(-1)",
                input.dim() >= 1 ? " = " + std::to_string(input.size(-1)) : std::string(), ")");
    return pw.reshape({pw.size(-1)}).contiguous();
}

// The arguments of a loss call, checked and laid out for the kernels:
// contiguous, weight expanded to the input's shape, pos_weight 1-D.
struct prepared {
    Tensor x, y, w, pw;
    reduction reduce = reduction::mean;
    bool check = true;
};

prepared prepare(const char* fn, bool logits, const Tensor& input, const Tensor& target,
                 const c10::optional<Tensor>& weight, const c10::optional<Tensor>& pos_weight, reduction reduce,
                 bool check) {
    check_dtype(fn, "input", input);
    check_device(fn, input);
    TORCH_CHECK(target.defined(), fn, ": target is an undefined tensor");
    check_companion(fn, "target", target, input);
    TORCH_CHECK(target.sizes() == input.sizes(), fn, ": target has shape ", target.sizes(), " but input has shape ",
                input.sizes(), "; they must be the same");
    prepared a;
    a.x = input.contiguous();
    a.y = target.contiguous();
    a.reduce = reduce;
    a.check = check;
    if (present(weight)) {
        const Tensor& w = *weight;
        check_companion(fn, "weight", w, input);
        TORCH_CHECK(broadcasts_to(w.sizes(), input.sizes()), fn, ": weight of shape ", w.sizes(),
                    " does not broadcast to the input's shape ", input.sizes());
        a.w = w.expand(input.sizes()).contiguous();
    }
    if (present(pos_weight)) {
        TORCH_CHECK(logits, fn, ": pos_weight applies to binary_cross_entropy_with_logits only");
        check_companion(fn, "pos_weight", *pos_weight, input);
        a.pw = pos_weight_classes(fn, *pos_weight, input);
    }
    return a;
}

struct loss_out {
    Tensor loss;  // the input's shape (none) or a 0-dim tensor
    Tensor grad;  // d(loss)/d(input), weights and the mean's 1/n included; undefined unless asked for
};

logitloss::reduction cpu_reduction(reduction r) {
    return r == reduction::none ? logitloss::reduction::none
           : r == reduction::sum ? logitloss::reduction::sum
                                 : logitloss::reduction::mean;
}

template <class T>
loss_out cpu_loss(const char* fn, bool logits, const prepared& a, bool want_grad) {
    const auto n = static_cast<std::size_t>(a.x.numel());
    logitloss::options<T> o;
    o.reduce = cpu_reduction(a.reduce);
    if (a.w.defined()) o.weight = {a.w.data_ptr<T>(), n};
    if (a.pw.defined()) o.pos_weight = {a.pw.data_ptr<T>(), static_cast<std::size_t>(a.pw.numel())};
    // The kernels' sums have the same bits for every thread count, so
    // torch's thread setting is followed freely.
    o.threads = static_cast<std::size_t>(std::max(1, at::get_num_threads()));
    o.check = a.check;
    loss_out r;
    if (a.reduce == reduction::none) {
        r.loss = at::empty(a.x.sizes(), a.x.options());
        o.losses = {r.loss.data_ptr<T>(), n};
    }
    if (want_grad) r.grad = at::empty(a.x.sizes(), a.x.options());
    const T* x = a.x.data_ptr<T>();
    const T* y = a.y.data_ptr<T>();
    T value = T(0);
    try {
        if (logits)
            value = want_grad ? kernels::bce_with_logits_forward_backward(x, y, n, r.grad.data_ptr<T>(), o)
                              : kernels::bce_with_logits_forward(x, y, n, o);
        else
            value = want_grad ? kernels::bce_forward_backward(x, y, n, r.grad.data_ptr<T>(), o)
                              : kernels::bce_forward(x, y, n, o);
    } catch (const logitloss::error& e) {
        TORCH_CHECK(false, fn, ": ", e.what());
    }
    if (a.reduce != reduction::none) r.loss = at::scalar_tensor(value, a.x.options());
    return r;
}

#if defined(LOGITLOSS_TORCH_OPS_CUDA)
CUstream_st* current_stream() { return c10::cuda::getCurrentCUDAStream().stream(); }

// Whether the current stream is being captured into a CUDA graph. A failed
// query is an error of fn's (the runtime may be reporting an earlier
// asynchronous failure there; it is not swallowed), cleared like the CUDA
// kernels' own runtime errors (cuda.cuh, check_cuda).
bool capturing(const char* fn) {
    cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
    const cudaError_t queried = cudaStreamIsCapturing(current_stream(), &capture);
    if (queried != cudaSuccess) {
        static_cast<void>(cudaGetLastError());
        TORCH_CHECK(false, fn, ": cudaStreamIsCapturing failed: ", cudaGetErrorName(queried), " (",
                    cudaGetErrorString(queried), ")");
    }
    return capture != cudaStreamCaptureStatusNone;
}

// call(T{}, stream) for the dtype T of t (float or double), on t's device
// and its current stream; a logitloss::cuda error becomes fn's c10::Error.
template <class F>
void on_cuda(const char* fn, const Tensor& t, F&& call) {
    const c10::cuda::CUDAGuard guard(t.device());
    try {
        if (t.scalar_type() == at::kDouble)
            call(double{}, current_stream());
        else
            call(float{}, current_stream());
    } catch (const std::exception& e) {
        TORCH_CHECK(false, fn, ": ", e.what());
    }
}

template <class T>
loss_out cuda_loss(const char* fn, bool logits, const prepared& a, bool want_grad) {
    const c10::cuda::CUDAGuard guard(a.x.device());
    const auto n = static_cast<std::size_t>(a.x.numel());
    cuda_impl::loss_call<T> c;
    c.kind = logits ? cuda_impl::inputs::logits : cuda_impl::inputs::probabilities;
    c.x = a.x.data_ptr<T>();
    c.y = a.y.data_ptr<T>();
    c.n = n;
    if (a.w.defined()) c.weight = a.w.data_ptr<T>();
    if (a.pw.defined()) {
        c.pos_weight = a.pw.data_ptr<T>();
        c.classes = static_cast<std::size_t>(a.pw.numel());
    }
    c.reduction = a.reduce == reduction::none ? cuda_impl::reduce::none
                  : a.reduce == reduction::sum ? cuda_impl::reduce::sum
                                               : cuda_impl::reduce::mean;
    loss_out r;
    Tensor workspace, scratch;
    if (a.reduce == reduction::none) {
        r.loss = at::empty(a.x.sizes(), a.x.options());
        c.losses = r.loss.data_ptr<T>();
    } else {
        r.loss = at::empty({}, a.x.options());
        c.result = r.loss.data_ptr<T>();
        // From torch's caching allocator, on the current stream: released
        // for reuse by later work on that stream only, after the kernels.
        const std::size_t bytes = cuda_impl::workspace_bytes(n, std::is_same<T, double>::value);
        if (bytes > 0) {
            workspace = at::empty({static_cast<int64_t>(bytes)}, a.x.options().dtype(at::kByte));
            c.workspace = workspace.data_ptr();
            c.workspace_bytes = bytes;
        }
    }
    if (want_grad) {
        r.grad = at::empty(a.x.sizes(), a.x.options());
        c.grad = r.grad.data_ptr<T>();
    }
    if (a.check) {
        // The check waits for its answer (a copy to the host), which a
        // capture does not allow: a clear error instead of the runtime's.
        TORCH_CHECK(!capturing(fn), fn,
                    ": check = true reads its answer back to the host, which is not allowed while the stream is "
                    "captured into a CUDA graph; pass check = false to capture the loss");
        scratch = at::empty({2}, a.x.options().dtype(at::kLong));
        c.check_scratch = static_cast<unsigned long long*>(scratch.data_ptr());
    }
    c.stream = current_stream();
    try {
        cuda_impl::loss(c);
    } catch (const std::exception& e) {
        TORCH_CHECK(false, fn, ": ", e.what());
    }
    return r;
}
#endif

loss_out run_loss(const char* fn, bool logits, const prepared& a, bool want_grad) {
    const bool is_double = a.x.scalar_type() == at::kDouble;
#if defined(LOGITLOSS_TORCH_OPS_CUDA)
    if (a.x.is_cuda())
        return is_double ? cuda_loss<double>(fn, logits, a, want_grad) : cuda_loss<float>(fn, logits, a, want_grad);
#endif
    return is_double ? cpu_loss<double>(fn, logits, a, want_grad) : cpu_loss<float>(fn, logits, a, want_grad);
}

// sigmoid of a contiguous tensor.
Tensor sigmoid_of(const Tensor& x) {
    Tensor out = at::empty(x.sizes(), x.options());
    const auto n = static_cast<std::size_t>(x.numel());
#if defined(LOGITLOSS_TORCH_OPS_CUDA)
    if (x.is_cuda()) {
        on_cuda(sigmoid_name, x, [&](auto zero, CUstream_st* stream) {
            using T = decltype(zero);
            cuda_impl::sigmoid(x.data_ptr<T>(), n, out.data_ptr<T>(), stream);
        });
        return out;
    }
#endif
    if (x.scalar_type() == at::kDouble)
        kernels::sigmoid(x.data_ptr<double>(), n, out.data_ptr<double>());
    else
        kernels::sigmoid(x.data_ptr<float>(), n, out.data_ptr<float>());
    return out;
}

// grad * sigmoid'(x), x contiguous: the array sigmoid_backward (CUDA
// kernel on the GPU), the same element-wise formula on either device.
Tensor sigmoid_backward_of(const Tensor& x, const Tensor& grad) {
    const Tensor g = grad.to(x.scalar_type()).contiguous();
    Tensor out = at::empty(x.sizes(), x.options());
    const auto n = static_cast<std::size_t>(x.numel());
#if defined(LOGITLOSS_TORCH_OPS_CUDA)
    if (x.is_cuda()) {
        on_cuda(sigmoid_name, x, [&](auto zero, CUstream_st* stream) {
            using T = decltype(zero);
            cuda_impl::sigmoid_backward(x.data_ptr<T>(), g.data_ptr<T>(), n, out.data_ptr<T>(), stream);
        });
        return out;
    }
#endif
    if (x.scalar_type() == at::kDouble)
        kernels::sigmoid_backward(x.data_ptr<double>(), g.data_ptr<double>(), n, out.data_ptr<double>());
    else
        kernels::sigmoid_backward(x.data_ptr<float>(), g.data_ptr<float>(), n, out.data_ptr<float>());
    return out;
}

void check_not_double_backward(const char* fn) {
    // Backward runs with grad mode on only under create_graph = true; the
    // saved gradient carries no graph, so a second derivative would be
    // silently wrong.
    TORCH_CHECK(!torch::GradMode::is_enabled(), fn,
                ": double backward (create_graph = true) is not supported; backward is not differentiable");
}

// Whether backward may hand out the saved gradient itself, scaled in place
// by grad_output: a 0-dim grad_output of the saved gradient's dtype and
// device (the loss was reduced; loss.backward() passes 1) in a backward that
// does not retain the graph. The saved gradient is released after such a
// backward, so whatever autograd hands it on to (.grad, through views too,
// or autograd::grad's caller) is its only user; with a retained graph the
// next backward still needs it unchanged.
bool may_reuse_saved(const Tensor& grad_output, const Tensor& saved) {
    return grad_output.dim() == 0 && grad_output.scalar_type() == saved.scalar_type() &&
           grad_output.device() == saved.device() && !torch::autograd::get_current_graph_task_keep_graph();
}

// saved *= grad_output (0-dim), where a grad_output of 1 leaves every
// element as it is (x * 1 == x, bit for bit) and so is not applied: on the
// CPU its value is read; on CUDA a kernel reads it on the device and returns
// at once when it is 1, so that the host waits for nothing (reading it on
// the host would be a copy and a synchronization, which also a capture into
// a CUDA graph does not allow).
void scale_in_place(const char* fn, Tensor& saved, const Tensor& grad_output) {
#if defined(LOGITLOSS_TORCH_OPS_CUDA)
    if (saved.is_cuda()) {
        const auto n = static_cast<std::size_t>(saved.numel());
        on_cuda(fn, saved, [&](auto zero, CUstream_st* stream) {
            using T = decltype(zero);
            cuda_impl::scale(saved.data_ptr<T>(), n, grad_output.data_ptr<T>(), stream);
        });
        return;
    }
#else
    static_cast<void>(fn);
#endif
    if (grad_output.item<double>() != 1.0) saved.mul_(grad_output);
}

// The saved gradient times grad_output: elementwise for reduction none
// (grad_output has the input's shape), and by the 0-dim grad_output
// otherwise, in place where may_reuse_saved allows it, so that backward
// allocates nothing and, for a grad_output of 1, does not read and write
// every element once more.
torch::autograd::variable_list loss_backward(const char* fn, torch::autograd::AutogradContext* ctx,
                                             const torch::autograd::variable_list& grad_outputs,
                                             std::size_t forward_arguments) {
    check_not_double_backward(fn);
    auto saved = ctx->get_saved_variables();
    TORCH_CHECK(saved.size() == 1 && saved[0].defined(), fn, ": backward without a saved gradient");
    torch::autograd::variable_list grads(forward_arguments);
    const Tensor& g = grad_outputs.at(0);
    if (may_reuse_saved(g, saved[0])) {
        scale_in_place(fn, saved[0], g);
        grads[0] = saved[0];
    } else {
        grads[0] = saved[0] * g;
    }
    return grads;
}

}  // namespace

reduction parse_reduction(std::string_view name) {
    if (name == "none") return reduction::none;
    if (name == "sum") return reduction::sum;
    TORCH_CHECK(name == "mean", "logitloss::torch_ops: reduction must be \"none\", \"sum\" or \"mean\", got \"",
                std::string(name), "\"");
    return reduction::mean;
}

bool cuda_enabled() noexcept {
#if defined(LOGITLOSS_TORCH_OPS_CUDA)
    return true;
#else
    return false;
#endif
}

// ---- Sigmoid ---------------------------------------------------------------

Tensor Sigmoid::forward(torch::autograd::AutogradContext* ctx, const Tensor& input) {
    check_dtype(sigmoid_name, "input", input);
    check_device(sigmoid_name, input);
    const Tensor x = input.contiguous();
    // The input, not the output, is saved: the gradient's tail needs
    // sigmoid(-x), which the rounded output no longer holds.
    ctx->save_for_backward({x});
    return sigmoid_of(x);
}

torch::autograd::variable_list Sigmoid::backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    check_not_double_backward(sigmoid_name);
    const auto saved = ctx->get_saved_variables();
    return {sigmoid_backward_of(saved.at(0), grad_outputs.at(0))};
}

Tensor sigmoid(const Tensor& input) {
    if (torch::GradMode::is_enabled() && input.defined() && input.requires_grad()) return Sigmoid::apply(input);
    check_dtype(sigmoid_name, "input", input);
    check_device(sigmoid_name, input);
    return sigmoid_of(input.contiguous());
}

// ---- Sigmoid with ATen's semantics ------------------------------------------

namespace {

constexpr const char* sigmoid_aten_name = "logitloss::torch_ops::sigmoid_aten";

void check_aten_device(const Tensor& input) {
    // Both directions run on ATen's kernels on CUDA, so a build without the
    // CUDA path still takes CUDA tensors here.
    TORCH_CHECK(input.device().is_cpu() || input.device().is_cuda(), sigmoid_aten_name, ": input is on ",
                input.device(), "; only CPU and CUDA tensors are supported");
}

// ATen's sigmoid_backward on the CPU is grad * (1 - y) * y, evaluated left to
// right with every product rounded (its vectorised and scalar paths alike).
// Written out here so that the test proves the formula, not a call to it;
// there is no a*b+c for the compiler to contract into an fma.
template <class T>
void aten_sigmoid_backward(const T* grad, const T* y, T* out, std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) out[i] = grad[i] * (T(1) - y[i]) * y[i];
}

Tensor aten_sigmoid_backward_of(const Tensor& y, const Tensor& grad) {
    const Tensor g = grad.to(y.scalar_type()).contiguous();
    if (y.is_cuda()) return g * (1 - y) * y;  // ATen's kernels, in the CUDA kernel's order
    Tensor out = at::empty(y.sizes(), y.options());
    // Elementwise: the thread count changes no bit.
    at::parallel_for(0, y.numel(), 1 << 15, [&](std::int64_t begin, std::int64_t end) {
        if (y.scalar_type() == at::kDouble)
            aten_sigmoid_backward(g.data_ptr<double>(), y.data_ptr<double>(), out.data_ptr<double>(), begin, end);
        else
            aten_sigmoid_backward(g.data_ptr<float>(), y.data_ptr<float>(), out.data_ptr<float>(), begin, end);
    });
    return out;
}

}  // namespace

Tensor SigmoidATen::forward(torch::autograd::AutogradContext* ctx, const Tensor& input) {
    check_dtype(sigmoid_aten_name, "input", input);
    check_aten_device(input);
    // The output is saved, as ATen saves it: its rounding to 0 or 1 is what
    // makes the gradient vanish.
    Tensor y = at::sigmoid(input.contiguous());
    ctx->save_for_backward({y});
    return y;
}

torch::autograd::variable_list SigmoidATen::backward(torch::autograd::AutogradContext* ctx,
                                                     torch::autograd::variable_list grad_outputs) {
    check_not_double_backward(sigmoid_aten_name);
    const auto saved = ctx->get_saved_variables();
    const Tensor& grad = grad_outputs.at(0);
    if (!grad.defined()) return {Tensor()};
    return {aten_sigmoid_backward_of(saved.at(0), grad)};
}

Tensor sigmoid_aten(const Tensor& input) {
    if (torch::GradMode::is_enabled() && input.defined() && input.requires_grad()) return SigmoidATen::apply(input);
    check_dtype(sigmoid_aten_name, "input", input);
    check_aten_device(input);
    return at::sigmoid(input.contiguous());
}

// ---- BCE on probabilities --------------------------------------------------

Tensor BCE::forward(torch::autograd::AutogradContext* ctx, const Tensor& input, const Tensor& target,
                    const c10::optional<Tensor>& weight, reduction reduce, bool check) {
    check_no_grad(bce_name, "target", target);
    if (present(weight)) check_no_grad(bce_name, "weight", *weight);
    const prepared a = prepare(bce_name, false, input, target, weight, c10::nullopt, reduce, check);
    const bool want_grad = input.requires_grad();
    loss_out r = run_loss(bce_name, false, a, want_grad);
    if (want_grad) ctx->save_for_backward({r.grad});
    return r.loss;
}

torch::autograd::variable_list BCE::backward(torch::autograd::AutogradContext* ctx,
                                             torch::autograd::variable_list grad_outputs) {
    return loss_backward(bce_name, ctx, grad_outputs, 5);
}

Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const c10::optional<Tensor>& weight,
                            std::string_view reduction_name, bool check) {
    const reduction reduce = parse_reduction(reduction_name);
    if (torch::GradMode::is_enabled()) {
        check_no_grad(bce_name, "target", target);
        if (present(weight)) check_no_grad(bce_name, "weight", *weight);
        if (input.defined() && input.requires_grad()) return BCE::apply(input, target, weight, reduce, check);
    }
    return run_loss(bce_name, false, prepare(bce_name, false, input, target, weight, c10::nullopt, reduce, check),
                    false)
        .loss;
}

// ---- BCE with logits ---------------------------------------------------------

Tensor BCEWithLogits::forward(torch::autograd::AutogradContext* ctx, const Tensor& input, const Tensor& target,
                              const c10::optional<Tensor>& weight, const c10::optional<Tensor>& pos_weight,
                              reduction reduce, bool check) {
    check_no_grad(logits_name, "target", target);
    if (present(weight)) check_no_grad(logits_name, "weight", *weight);
    if (present(pos_weight)) check_no_grad(logits_name, "pos_weight", *pos_weight);
    const prepared a = prepare(logits_name, true, input, target, weight, pos_weight, reduce, check);
    const bool want_grad = input.requires_grad();
    loss_out r = run_loss(logits_name, true, a, want_grad);
    if (want_grad) ctx->save_for_backward({r.grad});
    return r.loss;
}

torch::autograd::variable_list BCEWithLogits::backward(torch::autograd::AutogradContext* ctx,
                                                       torch::autograd::variable_list grad_outputs) {
    return loss_backward(logits_name, ctx, grad_outputs, 6);
}

Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                        const c10::optional<Tensor>& weight,
                                        const c10::optional<Tensor>& pos_weight, std::string_view reduction_name,
                                        bool check) {
    const reduction reduce = parse_reduction(reduction_name);
    if (torch::GradMode::is_enabled()) {
        check_no_grad(logits_name, "target", target);
        if (present(weight)) check_no_grad(logits_name, "weight", *weight);
        if (present(pos_weight)) check_no_grad(logits_name, "pos_weight", *pos_weight);
        if (input.defined() && input.requires_grad())
            return BCEWithLogits::apply(input, target, weight, pos_weight, reduce, check);
    }
    return run_loss(logits_name, true, prepare(logits_name, true, input, target, weight, pos_weight, reduce, check),
                    false)
        .loss;
}

loss_and_grad bce_with_logits_and_grad(const Tensor& input, const Tensor& target, const c10::optional<Tensor>& weight,
                                       const c10::optional<Tensor>& pos_weight, std::string_view reduction_name,
                                       bool check) {
    const torch::NoGradGuard no_graph;  // nothing recorded, a .contiguous() copy included
    const prepared a =
        prepare(logits_name, true, input, target, weight, pos_weight, parse_reduction(reduction_name), check);
    loss_out r = run_loss(logits_name, true, a, true);
    return {std::move(r.loss), std::move(r.grad)};
}

}  // namespace torch_ops
}  // namespace logitloss
