// Gradients: finite-difference check of a tiny LGI-Former in double precision, the pre-train
// model's backward, a bf16 CPU autocast smoke run, and one forward+backward of the full base
// LGI-Former on a 16x160x160 clip.
#include <catch2/catch.hpp>

#include "dfer/models/build.h"
#include "dfer/models/mae_target.h"

#include <ATen/autocast_mode.h>

using namespace dfer::models;

namespace {

ModelSpec tiny_lgi() {
  ModelSpec s = released_finetune_spec(3);
  s.img_size = 16;
  s.patch_size = 8;
  s.num_frames = 4;
  s.embed_dim = 8;
  s.num_heads = 2;
  s.depth = 2;
  s.mlp_ratio = 2.0;
  s.lg_region_size = {1, 1, 2};
  s.lg_classify_token_type = "all";
  s.drop_path_rate = 0.0;
  return s;
}

}  // namespace

TEST_CASE("tiny LGI-Former gradients match finite differences (double)", "[models][grad]") {
  torch::manual_seed(11);
  auto model = build_finetune(tiny_lgi());
  model->to(torch::kFloat64);
  {
    // Non-trivial values everywhere (the head starts at 1e-3 scale, the biases at 0).
    torch::NoGradGuard g;
    for (auto& p : model->parameters()) p.add_(torch::randn_like(p) * 0.2);
  }
  model->eval();
  auto video = torch::randn({2, 3, 4, 16, 16}, torch::kFloat64);
  auto weights = torch::randn({2, 3}, torch::kFloat64);
  auto loss_fn = [&] { return (model->forward(video) * weights).sum(); };

  for (auto backend : {AttentionBackend::kFused, AttentionBackend::kExplicit}) {
    set_attention_backend(backend);
    model->zero_grad();
    loss_fn().backward();
    // Probe a few entries of representative parameters.
    std::vector<std::pair<std::string, torch::Tensor>> probes;
    for (const auto& kv : model->named_parameters())
      if (kv.key() == "lg_region_tokens" || kv.key() == "patch_embed.proj.weight" ||
          kv.key() == "blocks.0.first_attn.kv.weight" ||
          kv.key() == "blocks.1.second_attn.q_bias" || kv.key() == "blocks.1.third_attn.v_bias" ||
          kv.key() == "blocks.0.mlp.fc1.weight" || kv.key() == "fc_norm.weight")
        probes.emplace_back(kv.key(), kv.value());
    REQUIRE(probes.size() == 7);
    for (auto& [name, p] : probes) {
      auto flat = p.data().view(-1);
      auto grad = p.grad().view(-1);
      for (int64_t idx : {int64_t(0), flat.numel() / 2, flat.numel() - 1}) {
        const double eps = 1e-6;
        double orig = flat[idx].item<double>();
        double up, down;
        {
          torch::NoGradGuard g;
          flat[idx] = orig + eps;
          up = loss_fn().item<double>();
          flat[idx] = orig - eps;
          down = loss_fn().item<double>();
          flat[idx] = orig;
        }
        double numeric = (up - down) / (2 * eps);
        INFO(name << "[" << idx << "] backend " << to_string(backend));
        CHECK(grad[idx].item<double>() == Approx(numeric).margin(1e-6).epsilon(1e-5));
      }
    }
  }
  set_attention_backend(AttentionBackend::kAuto);  // the default
}

TEST_CASE("pre-train model trains: loss backward reaches encoder and decoder", "[models][grad]") {
  torch::manual_seed(12);
  ModelSpec s = released_pretrain_spec();
  s.img_size = 16;
  s.patch_size = 4;
  s.embed_dim = 16;
  s.num_heads = 2;
  s.depth = 1;
  s.lg_region_size = {2, 2, 4};
  s.decoder_embed_dim = 8;
  s.decoder_num_heads = 2;
  s.decoder_depth = 1;
  s.drop_path_rate = 0.1;
  auto model = build_pretrain(s);
  model->train();
  auto video = torch::randn({2, 3, 16, 16, 16});
  // A part_window-like mask: per frame 2 windows of 2x4, 2 visible each (same in all frames).
  auto frame = torch::ones({16}, torch::kBool);
  for (int i : {1, 6, 9, 12}) frame[i] = false;
  auto mask = frame.repeat({8}).unsqueeze(0).repeat({2, 1});
  MaeTargetOptions opt;
  opt.patch_size = 4;
  auto targets = compute_mae_targets(video, mask, opt);
  auto out = model->forward(video, mask);
  REQUIRE(out.sizes() == targets.labels.sizes());
  auto loss = mae_loss(out, targets.labels, opt).loss;
  loss.backward();
  CHECK(std::isfinite(loss.item<double>()));
  for (const auto& kv : model->named_parameters()) {
    INFO(kv.key());
    REQUIRE(kv.value().grad().defined());
    CHECK(torch::isfinite(kv.value().grad()).all().item<bool>());
  }
  CHECK(model->encoder->lg_region_tokens.grad().abs().sum().item<double>() > 0);
  CHECK(model->mask_token.grad().abs().sum().item<double>() > 0);
}

