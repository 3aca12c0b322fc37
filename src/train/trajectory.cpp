// Training-trajectory parity (see trajectory.h). The replay calls what the fine-tune engine and
// the trainer call (build_param_groups, make_schedules, AdamW::step,
// label_smoothing_cross_entropy); nothing here knows the fixture's sizes: they all come from its
// config.json.
#include "dfer/train/trajectory.h"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "dfer/io/safetensors.h"
#include "dfer/models/build.h"
#include "dfer/models/parity.h"
#include "dfer/models/spec.h"
#include "dfer/models/weights.h"
#include "dfer/train/losses.h"
#include "dfer/train/optimizer.h"
#include "dfer/train/param_groups.h"
#include "dfer/train/schedule.h"
#include "dfer/util/error.h"

namespace dfer::train {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

TrajectoryCheck check(std::string what, double error, double tolerance, std::string note = {}) {
  return {std::move(what), error, tolerance, std::isfinite(error) && error <= tolerance,
          std::move(note)};
}

// The recipe keys this replay implements; anything else in the fixture's recipe is refused.
void require_supported(const json& r, const fs::path& file) {
  const auto refuse = [&](const std::string& what) {
    throw Error(fmt::format("{}: recipe: {} is not supported by the replay", file.string(), what));
  };
  if (r.value("optimizer", "") != "torch.optim.AdamW") refuse("optimizer other than AdamW");
  if (!r.value("mixup", json()).is_null()) refuse("mixup");
  if (!r.value("clip_grad", json()).is_null()) refuse("clip_grad");
  if (r.value("update_freq", 1) != 1) refuse("update_freq != 1");
  if (r.value("warmup_start", 0.0) != 0.0) refuse("warmup_start != 0");
}

// Parameter groups against the reference's list: same members, lr scale, decay or not.
void compare_groups(const json& ref_groups, const std::vector<ParamGroup>& ours, double wd0,
                    TrajectoryResult& r) {
  std::map<std::string, size_t> group_of;
  for (size_t g = 0; g < ours.size(); ++g)
    for (const auto& n : ours[g].param_names) group_of[n] = g;
  r.checks.push_back(check("group count", std::abs(double(ours.size()) - double(ref_groups.size())),
                           0.0,
                           fmt::format("{} groups, reference {}", ours.size(), ref_groups.size())));
  for (size_t i = 0; i < ref_groups.size(); ++i) {
    const auto& rg = ref_groups[i];
    const auto names = rg.at("params").get<std::vector<std::string>>();
    const std::string what = fmt::format("group {} ({}...)", i, names.empty() ? "" : names[0]);
    auto it = names.empty() ? group_of.end() : group_of.find(names[0]);
    if (it == group_of.end()) {
      r.checks.push_back(check(what, INFINITY, 0.0, "no group of ours holds its first parameter"));
      continue;
    }
    const auto& g = ours[it->second];
    const std::set<std::string> want(names.begin(), names.end());
    const std::set<std::string> have(g.param_names.begin(), g.param_names.end());
    const double ref_scale = rg.at("lr_scale").get<double>();
    const double ref_wd = rg.at("weight_decay_at_step0").get<double>();
    const double our_wd = g.weight_decay > 0 ? wd0 : 0.0;
    std::string note = fmt::format("lr_scale {:.17g} (reference {:.17g}), weight decay {} ({})",
                                   g.lr_scale, ref_scale, our_wd, ref_wd);
    double err = std::abs(g.lr_scale - ref_scale) + std::abs(our_wd - ref_wd);
    if (want != have) {
      err = INFINITY;
      note = fmt::format("members differ: {} vs {} in the reference", have.size(), want.size());
    }
    r.checks.push_back(check(what, err, 1e-15, note));
  }
}

}  // namespace

bool TrajectoryResult::passed() const {
  for (const auto& c : checks)
    if (!c.passed) return false;
  return !checks.empty();
}

std::vector<std::string> TrajectoryResult::failed() const {
  std::vector<std::string> out;
  for (const auto& c : checks)
    if (!c.passed) out.push_back(c.what);
  return out;
}

std::string TrajectoryResult::to_string() const {
  std::string s = fmt::format("{}: {}\n", fixture, description);
  for (const auto& d : deviations) s += fmt::format("  deviation: {}\n", d);
  for (const auto& c : checks)
    s += fmt::format("  {:<44} error {:<10.3e} tol {:<8.1e} {}{}\n", c.what, c.error, c.tolerance,
                     c.passed ? "PASS" : "FAIL", c.note.empty() ? "" : "  " + c.note);
  return s;
}

bool is_trajectory_fixture(const std::string& fixture_dir) {
  const auto path = fs::path(fixture_dir) / "config.json";
  if (!fs::exists(path)) return false;
  return models::read_fixture_config(fixture_dir).value("kind", "") == "finetune_trajectory";
}

