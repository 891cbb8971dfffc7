#include "server/repository.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "net/model_hash.h"

namespace edgeinfer::server {

namespace fs = std::filesystem;

bool IsValidModelName(const std::string& name) {
  if (name.empty() || name.size() > 128 || name[0] == '.') return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool IsValidVersion(const std::string& version) {
  if (version.empty() || version.size() > 18) return false;
  bool positive = false;
  for (char c : version) {
    if (c < '0' || c > '9') return false;
    positive = positive || c != '0';
  }
  return positive;
}

bool ModelRepository::VersionLess::operator()(const std::string& a, const std::string& b) const {
  if (a.size() != b.size()) return a.size() < b.size();
  return a < b;
}

namespace {

Result<std::string> ReadFile(const fs::path& path, size_t max_bytes) {
  std::error_code ec;
  const uintmax_t size = fs::file_size(path, ec);
  if (ec) return Status::NotFound("cannot read '" + path.string() + "': " + ec.message());
  if (size > max_bytes) {
    std::string message = path.string();
    message += " has " + std::to_string(size) + " bytes, over the limit of ";
    message += std::to_string(max_bytes);
    return Status::ResourceExhausted(std::move(message));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open '" + path.string() + "'");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// A configuration is a few kilobytes; the bound keeps a stray large file from being parsed.
constexpr size_t kMaxConfigBytes = size_t{1} << 20;

Result<std::shared_ptr<const TritonConfig>> ReadConfig(const fs::path& path) {
  EI_ASSIGN_OR_RETURN(std::string text, ReadFile(path, kMaxConfigBytes));
  EI_ASSIGN_OR_RETURN(TritonConfig config, ParseTritonConfig(text, path.string()));
  for (const std::string& warning : config.warnings) {
    std::fprintf(stderr, "edgeinfer serve: warning: %s\n", warning.c_str());
  }
  return std::shared_ptr<const TritonConfig>(new TritonConfig(std::move(config)));
}

}  // namespace

Status ModelRepository::LoadAll() {
  if (options_.directory.empty()) return Status::Ok();
  std::error_code ec;
  if (!fs::is_directory(options_.directory, ec)) {
    return Status::NotFound("model repository '" + options_.directory + "' is not a directory");
  }
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(options_.directory, ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory() && IsValidModelName(name)) names.push_back(name);
  }
  if (ec) return Status::Unavailable("listing '" + options_.directory + "': " + ec.message());
  Status first;
  for (const std::string& name : names) {
    Status s = LoadFromDirectory(name);
    if (!s.ok() && first.ok()) first = s;
  }
  return first;
}

Status ModelRepository::LoadFromDirectory(const std::string& name) {
  if (!IsValidModelName(name)) return Status::InvalidArgument("invalid model name '" + name + "'");
  if (options_.directory.empty()) {
    return Status::NotFound("model '" + name + "': the server has no model repository directory");
  }
  const fs::path dir = fs::path(options_.directory) / name;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return Status::NotFound("model '" + name + "' is not in the repository");
  }
  Entry entry;
  entry.from_directory = true;
  Status status;
  const fs::path config_path = dir / "config.pbtxt";
  if (fs::exists(config_path, ec)) {
    Result<std::shared_ptr<const TritonConfig>> config = ReadConfig(config_path);
    if (config.ok()) {
      entry.config = std::move(config).value();
    } else {
      status = config.status();
    }
  }
  for (const auto& version_dir : fs::directory_iterator(dir, ec)) {
    if (!status.ok()) break;
    const std::string version = version_dir.path().filename().string();
    if (!version_dir.is_directory() || !IsValidVersion(version)) continue;
    const fs::path file = version_dir.path() / "model.onnx";
    if (!fs::exists(file, ec)) continue;
    Result<std::string> bytes = ReadFile(file, options_.max_model_bytes);
    Result<std::unique_ptr<ServedModel>> model =
        bytes.ok() ? ServedModel::Create(name, version, *bytes, version_dir.path().string(),
                                         options_.model)
                   : Result<std::unique_ptr<ServedModel>>(bytes.status());
    if (!model.ok()) {
      status = model.status();
      break;
    }
    if (entry.config != nullptr) {
      status = CheckTritonConfig(*entry.config, name, (*model)->inputs(), (*model)->outputs())
                   .WithContext("'" + config_path.string() + "' (checked against version " +
                                version + ")");
      if (!status.ok()) break;
    }
    entry.versions[version] = std::move(model).value();
    entry.content[version] = net::ContentModelName(*bytes);
  }
  if (status.ok() && entry.versions.empty()) {
    status = Status::NotFound("model '" + name + "' has no VERSION/model.onnx in " + dir.string());
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (!status.ok()) {
    // A failed reload keeps no stale versions: the model is unavailable with the reason.
    models_[name] = Entry{{}, status.ToString(), nullptr, {}, true};
    return status;
  }
  models_[name] = std::move(entry);
  return Status::Ok();
}

Status ModelRepository::LoadFromBytes(const std::string& name, const std::string& version,
                                      const std::string& bytes) {
  if (!IsValidModelName(name)) {
    return Status::InvalidArgument("invalid model name '" + name +
                                   "' (allowed: letters, digits, '.', '_', '-')");
  }
  if (!IsValidVersion(version)) {
    return Status::InvalidArgument("invalid version '" + version + "' for model '" + name +
                                   "' (a positive integer)");
  }
  if (bytes.size() > options_.max_model_bytes) {
    return Status::ResourceExhausted("model '" + name + "' has " + std::to_string(bytes.size()) +
                                     " bytes, over the limit of " +
                                     std::to_string(options_.max_model_bytes));
  }
  if (net::IsContentModelName(name) && net::ContentModelName(bytes) != name) {
    return Status::InvalidArgument("model name '" + name + "' does not match its contents (" +
                                   net::ContentModelName(bytes) + ")");
  }
  EI_RETURN_IF_ERROR(CheckUploadable(name));
  EI_ASSIGN_OR_RETURN(std::unique_ptr<ServedModel> model,
                      ServedModel::Create(name, version, bytes, "", options_.model));
  std::lock_guard<std::mutex> lock(mu_);
  // Checked again under the lock: the directory model may have been loaded meanwhile.
  auto existing = models_.find(name);
  if (existing != models_.end() && existing->second.from_directory) {
    return ShadowError(name);
  }
  Entry& entry = models_[name];
  entry.failure.clear();
  entry.versions[version] = std::move(model);
  entry.content[version] = net::ContentModelName(bytes);
  return Status::Ok();
}

Status ModelRepository::CheckUploadable(const std::string& name) const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = models_.find(name);
    if (it != models_.end() && it->second.from_directory) return ShadowError(name);
  }
  // A repository model that is not loaded (unloaded, or not loaded yet) is protected too.
  std::error_code ec;
  if (!options_.directory.empty() && fs::exists(fs::path(options_.directory) / name, ec)) {
    return ShadowError(name);
  }
  return Status::Ok();
}

Status ModelRepository::ShadowError(const std::string& name) {
  return Status(StatusCode::kPermissionDenied,
                "model '" + name +
                    "' is provisioned from the repository directory; an upload cannot replace it "
                    "(upload under another name, e.g. its content name)");
}

Status ModelRepository::Unload(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = models_.find(name);
  if (it == models_.end()) return Status::NotFound("model '" + name + "' is not loaded");
  models_.erase(it);
  return Status::Ok();
}

Result<std::shared_ptr<const ServedModel>> ModelRepository::Find(const std::string& name,
                                                                 const std::string& version) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = models_.find(name);
  if (it == models_.end() && net::IsContentModelName(name)) {
    for (const auto& [other, entry] : models_) {
      for (const auto& [v, content] : entry.content) {
        auto model = entry.versions.find(v);
        if (content == name && model != entry.versions.end()) return model->second;
      }
    }
  }
  if (it == models_.end()) return Status::NotFound("unknown model '" + name + "'");
  const Entry& entry = it->second;
  if (entry.versions.empty()) {
    return Status::Unavailable("model '" + name + "' is unavailable: " + entry.failure);
  }
  if (version.empty()) return entry.versions.rbegin()->second;
  auto v = entry.versions.find(version);
  if (v == entry.versions.end()) {
    return Status::NotFound("model '" + name + "' has no version '" + version + "'");
  }
  return v->second;
}

std::shared_ptr<const TritonConfig> ModelRepository::Config(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = models_.find(name);
  return it == models_.end() ? nullptr : it->second.config;
}

std::vector<std::string> ModelRepository::Versions(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> versions;
  auto it = models_.find(name);
  if (it == models_.end()) return versions;
  for (const auto& [version, model] : it->second.versions) versions.push_back(version);
  return versions;
}

std::vector<ModelIndexEntry> ModelRepository::Index() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ModelIndexEntry> index;
  for (const auto& [name, entry] : models_) {
    if (entry.versions.empty()) index.push_back({name, "", "UNAVAILABLE", entry.failure});
    for (const auto& [version, model] : entry.versions) {
      index.push_back({name, version, "READY", ""});
    }
  }
  return index;
}

std::vector<std::shared_ptr<const ServedModel>> ModelRepository::All() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::shared_ptr<const ServedModel>> all;
  for (const auto& [name, entry] : models_) {
    for (const auto& [version, model] : entry.versions) all.push_back(model);
  }
  return all;
}

}  // namespace edgeinfer::server
