#include "vgg16.hpp"

#include <cmath>
#include <stdexcept>

namespace logitloss::experiments {

init parse_init(const std::string& name) {
    if (name == "raschka") return init::raschka;
    if (name == "proper") return init::proper;
    if (name == "torch" || name == "default") return init::torch;
    throw std::invalid_argument("unknown initialisation '" + name + "' (raschka, proper or torch)");
}

const char* init_name(init i) {
    switch (i) {
        case init::raschka: return "raschka";
        case init::proper: return "proper";
        case init::torch: return "torch";
    }
    return "?";
}

namespace {

std::int64_t scaled(std::int64_t channels, double width) {
    return std::max<std::int64_t>(1, static_cast<std::int64_t>(std::lround(static_cast<double>(channels) * width)));
}

void check(const vgg16_options& o) {
    if (!(o.width > 0) || !std::isfinite(o.width))
        throw std::invalid_argument("VGG16: width must be a positive number, got " + std::to_string(o.width));
    if (o.input_size < 32 || o.input_size % 32 != 0)
        throw std::invalid_argument("VGG16: input_size must be a positive multiple of 32 (five 2x2 pools), got " +
                                    std::to_string(o.input_size));
    if (!(o.dropout >= 0 && o.dropout < 1))
        throw std::invalid_argument("VGG16: dropout must be in [0, 1), got " + std::to_string(o.dropout));
}

// Weights of a layer followed by a ReLU (last = false) or of the last layer.
void init_layer(torch::Tensor& w, torch::Tensor& b, init i, bool last) {
    torch::NoGradGuard no_grad;
    if (i == init::torch) return;
    if (i == init::raschka) {
        torch::nn::init::normal_(w, 0.0, 0.05);
    } else if (last) {
        torch::nn::init::xavier_uniform_(w);
    } else {
        torch::nn::init::kaiming_normal_(w, 0.0, torch::kFanIn, torch::kReLU);
    }
    torch::nn::init::zeros_(b);
}

}  // namespace

VGG16Impl::VGG16Impl(const vgg16_options& options) : options_(options) {
    check(options_);
    const std::int64_t blocks[5][2] = {{64, 2}, {128, 2}, {256, 3}, {512, 3}, {512, 3}};  // channels, convolutions
    features_ = register_module("features", torch::nn::Sequential());
    std::int64_t in = 3;
    for (int b = 0; b < 5; ++b) {
        const std::int64_t out = scaled(blocks[b][0], options_.width);
        for (int c = 0; c < blocks[b][1]; ++c) {
            auto conv = torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).padding(1));
            init_layer(conv->weight, conv->bias, options_.initialization, false);
            features_->push_back(conv);
            convs_.emplace_back("conv" + std::to_string(b + 1) + "_" + std::to_string(c + 1), conv);
            if (options_.batch_norm) features_->push_back(torch::nn::BatchNorm2d(out));
            features_->push_back(torch::nn::ReLU(torch::nn::ReLUOptions(true)));
            in = out;
        }
        features_->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2).stride(2)));
    }
    const std::int64_t side = options_.input_size / 32;
    const std::int64_t flat = in * side * side;  // 512 * 4 * 4 = 8192 for the full model
    const std::int64_t hidden = scaled(4096, options_.width);
    fc1_ = register_module("fc1", torch::nn::Linear(flat, hidden));
    fc2_ = register_module("fc2", torch::nn::Linear(hidden, hidden));
    out_ = register_module("fc3", torch::nn::Linear(hidden, 1));
    drop1_ = register_module("drop1", torch::nn::Dropout(options_.dropout));
    drop2_ = register_module("drop2", torch::nn::Dropout(options_.dropout));
    init_layer(fc1_->weight, fc1_->bias, options_.initialization, false);
    init_layer(fc2_->weight, fc2_->bias, options_.initialization, false);
    init_layer(out_->weight, out_->bias, options_.initialization, true);
}

torch::Tensor VGG16Impl::forward(torch::Tensor x) {
    TORCH_CHECK(x.dim() == 4 && x.size(1) == 3 && x.size(2) == options_.input_size &&
                    x.size(3) == options_.input_size,
                "VGG16: expected input [N, 3, ", options_.input_size, ", ", options_.input_size, "], got ",
                x.sizes());
    x = features_->forward(x).flatten(1);
    x = drop1_(torch::relu(fc1_(x)));
    x = drop2_(torch::relu(fc2_(x)));
    return out_(x);
}

std::vector<std::pair<std::string, torch::Tensor>> VGG16Impl::layer_weights() const {
    std::vector<std::pair<std::string, torch::Tensor>> w;
    for (const auto& [name, conv] : convs_) w.emplace_back(name, conv->weight);
    w.emplace_back("fc1", fc1_->weight);
    w.emplace_back("fc2", fc2_->weight);
    w.emplace_back("fc3", out_->weight);
    return w;
}

std::int64_t parameter_count(const torch::nn::Module& m) {
    std::int64_t n = 0;
    for (const auto& p : m.parameters()) n += p.numel();
    return n;
}

}  // namespace logitloss::experiments
