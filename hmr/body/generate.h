// The embedded default body model: a procedurally generated human body in exactly SMPL's
// layout (24 joints in SMPL's order and tree, y up, facing +z, the body's left at +x, metres),
// so that every method runs without the licensed SMPL files. Deterministic: the same build
// gives the same arrays on every run. How it is made (docs/body_model.md has the long form):
//   1. the surface: a smooth union of tapered capsules and ellipsoids around a designed
//      skeleton, meshed by marching tetrahedra, decimated to exactly the target vertex count
//      (a closed genus-0 surface: 6890 vertices -> 13776 faces, as SMPL), relaxed;
//   2. skinning weights from normalised distances to the 24 bones, blended across joints;
//      part labels are their argmax; the joint regressor averages a ring of vertices around
//      each joint, so the kinematic joints are J_regressor @ v_template as in SMPL;
//   3. 10 shape blend shapes (stature, girth, leg length, arm length, shoulder width, hip
//      width, belly, head size, torso length, limb thickness; one unit ~ one standard
//      deviation), pose blend shapes that swell a bending joint (volume loss of linear blend
//      skinning), and SPIN's extra regressors / vertex joints / mean parameters.
#pragma once

#include <cstdint>
#include <string>

#include "hmr/body/model_data.h"

namespace hmr::body {

enum class BodySize { Full, Small };
const char* body_size_name(BodySize size);               // "full", "small"
BodySize parse_body_size(const std::string& name);       // ValueError for anything else
int64_t generated_vertex_count(BodySize size);           // 6890, 690

// Builds the model (about a second for Full on one core). kind is "generated".
BodyModelData generate_body_model(BodySize size = BodySize::Full);

// The generated model, made once per process (thread-safe) and then shared.
const BodyModelData& default_body_model(BodySize size = BodySize::Full);

// What a --model option names: "" / "generated" / "generated:full" -> the generated full
// model, "generated:small" -> the small one, anything else a file for load_body_model.
BodyModelData resolve_body_model(const std::string& spec);

// SMPL's joint positions as designed before regression (the generated model's joints are
// J_regressor @ v_template, within about a centimetre of these). (24 x 3, row-major.)
const double* designed_joints();

}  // namespace hmr::body
