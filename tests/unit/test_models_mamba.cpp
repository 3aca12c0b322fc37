// VideoMamba: the chunked selective scan against the sequential loop (values and gradients, in
// double), its gradient against finite differences, the mixer's flip semantics, the model's
// parameter names, sizes and initialisation, the registry and a training smoke run.
#include <catch2/catch.hpp>

#include "dfer/models/build.h"
#include "dfer/models/mamba.h"
#include "dfer/models/selective_scan.h"
#include "dfer/models/videomamba.h"
#include "dfer/util/error.h"
#include "support/cpu_autocast.h"

#include <set>
#include <string>

using namespace dfer::models;

namespace {

// Inputs of one scan in the upstream layouts; A negative as -exp(A_log).
struct ScanInputs {
  torch::Tensor u, delta, A, Bm, Cm, D, z, delta_bias;

  std::vector<torch::Tensor*> all() { return {&u, &delta, &A, &Bm, &Cm, &D, &z, &delta_bias}; }
};

ScanInputs random_inputs(int64_t B, int64_t E, int64_t N, int64_t L, bool optional_terms,
                         torch::Dtype dtype = torch::kFloat64) {
  auto o = torch::TensorOptions().dtype(dtype);
  ScanInputs s;
  s.u = torch::randn({B, E, L}, o);
  s.delta = torch::randn({B, E, L}, o) * 0.5;
  s.A = -torch::exp(torch::log(torch::arange(1, N + 1, o)).expand({E, N}) +
                    0.3 * torch::randn({E, N}, o));
  s.Bm = torch::randn({B, N, L}, o);
  s.Cm = torch::randn({B, N, L}, o);
  if (optional_terms) {
    s.D = torch::randn({E}, o);
    s.z = torch::randn({B, E, L}, o);
    s.delta_bias = torch::randn({E}, o) * 0.5;
  }
  return s;
}

torch::Tensor run_reference(const ScanInputs& s) {
  return selective_scan_reference(s.u, s.delta, s.A, s.Bm, s.Cm, s.D, s.z, s.delta_bias);
}

torch::Tensor run_chunked(const ScanInputs& s, int64_t chunk, ScanAlgorithm alg) {
  return selective_scan_chunked(s.u, s.delta, s.A, s.Bm, s.Cm, s.D, s.z, s.delta_bias, true, chunk,
                                alg);
}

double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

}  // namespace

TEST_CASE("chunked selective scan equals the sequential loop (double)", "[models][mamba][scan]") {
  torch::manual_seed(1);
  struct Shape {
    int64_t B, E, N, L;
  };
  for (auto sh : {Shape{2, 3, 4, 17}, Shape{1, 5, 16, 64}, Shape{3, 2, 1, 1}, Shape{2, 4, 8, 33}}) {
    for (bool opt : {false, true}) {
      auto in = random_inputs(sh.B, sh.E, sh.N, sh.L, opt);
      auto ref = run_reference(in);
      REQUIRE(ref.sizes() == in.u.sizes());
      for (int64_t chunk : {int64_t{1}, int64_t{4}, int64_t{7}, int64_t{16}, int64_t{1000}}) {
        for (auto alg : {ScanAlgorithm::kSequential, ScanAlgorithm::kLogDepth}) {
          INFO("B " << sh.B << " E " << sh.E << " N " << sh.N << " L " << sh.L << " chunk " << chunk
                    << " log-depth " << (alg == ScanAlgorithm::kLogDepth) << " optional terms "
                    << opt);
          auto out = run_chunked(in, chunk, alg);
          CHECK(out.scalar_type() == torch::kFloat64);
          CHECK(max_diff(out, ref) < 1e-12 * std::max(1.0, ref.abs().max().item<double>()));
        }
      }
    }
  }
}

