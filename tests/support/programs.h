// Test helpers for end-to-end tests: running the project's executables as child processes and
// reading what they write.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace dfer::test {

// Starts `args` (args[0] = executable path) with extra environment entries and
// OMP_NUM_THREADS=1, stdout and stderr appended to `log`.
pid_t spawn(const std::vector<std::string>& args, const std::string& log,
            const std::vector<std::pair<std::string, std::string>>& env = {});

// Exit status of `pid`, or 128 + signal.
int wait_for(pid_t pid);

// spawn + wait_for; on a non-zero exit the log joins the test's failure message.
int run(const std::vector<std::string>& args, const std::string& log,
        const std::vector<std::pair<std::string, std::string>>& env = {});

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released), for a test's
// rendezvous.
int free_loopback_port();

// Whole file as a string ("" when unreadable).
std::string slurp(const std::filesystem::path& p);

// One JSON object per non-empty line (metrics.jsonl).
std::vector<nlohmann::json> read_jsonl(const std::filesystem::path& p);

}  // namespace dfer::test
