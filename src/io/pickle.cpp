// Restricted unpickler: an opcode interpreter that builds an inert tree (see pickle.h). Nothing
// named in the stream is imported or called; a few known constructors are read structurally.
#include "dfer/io/pickle.h"

#include "dfer/util/error.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <limits>
#include <locale>
#include <sstream>
#include <unordered_map>

namespace dfer::io::pickle {

namespace {

// Opcode bytes of protocols 0-5 (Lib/pickle.py).
// clang-format off
enum Op : uint8_t {
  MARK = '(', STOP = '.', POP = '0', POP_MARK = '1', DUP = '2', FLOAT = 'F', INT = 'I',
  BININT = 'J', BININT1 = 'K', LONG = 'L', BININT2 = 'M', NONE = 'N', PERSID = 'P',
  BINPERSID = 'Q', REDUCE = 'R', STRING = 'S', BINSTRING = 'T', SHORT_BINSTRING = 'U',
  UNICODE = 'V', BINUNICODE = 'X', APPEND = 'a', BUILD = 'b', GLOBAL = 'c', DICT = 'd',
  EMPTY_DICT = '}', APPENDS = 'e', GET = 'g', BINGET = 'h', INST = 'i', LONG_BINGET = 'j',
  LIST = 'l', EMPTY_LIST = ']', OBJ = 'o', PUT = 'p', BINPUT = 'q', LONG_BINPUT = 'r',
  SETITEM = 's', TUPLE = 't', EMPTY_TUPLE = ')', SETITEMS = 'u', BINFLOAT = 'G',
  PROTO = 0x80, NEWOBJ = 0x81, EXT1 = 0x82, EXT2 = 0x83, EXT4 = 0x84, TUPLE1 = 0x85,
  TUPLE2 = 0x86, TUPLE3 = 0x87, NEWTRUE = 0x88, NEWFALSE = 0x89, LONG1 = 0x8a, LONG4 = 0x8b,
  BINBYTES = 'B', SHORT_BINBYTES = 'C', SHORT_BINUNICODE = 0x8c, BINUNICODE8 = 0x8d,
  BINBYTES8 = 0x8e, EMPTY_SET = 0x8f, ADDITEMS = 0x90, FROZENSET = 0x91, NEWOBJ_EX = 0x92,
  STACK_GLOBAL = 0x93, MEMOIZE = 0x94, FRAME = 0x95, BYTEARRAY8 = 0x96, NEXT_BUFFER = 0x97,
  READONLY_BUFFER = 0x98,
};
// clang-format on

struct DtypeInfo {
  StorageDtype dtype;
  const char* cls;
  const char* name;
  size_t size;
};
constexpr DtypeInfo kDtypes[] = {
    {StorageDtype::F64, "DoubleStorage", "F64", 8},
    {StorageDtype::F32, "FloatStorage", "F32", 4},
    {StorageDtype::F16, "HalfStorage", "F16", 2},
    {StorageDtype::BF16, "BFloat16Storage", "BF16", 2},
    {StorageDtype::I64, "LongStorage", "I64", 8},
    {StorageDtype::I32, "IntStorage", "I32", 4},
    {StorageDtype::I16, "ShortStorage", "I16", 2},
    {StorageDtype::I8, "CharStorage", "I8", 1},
    {StorageDtype::U8, "ByteStorage", "U8", 1},
    {StorageDtype::Bool, "BoolStorage", "BOOL", 1},
    {StorageDtype::C64, "ComplexFloatStorage", "C64", 8},
    {StorageDtype::C128, "ComplexDoubleStorage", "C128", 16},
};

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Python 2 treats __builtin__ as Python 3's builtins (pickle's fix_imports does the same).
bool module_is(const std::string& m, std::string_view want) {
  if (want == "builtins") return m == "builtins" || m == "__builtin__";
  if (want == "copyreg") return m == "copyreg" || m == "copy_reg";
  return m == want;
}

}  // namespace

const char* kind_name(Kind k) {
  static constexpr const char* kNames[] = {"None", "bool",   "int",    "big int",       "float",
                                           "str",  "bytes",  "list",   "tuple",         "set",
                                           "dict", "global", "object", "persistent id", "tensor"};
  return kNames[static_cast<size_t>(k)];
}

const char* storage_dtype_name(StorageDtype d) {
  return kDtypes[static_cast<size_t>(d)].name;
}
size_t storage_dtype_size(StorageDtype d) {
  return kDtypes[static_cast<size_t>(d)].size;
}

bool storage_dtype_from_class(std::string_view class_name, StorageDtype* out) {
  for (const auto& info : kDtypes) {
    if (class_name == info.cls) {
      *out = info.dtype;
      return true;
    }
  }
  return false;
}

bool Value::is(std::string_view module, std::string_view qualname) const {
  return (kind == Kind::Global || kind == Kind::Object) && module_is(str, module) &&
         name == qualname;
}

