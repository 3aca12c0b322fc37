// Tests of safetensors I/O: reference fixtures (names, shapes, values, exact re-save), round trips
// of every dtype, 40+ malformed files that must each fail with a clear error, and atomic writes.
#include "dfer/io/atomic_file.h"
#include "dfer/io/safetensors.h"
#include "dfer/util/error.h"
#include "support/fixtures.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using dfer::io::NamedTensors;

namespace {

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return s;
}

// A file: the header's true length, the header, then `data` zero bytes.
std::string blob(const std::string& header, size_t data = 0) {
  return le64(header.size()) + header + std::string(data, '\0');
}

// The message of the dfer::Error that parsing `bytes` throws (other exceptions escape and fail).
std::string parse_error(const std::string& bytes) {
  try {
    dfer::io::parse_safetensors_header(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
                                       bytes.size(), "case.safetensors");
  } catch (const dfer::Error& e) {
    return e.what();
  }
  return "<no error>";
}

std::string load_error(const fs::path& p) {
  try {
    dfer::io::load_safetensors(p.string());
  } catch (const dfer::Error& e) {
    return e.what();
  }
  return "<no error>";
}

// One tensor entry of a hand-written header.
std::string entry(const std::string& name, const std::string& dtype, const std::string& shape,
                  uint64_t b, uint64_t e) {
  return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape +
         ",\"data_offsets\":[" + std::to_string(b) + "," + std::to_string(e) + "]}";
}

// "1,1,...,1": a shape of rank n.
std::string ones(int n) {
  std::string s = "1";
  for (int i = 1; i < n; ++i) s += ",1";
  return s;
}

struct BadCase {
  const char* label;
  std::string bytes;
  const char* expected;  // a phrase the error message must contain
};