TEST_CASE("selective scan follows the recurrence written out by hand", "[models][mamba][scan]") {
  // One channel, one state, three steps: h = e^{dt A} h + dt B u, y = C h + D u, times SiLU(z).
  auto o = torch::TensorOptions().dtype(torch::kFloat64);
  auto u = torch::tensor({1.0, -2.0, 0.5}, o).view({1, 1, 3});
  auto delta = torch::tensor({0.1, 25.0, -1.0}, o).view({1, 1, 3});  // 25: softplus threshold
  auto A = torch::tensor({-2.0}, o).view({1, 1});
  auto Bm = torch::tensor({1.0, 0.5, 2.0}, o).view({1, 1, 3});
  auto Cm = torch::tensor({0.3, 1.0, -1.0}, o).view({1, 1, 3});
  auto D = torch::tensor({0.7}, o), z = torch::tensor({0.2, -0.4, 1.5}, o).view({1, 1, 3});
  auto bias = torch::tensor({0.05}, o);
  auto sp = [](double x) { return x > 20 ? x : std::log1p(std::exp(x)); };
  auto silu = [](double x) { return x / (1 + std::exp(-x)); };
  double h = 0;
  std::vector<double> expect;
  for (int t = 0; t < 3; ++t) {
    double dt = sp(delta[0][0][t].item<double>() + 0.05);
    h = std::exp(dt * -2.0) * h + dt * Bm[0][0][t].item<double>() * u[0][0][t].item<double>();
    double y = Cm[0][0][t].item<double>() * h + 0.7 * u[0][0][t].item<double>();
    expect.push_back(y * silu(z[0][0][t].item<double>()));
  }
  auto want = torch::tensor(expect, o).view({1, 1, 3});
  CHECK(max_diff(selective_scan_reference(u, delta, A, Bm, Cm, D, z, bias), want) < 1e-12);
  CHECK(max_diff(selective_scan(u, delta, A, Bm, Cm, D, z, bias, true, 2), want) < 1e-12);
}

TEST_CASE("chunked scan gradients equal autograd through the sequential loop",
          "[models][mamba][scan]") {
  torch::manual_seed(2);
  for (auto alg : {ScanAlgorithm::kSequential, ScanAlgorithm::kLogDepth}) {
    for (int64_t chunk : {int64_t{1}, int64_t{5}, int64_t{64}}) {
      auto in = random_inputs(2, 3, 4, 13, true);
      for (auto* t : in.all()) t->requires_grad_(true);
      auto w = torch::randn({2, 3, 13}, torch::kFloat64);
      auto ref_grads =
          torch::autograd::grad({(run_reference(in) * w).sum()},
                                {in.u, in.delta, in.A, in.Bm, in.Cm, in.D, in.z, in.delta_bias});
      auto grads =
          torch::autograd::grad({(run_chunked(in, chunk, alg) * w).sum()},
                                {in.u, in.delta, in.A, in.Bm, in.Cm, in.D, in.z, in.delta_bias});
      const char* names[] = {"u", "delta", "A", "B", "C", "D", "z", "delta_bias"};
      for (size_t i = 0; i < grads.size(); ++i) {
        INFO(names[i] << " chunk " << chunk << " log-depth " << (alg == ScanAlgorithm::kLogDepth));
        CHECK(max_diff(grads[i], ref_grads[i]) <
              1e-11 * std::max(1.0, ref_grads[i].abs().max().item<double>()));
      }
    }
  }
}

