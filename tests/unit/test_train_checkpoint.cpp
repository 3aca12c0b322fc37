// Checkpoint round trip (weights + exact AdamW state), resume scan skipping a corrupt checkpoint,
// mismatched weight/state pairs, pruning; AdamW against torch::optim::AdamW.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "dfer/train/checkpoint.h"
#include "dfer/train/optimizer.h"
#include "dfer/util/error.h"
#include "support/fixtures.h"

using namespace dfer::train;
namespace fs = std::filesystem;

namespace {
struct Toy {
  torch::Tensor w = torch::randn({4, 3}).requires_grad_(true);
  torch::Tensor b = torch::randn({4}).requires_grad_(true);
  std::vector<ParamGroup> groups() {
    ParamGroup d{"decay", {"w"}, {w}, 0.05, 1.0};
    ParamGroup n{"no_decay", {"b"}, {b}, 0.0, 0.5};
    return {d, n};
  }
  void backward(int k) {
    auto x = torch::arange(3, torch::kFloat) + k;
    ((torch::matmul(w, x) + b).pow(2).sum()).backward();
  }
};
}  // namespace

TEST_CASE("AdamW matches torch::optim::AdamW", "[train][optimizer]") {
  torch::manual_seed(1);
  Toy a;
  Toy b;
  b.w = a.w.detach().clone().requires_grad_(true);
  b.b = a.b.detach().clone().requires_grad_(true);
  AdamWOptions o;
  o.beta2 = 0.95;
  // Only `w` is optimised on both sides (b stays fixed, so both see the same loss).
  AdamW mine({ParamGroup{"decay", {"w"}, {a.w}, 0.05, 1.0}}, o);
  torch::optim::AdamW ref({b.w},
                          torch::optim::AdamWOptions(1e-2).betas({0.9, 0.95}).weight_decay(0.05));
  for (int k = 0; k < 5; ++k) {
    a.backward(k);
    b.backward(k);
    mine.step(1e-2, 0.05);
    ref.step();
    mine.zero_grad();
    ref.zero_grad();
    a.b.mutable_grad() = torch::Tensor();
    b.b.mutable_grad() = torch::Tensor();
  }
  CHECK(torch::allclose(a.w, b.w, 1e-6, 1e-7));
}

TEST_CASE("checkpoint round trip restores the optimizer exactly", "[train][checkpoint]") {
  const auto dir = dfer::test::temp_dir("train_ckpt").string();
  torch::manual_seed(2);
  Toy a;
  AdamW opt(a.groups(), {});
  for (int k = 0; k < 3; ++k) {
    a.backward(k);
    opt.step(1e-2, 0.05);
    opt.zero_grad();
  }
  dfer::io::NamedTensors weights = {{"w", a.w.detach()}, {"b", a.b.detach()}};
  save_checkpoint(dir, "2", weights, opt.state_tensors(),
                  {{"global_step", 3}, {"epoch", 3}, {"optimizer", opt.state_json()}});
  CHECK(fs::exists(checkpoint_weights_path(dir, "2")));
  std::ifstream ptr(fs::path(dir) / kLastPointerName);
  std::string tag;
  ptr >> tag;
  CHECK(tag == "2");

  auto c = load_checkpoint(dir, "2");
  Toy b;
  b.w = c.weights[0].second.clone().requires_grad_(true);
  b.b = c.weights[1].second.clone().requires_grad_(true);
  AdamW opt2(b.groups(), {});
  opt2.load_state(c.state_tensors, c.state.at("optimizer"));
  a.backward(7);
  b.backward(7);
  opt.step(1e-2, 0.05);
  opt2.step(1e-2, 0.05);
  CHECK(torch::equal(a.w, b.w));
  CHECK(torch::equal(a.b, b.b));

  // Wrong shapes or missing moments are errors naming the tensor.
  auto broken = c.state_tensors;
  broken.erase("opt.w.exp_avg");
  CHECK_THROWS_WITH(opt2.load_state(broken, c.state.at("optimizer")),
                    Catch::Contains("opt.w.exp_avg"));
}