std::vector<BadCase> bad_cases() {
  const std::string a12 = entry("a", "F32", "[3]", 0, 12);
  return {
      {"empty file", "", "fewer than the 8-byte header length"},
      {"shorter than 8 bytes", std::string(5, '\0'), "fewer than the 8-byte header length"},
      {"huge header length", le64(1ull << 63) + "{}", "exceeds the limit"},
      {"header length over 100 MB", le64(200'000'000) + "{}", "exceeds the limit"},
      {"header length beyond the file", le64(100) + "{\"a\":1}", "exceeds the 7 bytes"},
      {"zero header length", le64(0) + "xx", "JSON header is empty"},
      {"not JSON", blob("hello world"), "malformed JSON"},
      {"truncated JSON", blob("{\"a\":{\"dtype\":\"F32\""), "malformed JSON"},
      {"trailing garbage after JSON", blob("{} x"), "malformed JSON"},
      {"embedded NUL", blob(std::string("{}\0x", 4)), "NUL byte at header offset 2"},
      {"invalid UTF-8 in a name", blob("{\"\xff\xfe\":{}}"), "malformed JSON"},
      {"JSON array", blob("[]"), "must be a JSON object, got an array"},
      {"JSON string", blob("\"x\""), "must be a JSON object, got a string"},
      {"entry not an object", blob("{\"a\":1}"), "tensor 'a' must be an object"},
      {"empty tensor name", blob("{\"\":{}}"), "empty name"},
      {"missing dtype", blob("{\"a\":{\"shape\":[],\"data_offsets\":[0,4]}}", 4),
       "tensor 'a' lacks the field 'dtype'"},
      {"missing shape", blob("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4),
       "tensor 'a' lacks the field 'shape'"},
      {"missing data_offsets", blob("{\"a\":{\"dtype\":\"F32\",\"shape\":[]}}"),
       "tensor 'a' lacks the field 'data_offsets'"},
      {"unknown field", blob("{\"a\":{\"dtype\":\"F32\",\"foo\":1}}"), "unknown field 'foo'"},
      {"duplicate field", blob("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\"}}"),
       "duplicate field 'dtype'"},
      {"dtype not a string", blob("{\"a\":{\"dtype\":4}}"), "dtype must be a string, got a number"},
      {"unknown dtype", blob("{" + entry("a", "F8_E4M3", "[1]", 0, 1) + "}", 1),
       "unknown dtype 'F8_E4M3'"},
      {"lower-case dtype", blob("{" + entry("a", "f32", "[1]", 0, 4) + "}", 4), "unknown dtype"},
      {"shape not an array", blob("{\"a\":{\"shape\":3}}"), "shape must be an array of integers"},
      {"shape entry a string", blob("{\"a\":{\"shape\":[\"3\"]}}"), "non-negative integers"},
      {"shape entry an object", blob("{\"a\":{\"shape\":[{}]}}"), "got an object"},
      {"negative dimension", blob("{" + entry("a", "F32", "[-1]", 0, 4) + "}", 4),
       "shape has a negative entry (-1)"},
      {"fractional dimension", blob("{" + entry("a", "F32", "[2.5]", 0, 4) + "}", 4),
       "not an integer"},
      {"dimension beyond int64", blob("{" + entry("a", "U8", "[18446744073709551615]", 0, 1) + "}"),
       "is too large"},
      {"dimension beyond uint64",
       blob("{" + entry("a", "U8", "[99999999999999999999]", 0, 1) + "}"),
       "not an integer or is too large"},
      {"element count overflow",
       blob("{" + entry("a", "F32", "[4294967296,4294967296]", 0, 4) + "}", 4), "overflows"},
      {"byte size overflow", blob("{" + entry("a", "F64", "[4611686018427387904]", 0, 8) + "}", 8),
       "byte size of the shape overflows"},
      {"rank above 64", blob("{\"a\":{\"shape\":[" + ones(65) + "]}}"), "more than 64 dimensions"},
      {"one offset", blob("{\"a\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0]}}"),
       "exactly 2 entries"},
      {"three offsets", blob("{\"a\":{\"data_offsets\":[0,1,2]}}"), "exactly 2 entries"},
      {"negative offset",
       blob("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[-1,0]}}", 1),
       "data_offsets has a negative entry (-1)"},
      {"reversed offsets", blob("{" + entry("a", "F32", "[1]", 8, 4) + "}", 8), "reversed"},
      {"offsets past the end", blob("{" + entry("a", "F32", "[4]", 0, 16) + "}", 8),
       "past the end of the data section"},
      {"truncated data", blob("{" + a12 + "}", 11), "file truncated?"},
      {"byte length mismatch", blob("{" + entry("a", "F32", "[3]", 0, 8) + "}", 8),
       "span 8 bytes but dtype F32 x shape needs 12"},
      {"overlap",
       blob("{" + entry("a", "U8", "[8]", 0, 8) + "," + entry("b", "U8", "[8]", 4, 12) + "}", 12),
       "tensor 'b' (bytes 4..12) overlaps tensor 'a'"},
      {"gap",
       blob("{" + entry("a", "U8", "[4]", 0, 4) + "," + entry("b", "U8", "[4]", 8, 12) + "}", 12),
       "gap of 4 bytes"},
      {"gap at the start", blob("{" + entry("a", "U8", "[4]", 4, 8) + "}", 8), "gap of 4 bytes"},
      {"trailing bytes", blob("{" + a12 + "}", 16), "4 trailing bytes"},
      {"data without tensors", blob("{}", 3), "3 trailing bytes"},
      {"duplicate names", blob("{" + a12 + "," + a12 + "}", 12), "duplicate tensor name 'a'"},
      {"metadata not an object", blob("{\"__metadata__\":[]}"),
       "\"__metadata__\" must be an object"},
      {"metadata value not a string", blob("{\"__metadata__\":{\"k\":1}}"),
       "\"__metadata__\" value 'k' must be a string"},
      {"metadata value an object", blob("{\"__metadata__\":{\"k\":{}}}"), "must be a string"},
      {"duplicate metadata key", blob("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}"),
       "duplicate \"__metadata__\" key 'k'"},
      {"duplicate metadata entry", blob("{\"__metadata__\":{},\"__metadata__\":{}}"),
       "duplicate \"__metadata__\" entry"},
  };
}

}  // namespace

