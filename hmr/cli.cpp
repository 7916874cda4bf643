// Argument parsing, help text, dispatch to subcommands and the progress bar of `hmr`.
// Options are long-only (--name VALUE or --name=VALUE) plus -h/--help, as in git or cmake.
#include "hmr/cli.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <sstream>

#include "hmr/commands/commands.h"

#ifndef HMR_VERSION
#define HMR_VERSION "unknown"
#endif

namespace hmr::cli {

namespace {

bool is_help(const std::string& a) { return a == "-h" || a == "--help"; }

const OptionSpec* find_option(const Command& cmd, const std::string& name) {
  for (const OptionSpec& o : cmd.options)
    if (o.name == name) return &o;
  return nullptr;
}

const Command* find_command(const std::string& name) {
  for (const Command& c : commands())
    if (c.name == name) return &c;
  return nullptr;
}

std::string pad(const std::string& s, size_t width) {
  return s.size() >= width ? s + "  " : s + std::string(width - s.size(), ' ');
}

}  // namespace

const std::vector<Command>& commands() {
  static const std::vector<Command> all = {info_command(), demo_command(), inspect_command(), classify_command(),
                                             body_command(), data_command(), train_command(), eval_command(),
                                             fit_command(), prior_command(), mlp_command()};
  return all;
}

// ---- Args ------------------------------------------------------------------------------------

const std::string& Args::get(const std::string& name) const {
  auto it = values_.find(name);
  HMR_INTERNAL_CHECK(it != values_.end(), "hmr ", command_, ": option --", name, " is not declared");
  return it->second;
}

int64_t Args::get_int(const std::string& name) const {
  const std::string& s = get(name);
  size_t used = 0;
  int64_t v = 0;
  try {
    v = std::stoll(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != s.size() || s.empty())
    throw UsageError(str("hmr ", command_, ": --", name, " expects an integer but found '", s, "'"));
  return v;
}

double Args::get_double(const std::string& name) const {
  const std::string& s = get(name);
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != s.size() || s.empty() || !std::isfinite(v))
    throw UsageError(str("hmr ", command_, ": --", name, " expects a number but found '", s, "'"));
  return v;
}

bool Args::flag(const std::string& name) const { return get(name) == "true"; }

// ---- parsing and help ------------------------------------------------------------------------

Args parse_args(const Command& cmd, const std::vector<std::string>& args) {
  std::map<std::string, std::string> values;
  for (const OptionSpec& o : cmd.options) values[o.name] = o.value_name.empty() ? "false" : o.default_value;
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.size() < 2 || a[0] != '-') {
      positional.push_back(a);
      continue;
    }
    if (a.rfind("--", 0) != 0 || a == "--")
      throw UsageError(str("hmr ", cmd.name, ": unknown option '", a, "' (see 'hmr ", cmd.name, " --help')"));
    size_t eq = a.find('=');
    std::string name = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    const OptionSpec* spec = find_option(cmd, name);
    if (!spec)
      throw UsageError(
          str("hmr ", cmd.name, ": unknown option '--", name, "' (see 'hmr ", cmd.name, " --help')"));
    if (spec->value_name.empty()) {
      if (eq != std::string::npos)
        throw UsageError(str("hmr ", cmd.name, ": option --", name, " takes no value"));
      values[name] = "true";
    } else if (eq != std::string::npos) {
      values[name] = a.substr(eq + 1);
    } else {
      if (i + 1 >= args.size())
        throw UsageError(
            str("hmr ", cmd.name, ": option --", name, " expects a value (", spec->value_name, ")"));
      values[name] = args[++i];
    }
  }
  return Args(cmd.name, std::move(values), std::move(positional));
}

std::string version() { return HMR_VERSION; }

std::string command_help(const Command& cmd) {
  std::ostringstream os;
  os << "usage: hmr " << cmd.name << " [options]\n\n" << cmd.description << "\n\noptions:\n";
  const size_t width = 22;
  for (const OptionSpec& o : cmd.options) {
    std::string left = "  --" + o.name + (o.value_name.empty() ? "" : " " + o.value_name);
    os << pad(left, width) << o.help;
    if (!o.value_name.empty() && !o.default_value.empty()) os << " (default: " << o.default_value << ")";
    os << "\n";
  }
  os << pad("  -h, --help", width) << "show this help\n";
  return os.str();
}

