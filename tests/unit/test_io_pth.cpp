// .pth reader: the torch.save fixtures against the reference weights, hand-made archives for
// the error paths, and malformed pickle streams for the restricted unpickler.
#include "dfer/io/pickle.h"
#include "dfer/io/pth.h"
#include "dfer/io/safetensors.h"
#include "dfer/io/weight_files.h"
#include "dfer/util/error.h"

#include <caffe2/serialize/inline_container.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "support/fixtures.h"

namespace fs = std::filesystem;
using dfer::io::pickle::Kind;
using dfer::io::pickle::Value;

namespace {

std::string pth(const std::string& name) {
  return (dfer::test::fixtures_root() / "pth" / name).string();
}

bool have(const std::string& name) {
  return dfer::test::require_fixture("pth/" + name) &&
         dfer::test::require_fixture("reference/finetune_lgi_small/weights.safetensors");
}

std::map<std::string, torch::Tensor> reference() {
  auto p = dfer::test::fixtures_root() / "reference/finetune_lgi_small/weights.safetensors";
  return dfer::io::to_map(dfer::io::load_safetensors(p.string()));
}

torch::Tensor fc1() {
  return reference().at("blocks.0.mlp.fc1.weight");
}

// Every reference tensor appears under `prefix + name`, value for value and in the same order.
void expect_equal_to_reference(const dfer::io::NamedTensors& got, const std::string& prefix) {
  auto ref = dfer::io::load_safetensors(
      (dfer::test::fixtures_root() / "reference/finetune_lgi_small/weights.safetensors").string());
  REQUIRE(got.size() == ref.size());
  for (size_t k = 0; k < ref.size(); ++k) {
    INFO(ref[k].first);
    CHECK(got[k].first == prefix + ref[k].first);
    CHECK(got[k].second.scalar_type() == ref[k].second.scalar_type());
    CHECK(got[k].second.sizes() == ref[k].second.sizes());
    CHECK(torch::equal(got[k].second, ref[k].second));
  }
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const dfer::Error& e) {
    return e.what();
  }
  return "<no error>";
}

std::string unpickle_error(const std::string& bytes) {
  return error_of([&] {
    dfer::io::pickle::unpickle(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
                               "test");
  });
}

dfer::io::pickle::Document unpickle(const std::string& bytes) {
  return dfer::io::pickle::unpickle(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
                                    "test");
}

// Tiny pickle builders for hand-made streams.
std::string u(const std::string& s) {
  std::string out = "X";
  for (int k = 0; k < 4; ++k) out += static_cast<char>((s.size() >> (8 * k)) & 0xFF);
  return out + s;
}
std::string k1(int v) {
  return std::string("K") + static_cast<char>(v);
}
// _rebuild_tensor_v2 of a float storage `key` holding `numel` elements.
std::string tensor_pickle(const std::string& key, int numel, int offset, const std::string& sizes,
                          const std::string& strides, const std::string& cls = "FloatStorage") {
  return "ctorch._utils\n_rebuild_tensor_v2\n((" + u("storage") + "ctorch\n" + cls + "\n" + u(key) +
         u("cpu") + k1(numel) + "tQ" + k1(offset) + sizes + strides +
         "\x89"
         "ccollections\nOrderedDict\n)RtR";
}
const std::string kOrderedDict = "ccollections\nOrderedDict\n)R";

// Writes a zip archive like torch.save's, with the given records.
std::string write_archive(const std::string& name,
                          const std::vector<std::pair<std::string, std::string>>& records) {
  auto path = (dfer::test::temp_dir("pth") / name).string();
  caffe2::serialize::PyTorchStreamWriter w(path);
  for (const auto& [rec, bytes] : records) w.writeRecord(rec, bytes.data(), bytes.size());
  w.writeEndOfFile();
  return path;
}

std::string floats(std::initializer_list<float> v) {
  return std::string(reinterpret_cast<const char*>(v.begin()), v.size() * sizeof(float));
}

}  // namespace