TEST_CASE("malformed safetensors files give a clear error", "[io][safetensors]") {
  static const auto dir = dfer::test::temp_dir("st-bad");  // once, not per section
  auto cases = bad_cases();
  REQUIRE(cases.size() >= 30);
  for (const BadCase& c : cases) {
    DYNAMIC_SECTION(c.label) {
      std::string msg = parse_error(c.bytes);
      CHECK_THAT(msg, Contains("case.safetensors") && Contains(c.expected));
      // The same bytes on disk: load_safetensors names the file.
      fs::path p = dir / "bad.safetensors";
      write_bytes(p, c.bytes);
      CHECK_THAT(load_error(p), Contains(p.string()) && Contains(c.expected));
    }
  }
}

TEST_CASE("load rejects BOOL bytes other than 0/1 and unreadable paths", "[io][safetensors]") {
  auto dir = dfer::test::temp_dir("st-bad2");
  std::string bytes = blob("{" + entry("m", "BOOL", "[3]", 0, 3) + "}", 3);
  bytes[bytes.size() - 2] = 2;
  write_bytes(dir / "b.safetensors", bytes);
  CHECK_THAT(load_error(dir / "b.safetensors"), Contains("BOOL tensor 'm' holds the byte value 2"));
  CHECK_THAT(load_error(dir / "missing.safetensors"),
             Contains("cannot open") && Contains("missing.safetensors"));
  CHECK_THAT(load_error(dir), Contains("not a regular file"));
}

TEST_CASE("valid hand-written headers parse, tensors come back in offset order",
          "[io][safetensors]") {
  // Pretty-printed JSON, keys out of offset order, an empty tensor sharing an offset, metadata.
  std::string header =
      "{ \"b\" : {\"data_offsets\":[4,12], \"shape\":[2], \"dtype\":\"I32\"},\n"
      "  \"__metadata__\": {\"z\":\"1\", \"a\":\"2\"},\n"
      "  \"e\": {\"dtype\":\"F64\",\"shape\":[0,3],\"data_offsets\":[4,4]},\n"
      "  \"a\": {\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]} }   ";
  std::string bytes = blob(header, 12);
  auto h = dfer::io::parse_safetensors_header(reinterpret_cast<const uint8_t*>(bytes.data()),
                                              bytes.size(), bytes.size(), "ok");
  REQUIRE(h.tensors.size() == 3);
  CHECK(h.tensors[0].name == "a");
  CHECK(h.tensors[1].name == "e");
  CHECK(h.tensors[2].name == "b");
  CHECK(h.tensors[1].shape == std::vector<int64_t>{0, 3});
  CHECK(h.data_start == 8 + header.size());
  CHECK(h.metadata_keys == std::vector<std::string>{"z", "a"});
  CHECK(h.metadata.at("a") == "2");
  std::string empty = blob("{}");
  CHECK(dfer::io::parse_safetensors_header(reinterpret_cast<const uint8_t*>(empty.data()),
                                           empty.size(), empty.size(), "e")
            .tensors.empty());
}

TEST_CASE("every dtype round-trips, including 0-d, empty and non-contiguous", "[io][safetensors]") {
  torch::manual_seed(0);
  auto base = torch::randn({4, 6});
  NamedTensors in = {
      {"f32", base},
      {"f64", base.to(torch::kFloat64) * 1e10},
      {"f16", base.to(torch::kFloat16)},
      {"bf16", base.to(torch::kBFloat16)},
      {"i64", torch::randint(-(1ll << 40), 1ll << 40, {5}, torch::kInt64)},
      {"i32", torch::randint(-100000, 100000, {2, 3}, torch::kInt32)},
      {"u8", torch::randint(0, 256, {7}, torch::kUInt8)},
      {"bool", base > 0},
      {"scalar", torch::tensor(3.5)},
      {"empty", torch::empty({0, 5}, torch::kFloat16)},
      {"transposed", base.t()},
      {"strided", base.index({torch::indexing::Slice(), torch::indexing::Slice(0, 6, 2)})},
      {"expanded", torch::arange(3, torch::kInt32).expand({2, 3})},
      {"sparse", torch::eye(3).to_sparse()},
  };
  auto dir = dfer::test::temp_dir("st-rt");
  auto p = (dir / "rt.safetensors").string();
  dfer::io::save_safetensors_ordered(p, in, {{"z", "last"}, {"a", "first"}});
  dfer::io::StMetadataList meta;
  NamedTensors out = dfer::io::load_safetensors_ordered(p, &meta);
  REQUIRE(out.size() == in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    INFO(in[i].first);
    CHECK(out[i].first == in[i].first);
    CHECK(out[i].second.scalar_type() == in[i].second.scalar_type());
    CHECK(out[i].second.sizes() == in[i].second.sizes());
    CHECK(out[i].second.is_contiguous());
    const torch::Tensor& want = in[i].second;
    CHECK(torch::equal(out[i].second, want.is_sparse() ? want.to_dense() : want));
  }
  CHECK(meta == dfer::io::StMetadataList{{"z", "last"}, {"a", "first"}});
  // The header is 8-byte aligned, space padded; re-saving what was loaded gives the same bytes.
  std::string bytes = read_bytes(p);
  CHECK(bytes.find("\"__metadata__\":{\"z\":\"last\",\"a\":\"first\"}") == 9);
  auto p2 = (dir / "rt2.safetensors").string();
  dfer::io::save_safetensors_ordered(p2, out, meta);
  CHECK(read_bytes(p2) == bytes);
  // The std::map overloads: metadata sorted by key.
  std::map<std::string, std::string> sorted_meta;
  auto m = dfer::io::to_map(dfer::io::load_safetensors(p, &sorted_meta));
  CHECK(sorted_meta.begin()->first == "a");
  CHECK(m.at("scalar").dim() == 0);
  CHECK(m.at("scalar").item<double>() == 3.5);
}

