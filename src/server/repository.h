// ModelRepository: the models a server serves, in Triton's layout and from client uploads.
//
// On disk: DIR/NAME/VERSION/model.onnx, VERSION a positive integer, with an optional
// DIR/NAME/config.pbtxt (server/triton_config.h: its name, max_batch_size, inputs and outputs
// are checked against every version, and a mismatch fails the load; unknown fields are ignored
// with a warning on stderr). Uploaded models live in memory only and have no config file. A request
// naming no version gets the newest (highest) version. Thread safe: lookups may run concurrently
// with loads and unloads; a model being served keeps running after an unload until its last request
// completes (shared ownership).
#ifndef EDGEINFER_SERVER_REPOSITORY_H_
#define EDGEINFER_SERVER_REPOSITORY_H_

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "edgeinfer/status.h"
#include "server/served_model.h"
#include "server/triton_config.h"

namespace edgeinfer::server {

struct RepositoryOptions {
  std::string directory;  // "" when models come only from uploads
  size_t max_model_bytes = size_t{1} << 30;
  ServedModelOptions model;
};

struct ModelIndexEntry {
  std::string name;
  std::string version;
  std::string state;   // "READY" or "UNAVAILABLE"
  std::string reason;  // why it is unavailable
};

class ModelRepository {
 public:
  explicit ModelRepository(RepositoryOptions options) : options_(std::move(options)) {}

  // Loads every model of the directory. A model that fails is recorded as UNAVAILABLE with its
  // reason (see Index) and the others still load; the returned Status is the first failure.
  Status LoadAll();
  // (Re)loads every version of DIR/NAME. NotFound when there is no such model directory;
  // InvalidArgument (naming the file and line, or the tensor and field) for a config.pbtxt that
  // is malformed or disagrees with a version.
  Status LoadFromDirectory(const std::string& name);
  // Loads an uploaded model version from its bytes (replacing a previous upload of that
  // version). InvalidArgument for a bad name, a version that is not a positive integer or a
  // content name that does not match the bytes, ResourceExhausted over max_model_bytes,
  // PermissionDenied for the name of a model of the repository directory (uploads never shadow
  // repository models), the importer's error for corrupt bytes.
  Status LoadFromBytes(const std::string& name, const std::string& version,
                       const std::string& bytes);
  // NotFound when no version of `name` is loaded.
  Status Unload(const std::string& name);

  // The model version (empty: newest). NotFound names what is missing; Unavailable when it
  // failed to load. A content model name (net/model_hash.h) that is not loaded under that name
  // finds any loaded model with those bytes (whatever its name and version): a device never
  // uploads a model the server already holds under another name.
  Result<std::shared_ptr<const ServedModel>> Find(const std::string& name,
                                                  const std::string& version) const;
  // The config.pbtxt `name` was loaded with; null when it had none (or is unknown).
  std::shared_ptr<const TritonConfig> Config(const std::string& name) const;
  // Every version of `name`, newest last; empty when unknown.
  std::vector<std::string> Versions(const std::string& name) const;
  std::vector<ModelIndexEntry> Index() const;
  std::vector<std::shared_ptr<const ServedModel>> All() const;

  const RepositoryOptions& options() const { return options_; }

 private:
  // Numeric versions sort numerically ("10" after "9").
  struct VersionLess {
    bool operator()(const std::string& a, const std::string& b) const;
  };
  struct Entry {
    std::map<std::string, std::shared_ptr<const ServedModel>, VersionLess> versions;
    std::string failure;                         // non-empty: the last load failed
    std::shared_ptr<const TritonConfig> config;  // null: no config.pbtxt
    std::map<std::string, std::string> content;  // version -> content model name of its bytes
    bool from_directory = false;                 // loaded (or failed) from the directory
  };

  // PermissionDenied when `name` is a model of the repository directory.
  Status CheckUploadable(const std::string& name) const;
  static Status ShadowError(const std::string& name);

  const RepositoryOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> models_;  // guarded by mu_
};

// True for names usable as a model directory: [A-Za-z0-9._-], not starting with '.', at most
// 128 characters.
bool IsValidModelName(const std::string& name);
// True for a version: 1 to 18 decimal digits, not all zero (versions are positive integers).
bool IsValidVersion(const std::string& version);

}  // namespace edgeinfer::server

#endif  // EDGEINFER_SERVER_REPOSITORY_H_
