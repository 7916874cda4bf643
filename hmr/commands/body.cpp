// `hmr body generate|info|forward`: make the embedded body model, describe any body model
// file, and run the SMPL forward on parameters from an .npz (vertices, joints, optional OBJ).
#include <cmath>
#include <iomanip>
#include <sstream>

#include "autograd/ops.h"
#include "hmr/body/body_model.h"
#include "hmr/body/generate.h"
#include "hmr/commands/commands.h"
#include "hmr/render/shading.h"
#include "io/mesh.h"
#include "io/npy.h"

namespace hmr::cli {
namespace {

std::string shape_str(const Tensor& t) {
  std::ostringstream os;
  os << "(";
  for (int64_t d = 0; d < t.dim(); ++d) os << (d ? ", " : "") << t.size(d);
  os << ")";
  return os.str();
}

int generate(const Args& args, Streams& io) {
  const std::string out = args.get("out");
  HMR_CHECK(!out.empty(), cli::UsageError, "hmr body generate: --out F.npz is required");
  const body::BodySize size = body::parse_body_size(args.get("size"));
  const auto start = std::chrono::steady_clock::now();
  const body::BodyModelData data = body::generate_body_model(size);
  body::save_body_model_npz(out, data);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  io.out << "wrote " << out << ": generated body (" << body::body_size_name(size) << "), "
         << data.num_vertices() << " vertices, " << data.num_faces() << " faces, " << data.num_joints()
         << " joints, " << data.num_betas() << " betas, in " << std::fixed << std::setprecision(1) << secs << " s\n";
  return kExitOk;
}

int info(const Args& args, Streams& io) {
  const body::BodyModelData data = body::resolve_body_model(args.get("model"));
  io.out << "body model: " << (data.path.empty() ? "(generated in memory)" : data.path) << "\n"
         << "kind: " << data.kind << "\n"
         << "vertices: " << data.num_vertices() << "\nfaces: " << data.num_faces() << "\njoints: " << data.num_joints()
         << "\nbetas: " << data.num_betas() << "\npose blend inputs: " << data.posedirs.size(2) << "\n";
  const double* v = data.v_template.data<double>();
  double lo = 1e300, hi = -1e300;
  for (int64_t i = 0; i < data.num_vertices(); ++i) lo = std::min(lo, v[3 * i + 1]), hi = std::max(hi, v[3 * i + 1]);
  io.out << "template height: " << std::fixed << std::setprecision(3) << (hi - lo) << " m\n";
  io.out << "optional arrays:";
  bool any = false;
  for (const auto& [name, t] : {std::pair<const char*, const Tensor*>{"part_labels", &data.part_labels},
                                {"J_regressor_extra", &data.J_regressor_extra},
                                {"J_regressor_h36m", &data.J_regressor_h36m},
                                {"vertex_joint_ids", &data.vertex_joint_ids},
                                {"mean_pose", &data.mean_pose},
                                {"mean_shape", &data.mean_shape},
                                {"mean_cam", &data.mean_cam}})
    if (t->defined()) {
      io.out << " " << name << shape_str(*t);
      any = true;
    }
  io.out << (any ? "\n" : " none\n");
  // The kinematic tree with the rest joints (J_regressor @ v_template).
  const Tensor rest = matmul(data.J_regressor, data.v_template).contiguous();
  const int64_t* parents = data.parents.data<int64_t>();
  io.out << "joint  name               parent   rest position (m)\n";
  for (int64_t j = 0; j < data.num_joints(); ++j) {
    const std::string name = data.num_joints() == body::kSmplJoints ? body::kSmplJointNames[j] : "joint" + std::to_string(j);
    io.out << std::setw(5) << j << "  " << std::left << std::setw(18) << name << std::right << std::setw(7)
           << (parents[j] < 0 ? std::string("-") : std::to_string(parents[j])) << "   " << std::showpos << std::setprecision(3)
           << rest.data<double>()[3 * j] << " " << rest.data<double>()[3 * j + 1] << " " << rest.data<double>()[3 * j + 2]
           << std::noshowpos << "\n";
  }
  return kExitOk;
}

Tensor required(const TensorDict& d, const std::string& key, const std::string& path) {
  HMR_CHECK(d.contains(key), ValueError, "hmr body forward: '", path, "' has no '", key, "' array (found: ",
            d.keys(), ")");
  return d.at(key);
}

// One file per batch element: name.ext for a batch of one, else name_0.ext, name_1.ext, ...
std::string per_item(const std::string& path, int64_t b, int64_t batch) {
  if (batch == 1) return path;
  const size_t dot = path.rfind('.');
  const std::string stem = dot == std::string::npos ? path : path.substr(0, dot);
  return stem + "_" + std::to_string(b) + (dot == std::string::npos ? "" : path.substr(dot));
}

// A picture of one posed body: SMPL's frame (y up, facing +z) turned by pi about x into the
// camera's (y down, z forward), centred 4 m in front of a 512 x 512 camera with a 1000 px focal
// length (1.8 m fill ~85% of the height), coloured by body part when the model has labels.
void write_png(const std::string& path, const Tensor& vertices, const body::BodyModelData& data) {
  Tensor v = vertices.to(DType::F64).contiguous();
  const int64_t n = v.size(0);
  std::vector<double> cam(static_cast<size_t>(n * 3));
  double centre[3] = {0, 0, 0};
  const double* p = v.data<double>();
  for (int64_t i = 0; i < n; ++i)
    for (int c = 0; c < 3; ++c) centre[c] += p[3 * i + c] / static_cast<double>(n);
  for (int64_t i = 0; i < n; ++i) {
    cam[static_cast<size_t>(3 * i)] = p[3 * i] - centre[0];
    cam[static_cast<size_t>(3 * i + 1)] = -(p[3 * i + 1] - centre[1]);
    cam[static_cast<size_t>(3 * i + 2)] = -(p[3 * i + 2] - centre[2]) + 4.0;
  }
  render::Camera camera;
  camera.fx = camera.fy = 1000;
  camera.cx = camera.cy = 256;
  camera.height = camera.width = 512;
  const Tensor colors = data.part_labels.defined() ? render::label_colors(data.part_labels) : Tensor();
  render::write_front_and_side_png(path, Tensor::from_vector(cam, {n, 3}), data.faces, camera, Tensor(), colors);
}

int forward(const Args& args, Streams& io) {
  const std::string params_path = args.get("params"), out = args.get("out");
  HMR_CHECK(!params_path.empty(), cli::UsageError, "hmr body forward: --params P.npz is required");
  HMR_CHECK(!out.empty(), cli::UsageError, "hmr body forward: --out O.npz is required");
  const body::BodyModelData data = body::resolve_body_model(args.get("model"));
  const TensorDict params = io::load_npz(params_path);
  const Tensor betas = required(params, "betas", params_path).to(DType::F64);
  const Tensor pose = required(params, "pose", params_path).to(DType::F64);
  const Tensor transl = params.contains("transl") ? params.at("transl").to(DType::F64) : Tensor();
  HMR_CHECK(betas.dim() == 2 && pose.dim() == 2 && pose.size(1) == 3 * data.num_joints() && betas.size(0) == pose.size(0),
            ValueError, "hmr body forward: expected betas (B, n) and pose (B, ", 3 * data.num_joints(),
            ") axis-angle, found betas ", betas.sizes(), " and pose ", pose.sizes());
  body::BodyModel model(data, DType::F64);
  const body::BodyOutput result = model.forward(betas, pose, transl);
  TensorDict saved;
  saved.set("vertices", result.vertices.to(DType::F32).contiguous());
  saved.set("joints", result.joints.to(DType::F32).contiguous());
  io::save_npz(out, saved);
  const int64_t batch = betas.size(0);
  io.out << "wrote " << out << ": vertices (" << batch << ", " << data.num_vertices() << ", 3), joints (" << batch
         << ", " << data.num_joints() << ", 3)\n";
  const std::string obj = args.get("obj"), png = args.get("png");
  for (int64_t b = 0; b < batch; ++b) {
    const Tensor verts = result.vertices.select(0, b).contiguous();
    if (!obj.empty()) {
      io::save_obj(per_item(obj, b, batch), verts, data.faces);
      io.out << "wrote " << per_item(obj, b, batch) << "\n";
    }
    if (!png.empty()) {
      write_png(per_item(png, b, batch), verts, data);
      io.out << "wrote " << per_item(png, b, batch) << "\n";
    }
  }
  return kExitOk;
}

}  // namespace

Command body_command() {
  Command c;
  c.name = "body";
  c.summary = "generate, describe or run a body model (generate | info | forward)";
  c.description =
      "hmr body generate --out F.npz [--size full|small]\n"
      "    writes the embedded procedural body model (SMPL layout: 24 joints, 6890 vertices at\n"
      "    full size, 690 small) as an .npz that every --model option accepts.\n"
      "hmr body info [--model M]\n"
      "    counts, file kind, optional arrays and the kinematic tree of a model: SMPL's .pkl,\n"
      "    smplx's .npz, our .npz, or 'generated' / 'generated:small' (the default).\n"
      "hmr body forward --params P.npz --out O.npz [--model M] [--obj mesh.obj] [--png view.png]\n"
      "    P.npz holds betas (B, n), pose (B, 72) axis-angle and optionally transl (B, 3); O.npz\n"
      "    receives vertices (B, V, 3) and joints (B, 24, 3) (float32); --obj writes the meshes, --png draws them.";
  c.options = {
      {"model", "M", "body model file, or generated / generated:small", "generated"},
      {"size", "S", "generate: full (6890 vertices) or small (690)", "full"},
      {"out", "F", "output .npz", ""},
      {"params", "P", "forward: .npz with betas, pose and optional transl", ""},
      {"obj", "F", "forward: also write the mesh(es) as OBJ", ""},
      {"png", "F", "forward: also draw the mesh(es), front and side, coloured by part", ""},
  };
  c.takes_positional = true;
  c.run = [](const Args& args, Streams& io) {
    const auto& pos = args.positional();
    HMR_CHECK(pos.size() == 1, cli::UsageError, "hmr body: expected one action (generate, info or forward), found ",
              pos.size());
    if (pos[0] == "generate") return generate(args, io);
    if (pos[0] == "info") return info(args, io);
    if (pos[0] == "forward") return forward(args, io);
    HMR_CHECK(false, cli::UsageError, "hmr body: unknown action '", pos[0], "' (expected generate, info or forward)");
    return kExitUsage;
  };
  return c;
}

}  // namespace hmr::cli