TEST_CASE("the header JSON has the reference layout", "[io][safetensors]") {
  NamedTensors t = {{"w", torch::zeros({2, 3})}, {"m", torch::zeros({1}, torch::kBool)}};
  std::string json = dfer::io::safetensors_header_json(t, {{"k", "v"}});
  CHECK(json ==
        "{\"__metadata__\":{\"k\":\"v\"},\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],"
        "\"data_offsets\":[0,24]},\"m\":{\"dtype\":\"BOOL\",\"shape\":[1],"
        "\"data_offsets\":[24,25]}}      ");
  CHECK(json.size() % 8 == 0);
  CHECK(dfer::io::safetensors_header_json({}, {}) == "{}      ");
}

TEST_CASE("save rejects what it cannot write", "[io][safetensors]") {
  auto dir = dfer::test::temp_dir("st-save-bad");
  auto p = (dir / "x.safetensors").string();
  auto t = torch::zeros({2});
  CHECK_THROWS_WITH(dfer::io::save_safetensors(p, {{"a", t}, {"a", t}}),
                    Contains("'a' appears twice"));
  CHECK_THROWS_WITH(dfer::io::save_safetensors(p, {{"s", t.to(torch::kInt16)}}),
                    Contains("tensor 's' has unsupported dtype"));
  CHECK_THROWS_WITH(dfer::io::save_safetensors(p, {{"__metadata__", t}}),
                    Contains("invalid tensor name"));
  CHECK_THROWS_WITH(dfer::io::save_safetensors(p, {{"u", torch::Tensor()}}), Contains("undefined"));
  CHECK_THROWS_WITH(dfer::io::save_safetensors(p, {{"\xff", t}}), Contains("not valid UTF-8"));
  CHECK_THROWS_WITH(dfer::io::save_safetensors_ordered(p, {}, {{"k", "1"}, {"k", "2"}}),
                    Contains("duplicate metadata key 'k'"));
  CHECK_FALSE(fs::exists(p));
}