std::string program_help() {
  std::ostringstream os;
  os << "hmr " << version() << " - human mesh recovery on a from-scratch C++/CUDA runtime\n\n"
     << "usage: hmr <command> [options]\n\ncommands:\n";
  for (const Command& c : commands()) os << pad("  " + c.name, 12) << c.summary << "\n";
  os << "\noptions:\n"
     << pad("  -h, --help", 16) << "show this help\n"
     << pad("  --version", 16) << "print the version\n"
     << "\nRun 'hmr <command> --help' for the options of a command.\n";
  return os.str();
}

int run(const std::vector<std::string>& args, Streams& s) {
  try {
    if (args.empty()) {
      s.err << program_help();
      return kExitUsage;
    }
    const std::string& name = args[0];
    if (is_help(name)) {
      s.out << program_help();
      return kExitOk;
    }
    if (name == "--version") {
      s.out << "hmr " << version() << "\n";
      return kExitOk;
    }
    const Command* cmd = find_command(name);
    if (!cmd) {
      if (!name.empty() && name[0] == '-')
        throw UsageError(str("hmr: unknown option '", name, "' (see 'hmr --help')"));
      throw UsageError(str("hmr: unknown command '", name, "' (see 'hmr --help')"));
    }
    std::vector<std::string> rest(args.begin() + 1, args.end());
    if (std::any_of(rest.begin(), rest.end(), is_help)) {
      s.out << command_help(*cmd);
      return kExitOk;
    }
    Args parsed = parse_args(*cmd, rest);
    if (!cmd->takes_positional && !parsed.positional().empty())
      throw UsageError(str("hmr ", cmd->name, ": unexpected argument '", parsed.positional()[0],
                           "' (see 'hmr ", cmd->name, " --help')"));
    return cmd->run(parsed, s);
  } catch (const UsageError& e) {
    s.err << e.what() << "\n";
    return kExitUsage;
  } catch (const std::exception& e) {
    s.err << "hmr: error: " << e.what() << "\n";
    return kExitFailure;
  }
}

// ---- progress --------------------------------------------------------------------------------

std::string format_duration(double seconds) {
  char buf[32];
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  if (seconds < 60) {
    std::snprintf(buf, sizeof buf, "%.1fs", seconds);
  } else {
    auto total = static_cast<int64_t>(seconds + 0.5);
    if (total < 3600)
      std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(total / 60),
                    static_cast<long long>(total % 60));
    else
      std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(total / 3600),
                    static_cast<long long>(total / 60 % 60));
  }
  return buf;
}

ProgressBar::ProgressBar(int64_t total, std::string unit, std::ostream& os, bool enabled)
    : total_(std::max<int64_t>(total, 1)), unit_(std::move(unit)), os_(os), enabled_(enabled) {}

double ProgressBar::elapsed_seconds() const {
  return std::chrono::duration<double>(Clock::now() - start_).count();
}

double ProgressBar::rate() const {
  double t = elapsed_seconds();
  return t > 0 ? static_cast<double>(done_) / t : 0.0;
}

double ProgressBar::eta_seconds() const {
  double r = rate();
  return r > 0 ? static_cast<double>(total_ - done_) / r : -1.0;
}

std::string ProgressBar::status() const {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.0f %s/s", rate(), unit_.c_str());
  return str(buf, ", ETA ", format_duration(eta_seconds()));
}

void ProgressBar::update(int64_t done) {
  done_ = std::min(done, total_);
  if (!enabled_) return;
  auto now = Clock::now();
  if (drawn_ && now - last_draw_ < std::chrono::milliseconds(100) && done_ < total_) return;
  last_draw_ = now;
  draw();
}

void ProgressBar::draw() {
  const int width = 30;
  auto filled = static_cast<int>(width * done_ / total_);
  os_ << "\r[" << std::string(filled, '#') << std::string(width - filled, ' ') << "] " << done_ << "/"
      << total_ << " " << status() << "\x1b[K" << std::flush;
  drawn_ = true;
}

void ProgressBar::clear() {
  if (!enabled_ || !drawn_) return;
  os_ << "\r\x1b[K" << std::flush;
  drawn_ = false;
}

void ProgressBar::finish() {
  if (!enabled_) return;
  draw();
  os_ << "\n" << std::flush;
}

}  // namespace hmr::cli