TEST_CASE("official-like checkpoint: model, epoch, args, optimizer", "[io][pth]") {
  if (!have("official_like.pth")) return;
  auto f = dfer::io::read_pth(pth("official_like.pth"));
  std::string key;
  expect_equal_to_reference(dfer::io::state_dict_from(f, &key), "");
  CHECK(key == "model");

  const Value& root = f.root();
  REQUIRE(root.kind == Kind::Dict);
  REQUIRE(root.get("epoch"));
  CHECK(root.get("epoch")->i == 7);
  CHECK(root.get("scaler")->get("scale")->f == 65536.0);

  const Value* args = root.get("args");
  REQUIRE(args);
  CHECK(args->is("argparse", "Namespace"));
  const Value* fields = args->attributes();
  REQUIRE(fields);
  CHECK(fields->get("model")->str == "vit_base_dim512_no_depth_patch16_160");
  CHECK(fields->get("nb_classes")->i == 7);
  CHECK(fields->get("batch_size")->i == 32);
  CHECK(fields->get("lr")->f == 0.001);
  const Value* region = fields->get("lg_region_size");
  REQUIRE(region->kind == Kind::List);
  REQUIRE(region->items.size() == 3);
  CHECK(region->items[1]->i == 3);

  const Value* opt = root.get("optimizer");
  REQUIRE(opt);
  const Value* state = opt->get("state");
  REQUIRE(state->kind == Kind::Dict);
  CHECK(state->entries.size() == 3);
  for (const auto& [param, s] : state->entries) {
    CHECK(param->kind == Kind::Int);
    for (const char* name : {"exp_avg", "exp_avg_sq"}) {
      REQUIRE(s->get(name));
      REQUIRE(s->get(name)->kind == Kind::Tensor);
      CHECK(f.tensor(*s->get(name)).numel() > 0);
    }
    CHECK(s->get("step"));
  }
  const Value* groups = opt->get("param_groups");
  REQUIRE(groups->kind == Kind::List);
  REQUIRE(!groups->items.empty());
  const Value* betas = groups->items[0]->get("betas");
  REQUIRE(betas);
  CHECK(betas->kind == Kind::Tuple);
  CHECK(betas->items.size() == 2);

  auto meta = nlohmann::json::parse(dfer::io::pth_metadata_json(f, key));
  CHECK(!meta.contains("model"));
  CHECK(meta["epoch"] == 7);
  CHECK(meta["args"]["nb_classes"] == 7);
  CHECK(meta["args"]["lg_region_size"] == nlohmann::json::array({2, 3, 2}));
  CHECK(meta["scaler"]["scale"] == 65536.0);
  CHECK(meta["optimizer"]["state"]["params"] == 3);
  CHECK(meta["optimizer"]["state"]["tensors"].get<int>() >= 6);
  CHECK(meta["optimizer"]["param_groups"][0]["betas"].size() == 2);
}

TEST_CASE("bare state dict checkpoint", "[io][pth]") {
  if (!have("state_dict_only.pth")) return;
  std::string key = "unset";
  expect_equal_to_reference(dfer::io::load_pth_state_dict(pth("state_dict_only.pth"), &key), "");
  CHECK(key.empty());
  auto f = dfer::io::read_pth(pth("state_dict_only.pth"));
  CHECK(dfer::io::pth_metadata_json(f) == "{}");
}

TEST_CASE("DDP checkpoint: one-item dict, module.-prefixed keys kept as stored", "[io][pth]") {
  if (!have("ddp_prefixed_one_key.pth")) return;
  std::string key;
  auto sd = dfer::io::load_pth_state_dict(pth("ddp_prefixed_one_key.pth"), &key);
  CHECK(key == "model");
  expect_equal_to_reference(sd, "module.");
}