TEST_CASE("reference fixtures load with the right names, shapes and values", "[io][safetensors]") {
  if (!dfer::test::require_fixture("reference/finetune_lgi_small/weights.safetensors")) return;
  const fs::path ref = dfer::test::fixtures_root() / "reference";
  auto load = [&](const std::string& sub) {
    return dfer::io::load_safetensors((ref / sub).string());
  };
  auto numel = [](const NamedTensors& ts) {
    int64_t n = 0;
    for (const auto& kv : ts) n += kv.second.numel();
    return n;
  };
  auto w = load("finetune_lgi_small/weights.safetensors");
  CHECK(w.size() == 71);
  CHECK(numel(w) == 192903);
  CHECK(w.front().first == "lg_region_tokens");
  CHECK(w.front().second.sizes() == torch::IntArrayRef{12, 64});
  CHECK(w.front().second.flatten()[0].item<float>() == -0.8464990258216858f);
  CHECK(w.back().first == "head.bias");
  CHECK(w.back().second.flatten()[6].item<float>() == 0.0028628918807953596f);
  auto v = load("finetune_vit_small/weights.safetensors");
  CHECK(v.size() == 32);
  CHECK(numel(v) == 125063);
  CHECK(dfer::io::to_map(v).at("patch_embed.proj.weight").sizes() ==
        torch::IntArrayRef{64, 3, 2, 8, 8});
  CHECK(load("pretrain_lgi_small/weights.safetensors").size() == 101);
  CHECK(load("videomamba_tiny_small/weights.safetensors").size() == 42);

  auto in = dfer::io::to_map(load("pretrain_lgi_small/input.safetensors"));
  const torch::Tensor& mask = in.at("mask");
  CHECK(mask.scalar_type() == torch::kBool);
  CHECK(mask.sizes() == torch::IntArrayRef{2, 128});
  CHECK(mask.sum().item<int64_t>() == 192);
  CHECK(mask[0][0].item<bool>());
  CHECK_FALSE(mask[0][1].item<bool>());
  CHECK(in.at("video").flatten()[0].item<float>() == 0.9303022623062134f);
  auto ex = load("finetune_lgi_small/expected.safetensors");
  CHECK(ex.size() == 11);
  CHECK(ex.front().first == "logits");
  CHECK(ex.front().second.sizes() == torch::IntArrayRef{2, 7});
  CHECK(ex.front().second[0][0].item<float>() == 1.9312326908111572f);
  CHECK(ex.front().second[1][6].item<float>() == -2.256115674972534f);
}

TEST_CASE("every reference safetensors file re-saves byte for byte", "[io][safetensors]") {
  if (!dfer::test::require_fixture("reference")) return;
  auto dir = dfer::test::temp_dir("st-fixtures");
  int files = 0;
  for (const auto& d : fs::directory_iterator(dfer::test::fixtures_root() / "reference")) {
    for (const char* name : {"weights", "input", "expected"}) {
      fs::path src = d.path() / (std::string(name) + ".safetensors");
      if (!fs::exists(src)) continue;
      INFO(src.string());
      dfer::io::StMetadataList meta;
      auto t = dfer::io::load_safetensors_ordered(src.string(), &meta);
      // The generator of most sets stamps them; sets written without metadata (the trajectory
      // set) must re-save byte for byte all the same.
      if (!meta.empty())
        CHECK(meta == dfer::io::StMetadataList{{"set", d.path().filename().string()},
                                               {"variant", "shared"},
                                               {"file", name}});
      fs::path dst = dir / "resaved.safetensors";
      dfer::io::save_safetensors_ordered(dst.string(), t, meta);
      CHECK(read_bytes(dst) == read_bytes(src));
      ++files;
    }
  }
  CHECK(files >= 12);
}

TEST_CASE("atomic writes replace the target and leave no temp file", "[io][atomic]") {
  auto dir = dfer::test::temp_dir("st-atomic");
  auto p = (dir / "f.txt").string();
  dfer::io::write_file_atomic(p, std::string_view("first"));
  CHECK(read_bytes(p) == "first");
  dfer::io::write_file_atomic(p, [](std::ostream& out) { out << "second, longer"; });
  CHECK(read_bytes(p) == "second, longer");
  // A failing writer leaves the old content and no temp file behind.
  CHECK_THROWS_WITH(dfer::io::write_file_atomic(p,
                                                [](std::ostream& out) {
                                                  out << "partial";
                                                  throw dfer::Error("boom");
                                                }),
                    Contains(p) && Contains("boom"));
  CHECK(read_bytes(p) == "second, longer");
  std::string big(1 << 20, 'x');  // larger than the stream buffer
  dfer::io::write_file_atomic(p, big);
  CHECK(read_bytes(p) == big);
  int entries = 0;
  for (const auto& e : fs::directory_iterator(dir))
    entries += e.path().filename() == "f.txt" ? 1 : 100;
  CHECK(entries == 1);
  CHECK_THROWS_WITH(dfer::io::write_file_atomic((dir / "no/such/dir/f").string(), "x"),
                    Contains("no/such/dir/f") && Contains("No such file"));
}
