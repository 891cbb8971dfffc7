#include "planner/profile_cache.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "core/sha256.h"

namespace edgeinfer::planner {

namespace {

// Bumped when the file layout or the meaning of a profile changes; older files then miss.
constexpr int kFormatVersion = 1;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

std::string KeyString(const std::string& model_sha256, const std::string& machine, int threads,
                      const std::vector<NamedTensor>& inputs) {
  std::ostringstream key;
  key << "edgeinfer-profile v" << kFormatVersion << "\nmodel " << model_sha256 << "\nmachine "
      << machine << "\nthreads " << threads << "\n";
  for (const NamedTensor& in : inputs) {
    key << "input " << in.name << " " << DTypeName(in.tensor.dtype()) << " "
        << ShapeToString(in.tensor.shape()) << "\n";
  }
  return key.str();
}

int ResolvedThreads(int threads) {
  if (threads > 0) return threads;
  const unsigned cores = std::thread::hardware_concurrency();
  return cores == 0 ? 1 : static_cast<int>(cores);
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open " + path);
  std::ostringstream data;
  data << in.rdbuf();
  if (in.bad()) return Status::DataLoss("cannot read " + path);
  return data.str();
}

// Writes `data` to `path` through a temporary file in the same directory and a rename, so a
// reader sees the old file or the new one, never a torn one.
Status WriteFileAtomic(const std::string& path, const std::string& data) {
  static std::atomic<uint64_t> counter{0};
  const std::string tmp =
      path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter.fetch_add(1));
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Status::Unavailable("cannot create " + tmp);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    out.flush();
    if (!out) {
      std::error_code ignored;
      std::filesystem::remove(tmp, ignored);
      return Status::Unavailable("cannot write " + tmp);
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    return Status::Unavailable("cannot rename " + tmp + " to " + path + ": " + ec.message());
  }
  return Status::Ok();
}

nlohmann::json ProfileJson(const std::vector<NodeProfile>& profile) {
  nlohmann::json steps = nlohmann::json::array();
  for (const NodeProfile& p : profile) {
    steps.push_back({{"name", p.name},
                     {"op", p.op},
                     {"output_shape", p.output_shape},
                     {"output_bytes", p.output_bytes},
                     {"flops", p.flops},
                     {"median_ms", p.median_ms}});
  }
  return steps;
}

Result<std::vector<NodeProfile>> ProfileFromJsonValue(const nlohmann::json& steps) {
  if (!steps.is_array()) return Status::DataLoss("profile JSON is not an array of steps");
  std::vector<NodeProfile> profile;
  try {
    for (const nlohmann::json& s : steps) {
      NodeProfile p;
      p.name = s.at("name").get<std::string>();
      p.op = s.at("op").get<std::string>();
      p.output_shape = s.at("output_shape").get<Shape>();
      p.output_bytes = s.at("output_bytes").get<int64_t>();
      p.flops = s.at("flops").get<double>();
      p.median_ms = s.at("median_ms").get<double>();
      if (!(p.median_ms >= 0.0)) {
        return Status::DataLoss("profile step '" + p.name + "' has a negative latency");
      }
      profile.push_back(std::move(p));
    }
  } catch (const nlohmann::json::exception& e) {
    return Status::DataLoss(std::string("malformed profile JSON: ") + e.what());
  }
  return profile;
}

// Node names come from model files and need not be UTF-8; replacing bad bytes keeps dump()
// from throwing (such an entry then never matches its key and is simply re-profiled).
std::string DumpJson(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string DefaultProfileCacheDir() {
  std::string dir = Env("EDGEINFER_CACHE_DIR");
  if (!dir.empty()) return dir;
  dir = Env("XDG_CACHE_HOME");
  if (!dir.empty()) return dir + "/edgeinfer";
  dir = Env("HOME");
  if (!dir.empty()) return dir + "/.cache/edgeinfer";
  return "";
}

std::string MachineDescription() {
  std::string model = "unknown-cpu";
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) != 0) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    const size_t start = line.find_first_not_of(" \t", colon + 1);
    if (start != std::string::npos) model = line.substr(start);
    break;
  }
  return model + " x" + std::to_string(std::thread::hardware_concurrency()) + " cores";
}

std::string ProfileCacheFileName(const std::string& model_sha256, const std::string& machine,
                                 int threads, const std::vector<NamedTensor>& inputs) {
  return Sha256Hex(KeyString(model_sha256, machine, ResolvedThreads(threads), inputs))
             .substr(0, 32) +
         ".json";
}

std::string ProfileToJson(const std::vector<NodeProfile>& profile) {
  return DumpJson(ProfileJson(profile));
}

Result<std::vector<NodeProfile>> ProfileFromJson(const std::string& json) {
  nlohmann::json steps = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (steps.is_discarded()) return Status::DataLoss("profile is not valid JSON");
  return ProfileFromJsonValue(steps);
}

Result<std::vector<NodeProfile>> LoadOrProfile(Session& session, const std::string& model_bytes,
                                               const std::vector<NamedTensor>& inputs, int threads,
                                               int repeat, const ProfileCacheOptions& options,
                                               bool* from_cache) {
  if (from_cache != nullptr) *from_cache = false;
  const std::string dir = options.dir.empty() ? DefaultProfileCacheDir() : options.dir;
  const bool use_cache = options.enabled && !dir.empty();
  std::string path, key;
  if (use_cache) {
    const std::string model_sha = Sha256Hex(model_bytes);
    const std::string machine = MachineDescription();
    key = KeyString(model_sha, machine, ResolvedThreads(threads), inputs);
    path = dir + "/" + ProfileCacheFileName(model_sha, machine, threads, inputs);
    auto text = ReadFile(path);
    if (text.ok()) {
      // Any problem with the entry (torn by a crash of another writer, edited, a digest
      // collision with another key) makes it a miss; it is overwritten below.
      nlohmann::json entry = nlohmann::json::parse(*text, nullptr, false);
      if (!entry.is_discarded() && entry.is_object() && entry.contains("key") &&
          entry["key"] == key && entry.contains("profile")) {
        auto cached = ProfileFromJsonValue(entry["profile"]);
        if (cached.ok()) {
          if (from_cache != nullptr) *from_cache = true;
          return cached;
        }
      }
    }
  }
  EI_ASSIGN_OR_RETURN(std::vector<NodeProfile> profile, session.Profile(inputs, repeat));
  if (use_cache) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    nlohmann::json entry = {{"key", key}, {"profile", ProfileJson(profile)}};
    // A cache that cannot be written only costs a profile next time.
    (void)WriteFileAtomic(path, DumpJson(entry));
  }
  return profile;
}

}  // namespace edgeinfer::planner
