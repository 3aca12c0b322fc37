// Autocast scopes, device resolution and the loss scaler (see precision.h).
#include "dfer/train/precision.h"

#include "dfer/dist/world.h"

#include <ATen/autocast_mode.h>

#include "dfer/util/error.h"

namespace dfer::train {

namespace {
// Autocast state is kept per device type (LibTorch >= 2.4).
bool autocast_enabled(bool cuda) {
  return at::autocast::is_autocast_enabled(cuda ? at::kCUDA : at::kCPU);
}
void set_autocast(bool cuda, bool on) {
  at::autocast::set_autocast_enabled(cuda ? at::kCUDA : at::kCPU, on);
}
at::ScalarType autocast_dtype(bool cuda) {
  return at::autocast::get_autocast_dtype(cuda ? at::kCUDA : at::kCPU);
}
void set_dtype(bool cuda, at::ScalarType t) {
  at::autocast::set_autocast_dtype(cuda ? at::kCUDA : at::kCPU, t);
}
}  // namespace

Precision parse_precision(const std::string& name, const torch::Device& device) {
  if (name == "fp32") return Precision::kFp32;
  if (name == "bf16") return Precision::kBf16;
  if (name == "fp16") {
    if (!device.is_cuda())
      throw UsageError(
          "system.precision: fp16 needs a CUDA device (LibTorch has no CPU fp16 "
          "autocast); use bf16 on CPU");
    return Precision::kFp16;
  }
  throw UsageError("system.precision: '" + name + "' is not one of fp32, bf16, fp16");
}

const char* precision_name(Precision p) {
  switch (p) {
    case Precision::kFp32:
      return "fp32";
    case Precision::kBf16:
      return "bf16";
    case Precision::kFp16:
      return "fp16";
  }
  return "?";
}

torch::Device resolve_device(const std::string& text) {
  return resolve_device(text, dist::world().local_rank());
}

torch::Device resolve_device(const std::string& text, int64_t local_rank) {
  // Without an explicit index, each process of a node takes the GPU of its local rank.
  const auto gpu = static_cast<c10::DeviceIndex>(local_rank);
  if ((text == "auto" || text.empty()) && !torch::cuda::is_available())
    return torch::Device(torch::kCPU);
  if (text == "auto" || text.empty()) return resolve_device("cuda", local_rank);
  if (text == "cpu") return torch::Device(torch::kCPU);
  if (text.rfind("cuda", 0) == 0) {
    if (!torch::cuda::is_available())
      throw UsageError("system.device: '" + text +
                       "' requested but CUDA is not available (this "
                       "LibTorch build or machine has no GPU); use cpu or auto");
    torch::Device d(text);
    if (d.has_index() && d.index() >= static_cast<int>(torch::cuda::device_count()))
      throw UsageError("system.device: '" + text + "' but only " +
                       std::to_string(torch::cuda::device_count()) + " CUDA device(s) exist");
    if (d.has_index()) return d;
    // One visible GPU (Slurm's --gpus-per-task=1 hides the others): it is this process's.
    const auto count = static_cast<int>(torch::cuda::device_count());
    if (count == 1) return torch::Device(torch::kCUDA, 0);
    if (gpu >= count)
      throw UsageError("system.device: local rank " + std::to_string(local_rank) + " but only " +
                       std::to_string(count) +
                       " CUDA device(s) on this node (more processes than GPUs?)");
    return torch::Device(torch::kCUDA, gpu);
  }
  throw UsageError("system.device: '" + text + "' is not auto, cpu, cuda or cuda:N");
}

AutocastScope::AutocastScope(Precision precision, const torch::Device& device) {
  if (precision == Precision::kFp32) return;
  active_ = true;
  cuda_ = device.is_cuda();
  prev_enabled_ = autocast_enabled(cuda_);
  prev_dtype_ = autocast_dtype(cuda_);
  set_dtype(cuda_, precision == Precision::kFp16 ? at::kHalf : at::kBFloat16);
  set_autocast(cuda_, true);
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  // As torch.autocast.__exit__: the cast cache lives until the outermost scope ends.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_autocast(cuda_, prev_enabled_);
  set_dtype(cuda_, prev_dtype_);
}

// The cache is cleared when the autocast nesting count returns to 0; holding one level keeps it.
CastCacheScope::CastCacheScope(Precision precision) : active_(precision != Precision::kFp32) {
  if (active_) at::autocast::increment_nesting();
  if (precision == Precision::kBf16) packed_.emplace();
}

CastCacheScope::~CastCacheScope() {
  if (active_ && at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
}

void LossScaler::update(bool found_inf) {
  if (!enabled_) return;
  if (found_inf) {
    scale_ *= 0.5;
    growth_tracker_ = 0;
  } else if (++growth_tracker_ >= 2000) {
    scale_ *= 2.0;
    growth_tracker_ = 0;
  }
}

nlohmann::json LossScaler::to_json() const {
  return {{"enabled", enabled_}, {"scale", scale_}, {"growth_tracker", growth_tracker_}};
}

void LossScaler::from_json(const nlohmann::json& j) {
  if (!enabled_ || !j.value("enabled", false)) return;
  scale_ = j.at("scale").get<double>();
  growth_tracker_ = j.at("growth_tracker").get<int64_t>();
}

}  // namespace dfer::train
