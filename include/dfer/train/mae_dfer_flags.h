// MAE-DFER's argparse command lines (run_class_finetuning.py, run_mae_pretraining.py) on
// dfer-finetune / dfer-pretrain: every flag of those parsers maps onto a config key, so a
// published script runs with only the program swapped.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace dfer::train {

// One argparse flag of the reference.
struct MaeDferFlag {
  enum class Kind {
    kValue,       // --flag VALUE
    kList,        // --flag V1 V2 ... (nargs='+', numbers), written as a YAML list
    kStoreTrue,   // --flag -> key true
    kStoreFalse,  // --flag -> key false (--no_auto_resume, --use_cls, ...)
    kPythonBool,  // type=bool: Python's bool(str), so any non-empty text is true
  };
  std::string name;  // without the leading dashes, as argparse spells it: "batch_size"
  std::string key;   // config key; "" = accepted, no effect here (said once in the log)
  Kind kind = Kind::kValue;
  // The script's default as YAML when it differs from dfer's schema default and applies here;
  // "" = nothing to apply (the same default, or a value dfer cannot take, like Kinetics-400).
  std::string argparse_default;
};

// The flags of the fine-tuning (pretrain == false) or pre-training parser.
const std::vector<MaeDferFlag>& mae_dfer_flags(bool pretrain);

// A flag the program itself parses (CLI11): its names and whether it takes a value.
struct NativeFlag {
  std::string name;  // "--config", "-c", "--output_dir", ...
  bool takes_value = false;
};

struct MaeDferTranslation {
  std::vector<std::string> args;   // what the program's own parser gets (no argv[0])
  bool used = false;               // at least one MAE-DFER flag was given
  std::vector<std::string> notes;  // flags accepted with no effect, quirks applied (for the log)
};

// Rewrites `args` (argv without the program name): native flags and their values stay as they
// are; each MAE-DFER flag becomes a `KEY VALUE` override, after the argparse defaults (only when
// no --config is given: a script without a config file gets the script's defaults, as argparse
// would) and before the user's own trailing KEY VALUE pairs, which win. argparse's unique-prefix
// abbreviations work. An unknown flag throws UsageError naming it and the nearest known flag.
MaeDferTranslation translate_mae_dfer_args(const std::vector<std::string>& args, bool pretrain,
                                           const std::vector<NativeFlag>& native);

// The known name nearest to `name` (edit distance), for "did you mean" messages.
std::string nearest_name(const std::string& name, const std::vector<std::string>& known);

}  // namespace dfer::train