TEST_CASE("pre-train checkpoint: encoder.-prefixed keys plus decoder-side keys", "[io][pth]") {
  if (!have("pretrain_like.pth")) return;
  auto sd = dfer::io::to_map(dfer::io::load_pth_state_dict(pth("pretrain_like.pth")));
  auto ref = reference();
  CHECK(sd.count("mask_token") == 1);
  CHECK(sd.count("encoder_to_decoder.weight") == 1);
  size_t matched = 0;
  for (const auto& [name, t] : ref) {
    if (name.rfind("head.", 0) == 0 || name.rfind("fc_norm.", 0) == 0) {
      CHECK(sd.count("encoder." + name) == 0);
      continue;
    }
    INFO(name);
    REQUIRE(sd.count("encoder." + name) == 1);
    CHECK(torch::equal(sd.at("encoder." + name), t));
    ++matched;
  }
  CHECK(sd.size() == matched + 2);
}

TEST_CASE("dtypes and views: bf16, fp16, int64, transposed, slice, shared storage", "[io][pth]") {
  if (!have("dtypes_views.pth")) return;
  auto f = dfer::io::read_pth(pth("dtypes_views.pth"));
  auto sd = dfer::io::to_map(dfer::io::state_dict_from(f));
  const torch::Tensor w = fc1();
  REQUIRE(sd.size() == 7);
  CHECK(sd.at("bf16").scalar_type() == torch::kBFloat16);
  CHECK(torch::equal(sd.at("bf16"), w.to(torch::kBFloat16)));
  CHECK(sd.at("fp16").scalar_type() == torch::kFloat16);
  CHECK(torch::equal(sd.at("fp16"), w.to(torch::kFloat16)));
  CHECK(sd.at("i64").scalar_type() == torch::kInt64);
  CHECK(torch::equal(sd.at("i64"), torch::arange(12, torch::kInt64).view({3, 4})));

  const auto& t = sd.at("view_T");
  CHECK(t.strides() == c10::IntArrayRef({1, 64}));
  CHECK(!t.is_contiguous());
  CHECK(torch::equal(t, w.t()));
  CHECK(torch::equal(sd.at("slice"), w.slice(0, 1, 3)));
  CHECK(torch::equal(sd.at("shared_a"), w));
  CHECK(torch::equal(sd.at("shared_b"), w));
  // One storage read once: every view points into the same memory.
  const auto* base = static_cast<const char*>(sd.at("shared_a").data_ptr());
  CHECK(sd.at("shared_b").data_ptr() == base);
  CHECK(t.data_ptr() == base);
  CHECK(static_cast<const char*>(sd.at("slice").data_ptr()) == base + 64 * sizeof(float));
  CHECK(f.doc.tensors().size() == 6);  // shared_b is the memoised shared_a
}

TEST_CASE("legacy (non-zip) checkpoints are refused with the re-save command", "[io][pth]") {
  if (!dfer::test::require_fixture("pth/legacy_format.pth")) return;
  auto msg = error_of([] { dfer::io::read_pth(pth("legacy_format.pth")); });
  CHECK_THAT(msg, Catch::Contains("legacy"));
  CHECK_THAT(msg, Catch::Contains("legacy_format.pth"));
  CHECK_THAT(msg, Catch::Contains("torch.save(torch.load('"));
  CHECK_THAT(msg, Catch::Contains("map_location='cpu'"));
}

TEST_CASE("weight files: a safetensors header length starting with 0x80 is not a pickle",
          "[io][pth]") {
  // A 128-byte header makes the first byte 0x80, the pickle protocol opcode of legacy torch.save.
  std::string header = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  header.resize(128, ' ');
  const float values[2] = {1.5f, -2.0f};
  auto path = (dfer::test::temp_dir("pth-st80") / "w.safetensors").string();
  {
    std::ofstream f(path, std::ios::binary);
    const uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) f.put(static_cast<char>((n >> (8 * i)) & 0xff));
    f << header;
    f.write(reinterpret_cast<const char*>(values), sizeof values);
  }
  auto t = dfer::io::load_weights_any(path);
  REQUIRE(t.size() == 1);
  CHECK(t[0].first == "w");
  CHECK(t[0].second[1].item<float>() == -2.0f);
}

