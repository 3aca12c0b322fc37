// Launcher environments: torchrun's and Slurm's variables, the Slurm node list, malformed values.
#include <catch2/catch.hpp>

#include <map>
#include <string>

#include "dfer/dist/launch_env.h"
#include "dfer/util/error.h"

using dfer::dist::first_slurm_host;
using dfer::dist::read_launch_env;

namespace {
dfer::dist::EnvLookup env_of(const std::map<std::string, std::string>& m) {
  return [m](const char* name) -> const char* {
    auto it = m.find(name);
    return it == m.end() ? nullptr : it->second.c_str();
  };
}
}  // namespace

TEST_CASE("no launcher: one process", "[dist][env]") {
  const auto e = read_launch_env(env_of({}));
  CHECK(e.launcher == "none");
  CHECK(e.world_size == 1);
  CHECK(e.rank == 0);
}

TEST_CASE("torchrun variables, with and without the agent store", "[dist][env]") {
  std::map<std::string, std::string> m = {{"RANK", "3"},
                                          {"LOCAL_RANK", "1"},
                                          {"WORLD_SIZE", "4"},
                                          {"LOCAL_WORLD_SIZE", "2"},
                                          {"MASTER_ADDR", "node7"},
                                          {"MASTER_PORT", "29611"},
                                          {"TORCHELASTIC_RESTART_COUNT", "2"}};
  auto e = read_launch_env(env_of(m));
  CHECK(e.launcher == "torchrun");
  CHECK(e.rank == 3);
  CHECK(e.local_rank == 1);
  CHECK(e.world_size == 4);
  CHECK(e.local_world_size == 2);
  CHECK(e.master_addr == "node7");
  CHECK(e.master_port == 29611);
  CHECK(e.restart_count == 2);
  CHECK_FALSE(e.agent_store);
  m["TORCHELASTIC_USE_AGENT_STORE"] = "True";
  CHECK(read_launch_env(env_of(m)).agent_store);
  m["TORCHELASTIC_USE_AGENT_STORE"] = "False";
  CHECK_FALSE(read_launch_env(env_of(m)).agent_store);
  // torchrun's variables win over an enclosing Slurm allocation's.
  m["SLURM_PROCID"] = "0";
  m["SLURM_NTASKS"] = "1";
  CHECK(read_launch_env(env_of(m)).launcher == "torchrun");
}

TEST_CASE("Slurm variables and the first host of the node list", "[dist][env]") {
  auto e = read_launch_env(env_of({{"SLURM_PROCID", "5"},
                                   {"SLURM_NTASKS", "8"},
                                   {"SLURM_LOCALID", "1"},
                                   {"SLURM_TASKS_PER_NODE", "4(x2)"},
                                   {"SLURM_JOB_NODELIST", "gpu[03-04]"}}));
  CHECK(e.launcher == "slurm");
  CHECK(e.rank == 5);
  CHECK(e.world_size == 8);
  CHECK(e.local_rank == 1);
  CHECK(e.local_world_size == 4);
  CHECK(e.master_addr == "gpu03");
  CHECK(e.master_port == 29500);
  CHECK(first_slurm_host("a1,b2") == "a1");
  CHECK(first_slurm_host("node[7,9-12],gpu1") == "node7");
  CHECK(first_slurm_host("x[010-012]") == "x010");
  CHECK(first_slurm_host("single") == "single");
  CHECK_THROWS_AS(first_slurm_host("bad[1-2"), dfer::UsageError);
  // MASTER_ADDR, when set, names rank 0's host instead.
  CHECK(read_launch_env(env_of({{"SLURM_PROCID", "0"},
                                {"SLURM_NTASKS", "2"},
                                {"SLURM_JOB_NODELIST", "n[1-2]"},
                                {"MASTER_ADDR", "10.0.0.9"}}))
            .master_addr == "10.0.0.9");
  CHECK_THROWS_WITH(read_launch_env(env_of({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}})),
                    Catch::Contains("SLURM_JOB_NODELIST"));
}

TEST_CASE("malformed launcher variables name the variable", "[dist][env]") {
  CHECK_THROWS_WITH(read_launch_env(env_of({{"RANK", "x"}, {"WORLD_SIZE", "2"}})),
                    Catch::Contains("RANK='x'"));
  CHECK_THROWS_WITH(
      read_launch_env(env_of({{"RANK", "2"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}})),
      Catch::Contains("RANK=2 is not below WORLD_SIZE=2"));
  CHECK_THROWS_WITH(read_launch_env(env_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}})),
                    Catch::Contains("MASTER_ADDR"));
  CHECK_THROWS_WITH(
      read_launch_env(env_of(
          {{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "70000"}})),
      Catch::Contains("MASTER_PORT"));
  CHECK_THROWS_WITH(read_launch_env(env_of({{"SLURM_PROCID", "-1"}, {"SLURM_NTASKS", "2"}})),
                    Catch::Contains("SLURM_PROCID"));
}