TEST_CASE("resume scan skips a corrupt newest checkpoint", "[train][checkpoint]") {
  const auto dir = dfer::test::temp_dir("train_scan").string();
  dfer::io::NamedTensors w = {{"x", torch::ones({2})}};
  save_checkpoint(dir, "0", w, {}, {{"global_step", 10}, {"epoch", 1}});
  save_checkpoint(dir, "1", w, {}, {{"global_step", 20}, {"epoch", 2}});
  save_checkpoint(dir, "2", w, {}, {{"global_step", 30}, {"epoch", 3}});
  CHECK(list_checkpoints(dir) == std::vector<std::string>{"2", "1", "0"});
  CHECK(find_resume_checkpoint(dir)->tag == "2");

  // Truncate the newest weights file: the scan warns and falls back to "1".
  fs::resize_file(checkpoint_weights_path(dir, "2"), 10);
  auto c = find_resume_checkpoint(dir);
  REQUIRE(c);
  CHECK(c->tag == "1");
  CHECK(c->state.at("global_step") == 20);
  CHECK_THROWS_AS(load_checkpoint(dir, "2"), dfer::Error);

  // A weights file from another save (size differs) is refused.
  save_checkpoint(dir, "3", {{"x", torch::ones({5})}}, {}, {{"global_step", 40}});
  fs::copy_file(checkpoint_weights_path(dir, "1"), checkpoint_weights_path(dir, "3"),
                fs::copy_options::overwrite_existing);
  CHECK_THROWS_WITH(load_checkpoint(dir, "3"), Catch::Contains("different saves"));
  // Garbage state file.
  { std::ofstream(checkpoint_state_path(dir, "1"), std::ios::trunc) << "garbage"; }
  CHECK(find_resume_checkpoint(dir)->tag == "0");
  CHECK(load_checkpoint_path(checkpoint_weights_path(dir, "0")).tag == "0");
  CHECK_THROWS_AS(load_checkpoint_path((fs::path(dir) / "nonsense.bin").string()), dfer::Error);
  CHECK_FALSE(find_resume_checkpoint((fs::path(dir) / "empty").string()));
}

TEST_CASE("a weights file of equal size from another save is refused by its content hash",
          "[train][checkpoint]") {
  const auto dir = dfer::test::temp_dir("train_hash").string();
  save_checkpoint(dir, "0", {{"x", torch::ones({4})}}, {}, {{"global_step", 10}});
  save_checkpoint(dir, "1", {{"x", torch::full({4}, 2.0)}}, {}, {{"global_step", 20}});
  REQUIRE(fs::file_size(checkpoint_weights_path(dir, "0")) ==
          fs::file_size(checkpoint_weights_path(dir, "1")));
  const auto state = load_checkpoint(dir, "1").state;
  CHECK(state.at("weights_xxh3").get<std::string>().size() == 32);
  // A kill between the two files of a re-save leaves exactly this: new weights, old state.
  fs::copy_file(checkpoint_weights_path(dir, "0"), checkpoint_weights_path(dir, "1"),
                fs::copy_options::overwrite_existing);
  CHECK_THROWS_WITH(load_checkpoint(dir, "1"),
                    Catch::Contains("content hash") && Catch::Contains("checkpoint-1.safetensors"));
  // One flipped byte inside a tensor is caught too.
  {
    std::fstream f(checkpoint_weights_path(dir, "0"),
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-2, std::ios::end);
    f.put('\x7f');
  }
  CHECK_THROWS_WITH(load_checkpoint(dir, "0"), Catch::Contains("damaged"));
  const ResumeScan scan = scan_resume_checkpoints(dir);
  CHECK_FALSE(scan.checkpoint);
  REQUIRE(scan.rejected.size() == 2);
  CHECK(scan.rejected[0].first == "1");
  CHECK_THAT(scan.rejected[1].second, Catch::Contains("content hash"));
}

TEST_CASE("temp files of a killed writer are removed, a live writer's are kept",
          "[train][checkpoint]") {
  const auto dir = dfer::test::temp_dir("train_temps");
  // A pid that cannot run: above the kernel's pid_max (at most 2^22).
  const std::string dead = ".checkpoint-3.safetensors.tmp-99999999-0-123";
  const std::string live = ".metrics.jsonl.tmp-" + std::to_string(::getpid()) + "-1-456";
  for (const auto& name :
       {dead, live, std::string("checkpoint-3.safetensors"), std::string(".hidden.tmp-notapid-1")})
    std::ofstream(dir / name) << "x";
  CHECK(remove_stale_temp_files(dir.string()) == 1);
  CHECK_FALSE(fs::exists(dir / dead));
  CHECK(fs::exists(dir / live));
  CHECK(fs::exists(dir / "checkpoint-3.safetensors"));
  CHECK(fs::exists(dir / ".hidden.tmp-notapid-1"));
  CHECK(remove_stale_temp_files((dir / "missing").string()) == 0);
}

TEST_CASE("pruning keeps the newest K epoch checkpoints", "[train][checkpoint]") {
  const auto dir = dfer::test::temp_dir("train_prune").string();
  dfer::io::NamedTensors w = {{"x", torch::ones({2})}};
  save_checkpoint(dir, "0-5", w, {}, {{"global_step", 5}});
  for (int e = 0; e < 4; ++e)
    save_checkpoint(dir, std::to_string(e), w, {}, {{"global_step", 10 * (e + 1)}});
  prune_checkpoints(dir, 2);
  CHECK(list_checkpoints(dir) == std::vector<std::string>{"3", "2"});
  CHECK_FALSE(fs::exists(checkpoint_weights_path(dir, "0")));
  CHECK_FALSE(fs::exists(checkpoint_state_path(dir, "0-5")));
}
