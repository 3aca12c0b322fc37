// Shared layers: sinusoid table, tubelet patch embedding, MLP, drop path, initialisers.
#include "dfer/models/layers.h"

#include "dfer/models/lean_mlp.h"
#include "dfer/util/error.h"

#include <fmt/format.h>

#include <cmath>
#include <set>

namespace dfer::models {

std::string shape_str(c10::IntArrayRef sizes) {
  std::string s = "[";
  for (size_t i = 0; i < sizes.size(); ++i) s += (i ? ", " : "") + std::to_string(sizes[i]);
  return s + "]";
}

torch::Tensor sinusoid_table(int64_t n_position, int64_t d_hid) {
  if (n_position <= 0 || d_hid <= 0)
    throw Error(fmt::format("sinusoid_table: bad size {}x{}", n_position, d_hid));
  // The exponent depends only on the channel; computing it once per channel in double keeps the
  // values identical to numpy's position / np.power(10000, 2 * (j // 2) / d).
  std::vector<double> denom(d_hid);
  for (int64_t j = 0; j < d_hid; ++j)
    denom[j] = std::pow(10000.0, static_cast<double>(2 * (j / 2)) / static_cast<double>(d_hid));
  auto table = torch::empty({n_position, d_hid}, torch::kFloat64);
  auto acc = table.accessor<double, 2>();
  for (int64_t p = 0; p < n_position; ++p) {
    for (int64_t j = 0; j < d_hid; ++j) {
      double angle = static_cast<double>(p) / denom[j];
      acc[p][j] = (j % 2 == 0) ? std::sin(angle) : std::cos(angle);
    }
  }
  return table.to(torch::kFloat32).unsqueeze(0);
}

void trunc_normal_(torch::Tensor t, double std, double a, double b) {
  torch::NoGradGuard guard;
  // Inverse-CDF sampling (as timm): uniform over [cdf(a), cdf(b)] mapped back through erfinv.
  auto norm_cdf = [](double x) { return (1.0 + std::erf(x / std::sqrt(2.0))) / 2.0; };
  double lo = norm_cdf(a / std), hi = norm_cdf(b / std);
  t.uniform_(2 * lo - 1, 2 * hi - 1);
  t.erfinv_();
  t.mul_(std * std::sqrt(2.0));
  t.clamp_(a, b);
}

namespace {
thread_local DropPathKeys::State* g_drop_path_keys = nullptr;

uint64_t splitmix(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

torch::Tensor keyed_mask(DropPathKeys::State& st, int64_t rows, double keep) {
  const auto n = static_cast<int64_t>(st.keys.size());
  if (n == 0 || rows % n != 0)
    throw std::runtime_error("drop_path: " + std::to_string(rows) + " rows do not split among " +
                             std::to_string(n) + " keyed samples");
  const int64_t per = rows / n;
  const uint64_t call = st.calls++;
  auto mask = torch::empty({rows}, torch::kFloat);
  float* m = mask.data_ptr<float>();
  for (int64_t r = 0; r < rows; ++r) {
    const uint64_t h = splitmix(splitmix(st.keys[static_cast<size_t>(r / per)] ^ splitmix(call)) ^
                                static_cast<uint64_t>(r % per));
    const double u = static_cast<double>(h >> 11) * 0x1.0p-53;
    m[r] = u < keep ? 1.0f : 0.0f;
  }
  return mask;
}
}  // namespace

DropPathKeys::DropPathKeys(std::vector<uint64_t> sample_keys) {
  state_.keys = std::move(sample_keys);
  g_drop_path_keys = &state_;
}

DropPathKeys::~DropPathKeys() {
  g_drop_path_keys = nullptr;
}

torch::Tensor drop_path(const torch::Tensor& x, double p, bool training) {
  if (p <= 0.0 || !training) return x;
  double keep = 1.0 - p;
  std::vector<int64_t> shape(x.dim(), 1);
  shape[0] = x.size(0);
  if (g_drop_path_keys) {
    auto mask = keyed_mask(*g_drop_path_keys, x.size(0), keep).to(x.device(), x.scalar_type());
    return x * mask.view(shape).div_(keep);
  }
  // One Bernoulli(keep) draw per leading row, broadcast over the rest.
  auto mask = torch::empty(shape, x.options()).bernoulli_(keep);
  return x * mask.div_(keep);
}

PatchEmbedImpl::PatchEmbedImpl(int64_t img_size, int64_t patch_size, int64_t in_chans,
                               int64_t embed_dim, int64_t num_frames, int64_t tubelet_size)
    : img_size_(img_size),
      patch_size_(patch_size),
      in_chans_(in_chans),
      num_frames_(num_frames),
      tubelet_(tubelet_size),
      grid_{num_frames / tubelet_size, img_size / patch_size, img_size / patch_size} {
  proj = register_module(
      "proj", torch::nn::Conv3d(torch::nn::Conv3dOptions(in_chans, embed_dim,
                                                         {tubelet_size, patch_size, patch_size})
                                    .stride({tubelet_size, patch_size, patch_size})));
}

torch::Tensor PatchEmbedImpl::forward(const torch::Tensor& video) {
  if (video.dim() != 5 || video.size(1) != in_chans_ || video.size(2) != num_frames_ ||
      video.size(3) != img_size_ || video.size(4) != img_size_)
    throw Error(
        fmt::format("patch_embed: input {} does not match the model (expected [B, {}, {}, {}, {}])",
                    shape_str(video.sizes()), in_chans_, num_frames_, img_size_, img_size_));
  const int64_t B = video.size(0), p = patch_size_;
  auto [t, h, w] = grid_;
  // (B, C, t, tub, h, p, w, p) -> (B, t, h, w, C, tub, p, p): one row per token, its values in the
  // Conv3d weight's (C, tub, p, p) order, so the convolution is x @ W^T + b.
  auto patches = video.reshape({B, in_chans_, t, tubelet_, h, p, w, p})
                     .permute({0, 2, 4, 6, 1, 3, 5, 7})
                     .reshape({B, t * h * w, in_chans_ * tubelet_ * p * p});
  auto weight = proj->weight.reshape({proj->weight.size(0), -1});
  return dense(patches, weight, proj->bias);
}

MlpImpl::MlpImpl(int64_t in_features, int64_t hidden_features, double drop) : drop_(drop) {
  fc1 = register_module("fc1", torch::nn::Linear(in_features, hidden_features));
  fc2 = register_module("fc2", torch::nn::Linear(hidden_features, in_features));
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  // Training keeps less for backward through lean_mlp (the same numbers); without a graph to
  // build, the plain products go through dense(), which a bf16 evaluation pass on a CPU serves
  // from weights packed once (elsewhere at::linear, with autocast's weight cache).
  const bool graph =
      torch::GradMode::is_enabled() &&
      (x.requires_grad() || fc1->weight.requires_grad() || fc2->weight.requires_grad());
  auto y = graph ? lean_mlp(x, fc1->weight, fc1->bias, fc2->weight, fc2->bias)
                 : linear(fc2, torch::gelu(linear(fc1, x)));
  if (drop_ > 0.0) y = torch::dropout(y, drop_, is_training());
  return y;
}

torch::nn::LayerNorm make_layer_norm(int64_t dim, double eps) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(eps));
}

void init_linear_and_norm(torch::nn::Module& root, bool xavier) {
  torch::NoGradGuard guard;
  // Visit every module once even when a module is registered under two names (shared attention).
  std::set<const torch::nn::Module*> seen;
  auto visit = [&](torch::nn::Module& m) {
    if (!seen.insert(&m).second) return;
    if (auto* lin = m.as<torch::nn::Linear>()) {
      if (xavier)
        torch::nn::init::xavier_uniform_(lin->weight);
      else
        trunc_normal_(lin->weight, 0.02);
      if (lin->bias.defined()) lin->bias.zero_();
    } else if (auto* ln = m.as<torch::nn::LayerNorm>()) {
      if (ln->weight.defined()) ln->weight.fill_(1.0);
      if (ln->bias.defined()) ln->bias.zero_();
    }
  };
  visit(root);
  for (auto& m : root.modules(/*include_self=*/false)) visit(*m);
}

}  // namespace dfer::models
