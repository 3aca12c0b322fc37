// Linear products whose bf16 weights are packed once for oneDNN while a PackedWeightScope lives:
// evaluation passes on a CPU under bf16 autocast, without autograd.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <tuple>

namespace dfer::models {

// What autocast hands a product for t: t cast to autocast's dtype for t's device through autocast's
// cache (a leaf fp32 weight is cast once while the cache lives), or t itself when autocast is off.
torch::Tensor autocast_operand(const torch::Tensor& t);

// x @ weight[row0 : row0 + rows]^T + bias, the product at::linear computes (rows < 0: all of
// weight's rows). Under autocast a row slice is taken from autocast's cached cast of the whole
// weight, so the cache serves it too (a view is never cached).
//
// While a PackedWeightScope lives on this thread, a CPU input under bf16 autocast with grad mode
// off goes through oneDNN's inner product (mkldnn::_linear_pointwise) over the weight cast to bf16
// and reordered into oneDNN's blocked layout once for the scope, with the bias inside the GEMM.
// at::linear there packs the weight inside every GEMM and first copies the bias into every output
// row: for the base LGI-Former's fc1 (1616 x 512 x 2048) 8.5 ms against 9.8 ms. The values are
// those of at::linear (bitwise on every shape tested); a non-contiguous input keeps at::linear.
torch::Tensor dense(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                    int64_t row0 = 0, int64_t rows = -1);

// Whether this LibTorch and CPU run the packed bf16 product (the mkldnn ops are registered and a
// trial product on this CPU succeeds); checked once.
bool packed_linear_available();

// Process-wide switch, on by default; off makes every PackedWeightScope inert (bench --linear
// plain measures the same binary both ways).
void set_weight_packing(bool enabled);

// While alive, dense() on this thread packs each weight once and reuses it. A weight changed in
// place (its version counter moved) is packed again. Scopes do not nest: an inner one is inert.
// A scope keeps a bf16 copy of every weight it packed until it ends: hold one for a pass, not for
// a training run (training takes at::linear anyway, grad mode being on).
class PackedWeightScope {
 public:
  PackedWeightScope();
  ~PackedWeightScope();
  PackedWeightScope(const PackedWeightScope&) = delete;
  PackedWeightScope& operator=(const PackedWeightScope&) = delete;

  // Weights packed so far by this scope (tests, logs).
  int64_t packed_count() const { return static_cast<int64_t>(packed_.size()); }

 private:
  friend torch::Tensor dense(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&,
                             int64_t, int64_t);
  struct Packed {
    torch::Tensor source;  // the fp32 weight (or its view): keeps its storage, hence the key, alive
    int64_t version = 0;
    torch::Tensor weight;  // bf16, oneDNN's layout
  };
  // The weight's data, first row, rows, columns and row stride.
  using Key = std::tuple<const void*, int64_t, int64_t, int64_t, int64_t>;
  bool active_ = false;
  std::map<Key, Packed> packed_;
};

}  // namespace dfer::models
