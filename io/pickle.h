// A data-only reader for Python pickles (protocols 0-5): it never runs code. Globals resolve
// through an allow-list (PickleGlobals) of C++ reconstructors for the few classes checkpoints
// and SMPL model files hold (numpy arrays, scipy.sparse matrices, chumpy arrays, torch tensors).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace hmr::io {

enum class PickleKind : uint8_t {
  None,
  Bool,
  Int,
  Float,
  Str,
  Bytes,
  List,
  Tuple,
  Dict,
  Set,
  FrozenSet,
  Tensor,   // numpy array or torch tensor
  Storage,  // a torch storage: a 1-D tensor over all of it, dtype = the storage's type
  Sparse,   // scipy.sparse csc/csr matrix
  Global,   // a class or function named by GLOBAL, not yet called
  Object,   // an allowed global kept symbolic: module, name, args, state
};
const char* pickle_kind_name(PickleKind k);

// scipy.sparse.csc_matrix / csr_matrix kept sparse (SMPL's J_regressor is one).
struct SparseMatrix {
  enum class Format { CSC, CSR };
  Format format = Format::CSC;
  int64_t rows = 0, cols = 0;
  Tensor data;                   // (nnz,) values
  std::vector<int64_t> indices;  // row (CSC) or column (CSR) of each value
  std::vector<int64_t> indptr;   // cols+1 (CSC) or rows+1 (CSR) offsets into data
  // A dense (rows, cols) tensor of data's dtype (F64 for integer data); duplicates add up.
  Tensor to_dense() const;
};

struct PickleNode;
class PickleArena;

// A handle to one value of an unpickled tree. Handles share the tree (copying one copies the
// reference, as in Python), and the tree lives as long as any handle to it does. Nodes sit in
// one arena so that self-referencing pickles (a list that contains itself) cannot leak.
class PickleValue {
 public:
  PickleValue() = default;
  PickleValue(std::shared_ptr<PickleArena> arena, PickleNode* node) : arena_(std::move(arena)), node_(node) {}

  bool defined() const { return node_ != nullptr; }
  PickleKind kind() const;
  bool is(PickleKind k) const { return defined() && kind() == k; }
  bool is_none() const { return is(PickleKind::None); }

  bool as_bool() const;                 // Bool (or Int 0/1)
  int64_t as_int() const;               // Int or Bool
  double as_double() const;             // Float, Int or Bool
  const std::string& as_str() const;    // Str (utf-8)
  const std::string& as_bytes() const;  // Bytes
  const Tensor& as_tensor() const;      // Tensor or Storage; names the class of an Object
  const SparseMatrix& as_sparse() const;

  // List, Tuple, Set, FrozenSet: elements; Object: its args.
  size_t size() const;  // elements, or entries of a Dict
  PickleValue operator[](size_t i) const;
  std::vector<PickleValue> elements() const;

  // Dict. get() with a str key (a bytes key of the same bytes matches too: py2 pickles read
  // with py2_strings_as_latin1 off); find() returns an undefined value when absent.
  std::vector<std::pair<PickleValue, PickleValue>> items() const;
  PickleValue find(const std::string& key) const;
  PickleValue get(const std::string& key) const;  // IOError listing the keys when absent
  std::vector<std::string> str_keys() const;      // the keys that are str, in order

  // Global and Object: "module.name".
  const std::string& module() const;
  const std::string& name() const;
  std::string qualified_name() const { return module() + "." + name(); }
  PickleValue state() const;  // Object: what BUILD gave it (undefined if none)

  // Short Python-like rendering for error messages and debugging (bounded length).
  std::string repr(size_t max_chars = 200) const;

  PickleNode* node() const { return node_; }
  const std::shared_ptr<PickleArena>& arena() const { return arena_; }

 private:
  const PickleNode& n(PickleKind k) const;
  std::shared_ptr<PickleArena> arena_;
  PickleNode* node_ = nullptr;
};