TEST_CASE("unreadable files name the path", "[io][pth]") {
  auto dir = dfer::test::temp_dir("pth-bad");
  CHECK_THAT(error_of([&] { dfer::io::read_pth((dir / "missing.pth").string()); }),
             Catch::Contains("missing.pth"));
  auto junk = (dir / "junk.pth").string();
  std::ofstream(junk) << "hello, not a checkpoint";
  auto msg = error_of([&] { dfer::io::read_pth(junk); });
  CHECK_THAT(msg, Catch::Contains("not a PyTorch zip checkpoint"));
  CHECK_THAT(msg, Catch::Contains("torch.save"));

  if (!dfer::test::require_fixture("pth/official_like.pth")) return;
  for (double frac : {0.5, 0.999}) {
    auto cut = (dir / ("cut" + std::to_string(frac) + ".pth")).string();
    fs::copy_file(pth("official_like.pth"), cut);
    fs::resize_file(cut, static_cast<uintmax_t>(fs::file_size(cut) * frac));
    CHECK_THAT(error_of([&] { dfer::io::read_pth(cut); }), Catch::Contains(cut));
  }
  // A damaged data.pkl (LibTorch's zip reader skips CRC checks, like torch.load): the pickle
  // error names the file and the record.
  auto bad = (dir / "damaged.pth").string();
  fs::copy_file(pth("official_like.pth"), bad);
  {
    std::fstream io(bad, std::ios::binary | std::ios::in | std::ios::out);
    std::string head(4096, '\0');
    io.read(head.data(), static_cast<std::streamsize>(head.size()));
    auto at = head.find("\x80\x02}");  // PROTO 2 opening data.pkl
    REQUIRE(at != std::string::npos);
    io.clear();
    io.seekp(static_cast<std::streamoff>(at + 1));
    io.put('\x09');
  }
  CHECK_THAT(error_of([&] { dfer::io::read_pth(bad); }),
             Catch::Contains(bad + ":data.pkl") && Catch::Contains("protocol 9"));
}

