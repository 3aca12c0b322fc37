// Checks before the first training step, so that a broken list or setting fails in seconds rather
// than after hours: every split the run will read (train, validation, test) has its list, every
// row parses with a label inside data.num_classes, every listed clip exists, and the test-time
// resize can feed the model's input. All problems are reported at once, each with its file and
// line.
#pragma once

#include <string>
#include <vector>

#include "dfer/config/config.h"
#include "dfer/models/spec.h"

namespace dfer::train {

struct PreflightOptions {
  bool train = true;        // the training list
  bool validation = true;   // the validation list (unless evaluation during training is off)
  bool test = true;         // the multi-view test list
  int64_t max_listed = 10;  // missing clips listed by name, per list; the rest are counted
};

// The problems found (empty: all good). Pack folders (dfer-prep pack) were validated when packed:
// only their lists' labels are checked.
std::vector<std::string> preflight_problems(const Config& cfg, const models::ModelSpec& spec,
                                            const PreflightOptions& options);

// preflight_problems, thrown as one dfer::UsageError when there is any.
void preflight_or_throw(const Config& cfg, const models::ModelSpec& spec,
                        const PreflightOptions& options);

}  // namespace dfer::train