namespace {

// Enables CPU bf16 autocast for its lifetime.
struct CpuAutocast {
  CpuAutocast() {
    at::autocast::set_cpu_enabled(true);
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
  }
  ~CpuAutocast() {
    at::autocast::set_cpu_enabled(false);
    at::autocast::clear_cache();
  }
};

void check_finite_grads(torch::nn::Module& m) {
  for (const auto& kv : m.named_parameters()) {
    INFO(kv.key());
    if (kv.value().grad().defined()) CHECK(torch::isfinite(kv.value().grad()).all().item<bool>());
  }
}

}  // namespace

TEST_CASE("bf16 CPU autocast forward and backward stay finite", "[models][grad]") {
  torch::manual_seed(13);
  for (auto backend : {AttentionBackend::kFused, AttentionBackend::kExplicit}) {
    set_attention_backend(backend);
    auto model = build_finetune(tiny_lgi());
    model->train();
    auto video = torch::randn({2, 3, 4, 16, 16});
    torch::Tensor logits;
    {
      CpuAutocast ac;
      logits = model->forward(video);
    }
    auto loss =
        torch::nn::functional::cross_entropy(logits.to(torch::kFloat32), torch::tensor({0, 2}));
    loss.backward();
    CHECK(std::isfinite(loss.item<double>()));
    check_finite_grads(*model);

    ModelSpec s = released_pretrain_spec();
    s.img_size = 16;
    s.patch_size = 4;
    s.embed_dim = 16;
    s.num_heads = 2;
    s.depth = 1;
    s.lg_region_size = {2, 2, 4};
    s.decoder_embed_dim = 8;
    s.decoder_num_heads = 2;
    s.decoder_depth = 1;
    auto pre = build_pretrain(s);
    auto clip = torch::randn({2, 3, 16, 16, 16});
    auto frame = torch::ones({16}, torch::kBool);
    for (int i : {0, 3, 10, 13}) frame[i] = false;
    auto mask = frame.repeat({8}).unsqueeze(0).repeat({2, 1});
    MaeTargetOptions opt;
    opt.patch_size = 4;
    auto labels = compute_mae_targets(clip, mask, opt).labels;
    torch::Tensor pre_loss;
    {
      CpuAutocast ac;
      pre_loss = mae_loss(pre->forward(clip, mask), labels, opt).loss;
    }
    pre_loss.backward();
    CHECK(std::isfinite(pre_loss.item<double>()));
    check_finite_grads(*pre);
  }
  set_attention_backend(AttentionBackend::kAuto);  // the default
}

TEST_CASE("base LGI-Former forward+backward on a 16x160x160 clip", "[models][grad][slow]") {
  torch::set_num_threads(2);
  torch::manual_seed(14);
  // Drop path off: a dropped S2/S3 branch of the single sample would zero that attention's
  // gradients and make the count below depend on the random draw.
  auto spec = released_finetune_spec(7);
  spec.drop_path_rate = 0.0;
  auto model = build_finetune(spec);
  model->train();
  auto video = torch::randn({1, 3, 16, 160, 160});
  auto logits = model->forward(video);
  REQUIRE(logits.sizes() == torch::IntArrayRef({1, 7}));
  auto loss = torch::nn::functional::cross_entropy(logits, torch::tensor({3}));
  loss.backward();
  CHECK(std::isfinite(loss.item<double>()));
  int64_t with_grad = 0;
  for (const auto& kv : model->named_parameters()) {
    INFO(kv.key());
    REQUIRE(kv.value().grad().defined());
    CHECK(torch::isfinite(kv.value().grad()).all().item<bool>());
    with_grad += kv.value().grad().abs().sum().item<double>() > 0;
  }
  // With region pooling the last block's third attention only feeds discarded local tokens
  // (SPEC §8.6): its 6 tensors + 2 norms get zero gradients; everything else gets a signal.
  CHECK(with_grad == static_cast<int64_t>(model->named_parameters().size()) - 10);
}