const Value* Value::get(std::string_view key) const {
  if (kind != Kind::Dict && kind != Kind::Object) return nullptr;
  for (auto it = entries.rbegin(); it != entries.rend(); ++it) {  // the last assignment wins
    if (it->first->kind == Kind::String && it->first->str == key) return it->second;
  }
  return nullptr;
}

const Value* Value::attributes() const {
  if (!state) return nullptr;
  if (state->kind == Kind::Dict) return state;
  // (dict, slots) form of object.__reduce_ex__ for classes with __slots__.
  if (state->kind == Kind::Tuple && state->items.size() == 2 && state->items[0]->kind == Kind::Dict)
    return state->items[0];
  return nullptr;
}

std::string qualified_name(const Value& v) {
  return v.str + "." + v.name;
}

const TensorDesc& Document::tensor(const Value& v) const {
  if (v.kind != Kind::Tensor || v.i < 0 || static_cast<size_t>(v.i) >= tensors_.size())
    throw Error(std::string("pickle: expected a tensor, found a ") + kind_name(v.kind));
  return tensors_[static_cast<size_t>(v.i)];
}

class Unpickler {
 public:
  Unpickler(const uint8_t* data, size_t size, const std::string& what, const Limits& limits)
      : data_(data), size_(data ? size : 0), what_(what), lim_(limits) {}

  Document run();

 private:
  [[noreturn]] void fail(const std::string& msg) const {
    char where[96];
    std::snprintf(where, sizeof where, "pickle opcode 0x%02x ('%c') at byte %zu", op_,
                  (op_ >= 0x20 && op_ < 0x7f) ? static_cast<char>(op_) : '?', op_pos_);
    throw Error(what_ + ": " + where + ": " + msg);
  }

  // ---- input -------------------------------------------------------------------------------
  const uint8_t* take(uint64_t n) {
    if (n > size_ - pos_)
      fail("truncated: needs " + std::to_string(n) + " more bytes, " +
           std::to_string(size_ - pos_) + " left");
    const uint8_t* p = data_ + pos_;
    pos_ += static_cast<size_t>(n);
    return p;
  }
  uint64_t read_le(size_t n) {
    const uint8_t* p = take(n);
    uint64_t v = 0;
    for (size_t k = 0; k < n; ++k) v |= static_cast<uint64_t>(p[k]) << (8 * k);
    return v;
  }
  uint64_t read_length(size_t n) {
    uint64_t len = read_le(n);
    if (n == 4 && (len & 0x80000000u) && (op_ == BINSTRING || op_ == LONG4))
      fail("negative length");  // these two carry a signed 32-bit length
    if (len > lim_.max_length) fail("length " + std::to_string(len) + " exceeds the limit");
    return len;
  }
  std::string read_bytes(uint64_t n) {
    const uint8_t* p = take(n);
    return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
  }
  std::string read_line() {
    size_t start = pos_;
    while (pos_ < size_ && data_[pos_] != '\n') {
      if (pos_ - start >= lim_.max_line) fail("text line longer than the limit");
      ++pos_;
    }
    if (pos_ >= size_) fail("truncated: missing end of line");
    std::string line(reinterpret_cast<const char*>(data_ + start), pos_ - start);
    ++pos_;  // the newline
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
  }

  // ---- nodes and stack ---------------------------------------------------------------------
  Value* make(Kind k) {
    if (doc_.nodes_.size() >= lim_.max_values) fail("more values than the limit");
    doc_.nodes_.emplace_back();
    doc_.nodes_.back().kind = k;
    return &doc_.nodes_.back();
  }
  // Constructors such as set(list) copy data the stream names only once; this bounds the total,
  // so a short input cannot demand quadratic work.
  void charge(uint64_t units) {
    copied_ += units;
    if (copied_ > lim_.max_copied) fail("copies more data than the limit");
  }
  static Value* mut(const Value* v) { return const_cast<Value*>(v); }  // arena nodes are mutable
  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  void push(Value* v) {
    if (stack_.size() >= lim_.max_stack) fail("stack larger than the limit");
    stack_.push_back(v);
  }
  Value* pop() {
    if (stack_.size() <= floor()) fail("stack underflow");
    Value* v = stack_.back();
    stack_.pop_back();
    return v;
  }
  Value* top() {
    if (stack_.size() <= floor()) fail("stack underflow");
    return stack_.back();
  }
  std::vector<const Value*> pop_to_mark() {
    if (marks_.empty()) fail("no MARK to pop to");
    size_t m = marks_.back();
    marks_.pop_back();
    std::vector<const Value*> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return items;
  }

