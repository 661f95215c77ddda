// logitloss/detail/kernel_abi.hpp — the plain data that crosses between the
// translation units of the runtime-dispatch library: the arguments of one
// block of a loss kernel, its partial sum, and the table of one SIMD path's
// kernels. Deliberately outside LOGITLOSS_ABI_TAG (see config.hpp) and free
// of member functions: every path and its dispatcher see the same types, and
// no code is emitted for them.
#pragma once

#include <cstddef>

namespace logitloss {
namespace kernel_abi {

// A partial sum hi + lo in double-word arithmetic. hi alone is the plain
// sum, which carries inf and NaN (lo is meaningless then).
struct double_word {
    double hi;
    double lo;
};

// Everything a loss block needs besides its element range; the arrays are
// the caller's (validated) arrays.
template <class T>
struct loss_params {
    const T* x;           // logits or probabilities
    const T* y;           // targets
    const T* weight;      // null: no weight
    const T* pos_weight;  // classes values (classes == 0: none)
    std::size_t classes;
    T* grad;              // null unless the gradient is wanted
    T* losses;            // reduction::none: the per-element losses
    bool none;            // reduction::none
    bool mean;            // reduction::mean (the gradient is scaled)
    double inv_n;         // 1/n for the float mean's gradient, else 1
    T divisor;            // n for the double mean's gradient, else 1
    T pad_x;              // input padding of the tail (a finite loss)
};

// Elements [begin, end) of one block: writes the gradient and (none) the
// losses, returns the block's partial sum (zero with none).
template <class T>
using loss_block_fn = double_word (*)(const loss_params<T>&, std::size_t begin, std::size_t end);

// out[i] = f(x[i]), i < n.
template <class T>
using map_fn = void (*)(const T* x, std::size_t n, T* out);

// out[i] = f(a[i], b[i]), i < n.
template <class T>
using map2_fn = void (*)(const T* a, const T* b, std::size_t n, T* out);

// Whether every p[i], i < n, is in [0, 1] (unit) or finite and >= 0 (not
// unit: a weight); NaN is neither. The value checks' fast pass.
template <class T>
using in_range_fn = bool (*)(const T* p, std::size_t n, bool unit);

// The loss kernels of one path, indexed by loss_kind.
enum loss_kind : unsigned {
    logits_value,            // bce_with_logits, forward, with pos_weight
    logits_value_unit,       //   ... without pos_weight
    logits_value_and_grad,   // bce_with_logits, forward and backward, with pos_weight
    logits_value_and_grad_unit,
    probabilities_value,     // bce on probabilities, forward
    probabilities_value_and_grad,
    loss_kind_count
};

template <class T>
struct kernel_table {
    loss_block_fn<T> loss[loss_kind_count];
    map_fn<T> sigmoid;
    map2_fn<T> sigmoid_backward;  // (x, grad_out, n, grad_in)
    map_fn<T> softplus;
    map_fn<T> log_sigmoid;
    in_range_fn<T> in_range;
};

// One compiled SIMD path.
struct arch_kernels {
    const char* name;
    kernel_table<float> f32;
    kernel_table<double> f64;
};

}  // namespace kernel_abi
}  // namespace logitloss
