// .pth checkpoint reader: LibTorch's zip reader for the records, the restricted unpickler for
// data.pkl, tensors built as views of one tensor per storage record (see pth.h).
#include "dfer/io/pth.h"

#include "dfer/util/error.h"
#include "pth_zip.h"

#include <caffe2/serialize/inline_container.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <memory>
#include <unordered_map>

namespace dfer::io {

namespace {

using pickle::Kind;
using pickle::Value;

constexpr size_t kMaxPickleBytes = size_t{1} << 30;

// The legacy serializer starts with the pickled magic number 0x1950a86a20f9469cfc6c (LONG1).
constexpr std::array<uint8_t, 12> kLegacyMagic = {0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                                  0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

std::string zip_out_name(const std::string& path) {
  auto dot = path.rfind('.');
  auto slash = path.rfind('/');
  std::string stem = (dot != std::string::npos && (slash == std::string::npos || dot > slash))
                         ? path.substr(0, dot)
                         : path;
  return stem + "_zip.pth";
}

// Reads the start of the file: refuses anything that is not a zip (legacy checkpoints first),
// and returns the archive folder named by the first zip entry and the file's size.
std::string sniff(const std::string& path, uint64_t* file_size) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw Error(path + ": cannot open checkpoint file");
  *file_size = static_cast<uint64_t>(std::max<std::streamoff>(in.tellg(), 0));
  in.seekg(0);
  std::array<uint8_t, 30 + 512> head{};
  in.read(reinterpret_cast<char*>(head.data()), static_cast<std::streamsize>(head.size()));
  const size_t got = static_cast<size_t>(in.gcount());
  const bool zip = got >= 30 && std::memcmp(head.data(), "PK\x03\x04", 4) == 0;
  if (!zip) {
    const bool legacy = got >= 2 + kLegacyMagic.size() && head[0] == 0x80 &&
                        std::memcmp(head.data() + 2, kLegacyMagic.data(), kLegacyMagic.size()) == 0;
    throw Error(path +
                (legacy ? ": legacy (pre-1.6, non-zip) PyTorch checkpoint format is not supported"
                        : ": not a PyTorch zip checkpoint (torch.save >= 1.6 format)") +
                "; if torch.load can read it, re-save it once with Python: " +
                pth_resave_command(path, zip_out_name(path)));
  }
  const size_t name_len = head[26] | (head[27] << 8);
  std::string first(reinterpret_cast<const char*>(head.data()) + 30, std::min(name_len, got - 30));
  auto slash = first.find('/');
  return slash == std::string::npos ? std::string() : first.substr(0, slash);
}

torch::ScalarType to_torch(pickle::StorageDtype d) {
  using SD = pickle::StorageDtype;
  switch (d) {
    case SD::F64:
      return torch::kFloat64;
    case SD::F32:
      return torch::kFloat32;
    case SD::F16:
      return torch::kFloat16;
    case SD::BF16:
      return torch::kBFloat16;
    case SD::I64:
      return torch::kInt64;
    case SD::I32:
      return torch::kInt32;
    case SD::I16:
      return torch::kInt16;
    case SD::I8:
      return torch::kInt8;
    case SD::U8:
      return torch::kUInt8;
    case SD::Bool:
      return torch::kBool;
    case SD::C64:
      return torch::kComplexFloat;
    case SD::C128:
      return torch::kComplexDouble;
  }
  throw Error("invalid storage dtype");
}

std::string too_large(const std::string& path, const std::string& name, uint64_t declared,
                      uint64_t file_size) {
  return path + ": record '" + name + "' declares " + std::to_string(declared) +
         " bytes, more than a " + std::to_string(file_size) + "-byte file can hold";
}

// One record as bytes owned by a DataPtr, with the reader's c10::Error turned into ours.
// LibTorch allocates the size the central directory declares before reading anything: a record
// may not declare more than the file could hold (pth_zip.h).
std::pair<std::shared_ptr<at::DataPtr>, size_t> read_record(
    caffe2::serialize::PyTorchStreamReader& reader, const std::string& path,
    const std::string& name, uint64_t file_size) {
  const uint64_t most = detail::record_size_limit(file_size);
  bool present = false;
  uint64_t declared = 0;
  std::pair<std::shared_ptr<at::DataPtr>, size_t> out;
  try {
    present = reader.hasRecord(name);
    if (present) declared = reader.getRecordSize(name);
    if (present && declared <= most) {
      auto [ptr, size] = reader.getRecord(name);
      out = {std::make_shared<at::DataPtr>(std::move(ptr)), size};
    }
  } catch (const std::exception& e) {  // c10::Error, or bad_alloc
    const auto* c10 = dynamic_cast<const c10::Error*>(&e);
    throw Error(path + ": cannot read record '" + name +
                "': " + (c10 ? c10->what_without_backtrace() : e.what()));
  }
  if (!present) throw Error(path + ": record '" + name + "' is missing");
  if (declared > most) throw Error(too_large(path, name, declared, file_size));
  return out;
}

bool host_is_little_endian() {
  const uint16_t one = 1;
  uint8_t first = 0;
  std::memcpy(&first, &one, 1);
  return first == 1;
}

// Elements a view reaches into its storage: offset + sum((size - 1) * stride) + 1, or 0 when it
// has no elements. False for a negative or overflowing size, stride or offset.
bool view_extent(const pickle::TensorDesc& d, uint64_t* extent) {
  if (d.offset < 0 || d.sizes.size() != d.strides.size()) return false;
  uint64_t end = static_cast<uint64_t>(d.offset) + 1;
  bool empty = false;
  for (size_t k = 0; k < d.sizes.size(); ++k) {
    if (d.sizes[k] < 0 || d.strides[k] < 0) return false;
    if (d.sizes[k] == 0) empty = true;
    uint64_t span = 0;
    if (d.sizes[k] > 0 && (__builtin_mul_overflow(static_cast<uint64_t>(d.sizes[k] - 1),
                                                  static_cast<uint64_t>(d.strides[k]), &span) ||
                           __builtin_add_overflow(end, span, &end)))
      return false;
  }
  *extent = empty ? 0 : end;
  return true;
}

std::string dims(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t k = 0; k < v.size(); ++k) s += (k ? ", " : "") + std::to_string(v[k]);
  return s + "]";
}

// Every Tensor node becomes a view of its storage record; a record is read once and shared.
void materialise(caffe2::serialize::PyTorchStreamReader& reader, PthFile& f, uint64_t file_size) {
  struct Storage {
    torch::Tensor flat;
    pickle::StorageDtype dtype;
  };
  std::unordered_map<std::string, Storage> storages;
  for (const pickle::TensorDesc& d : f.doc.tensors()) {
    const std::string rec = "data/" + d.storage_key;
    auto it = storages.find(d.storage_key);
    if (it == storages.end()) {
      auto [data, nbytes] = read_record(reader, f.path, rec, file_size);
      const size_t esize = pickle::storage_dtype_size(d.dtype);
      if (nbytes % esize || static_cast<uint64_t>(nbytes / esize) < uint64_t(d.storage_numel))
        throw Error(f.path + ": record '" + rec + "' has " + std::to_string(nbytes) +
                    " bytes, the pickle declares " + std::to_string(d.storage_numel) + " x " +
                    pickle::storage_dtype_name(d.dtype));
      auto* bytes = static_cast<const uint8_t*>(data->get());
      if (d.dtype == pickle::StorageDtype::Bool) {  // other byte values are not valid bools
        for (size_t k = 0; k < nbytes; ++k) {
          if (bytes[k] > 1) throw Error(f.path + ": record '" + rec + "' holds a non-0/1 bool");
        }
      }
      const auto opts = torch::TensorOptions().dtype(to_torch(d.dtype));
      const auto numel = static_cast<int64_t>(nbytes / esize);
      torch::Tensor flat = numel == 0 ? torch::empty({0}, opts)
                                      : torch::from_blob(
                                            data->get(), {numel},
                                            [data = data](void*) mutable { data.reset(); }, opts);
      it = storages.emplace(d.storage_key, Storage{flat, d.dtype}).first;
    } else if (it->second.dtype != d.dtype) {
      throw Error(f.path + ": storage '" + d.storage_key + "' is used with two dtypes");
    }
    // The unpickler checked the view against the storage size its own pickle entry declares;
    // tensors sharing a record may declare different sizes, so each view is checked against the
    // record it actually reads.
    const int64_t have = it->second.flat.numel();
    uint64_t need = 0;
    if (!view_extent(d, &need) || need > static_cast<uint64_t>(have))
      throw Error(f.path + ": a tensor of record '" + rec + "' (sizes " + dims(d.sizes) +
                  ", strides " + dims(d.strides) + ", offset " + std::to_string(d.offset) +
                  ") reaches beyond the record's " + std::to_string(have) + " elements");
    try {
      f.tensors.push_back(it->second.flat.as_strided(d.sizes, d.strides, d.offset));
    } catch (const c10::Error& e) {
      throw Error(f.path + ": cannot view record '" + rec + "' with sizes " + dims(d.sizes) + ": " +
                  e.what_without_backtrace());
    }
  }
}

// Why `v` is not a name -> tensor dict ("" when it is one), for messages.
std::string not_tensor_dict_reason(const Value* v) {
  if (!v) return "it is missing";
  if (v->kind != Kind::Dict) return std::string("it is of type ") + pickle::kind_name(v->kind);
  if (v->entries.empty()) return "it is empty";
  for (const auto& [k, x] : v->entries) {
    if (k->kind != Kind::String)
      return std::string("it has a key of type ") + pickle::kind_name(k->kind);
    if (x->kind != Kind::Tensor) {
      std::string what = pickle::kind_name(x->kind);
      if (x->kind == Kind::Object) what += " " + pickle::qualified_name(*x);
      return "entry '" + k->str + "' is of type " + what + ", not a tensor";
    }
  }
  return "";
}

bool is_tensor_dict(const Value* v) {
  return not_tensor_dict_reason(v).empty();
}

}  // namespace