  // ---- scalars -------------------------------------------------------------------------------
  Value* make_int(int64_t v) {
    Value* n = make(Kind::Int);
    n->i = v;
    return n;
  }
  Value* make_string(std::string s, Kind k = Kind::String) {
    Value* n = make(k);
    n->str = std::move(s);
    return n;
  }
  int64_t parse_int(const std::string& s) {
    size_t k = 0;
    bool neg = false;
    if (k < s.size() && (s[k] == '-' || s[k] == '+')) neg = s[k++] == '-';
    if (k == s.size()) fail("malformed integer '" + s.substr(0, 32) + "'");
    uint64_t v = 0;
    const uint64_t cap = neg ? (1ull << 63) : (1ull << 63) - 1;
    for (; k < s.size(); ++k) {
      if (s[k] < '0' || s[k] > '9') fail("malformed integer '" + s.substr(0, 32) + "'");
      uint64_t d = static_cast<uint64_t>(s[k] - '0');
      if (v > (cap - d) / 10) fail("integer beyond 64 bits in a text opcode");
      v = v * 10 + d;
    }
    return neg ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
  }
  double parse_float(const std::string& s) {
    if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
    if (s == "inf") return std::numeric_limits<double>::infinity();
    if (s == "-inf") return -std::numeric_limits<double>::infinity();
    std::istringstream in(s);
    in.imbue(std::locale::classic());  // never the global locale's decimal comma
    double v = 0;
    in >> v;
    if (in.fail() || in.peek() != std::char_traits<char>::eof())
      fail("malformed float '" + s.substr(0, 32) + "'");
    return v;
  }
  // Decimal text of any size (Python caps int/str conversion at 4300 digits; so do we, which
  // also keeps this quadratic loop cheap) -> Int, or BigInt via its two's complement bytes.
  Value* parse_long_text(const std::string& s) {
    size_t k = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
    if (s.size() - k <= 18) return make_int(parse_int(s));
    if (s.size() - k > 4300) fail("integer text longer than 4300 digits");
    std::vector<uint8_t> mag{0};  // little-endian magnitude
    for (size_t j = k; j < s.size(); ++j) {
      if (s[j] < '0' || s[j] > '9') fail("malformed integer '" + s.substr(0, 32) + "'");
      unsigned carry = static_cast<unsigned>(s[j] - '0');
      for (auto& byte : mag) {
        unsigned x = byte * 10u + carry;
        byte = static_cast<uint8_t>(x & 0xFF);
        carry = x >> 8;
      }
      if (carry) mag.push_back(static_cast<uint8_t>(carry));
    }
    mag.push_back(0);   // room for the sign bit
    if (s[0] == '-') {  // two's complement: invert and add one
      unsigned carry = 1;
      for (auto& byte : mag) {
        unsigned x = static_cast<uint8_t>(~byte) + carry;
        byte = static_cast<uint8_t>(x & 0xFF);
        carry = x >> 8;
      }
    }
    return decode_long(mag.data(), mag.size());
  }
  Value* decode_long(const uint8_t* p, size_t n) {
    if (n == 0) return make_int(0);
    bool neg = p[n - 1] & 0x80;
    size_t used = n;  // drop redundant sign bytes to see whether it fits 64 bits
    while (used > 1 && p[used - 1] == (neg ? 0xFF : 0x00) && ((p[used - 2] & 0x80) != 0) == neg)
      --used;
    if (used <= 8) {
      uint64_t v = neg ? ~0ull : 0;
      for (size_t k = 0; k < used; ++k) {
        v &= ~(0xFFull << (8 * k));
        v |= static_cast<uint64_t>(p[k]) << (8 * k);
      }
      return make_int(static_cast<int64_t>(v));
    }
    return make_string(std::string(reinterpret_cast<const char*>(p), used), Kind::BigInt);
  }
  // The quoted repr of the STRING opcode ('abc' or "abc", backslash escapes).
  std::string decode_quoted(const std::string& s) {
    if (s.size() < 2 || (s[0] != '\'' && s[0] != '"') || s.back() != s[0])
      fail("STRING argument is not a quoted string");
    const std::string body = s.substr(1, s.size() - 2);
    std::string out;
    for (size_t k = 0; k < body.size(); ++k) {
      if (body[k] != '\\') {
        out += body[k];
        continue;
      }
      if (++k >= body.size()) fail("dangling backslash in STRING");
      const char e = body[k];
      switch (e) {
        case '\\':
        case '\'':
        case '"':
          out += e;
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'a':
          out += '\a';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'v':
          out += '\v';
          break;
        case 'x': {
          int h = k + 2 < body.size() ? hex_digit(body[k + 1]) : -1;
          int l = h >= 0 ? hex_digit(body[k + 2]) : -1;
          if (l < 0) fail("bad \\x escape in STRING");
          out += static_cast<char>(h * 16 + l);
          k += 2;
          break;
        }
        default: {
          if (e < '0' || e > '7') fail(std::string("unknown escape \\") + e + " in STRING");
          int v = e - '0';  // up to three octal digits
          for (int d = 0; d < 2 && k + 1 < body.size() && body[k + 1] >= '0' && body[k + 1] <= '7';
               ++d)
            v = v * 8 + (body[++k] - '0');
          out += static_cast<char>(v & 0xFF);
        }
      }
    }
    return out;
  }
  // raw-unicode-escape of the UNICODE opcode: \uXXXX, \UXXXXXXXX, other bytes are Latin-1.
  std::string decode_raw_unicode(const std::string& s) {
    std::string out;
    for (size_t k = 0; k < s.size(); ++k) {
      size_t digits = 0;
      if (s[k] == '\\' && k + 1 < s.size()) digits = s[k + 1] == 'u' ? 4 : s[k + 1] == 'U' ? 8 : 0;
      if (digits == 0) {
        append_utf8(out, static_cast<uint8_t>(s[k]));
        continue;
      }
      if (k + 2 + digits > s.size()) fail("truncated \\u escape in UNICODE");
      uint32_t cp = 0;
      for (size_t d = 0; d < digits; ++d) {
        int h = hex_digit(s[k + 2 + d]);
        if (h < 0) fail("bad \\u escape in UNICODE");
        cp = cp * 16 + static_cast<uint32_t>(h);
      }
      if (cp > 0x10FFFF) fail("code point beyond U+10FFFF in UNICODE");
      append_utf8(out, cp);
      k += 1 + digits;
    }
    return out;
  }
  // UTF-8 -> Latin-1 bytes (how protocol 2 pickles bytes: _codecs.encode(str, 'latin1')).
  bool latin1(const std::string& s, std::string* out) {
    for (size_t k = 0; k < s.size(); ++k) {
      auto c = static_cast<uint8_t>(s[k]);
      if (c < 0x80) {
        *out += static_cast<char>(c);
      } else if ((c & 0xE0) == 0xC0 && c <= 0xC3 && k + 1 < s.size() &&
                 (static_cast<uint8_t>(s[k + 1]) & 0xC0) == 0x80) {
        *out += static_cast<char>(((c & 0x03) << 6) | (static_cast<uint8_t>(s[++k]) & 0x3F));
      } else {
        return false;
      }
    }
    return true;
  }

