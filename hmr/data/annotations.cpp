// Readers and the writer for dataset annotation files (see annotations.h). The .npz reader
// walks the archive itself because image names are numpy '<U' string arrays, which a
// TensorDict cannot hold.
#include "hmr/data/annotations.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "io/npy.h"
#include "io/zip.h"

namespace hmr::data {

namespace {

constexpr int64_t kOpenPoseJoints = 25;
constexpr int64_t kCocoJoints = 17;

const char* const kStringKeys[] = {"imgname", "gender", "maskname", "partname"};

// Templates over const and non-const DatasetAnnotations: the key -> member maps exist once.
template <class A>
auto string_field(A& a, const std::string& key) -> decltype(&a.imgname) {
  if (key == "imgname") return &a.imgname;
  if (key == "gender") return &a.gender;
  if (key == "maskname") return &a.maskname;
  if (key == "partname") return &a.partname;
  return nullptr;
}

template <class A>
auto numeric_field(A& a, const std::string& key) -> decltype(&a.center) {
  if (key == "center") return &a.center;
  if (key == "scale") return &a.scale;
  return nullptr;
}

template <class A>
auto optional_field(A& a, const std::string& key) -> decltype(&a.part) {
  if (key == "part") return &a.part;
  if (key == "openpose") return &a.openpose;
  if (key == "S") return &a.S;
  if (key == "pose") return &a.pose;
  if (key == "shape") return &a.shape;
  if (key == "has_smpl") return &a.has_smpl;
  return nullptr;
}

const Tensor* numeric_value(const DatasetAnnotations& a, const std::string& key) {
  if (const Tensor* t = numeric_field(a, key)) return t->defined() ? t : nullptr;
  const std::optional<Tensor>* o = optional_field(a, key);
  return o && o->has_value() ? &**o : nullptr;
}

void check_image_files(const DatasetAnnotations& a, const std::string& image_root, const std::string& label) {
  std::vector<std::string> missing;
  size_t count = 0;
  for (const std::string& name : a.imgname) {
    if (std::filesystem::exists(std::filesystem::path(image_root) / name)) continue;
    ++count;
    if (missing.size() < 3) missing.push_back(name);
  }
  if (count == 0) return;
  std::string first;
  for (const std::string& m : missing) first += (first.empty() ? "" : ", ") + m;
  HMR_CHECK(false, IOError, "load_dataset_npz: '", label, "': ", count, " of ", a.size(),
            " images are missing under '", image_root, "' (first: ", first, ")");
}

}  // namespace

const std::vector<AnnotationKey>& annotation_keys() {
  static const std::vector<AnnotationKey> keys = {
      {"center", {2}}, {"scale", {}},  {"part", {24, 3}}, {"openpose", {kOpenPoseJoints, 3}},
      {"S", {24, 4}},  {"pose", {72}}, {"shape", {10}},   {"has_smpl", {}},
  };
  return keys;
}

void validate_annotations(const DatasetAnnotations& a, const std::string& label) {
  const int64_t n = a.size();
  HMR_CHECK(a.center.defined() && a.scale.defined(), ValueError, "dataset annotations '", label,
            "': the required keys imgname, center and scale must all be present");
  for (const AnnotationKey& key : annotation_keys()) {
    const Tensor* t = numeric_value(a, key.name);
    if (!t) continue;
    Shape want = {n};
    want.insert(want.end(), key.row_shape.begin(), key.row_shape.end());
    HMR_CHECK(t->sizes() == want, ShapeError, "dataset annotations '", label, "': key '", key.name,
              "' should have shape ", want, " (N = ", n, " image names) but has ", t->sizes());
  }
  for (const auto& [key, t] : a.extra) {
    HMR_CHECK(t.dim() >= 1 && t.size(0) == n, ShapeError, "dataset annotations '", label, "': key '", key,
              "' should have N = ", n, " rows but has shape ", t.sizes());
  }
  for (const char* key : kStringKeys) {
    auto* v = string_field(a, key);
    HMR_CHECK(v->empty() || static_cast<int64_t>(v->size()) == n, ShapeError, "dataset annotations '", label,
              "': key '", key, "' should have ", n, " entries but has ", v->size());
  }
}

DatasetAnnotations load_dataset_npz(const std::string& path, const std::string& image_root,
                                    bool check_images) {
  io::ZipReader zip = io::ZipReader::open(path);
  DatasetAnnotations a;
  bool has_imgname = false;
  for (const io::ZipEntry& e : zip.entries()) {
    std::vector<uint8_t> bytes = zip.read(e);
    std::string key = e.name.size() > 4 && e.name.substr(e.name.size() - 4) == ".npy"
                          ? e.name.substr(0, e.name.size() - 4)
                          : e.name;
    std::string member = str(path, " member ", e.name);
    if (io::npy_is_string_array(bytes.data(), bytes.size(), member)) {
      io::NpyStrings s = io::npy_strings_from_bytes(bytes.data(), bytes.size(), member);
      std::vector<std::string>* field = string_field(a, key);
      if (!field) continue;  // unknown string arrays carry nothing we use
      HMR_CHECK(s.shape.size() == 1, ShapeError, "load_dataset_npz: '", path, "': key '", key,
                "' should have shape [N] but has ", s.shape);
      *field = std::move(s.values);
      has_imgname |= key == "imgname";
      continue;
    }
    Tensor t = io::npy_from_bytes(bytes.data(), bytes.size(), member);
    HMR_CHECK(!string_field(a, key), IOError, "load_dataset_npz: '", path, "': key '", key,
              "' should be a string array but holds ", t.dtype());
    if (Tensor* f = numeric_field(a, key)) {
      *f = t.to(DType::F32);
    } else if (std::optional<Tensor>* o = optional_field(a, key)) {
      *o = t.to(DType::F32);
    } else {
      a.extra.set(key, t);
    }
  }
  std::string missing;
  if (!has_imgname) missing += " imgname";
  if (!a.center.defined()) missing += " center";
  if (!a.scale.defined()) missing += " scale";
  HMR_CHECK(missing.empty(), IOError, "load_dataset_npz: '", path, "' lacks the required key(s)", missing);
  validate_annotations(a, path);
  if (check_images) check_image_files(a, image_root, path);
  return a;
}

void save_dataset_npz(const std::string& path, const DatasetAnnotations& a) {
  validate_annotations(a, path);
  io::ZipWriter zip(path);
  auto add_strings = [&](const char* key, const std::vector<std::string>& values) {
    if (values.empty() && std::string(key) != "imgname") return;
    std::vector<uint8_t> b = io::npy_strings_to_bytes({{static_cast<int64_t>(values.size())}, values});
    zip.add(std::string(key) + ".npy", b.data(), b.size());
  };
  auto add_tensor = [&](const std::string& key, const Tensor& t) {
    std::vector<uint8_t> b = io::npy_to_bytes(t);
    zip.add(key + ".npy", b.data(), b.size());
  };
  add_strings("imgname", a.imgname);
  for (const AnnotationKey& key : annotation_keys())
    if (const Tensor* t = numeric_value(a, key.name)) add_tensor(key.name, t->to(DType::F32));
  add_strings("gender", a.gender);
  add_strings("maskname", a.maskname);
  add_strings("partname", a.partname);
  for (const auto& [key, t] : a.extra) add_tensor(key, t);
  zip.close();
}

const std::vector<DatasetFile>& dataset_files() {
  // SPIN's config.py DATASET_FILES: index 0 is the evaluation split, index 1 training.
  static const std::vector<DatasetFile> files = {
      {"h36m-p1", "test", "h36m_valid_protocol1.npz"},
      {"h36m-p2", "test", "h36m_valid_protocol2.npz"},
      {"lsp", "test", "lsp_dataset_test.npz"},
      {"mpi-inf-3dhp", "test", "mpi_inf_3dhp_valid.npz"},
      {"3dpw", "test", "3dpw_test.npz"},
      {"h36m", "train", "h36m_train.npz"},
      {"lsp-orig", "train", "lsp_dataset_original_train.npz"},
      {"mpii", "train", "mpii_train.npz"},
      {"coco", "train", "coco_2014_train.npz"},
      {"lspet", "train", "hr-lspet_train.npz"},
      {"mpi-inf-3dhp", "train", "mpi_inf_3dhp_train.npz"},
  };
  return files;
}

const DatasetFile& find_dataset_file(const std::string& name, const std::string& split) {
  std::string known;
  for (const DatasetFile& f : dataset_files()) {
    if (name == f.name && split == f.split) return f;
    known += str(known.empty() ? "" : ", ", f.name, "/", f.split);
  }
  HMR_CHECK(false, ValueError, "find_dataset_file: no dataset '", name, "' with split '", split,
            "'; known: ", known);
  return dataset_files().front();
}

Tensor openpose_keypoints(const io::Json& doc, const std::string& label) {
  const io::Json& people = doc.at("people");
  HMR_CHECK(people.is_array(), IOError, "openpose: '", label, "': 'people' should be an array but is ",
            io::json_type_name(people.type()));
  std::vector<float> values;
  for (size_t k = 0; k < people.size(); ++k) {
    const io::Json& kp = people[k].at("pose_keypoints_2d");
    HMR_CHECK(kp.is_array() && kp.size() == static_cast<size_t>(kOpenPoseJoints * 3), IOError, "openpose: '",
              label, "': people[", k, "].pose_keypoints_2d should hold ", kOpenPoseJoints * 3,
              " numbers (BODY_25) but holds ", kp.is_array() ? kp.size() : 0);
    for (size_t i = 0; i < kp.size(); ++i) values.push_back(static_cast<float>(kp[i].as_double()));
  }
  return Tensor::from_vector(values, {static_cast<int64_t>(people.size()), kOpenPoseJoints, 3});
}

Tensor load_openpose_json(const std::string& path) { return openpose_keypoints(io::load_json(path), path); }

namespace {

std::vector<double> numbers(const io::Json& array) {
  std::vector<double> out;
  for (size_t i = 0; i < array.size(); ++i) out.push_back(array[i].as_double());
  return out;
}

CocoRle parse_rle(const io::Json& seg, const std::string& label) {
  CocoRle rle;
  const io::Json& size = seg.at("size");
  HMR_CHECK(size.is_array() && size.size() == 2, IOError, "coco: '", label, "': RLE size should be [h, w]");
  rle.height = size[0].as_int();
  rle.width = size[1].as_int();
  const io::Json& counts = seg.at("counts");
  if (counts.is_string()) {
    rle.counts = decode_rle_string(counts.as_string());
  } else {
    for (size_t i = 0; i < counts.size(); ++i) rle.counts.push_back(counts[i].as_int());
  }
  return rle;
}

CocoAnnotation parse_annotation(const io::Json& j, const std::string& label) {
  CocoAnnotation a;
  a.id = j.at("id").as_int();
  a.image_id = j.at("image_id").as_int();
  if (const io::Json* c = j.find("category_id")) a.category_id = c->as_int();
  if (const io::Json* c = j.find("iscrowd")) a.iscrowd = c->as_int() != 0;
  if (const io::Json* c = j.find("area")) a.area = c->as_double();
  if (const io::Json* b = j.find("bbox")) {
    a.bbox = numbers(*b);
    HMR_CHECK(a.bbox.size() == 4, IOError, "coco: '", label, "': annotation ", a.id,
              " bbox should hold 4 numbers but holds ", a.bbox.size());
  }
  if (const io::Json* k = j.find("keypoints")) {
    std::vector<double> kp = numbers(*k);
    HMR_CHECK(kp.size() == static_cast<size_t>(kCocoJoints * 3), IOError, "coco: '", label, "': annotation ",
              a.id, " keypoints should hold ", kCocoJoints * 3, " numbers but holds ", kp.size());
    a.keypoints = Tensor::from_vector(std::vector<float>(kp.begin(), kp.end()), {kCocoJoints, 3});
  }
  if (const io::Json* s = j.find("segmentation")) {
    if (s->is_object()) {
      a.rle = parse_rle(*s, label);
    } else {
      for (size_t i = 0; i < s->size(); ++i) a.polygons.push_back(numbers((*s)[i]));
    }
  }
  return a;
}

}  // namespace

CocoDataset parse_coco(const io::Json& doc, const std::string& label) {
  CocoDataset d;
  if (const io::Json* images = doc.find("images")) {
    for (size_t i = 0; i < images->size(); ++i) {
      const io::Json& j = (*images)[i];
      CocoImage im;
      im.id = j.at("id").as_int();
      im.file_name = j.at("file_name").as_string();
      if (const io::Json* w = j.find("width")) im.width = w->as_int();
      if (const io::Json* h = j.find("height")) im.height = h->as_int();
      d.images.push_back(im);
    }
  }
  const io::Json& anns = doc.at("annotations");
  for (size_t i = 0; i < anns.size(); ++i) d.annotations.push_back(parse_annotation(anns[i], label));
  return d;
}

CocoDataset load_coco_json(const std::string& path) { return parse_coco(io::load_json(path), path); }

Tensor rasterize_polygons(const std::vector<std::vector<double>>& polygons, int64_t height, int64_t width) {
  HMR_CHECK(height >= 0 && width >= 0, ValueError, "rasterize_polygons: bad size ", height, "x", width);
  std::vector<uint8_t> mask(static_cast<size_t>(height * width), 0);
  for (const std::vector<double>& poly : polygons) {
    HMR_CHECK(poly.size() % 2 == 0 && poly.size() >= 6, ValueError,
              "rasterize_polygons: a polygon needs an even count of at least 6 coordinates, got ",
              poly.size());
    size_t n = poly.size() / 2;
    // Scanline: for each row centre, the crossings of the edges, then fill between pairs.
    for (int64_t y = 0; y < height; ++y) {
      double cy = static_cast<double>(y) + 0.5;
      std::vector<double> xs;
      for (size_t i = 0, j = n - 1; i < n; j = i++) {
        double x0 = poly[2 * j], y0 = poly[2 * j + 1], x1 = poly[2 * i], y1 = poly[2 * i + 1];
        if ((y0 <= cy) == (y1 <= cy)) continue;  // half-open so a vertex on the line counts once
        xs.push_back(x0 + (cy - y0) * (x1 - x0) / (y1 - y0));
      }
      std::sort(xs.begin(), xs.end());
      for (size_t k = 0; k + 1 < xs.size(); k += 2) {
        // pixels whose centre x + 0.5 lies in [xs[k], xs[k+1])
        auto first = static_cast<int64_t>(std::ceil(xs[k] - 0.5));
        auto last = static_cast<int64_t>(std::ceil(xs[k + 1] - 0.5)) - 1;
        for (int64_t x = std::max<int64_t>(first, 0); x <= std::min(last, width - 1); ++x)
          mask[static_cast<size_t>(y * width + x)] ^= 1;
      }
    }
  }
  return Tensor::from_vector(mask, {height, width});
}

Tensor decode_rle(const CocoRle& rle) {
  HMR_CHECK(rle.height >= 0 && rle.width >= 0, ValueError, "decode_rle: bad size ", rle.height, "x",
            rle.width);
  const int64_t total = rle.height * rle.width;
  std::vector<uint8_t> column_major(static_cast<size_t>(total), 0);
  int64_t pos = 0;
  for (size_t i = 0; i < rle.counts.size(); ++i) {
    int64_t run = rle.counts[i];
    HMR_CHECK(run >= 0 && run <= total - pos, ValueError, "decode_rle: run ", i, " of length ", run,
              " overflows the ", rle.height, "x", rle.width, " mask at pixel ", pos);
    if (i % 2 == 1) std::fill_n(column_major.begin() + pos, run, uint8_t{1});
    pos += run;
  }
  HMR_CHECK(pos == total, ValueError, "decode_rle: runs cover ", pos, " pixels but the mask has ", total);
  // COCO counts run down the columns (Fortran order); ours is row-major.
  std::vector<uint8_t> mask(static_cast<size_t>(total));
  for (int64_t y = 0; y < rle.height; ++y)
    for (int64_t x = 0; x < rle.width; ++x) mask[y * rle.width + x] = column_major[x * rle.height + y];
  return Tensor::from_vector(mask, {rle.height, rle.width});
}

std::vector<int64_t> decode_rle_string(const std::string& counts) {
  std::vector<int64_t> out;
  size_t p = 0;
  while (p < counts.size()) {
    int64_t x = 0;
    int shift = 0;
    bool more = true;
    while (more) {
      HMR_CHECK(p < counts.size() && shift < 60, ValueError,
                "decode_rle_string: truncated or corrupt counts '", counts.substr(0, 40), "'");
      int c = static_cast<unsigned char>(counts[p++]) - 48;
      HMR_CHECK(c >= 0 && c < 64, ValueError, "decode_rle_string: byte outside the 48..111 alphabet in '",
                counts.substr(0, 40), "'");
      x |= static_cast<int64_t>(c & 0x1f) << shift;
      more = (c & 0x20) != 0;
      shift += 5;
      // The last group's bit 4 is the sign: extend it.
      if (!more && (c & 0x10)) x |= -(int64_t{1} << shift);
    }
    // From the third run on, each is stored as the difference to the run two before it.
    if (out.size() > 2) x += out[out.size() - 2];
    out.push_back(x);
  }
  return out;
}

Tensor annotation_mask(const CocoAnnotation& a, int64_t height, int64_t width) {
  if (!a.rle) return rasterize_polygons(a.polygons, height, width);
  HMR_CHECK(a.rle->height == height && a.rle->width == width, ShapeError, "annotation_mask: annotation ",
            a.id, " has an RLE of ", a.rle->height, "x", a.rle->width, " but the image is ", height, "x",
            width);
  return decode_rle(*a.rle);
}

}  // namespace hmr::data
