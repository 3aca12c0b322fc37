// The shared CLI front: CLI11 options, KEY VALUE overrides, config loading and the exit-code
// convention (0 ok, 1 runtime failure, 2 usage/config error).
#include "dfer/config/cli.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <exception>
#include <iostream>

#include "dfer/util/error.h"
#include "dfer/util/log.h"
#include "dfer/util/strings.h"

namespace dfer {

void add_common_options(CLI::App& app, CliArgs& args, std::vector<std::string>& tokens) {
  app.add_option("-c,--config", args.config_file, "YAML config file (original section names)")
      ->type_name("FILE");
  app.add_option("-o,--output_dir,--output-dir", args.output_dir,
                 "run folder; sets system.output_dir (wins over the file and KEY VALUE)")
      ->type_name("DIR");
  app.add_flag("--dump-config,--dump_config", args.dump_config,
               "print the effective config as YAML and exit");
  app.add_flag("-v,--verbose", args.verbose, "debug logging");
  // torch.distributed.launch (and torchrun without --no-python wrappers) pass the local rank as
  // an argument; the environment (LOCAL_RANK) is what dfer reads, so the value is only accepted.
  app.add_option("--local-rank,--local_rank", args.local_rank,
                 "accepted for launchers that pass it; the environment's LOCAL_RANK is used");
  // Overrides are collected as the leftover arguments, not through a positional vector option:
  // CLI11 splits a "[a,b]" token of a vector option into items, and a YAML list value must reach
  // the override parser whole. Leftovers that look like options are unknown flags.
  app.allow_extras();
  app.footer(
      "Trailing KEY VALUE pairs override the config: section.key VALUE (VALUE is YAML: 0.01, "
      "[2,5,10], true, null)");
  app.parse_complete_callback([&app, &tokens] {
    tokens = app.remaining();
    for (const auto& t : tokens) {
      const bool negative_number = t.size() > 1 && t[0] == '-' &&
                                   (std::isdigit(static_cast<unsigned char>(t[1])) || t[1] == '.');
      if (t.size() > 1 && t[0] == '-' && !negative_number) {
        std::string nearest;
        std::size_t best = std::string::npos;
        for (const auto& [name, takes_value] : option_names(app)) {
          const std::size_t d = edit_distance(t.substr(0, t.find('=')), name);
          if (d < best) best = d, nearest = name;
        }
        throw UsageError("unknown flag " + t + "; the nearest known flag is " + nearest);
      }
    }
  });
}

std::vector<std::pair<std::string, bool>> option_names(const CLI::App& app) {
  std::vector<std::pair<std::string, bool>> out;
  for (const CLI::Option* opt : app.get_options()) {
    const bool takes_value = opt->get_expected_min() > 0;  // flags expect 0 values
    for (const auto& l : opt->get_lnames()) out.emplace_back("--" + l, takes_value);
    for (const auto& s : opt->get_snames()) out.emplace_back("-" + s, takes_value);
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> pair_overrides(
    const std::vector<std::string>& tokens) {
  if (tokens.size() % 2 != 0)
    throw UsageError("overrides must be KEY VALUE pairs; '" + tokens.back() + "' has no value");
  std::vector<std::pair<std::string, std::string>> out;
  for (std::size_t i = 0; i < tokens.size(); i += 2) out.emplace_back(tokens[i], tokens[i + 1]);
  return out;
}

Config load_config(const CliArgs& args) {
  Config cfg;
  if (!args.config_file.empty()) cfg.load_yaml_file(args.config_file);
  for (const auto& [key, value] : args.overrides) cfg.apply_override(key, value);
  if (!args.output_dir.empty()) cfg.set_string("system.output_dir", args.output_dir);
  return cfg;
}

int run_config_tool(int argc, const char* const* argv, const ToolSpec& spec) {
  CLI::App app(spec.description, spec.name);
  CliArgs args;
  std::vector<std::string> tokens;
  add_common_options(app, args, tokens);
  if (spec.add_options) spec.add_options(app);
  try {
    if (spec.rewrite_args) {
      auto args =
          spec.rewrite_args(std::vector<std::string>(argv + 1, argv + argc), option_names(app));
      std::reverse(args.begin(), args.end());  // CLI11 takes a vector last argument first
      app.parse(args);
    } else {
      app.parse(argc, argv);
    }
  } catch (const UsageError& e) {
    std::fprintf(stderr, "%s: error: %s\nRun with --help for more information.\n",
                 spec.name.c_str(), e.what());
    return 2;
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "%s: error: %s\nRun with --help for more information.\n",
                 spec.name.c_str(), e.what());
    return 2;
  }
  // Warnings of the config load must go to stderr, never into a --dump-config on stdout.
  init_console_logging(args.verbose);
  try {
    args.overrides = pair_overrides(tokens);
    Config cfg = load_config(args);
    if (spec.after_load) spec.after_load(cfg, args);
    if (args.dump_config) {
      std::cout << cfg.dump_yaml() << std::flush;
      return 0;
    }
    const std::string& out_dir = cfg.get_string("system.output_dir");
    if (spec.write_config && !out_dir.empty()) {
      const std::string path = cfg.write_effective(out_dir);
      spdlog::info("effective config written to {}", path);
    }
    if (!spec.job) throw Error("tool '" + spec.name + "' has no job");
    return spec.job(cfg);
  } catch (const Error& e) {
    spdlog::error("{}", e.what());
    return exit_code_for(e);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
}

int run_config_tool(int argc, const char* const* argv, const std::string& name,
                    const std::string& description, std::function<int(const Config&)> job) {
  ToolSpec spec;
  spec.name = name;
  spec.description = description;
  spec.job = std::move(job);
  return run_config_tool(argc, argv, spec);
}

}  // namespace dfer
