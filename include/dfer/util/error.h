// The one error type of the library: a message with context, and the kind that decides the
// process exit code (usage/config errors exit 2, runtime failures exit 1).
#pragma once

#include <stdexcept>
#include <string>

namespace dfer {

enum class ErrorKind {
  kUsage,    // bad command line, bad config file or key: the user must change the input (exit 2)
  kRuntime,  // anything that failed while doing the work (exit 1)
};

class Error : public std::runtime_error {
 public:
  explicit Error(std::string message, ErrorKind kind = ErrorKind::kRuntime)
      : std::runtime_error(std::move(message)), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

// Convenience for the frequent case of a config or command-line problem.
class UsageError : public Error {
 public:
  explicit UsageError(std::string message) : Error(std::move(message), ErrorKind::kUsage) {}
};

// Exit code convention shared by every executable: 0 ok, 1 runtime failure, 2 usage/config.
inline int exit_code_for(const Error& e) {
  return e.kind() == ErrorKind::kUsage ? 2 : 1;
}

// Prefixes `context` ("while reading X: ") to an error message, keeping its kind. Used where a
// low-level error should name the file or step it happened in.
[[noreturn]] void rethrow_with_context(const std::string& context);

}  // namespace dfer
