// Opening trained regressors (see model_io.h).
#include "hmr/train/model_io.h"

#include <filesystem>

#include "hmr/body/generate.h"
#include "hmr/train/checkpoint.h"
#include "io/safetensors.h"
#include "tensor/error.h"

namespace hmr::train {

LoadedRegressor load_regressor(const std::string& path, const std::string& body_model) {
  HMR_CHECK(std::filesystem::exists(path), IOError, "checkpoint ", path,
            " does not exist (train one with `hmr train hmr --config configs/cpu_small.json`)");
  LoadedRegressor r;
  const bool ours = path.size() > 12 && path.substr(path.size() - 12) == ".safetensors";
  models::HMRRegressorOptions o;
  std::string body_spec = body_model;
  int64_t step = -1;
  if (ours) {
    io::SafetensorsFile f = io::load_safetensors(path);
    auto meta = [&](const char* key, const std::string& fallback) {
      auto it = f.metadata.find(key);
      return it == f.metadata.end() ? fallback : it->second;
    };
    o.backbone_depth = std::stoi(meta("backbone", "50"));
    r.img_res = std::stoll(meta("img_res", "224"));
    if (body_spec.empty()) body_spec = meta("body_model", "generated");
    step = std::stoll(meta("step", "-1"));
  } else if (body_spec.empty()) {
    body_spec = "generated";
  }
  r.body = body::resolve_body_model(body_spec);
  r.model = std::make_shared<models::HMRRegressor>(o, r.body);
  if (ours) {
    TrainingState s;
    s.model = r.model.get();
    load_checkpoint(path, s);
  } else {
    models::load_spin_checkpoint(*r.model, path);
  }
  r.model->eval();
  r.description = "ResNet-" + std::to_string(o.backbone_depth) + ", " + std::to_string(r.img_res) + " px" +
                  (step >= 0 ? ", step " + std::to_string(step) : "") + " of " + path;
  return r;
}

}  // namespace hmr::train