TEST_CASE("chunked scan gradients match finite differences (double)", "[models][mamba][scan]") {
  torch::manual_seed(3);
  auto in = random_inputs(1, 2, 3, 7, true);
  for (auto* t : in.all()) t->requires_grad_(true);
  auto w = torch::randn({1, 2, 7}, torch::kFloat64);
  const std::vector<torch::Tensor> leaves{in.u,  in.delta, in.A, in.Bm,
                                          in.Cm, in.D,     in.z, in.delta_bias};
  for (auto alg : {ScanAlgorithm::kSequential, ScanAlgorithm::kLogDepth}) {
    auto loss = [&] { return (run_chunked(in, 3, alg) * w).sum(); };
    auto grads = torch::autograd::grad({loss()}, leaves);
    torch::NoGradGuard ng;
    const double eps = 1e-6;
    double worst = 0;
    int64_t probed = 0;
    for (size_t i = 0; i < leaves.size(); ++i) {
      auto flat = leaves[i].data().view(-1);
      for (int64_t k = 0; k < flat.numel(); ++k) {
        const double v = flat[k].item<double>();
        flat[k] = v + eps;
        const double up = loss().item<double>();
        flat[k] = v - eps;
        const double down = loss().item<double>();
        flat[k] = v;
        const double numeric = (up - down) / (2 * eps);
        const double analytic = grads[i].view(-1)[k].item<double>();
        worst = std::max(worst, std::abs(numeric - analytic) / std::max(1.0, std::abs(numeric)));
        ++probed;
      }
    }
    INFO("log-depth " << (alg == ScanAlgorithm::kLogDepth) << ": " << probed
                      << " entries, worst relative error " << worst);
    CHECK(probed == 7 * 2 * 3 + 6 + 7 * 3 * 2 + 2 + 2);
    CHECK(worst < 1e-7);
  }
}

TEST_CASE("selective scan runs in fp32 under bf16 autocast and returns the input dtype",
          "[models][mamba][scan]") {
  torch::manual_seed(4);
  auto in = random_inputs(1, 4, 8, 20, true, torch::kFloat32);
  auto ref = run_reference(in);
  torch::Tensor out, out_bf16;
  {
    dfer::test::CpuAutocast autocast(at::kBFloat16);
    out = run_chunked(in, 8, ScanAlgorithm::kAuto);
    out_bf16 = selective_scan(in.u.to(torch::kBFloat16), in.delta, in.A, in.Bm, in.Cm, in.D, in.z,
                              in.delta_bias);
  }
  CHECK(out.scalar_type() == torch::kFloat32);
  CHECK(max_diff(out, ref) < 1e-4);
  CHECK(out_bf16.scalar_type() == torch::kBFloat16);
}

TEST_CASE("selective scan rejects inconsistent shapes", "[models][mamba][scan]") {
  auto in = random_inputs(1, 2, 3, 5, true);
  CHECK_THROWS_AS(selective_scan(in.u, in.delta, in.A.t(), in.Bm, in.Cm, in.D, in.z, in.delta_bias),
                  dfer::Error);
  CHECK_THROWS_AS(
      selective_scan(in.u, in.delta.narrow(2, 0, 4), in.A, in.Bm, in.Cm, in.D, in.z, in.delta_bias),
      dfer::Error);
  CHECK_THROWS_AS(
      selective_scan(in.u, in.delta, in.A, in.Bm, in.Cm, in.D, in.z, in.delta_bias, true, 0),
      dfer::Error);
}

namespace {

BiMamba tiny_mixer() {
  MambaOptions o;
  o.d_model = 8;
  o.d_state = 3;
  o.scan_chunk = 4;
  BiMamba m(o);
  m->to(torch::kFloat64);
  torch::NoGradGuard g;
  for (auto& p : m->parameters()) p.add_(torch::randn_like(p) * 0.3);
  return m;
}

}  // namespace

