// The common command-line front of every dfer executable:
//   <tool> [--config FILE] [--output_dir DIR] [--dump-config] [-v] [tool flags] [section.key VALUE
//   ...]
// and run_config_tool(), which turns a tool's main() into a few lines.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "dfer/config/config.h"

namespace CLI {
class App;
}

namespace dfer {

struct CliArgs {
  std::string config_file;  // --config / -c (empty: schema defaults only)
  std::string output_dir;   // --output_dir / --output-dir / -o (empty: keep system.output_dir)
  std::vector<std::pair<std::string, std::string>> overrides;  // trailing KEY VALUE pairs, in order
  bool dump_config = false;                                    // --dump-config / --dump_config
  bool verbose = false;                                        // -v / --verbose (debug logging)
  int local_rank = -1;  // --local-rank / --local_rank (accepted, not used: see LOCAL_RANK)
};

// Registers the common options on `app`; trailing positional tokens land in `tokens` (pair them
// with pair_overrides after parsing). Values starting with '-' may need a `--` separator, except
// negative numbers ("optimization.warmup_steps -1" works).
void add_common_options(CLI::App& app, CliArgs& args, std::vector<std::string>& tokens);

// Every option name of `app` ("--config", "-c", ...) with whether it takes a value.
std::vector<std::pair<std::string, bool>> option_names(const CLI::App& app);

// Pairs "KEY VALUE KEY VALUE ..." tokens; an odd count is a dfer::UsageError naming the lone key.
std::vector<std::pair<std::string, std::string>> pair_overrides(
    const std::vector<std::string>& tokens);

// Schema defaults <- config file <- overrides (in order) <- --output_dir (into system.output_dir).
// Throws dfer::UsageError (see Config::load_yaml_file / apply_override).
Config load_config(const CliArgs& args);

// What a tool main supplies. Only `name` and `job` are required.
struct ToolSpec {
  std::string name;         // program name in help and error messages
  std::string description;  // one line for --help
  // Extra flags of this tool (e.g. --resume, --eval); bind them to variables the tool owns.
  std::function<void(CLI::App&)> add_options;
  // Rewrites the arguments (argv without the program name) before they are parsed, e.g. to take
  // another program's flags. Gets every option name of the tool ("--config", "-c", ...) with
  // whether it takes a value. A dfer::UsageError it throws is a command-line error (exit 2).
  std::function<std::vector<std::string>(const std::vector<std::string>& args,
                                         const std::vector<std::pair<std::string, bool>>& own)>
      rewrite_args;
  // Hook after the config is loaded and before --dump-config / the job: map the tool's own flags
  // into the config (cfg.set_*), check cross-key constraints. Exceptions are handled like the
  // job's.
  std::function<void(Config&, const CliArgs&)> after_load;
  // When true and system.output_dir is set, <output_dir>/config.yaml is written (atomically)
  // before the job runs. Tools that write nothing (model summary, predict to stdout) turn it off.
  bool write_config = true;
  // The work. Logging to stderr is set up already (dfer::init_console_logging); the job does the
  // rest of the process setup (log file in output_dir, threads, seeding, distributed init).
  // Its return value is the exit code.
  std::function<int(const Config&)> job;
};

// Parses argv, loads the config, handles --help (exit 0), --dump-config (canonical YAML on stdout,
// exit 0), writes the effective config, runs the job. Errors are printed to stderr and mapped to
// exit codes: 2 for command-line errors and dfer::UsageError, 1 for other failures.
int run_config_tool(int argc, const char* const* argv, const ToolSpec& spec);

// Shorthand for a tool without extra flags.
int run_config_tool(int argc, const char* const* argv, const std::string& name,
                    const std::string& description, std::function<int(const Config&)> job);

}  // namespace dfer
