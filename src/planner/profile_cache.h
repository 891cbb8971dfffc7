// The device's per-node latency profile, cached on disk so that opening a model a second time
// on the same machine does not profile it again.
//
// An entry is keyed by the model's content (SHA-256 of its bytes), the machine (CPU model name
// and core count), the kernel thread count and the input shapes; any change profiles afresh.
// Directory: $EDGEINFER_CACHE_DIR, else $XDG_CACHE_HOME/edgeinfer, else ~/.cache/edgeinfer.
// Files are JSON, written atomically (temporary file + rename), so concurrent writers never
// leave a torn entry; an unreadable or corrupt entry is treated as missing and re-profiled.
// A cache that cannot be written (read-only home, full disk) is not an error: the profile is
// still returned. Thread safe (no shared state besides the files).
#ifndef EDGEINFER_PLANNER_PROFILE_CACHE_H_
#define EDGEINFER_PLANNER_PROFILE_CACHE_H_

#include <string>
#include <vector>

#include "edgeinfer/session.h"
#include "edgeinfer/status.h"

namespace edgeinfer::planner {

struct ProfileCacheOptions {
  std::string dir;      // empty: the default directory above
  bool enabled = true;  // false: always profile, never read or write the cache
};

// The default cache directory ("" when neither the variables nor HOME are set).
std::string DefaultProfileCacheDir();

// "CPU model name xN cores" from /proc/cpuinfo (and the core count), for the cache key.
std::string MachineDescription();

// The cache file name (a hex digest, ".json") for one key. Exposed for tests.
std::string ProfileCacheFileName(const std::string& model_sha256, const std::string& machine,
                                 int threads, const std::vector<NamedTensor>& inputs);

// The profile of `session` (a local session of the model whose serialized bytes are
// `model_bytes`, opened with `threads` kernel threads) on `inputs`, from the cache when present,
// else by session.Profile(inputs, repeat), which is then stored. `from_cache` (may be null)
// tells which. Errors: only those of Profile.
Result<std::vector<NodeProfile>> LoadOrProfile(Session& session, const std::string& model_bytes,
                                               const std::vector<NamedTensor>& inputs, int threads,
                                               int repeat, const ProfileCacheOptions& options = {},
                                               bool* from_cache = nullptr);

// Serialising a profile (also what the cache files hold inside their envelope).
std::string ProfileToJson(const std::vector<NodeProfile>& profile);
// Errors: malformed JSON or fields of the wrong type.
Result<std::vector<NodeProfile>> ProfileFromJson(const std::string& json);

}  // namespace edgeinfer::planner

#endif  // EDGEINFER_PLANNER_PROFILE_CACHE_H_
