// Training configuration: JSON <-> TrainConfig through one table of fields (see config.h).
#include "hmr/train/config.h"

#include <cmath>
#include <filesystem>
#include <functional>
#include <sstream>

#include "tensor/error.h"

namespace hmr::train {

namespace {

// One scalar field: its dotted key, how to set it from JSON and how to read it back.
struct Field {
  const char* key;
  std::function<void(TrainConfig&, const io::Json&)> set;
  std::function<io::Json(const TrainConfig&)> get;
};

template <class T>
Field field(const char* key, T TrainConfig::*member) {
  return {key,
          [member, key](TrainConfig& c, const io::Json& v) {
            if constexpr (std::is_same_v<T, bool>) {
              c.*member = v.as_bool();
            } else if constexpr (std::is_same_v<T, std::string>) {
              c.*member = v.as_string();
            } else if constexpr (std::is_floating_point_v<T>) {
              c.*member = v.as_double();
            } else {
              HMR_CHECK(v.is_integer(), ValueError, "config: ", key, " must be an integer, got ",
                        io::to_json(v));
              c.*member = static_cast<T>(v.as_int());
            }
          },
          [member](const TrainConfig& c) -> io::Json {
            if constexpr (std::is_same_v<T, uint64_t>)
              return io::Json(static_cast<int64_t>(c.*member));
            else if constexpr (std::is_same_v<T, int>)
              return io::Json(static_cast<int64_t>(c.*member));
            else
              return io::Json(c.*member);
          }};
}

// Nested members (loss.*, smplify.*): the same through a pointer to the sub-struct.
template <class S, class T>
Field nested(const char* key, S TrainConfig::*outer, T S::*member) {
  return {key,
          [outer, member, key](TrainConfig& c, const io::Json& v) {
            if constexpr (std::is_same_v<T, bool>) {
              c.*outer.*member = v.as_bool();
            } else if constexpr (std::is_same_v<T, std::string>) {
              c.*outer.*member = v.as_string();
            } else if constexpr (std::is_floating_point_v<T>) {
              c.*outer.*member = v.as_double();
            } else {
              HMR_CHECK(v.is_integer(), ValueError, "config: ", key, " must be an integer, got ",
                        io::to_json(v));
              c.*outer.*member = static_cast<T>(v.as_int());
            }
          },
          [outer, member](const TrainConfig& c) -> io::Json { return io::Json(c.*outer.*member); }};
}

const std::vector<Field>& fields() {
  static const std::vector<Field> all = {
      field("method", &TrainConfig::method),
      field("body_model", &TrainConfig::body_model),
      field("backbone", &TrainConfig::backbone),
      field("img_res", &TrainConfig::img_res),
      field("batch_size", &TrainConfig::batch_size),
      field("steps", &TrainConfig::steps),
      field("lr", &TrainConfig::lr),
      field("weight_decay", &TrainConfig::weight_decay),
      field("ignore_3d", &TrainConfig::ignore_3d),
      field("augment", &TrainConfig::augment),
      field("grad_clip", &TrainConfig::grad_clip),
      field("seed", &TrainConfig::seed),
      field("num_workers", &TrainConfig::num_workers),
      field("threads", &TrainConfig::threads),
      field("log_every", &TrainConfig::log_every),
      field("checkpoint_every", &TrainConfig::checkpoint_every),
      field("eval_every", &TrainConfig::eval_every),
      field("eval_samples", &TrainConfig::eval_samples),
      field("device", &TrainConfig::device),
      field("init_checkpoint", &TrainConfig::init_checkpoint),
      nested("loss.keypoint_2d", &TrainConfig::loss, &SpinLossWeights::keypoint_2d),
      nested("loss.keypoint_3d", &TrainConfig::loss, &SpinLossWeights::keypoint_3d),
      nested("loss.pose", &TrainConfig::loss, &SpinLossWeights::pose),
      nested("loss.betas", &TrainConfig::loss, &SpinLossWeights::betas),
      nested("loss.vertices", &TrainConfig::loss, &SpinLossWeights::vertices),
      nested("loss.openpose", &TrainConfig::loss, &SpinLossWeights::openpose),
      nested("loss.gt_2d", &TrainConfig::loss, &SpinLossWeights::gt_2d),
      nested("loss.overall", &TrainConfig::loss, &SpinLossWeights::overall),
      nested("smplify.run", &TrainConfig::smplify, &SmplifyConfig::run),
      nested("smplify.camera_iters", &TrainConfig::smplify, &SmplifyConfig::camera_iters),
      nested("smplify.body_iters", &TrainConfig::smplify, &SmplifyConfig::body_iters),
      nested("smplify.threshold", &TrainConfig::smplify, &SmplifyConfig::threshold),
      nested("smplify.gmm", &TrainConfig::smplify, &SmplifyConfig::gmm),
  };
  return all;
}

std::string known_keys() {
  std::ostringstream os;
  for (const Field& f : fields()) os << f.key << " ";
  os << "datasets eval_dataset";
  return os.str();
}

const Field* find_field(const std::string& key) {
  for (const Field& f : fields())
    if (key == f.key) return &f;
  return nullptr;
}

std::string resolve(const std::string& path, const std::string& base_dir) {
  if (path.empty() || base_dir.empty() || std::filesystem::path(path).is_absolute()) return path;
  return (std::filesystem::path(base_dir) / path).lexically_normal().string();
}

DatasetSpec parse_dataset(const io::Json& v, const std::string& label, const std::string& base_dir) {
  HMR_CHECK(v.is_object(), ValueError, label,
            ": a dataset must be an object {\"name\", \"npz\", \"image_root\", ", "\"probability\"}, got ",
            io::to_json(v));
  DatasetSpec d;
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string& k = v.keys()[i];
    const io::Json& x = v.value(i);
    if (k == "name")
      d.name = x.as_string();
    else if (k == "npz")
      d.npz = resolve(x.as_string(), base_dir);
    else if (k == "image_root")
      d.image_root = resolve(x.as_string(), base_dir);
    else if (k == "probability")
      d.probability = x.as_double();
    else
      HMR_CHECK(false, ValueError, label, ": unknown dataset key '", k,
                "' (known: name npz image_root probability)");
  }
  HMR_CHECK(!d.npz.empty(), ValueError, label, ": dataset without \"npz\"");
  if (d.name.empty()) d.name = std::filesystem::path(d.npz).stem().string();
  return d;
}

// Flattens {"loss": {"pose": 1}} into "loss.pose" keys.
void apply_object(TrainConfig& c, const io::Json& obj, const std::string& prefix, const std::string& label,
                  const std::string& base_dir) {
  for (size_t i = 0; i < obj.size(); ++i) {
    const std::string key = prefix + obj.keys()[i];
    const io::Json& v = obj.value(i);
    if (key == "datasets") {
      HMR_CHECK(v.is_array(), ValueError, label, ": \"datasets\" must be an array");
      c.datasets.clear();
      for (size_t j = 0; j < v.size(); ++j) c.datasets.push_back(parse_dataset(v[j], label, base_dir));
    } else if (key == "eval_dataset") {
      c.eval_dataset = v.is_null() ? DatasetSpec{} : parse_dataset(v, label, base_dir);
    } else if (key.rfind("_comment", 0) == 0 || key == "comment") {
      continue;  // free text in config files
    } else if (v.is_object() && (key == "loss" || key == "smplify")) {
      apply_object(c, v, key + ".", label, base_dir);
    } else {
      const Field* f = find_field(key);
      HMR_CHECK(f != nullptr, ValueError, label, ": unknown key '", key, "' (known: ", known_keys(), ")");
      try {
        f->set(c, v);
      } catch (const Error& e) {
        throw ValueError(str(label, ": key '", key, "': ", e.what()));
      }
    }
  }
}

}  // namespace

