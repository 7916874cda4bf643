// hmr_core's anchor: the library exists even before its first domain folder has sources.
namespace hmr {
const char* core_library_name() { return "hmr_core"; }
}  // namespace hmr
