// The command-line layer of the `hmr` program: subcommands with long options, help text,
// a progress bar, and one entry point that tests call in-process. Exit codes: 0 success,
// 1 the work failed (hmr::Error or any exception, one line on stderr), 2 a usage error.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "tensor/error.h"

namespace hmr::cli {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// Bad command line (unknown command or option, malformed value): exit code 2.
class UsageError : public Error {
  using Error::Error;
};

struct OptionSpec {
  std::string name;        // without the leading "--"
  std::string value_name;  // "N", "LR", ...; empty for a flag that takes no value
  std::string help;
  std::string default_value;  // shown in the help and returned when the option is absent
};

// Parsed options of one command; typed getters throw UsageError naming the option.
class Args {
 public:
  Args(std::string command, std::map<std::string, std::string> values, std::vector<std::string> positional)
      : command_(std::move(command)), values_(std::move(values)), positional_(std::move(positional)) {}
  const std::string& get(const std::string& name) const;
  int64_t get_int(const std::string& name) const;
  double get_double(const std::string& name) const;
  bool flag(const std::string& name) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::string command_;
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

// What a command writes to: results on out, progress and diagnostics on err.
struct Streams {
  std::ostream& out;
  std::ostream& err;
  bool err_is_terminal = false;  // redraw a progress bar only on a terminal
};

struct Command {
  std::string name;
  std::string summary;      // one line for `hmr --help`
  std::string description;  // a paragraph for `hmr <name> --help`
  std::vector<OptionSpec> options;
  bool takes_positional = false;  // e.g. `hmr train M`; otherwise a bare word is an error
  std::function<int(const Args&, Streams&)> run;
};

// Every subcommand, in the order `hmr --help` lists them (defined in hmr/commands/).
const std::vector<Command>& commands();

// Parses a command's arguments (everything after its name) against its options.
Args parse_args(const Command& cmd, const std::vector<std::string>& args);
std::string command_help(const Command& cmd);
std::string program_help();
std::string version();

// The program: args excludes argv[0]. Never throws; returns the exit code.
int run(const std::vector<std::string>& args, Streams& streams);

// A one-line progress bar with rate and ETA. It redraws itself (at most ~10 times a second)
// only when enabled, i.e. on a terminal; rate and ETA are also available for log lines.
class ProgressBar {
 public:
  ProgressBar(int64_t total, std::string unit, std::ostream& os, bool enabled);
  void update(int64_t done);
  void clear();   // erases the bar so a log line can be printed; the next update redraws it
  void finish();  // final redraw and newline
  double elapsed_seconds() const;
  double rate() const;         // units per second so far
  double eta_seconds() const;  // at the current rate
  std::string status() const;  // "1234 step/s, ETA 1.2s"

 private:
  void draw();
  using Clock = std::chrono::steady_clock;
  int64_t total_;
  int64_t done_ = 0;
  std::string unit_;
  std::ostream& os_;
  bool enabled_;
  bool drawn_ = false;
  Clock::time_point start_ = Clock::now();
  Clock::time_point last_draw_{};
};

// "1.2s", "3m04s": short durations for ETAs and summaries.
std::string format_duration(double seconds);

}  // namespace hmr::cli