TEST_CASE("bidirectional mixer: backward direction runs on the time-reversed sequence",
          "[models][mamba]") {
  torch::manual_seed(5);
  auto m = tiny_mixer();
  torch::NoGradGuard g;
  auto h = torch::randn({2, 11, 8}, torch::kFloat64);
  auto out = m->forward(h);
  REQUIRE(out.sizes() == h.sizes());
  auto xz = m->in_proj(h).transpose(1, 2);
  auto y_f = m->direction(xz, false), y_b = m->direction(xz.flip({2}), true);
  CHECK(max_diff(out, m->out_proj((y_f + y_b.flip({2})).transpose(1, 2))) < 1e-12);

  // Forward causal, backward anti-causal: changing token 6 leaves y_f before it and the
  // (re-flipped) y_b after it untouched.
  auto h2 = h.clone();
  h2.select(1, 6).add_(1.0);
  auto xz2 = m->in_proj(h2).transpose(1, 2);
  auto y_f2 = m->direction(xz2, false), y_b2 = m->direction(xz2.flip({2}), true).flip({2});
  CHECK(max_diff(y_f2.narrow(2, 0, 6), y_f.narrow(2, 0, 6)) == 0.0);
  CHECK(max_diff(y_b2.narrow(2, 7, 4), y_b.flip({2}).narrow(2, 7, 4)) == 0.0);
  CHECK(max_diff(y_f2.narrow(2, 6, 5), y_f.narrow(2, 6, 5)) > 1e-6);
  CHECK(max_diff(y_b2.narrow(2, 0, 7), y_b.flip({2}).narrow(2, 0, 7)) > 1e-6);

  // With the backward copies equal to the forward parameters the mixer commutes with reversal.
  m->conv1d_b->weight.copy_(m->conv1d->weight);
  m->conv1d_b->bias.copy_(m->conv1d->bias);
  m->x_proj_b->weight.copy_(m->x_proj->weight);
  m->dt_proj_b->weight.copy_(m->dt_proj->weight);
  m->dt_proj_b->bias.copy_(m->dt_proj->bias);
  m->A_b_log.copy_(m->A_log);
  m->D_b.copy_(m->D);
  CHECK(max_diff(m->forward(h.flip({1})), m->forward(h).flip({1})) < 1e-12);
}

TEST_CASE("VideoMamba-S parameter names and shapes follow upstream", "[models][mamba]") {
  auto spec = spec_from_name("videomamba_small");
  spec.num_classes = 400;
  auto model = as_videomamba(build_model(spec));
  std::map<std::string, std::vector<int64_t>> shapes;
  int64_t total = 0, layer0 = 0;
  for (const auto& kv : model->named_parameters()) {
    shapes[kv.key()] = kv.value().sizes().vec();
    total += kv.value().numel();
    if (kv.key().rfind("layers.0.", 0) == 0) layer0 += kv.value().numel();
  }
  using V = std::vector<int64_t>;
  const std::map<std::string, V> want = {{"layers.0.mixer.in_proj.weight", V{1536, 384}},
                                         {"layers.0.mixer.conv1d.weight", V{768, 1, 4}},
                                         {"layers.0.mixer.conv1d.bias", V{768}},
                                         {"layers.0.mixer.x_proj.weight", V{56, 768}},
                                         {"layers.0.mixer.dt_proj.weight", V{768, 24}},
                                         {"layers.0.mixer.dt_proj.bias", V{768}},
                                         {"layers.0.mixer.A_log", V{768, 16}},
                                         {"layers.0.mixer.D", V{768}},
                                         {"layers.0.mixer.conv1d_b.weight", V{768, 1, 4}},
                                         {"layers.0.mixer.conv1d_b.bias", V{768}},
                                         {"layers.0.mixer.x_proj_b.weight", V{56, 768}},
                                         {"layers.0.mixer.dt_proj_b.weight", V{768, 24}},
                                         {"layers.0.mixer.dt_proj_b.bias", V{768}},
                                         {"layers.0.mixer.A_b_log", V{768, 16}},
                                         {"layers.0.mixer.D_b", V{768}},
                                         {"layers.0.mixer.out_proj.weight", V{384, 768}},
                                         {"layers.0.norm.weight", V{384}},
                                         {"patch_embed.proj.weight", V{384, 3, 1, 16, 16}},
                                         {"patch_embed.proj.bias", V{384}},
                                         {"cls_token", V{1, 1, 384}},
                                         {"pos_embed", V{1, 197, 384}},
                                         {"temporal_pos_embedding", V{1, 8, 384}},
                                         {"layers.23.norm.weight", V{384}},
                                         {"norm_f.weight", V{384}},
                                         {"head.weight", V{400, 384}},
                                         {"head.bias", V{400}}};
  for (const auto& [name, shape] : want) {
    INFO(name);
    REQUIRE(shapes.count(name));
    CHECK(shapes[name] == shape);
  }
  CHECK(shapes.size() == 24 * 17 + 8);
  CHECK(layer0 == 1043328);  // SPEC-videomamba §2.1
  CHECK(total == 25568656);  // 25.57M with a 400-class head
}

