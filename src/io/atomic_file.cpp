// Atomic file replacement (see atomic_file.h): temp file + fsync + rename + directory fsync.
#include "dfer/io/atomic_file.h"

#include "dfer/util/error.h"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <streambuf>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace dfer::io {

namespace {

// Unbuffered-by-libc stream buffer over a POSIX descriptor, so the very descriptor that was written
// can be fsynced and its write errors (ENOSPC, EIO) reported with errno.
class FdStreambuf : public std::streambuf {
 public:
  explicit FdStreambuf(int fd) : fd_(fd) { setp(buf_, buf_ + sizeof buf_); }
  int error() const { return errno_; }

 protected:
  int_type overflow(int_type ch) override {
    if (!flush_buffer()) return traits_type::eof();
    if (!traits_type::eq_int_type(ch, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(ch);
      pbump(1);
    }
    return traits_type::not_eof(ch);
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    // Large blocks (tensor data) go straight to the descriptor instead of through the buffer.
    if (n < static_cast<std::streamsize>(sizeof buf_)) return std::streambuf::xsputn(s, n);
    if (!flush_buffer() || !write_all(s, static_cast<size_t>(n))) return 0;
    return n;
  }
  int sync() override { return flush_buffer() ? 0 : -1; }

 private:
  bool write_all(const char* p, size_t n) {
    while (n > 0) {
      ssize_t w = ::write(fd_, p, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        errno_ = errno;
        return false;
      }
      p += w;
      n -= static_cast<size_t>(w);
    }
    return true;
  }
  bool flush_buffer() {
    size_t n = static_cast<size_t>(pptr() - pbase());
    if (n > 0 && !write_all(pbase(), n)) return false;
    setp(buf_, buf_ + sizeof buf_);
    return true;
  }

  int fd_;
  int errno_ = 0;
  char buf_[1 << 16];
};

[[noreturn]] void fail(const std::string& path, const std::string& step, int err) {
  throw Error("cannot write " + path + ": " + step + ": " + std::strerror(err));
}

// Creates a unique temp file next to `path`; mode 0666 so that the umask applies as for a plain
// create (mkstemp would force 0600 onto the final file).
int create_temp(const std::string& path, std::string* temp) {
  static std::atomic<unsigned> counter{0};
  std::filesystem::path p(path);
  std::filesystem::path dir = p.has_parent_path() ? p.parent_path() : ".";
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
    *temp = (dir / ("." + p.filename().string() + ".tmp-" + std::to_string(::getpid()) + "-" +
                    std::to_string(counter++) + "-" + std::to_string(stamp % 1000000)))
                .string();
    int fd = ::open(temp->c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) return fd;
    if (errno != EEXIST) fail(path, "cannot create a temp file in " + dir.string(), errno);
  }
  fail(path, "cannot find a free temp file name", EEXIST);
}

void fsync_directory(const std::string& path) {
  std::filesystem::path p(path);
  std::string dir = p.has_parent_path() ? p.parent_path().string() : ".";
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail(path, "cannot open its directory to fsync it", errno);
  // Some file systems cannot fsync a directory (EINVAL); the rename has happened either way.
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0 && err != EINVAL) fail(path, "fsync of its directory failed", err);
}

}  // namespace

void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& writer) {
  std::string temp;
  int fd = create_temp(path, &temp);
  auto discard = [&] {
    if (fd >= 0) ::close(fd);
    fd = -1;
    ::unlink(temp.c_str());
  };
  FdStreambuf buf(fd);
  std::ostream out(&buf);
  try {
    writer(out);
    out.flush();
  } catch (...) {
    discard();
    rethrow_with_context("while writing " + path);
  }
  if (!out) {
    int err = buf.error() ? buf.error() : EIO;
    discard();
    fail(path, "write to " + temp + " failed", err);
  }
  if (::fsync(fd) != 0) {
    int err = errno;
    discard();
    fail(path, "fsync of " + temp + " failed", err);
  }
  int rc = ::close(fd);
  fd = -1;
  if (rc != 0) {
    int err = errno;
    discard();
    fail(path, "close of " + temp + " failed", err);
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    int err = errno;
    discard();
    fail(path, "rename from " + temp + " failed", err);
  }
  fsync_directory(path);
}

void write_file_atomic(const std::string& path, std::string_view bytes) {
  write_file_atomic(path, [bytes](std::ostream& out) {
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  });
}

}  // namespace dfer::io