std::string pth_resave_command(const std::string& in, const std::string& out) {
  return "python -c \"import torch; torch.save(torch.load('" + in +
         "', map_location='cpu', weights_only=False), '" + out + "')\"";
}

const torch::Tensor& PthFile::tensor(const pickle::Value& v) const {
  if (v.kind != Kind::Tensor || v.i < 0 || static_cast<size_t>(v.i) >= tensors.size())
    throw Error(path + ": expected a tensor, found a " + pickle::kind_name(v.kind));
  return tensors[static_cast<size_t>(v.i)];
}

PthFile read_pth(const std::string& path) {
  if (!host_is_little_endian()) throw Error(path + ": .pth reading needs a little-endian host");
  PthFile f;
  f.path = path;
  uint64_t file_size = 0;
  f.archive = sniff(path, &file_size);
  {  // LibTorch's reader reads records inside its constructor too: check every size first.
    std::ifstream in(path, std::ios::binary);
    std::string name;
    const uint64_t largest = detail::largest_declared_size(in, file_size, &name);
    if (largest > detail::record_size_limit(file_size))
      throw Error(too_large(path, name, largest, file_size));
  }
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> reader;
  try {
    reader = std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
  } catch (const std::exception& e) {
    const auto* c10 = dynamic_cast<const c10::Error*>(&e);
    throw Error(path + ": not a readable PyTorch zip checkpoint (truncated or corrupt?): " +
                (c10 ? c10->what_without_backtrace() : e.what()));
  }
  if (reader->hasRecord("byteorder")) {  // written by torch >= 2.1; absent means little-endian
    auto [data, n] = read_record(*reader, path, "byteorder", file_size);
    std::string order(static_cast<const char*>(data->get()), n);
    while (!order.empty() && (order.back() == '\n' || order.back() == ' ')) order.pop_back();
    if (order != "little") throw Error(path + ": byte order '" + order + "' is not supported");
  }
  if (!reader->hasRecord("data.pkl"))
    throw Error(path + ": no data.pkl record (not a torch.save checkpoint; TorchScript?)");
  auto [pkl, size] = read_record(*reader, path, "data.pkl", file_size);
  if (size > kMaxPickleBytes) throw Error(path + ": data.pkl is implausibly large");
  f.doc = pickle::unpickle(static_cast<const uint8_t*>(pkl->get()), size, path + ":data.pkl");
  materialise(*reader, f, file_size);
  return f;
}

