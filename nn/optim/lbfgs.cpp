// L-BFGS over the flattened parameters, following torch.optim.LBFGS's behaviour: the two-loop
// recursion over the last history_size curvature pairs (s, y) with the initial Hessian scaled by
// s'y / y'y, a first step of min(1, 1/|g|_1) * lr, and either fixed steps of lr or a line search
// satisfying the strong Wolfe conditions (bracketing by cubic interpolation, then zoom).
// Scalars (losses, dot products, step sizes) are kept as doubles on the host.
#include <algorithm>
#include <cmath>

#include "autograd/ops.h"
#include "nn/optim/optimizer.h"

namespace hmr::optim {

namespace {

double dot(const Tensor& a, const Tensor& b) { return sum(a * b).item<double>(); }
double max_abs(const Tensor& a) { return amax(abs(a)).item<double>(); }

// The minimiser of the cubic through (x1, f1) and (x2, f2) with slopes g1, g2, clamped to
// [lo, hi]; the midpoint when the cubic has no real minimiser.
double cubic_minimiser(double x1, double f1, double g1, double x2, double f2, double g2, double lo,
                       double hi) {
  const double d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2);
  const double d2_square = d1 * d1 - g1 * g2;
  if (d2_square < 0) return (lo + hi) / 2;
  const double d2 = std::sqrt(d2_square);
  const double x = x1 <= x2 ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
                            : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
  return std::min(std::max(x, lo), hi);
}
double cubic_minimiser(double x1, double f1, double g1, double x2, double f2, double g2) {
  return cubic_minimiser(x1, f1, g1, x2, f2, g2, std::min(x1, x2), std::max(x1, x2));
}

// One end of a line-search bracket: step t, loss, gradient and directional derivative.
struct Point {
  double t, f;
  Tensor g;
  double gtd;
};

}  // namespace

LBFGS::LBFGS(std::vector<Tensor> params, const LBFGSOptions& o)
    : Optimizer(std::vector<ParamGroup>{ParamGroup{std::move(params), {}}},
                Options{{"lr", o.lr},
                        {"max_iter", static_cast<double>(o.max_iter)},
                        {"max_eval", static_cast<double>(o.max_eval < 0 ? o.max_iter * 5 / 4 : o.max_eval)},
                        {"tolerance_grad", o.tolerance_grad},
                        {"tolerance_change", o.tolerance_change},
                        {"history_size", static_cast<double>(o.history_size)},
                        {"strong_wolfe", o.line_search_fn == "strong_wolfe" ? 1.0 : 0.0}},
                "LBFGS") {
  HMR_CHECK(o.line_search_fn.empty() || o.line_search_fn == "strong_wolfe", ValueError,
            "LBFGS: only the line search \"strong_wolfe\" is supported, got \"", o.line_search_fn, "\"");
  HMR_CHECK(o.lr >= 0 && o.max_iter > 0 && o.history_size > 0, ValueError, "LBFGS: invalid options (lr ",
            o.lr, ", max_iter ", o.max_iter, ", history_size ", o.history_size, ")");
  const Tensor& first = param_groups()[0].params.at(0);
  for (const Tensor& p : param_groups()[0].params)
    HMR_CHECK(p.device() == first.device() && p.dtype() == first.dtype(), ValueError,
              "LBFGS: all parameters must share one device and dtype (got ", first.dtype(), " on ",
              first.device(), " and ", p.dtype(), " on ", p.device(), ")");
}

std::vector<Optimizer::StateField> LBFGS::state_fields(const Options&) const {
  return {{"func_evals", true, false},
          {"n_iter", true, false},
          {"t", true, false},
          {"H_diag", true, false},
          {"prev_loss", true, false},
          {"d", false, false},
          {"prev_flat_grad", false, false},
          {"old_dirs", false, false},
          {"old_stps", false, false},
          {"ro", false, false}};
}

void LBFGS::update(const Options&, Tensor&, const Tensor&, ParamState&) {
  HMR_INTERNAL_CHECK(false, "LBFGS updates all parameters at once in step()");
}

Tensor LBFGS::gather_flat_grad() const {
  std::vector<Tensor> pieces;
  for (const Tensor& p : param_groups()[0].params) {
    Tensor g = p.grad();
    pieces.push_back(g.defined() ? g.reshape({-1}) : zeros({p.numel()}, {p.dtype(), p.device()}));
  }
  return cat(pieces, 0);
}

void LBFGS::add_to_params(double step_size, const Tensor& direction) {
  int64_t offset = 0;
  for (Tensor& p : param_groups()[0].params) {
    p.add_(direction.narrow(0, offset, p.numel()).view(p.sizes()), step_size);
    offset += p.numel();
  }
}

