// Linear algebra ops: matmul (torch.matmul's 1-D/2-D/batched cases), mm, bmm, and the batched
// small-matrix ops inverse, det, solve and svd3x3, each with its backward beside it.
// Gradients of broadcast operands come back batch-shaped; the engine sums them to the input.
#include "kernels/linalg.h"

#include <algorithm>

#include "autograd/autocast.h"
#include "autograd/function.h"
#include "autograd/ops.h"
#include "kernels/plan.h"

namespace hmr {

namespace {

Shape batch_of(const Tensor& t) { return Shape(t.sizes().begin(), t.sizes().end() - 2); }

Shape concat(Shape head, std::initializer_list<int64_t> tail) {
  head.insert(head.end(), tail);
  return head;
}

// The matrix transpose of the last two dims, as an autograd view.
Tensor mT(const Tensor& t) { return transpose(t, -2, -1); }

// t seen with the given leading batch dims (a raw stride-0 view; autograd is recorded on t).
Tensor broadcast_batch(const Tensor& t, const Shape& batch, const char* op) {
  Shape sizes = concat(batch, {t.size(-2), t.size(-1)});
  if (t.sizes() == sizes) return t;
  return Tensor::make_view(t.storage(), sizes, kernels::broadcast_strides(t, sizes, op), t.offset(),
                           t.dtype());
}

void check_operands(const char* op, const Tensor& a, const Tensor& b) {
  HMR_CHECK(a.dtype() == b.dtype(), DTypeError, op, ": expected both operands of one dtype but found ",
            a.dtype(), " and ", b.dtype(), " (shapes ", a.sizes(), " and ", b.sizes(), ")");
  HMR_CHECK(a.device() == b.device(), DeviceError, op, ": expected both operands on one device but found ",
            a.device(), " and ", b.device());
  const DType t = a.dtype();
  HMR_CHECK(is_floating(t) || t == DType::I32 || t == DType::I64, DTypeError, op,
            ": expected a floating (or int32/int64) dtype but found ", t);
}

// a (..., m, k) @ b (..., k, n) with broadcast batch dims: the op every matmul case reduces to.
Tensor product(const char* op, const Tensor& a, const Tensor& b) {
  HMR_CHECK(a.size(-1) == b.size(-2), ShapeError, op, ": shapes ", a.sizes(), " and ", b.sizes(),
            " cannot be multiplied (", a.size(-1), " != ", b.size(-2), ")");
  Shape batch;
  try {
    batch = kernels::broadcast_shapes(batch_of(a), batch_of(b), op);
  } catch (const ShapeError&) {
    throw ShapeError(str(op, ": the batch dims of ", a.sizes(), " and ", b.sizes(), " cannot be broadcast"));
  }
  Tensor y = Tensor::empty(concat(batch, {a.size(-2), b.size(-1)}), a.dtype(), a.device());
  kernels::matmul(broadcast_batch(a, batch, op), broadcast_batch(b, batch, op), y);
  // Each gradient needs the other operand only.
  SavedTensor sa(b.requires_grad() ? a : Tensor(), "matmul self");
  SavedTensor sb(a.requires_grad() ? b : Tensor(), "matmul other");
  return record(op, {a, b}, y, [op, sa, sb](const Tensor& g) {
    Tensor self = sa.unpack(), other = sb.unpack();
    return std::vector<Tensor>{other.defined() ? product(op, g, mT(other)) : Tensor(),
                               self.defined() ? product(op, mT(self), g) : Tensor()};
  });
}

}  // namespace

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
  const Tensor a = autocast::to_lower(a_in), b = autocast::to_lower(b_in);
  HMR_CHECK(a.dim() >= 1 && b.dim() >= 1, ShapeError,
            "matmul: both operands need at least 1 dim but found shapes ", a.sizes(), " and ", b.sizes());
  check_operands("matmul", a, b);
  const int64_t k = a.size(-1), kb = b.dim() == 1 ? b.size(0) : b.size(-2);
  HMR_CHECK(k == kb, ShapeError, "matmul: shapes ", a.sizes(), " and ", b.sizes(), " cannot be multiplied (",
            k, " != ", kb, ")");
  if (a.dim() == 1 && b.dim() == 1) return reshape(product("matmul", unsqueeze(a, 0), unsqueeze(b, 1)), {});
  if (b.dim() == 1) return squeeze(matmul(a, unsqueeze(b, 1)), -1);
  if (a.dim() == 1) return squeeze(matmul(unsqueeze(a, 0), b), -2);
  if (a.dim() >= 3 && b.dim() == 2) {
    // (..., m, k) @ (k, n) is one (N, k) @ (k, n) product: one large GEMM instead of a batch,
    // and b's gradient becomes one GEMM over all rows instead of a batch and a reduction.
    Shape rows(a.sizes().begin(), a.sizes().end() - 1);
    Tensor y = product("matmul", reshape(a, {shape_numel(rows), k}), b);
    return reshape(y, concat(rows, {b.size(1)}));
  }
  return product("matmul", a, b);
}