TEST_CASE("VideoMamba initialisation keeps upstream's quirks", "[models][mamba]") {
  torch::manual_seed(6);
  auto spec = spec_from_name("videomamba_tiny");
  spec.depth = 4;
  spec.img_size = 32;
  spec.num_classes = 5;
  auto model = build_videomamba(spec);
  auto logN = torch::log(torch::arange(1, 17, torch::kFloat32));
  for (int i = 0; i < 4; ++i) {
    auto& mixer = *model->layers[i]->as<MambaBlockImpl>()->mixer;
    // segm_init_weights re-initialised the dt bias of the Mamba init to 0.
    CHECK(mixer.dt_proj->bias.abs().max().item<double>() == 0.0);
    CHECK(mixer.dt_proj_b->bias.abs().max().item<double>() == 0.0);
    for (const auto* a : {&mixer.A_log, &mixer.A_b_log}) {
      CHECK(a->sizes() == torch::IntArrayRef({384, 16}));
      CHECK(torch::equal(*a, logN.expand({384, 16})));
    }
    CHECK(torch::equal(mixer.D, torch::ones({384})));
    // Linears: trunc-normal 0.02; out_proj: kaiming-uniform(a=sqrt 5) / sqrt(depth), i.e.
    // uniform(+-1/sqrt(fan_in) / 2) here.
    CHECK(mixer.x_proj->weight.std().item<double>() == Approx(0.02).epsilon(0.05));
    CHECK(mixer.dt_proj->weight.std().item<double>() == Approx(0.02).epsilon(0.1));
    const double bound = 1.0 / std::sqrt(384.0) / 2.0;
    CHECK(mixer.out_proj->weight.abs().max().item<double>() <= bound);
    CHECK(mixer.out_proj->weight.abs().max().item<double>() > 0.9 * bound);
  }
  CHECK(model->cls_token.abs().max().item<double>() == 0.0);
  CHECK(model->temporal_pos_embedding.abs().max().item<double>() == 0.0);
  CHECK(model->pos_embed.std().item<double>() == Approx(0.02).epsilon(0.1));
  CHECK(model->head->bias.abs().max().item<double>() == 0.0);
}