TEST_CASE("hand-made archives: storages, views and error paths", "[io][pth]") {
  const std::string two = "\x80\x02}(" + u("model") + kOrderedDict + "(" + u("w") +
                          tensor_pickle("0", 6, 1, k1(2) + k1(2) + "\x86", k1(1) + k1(2) + "\x86") +
                          "u" + u("epoch") + k1(3) + "u.";
  SECTION("a transposed view with an offset") {
    auto p = write_archive("ok.pth", {{"data.pkl", two}, {"data/0", floats({0, 1, 2, 3, 4, 5})}});
    std::string key;
    auto sd = dfer::io::load_pth_state_dict(p, &key);
    CHECK(key == "model");
    REQUIRE(sd.size() == 1);
    CHECK(torch::equal(sd[0].second, torch::tensor({1.f, 3.f, 2.f, 4.f}).view({2, 2})));
  }
  SECTION("missing or short storage records") {
    auto p = write_archive("nostorage.pth", {{"data.pkl", two}});
    CHECK_THAT(error_of([&] { dfer::io::read_pth(p); }), Catch::Contains("data/0"));
    p = write_archive("short.pth", {{"data.pkl", two}, {"data/0", floats({0, 1})}});
    CHECK_THAT(error_of([&] { dfer::io::read_pth(p); }), Catch::Contains("8 bytes"));
  }
  SECTION("no data.pkl") {
    auto p = write_archive("nopkl.pth", {{"data/0", floats({0})}});
    CHECK_THAT(error_of([&] { dfer::io::read_pth(p); }), Catch::Contains("data.pkl"));
  }
  SECTION("no state dict") {
    auto p = write_archive("nodict.pth", {{"data.pkl", "\x80\x02}(" + u("epoch") + k1(3) + "u."}});
    CHECK_THAT(error_of([&] { dfer::io::load_pth_state_dict(p); }),
               Catch::Contains("no state dict") && Catch::Contains("epoch"));
    p = write_archive("badmodel.pth", {{"data.pkl", "\x80\x02}(" + u("model") + k1(3) + "u."}});
    CHECK_THAT(error_of([&] { dfer::io::load_pth_state_dict(p); }),
               Catch::Contains("checkpoint['model']") && Catch::Contains("it is of type int"));
    // A tensor kind this reader does not rebuild (e.g. quantized) stays an inert object.
    p = write_archive("qtensor.pth",
                      {{"data.pkl", "\x80\x02}(" + u("model") + kOrderedDict + "(" + u("q") +
                                        "ctorch._utils\n_rebuild_qtensor\n)R" + "uu."}});
    CHECK_THAT(error_of([&] { dfer::io::load_pth_state_dict(p); }),
               Catch::Contains("entry 'q' is of type object torch._utils._rebuild_qtensor"));
  }
  SECTION("a second tensor declaring a larger size for a shared storage") {
    // Each view fits the storage size its own entry declares (6, then 100), but the record holds
    // 6 floats: the 10 x 10 view must be refused, not read past the record's end.
    const std::string big =
        tensor_pickle("0", 100, 0, k1(10) + k1(10) + "\x86", k1(10) + k1(1) + "\x86");
    const std::string shared =
        "\x80\x02}(" + u("model") + kOrderedDict + "(" + u("w") +
        tensor_pickle("0", 6, 1, k1(2) + k1(2) + "\x86", k1(1) + k1(2) + "\x86") + u("v") + big +
        "uu.";
    REQUIRE(unpickle(shared).tensors().size() == 2);
    auto p = write_archive("oversized_view.pth",
                           {{"data.pkl", shared}, {"data/0", floats({0, 1, 2, 3, 4, 5})}});
    CHECK_THAT(error_of([&] { dfer::io::read_pth(p); }),
               Catch::Contains(p) && Catch::Contains("data/0") && Catch::Contains("[10, 10]"));
  }
  SECTION("a view beyond its storage, an unknown storage class") {
    auto bad =
        "\x80\x02" + tensor_pickle("0", 3, 0, k1(2) + k1(2) + "\x86", k1(2) + k1(1) + "\x86") + ".";
    CHECK_THAT(unpickle_error(bad), Catch::Contains("storage '0' has 3"));
    bad =
        "\x80\x02" + tensor_pickle("0", 4, 0, k1(4) + "\x85", k1(1) + "\x85", "EvilStorage") + ".";
    CHECK_THAT(unpickle_error(bad), Catch::Contains("torch.EvilStorage"));
  }
}

TEST_CASE("unpickler: values of protocols 0 to 4", "[io][pickle]") {
  // Python: pickle.dumps({'a': [1, -2, 2**70, 1.5, 'é', None, True, (1, 2)]}, protocol=p)
  const std::string p0(
      "(dp0\nVa\np1\n(lp2\nI1\naI-2\naL1180591620717411303424L\naF1.5\naV\351\np3\naNaI01\na(I1\nI2"
      "\ntp4\nas.",
      85);
  const std::string p2(
      "\200\002}q\000X\001\000\000\000aq\001]q\002("
      "K\001J\376\377\377\377\212\011\000\000\000\000\000"
      "\000\000\000@G?"
      "\370\000\000\000\000\000\000X\002\000\000\000\303\251q\003N\210K\001K\002\206q"
      "\004es.",
      65);
  const std::string p4(
      "\200\004\2254\000\000\000\000\000\000\000}\224\214\001a\224]\224(K\001J\376\377\377\377\212"
      "\011\000\000\000\000\000\000\000\000@G?"
      "\370\000\000\000\000\000\000\214\002\303\251\224N\210K"
      "\001K\002\206\224es.",
      63);
  for (const auto& bytes : {p0, p2, p4}) {
    auto doc = unpickle(bytes);
    const Value* list = doc.root().get("a");
    REQUIRE(list);
    REQUIRE(list->items.size() == 8);
    CHECK(list->items[0]->i == 1);
    CHECK(list->items[1]->i == -2);
    CHECK(list->items[2]->kind == Kind::BigInt);
    CHECK(list->items[2]->str == std::string(8, '\0') + "@");
    CHECK(list->items[3]->f == 1.5);
    CHECK(list->items[4]->str == "\xc3\xa9");
    CHECK(list->items[5]->kind == Kind::None);
    CHECK(list->items[6]->kind == Kind::Bool);
    CHECK(list->items[7]->kind == Kind::Tuple);
  }
  // A repeated key replaces the value in place, like a Python dict.
  auto doc = unpickle("}(" + u("x") + k1(1) + u("y") + k1(2) + u("x") + k1(3) + "u.");
  REQUIRE(doc.root().entries.size() == 2);
  CHECK(doc.root().get("x")->i == 3);
  // Unknown callables stay inert objects.
  doc = unpickle("cos\nsystem\n(" + u("rm -rf /") + "tR.");
  CHECK(doc.root().kind == Kind::Object);
  CHECK(dfer::io::pickle::qualified_name(doc.root()) == "os.system");
}

