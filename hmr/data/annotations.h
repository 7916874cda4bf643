// Annotation files of the real datasets: the preprocessed .npz files of SPIN/ProHMR/PyMAF
// (one row per person crop), OpenPose keypoint JSON and COCO-style JSON. Everything is checked
// when the file is opened, so a bad key, shape or missing image fails before training starts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "io/json.h"
#include "tensor/tensor.h"
#include "tensor/tensor_dict.h"

namespace hmr::data {

// SPIN's .npz layout. N rows; numeric arrays load as f32 whatever numpy stored. Only imgname,
// center and scale are required; an absent optional array stays empty / nullopt.
struct DatasetAnnotations {
  std::vector<std::string> imgname;   // (N,) paths relative to the image root
  Tensor center;                      // (N, 2) box centre in pixels
  Tensor scale;                       // (N,) box side / 200 px
  std::optional<Tensor> part;         // (N, 24, 3) 2D joints x, y, visibility
  std::optional<Tensor> openpose;     // (N, 25, 3) detector keypoints x, y, confidence
  std::optional<Tensor> S;            // (N, 24, 4) 3D joints x, y, z, visibility
  std::optional<Tensor> pose;         // (N, 72) SMPL axis-angle
  std::optional<Tensor> shape;        // (N, 10) SMPL betas
  std::optional<Tensor> has_smpl;     // (N,) 1 where pose/shape are ground truth
  std::vector<std::string> gender;    // (N,) 'm' / 'f', or empty
  std::vector<std::string> maskname;  // (N,) or empty
  std::vector<std::string> partname;  // (N,) or empty
  TensorDict extra;                   // other numeric arrays, unchecked, as stored

  int64_t size() const { return static_cast<int64_t>(imgname.size()); }
};

// The per-row shape (after the leading N) of every key above; numeric keys only.
struct AnnotationKey {
  const char* name;
  std::vector<int64_t> row_shape;
};
const std::vector<AnnotationKey>& annotation_keys();

// Reads path and checks it: required keys present, every known array N rows with the row
// shape above (ShapeError naming key, expected and found), string keys are string arrays.
// check_images: every image_root/imgname[i] exists (IOError with the count and the first few).
DatasetAnnotations load_dataset_npz(const std::string& path, const std::string& image_root,
                                    bool check_images = true);
// Writes the layout back ('<U' string arrays, f32 numbers) after the same checks.
void save_dataset_npz(const std::string& path, const DatasetAnnotations& a);
// The shape checks alone; label names the source in errors.
void validate_annotations(const DatasetAnnotations& a, const std::string& label);

// The dataset names and annotation files of SPIN's config (DATASET_FILES), so a command can
// take "3dpw" and find "3dpw_test.npz" in the annotation folder.
struct DatasetFile {
  const char* name;   // e.g. "h36m", "3dpw", "mpi-inf-3dhp"
  const char* split;  // "train" or "test"
  const char* file;   // e.g. "h36m_train.npz"
};
const std::vector<DatasetFile>& dataset_files();
// ValueError listing the known names when (name, split) is not in the table.
const DatasetFile& find_dataset_file(const std::string& name, const std::string& split);

// OpenPose's per-frame JSON: people[k].pose_keypoints_2d, 75 floats (BODY_25) -> (K, 25, 3) f32.
Tensor openpose_keypoints(const io::Json& doc, const std::string& label);
Tensor load_openpose_json(const std::string& path);

// COCO instance annotations (person keypoints file layout).
struct CocoImage {
  int64_t id = 0;
  std::string file_name;
  int64_t width = 0, height = 0;
};
struct CocoRle {
  std::vector<int64_t> counts;  // alternating runs of 0s and 1s, column-major, starting with 0s
  int64_t height = 0, width = 0;
};
struct CocoAnnotation {
  int64_t id = 0, image_id = 0, category_id = 0;
  bool iscrowd = false;
  double area = 0;
  std::vector<double> bbox;                   // x, y, w, h; empty when absent
  std::optional<Tensor> keypoints;            // (17, 3) f32 x, y, v
  std::vector<std::vector<double>> polygons;  // each x0, y0, x1, y1, ...
  std::optional<CocoRle> rle;                 // crowd regions
};
struct CocoDataset {
  std::vector<CocoImage> images;
  std::vector<CocoAnnotation> annotations;
};
CocoDataset parse_coco(const io::Json& doc, const std::string& label);
CocoDataset load_coco_json(const std::string& path);

// Masks are u8 (H, W) with 1 inside. A pixel is inside a polygon when its centre
// (x + 0.5, y + 0.5) is, by the even-odd rule.
Tensor rasterize_polygons(const std::vector<std::vector<double>>& polygons, int64_t height, int64_t width);
Tensor decode_rle(const CocoRle& rle);
// pycocotools' compressed "counts" string (6-bit groups offset by 48, deltas from 2 runs back).
std::vector<int64_t> decode_rle_string(const std::string& counts);
// The instance's mask: its RLE if it has one, else its polygons.
Tensor annotation_mask(const CocoAnnotation& a, int64_t height, int64_t width);

}  // namespace hmr::data