  // ---- containers ----------------------------------------------------------------------------
  // Dict keys are deduplicated like Python for the key kinds that checkpoints use (str, bytes,
  // int, bool, None); other keys (tuples, objects, ...) and text over kMaxKeyBytes compare by
  // identity, so no key is ever walked or hashed in depth. `text` receives the compared form.
  static bool key_text(const Value* k, std::string* text) {
    if (k->str.size() > kMaxKeyBytes) return false;
    switch (k->kind) {
      case Kind::String:
        *text = "s" + k->str;
        return true;
      case Kind::Bytes:
        *text = "y" + k->str;
        return true;
      case Kind::BigInt:
        *text = "b" + k->str;
        return true;
      case Kind::Int:
        *text = "i" + std::to_string(k->i);
        return true;
      case Kind::Bool:
        *text = k->b ? "i1" : "i0";
        return true;
      case Kind::None:
        *text = "n";
        return true;
      default:
        return false;
    }
  }
  // One number per distinct key. A key node is hashed the first time a SETITEM names it and
  // looked up by address after that, so a memoised key repeated by every SETITEM of a long
  // stream costs O(1) each: the hashing work is bounded by the bytes of distinct key nodes,
  // which the input itself bounds.
  uint64_t key_id(const Value* k) {
    auto [it, fresh] = key_of_node_.emplace(k, 0);
    if (!fresh) return it->second;
    uint64_t id = next_key_++;
    std::string text;
    if (key_text(k, &text)) id = key_ids_.emplace(std::move(text), id).first->second;
    it->second = id;
    return id;
  }
  void set_item(Value* d, const Value* k, const Value* v) {
    if (d->kind == Kind::Object) {  // __reduce__ dictitems of an uninterpreted object
      d->entries.emplace_back(k, v);
      return;
    }
    if (d->kind != Kind::Dict) fail(std::string("SETITEM on a ") + kind_name(d->kind));
    auto& index = dict_index_[d];
    auto [it, fresh] = index.emplace(key_id(k), d->entries.size());
    if (fresh) {
      d->entries.emplace_back(k, v);
    } else {
      d->entries[it->second].second = v;
    }
  }
  void append(Value* l, const std::vector<const Value*>& items) {
    if (l->kind != Kind::List && l->kind != Kind::Object)
      fail(std::string("APPEND to a ") + kind_name(l->kind));
    l->items.insert(l->items.end(), items.begin(), items.end());
  }
  Value* make_seq(Kind k, std::vector<const Value*> items) {
    Value* n = make(k);
    n->items = std::move(items);
    return n;
  }
  Value* make_global(std::string module, std::string name) {
    if (module.empty() || name.empty()) fail("empty module or class name");
    Value* g = make(Kind::Global);
    g->str = std::move(module);
    g->name = std::move(name);
    return g;
  }
  void memo_put(uint64_t index, Value* v) {
    auto it = memo_.find(index);
    if (it == memo_.end() && memo_.size() >= lim_.max_memo) fail("memo larger than the limit");
    memo_[index] = v;
  }
  Value* memo_get(uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end()) fail("memo key " + std::to_string(index) + " was never stored");
    return it->second;
  }

  Value* call(const Value* callable, const Value* args, int nesting = 0);
  Value* make_tensor(const Value* fn, const Value* args);
  void verify_tree(const Value* root);
  void step();

  static constexpr size_t kMaxKeyBytes = 4096;

  const uint8_t* data_;
  size_t size_;
  uint64_t copied_ = 0;
  size_t pos_ = 0;
  size_t op_pos_ = 0;
  uint8_t op_ = 0;
  bool stopped_ = false;
  const std::string& what_;
  const Limits& lim_;
  Document doc_;
  std::vector<Value*> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Value*> memo_;
  // Dict -> (key id -> position in entries); see key_id.
  std::unordered_map<const Value*, std::unordered_map<uint64_t, size_t>> dict_index_;
  std::unordered_map<const Value*, uint64_t> key_of_node_;
  std::unordered_map<std::string, uint64_t> key_ids_;
  uint64_t next_key_ = 0;
};