TEST_CASE("VideoMamba registry, validation and the later reference's flavour", "[models][mamba]") {
  for (const auto& name : {"videomamba_tiny", "videomamba_small", "videomamba_middle",
                           "videomamba_base_dim512_patch16_160"}) {
    auto s = spec_from_name(name);
    CHECK(s.backbone == "videomamba");
    CHECK_NOTHROW(validate(s));
    CHECK(describe(s).find("VideoMamba") != std::string::npos);
  }
  auto fork = spec_from_name("videomamba_base_dim512_patch16_160");
  CHECK(fork.embed_dim == 512);
  CHECK(fork.depth == 32);
  CHECK(fork.token_grid() == std::array<int64_t, 3>{8, 10, 10});
  CHECK_FALSE(fork.mamba_learned_pos);
  CHECK(fork.use_mean_pooling);
  CHECK(spec_from_name("videomamba_middle").embed_dim == 576);

  // A small model of the fork's flavour: no pos_embed parameter, mean pooling, per-frame output.
  torch::manual_seed(7);
  fork.img_size = 32;
  fork.num_frames = 4;
  fork.embed_dim = 16;
  fork.depth = 2;
  fork.num_classes = 3;
  auto model = as_videomamba(build_model(fork));
  for (const auto& kv : model->named_parameters()) CHECK(kv.key() != "pos_embed");
  CHECK(model->spatial_pos().sizes() == torch::IntArrayRef({1, 5, 16}));
  model->eval();
  auto video = torch::randn({2, 3, 4, 32, 32});
  Taps taps;
  auto logits = model->forward(video, &taps);
  CHECK(logits.sizes() == torch::IntArrayRef({2, 3}));
  CHECK(taps["layers_in"].sizes() == torch::IntArrayRef({2, 1 + 2 * 2 * 2, 16}));
  CHECK(taps.count("layer1_residual"));
  fork.keep_temporal_dim = true;
  auto per_frame = build_videomamba(fork);
  per_frame->eval();
  CHECK(per_frame->forward(video).sizes() == torch::IntArrayRef({2, 4, 3}));
  // The combine task's heads (reg, cls) behind the MLP decoder, per frame, as on the ViT.
  fork.heads = {{"reg", 2}, {"cls", 7}};
  fork.decoder_hidden = 8;
  auto combine = build_classifier(fork);
  std::set<std::string> names;
  for (const auto& kv : combine->named_parameters()) names.insert(kv.key());
  for (const char* n : {"head.reg.weight", "head.cls.bias", "decoder.0.weight", "decoder.2.bias"}) {
    INFO(n);
    CHECK(names.count(n));
  }
  CHECK_FALSE(names.count("head.weight"));
  combine->eval();
  auto both = combine->forward(video);
  CHECK(both.sizes() == torch::IntArrayRef({2, 4, 9}));
  CHECK(split_heads(fork, both)[1].sizes() == torch::IntArrayRef({2, 4, 7}));

  auto bad = spec_from_name("videomamba_tiny");
  bad.d_state = 0;
  CHECK_THROWS_AS(validate(bad), dfer::UsageError);
  bad = spec_from_name("videomamba_tiny");
  bad.lora_rank = 4;
  CHECK_THROWS_AS(validate(bad), dfer::UsageError);
  bad = spec_from_name("videomamba_tiny");
  bad.backbone = "rnn";
  CHECK_THROWS_AS(validate(bad), dfer::UsageError);
  CHECK_THROWS_AS(build_finetune(spec_from_name("videomamba_tiny")), dfer::UsageError);
  CHECK_THROWS_AS(as_finetune(model.ptr()), dfer::Error);
}

TEST_CASE("tiny VideoMamba trains: every parameter gets a gradient, bf16 autocast runs",
          "[models][mamba]") {
  torch::manual_seed(8);
  auto s = spec_from_name("videomamba_tiny");
  s.img_size = 16;
  s.patch_size = 8;
  s.num_frames = 4;
  s.tubelet_size = 2;
  s.embed_dim = 16;
  s.depth = 3;
  s.num_classes = 4;
  s.drop_path_rate = 0.2;
  auto model = build_videomamba(s);
  model->train();
  auto video = torch::randn({2, 3, 4, 16, 16});
  model->forward(video).pow(2).sum().backward();
  for (const auto& kv : model->named_parameters()) {
    INFO(kv.key());
    REQUIRE(kv.value().grad().defined());
    CHECK(torch::isfinite(kv.value().grad()).all().item<bool>());
  }
  model->eval();
  Taps taps;
  torch::Tensor logits;
  {
    dfer::test::CpuAutocast autocast(at::kBFloat16);
    logits = model->forward(video, &taps);
  }
  CHECK(taps["layer2_residual"].scalar_type() == torch::kFloat32);  // the fp32 residual stream
  CHECK(torch::isfinite(logits).all().item<bool>());
}