TrajectoryResult run_trajectory(const std::string& fixture_dir, const TrajectoryOptions& o) {
  const fs::path dir(fixture_dir);
  const auto config = models::read_fixture_config(fixture_dir);
  const auto cfg_file = dir / "config.json";
  TrajectoryResult r;
  r.fixture = models::fixture_name(fixture_dir);
  const auto& recipe = config.at("recipe");
  require_supported(recipe, cfg_file);
  const auto spec = models::spec_from_reference_config(config);
  r.description = fmt::format("{}, {} steps, float64", models::describe(spec),
                              config.at("steps").get<int64_t>());

  // The model in float64 first, so the float64 weights load without a rounding.
  auto model = models::build_finetune(spec);
  model->to(torch::kFloat64);
  const auto weights = io::load_safetensors((dir / "weights.safetensors").string());
  models::load_state(*model, weights, /*strict=*/true);
  model->train();

  // As the fine-tune engine builds them.
  ParamGroupOptions go;
  go.weight_decay = recipe.at("weight_decay").get<double>();
  go.layer_decay = o.layer_decay_override.value_or(recipe.at("layer_decay").get<double>());
  go.num_layers = spec.depth;
  go.skip_list = finetune_skip_list();
  if (o.layer_decay_override)
    r.deviations.push_back(fmt::format("layer decay {} instead of the recipe's {} (test override)",
                                       go.layer_decay, recipe.at("layer_decay").get<double>()));
  auto groups = build_param_groups(models::unique_named_parameters(*model), go);

  // As the trainer builds them: the config values are unscaled, the fixture lists scaled ones.
  const int64_t total_batch = recipe.at("total_batch").get<int64_t>();
  ScheduleOptions so;
  so.lr = recipe.at("base_lr_before_scaling").get<double>();
  so.min_lr = recipe.at("min_lr").get<double>() * 256.0 / static_cast<double>(total_batch);
  so.total_batch = total_batch;
  so.epochs = recipe.at("epochs").get<int64_t>();
  so.iters_per_epoch = recipe.at("iterations_per_epoch").get<int64_t>();
  so.warmup_epochs = recipe.at("warmup_epochs").get<int64_t>();
  so.weight_decay = go.weight_decay;
  so.weight_decay_end = recipe.value("weight_decay_end", -1.0);
  const auto sched = make_schedules(so);
  const double peak = recipe.at("lr_peak").get<double>();
  r.checks.push_back(check("peak lr (batch-scaled)", std::abs(sched.peak_lr - peak), o.lr_atol));
  compare_groups(config.at("param_groups"), groups, sched.wd.at(0), r);

  AdamWOptions ao;
  const auto betas = recipe.at("betas").get<std::vector<double>>();
  ao.beta1 = betas.at(0);
  ao.beta2 = betas.at(1);
  ao.eps = recipe.at("eps").get<double>();
  ao.missing_grad_as_zero = o.missing_grad_as_zero;
  if (!o.missing_grad_as_zero)
    r.deviations.push_back(
        "parameters without a gradient are skipped (one plain process), where the trainer hands "
        "them zeros as the reference's DDP does");
  AdamW opt(groups, ao);

  const auto input_file = dir / "input.safetensors";
  const auto expected_file = dir / "expected.safetensors";
  const auto inputs = io::to_map(io::load_safetensors(input_file.string()));
  const auto expected = io::to_map(io::load_safetensors(expected_file.string()));
  const double smoothing = recipe.at("label_smoothing").get<double>();
  const int64_t steps = config.at("steps").get<int64_t>();
  if (steps > static_cast<int64_t>(sched.lr.size()))
    throw Error(fmt::format("{}: {} steps but the schedule has {} iterations", cfg_file.string(),
                            steps, sched.lr.size()));
  for (int64_t it = 0; it < steps; ++it) {
    const double lr = sched.lr[it], wd = sched.wd[it];
    const double ref_lr =
        models::fixture_tensor(expected, fmt::format("lr{}", it), expected_file.string())
            .item<double>();
    r.checks.push_back(check(fmt::format("lr[{}]", it), std::abs(lr - ref_lr), o.lr_atol));
    const auto& x = models::fixture_tensor(inputs, fmt::format("x{}", it), input_file.string());
    const auto& y = models::fixture_tensor(inputs, fmt::format("y{}", it), input_file.string());
    opt.zero_grad();
    const auto loss = label_smoothing_cross_entropy(model->forward(x), y, smoothing);
    const double ref =
        models::fixture_tensor(expected, fmt::format("loss{}", it), expected_file.string())
            .item<double>();
    r.checks.push_back(check(fmt::format("loss[{}]", it),
                             std::abs(loss.item<double>() - ref) / std::abs(ref), o.loss_rtol));
    loss.backward();
    opt.step(lr, wd);
  }

  // Every parameter's total change against the reference's.
  torch::NoGradGuard no_grad;
  const auto initial = io::to_map(weights);
  for (const auto& [name, p] : models::unique_named_parameters(*model)) {
    const auto& want_final =
        models::fixture_tensor(expected, "final." + name, expected_file.string());
    const auto start = models::fixture_tensor(initial, name, (dir / "weights.safetensors").string())
                           .to(torch::kFloat64);
    const auto want = want_final.to(torch::kFloat64) - start;
    const auto got = p.detach() - start;
    const double scale = want.abs().max().item<double>();
    const double diff = (got - want).abs().max().item<double>();
    r.checks.push_back(check(name, scale > 0 ? diff / scale : diff, o.change_rtol,
                             fmt::format("max|change| {:.3e}", scale)));
  }
  return r;
}

}  // namespace dfer::train