// Interprets the few constructors checkpoints need; every other call stays an inert Object.
Value* Unpickler::call(const Value* callable, const Value* args, int nesting) {
  if (callable->kind != Kind::Global)
    fail(std::string("call of a ") + kind_name(callable->kind) + ", not of a class or function");
  if (args->kind != Kind::Tuple)
    fail(std::string("call arguments are a ") + kind_name(args->kind) + ", not a tuple");
  const auto& a = args->items;
  if (callable->is("collections", "OrderedDict")) {
    Value* d = make(Kind::Dict);
    if (a.size() == 1 && (a[0]->kind == Kind::List || a[0]->kind == Kind::Tuple)) {
      charge(a[0]->items.size());
      for (const Value* pair : a[0]->items) {
        if ((pair->kind != Kind::List && pair->kind != Kind::Tuple) || pair->items.size() != 2)
          fail("OrderedDict item is not a (key, value) pair");
        set_item(d, pair->items[0], pair->items[1]);
      }
    } else if (!a.empty()) {
      fail("unsupported OrderedDict arguments");
    }
    return d;
  }
  if (callable->is("builtins", "set") || callable->is("builtins", "frozenset")) {
    if (a.empty()) return make(Kind::Set);
    if (a.size() == 1 &&
        (a[0]->kind == Kind::List || a[0]->kind == Kind::Tuple || a[0]->kind == Kind::Set)) {
      charge(a[0]->items.size());
      return make_seq(Kind::Set, a[0]->items);
    }
  }
  if (callable->is("_codecs", "encode") && a.size() == 2 && a[0]->kind == Kind::String &&
      a[1]->kind == Kind::String && (a[1]->str == "latin1" || a[1]->str == "latin-1")) {
    charge(a[0]->str.size());
    std::string bytes;
    if (!latin1(a[0]->str, &bytes)) fail("_codecs.encode: text is not Latin-1");
    return make_string(std::move(bytes), Kind::Bytes);
  }
  if (callable->is("builtins", "bytearray") || callable->is("builtins", "bytes")) {
    if (a.empty()) return make(Kind::Bytes);
    if (a.size() == 1 && a[0]->kind == Kind::Bytes) return mut(a[0]);  // immutable: shared
  }
  if (callable->is("copyreg", "_reconstructor") && !a.empty() && a[0]->kind == Kind::Global) {
    // Protocol 0/1 instances: copyreg._reconstructor(cls, base, state) stands for cls.__new__.
    Value* o = make(Kind::Object);
    o->str = a[0]->str;
    o->name = a[0]->name;
    o->args = args;
    return o;
  }
  if (callable->is("torch._utils", "_rebuild_tensor_v2") ||
      callable->is("torch._utils", "_rebuild_tensor"))
    return make_tensor(callable, args);
  if (callable->is("torch._utils", "_rebuild_parameter") ||
      callable->is("torch._utils", "_rebuild_parameter_with_state")) {
    if (a.empty() || a[0]->kind != Kind::Tensor) fail("_rebuild_parameter of a non-tensor");
    if (a.size() > 1 && a[1]->kind == Kind::Bool)
      doc_.tensors_[static_cast<size_t>(a[0]->i)].requires_grad = a[1]->b;
    return mut(a[0]);  // a Parameter is its tensor here
  }
  if (callable->is("torch._tensor", "_rebuild_from_type_v2") && nesting == 0) {
    // (func, type, func_args, state): the tensor is func(*func_args); the subclass is dropped.
    if (a.size() < 3) fail("_rebuild_from_type_v2 needs (func, type, args, ...)");
    return call(a[0], a[2], nesting + 1);
  }
  Value* o = make(Kind::Object);
  o->str = callable->str;
  o->name = callable->name;
  o->args = args;
  return o;
}

