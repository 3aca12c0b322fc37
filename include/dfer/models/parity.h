// Parity against the Python reference fixtures (fixtures/reference/<set>/): builds the model the
// fixture's config.json describes, loads its weights, runs its input and compares every tensor
// of expected.safetensors. Used by the dfer-parity tool and the parity tests.
#pragma once

#include "dfer/models/attention.h"
#include "dfer/models/spec.h"

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace dfer::models {

struct ParityOptions {
  double atol = 1e-4;  // scaled by max(1, max|expected|) per tensor
  double rtol = 1e-4;
  double target_atol = 1e-5;  // labels / targets: pure arithmetic on the input, no model
  double loss_rtol = 1e-5;    // scalar losses
  AttentionBackend backend = AttentionBackend::kFused;
  // Where the model runs (outputs are compared on the CPU in float64). On CUDA the run holds
  // TF32 off for cuBLAS and cuDNN, so fp32 means fp32 as in the reference.
  torch::Device device = torch::kCPU;
};

struct TensorCheck {
  std::string name;
  std::vector<int64_t> shape;  // expected shape
  double max_abs = 0.0;        // max |ours - expected|
  double max_rel = 0.0;        // max |ours - expected| / max(|expected|, atol)
  double max_ref = 0.0;        // max |expected|
  bool passed = false;
  std::string note;  // why it failed beyond tolerance: unknown name, shape, missing output
};

struct ParityResult {
  std::string fixture;      // folder name
  std::string description;  // model class and describe(spec)
  std::vector<TensorCheck> checks;
  bool passed() const;
  std::string to_string() const;  // one line per tensor, then the verdict
};

// Maps a fixture config.json (model_class + constructor, with `derived.num_frames` for the
// pre-train model) onto a ModelSpec. Throws dfer::Error naming the key for anything unsupported
// (unknown keys included), so a new upstream option cannot be silently ignored.
ModelSpec spec_from_reference_config(const nlohmann::json& config);

// A fixture folder's config.json; throws dfer::Error naming the file when it is missing or not
// JSON.
nlohmann::json read_fixture_config(const std::string& fixture_dir);
// A fixture folder's name (its last component, with or without a trailing slash).
std::string fixture_name(const std::string& fixture_dir);
// The tensor `name` of a fixture file read into `tensors`; throws dfer::Error naming the file and
// the tensor when it is absent.
const torch::Tensor& fixture_tensor(const std::map<std::string, torch::Tensor>& tensors,
                                    const std::string& name, const std::string& file);

// Runs one fixture folder. Throws dfer::Error when the folder cannot be read; comparison
// failures are reported in the result, not thrown.
ParityResult run_parity(const std::string& fixture_dir, const ParityOptions& options = {});

}  // namespace dfer::models
