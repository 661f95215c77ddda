// studies/torch_common.hpp — the LibTorch side the studies share: the
// device, the data set held as tensors, the model, the two losses in their
// two implementations, statistics of a batch of logits, accuracy, and the
// deterministic random streams.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "model/vgg16.hpp"
#include "studies.hpp"

namespace logitloss::experiments::studies {

// Checks --device (cuda only when LibTorch sees a GPU, and --loss-impl ours
// on cuda only when logitloss_torch_ops has its CUDA path), applies --threads
// and the TF32 setting, and returns the device. On CUDA, cuDNN convolutions
// run in full float32 unless --tf32: LibTorch's own default allows TF32
// there, which would change the numbers this program is about.
// `ours` says whether the study will run logitloss_torch_ops's losses.
torch::Device setup_device(const settings& s, bool ours);

// Waits for the device's queued work (a no-op on the CPU).
void synchronize(const torch::Device& device);

// The L2 cache of CUDA device 0 in bytes; 0 where unknown (a build without
// the CUDA path, or on the CPU).
std::uint64_t cuda_l2_bytes(const torch::Device& device);

// Images [N, 3, S, S] in [-1, 1] and labels [N, 1] (0 or 1), on the device.
struct image_set {
    torch::Tensor images;
    torch::Tensor labels;
    std::size_t size() const { return images.defined() ? static_cast<std::size_t>(images.size(0)) : 0; }
};

struct data_sets {
    image_set train, test;
    std::filesystem::path root;
    std::size_t train_split = 0, test_split = 0;  // sizes of the splits on disk
    std::string description;                       // for the report header
};

// The folder the studies read: --data, written first with --synthetic N
// images when it holds no data set (default folder <out>/synthetic).
// Throws when there is neither.
std::filesystem::path data_folder(const settings& s);

// Decodes the first p.train_images images of the train split (and, when
// `with_test`, the first p.test_images of the test split) on worker threads,
// resized by area averaging from 128 to p.input when smaller, into tensors
// on the device. Decoding once keeps every run of a study on identical
// pixels at no further cost.
data_sets load_data(const settings& s, const plan& p, const torch::Device& device, bool with_test);

// The two losses of the experiment.
enum class loss_fn { bce_with_logits, sigmoid_bce };
const char* loss_label(loss_fn f);  // "BCEWithLogitsLoss", "Sigmoid+BCELoss"
const char* loss_key(loss_fn f);    // "bce_with_logits", "sigmoid_bce" (CSV)

// The mean loss of a batch. native: torch::sigmoid + torch::binary_cross_entropy,
// or torch::binary_cross_entropy_with_logits. ours: logitloss::torch_ops's
// sigmoid_aten (torch's sigmoid semantics, so that the dead gradient is
// reproduced, not repaired) + binary_cross_entropy, or
// binary_cross_entropy_with_logits.
torch::Tensor loss_of(loss_fn f, loss_impl impl, const torch::Tensor& logits, const torch::Tensor& targets);

// The VGG16 of the plan's size, with weights drawn from `seed`: the same
// seed gives the same weights, so two copies start identical.
VGG16 make_model(const plan& p, init initialization, bool batch_norm, std::uint64_t seed,
                 const torch::Device& device);

// Statistics of a batch of logits.
struct logit_stats {
    double mean = 0, std = 0;
    // |x| >= thresholds<float>::naive_sigmoid_one (16.6355): from there up
    // torch's float32 sigmoid is exactly 1 (the original investigation
    // counted |logit| > 17).
    double saturated_pct = 0;
    // In a dead zone of saturation<float>() (x >= 16.6355 or x <= -88.7228):
    // Sigmoid+BCELoss's gradient is exactly 0 whatever the target.
    double dead_pct = 0;
    double min = 0, max = 0;
    bool finite = true;
};
logit_stats stats_of(const torch::Tensor& logits);

// Test accuracy in percent (a logit > 0 predicts 1), in eval mode, restoring
// train mode after.
double accuracy(VGG16& model, const image_set& data, int batch);

// Deterministic streams: the batch order (a permutation of [0, n) per
// epoch, concatenated) and a seed per (run, step) for the dropout masks.
std::vector<std::int64_t> batch_order(std::size_t n, std::size_t count, std::uint64_t seed);
std::uint64_t mix_seed(std::uint64_t a, std::uint64_t b);

// "1e-3" for 0.001: learning rates as the original investigation wrote them.
std::string lr_text(double lr);

}  // namespace logitloss::experiments::studies