TEST_CASE("unpickler: malformed streams give clear errors", "[io][pickle]") {
  CHECK_THAT(unpickle_error(""), Catch::Contains("empty"));
  CHECK_THAT(unpickle_error(std::string("\x80\x02}q\x00", 5)), Catch::Contains("without STOP"));
  CHECK_THAT(unpickle_error(std::string("X\xff\x00\x00\x00"
                                        "ab",
                                        7)),
             Catch::Contains("truncated") && Catch::Contains("needs 255"));
  CHECK_THAT(unpickle_error("\x80\x02."), Catch::Contains("stack underflow"));
  CHECK_THAT(unpickle_error("}K\x01s."), Catch::Contains("stack underflow"));
  CHECK_THAT(unpickle_error("(K\x01\x86."), Catch::Contains("stack underflow"));
  CHECK_THAT(unpickle_error("\xff"), Catch::Contains("unknown opcode") && Catch::Contains("0xff") &&
                                         Catch::Contains("byte 0"));
  CHECK_THAT(unpickle_error("\x80\x09."), Catch::Contains("protocol 9"));
  CHECK_THAT(unpickle_error("\x8d\xff\xff\xff\xff\xff\xff\xff\x3f"), Catch::Contains("limit"));
  CHECK_THAT(unpickle_error("\x8b\xff\xff\xff\xff"), Catch::Contains("negative length"));
  CHECK_THAT(unpickle_error(std::string("T\x00\x00\x00\x80", 5)),
             Catch::Contains("negative length"));
  CHECK_THAT(unpickle_error("h\x05."), Catch::Contains("memo key 5"));
  CHECK_THAT(unpickle_error("K\x01)R."), Catch::Contains("not of a class"));
  CHECK_THAT(unpickle_error(std::string("K\x00K\x01K\x02s.", 7)),
             Catch::Contains("SETITEM on a int"));
  CHECK_THAT(unpickle_error("Ifoo\n."), Catch::Contains("malformed integer"));
  CHECK_THAT(unpickle_error("I99999999999999999999\n."), Catch::Contains("beyond 64 bits"));
  CHECK_THAT(unpickle_error("\x82\x01."), Catch::Contains("extension"));
  CHECK_THAT(unpickle_error(std::string(5000, '(')), Catch::Contains("nested MARKs"));
  // Deeply nested lists: 200 lists each appended into the previous one.
  CHECK_THAT(unpickle_error(std::string(200, ']') + std::string(199, 'a') + "."),
             Catch::Contains("deeper than"));
  // A 100-deep chain reached first near the root, then again below 60 more levels.
  const std::string chain = std::string(100, ']') + std::string(99, 'a') + std::string("q\x00", 2);
  const std::string below = std::string(60, ']') + std::string("h\x00", 2) + std::string(60, 'a');
  CHECK_THAT(unpickle_error(chain + below + "\x86."), Catch::Contains("deeper than 128"));
  CHECK_NOTHROW(unpickle(chain + std::string(10, ']') + std::string("h\x00", 2) +
                         std::string(10, 'a') + "\x86."));
  // A list that contains itself.
  CHECK_THAT(unpickle_error(std::string("]q\x00h\x00"
                                        "a.",
                                        7)),
             Catch::Contains("cycle"));
  // Tight limits are honoured too.
  dfer::io::pickle::Limits tiny;
  tiny.max_values = 3;
  CHECK_THAT(error_of([&] {
               std::string s =
                   "]K\x01K\x02K\x03"
                   "e.";
               dfer::io::pickle::unpickle(reinterpret_cast<const uint8_t*>(s.data()), s.size(),
                                          "tiny", tiny);
             }),
             Catch::Contains("more values than the limit"));
  // set(list) twice over one memoised list: the copies are charged against max_copied.
  dfer::io::pickle::Limits few_copies;
  few_copies.max_copied = 5;
  CHECK_THAT(error_of([&] {
               const std::string set_of_memo = std::string("c__builtin__\nset\n(h\x00tR", 22);
               std::string s = std::string(
                                   "](K\x01K\x02K\x03"
                                   "eq\x00",
                                   11) +
                               set_of_memo + set_of_memo + "\x86.";
               dfer::io::pickle::unpickle(reinterpret_cast<const uint8_t*>(s.data()), s.size(),
                                          "few", few_copies);
             }),
             Catch::Contains("copies more data than the limit"));
}

