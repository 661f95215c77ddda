// model/vgg16.hpp — the VGG16 of the original CelebA experiment, as a
// LibTorch module: 13 3x3 convolutions (padding 1) in five blocks
// 64,64 | 128,128 | 256x3 | 512x3 | 512x3, each block ending in a 2x2 max
// pool, no adaptive pooling; classifier 8192 -> 4096 -> 4096 -> 1 with ReLU
// and Dropout(0.5) after each hidden layer; 128x128 RGB input; one logit out.
// A BatchNorm variant (BatchNorm2d after every convolution, before its ReLU)
// and three initialisations. A width multiplier and the input size give
// small models for tests on CPU.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

namespace logitloss::experiments {

// raschka: every convolution and linear weight from N(0, 0.05), biases 0
//          (the original experiment).
// proper:  Kaiming normal (fan in, ReLU gain) for the layers followed by a
//          ReLU, Xavier uniform for the last layer, biases 0.
// torch:   LibTorch's own defaults.
enum class init { raschka, proper, torch };

init parse_init(const std::string& name);  // "raschka", "proper", "torch" (or "default")
const char* init_name(init i);

struct vgg16_options {
    double width = 1.0;       // multiplies every channel count and the hidden width (each at least 1)
    int input_size = 128;     // square input side; a multiple of 32 (five 2x2 pools)
    bool batch_norm = false;  // BatchNorm2d after each convolution
    init initialization = init::raschka;
    double dropout = 0.5;
};

class VGG16Impl : public torch::nn::Module {
public:
    explicit VGG16Impl(const vgg16_options& options = {});

    // x: [N, 3, input_size, input_size] -> logits [N, 1].
    torch::Tensor forward(torch::Tensor x);

    // The final linear layer (its gradient norm is the lock-step study's
    // measure of a dead loss).
    torch::nn::Linear& last() { return out_; }
    const vgg16_options& options() const { return options_; }

    // The weight tensors of the 13 convolutions and 3 linear layers in
    // forward order, named conv1_1 ... conv5_3, fc1, fc2, fc3.
    std::vector<std::pair<std::string, torch::Tensor>> layer_weights() const;

private:
    vgg16_options options_;
    torch::nn::Sequential features_{nullptr};
    torch::nn::Linear fc1_{nullptr}, fc2_{nullptr}, out_{nullptr};
    torch::nn::Dropout drop1_{nullptr}, drop2_{nullptr};
    std::vector<std::pair<std::string, torch::nn::Conv2d>> convs_;
};
TORCH_MODULE(VGG16);

// Parameters of a module (trainable and not counted apart: all).
std::int64_t parameter_count(const torch::nn::Module& m);

}  // namespace logitloss::experiments