NamedTensors state_dict_from(const PthFile& file, std::string* selected_key) {
  const Value& root = file.root();
  const Value* chosen = nullptr;
  std::string key;
  for (const char* k : {"model", "module"}) {
    if (const Value* v = root.kind == Kind::Dict ? root.get(k) : nullptr) {
      if (auto why = not_tensor_dict_reason(v); !why.empty())
        throw Error(file.path + ": checkpoint['" + k + "'] is not a dict of named tensors: " + why);
      chosen = v;
      key = k;
      break;
    }
  }
  if (!chosen && is_tensor_dict(&root)) chosen = &root;
  if (!chosen) {
    std::string keys;
    if (root.kind == Kind::Dict) {
      for (const auto& [k, v] : root.entries) {
        if (k->kind == Kind::String) keys += (keys.empty() ? "" : ", ") + k->str;
      }
    }
    throw Error(file.path + ": no state dict found (no 'model' or 'module' entry and the top " +
                "level is not a dict of named tensors; top-level keys: [" + keys + "])");
  }
  if (selected_key) *selected_key = key;
  NamedTensors out;
  out.reserve(chosen->entries.size());
  for (const auto& [k, v] : chosen->entries) out.emplace_back(k->str, file.tensor(*v));
  return out;
}

NamedTensors load_pth_state_dict(const std::string& path, std::string* selected_key) {
  return state_dict_from(read_pth(path), selected_key);
}

