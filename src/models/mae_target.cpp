// MAE targets and loss (see dfer/models/mae_target.h).
#include "dfer/models/mae_target.h"

#include "dfer/models/layers.h"
#include "dfer/util/error.h"

#include <fmt/format.h>

namespace dfer::models {

namespace {

// 'b c (t p0) (h p1) (w p2) -> b (t h w) (p0 p1 p2) c'
torch::Tensor patchify(const torch::Tensor& v, int64_t tub, int64_t p) {
  const int64_t B = v.size(0), C = v.size(1), t = v.size(2) / tub, h = v.size(3) / p,
                w = v.size(4) / p;
  return v.reshape({B, C, t, tub, h, p, w, p})
      .permute({0, 2, 4, 6, 3, 5, 7, 1})
      .reshape({B, t * h * w, tub * p * p, C});
}

// Inverse of patchify with the channel folded into the last dim: (B, N, P) -> (B, C, T, H, W).
torch::Tensor unpatchify(const torch::Tensor& x, int64_t C, int64_t T, int64_t H, int64_t W,
                         int64_t tub, int64_t p) {
  const int64_t B = x.size(0), t = T / tub, h = H / p, w = W / p;
  return x.reshape({B, t, h, w, tub, p, p, C})
      .permute({0, 7, 1, 4, 2, 5, 3, 6})
      .reshape({B, C, T, H, W});
}

torch::Tensor mse(const torch::Tensor& a, const torch::Tensor& b) {
  return torch::mse_loss(a, b);
}

}  // namespace

MaeTargets compute_mae_targets(const torch::Tensor& video, const torch::Tensor& mask,
                               const MaeTargetOptions& opt) {
  torch::NoGradGuard guard;
  if (video.dim() != 5)
    throw Error(
        fmt::format("MAE target: video must be (B, C, T, H, W), got {}", shape_str(video.sizes())));
  const int64_t B = video.size(0), C = video.size(1), T = video.size(2), H = video.size(3),
                W = video.size(4), p = opt.patch_size, tub = opt.tubelet_size;
  if (C != 3 || p <= 0 || tub <= 0 || T % tub || H % p || W % p)
    throw Error(fmt::format("MAE target: video {} does not tile into 3-channel {}x{}x{} tubelets",
                            shape_str(video.sizes()), tub, p, p));
  const int64_t g = opt.frame_diff_group_size;
  if (opt.use_frame_diff && (g <= 0 || T % g))
    throw Error(
        fmt::format("MAE target: frame_diff_group_size {} does not divide {} frames", g, T));
  const int64_t N = (T / tub) * (H / p) * (W / p), P = tub * p * p * C;

  auto fopt = torch::TensorOptions().dtype(torch::kFloat32).device(video.device());
  auto mean = torch::tensor({opt.mean[0], opt.mean[1], opt.mean[2]}, fopt).view({1, 3, 1, 1, 1});
  auto std = torch::tensor({opt.std[0], opt.std[1], opt.std[2]}, fopt).view({1, 3, 1, 1, 1});
  auto unnorm = video.to(torch::kFloat32) * std + mean;  // back to [0, 1]

  auto sq = patchify(unnorm, tub, p);  // (B, N, tub*p*p, C)
  torch::Tensor appearance;
  if (opt.normalize_target) {
    // Per patch and channel: unbiased std over the tub*p*p positions, eps added to the std.
    auto mu = sq.mean(-2, /*keepdim=*/true);
    auto sd = sq.var(-2, /*unbiased=*/true, /*keepdim=*/true).sqrt();
    appearance = ((sq - mu) / (sd + 1e-6)).reshape({B, N, P});
  } else {
    appearance = sq.reshape({B, N, P});
  }

  torch::Tensor all = appearance;
  if (opt.use_frame_diff) {
    auto v = unpatchify(appearance, C, T, H, W, tub, p);
    // Frame f keeps its value when f % g == 0, else becomes v[f] - v[f - f % g]. Multiplying the
    // reference frame by 0 on kept frames leaves them bit-identical.
    auto f = torch::arange(T, torch::TensorOptions().dtype(torch::kLong).device(video.device()));
    auto ref_idx = f - f.remainder(g);
    auto moving = (f.remainder(g) != 0).to(torch::kFloat32).view({1, 1, T, 1, 1});
    auto d = v - v.index_select(2, ref_idx) * moving;
    all = patchify(d, tub, p).reshape({B, N, P});
  }

  if (!mask.defined() || mask.dim() != 2 || mask.size(0) != B || mask.size(1) != N)
    throw Error(fmt::format("MAE target: mask {} does not match (batch {}, tokens {})",
                            mask.defined() ? shape_str(mask.sizes()) : "undefined", B, N));
  auto m = mask.to(torch::kBool);
  auto labels = all.index({m}).view({B, -1, P});
  return {appearance, all, labels};
}

MaeLoss mae_loss(const torch::Tensor& outputs, const torch::Tensor& labels,
                 const MaeTargetOptions& opt) {
  if (outputs.sizes() != labels.sizes())
    throw Error(fmt::format("MAE loss: outputs {} and labels {} differ in shape",
                            shape_str(outputs.sizes()), shape_str(labels.sizes())));
  const int64_t P = outputs.size(-1);
  if (P % 2) throw Error(fmt::format("MAE loss: last dim {} is odd", P));
  auto o = outputs.to(torch::kFloat32);
  auto l = labels.to(torch::kFloat32).detach();
  MaeLoss r;
  r.loss_org = mse(o.narrow(-1, 0, P / 2), l.narrow(-1, 0, P / 2));
  r.loss_diff = mse(o.narrow(-1, P / 2, P / 2), l.narrow(-1, P / 2, P / 2));
  if (opt.use_frame_diff && opt.target_diff_weight) {
    const double w = *opt.target_diff_weight;
    r.loss = r.loss_org * (1.0 - w) + r.loss_diff * w;
  } else {
    r.loss = mse(o, l);
  }
  return r;
}

}  // namespace dfer::models