// (storage, storage_offset, size, stride[, requires_grad, backward_hooks, metadata]); the
// storage is the persistent id ('storage', torch.<T>Storage, key, location, numel).
Value* Unpickler::make_tensor(const Value* fn, const Value* args) {
  const std::string fname = qualified_name(*fn);
  const auto& a = args->items;
  if (a.size() < 4) fail(fname + " needs at least 4 arguments");
  const Value* st = a[0];
  if (st->kind != Kind::PersistentId) fail(fname + ": storage is not a persistent id");
  const Value* pid = st->args;
  if (pid->kind != Kind::Tuple || pid->items.size() != 5)
    fail(fname + ": storage id is not a 5-tuple");
  const auto& p = pid->items;
  if (p[0]->kind != Kind::String || p[0]->str != "storage")
    fail(fname + ": persistent id is not a 'storage'");
  TensorDesc t;
  if (p[1]->kind != Kind::Global || !module_is(p[1]->str, "torch") ||
      !storage_dtype_from_class(p[1]->name, &t.dtype))
    fail(fname + ": unsupported storage class " +
         (p[1]->kind == Kind::Global ? qualified_name(*p[1]) : kind_name(p[1]->kind)));
  if (p[2]->kind != Kind::String || p[2]->str.empty() || p[2]->str.size() > 64)
    fail(fname + ": storage key is not a short string");
  for (char c : p[2]->str) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-')
      fail(fname + ": storage key has unexpected characters");
  }
  if (p[3]->kind != Kind::String) fail(fname + ": storage location is not a string");
  if (p[4]->kind != Kind::Int || p[4]->i < 0) fail(fname + ": storage size is not a count");
  t.storage_class = p[1]->name;
  t.storage_key = p[2]->str;
  t.location = p[3]->str;
  t.storage_numel = p[4]->i;
  if (a[1]->kind != Kind::Int || a[1]->i < 0) fail(fname + ": offset is not a count");
  t.offset = a[1]->i;
  auto ints = [&](const Value* v, const char* what, std::vector<int64_t>* out) {
    if (v->is("torch", "Size") && v->args && !v->args->items.empty()) v = v->args->items[0];
    if (v->kind != Kind::Tuple && v->kind != Kind::List) fail(fname + ": " + what + " not a tuple");
    if (v->items.size() > lim_.max_dims) fail(fname + ": too many dimensions");
    for (const Value* e : v->items) {
      if (e->kind != Kind::Int || e->i < 0) fail(fname + ": " + what + " has a non-count entry");
      out->push_back(e->i);
    }
  };
  ints(a[2], "size", &t.sizes);
  ints(a[3], "stride", &t.strides);
  if (t.sizes.size() != t.strides.size()) fail(fname + ": size and stride ranks differ");
  if (a.size() > 4 && a[4]->kind == Kind::Bool) t.requires_grad = a[4]->b;
  // The view must lie inside the storage (no elements: nothing is read).
  uint64_t extent = static_cast<uint64_t>(t.offset) + 1;
  bool empty = false;
  for (size_t d = 0; d < t.sizes.size(); ++d) {
    if (t.sizes[d] == 0) empty = true;
    uint64_t span = 0;
    if (t.sizes[d] > 0 && (__builtin_mul_overflow(static_cast<uint64_t>(t.sizes[d] - 1),
                                                  static_cast<uint64_t>(t.strides[d]), &span) ||
                           __builtin_add_overflow(extent, span, &extent)))
      fail(fname + ": view extent overflows");
  }
  if (!empty && extent > static_cast<uint64_t>(t.storage_numel))
    fail(fname + ": view needs " + std::to_string(extent) + " elements, storage '" + t.storage_key +
         "' has " + std::to_string(t.storage_numel));
  Value* n = make(Kind::Tensor);
  n->i = static_cast<int64_t>(doc_.tensors_.size());
  doc_.tensors_.push_back(std::move(t));
  return n;
}

// Rejects cycles and over-deep nesting, so consumers may recurse over the tree safely.
void Unpickler::verify_tree(const Value* root) {
  auto child = [](const Value* v, size_t k) -> const Value* {
    if (k < v->items.size()) return v->items[k];
    k -= v->items.size();
    if (k < 2 * v->entries.size())
      return k % 2 ? v->entries[k / 2].second : v->entries[k / 2].first;
    k -= 2 * v->entries.size();
    return k == 0 ? v->args : k == 1 ? v->kwargs : k == 2 ? v->state : nullptr;
  };
  auto count = [](const Value* v) { return v->items.size() + 2 * v->entries.size() + 3; };
  // Height of each finished node (0 while it is on the current path): a shared sub-tree is
  // walked once, yet its height still counts wherever it is reached again.
  std::unordered_map<const Value*, size_t> height;
  struct Frame {
    const Value* v;
    size_t next;
    size_t tallest_child;
  };
  const auto too_deep = [&] {
    fail("values nested deeper than " + std::to_string(lim_.max_depth) + " levels");
  };
  std::vector<Frame> path{{root, 0, 0}};
  height[root] = 0;
  while (!path.empty()) {
    Frame& f = path.back();
    if (f.next == count(f.v)) {
      const size_t h = f.tallest_child + 1;
      height[f.v] = h;
      path.pop_back();
      if (!path.empty()) path.back().tallest_child = std::max(path.back().tallest_child, h);
      continue;
    }
    const Value* c = child(f.v, f.next++);
    if (!c) continue;
    auto [it, fresh] = height.emplace(c, 0);
    if (!fresh) {
      if (it->second == 0) fail("the object graph contains a cycle");
      if (path.size() + it->second > lim_.max_depth) too_deep();
      f.tallest_child = std::max(f.tallest_child, it->second);
      continue;
    }
    if (path.size() >= lim_.max_depth) too_deep();
    path.push_back({c, 0, 0});
  }
}

