// Compute precision: autocast scopes (bf16 / fp16 on CUDA, bf16 on CPU through oneDNN) over fp32
// master weights, and the dynamic loss scaler fp16 needs (torch.cuda.amp.GradScaler's rules).
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

#include "dfer/models/packed_linear.h"

namespace dfer::train {

enum class Precision { kFp32, kBf16, kFp16 };

// "fp32" | "bf16" | "fp16"; dfer::UsageError otherwise. fp16 on CPU is refused (no CPU fp16
// autocast in LibTorch) with a message that suggests bf16.
Precision parse_precision(const std::string& name, const torch::Device& device);
const char* precision_name(Precision p);

// "auto" -> cuda when available else cpu; "cpu"; "cuda"/"cuda:N" (dfer::UsageError when CUDA is
// not available in this build or machine).
torch::Device resolve_device(const std::string& text);
// The same for the process of `local_rank` on its node: "auto" / "cuda" take GPU local_rank.
torch::Device resolve_device(const std::string& text, int64_t local_rank);

// RAII autocast scope for the forward pass (and loss); no-op for fp32. Nesting-safe; clears the
// cast cache on exit like torch.autocast.
class AutocastScope {
 public:
  AutocastScope(Precision precision, const torch::Device& device);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_ = false;
  bool cuda_ = false;
  bool prev_enabled_ = false;
  at::ScalarType prev_dtype_ = at::kFloat;
};

// Keeps autocast's cast cache (the reduced-precision copies of the weights) alive across the
// AutocastScopes opened while it lives, for passes whose weights do not change: an evaluation then
// casts every weight once instead of once per batch (for the base LGI-Former in bf16 on a CPU,
// 85 M parameters read and written at every batch). No-op for fp32. Never hold one across an
// optimizer step: the cached copies would go stale. Autocast caches nothing under
// torch::InferenceMode: run such passes under torch::NoGradGuard. In bf16 it also holds a
// models::PackedWeightScope: on a CPU the Linear weights are cast and packed for oneDNN once for
// the pass (not through autocast's cache).
class CastCacheScope {
 public:
  explicit CastCacheScope(Precision precision);
  ~CastCacheScope();
  CastCacheScope(const CastCacheScope&) = delete;
  CastCacheScope& operator=(const CastCacheScope&) = delete;

 private:
  bool active_ = false;
  std::optional<models::PackedWeightScope> packed_;
};

// Dynamic loss scaling (fp16 only; for other precisions scale() is 1 and update() a no-op):
// init 2^16, x0.5 on a non-finite step, x2 after 2000 finite steps in a row.
class LossScaler {
 public:
  explicit LossScaler(bool enabled) : enabled_(enabled), scale_(enabled ? 65536.0 : 1.0) {}
  bool enabled() const { return enabled_; }
  double scale() const { return scale_; }
  // Records the outcome of a step (found_inf = gradients not finite after unscaling).
  void update(bool found_inf);
  nlohmann::json to_json() const;
  void from_json(const nlohmann::json& j);

 private:
  bool enabled_;
  double scale_;
  int64_t growth_tracker_ = 0;
};

}  // namespace dfer::train
