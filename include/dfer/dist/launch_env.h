// Where this process sits in a multi-process job, read from the launcher's environment: torchrun
// (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, ...) or Slurm's srun (SLURM_PROCID, SLURM_NTASKS,
// SLURM_LOCALID, the first host of SLURM_JOB_NODELIST). No launcher: one process.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace dfer::dist {

struct LaunchEnv {
  std::string launcher = "none";  // "torchrun" (or any env:// launcher), "slurm", "none"
  int64_t rank = 0;
  int64_t world_size = 1;
  int64_t local_rank = 0;
  int64_t local_world_size = 1;
  std::string master_addr = "127.0.0.1";
  int64_t master_port = 29500;
  // torchrun's agent hosts the store at MASTER_ADDR:MASTER_PORT: every rank, rank 0 included,
  // connects to it as a client.
  bool agent_store = false;
  int64_t restart_count = 0;     // TORCHELASTIC_RESTART_COUNT: > 0 after torchrun restarted the job
  std::string describe() const;  // one line for the log
};

using EnvLookup = std::function<const char*(const char*)>;

// Reads the variables through `lookup` (the process environment by default). A variable that is
// set but malformed (RANK=abc, RANK >= WORLD_SIZE, a port out of range) is a dfer::UsageError
// naming it.
LaunchEnv read_launch_env(const EnvLookup& lookup = {});

// The first host of a Slurm node list: "gpu[03-05,9],cpu1" -> "gpu03", "a,b" -> "a".
std::string first_slurm_host(const std::string& nodelist);

}  // namespace dfer::dist