LBFGS::Evaluation LBFGS::evaluate_along(const std::function<Tensor()>& closure, const std::vector<Tensor>& x0,
                                        double t, const Tensor& d) {
  add_to_params(t, d);
  double loss;
  {
    EnableGradGuard grad_on;
    loss = closure().item<double>();
  }
  Tensor flat_grad = gather_flat_grad();
  std::vector<Tensor>& params = param_groups()[0].params;
  for (size_t i = 0; i < params.size(); ++i) params[i].copy_(x0[i]);
  return {loss, flat_grad};
}

LBFGS::LineSearchResult LBFGS::strong_wolfe(const std::function<Tensor()>& closure,
                                            const std::vector<Tensor>& x0, double t, const Tensor& d,
                                            double loss, const Tensor& grad, double gtd,
                                            double tolerance_change) {
  const double c1 = 1e-4, c2 = 0.9;  // sufficient decrease, curvature
  const int64_t max_ls = 25;
  const double d_norm = max_abs(d);
  Evaluation e = evaluate_along(closure, x0, t, d);
  int64_t evals = 1;
  Point prev{0, loss, grad, gtd};
  Point cur{t, e.loss, e.flat_grad, dot(e.flat_grad, d)};

  // Phase 1: grow the step until a bracket [lo, hi] holds a point satisfying the conditions.
  std::vector<Point> bracket;
  bool done = false;
  int64_t ls_iter = 0;
  while (ls_iter < max_ls) {
    if (cur.f > loss + c1 * cur.t * gtd || (ls_iter > 1 && cur.f >= prev.f)) {
      bracket = {prev, cur};
      break;
    }
    if (std::abs(cur.gtd) <= -c2 * gtd) {
      bracket = {cur};
      done = true;
      break;
    }
    if (cur.gtd >= 0) {
      bracket = {prev, cur};
      break;
    }
    const double next_t = cubic_minimiser(prev.t, prev.f, prev.gtd, cur.t, cur.f, cur.gtd,
                                          cur.t + 0.01 * (cur.t - prev.t), cur.t * 10);
    prev = cur;
    e = evaluate_along(closure, x0, next_t, d);
    ++evals;
    cur = Point{next_t, e.loss, e.flat_grad, dot(e.flat_grad, d)};
    ++ls_iter;
  }
  if (ls_iter == max_ls) bracket = {Point{0, loss, grad, gtd}, cur};

  // Phase 2 (zoom): shrink the bracket by cubic interpolation, refusing points too close to
  // its ends (unless progress stalled twice), until the strong Wolfe conditions hold.
  bool insufficient_progress = false;
  size_t low = 0, high = 1;
  if (bracket.size() == 2 && bracket[0].f > bracket[1].f) std::swap(low, high);
  while (!done && ls_iter < max_ls) {
    if (std::abs(bracket[1].t - bracket[0].t) * d_norm < tolerance_change) break;
    double new_t = cubic_minimiser(bracket[0].t, bracket[0].f, bracket[0].gtd, bracket[1].t, bracket[1].f,
                                   bracket[1].gtd);
    const double t_max = std::max(bracket[0].t, bracket[1].t), t_min = std::min(bracket[0].t, bracket[1].t);
    const double margin = 0.1 * (t_max - t_min);
    if (std::min(t_max - new_t, new_t - t_min) < margin) {
      if (insufficient_progress || new_t >= t_max || new_t <= t_min) {
        new_t = std::abs(new_t - t_max) < std::abs(new_t - t_min) ? t_max - margin : t_min + margin;
        insufficient_progress = false;
      } else {
        insufficient_progress = true;
      }
    } else {
      insufficient_progress = false;
    }
    e = evaluate_along(closure, x0, new_t, d);
    ++evals;
    ++ls_iter;
    Point p{new_t, e.loss, e.flat_grad, dot(e.flat_grad, d)};
    if (p.f > loss + c1 * p.t * gtd || p.f >= bracket[low].f) {
      bracket[high] = p;
      low = bracket[0].f <= bracket[1].f ? 0 : 1;
      high = 1 - low;
      continue;
    }
    if (std::abs(p.gtd) <= -c2 * gtd) {
      done = true;
    } else if (p.gtd * (bracket[high].t - bracket[low].t) >= 0) {
      bracket[high] = bracket[low];
    }
    bracket[low] = p;
  }
  const Point& best = bracket.size() == 1 ? bracket[0] : bracket[low];
  return {best.f, best.g, best.t, evals};
}

