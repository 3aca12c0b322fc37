// Restricted, torch-free Python unpickler for checkpoint data (the data.pkl of a torch.save zip).
// It builds an inert value tree and never executes or imports anything named in the stream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dfer::io::pickle {

// What a node of the tree is. `Global` is a bare class/function reference (GLOBAL, STACK_GLOBAL);
// `Object` is any call of one that is not interpreted (REDUCE, NEWOBJ, INST, OBJ), kept as data.
enum class Kind : uint8_t {
  None,
  Bool,
  Int,
  BigInt,  // an integer beyond int64: `str` holds its little-endian two's complement bytes
  Float,
  String,  // UTF-8 as stored (Python 2 str opcodes land here too)
  Bytes,
  List,
  Tuple,
  Set,  // set and frozenset
  Dict,
  Global,
  Object,
  PersistentId,  // a persistent id the stream refers to (`args` is the id itself)
  Tensor,        // torch._utils._rebuild_tensor_v2 & co., described by a TensorDesc
};

const char* kind_name(Kind k);

// Element type of a torch storage, from the storage class name (torch.FloatStorage, ...).
enum class StorageDtype : uint8_t { F64, F32, F16, BF16, I64, I32, I16, I8, U8, Bool, C64, C128 };

const char* storage_dtype_name(StorageDtype d);  // "F32", "BF16", ... (safetensors spelling)
size_t storage_dtype_size(StorageDtype d);       // bytes per element
// Maps "FloatStorage", "BFloat16Storage", ... to a dtype; false for anything else.
bool storage_dtype_from_class(std::string_view class_name, StorageDtype* out);

// A tensor as torch.save describes it: a view (offset, sizes, strides in elements) of a storage
// that lives in the archive record `data/<storage_key>`.
struct TensorDesc {
  std::string storage_key;
  std::string storage_class;  // e.g. "FloatStorage"
  StorageDtype dtype = StorageDtype::F32;
  std::string location;       // "cpu", "cuda:0", ... (informational: readers load to CPU)
  int64_t storage_numel = 0;  // element count the pickle claims for the storage
  int64_t offset = 0;
  std::vector<int64_t> sizes;
  std::vector<int64_t> strides;
  bool requires_grad = false;
};

struct Value {
  Kind kind = Kind::None;
  bool b = false;                   // Bool
  int64_t i = 0;                    // Int; Tensor: index into Document::tensors()
  double f = 0.0;                   // Float
  std::string str;                  // String, Bytes, BigInt; Global/Object: module
  std::string name;                 // Global/Object: qualified name
  std::vector<const Value*> items;  // List, Tuple, Set; Object: APPENDs
  std::vector<std::pair<const Value*, const Value*>> entries;  // Dict (ordered); Object: SETITEMs
  const Value* args = nullptr;    // Object: constructor arguments (a Tuple); PersistentId: the id
  const Value* kwargs = nullptr;  // Object: NEWOBJ_EX keyword arguments
  const Value* state = nullptr;   // BUILD state (Object, and attributes of e.g. an OrderedDict)

  bool is_string() const { return kind == Kind::String; }
  bool is(std::string_view module, std::string_view qualname) const;  // Global/Object class check
  // Dict lookup by string key (also the SETITEM entries of an Object); nullptr when absent.
  const Value* get(std::string_view key) const;
  // For an Object: its attributes (the BUILD state dict, e.g. argparse.Namespace fields); for an
  // instance whose state is (dict, slots) the first dict. nullptr when it has none.
  const Value* attributes() const;
};

// Bounds applied to untrusted input; exceeding one is an error, never a crash.
struct Limits {
  size_t max_values = 4'000'000;     // nodes in the tree
  size_t max_memo = 2'000'000;       // distinct memo slots
  size_t max_marks = 1'000;          // nested MARKs open at once
  size_t max_stack = 4'000'000;      // values on the unpickling stack
  size_t max_depth = 128;            // nesting of the finished tree (cycles are rejected)
  uint64_t max_length = 1ull << 30;  // one string/bytes/long payload
  size_t max_line = 1 << 16;         // one text-protocol line (GLOBAL names, INT, ...)
  size_t max_dims = 64;              // tensor rank
  uint64_t max_copied = 1ull << 28;  // elements/bytes copied by interpreted constructors, in all
};

// The result: an arena owning every node (stable addresses; moving the Document keeps them).
class Document {
 public:
  Document() = default;
  Document(Document&&) = default;
  Document& operator=(Document&&) = default;
  Document(const Document&) = delete;  // nodes point into the arena: copies would dangle
  Document& operator=(const Document&) = delete;

  const Value& root() const { return *root_; }
  // Tensor nodes in the order they were built; Value::i of a Tensor node indexes this.
  const std::vector<TensorDesc>& tensors() const { return tensors_; }
  const TensorDesc& tensor(const Value& v) const;  // throws dfer::Error if v is not a Tensor
  size_t node_count() const { return nodes_.size(); }

 private:
  friend class Unpickler;
  std::deque<Value> nodes_;
  std::vector<TensorDesc> tensors_;
  const Value* root_ = nullptr;
};

// Unpickles one pickle (protocols 0-5) from `data`. `what` names the source in error messages
// (e.g. "model.pth:data.pkl"). Errors are dfer::Error naming the opcode and its byte offset.
// The finished tree is verified to be acyclic and at most limits.max_depth deep, so consumers
// may recurse over it.
Document unpickle(const uint8_t* data, size_t size, const std::string& what,
                  const Limits& limits = {});

// "module.name" of a Global/Object, for messages.
std::string qualified_name(const Value& v);

}  // namespace dfer::io::pickle