Tensor mm(const Tensor& a_in, const Tensor& b_in) {
  const Tensor a = autocast::to_lower(a_in), b = autocast::to_lower(b_in);
  HMR_CHECK(a.dim() == 2 && b.dim() == 2, ShapeError, "mm: expected two 2-D tensors but found shapes ",
            a.sizes(), " and ", b.sizes());
  check_operands("mm", a, b);
  return product("mm", a, b);
}

Tensor bmm(const Tensor& a_in, const Tensor& b_in) {
  const Tensor a = autocast::to_lower(a_in), b = autocast::to_lower(b_in);
  HMR_CHECK(a.dim() == 3 && b.dim() == 3 && a.size(0) == b.size(0), ShapeError,
            "bmm: expected two 3-D tensors with one batch size but found shapes ", a.sizes(), " and ",
            b.sizes());
  check_operands("bmm", a, b);
  return product("bmm", a, b);
}

// ---- small matrices --------------------------------------------------------------------------

// d(A^-1) = -A^-1 dA A^-1, so dL/dA = -A^-T g A^-T.
Tensor inverse(const Tensor& a) {
  Tensor y = Tensor::empty(a.sizes(), a.dtype(), a.device());
  kernels::inverse(a, y);
  SavedTensor sy(y, "inverse result");
  return record("inverse", {a}, y, [sy](const Tensor& g) {
    Tensor yt = mT(sy.unpack());
    return std::vector<Tensor>{neg(matmul(matmul(yt, g), yt))};
  });
}

// d det(A) = det(A) tr(A^-1 dA), so dL/dA = g det(A) A^-T. At an exactly singular A this
// formula has no inverse to use: backward throws ValueError (torch falls back to an SVD there).
Tensor det(const Tensor& a) {
  HMR_CHECK(a.dim() >= 2, ShapeError,
            "det: expected a square matrix or a batch of them (..., n, n) but found shape ", a.sizes());
  Tensor y = Tensor::empty(batch_of(a), a.dtype(), a.device());
  kernels::det(a, y);
  SavedTensor sa(a, "det input"), sy(y, "det result");
  return record("det", {a}, y, [sa, sy](const Tensor& g) {
    Tensor scale = unsqueeze(unsqueeze(mul(g, sy.unpack()), -1), -1);
    Tensor inv;
    try {
      inv = inverse(sa.unpack());
    } catch (const ValueError& e) {
      throw ValueError(str("det: backward needs an invertible matrix; ", e.what()));
    }
    return std::vector<Tensor>{mul(scale, mT(inv))};
  });
}

// X = A^-1 B: dL/dB = A^-T g, dL/dA = -(A^-T g) X^T. B is a matrix (..., n, k), or a vector:
// (n,) or (..., n) when that is A's shape without its last dim (torch.linalg.solve's rule).
Tensor solve(const Tensor& a, const Tensor& b) {
  HMR_CHECK(a.dim() >= 2 && a.size(-1) == a.size(-2), ShapeError,
            "solve: expected a square matrix or a batch of them (..., n, n) but found shape ", a.sizes());
  HMR_CHECK(b.dim() >= 1, ShapeError, "solve: expected b with at least 1 dim but found shape ", b.sizes());
  const bool vector =
      b.dim() == 1 || (b.dim() == a.dim() - 1 && b.sizes() == Shape(a.sizes().begin(), a.sizes().end() - 1));
  if (vector) return squeeze(solve(a, unsqueeze(b, -1)), -1);
  HMR_CHECK(b.size(-2) == a.size(-1), ShapeError, "solve: a of shape ", a.sizes(), " needs b of shape (..., ",
            a.size(-1), ", k) but found ", b.sizes());
  check_operands("solve", a, b);
  Shape batch;
  try {
    batch = kernels::broadcast_shapes(batch_of(a), batch_of(b), "solve");
  } catch (const ShapeError&) {
    throw ShapeError(str("solve: the batch dims of ", a.sizes(), " and ", b.sizes(), " cannot be broadcast"));
  }
  Tensor x = Tensor::empty(concat(batch, {b.size(-2), b.size(-1)}), a.dtype(), a.device());
  kernels::solve(broadcast_batch(a, batch, "solve"), broadcast_batch(b, batch, "solve"), x);
  SavedTensor sa(a, "solve input"), sx(a.requires_grad() ? x : Tensor(), "solve result");
  return record("solve", {a, b}, x, [sa, sx](const Tensor& g) {
    Tensor gb = solve(mT(sa.unpack()), g);
    Tensor ga = sx.defined() ? neg(matmul(gb, mT(sx.unpack()))) : Tensor();
    return std::vector<Tensor>{ga, gb};
  });
}