void Unpickler::step() {
  op_pos_ = pos_;
  op_ = *take(1);
  switch (op_) {
    case PROTO: {
      uint8_t v = *take(1);
      if (v > 5) fail("unsupported pickle protocol " + std::to_string(v));
      break;
    }
    case FRAME:
      take(8);
      break;  // framing only groups opcodes; the stream reads the same without
    case STOP: {
      Value* root = pop();
      verify_tree(root);
      doc_.root_ = root;
      stopped_ = true;
      break;
    }
    case MARK:
      if (marks_.size() >= lim_.max_marks)
        fail("more than " + std::to_string(lim_.max_marks) + " nested MARKs");
      marks_.push_back(stack_.size());
      break;
    case POP:
      if (stack_.size() > floor()) {
        stack_.pop_back();
      } else if (!marks_.empty()) {
        marks_.pop_back();  // like CPython: POP at a mark discards the mark
      } else {
        fail("stack underflow");
      }
      break;
    case POP_MARK:
      pop_to_mark();
      break;
    case DUP:
      push(top());
      break;
    case NONE:
      push(make(Kind::None));
      break;
    case NEWTRUE:
    case NEWFALSE: {
      Value* b = make(Kind::Bool);
      b->b = op_ == NEWTRUE;
      push(b);
      break;
    }
    case INT: {
      std::string s = read_line();
      if (s == "00" || s == "01") {
        Value* b = make(Kind::Bool);
        b->b = s == "01";
        push(b);
      } else {
        push(make_int(parse_int(s)));
      }
      break;
    }
    case LONG: {
      std::string s = read_line();
      if (!s.empty() && s.back() == 'L') s.pop_back();
      push(parse_long_text(s));
      break;
    }
    case BININT:
      push(make_int(static_cast<int32_t>(read_le(4))));
      break;
    case BININT1:
      push(make_int(static_cast<int64_t>(read_le(1))));
      break;
    case BININT2:
      push(make_int(static_cast<int64_t>(read_le(2))));
      break;
    case LONG1: {
      size_t n = static_cast<size_t>(read_le(1));
      push(decode_long(take(n), n));
      break;
    }
    case LONG4: {
      uint64_t n = read_length(4);
      push(decode_long(take(n), static_cast<size_t>(n)));
      break;
    }
    case FLOAT: {
      Value* v = make(Kind::Float);
      v->f = parse_float(read_line());
      push(v);
      break;
    }
    case BINFLOAT: {
      uint64_t be = 0;
      const uint8_t* p = take(8);
      for (int k = 0; k < 8; ++k) be = (be << 8) | p[k];
      Value* v = make(Kind::Float);
      std::memcpy(&v->f, &be, sizeof be);
      push(v);
      break;
    }
    case STRING:
      push(make_string(decode_quoted(read_line())));
      break;
    case UNICODE:
      push(make_string(decode_raw_unicode(read_line())));
      break;
    case BINSTRING:
    case BINUNICODE:
      push(make_string(read_bytes(read_length(4))));
      break;
    case SHORT_BINSTRING:
    case SHORT_BINUNICODE:
      push(make_string(read_bytes(read_length(1))));
      break;
    case BINUNICODE8:
      push(make_string(read_bytes(read_length(8))));
      break;
    case BINBYTES:
      push(make_string(read_bytes(read_length(4)), Kind::Bytes));
      break;
    case SHORT_BINBYTES:
      push(make_string(read_bytes(read_length(1)), Kind::Bytes));
      break;
    case BINBYTES8:
    case BYTEARRAY8:
      push(make_string(read_bytes(read_length(8)), Kind::Bytes));
      break;
    case EMPTY_LIST:
      push(make(Kind::List));
      break;
    case EMPTY_TUPLE:
      push(make(Kind::Tuple));
      break;
    case EMPTY_DICT:
      push(make(Kind::Dict));
      break;
    case EMPTY_SET:
      push(make(Kind::Set));
      break;
    case LIST:
      push(make_seq(Kind::List, pop_to_mark()));
      break;
    case TUPLE:
      push(make_seq(Kind::Tuple, pop_to_mark()));
      break;
    case FROZENSET:
      push(make_seq(Kind::Set, pop_to_mark()));
      break;
    case TUPLE1:
    case TUPLE2:
    case TUPLE3: {
      size_t n = static_cast<size_t>(op_ - TUPLE1 + 1);
      if (stack_.size() < floor() + n) fail("stack underflow");
      std::vector<const Value*> items(stack_.end() - static_cast<std::ptrdiff_t>(n), stack_.end());
      stack_.resize(stack_.size() - n);
      push(make_seq(Kind::Tuple, std::move(items)));
      break;
    }
    case DICT: {
      auto items = pop_to_mark();
      if (items.size() % 2) fail("odd number of items for DICT");
      Value* d = make(Kind::Dict);
      for (size_t k = 0; k < items.size(); k += 2) set_item(d, items[k], items[k + 1]);
      push(d);
      break;
    }
    case APPEND: {
      const Value* v = pop();
      append(top(), {v});
      break;
    }
    case APPENDS: {
      auto items = pop_to_mark();
      append(top(), items);
      break;
    }
    case SETITEM: {
      const Value* v = pop();
      const Value* k = pop();
      set_item(top(), k, v);
      break;
    }
    case SETITEMS: {
      auto items = pop_to_mark();
      if (items.size() % 2) fail("odd number of items for SETITEMS");
      Value* d = top();
      for (size_t k = 0; k < items.size(); k += 2) set_item(d, items[k], items[k + 1]);
      break;
    }
    case ADDITEMS: {
      auto items = pop_to_mark();
      Value* s = top();
      if (s->kind != Kind::Set) fail(std::string("ADDITEMS to a ") + kind_name(s->kind));
      s->items.insert(s->items.end(), items.begin(), items.end());
      break;
    }
    case GET:
      push(memo_get(static_cast<uint64_t>(parse_int(read_line()))));
      break;
    case BINGET:
      push(memo_get(read_le(1)));
      break;
    case LONG_BINGET:
      push(memo_get(read_le(4)));
      break;
    case PUT: {
      int64_t idx = parse_int(read_line());
      if (idx < 0) fail("negative memo key");
      memo_put(static_cast<uint64_t>(idx), top());
      break;
    }
    case BINPUT:
      memo_put(read_le(1), top());
      break;
    case LONG_BINPUT:
      memo_put(read_le(4), top());
      break;
    case MEMOIZE:
      memo_put(memo_.size(), top());
      break;
    case GLOBAL: {
      std::string module = read_line();
      push(make_global(std::move(module), read_line()));
      break;
    }
    case STACK_GLOBAL: {
      const Value* name = pop();
      const Value* module = pop();
      if (name->kind != Kind::String || module->kind != Kind::String)
        fail("STACK_GLOBAL operands are not strings");
      push(make_global(module->str, name->str));
      break;
    }
    case REDUCE:
    case NEWOBJ: {
      const Value* args = pop();
      const Value* callable = pop();
      push(call(callable, args));
      break;
    }
    case NEWOBJ_EX: {
      const Value* kwargs = pop();
      const Value* args = pop();
      const Value* cls = pop();
      Value* o = call(cls, args);
      if (o->kind == Kind::Object) o->kwargs = kwargs;
      push(o);
      break;
    }
    case INST: {
      std::string module = read_line();
      const Value* cls = make_global(std::move(module), read_line());
      push(call(cls, make_seq(Kind::Tuple, pop_to_mark())));
      break;
    }
    case OBJ: {
      auto items = pop_to_mark();
      if (items.empty()) fail("OBJ without a class");
      const Value* cls = items.front();
      items.erase(items.begin());
      push(call(cls, make_seq(Kind::Tuple, std::move(items))));
      break;
    }
    case BUILD: {
      const Value* state = pop();
      Value* obj = top();
      switch (obj->kind) {
        case Kind::Object:
        case Kind::Dict:
        case Kind::List:
        case Kind::Set:
        case Kind::Tensor:
          obj->state = state;
          break;
        default:
          fail(std::string("BUILD on a ") + kind_name(obj->kind));
      }
      break;
    }
    case PERSID:
    case BINPERSID: {
      const Value* pid = op_ == PERSID ? make_string(read_line()) : pop();
      Value* ref = make(Kind::PersistentId);
      ref->args = pid;
      push(ref);
      break;
    }
    case READONLY_BUFFER:
      top();
      break;  // marks a buffer read-only: nothing to do for data
    case NEXT_BUFFER:
      fail("out-of-band buffers are not supported");
    case EXT1:
    case EXT2:
    case EXT4:
      fail("extension registry codes are not supported");
    default:
      fail("unknown opcode");
  }
}

Document Unpickler::run() {
  if (size_ == 0) throw Error(what_ + ": empty pickle");
  while (!stopped_) {
    if (pos_ >= size_) {
      op_pos_ = pos_;
      op_ = 0;
      fail("truncated: the pickle ends without STOP");
    }
    step();
  }
  return std::move(doc_);
}

Document unpickle(const uint8_t* data, size_t size, const std::string& what, const Limits& limits) {
  return Unpickler(data, size, what, limits).run();
}

}  // namespace dfer::io::pickle
