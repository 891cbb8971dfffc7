// Session::Open: imports the model and dispatches to a local or an offloading session.
#include <chrono>
#include <filesystem>
#include <optional>

#include "core/file_io.h"
#include "edgeinfer/session.h"
#include "onnx/external_data.h"
#include "onnx/onnx_io.h"
#include "runtime/auto_session.h"
#include "runtime/local_session.h"
#include "runtime/offload_config.h"
#include "runtime/offload_session.h"

namespace edgeinfer {

Status SessionOptions::SetMode(std::string_view text) {
  ExecutionMode parsed_mode;
  Cut parsed_cut;
  EI_RETURN_IF_ERROR(ParseExecutionMode(text, &parsed_mode, &parsed_cut));
  mode = parsed_mode;
  cut = std::move(parsed_cut);
  return Status::Ok();
}

Result<std::unique_ptr<Session>> Session::Open(const std::string& model_path,
                                               const SessionOptions& options) {
  EI_ASSIGN_OR_RETURN(OffloadConfig config, ResolveOffloadConfig(options));
  if (config.mode == ExecutionMode::kLocal) {
    // Parsed from the file as it is read: the weights are never held twice while importing.
    EI_ASSIGN_OR_RETURN(Graph graph, ImportOnnxFile(model_path));
    return MakeLocalSession(std::move(graph), options);
  }
  EI_ASSIGN_OR_RETURN(std::string bytes, ReadFileBytes(model_path));
  std::string dir = std::filesystem::path(model_path).parent_path().string();
  return OpenFromBytes(bytes, dir.empty() ? "." : dir, options);
}

Result<std::unique_ptr<Session>> Session::OpenFromBytes(const std::string& bytes,
                                                        const std::string& base_dir,
                                                        const SessionOptions& options) {
  EI_ASSIGN_OR_RETURN(OffloadConfig config, ResolveOffloadConfig(options));
  ImportOptions import;
  import.base_dir = base_dir;
  EI_ASSIGN_OR_RETURN(Graph graph, ImportOnnx(bytes, import));
  if (config.mode == ExecutionMode::kLocal) {
    return MakeLocalSession(std::move(graph), options);
  }
  // The server gets one self-contained model (it reads no files a client names), and its
  // content name then covers the weights too, not only the graph that points at them.
  Result<std::optional<std::string>> inlined = InlineExternalData(bytes, import);
  if (!inlined.ok()) return inlined.status().WithContext("preparing the model for offloading");
  const std::string& upload = inlined->has_value() ? **inlined : bytes;
  if (config.mode == ExecutionMode::kAuto || config.mode == ExecutionMode::kAutoNoLoad) {
    return OpenAutoSession(std::move(graph), upload, config, options);
  }
  return OpenOffloadSession(std::move(graph), upload, config, options);
}

Result<std::vector<NamedTensor>> Session::RunWithStats(const std::vector<NamedTensor>& inputs,
                                                       RunStats* stats) {
  const auto start = std::chrono::steady_clock::now();
  auto result = Run(inputs);
  if (stats != nullptr) {
    *stats = RunStats();
    stats->total_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    stats->device_ms = stats->total_ms;
  }
  return result;
}

}  // namespace edgeinfer
