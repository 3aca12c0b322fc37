// Context wrapping for dfer::Error.
#include "dfer/util/error.h"

#include <exception>

namespace dfer {

void rethrow_with_context(const std::string& context) {
  try {
    throw;
  } catch (const Error& e) {
    throw Error(context + ": " + e.what(), e.kind());
  } catch (const std::exception& e) {
    throw Error(context + ": " + e.what());
  }
}

}  // namespace dfer
