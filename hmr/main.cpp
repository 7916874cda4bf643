// The `hmr` program: everything lives in hmr_cli (hmr/cli.h) so tests can run it in-process.
#include <unistd.h>

#include <iostream>

#include "hmr/cli.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  hmr::cli::Streams streams{std::cout, std::cerr, ::isatty(STDERR_FILENO) == 1};
  return hmr::cli::run(args, streams);
}