void TrainConfig::validate() const {
  HMR_CHECK(method == "spin" || method == "hmr", ValueError,
            "config: method must be \"spin\" or \"hmr\", got \"", method, "\"");
  HMR_CHECK(backbone == 18 || backbone == 34 || backbone == 50 || backbone == 101 || backbone == 152,
            ValueError, "config: backbone must be a ResNet depth (18, 34, 50, 101, 152), got ", backbone);
  HMR_CHECK(img_res >= 32 && img_res <= 1024, ValueError, "config: img_res must be in [32, 1024], got ",
            img_res);
  HMR_CHECK(batch_size >= 1, ValueError, "config: batch_size must be >= 1, got ", batch_size);
  HMR_CHECK(steps >= 0, ValueError, "config: steps must be >= 0, got ", steps);
  HMR_CHECK(std::isfinite(lr) && lr > 0, ValueError, "config: lr must be > 0, got ", lr);
  HMR_CHECK(std::isfinite(grad_clip) && grad_clip >= 0, ValueError, "config: grad_clip must be >= 0 (0: off), got ",
            grad_clip);
  HMR_CHECK(num_workers >= 0 && threads >= 0, ValueError, "config: num_workers and threads must be >= 0");
  HMR_CHECK(log_every >= 1 && checkpoint_every >= 1 && eval_every >= 1, ValueError,
            "config: log_every, checkpoint_every and eval_every must be >= 1");
  HMR_CHECK(device == "auto" || device == "cpu" || device == "cuda", ValueError,
            "config: device must be auto, cpu or cuda, got \"", device, "\"");
  HMR_CHECK(!datasets.empty(), ValueError, "config: \"datasets\" is empty: name at least one training .npz");
  for (const DatasetSpec& d : datasets)
    HMR_CHECK(d.probability > 0 && std::isfinite(d.probability), ValueError, "config: dataset '", d.name,
              "' has probability ", d.probability, "; expected > 0");
  const std::pair<const char*, double> weights[] = {
      {"loss.keypoint_2d", loss.keypoint_2d}, {"loss.keypoint_3d", loss.keypoint_3d}, {"loss.pose", loss.pose},
      {"loss.betas", loss.betas},             {"loss.vertices", loss.vertices},       {"loss.openpose", loss.openpose},
      {"loss.gt_2d", loss.gt_2d},             {"loss.overall", loss.overall}};
  for (const auto& [key, w] : weights)
    HMR_CHECK(std::isfinite(w) && w >= 0, ValueError, "config: ", key, " must be a finite weight >= 0, got ", w);
  HMR_CHECK(smplify.camera_iters >= 0 && smplify.body_iters >= 0, ValueError,
            "config: smplify iterations must be >= 0");
}

