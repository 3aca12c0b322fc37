// libFuzzer target for the restricted unpickler (src/io/pickle.cpp): any input must either
// unpickle or throw dfer::Error; the finished tree is then walked to touch every node.
#include "dfer/io/pickle.h"
#include "dfer/util/error.h"

#include <cstddef>
#include <cstdint>

namespace {

using dfer::io::pickle::Kind;
using dfer::io::pickle::Value;

// The unpickler guarantees an acyclic tree of bounded depth, so plain recursion is safe; a
// budget keeps shared sub-trees (a DAG) from making the walk exponential.
size_t walk(const Value* v, size_t& budget) {
  if (!v || budget == 0) return 0;
  --budget;
  size_t n = v->str.size() + v->name.size() + (v->kind == Kind::Tensor ? 1 : 0);
  for (const Value* c : v->items) n += walk(c, budget);
  for (const auto& [k, x] : v->entries) n += walk(k, budget) + walk(x, budget);
  n += walk(v->args, budget) + walk(v->kwargs, budget) + walk(v->state, budget);
  if (v->kind == Kind::Dict) n += v->get("model") != nullptr;
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dfer::io::pickle::Limits limits;
  limits.max_values = 200'000;  // keep each run small; the limits themselves are under test
  limits.max_length = 1 << 20;
  try {
    auto doc = dfer::io::pickle::unpickle(data, size, "fuzz", limits);
    size_t budget = 100'000;
    volatile size_t sink = walk(&doc.root(), budget);
    for (const auto& t : doc.tensors()) sink = sink + t.sizes.size() + t.storage_key.size();
    (void)sink;
  } catch (const dfer::Error&) {
  }
  return 0;
}
