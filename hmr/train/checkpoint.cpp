// save_checkpoint / load_checkpoint (nn/checkpoint.h) over io/safetensors.
#include "hmr/train/checkpoint.h"

#include "io/safetensors.h"

namespace hmr::train {

namespace {

constexpr const char* kFormat = "hmr-checkpoint-1";

void put(TensorDict& out, const std::string& prefix, const TensorDict& part) {
  for (const auto& [k, t] : part) out.set(prefix + k, t);
}

// The entries under prefix, with the prefix removed.
TensorDict take(const TensorDict& all, const std::string& prefix) {
  TensorDict part;
  for (const auto& [k, t] : all)
    if (k.compare(0, prefix.size(), prefix) == 0) part.set(k.substr(prefix.size()), t);
  return part;
}

uint64_t parse_u64(const std::map<std::string, std::string>& m, const std::string& key, const std::string& path) {
  auto it = m.find(key);
  HMR_CHECK(it != m.end(), ValueError, "load_checkpoint: '", path, "' has no '", key, "' in its metadata");
  try {
    size_t used = 0;
    uint64_t v = std::stoull(it->second, &used);
    HMR_CHECK(used == it->second.size(), ValueError, "");
    return v;
  } catch (const std::exception&) {
    throw ValueError(str("load_checkpoint: '", path, "': metadata '", key, "' is not an integer: '", it->second, "'"));
  }
}

}  // namespace

void save_checkpoint(const std::string& path, const TrainingState& s) {
  TensorDict all;
  if (s.model) put(all, "model.", s.model->state_dict());
  if (s.optimizer) put(all, "optimizer.", s.optimizer->state_dict());
  if (s.scheduler) put(all, "scheduler.", s.scheduler->state_dict());
  if (s.scaler) put(all, "scaler.", s.scaler->state_dict());
  std::map<std::string, std::string> meta = s.metadata;
  Generator& gen = s.generator ? *s.generator : default_generator();
  meta["format"] = kFormat;
  meta["step"] = std::to_string(s.step);
  meta["rng.seed"] = std::to_string(gen.seed());
  meta["rng.offset"] = std::to_string(gen.offset());
  io::save_safetensors(path, all, meta);
}

void load_checkpoint(const std::string& path, TrainingState& s) {
  io::SafetensorsFile f = io::load_safetensors(path);
  auto fmt = f.metadata.find("format");
  HMR_CHECK(fmt != f.metadata.end() && fmt->second == kFormat, ValueError, "load_checkpoint: '", path,
            "' is not an hmr checkpoint (metadata format is '",
            fmt == f.metadata.end() ? std::string("<missing>") : fmt->second, "', expected '", kFormat, "')");
  auto part = [&](const char* prefix, const char* what) {
    TensorDict d = take(f.tensors, prefix);
    HMR_CHECK(!d.empty(), ValueError, "load_checkpoint: '", path, "' holds no ", what, " state");
    return d;
  };
  // Everything is checked and parsed before anything is modified where the parts allow it:
  // load_state_dict of each part is itself all-or-nothing.
  const uint64_t step = parse_u64(f.metadata, "step", path);
  const uint64_t seed = parse_u64(f.metadata, "rng.seed", path);
  const uint64_t offset = parse_u64(f.metadata, "rng.offset", path);
  if (s.model) s.model->load_state_dict(part("model.", "model"));
  if (s.optimizer) s.optimizer->load_state_dict(take(f.tensors, "optimizer."));
  if (s.scheduler) s.scheduler->load_state_dict(part("scheduler.", "scheduler"));
  if (s.scaler) s.scaler->load_state_dict(part("scaler.", "scaler"));
  (s.generator ? *s.generator : default_generator()).set_state(seed, offset);
  s.step = static_cast<int64_t>(step);
  s.metadata = f.metadata;
}

}  // namespace hmr::train