TrainConfig parse_train_config(const io::Json& doc, const std::string& label, const std::string& base_dir) {
  HMR_CHECK(doc.is_object(), ValueError, label, ": a training config is a JSON object");
  TrainConfig c;
  apply_object(c, doc, "", label, base_dir);
  return c;
}

TrainConfig load_train_config(const std::string& path) {
  return parse_train_config(io::load_json(path), path, std::filesystem::path(path).parent_path().string());
}

void apply_override(TrainConfig& config, const std::string& assignment) {
  const size_t eq = assignment.find('=');
  HMR_CHECK(eq != std::string::npos && eq > 0, ValueError, "config override '", assignment,
            "': expected key=value");
  const std::string key = assignment.substr(0, eq), value = assignment.substr(eq + 1);
  const Field* f = find_field(key);
  HMR_CHECK(f != nullptr, ValueError, "config override: unknown key '", key, "' (known: ", known_keys(), ")");
  // The value is read as JSON when it parses (numbers, true/false), else as a bare string.
  io::Json v;
  try {
    v = io::parse_json(value, "override");
  } catch (const Error&) {
    v = io::Json(value);
  }
  if (f->get(config).is_string() && !v.is_string()) v = io::Json(value);
  try {
    f->set(config, v);
  } catch (const Error& e) {
    throw ValueError(str("config override '", assignment, "': ", e.what()));
  }
}

io::Json train_config_to_json(const TrainConfig& c) {
  io::Json out = io::Json::object();
  io::Json loss = io::Json::object(), smplify = io::Json::object();
  for (const Field& f : fields()) {
    std::string key = f.key;
    if (key.rfind("loss.", 0) == 0)
      loss.set(key.substr(5), f.get(c));
    else if (key.rfind("smplify.", 0) == 0)
      smplify.set(key.substr(8), f.get(c));
    else
      out.set(key, f.get(c));
  }
  auto dataset_json = [](const DatasetSpec& d) {
    io::Json j = io::Json::object();
    j.set("name", d.name);
    j.set("npz", d.npz);
    j.set("image_root", d.image_root);
    j.set("probability", d.probability);
    return j;
  };
  io::Json ds = io::Json::array();
  for (const DatasetSpec& d : c.datasets) ds.push_back(dataset_json(d));
  out.set("datasets", ds);
  out.set("eval_dataset", c.eval_dataset.npz.empty() ? io::Json() : dataset_json(c.eval_dataset));
  out.set("loss", loss);
  out.set("smplify", smplify);
  return out;
}

}  // namespace hmr::train