// Backward of A = U S V^T (square, so U and V are complete and no projection terms appear):
//   dL/dA = U [diag(gS) + F o (X S) + F o (S Y)] V^T,   F_ij = 1 / (s_j^2 - s_i^2) (i != j),
//   X = U^T gU - gU^T U,  Y = V^T gV - gV^T V  (both skew-symmetric).
// Entry (i, j) of the F terms is (X_ij s_j + s_i Y_ij) / (s_j^2 - s_i^2), computed here as
//   (X + Y)_ij / (2 (s_j - s_i)) + (X - Y)_ij / (2 (s_j + s_i)),
// an identity that separates the two ways it can blow up. Repeated singular values
// (s_i == s_j exactly) make the singular vectors non-unique and the first part undefined; it is
// set to zero there. That is exact for any loss that does not depend on the arbitrary choice of
// basis (then X + Y vanishes at such (i, j); e.g. losses through U V^T with non-zero s, as in
// Procrustes), and for other losses the gradient is as meaningless as the vectors themselves.
// Computed singular values are never exactly equal, so "repeated" means closer than
// sqrt(eps) * s_max: dividing the rounding noise of X + Y by a tiny gap would otherwise swamp
// even the invariant losses. The second part's denominator (s_i + s_j, near 0 only when the
// rank is at most 1) is treated the same way.
SVD3 svd3x3(const Tensor& a) {
  HMR_CHECK(a.dim() >= 2 && a.size(-1) == 3 && a.size(-2) == 3, ShapeError,
            "svd3x3: expected a (..., 3, 3) tensor but found shape ", a.sizes());
  Tensor u = Tensor::empty(a.sizes(), a.dtype(), a.device());
  Tensor v = Tensor::empty(a.sizes(), a.dtype(), a.device());
  Tensor s = Tensor::empty(concat(batch_of(a), {3}), a.dtype(), a.device());
  kernels::svd3x3(a, u, s, v);
  SavedTensor su(u, "svd3x3 U"), ss(s, "svd3x3 S"), sv(v, "svd3x3 V");
  auto outs = record_multi("svd3x3", {a}, {u, s, v}, [su, ss, sv](const std::vector<Tensor>& grads) {
    const Tensor &gu = grads[0], &gs = grads[1], &gv = grads[2];
    Tensor U = su.unpack(), S = ss.unpack(), V = sv.unpack();
    Tensor inner;
    if (gs.defined()) inner = mul(unsqueeze(gs, -1), eye(3, std::nullopt, {S.dtype(), S.device()}));
    if (gu.defined() || gv.defined()) {
      Tensor x = gu.defined() ? sub(matmul(mT(U), gu), matmul(mT(gu), U)) : zeros_like(U);
      Tensor y = gv.defined() ? sub(matmul(mT(V), gv), matmul(mT(gv), V)) : zeros_like(V);
      // S is sorted, so S[..., 0] is the largest singular value.
      const double root_eps = S.dtype() == DType::F64 ? 1.4901161193847656e-08 : 3.4526698300124393e-04;
      Tensor tol = mul(unsqueeze(unsqueeze(select(S, -1, 0), -1), -1), root_eps);
      auto safe_reciprocal = [&tol](const Tensor& d) {
        return where(gt(abs(d), tol), reciprocal(d), Scalar(0.0));
      };
      Tensor s_row = unsqueeze(S, -2), s_col = unsqueeze(S, -1);  // [i][j] picks s_j and s_i
      Tensor f = add(mul(add(x, y), safe_reciprocal(mul(sub(s_row, s_col), 2.0))),
                     mul(sub(x, y), safe_reciprocal(mul(add(s_row, s_col), 2.0))));
      inner = inner.defined() ? add(inner, f) : f;
    }
    if (!inner.defined()) return std::vector<Tensor>{Tensor()};
    return std::vector<Tensor>{matmul(matmul(U, inner), mT(V))};
  });
  return {outs[0], outs[1], outs[2]};
}

}  // namespace hmr
