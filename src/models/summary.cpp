// Analytic parameter and MAC counts per module group (see dfer/models/summary.h).
#include "dfer/models/summary.h"

#include "dfer/util/error.h"

#include <fmt/format.h>

#include <unordered_set>

namespace dfer::models {

namespace {

struct Macs {
  int64_t linear = 0, attention = 0, conv = 0, scan = 0;
  int64_t total() const { return linear + attention + conv + scan; }
  Macs& operator+=(const Macs& o) {
    linear += o.linear;
    attention += o.attention;
    conv += o.conv;
    scan += o.scan;
    return *this;
  }
};

// Attention products QK^T and AV for `groups` independent sequences.
int64_t attn_macs(int64_t groups, int64_t heads, int64_t lq, int64_t lk, int64_t head_dim) {
  return 2 * groups * heads * lq * lk * head_dim;
}

int64_t hidden_of(int64_t dim, double ratio) {
  return static_cast<int64_t>(static_cast<double>(dim) * ratio);
}

// One ViT block over `groups` sequences of n tokens.
Macs vit_block(int64_t groups, int64_t n, int64_t C, int64_t heads, double mlp_ratio) {
  Macs m;
  const int64_t tokens = groups * n;
  m.linear = tokens * (4 * C * C + 2 * C * hidden_of(C, mlp_ratio));
  m.attention = attn_macs(groups, heads, n, n, C / heads);
  return m;
}

// One LGI-Former block: B clips, M regions of L local tokens each (+1 region token).
Macs lg_block(const ModelSpec& s, int64_t B, int64_t M, int64_t L) {
  const int64_t C = s.embed_dim, H = s.num_heads, d = C / H, S = L + 1, BM = B * M;
  Macs m;
  if (s.lg_first_attn_type == "cross") {
    m.linear += BM * 2 * C * C + BM * L * 2 * C * C;  // q + proj on region tokens, kv on locals
    m.attention += attn_macs(BM, H, 1, L, d);
  } else {
    m.linear += BM * S * 4 * C * C;
    m.attention += attn_macs(BM, H, S, S, d);
  }
  if (!s.lg_no_second) {
    m.linear += BM * 4 * C * C;
    m.attention += attn_macs(B, H, M, M, d);
  }
  if (!s.lg_no_third) {
    if (s.lg_third_attn_type == "self") {
      m.linear += BM * S * 4 * C * C;
      m.attention += attn_macs(BM, H, S, S, d);
    } else {
      m.linear += BM * L * 2 * C * C + BM * 2 * C * C;  // q + proj on locals, kv on regions
      m.attention += attn_macs(B, H, M * L, M, d);
    }
  }
  m.linear += BM * S * 2 * C * hidden_of(C, s.mlp_ratio);
  return m;
}

Macs encoder_blocks(const ModelSpec& s, int64_t B, int64_t n_tokens) {
  Macs total;
  if (s.attn_type == "local_global") {
    const int64_t M = s.num_regions();
    for (int64_t i = 0; i < s.depth; ++i) total += lg_block(s, B, M, n_tokens / M);
  } else {
    for (int64_t i = 0; i < s.depth; ++i)
      total += vit_block(B, n_tokens, s.embed_dim, s.num_heads, s.mlp_ratio);
  }
  return total;
}

// One bidirectional Mamba block of width D over `tokens` tokens (all sequences together):
// in_proj and out_proj shared, x_proj, dt_proj, the depthwise conv and the scan per direction.
Macs mamba_block(const ModelSpec& s, int64_t tokens, int64_t D) {
  const int64_t E = s.expand * D, R = (D + 15) / 16, N = s.d_state;
  Macs m;
  m.linear = tokens * (D * 2 * E + 2 * (E * (R + 2 * N) + R * E) + E * D);
  m.conv = tokens * 2 * E * s.d_conv;
  m.scan = tokens * 2 * 3 * E * N;
  return m;
}

Macs mamba_stack(const ModelSpec& s, int64_t depth, int64_t tokens, int64_t D) {
  Macs total;
  for (int64_t i = 0; i < depth; ++i) total += mamba_block(s, tokens, D);
  return total;
}

std::string group_of(const std::string& name) {
  auto dot = name.find('.');
  std::string first = name.substr(0, dot);
  if ((first == "encoder" || first == "decoder") && dot != std::string::npos) {
    auto dot2 = name.find('.', dot + 1);
    return name.substr(0, dot2);
  }
  return first;
}

SummaryRow& row(ModelSummary& s, const std::string& group) {
  for (auto& r : s.rows)
    if (r.group == group) return r;
  s.rows.push_back({group, 0, 0});
  return s.rows.back();
}

void add(ModelSummary& s, const std::string& group, const Macs& m) {
  row(s, group).macs += m.total();
  s.macs_linear += m.linear;
  s.macs_attention += m.attention;
  s.macs_conv += m.conv;
  s.macs_scan += m.scan;
}

// Visible tokens per clip under the mask rule count_macs documents.
int64_t visible_tokens(const ModelSpec& s, double mask_ratio) {
  const auto g = s.token_grid();
  if (s.attn_type == "local_global") {
    const int64_t win = s.lg_region_size[1] * s.lg_region_size[2];
    const int64_t wins = (g[1] / s.lg_region_size[1]) * (g[2] / s.lg_region_size[2]);
    return g[0] * wins * (win - static_cast<int64_t>(mask_ratio * static_cast<double>(win)));
  }
  const int64_t frame = g[1] * g[2];
  return g[0] * (frame - static_cast<int64_t>(mask_ratio * static_cast<double>(frame)));
}

// VideoMamba, names as its modules: the classifier over 1 + N tokens, or the pre-training
// encoder over the visible tokens and the pixel decoder over 1 + N rows.
void count_videomamba(const ModelSpec& s, int64_t B, double mask_ratio, const Macs& embed,
                      ModelSummary& out) {
  const int64_t N = s.num_patches(), D = s.embed_dim;
  add(out, "patch_embed", embed);
  if (s.kind == ModelKind::kFinetune) {
    add(out, "layers", mamba_stack(s, s.depth, B * (1 + N), D));
    Macs head;
    head.linear = B * (s.keep_temporal_dim ? s.num_frames : 1) * D * s.num_outputs();
    if (s.num_outputs() > 0) add(out, "head", head);
    out.num_visible = N;
    return;
  }
  const int64_t n_vis = visible_tokens(s, mask_ratio), Dd = s.decoder_embed_dim;
  const int64_t n_mask = N - n_vis;
  out.num_visible = n_vis;
  add(out, "layers", mamba_stack(s, s.depth, B * n_vis, D));
  Macs embed_d;
  embed_d.linear = B * n_vis * D * Dd;
  add(out, "decoder_embed", embed_d);
  add(out, "decoder_blocks", mamba_stack(s, s.decoder_depth, B * (1 + N), Dd));
  Macs pred;
  pred.linear = B * n_mask * Dd * s.decoder_num_classes();
  add(out, "decoder_pred", pred);
}

}  // namespace

ModelSummary count_macs(const ModelSpec& spec, int64_t batch, double mask_ratio) {
  validate(spec);
  ModelSummary out;
  out.description = describe(spec);
  out.batch = batch;
  const auto& s = spec;
  const int64_t B = batch, N = s.num_patches(), C = s.embed_dim;
  const int64_t patch_values = s.in_chans * s.tubelet_size * s.patch_size * s.patch_size;
  Macs conv;
  conv.conv = B * N * C * patch_values;

  if (s.backbone == "videomamba") {
    count_videomamba(s, B, mask_ratio, conv, out);
    return out;
  }
  if (s.kind == ModelKind::kFinetune) {
    add(out, "patch_embed", conv);
    add(out, "blocks", encoder_blocks(s, B, N));
    const int64_t positions = B * (s.keep_temporal_dim ? s.num_frames : 1);
    if (s.decoder_hidden > 0) {
      Macs decoder;
      decoder.linear = positions * 2 * C * s.decoder_hidden;
      add(out, "decoder", decoder);
    }
    Macs head;
    head.linear = positions * C * s.num_outputs();
    if (s.num_outputs() > 0) add(out, "head", head);
    out.num_visible = N;
    return out;
  }

  // Pre-train: how many tokens stay visible per clip.
  const int64_t n_vis = visible_tokens(s, mask_ratio);
  out.num_visible = n_vis;
  const int64_t Cd = s.decoder_embed_dim, n_mask = N - n_vis;
  add(out, "encoder.patch_embed", conv);
  add(out, "encoder.blocks", encoder_blocks(s, B, n_vis));
  Macs e2d;
  e2d.linear = B * n_vis * C * Cd;
  add(out, "encoder_to_decoder", e2d);
  Macs dec;
  for (int64_t i = 0; i < s.decoder_depth; ++i)
    dec += vit_block(B, N, Cd, s.decoder_num_heads, s.mlp_ratio);
  add(out, "decoder.blocks", dec);
  Macs head;
  head.linear = B * (n_mask > 0 ? n_mask : N) * Cd * s.decoder_num_classes();
  add(out, "decoder.head", head);
  return out;
}

ModelSummary summarize(const torch::nn::Module& model, const ModelSpec& spec, int64_t batch,
                       double mask_ratio) {
  ModelSummary macs = count_macs(spec, batch, mask_ratio);
  ModelSummary out = macs;
  out.rows.clear();
  // Parameter groups in registration order first, then the MAC-only groups.
  std::unordered_set<const void*> seen;
  for (const auto& kv : model.named_parameters(/*recurse=*/true)) {
    if (!seen.insert(kv.value().unsafeGetTensorImpl()).second) continue;  // shared attention
    const int64_t n = kv.value().numel();
    row(out, group_of(kv.key())).params += n;
    out.total_params += n;
    if (kv.value().requires_grad()) out.trainable_params += n;
  }
  for (const auto& r : macs.rows) row(out, r.group).macs += r.macs;
  return out;
}

std::string ModelSummary::to_string() const {
  std::string s = description + "\n";
  s += fmt::format("{:<24} {:>14} {:>12}\n", "group", "params", "GMACs");
  for (const auto& r : rows)
    s += fmt::format("{:<24} {:>14} {:>12.4f}\n", r.group, r.params, r.macs / 1e9);
  s += fmt::format("{:<24} {:>14} {:>12.4f}\n", "total", total_params, total_macs() / 1e9);
  s += fmt::format(
      "batch {}: {:.4f} GMACs ({:.4f} GFLOPs as 2xMAC); linear {:.4f}, attention {:.4f}, conv "
      "{:.4f}{} GMACs; trainable params {}",
      batch, total_macs() / 1e9, 2.0 * total_macs() / 1e9, macs_linear / 1e9, macs_attention / 1e9,
      macs_conv / 1e9, macs_scan > 0 ? fmt::format(", scan {:.4f}", macs_scan / 1e9) : "",
      trainable_params);
  if (num_visible > 0) s += fmt::format("; tokens seen by the encoder per clip {}", num_visible);
  return s;
}

}  // namespace dfer::models