TEST_CASE("unpickler: hostile dict keys cost work linear in the input", "[io][pickle]") {
  // A 1 MiB integer key (LONG4), memoised, then named by 300,000 SETITEMS pairs: hashing the key
  // afresh for every pair would be 300 GiB of work; each pair must cost O(1).
  std::string big = "\x8b" + std::string("\x00\x00\x10\x00", 4) + std::string(1 << 20, '\x5a');
  big.back() = '\x01';  // a top byte that is not a redundant sign byte: the integer stays big
  std::string pairs;
  for (int k = 0; k < 300'000; ++k) pairs += std::string("h\x00K", 3) + static_cast<char>(k & 0x7f);
  const auto start = std::chrono::steady_clock::now();
  auto doc = unpickle("\x80\x02}" + big + std::string("q\x00", 2) + "0(" + pairs + "u.");
  REQUIRE(doc.root().entries.size() == 1);
  CHECK(doc.root().entries[0].first->kind == Kind::BigInt);
  CHECK(doc.root().entries[0].second->i == (299'999 & 0x7f));
  // A tuple key nested 5,000 deep, named by 100,000 pairs, is compared by identity (never walked)
  // and the over-deep tree is refused at STOP.
  std::string deep = "K\x01" + std::string(5000, '\x85') + std::string("q\x01", 2);
  std::string deep_pairs;
  for (int k = 0; k < 100'000; ++k) deep_pairs += std::string("h\x01N", 3);
  CHECK_THAT(unpickle_error("}" + deep + "0(" + deep_pairs + "u."), Catch::Contains("deeper than"));
  // Separate nodes with equal text are still one key, like Python's dict.
  auto dup = unpickle("}(" + u("k") + k1(1) + u("k") + k1(2) + "\x8a\x01\x05" + k1(3) + k1(5) +
                      k1(4) + "u.");
  REQUIRE(dup.root().entries.size() == 2);
  CHECK(dup.root().get("k")->i == 2);
  CHECK(dup.root().entries[1].second->i == 4);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
}

// Inputs found by tests/fuzz/fuzz_pth, rebuilt by hand down to the bytes that matter (the
// fuzzer's own inputs are tests/fuzz/corpus/pth/regress_*.pth).
TEST_CASE("fuzz_pth findings stay fixed", "[io][pth]") {
  SECTION("a non-string top-level key holding invalid UTF-8 in the metadata") {
    // {("\x84",): 1}: the key's JSON text was dumped strictly and threw nlohmann's type_error.
    auto p = write_archive("key_utf8.pth",
                           {{"data.pkl", "\x80\x02}(" + u("\x84") + "\x85" + k1(1) + "u."}});
    std::string json;
    REQUIRE_NOTHROW(json = dfer::io::pth_metadata_json(dfer::io::read_pth(p)));
    CHECK(json == "{\"[\\\"\xef\xbf\xbd\\\"]\":1}");
  }
  SECTION("a central directory entry declaring 0xFFFFFFFF bytes without zip64 fields") {
    // miniz takes the size as is and LibTorch allocated all 4 GiB before failing to read it.
    auto p =
        write_archive("huge_record.pth", {{"data.pkl", "\x80\x02}."}, {"byteorder", "little"}});
    std::string zip;
    {
      std::ifstream in(p, std::ios::binary);
      zip.assign(std::istreambuf_iterator<char>(in), {});
    }
    size_t entry = zip.find("/byteorder", zip.find("PK\x01\x02"));  // its central directory entry
    REQUIRE(entry != std::string::npos);
    entry = zip.rfind("PK\x01\x02", entry);
    zip.replace(entry + 20, 8, 8, '\xff');  // compressed and uncompressed sizes
    std::ofstream(p, std::ios::binary | std::ios::trunc) << zip;
    CHECK_THAT(error_of([&] { dfer::io::read_pth(p); }),
               Catch::Contains(p) && Catch::Contains("byteorder' declares 4294967295 bytes"));
  }
  SECTION("the version record, read inside LibTorch's reader, declaring 2.3 GiB") {
    auto p = write_archive("huge_version.pth", {{"data.pkl", "\x80\x02}."}});
    std::string zip;
    {
      std::ifstream in(p, std::ios::binary);
      zip.assign(std::istreambuf_iterator<char>(in), {});
    }
    size_t entry = zip.rfind("PK\x01\x02", zip.rfind("/version"));
    REQUIRE(entry != std::string::npos);
    zip.replace(entry + 20, 8, "\xff\xff\xff\xff\xff\xff\x16\x92", 8);
    std::ofstream(p, std::ios::binary | std::ios::trunc) << zip;
    CHECK_THAT(error_of([&] { dfer::io::read_pth(p); }),
               Catch::Contains(p) && Catch::Contains("version' declares 2450980863 bytes"));
  }
  SECTION("a zip64 extended size of 2^62 bytes") {
    // A minimal zip by hand: one local header, one central directory entry whose uncompressed
    // size 0xFFFFFFFF defers to a zip64 extra field, and the end record.
    auto le = [](uint64_t v, int n) {
      std::string s;
      for (int k = 0; k < n; ++k) s += static_cast<char>((v >> (8 * k)) & 0xFF);
      return s;
    };
    const std::string name = "a/version";
    std::string zip = "PK\x03\x04" + std::string(22, '\0') + le(name.size(), 2) + le(0, 2) + name;
    const size_t dir = zip.size();
    zip += "PK\x01\x02" + std::string(16, '\0') + le(0, 4) + le(0xFFFFFFFF, 4) +
           le(name.size(), 2) + le(12, 2) + std::string(14, '\0') + name + le(1, 2) + le(8, 2) +
           le(uint64_t{1} << 62, 8);
    zip += "PK\x05\x06" + std::string(4, '\0') + le(1, 2) + le(1, 2) + le(zip.size() - dir, 4) +
           le(dir, 4) + le(0, 2);
    auto p = (dfer::test::temp_dir("pth") / "zip64_size.pth").string();
    std::ofstream(p, std::ios::binary) << zip;
    CHECK_THAT(error_of([&] { dfer::io::read_pth(p); }),
               Catch::Contains("a/version' declares 4611686018427387904 bytes"));
  }
}