Tensor LBFGS::step(std::function<Tensor()> closure) {
  HMR_CHECK(closure != nullptr, ValueError, "LBFGS.step: a closure that re-evaluates the loss is required");
  NoGradGuard no_grad;
  const Options& o = param_groups()[0].options;
  const double lr = option(o, "lr"), tolerance_grad = option(o, "tolerance_grad");
  const double tolerance_change = option(o, "tolerance_change");
  const auto max_iter = static_cast<int64_t>(option(o, "max_iter"));
  const auto max_eval = static_cast<int64_t>(option(o, "max_eval"));
  const auto history_size = static_cast<size_t>(option(o, "history_size"));
  const bool use_line_search = option(o, "strong_wolfe") != 0;
  ParamState& state = state_of(0);
  double& func_evals = state.counters["func_evals"];
  double& total_iters = state.counters["n_iter"];

  Tensor orig_loss;
  {
    EnableGradGuard grad_on;
    orig_loss = closure();
  }
  double loss = orig_loss.item<double>();
  int64_t current_evals = 1;
  func_evals += 1;
  Tensor flat_grad = gather_flat_grad();
  if (max_abs(flat_grad) <= tolerance_grad) return orig_loss;

  // Restore the previous call's direction, step and curvature history.
  Tensor d = state.tensors["d"], prev_flat_grad = state.tensors["prev_flat_grad"];
  double t = state.counters["t"], H_diag = state.counters["H_diag"], prev_loss = state.counters["prev_loss"];
  std::vector<Tensor> old_dirs, old_stps;
  std::vector<double> ro;
  if (state.tensors.count("old_dirs")) {
    old_dirs = unbind(state.tensors["old_dirs"], 0);
    old_stps = unbind(state.tensors["old_stps"], 0);
    ro = state.tensors["ro"].to_vector<double>();
  }

  for (int64_t n_iter = 1; n_iter <= max_iter; ++n_iter) {
    total_iters += 1;
    if (total_iters == 1) {
      d = neg(flat_grad);
      old_dirs.clear();
      old_stps.clear();
      ro.clear();
      H_diag = 1;
    } else {
      // Update the history with the latest pair, then d = -H g by the two-loop recursion.
      Tensor y = flat_grad - prev_flat_grad;
      Tensor s = d * t;
      const double ys = dot(y, s);
      if (ys > 1e-10) {
        if (old_dirs.size() == history_size) {
          old_dirs.erase(old_dirs.begin());
          old_stps.erase(old_stps.begin());
          ro.erase(ro.begin());
        }
        old_dirs.push_back(y);
        old_stps.push_back(s);
        ro.push_back(1.0 / ys);
        H_diag = ys / dot(y, y);
      }
      std::vector<double> al(old_dirs.size());
      Tensor q = neg(flat_grad);
      for (size_t i = old_dirs.size(); i-- > 0;) {
        al[i] = dot(old_stps[i], q) * ro[i];
        q.sub_(old_dirs[i], al[i]);
      }
      d = q * H_diag;
      for (size_t i = 0; i < old_dirs.size(); ++i) {
        const double be_i = dot(old_dirs[i], d) * ro[i];
        d.add_(old_stps[i], al[i] - be_i);
      }
    }
    prev_flat_grad = clone(flat_grad);
    prev_loss = loss;
    t = total_iters == 1 ? std::min(1.0, 1.0 / sum(abs(flat_grad)).item<double>()) * lr : lr;
    const double gtd = dot(flat_grad, d);
    if (gtd > -tolerance_change) break;  // not a descent direction

    int64_t ls_evals = 0;
    bool optimal = false;
    if (use_line_search) {
      std::vector<Tensor> x0;
      for (const Tensor& p : param_groups()[0].params) x0.push_back(clone(p));
      LineSearchResult r = strong_wolfe(closure, x0, t, d, loss, flat_grad, gtd, tolerance_change);
      loss = r.loss;
      flat_grad = r.flat_grad;
      t = r.t;
      ls_evals = r.evals;
      add_to_params(t, d);
      optimal = max_abs(flat_grad) <= tolerance_grad;
    } else {
      add_to_params(t, d);
      if (n_iter != max_iter) {
        {
          EnableGradGuard grad_on;
          loss = closure().item<double>();
        }
        flat_grad = gather_flat_grad();
        optimal = max_abs(flat_grad) <= tolerance_grad;
        ls_evals = 1;
      }
    }
    current_evals += ls_evals;
    func_evals += static_cast<double>(ls_evals);
    if (n_iter == max_iter || current_evals >= max_eval || optimal) break;
    if (max_abs(d) * std::abs(t) <= tolerance_change) break;
    if (std::abs(loss - prev_loss) < tolerance_change) break;
  }

  state.tensors["d"] = d;
  state.tensors["prev_flat_grad"] = prev_flat_grad;
  state.counters["t"] = t;
  state.counters["H_diag"] = H_diag;
  state.counters["prev_loss"] = prev_loss;
  const Tensor& first = param_groups()[0].params[0];
  const int64_t n = d.numel();
  state.tensors["old_dirs"] =
      old_dirs.empty() ? zeros({0, n}, {first.dtype(), first.device()}) : stack(old_dirs, 0);
  state.tensors["old_stps"] =
      old_stps.empty() ? zeros({0, n}, {first.dtype(), first.device()}) : stack(old_stps, 0);
  state.tensors["ro"] = tensor(ro, {static_cast<int64_t>(ro.size())}, {DType::F64, first.device()});
  return orig_loss;
}

}  // namespace hmr::optim