namespace {

using json = nlohmann::ordered_json;

// Renders the inert tree as JSON. The tree is acyclic and depth-bounded (pickle.h), and the
// node budget keeps heavily shared sub-trees from blowing the output up.
class MetadataWriter {
 public:
  explicit MetadataWriter(const PthFile& f) : f_(f) {}

  json render(const Value* v) {
    if (!v) return nullptr;
    if (budget_ == 0) return "<truncated>";
    --budget_;
    switch (v->kind) {
      case Kind::None:
        return nullptr;
      case Kind::Bool:
        return v->b;
      case Kind::Int:
        return v->i;
      case Kind::BigInt:
        return "<int of " + std::to_string(v->str.size() * 8) + " bits>";
      case Kind::Float:
        if (std::isnan(v->f)) return "nan";
        if (std::isinf(v->f)) return v->f > 0 ? "inf" : "-inf";
        return v->f;
      case Kind::String:
        return v->str;
      case Kind::Bytes:
        return json{{"bytes", v->str.size()}};
      case Kind::List:
      case Kind::Tuple:
      case Kind::Set:
        return array(v->items);
      case Kind::Dict:
        return dict(v);
      case Kind::Global:
        return json{{"global", pickle::qualified_name(*v)}};
      case Kind::PersistentId:
        return json{{"persistent_id", render(v->args)}};
      case Kind::Tensor:
        return tensor(f_.tensor(*v));
      case Kind::Object:
        return object(v);
    }
    return nullptr;
  }

