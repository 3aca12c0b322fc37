// Weight-file dispatch and .pth conversion (see weight_files.h).
#include "dfer/io/weight_files.h"

#include <fstream>

#include "dfer/io/pth.h"
#include "dfer/util/error.h"

namespace dfer::io {
namespace {

// torch.save writes a zip ("PK\x03\x04") or, in the legacy format, a pickle (0x80 protocol byte).
// A safetensors file starts with its little-endian header length, whose first byte may be 0x80 too,
// so its own signature (the header's '{' at byte 8) is checked first.
bool looks_like_checkpoint(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("cannot open weight file '" + path + "'");
  unsigned char magic[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};
  f.read(reinterpret_cast<char*>(magic), 9);
  if (f.gcount() < 4) return false;
  if (f.gcount() == 9 && magic[8] == '{') return false;
  return (magic[0] == 'P' && magic[1] == 'K' && magic[2] == 3 && magic[3] == 4) || magic[0] == 0x80;
}

}  // namespace

NamedTensors load_weights_any(const std::string& path) {
  if (looks_like_checkpoint(path)) return load_pth_state_dict(path);
  return load_safetensors(path);
}

ConvertResult convert_pth_to_safetensors(const std::string& in, const std::string& out) {
  auto file = read_pth(in);
  ConvertResult result;
  auto tensors = state_dict_from(file, &result.selected_key);
  result.tensors = tensors.size();
  for (const auto& [name, t] : tensors) result.values += t.numel();
  std::map<std::string, std::string> meta;
  meta["format"] = "pt";
  meta["dfer.source"] = "converted from a PyTorch checkpoint";
  meta["dfer.state_dict_key"] = result.selected_key.empty() ? "<top level>" : result.selected_key;
  meta["dfer.pth_metadata"] = pth_metadata_json(file, result.selected_key);
  save_safetensors(out, tensors, meta);
  return result;
}

}  // namespace dfer::io