// Owns the nodes of one tree and makes new ones; reconstructors build their results with it.
class PickleArena : public std::enable_shared_from_this<PickleArena> {
 public:
  // max_nodes and max_bytes bound what one input may make: memo references let a short pickle
  // ask for the same large array many times, so copies are budgeted, not just input bytes.
  PickleArena(size_t max_nodes, size_t max_bytes);
  ~PickleArena();
  PickleValue none();
  PickleValue boolean(bool b);
  PickleValue integer(int64_t i);
  PickleValue real(double d);
  PickleValue str(std::string s);
  PickleValue bytes(std::string b);
  PickleValue list(std::vector<PickleValue> items = {});
  PickleValue tuple(std::vector<PickleValue> items = {});
  PickleValue set(std::vector<PickleValue> items, bool frozen);
  PickleValue dict();
  PickleValue tensor(Tensor t);
  PickleValue storage(Tensor t);
  PickleValue sparse(SparseMatrix m);
  PickleValue global(std::string module, std::string name);
  PickleValue object(std::string module, std::string name, std::vector<PickleValue> args);

  // Container edits (the VM's APPEND, SETITEM, ADDITEMS, BUILD use these).
  void append(const PickleValue& list, const PickleValue& item);
  void set_item(const PickleValue& dict, const PickleValue& key, const PickleValue& value);
  void set_state(const PickleValue& object, const PickleValue& state);
  // Turns target into a copy of source in place, so every reference to target (memo, parents)
  // sees the reconstructed value (BUILD turning a numpy ndarray object into a Tensor).
  void replace(const PickleValue& target, const PickleValue& source);
  // Counts n bytes of data made from the input against the budget (IOError beyond it).
  void charge(size_t n);

 private:
  PickleNode* make(PickleKind k);
  std::vector<std::unique_ptr<PickleNode>> nodes_;
  size_t max_nodes_;
  size_t max_bytes_, bytes_ = 0;
};

// Reconstructors for one allowed global. call: REDUCE / NEWOBJ / INST / OBJ with the argument
// tuple (null: keep a symbolic Object). build: BUILD with the state (null: store the state on
// the Object). Both may throw IOError for malformed arguments.
struct PickleGlobal {
  std::function<PickleValue(PickleArena&, const std::string& module, const std::string& name,
                            const std::vector<PickleValue>& args)>
      call;
  std::function<void(PickleArena&, const PickleValue& object, const PickleValue& state)> build;
};

// The allow-list: "module.name" -> reconstructor. Also whole-module prefixes ("chumpy.") whose
// classes are all kept symbolic with a shared BUILD handler.
class PickleGlobals {
 public:
  void add(const std::string& module, const std::string& name, PickleGlobal g);
  void add_module_prefix(const std::string& prefix, PickleGlobal g);
  const PickleGlobal* find(const std::string& module, const std::string& name) const;
  // builtins (set, frozenset, ...), collections.OrderedDict, copyreg, _codecs.encode, numpy
  // arrays/dtypes/scalars, scipy.sparse csc/csr, chumpy arrays. No torch (torch_file adds it).
  static PickleGlobals standard();

 private:
  std::unordered_map<std::string, PickleGlobal> exact_;
  std::vector<std::pair<std::string, PickleGlobal>> prefixes_;
};

struct UnpickleOptions {
  const PickleGlobals* globals = nullptr;  // null: PickleGlobals::standard()
  // PERSID / BINPERSID: turns a persistent id into a value. Without one they are errors.
  std::function<PickleValue(PickleArena&, const PickleValue& pid)> persistent_load;
  // Python 2 STRING / BINSTRING / SHORT_BINSTRING: decoded as latin-1 into str (what
  // pickle.load(f, encoding='latin1') does, and what SMPL's py2 files need), or kept as bytes.
  bool py2_strings_as_latin1 = true;
  size_t max_depth = 512;  // open MARKs and nesting of rendered or hashed values
};

// Unpickles one pickle from data[0, size). consumed (optional) receives the offset just past
// its STOP opcode (legacy PyTorch files hold several pickles back to back). Errors are IOError
// naming the offset and what was wrong.
PickleValue unpickle(const uint8_t* data, size_t size, const UnpickleOptions& options = {},
                     size_t* consumed = nullptr);
PickleValue unpickle_file(const std::string& path, const UnpickleOptions& options = {});

// The bytes a py2 string stood for, from its latin-1-decoded str (numpy's raw array data).
std::string latin1_encode(const std::string& utf8);

// The array a value holds: a Tensor, or the 'x' of a chumpy object. IOError naming the class
// (or kind) of anything else.
Tensor array_of(const PickleValue& v);

}  // namespace hmr::io
