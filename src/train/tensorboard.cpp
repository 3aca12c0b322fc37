// TensorBoard event files (see tensorboard.h): TFRecord frames of hand-encoded Event protos.
#include "dfer/train/tensorboard.h"

#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "dfer/util/error.h"

namespace dfer::train {

namespace {

// A table-driven CRC-32C of our own: Debian 12 packages no CRC-32C library (libcrc32c-dev is
// absent), and a 256-entry table is fast enough for a few records per training step.
constexpr std::array<uint32_t, 256> make_crc32c_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;  // reflected poly
    table[i] = c;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kCrc32cTable = make_crc32c_table();

// TFRecord stores CRCs masked, so that a CRC of data that itself holds CRCs stays well spread.
uint32_t masked_crc32c(const std::string& bytes) {
  const uint32_t crc = crc32c(bytes.data(), bytes.size());
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

// Little-endian fixed-width integers, written byte by byte so the host's byte order never matters.
void put_fixed(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// The protobuf wire format, as far as Event needs it.
enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void put_key(std::string& out, uint32_t field, WireType type) {
  put_varint(out, (static_cast<uint64_t>(field) << 3) | type);
}
void put_bytes(std::string& out, uint32_t field, const std::string& bytes) {
  put_key(out, field, kLengthDelimited);
  put_varint(out, bytes.size());
  out += bytes;
}
void put_double(std::string& out, uint32_t field, double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  put_key(out, field, kFixed64);
  put_fixed(out, bits, 8);
}
void put_float(std::string& out, uint32_t field, float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  put_key(out, field, kFixed32);
  put_fixed(out, bits, 4);
}

// Field numbers of tensorflow/core/util/event.proto and framework/summary.proto.
constexpr uint32_t kEventWallTime = 1, kEventStep = 2, kEventFileVersion = 3, kEventSummary = 5,
                   kEventSessionLog = 7;
constexpr uint32_t kSummaryValue = 1, kValueTag = 1, kValueSimpleValue = 2;
constexpr uint32_t kSessionLogStatus = 1, kSessionLogStart = 1;

// Event{wall_time, step}: every event begins so.
std::string event_head(int64_t step) {
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::string e;
  put_double(e, kEventWallTime, now);
  put_key(e, kEventStep, kVarint);
  put_varint(e, static_cast<uint64_t>(step));  // int64: two's complement, as protobuf does
  return e;
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

}  // namespace

uint32_t crc32c(const void* data, std::size_t size) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint32_t crc = 0xffffffffu;
  for (std::size_t i = 0; i < size; ++i) crc = kCrc32cTable[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return crc ^ 0xffffffffu;
}

TensorBoardWriter::TensorBoardWriter(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error("system.log_dir: cannot create " + dir + ": " + ec.message());
  // The seconds and host name are TensorFlow's own naming; pid and a per-process counter keep
  // two writers of one second apart (a quick restart, or a test).
  static std::atomic<int> counter{0};
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  path_ = (std::filesystem::path(dir) /
           ("events.out.tfevents." + std::to_string(secs) + "." + host_name() + "." +
            std::to_string(::getpid()) + "." + std::to_string(counter++)))
              .string();
  file_ = std::fopen(path_.c_str(), "wbxe");  // x: never append to another writer's file
  if (!file_) throw Error("system.log_dir: cannot create " + path_ + ": " + std::strerror(errno));
  std::string e = event_head(0);
  put_bytes(e, kEventFileVersion, "brain.Event:2");
  write_event(e);
  flush();  // the run shows up in TensorBoard from the start
}

TensorBoardWriter::~TensorBoardWriter() {
  if (file_) std::fclose(file_);
}

void TensorBoardWriter::add_scalars(int64_t step,
                                    const std::vector<std::pair<std::string, double>>& values) {
  std::string summary;
  for (const auto& [tag, value] : values) {
    std::string v;
    put_bytes(v, kValueTag, tag);
    put_float(v, kValueSimpleValue, static_cast<float>(value));
    put_bytes(summary, kSummaryValue, v);
  }
  std::string e = event_head(step);
  put_bytes(e, kEventSummary, summary);
  write_event(e);
}

void TensorBoardWriter::restart_at(int64_t step) {
  std::string log;
  put_key(log, kSessionLogStatus, kVarint);
  put_varint(log, kSessionLogStart);
  std::string e = event_head(step);
  put_bytes(e, kEventSessionLog, log);
  write_event(e);
}

// One TFRecord: length, its masked CRC, the data, its masked CRC.
void TensorBoardWriter::write_event(const std::string& event) {
  std::string len;
  put_fixed(len, event.size(), 8);
  std::string rec = len;
  put_fixed(rec, masked_crc32c(len), 4);
  rec += event;
  put_fixed(rec, masked_crc32c(event), 4);
  // A failed write sets the stream's error flag; flush() reports it.
  std::fwrite(rec.data(), 1, rec.size(), file_);
}

void TensorBoardWriter::flush() {
  if (std::fflush(file_) != 0 || std::ferror(file_))
    throw Error("cannot write TensorBoard events to " + path_ + ": " + std::strerror(errno));
}

}  // namespace dfer::train
