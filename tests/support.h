// Helpers shared by the test programs.
#pragma once

#include <string>

#include "tensor/error.h"

namespace hmr::testing {

// The message of the hmr::Error that fn throws, or "" when it throws none.
template <class Fn>
std::string error_message(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace hmr::testing
