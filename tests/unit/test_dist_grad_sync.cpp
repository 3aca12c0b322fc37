// Gradient averaging over a real Gloo world of 2 ranks (two threads of this process, each with
// its own store client and process group): bucketed all-reduce equals the mean of the ranks'
// gradients, whatever the bucket size; a disarmed backward (accumulation micro-step) keeps its
// gradient local; broadcast and row gathering of uneven shards.
#include <catch2/catch.hpp>

#include <functional>
#include <thread>

#include "dfer/dist/grad_sync.h"
#include "dfer/dist/world.h"
#include "support/programs.h"

using dfer::dist::GradientSync;
using dfer::dist::GradSyncOptions;
using dfer::dist::LaunchEnv;
using dfer::dist::World;

namespace {

// Runs `body(world)` on ranks 0 and 1 of a fresh 2-process world, one thread each.
void on_two_ranks(const std::function<void(World&)>& body) {
  const int port = dfer::test::free_loopback_port();
  std::exception_ptr errors[2];
  std::vector<std::thread> threads;
  for (int r = 0; r < 2; ++r)
    threads.emplace_back([&, r] {
      try {
        LaunchEnv env;
        env.launcher = "test";
        env.rank = r;
        env.world_size = 2;
        env.local_world_size = 2;
        env.local_rank = r;
        env.master_port = port;
        dfer::dist::WorldOptions o;
        o.timeout = std::chrono::seconds(30);
        auto w = World::join(env, o);
        body(*w);
      } catch (...) {
        errors[r] = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

// A small two-layer net whose gradients depend on the rank's input. Its weights are a formula, not
// random draws: the two ranks run in threads of one process and share torch's generator.
struct Net {
  torch::nn::Linear a{6, 5}, b{5, 3};
  Net() {
    torch::NoGradGuard no_grad;
    for (auto& p : params())
      p.copy_(torch::sin(torch::arange(p.numel(), torch::kFloat).reshape(p.sizes()) * 0.7));
  }
  std::vector<torch::Tensor> params() { return {a->weight, a->bias, b->weight, b->bias}; }
  torch::Tensor loss(const torch::Tensor& x) { return b(torch::tanh(a(x))).pow(2).mean(); }
};

torch::Tensor input_of(int rank, int micro) {
  return torch::arange(24, torch::kFloat).reshape({4, 6}).mul(0.1 * (rank + 1) + 0.05 * micro);
}

}  // namespace

TEST_CASE("bucketed all-reduce leaves the mean gradient on every rank", "[dist][grad]") {
  for (const int64_t bucket_bytes : {int64_t{1}, int64_t{128}, int64_t{25} << 20}) {
    // The expected average, computed in one place.
    std::vector<torch::Tensor> expected;
    {
      Net n;
      for (int r = 0; r < 2; ++r) n.loss(input_of(r, 0)).backward();
      for (auto& p : n.params()) expected.push_back(p.grad() / 2);
    }
    on_two_ranks([&](World& w) {
      Net n;
      GradSyncOptions o;
      o.bucket_bytes = bucket_bytes;
      GradientSync sync(w, n.params(), o);
      CHECK(sync.stats().buckets == (bucket_bytes == 1 ? 4 : bucket_bytes == 128 ? 2 : 1));
      sync.arm();
      n.loss(input_of(static_cast<int>(w.rank()), 0)).backward();
      sync.finish();
      const auto got = n.params();
      for (size_t i = 0; i < got.size(); ++i)
        CHECK(torch::allclose(got[i].grad(), expected[i], 1e-6, 1e-7));
    });
  }
}

TEST_CASE("accumulation: only the armed backward communicates", "[dist][grad]") {
  std::vector<torch::Tensor> expected;
  {
    Net n;
    for (int r = 0; r < 2; ++r)
      for (int m = 0; m < 2; ++m) n.loss(input_of(r, m)).backward();
    for (auto& p : n.params()) expected.push_back(p.grad() / 2);
  }
  on_two_ranks([&](World& w) {
    Net n;
    GradientSync sync(w, n.params(), {});
    const int r = static_cast<int>(w.rank());
    n.loss(input_of(r, 0)).backward();  // micro-step 1: local only
    {
      // Still this rank's own gradient: nothing was averaged.
      Net fresh;
      fresh.loss(input_of(r, 0)).backward();
      CHECK(torch::allclose(n.params()[0].grad(), fresh.params()[0].grad()));
    }
    sync.arm();
    n.loss(input_of(r, 1)).backward();  // micro-step 2: the sum of both is averaged
    sync.finish();
    for (size_t i = 0; i < expected.size(); ++i)
      CHECK(torch::allclose(n.params()[i].grad(), expected[i], 1e-6, 1e-7));
    CHECK(sync.stats().syncs == 1);
  });
}

TEST_CASE("broadcast from rank 0 and gathering uneven rows", "[dist][world]") {
  on_two_ranks([](World& w) {
    const auto r = w.rank();
    auto a = torch::full({3}, static_cast<float>(r + 1));
    auto b = torch::full({2, 2}, static_cast<double>(10 * (r + 1)));
    w.broadcast({a, b}, "test tensors");
    CHECK(torch::equal(a, torch::full({3}, 1.0f)));
    CHECK(torch::equal(b, torch::full({2, 2}, 10.0, torch::kDouble)));
    // Rank 0 has 3 rows, rank 1 has 2: concatenated in rank order, no padding left.
    auto rows = torch::arange(r == 0 ? 3 : 2, torch::kLong).add(100 * r).reshape({-1, 1});
    auto all = w.gather_rows(rows, "test rows");
    CHECK(torch::equal(all.reshape({-1}), torch::tensor({0, 1, 2, 100, 101}, torch::kLong)));
    auto names = w.gather_strings(
        r == 0 ? std::vector<std::string>{"a", ""} : std::vector<std::string>{"bc"}, "test names");
    CHECK(names == std::vector<std::string>{"a", "", "bc"});
    CHECK(w.sum(std::vector<double>{1.5, static_cast<double>(r)}, "test sum") ==
          std::vector<double>{3.0, 1.0});
  });
}
