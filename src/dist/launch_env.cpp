// Launcher environment parsing (see launch_env.h).
#include "dfer/dist/launch_env.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <limits>

#include <fmt/format.h>

#include "dfer/util/error.h"

namespace dfer::dist {

namespace {

const char* env_or_null(const EnvLookup& lookup, const char* name) {
  const char* v = lookup ? lookup(name) : std::getenv(name);
  return v && *v ? v : nullptr;
}

int64_t parse_int(const char* name, const char* text, int64_t lo, int64_t hi) {
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < lo || v > hi)
    throw UsageError(fmt::format("environment variable {}='{}': expected an integer in [{}, {}]",
                                 name, text, lo, hi));
  return v;
}

int64_t int_or(const EnvLookup& lookup, const char* name, int64_t fallback, int64_t lo,
               int64_t hi = std::numeric_limits<int32_t>::max()) {
  const char* v = env_or_null(lookup, name);
  return v ? parse_int(name, v, lo, hi) : fallback;
}

void check_rank(const LaunchEnv& e, const char* rank_var, const char* size_var) {
  if (e.rank >= e.world_size)
    throw UsageError(fmt::format("environment: {}={} is not below {}={}", rank_var, e.rank,
                                 size_var, e.world_size));
  if (e.local_rank >= e.local_world_size)
    throw UsageError(fmt::format("environment: local rank {} is not below the local world size {}",
                                 e.local_rank, e.local_world_size));
}

}  // namespace

std::string LaunchEnv::describe() const {
  return fmt::format("{} rank {} of {} (local {} of {}), store {}:{}{}{}", launcher, rank,
                     world_size, local_rank, local_world_size, master_addr, master_port,
                     agent_store ? " (torchrun agent's)" : "",
                     restart_count > 0 ? fmt::format(", restart {}", restart_count) : "");
}

std::string first_slurm_host(const std::string& nodelist) {
  // Hosts are separated by commas outside brackets; a bracket holds ranges of suffixes.
  std::string first;
  size_t i = 0;
  for (; i < nodelist.size() && nodelist[i] != ','; ++i) {
    if (nodelist[i] == '[') break;
    first += nodelist[i];
  }
  if (i < nodelist.size() && nodelist[i] == '[') {
    const size_t close = nodelist.find(']', i);
    if (close == std::string::npos)
      throw UsageError("environment variable SLURM_JOB_NODELIST='" + nodelist +
                       "': unbalanced '['");
    const std::string inside = nodelist.substr(i + 1, close - i - 1);
    first += inside.substr(0, inside.find_first_of(",-"));
  }
  if (first.empty())
    throw UsageError("environment variable SLURM_JOB_NODELIST='" + nodelist + "': no host in it");
  return first;
}

LaunchEnv read_launch_env(const EnvLookup& lookup) {
  LaunchEnv e;
  const bool torchrun = env_or_null(lookup, "RANK") && env_or_null(lookup, "WORLD_SIZE");
  const bool slurm = env_or_null(lookup, "SLURM_PROCID") && env_or_null(lookup, "SLURM_NTASKS");
  if (torchrun) {
    e.launcher = "torchrun";
    e.world_size = int_or(lookup, "WORLD_SIZE", 1, 1);
    e.rank = int_or(lookup, "RANK", 0, 0);
    e.local_rank = int_or(lookup, "LOCAL_RANK", 0, 0);
    e.local_world_size = int_or(lookup, "LOCAL_WORLD_SIZE", e.world_size, 1);
    check_rank(e, "RANK", "WORLD_SIZE");
    const char* addr = env_or_null(lookup, "MASTER_ADDR");
    if (e.world_size > 1 && !addr)
      throw UsageError("environment: RANK and WORLD_SIZE are set but MASTER_ADDR is not");
    if (addr) e.master_addr = addr;
    e.master_port = int_or(lookup, "MASTER_PORT", e.master_port, 1, 65535);
    const char* agent = env_or_null(lookup, "TORCHELASTIC_USE_AGENT_STORE");
    e.agent_store = agent && std::string(agent) == "True";
    e.restart_count = int_or(lookup, "TORCHELASTIC_RESTART_COUNT", 0, 0);
  } else if (slurm) {
    e.launcher = "slurm";
    e.world_size = int_or(lookup, "SLURM_NTASKS", 1, 1);
    e.rank = int_or(lookup, "SLURM_PROCID", 0, 0);
    e.local_rank = int_or(lookup, "SLURM_LOCALID", 0, 0);
    // Tasks on this node: SLURM_NTASKS_PER_NODE, else the leading count of SLURM_TASKS_PER_NODE
    // ("4(x2)" = 4 tasks on each of 2 nodes); both are informational (devices follow the local
    // rank).
    const char* per_node = env_or_null(lookup, "SLURM_NTASKS_PER_NODE");
    if (!per_node) per_node = env_or_null(lookup, "SLURM_TASKS_PER_NODE");
    e.local_world_size = per_node ? std::max<int64_t>(1, std::atoll(per_node)) : e.world_size;
    e.local_world_size = std::max(e.local_world_size, e.local_rank + 1);
    check_rank(e, "SLURM_PROCID", "SLURM_NTASKS");
    if (const char* addr = env_or_null(lookup, "MASTER_ADDR")) {
      e.master_addr = addr;
    } else if (const char* nodes = env_or_null(lookup, "SLURM_JOB_NODELIST")) {
      e.master_addr = first_slurm_host(nodes);
    } else if (e.world_size > 1) {
      throw UsageError(
          "environment: a Slurm job step of " + std::to_string(e.world_size) +
          " tasks, but neither MASTER_ADDR nor SLURM_JOB_NODELIST is set to find rank 0's host");
    }
    e.master_port = int_or(lookup, "MASTER_PORT", e.master_port, 1, 65535);
  }
  return e;
}

}  // namespace dfer::dist