 private:
  json array(const std::vector<const Value*>& items) {
    json a = json::array();
    for (const Value* x : items) a.push_back(render(x));
    return a;
  }
  static json tensor(const torch::Tensor& t) {
    json j{{"dtype", std::string(c10::toString(t.scalar_type()))}, {"shape", t.sizes().vec()}};
    if (t.numel() == 1 && !t.is_complex()) j["value"] = t.item<double>();  // e.g. Adam's step
    return json{{"tensor", j}};
  }
  static bool scalar_key(const Value* k) {
    return k->kind == Kind::String || k->kind == Kind::Int || k->kind == Kind::Bool;
  }
  json dict(const Value* v) {
    if (is_tensor_dict(v)) return json{{"state_dict", {{"tensors", v->entries.size()}}}};
    const Value* groups = v->get("param_groups");
    const Value* state = v->get("state");
    if (groups && state && groups->kind == Kind::List && state->kind == Kind::Dict)
      return optimizer(groups, state);
    bool plain = true;
    for (const auto& e : v->entries) plain = plain && scalar_key(e.first);
    if (!plain) {  // keys JSON cannot hold: a list of [key, value] pairs
      json a = json::array();
      for (const auto& [k, x] : v->entries) a.push_back(json::array({render(k), render(x)}));
      return a;
    }
    json o = json::object();
    for (const auto& [k, x] : v->entries) {
      std::string name = k->kind == Kind::String ? k->str
                         : k->kind == Kind::Bool ? (k->b ? "True" : "False")
                                                 : std::to_string(k->i);
      o[name] = render(x);
    }
    return o;
  }
  json optimizer(const Value* groups, const Value* state) {
    json g = json::array();
    for (const Value* group : groups->items) {
      json r = render(group);
      const Value* params = group->get("params");
      if (r.is_object() && params && params->kind == Kind::List)
        r["params"] = json{{"count", params->items.size()}};
      g.push_back(r);
    }
    size_t tensors = 0;
    for (const auto& [k, per_param] : state->entries) {
      for (const auto& [name, x] : per_param->entries) tensors += x->kind == Kind::Tensor;
    }
    return json{{"param_groups", g},
                {"state", {{"params", state->entries.size()}, {"tensors", tensors}}}};
  }
  json object(const Value* v) {
    const std::string cls = pickle::qualified_name(*v);
    const Value* attrs = v->attributes();
    if (v->is("argparse", "Namespace") && attrs) return dict(attrs);
    json o{{"object", cls}};
    if (v->args && !v->args->items.empty()) o["args"] = render(v->args);
    if (v->kwargs) o["kwargs"] = render(v->kwargs);
    if (v->state) o["state"] = render(v->state);
    if (!v->items.empty()) o["items"] = array(v->items);
    if (!v->entries.empty()) {
      json e = json::array();
      for (const auto& [k, x] : v->entries) e.push_back(json::array({render(k), render(x)}));
      o["entries"] = e;
    }
    return o;
  }

  const PthFile& f_;
  size_t budget_ = 200'000;
};

}  // namespace

std::string pth_metadata_json(const PthFile& file, const std::string& skip_key, int indent) {
  MetadataWriter w(file);
  const Value& root = file.root();
  json out = json::object();
  if (root.kind == Kind::Dict && !is_tensor_dict(&root)) {
    for (const auto& [k, v] : root.entries) {
      if (k->kind == Kind::String && k->str == skip_key) continue;
      // A non-string key is named by its JSON text; like the output, it may hold any bytes.
      std::string name = k->kind == Kind::String
                             ? k->str
                             : w.render(k).dump(-1, ' ', false, json::error_handler_t::replace);
      out[name] = w.render(v);
    }
  } else if (!is_tensor_dict(&root)) {
    out["checkpoint"] = w.render(&root);
  }
  return out.dump(indent, ' ', false, json::error_handler_t::replace);
}

}  // namespace dfer::io
