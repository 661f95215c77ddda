// The VGG16 of the experiment: its shape (65,058,625 parameters, as the
// original reports 65.1M), the BatchNorm variant, the three
// initialisations, the small test models and the errors.
#include "model/vgg16.hpp"

#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include "doctest_torch.hpp"

namespace le = logitloss::experiments;

TEST_CASE("vgg16: the full model has the original's layers and parameter count") {
    torch::manual_seed(0);
    le::VGG16 m(le::vgg16_options{});
    // 13 convolutions 14,714,688 + fc 8192*4096+4096, 4096*4096+4096, 4096+1.
    CHECK(le::parameter_count(*m) == 65058625);
    const auto w = m->layer_weights();
    REQUIRE(w.size() == 16);
    CHECK(w.front().first == "conv1_1");
    CHECK(w[12].first == "conv5_3");
    CHECK(w.back().first == "fc3");
    CHECK(w[13].second.sizes() == torch::IntArrayRef({4096, 8192}));
    CHECK(m->last()->weight.sizes() == torch::IntArrayRef({1, 4096}));
}

TEST_CASE("vgg16: BatchNorm after each convolution adds 2 parameters per channel") {
    le::vgg16_options o;
    o.batch_norm = true;
    le::VGG16 m(o);
    const std::int64_t channels = 2 * 64 + 2 * 128 + 3 * 256 + 6 * 512;
    CHECK(le::parameter_count(*m) == 65058625 + 2 * channels);
}

TEST_CASE("vgg16: a small model runs forward and backward to one logit per image") {
    torch::manual_seed(1);
    le::vgg16_options o;
    o.width = 1.0 / 16;
    o.input_size = 32;
    for (bool bn : {false, true}) {
        o.batch_norm = bn;
        le::VGG16 m(o);
        const auto x = torch::randn({5, 3, 32, 32});
        const auto y = m->forward(x);
        CHECK(y.sizes() == torch::IntArrayRef({5, 1}));
        y.sum().backward();
        CHECK(m->last()->weight.grad().defined());
        CHECK(m->layer_weights().front().second.grad().abs().sum().item<float>() > 0);
    }
}

TEST_CASE("vgg16: initialisations") {
    torch::manual_seed(2);
    le::vgg16_options o;
    o.width = 0.25;
    o.input_size = 64;
    SUBCASE("raschka: every weight N(0, 0.05), biases 0") {
        o.initialization = le::init::raschka;
        le::VGG16 m(o);
        for (const auto& [name, w] : m->layer_weights()) {
            if (w.numel() < 4000) continue;  // too few values for a tight estimate
            CHECK_MESSAGE(std::abs(w.std().item<double>() - 0.05) < 0.005, name);
            CHECK_MESSAGE(std::abs(w.mean().item<double>()) < 0.005, name);
        }
        for (const auto& p : m->named_parameters())
            if (p.key().find("bias") != std::string::npos) CHECK_MESSAGE(p.value().abs().max().item<double>() == 0, p.key());
    }
    SUBCASE("proper: Kaiming for the ReLU layers, Xavier for the last") {
        o.initialization = le::init::proper;
        le::VGG16 m(o);
        const auto w = m->layer_weights();
        // Kaiming normal, fan in, ReLU gain: std = sqrt(2 / fan_in).
        const auto& conv = w[4].second;  // conv3_1
        const double fan_in = static_cast<double>(conv.size(1) * conv.size(2) * conv.size(3));
        CHECK(std::abs(conv.std().item<double>() / std::sqrt(2.0 / fan_in) - 1) < 0.1);
        // Xavier uniform: |w| <= sqrt(6 / (fan_in + fan_out)).
        const auto& last = w.back().second;
        const double bound = std::sqrt(6.0 / static_cast<double>(last.size(0) + last.size(1)));
        CHECK(last.abs().max().item<double>() <= bound);
        CHECK(last.abs().max().item<double>() > 0.5 * bound);
    }
    SUBCASE("torch: LibTorch's defaults (uniform, not N(0, 0.05))") {
        o.initialization = le::init::torch;
        le::VGG16 m(o);
        const auto& conv = m->layer_weights()[4].second;
        const double fan_in = static_cast<double>(conv.size(1) * conv.size(2) * conv.size(3));
        CHECK(conv.abs().max().item<double>() <= 1.0 / std::sqrt(fan_in) + 1e-6);  // kaiming_uniform(a = sqrt 5)
    }
    CHECK(le::parse_init("default") == le::init::torch);
    CHECK_THROWS_AS(le::parse_init("xavier"), std::invalid_argument);
}

TEST_CASE("vgg16: bad options and inputs are clear errors") {
    le::vgg16_options o;
    o.input_size = 100;
    CHECK_THROWS_WITH_AS(le::VGG16{o}, doctest::Contains("multiple of 32"), std::invalid_argument);
    o.input_size = 32;
    o.width = 0;
    CHECK_THROWS_WITH_AS(le::VGG16{o}, doctest::Contains("width"), std::invalid_argument);
    o.width = 1.0 / 16;
    le::VGG16 m(o);
    CHECK_THROWS_WITH(m->forward(torch::zeros({2, 3, 64, 64})), doctest::Contains("expected input [N, 3, 32, 32]"));
}
