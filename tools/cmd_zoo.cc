// edgeinfer zoo: writes a standard architecture with deterministic random weights as ONNX.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

#include "args.h"
#include "commands.h"
#include "onnx/onnx_io.h"
#include "zoo/zoo.h"

namespace edgeinfer::tools {

namespace {

constexpr char kUsage[] =
    "usage: edgeinfer zoo NAME -o FILE.onnx [--seed N]\n"
    "       edgeinfer zoo --list\n"
    "\n"
    "Writes a standard CNN architecture (batch 1, float32, opset 13) with deterministic random\n"
    "weights: the same NAME and seed give the same file on every machine.\n"
    "\n"
    "options:\n"
    "  -o, --output FILE   where to write the model\n"
    "  --seed N            weight seed, a non-negative integer (default 1)\n"
    "  --list              print the models: name, input shape, parameters, description\n"
    "  -h, --help          print this help\n";

void PrintModelNames(FILE* out) {
  std::fprintf(out, "models:");
  for (const ZooModel& m : ZooModels()) std::fprintf(out, " %s", m.name.c_str());
  std::fprintf(out, "\n");
}

int UsageError(const std::string& message) {
  std::fprintf(stderr, "edgeinfer zoo: %s (see --help)\n", message.c_str());
  return 2;
}

void PrintList() {
  std::printf("%-14s %-18s %12s  %s\n", "name", "input", "params", "description");
  for (const ZooModel& m : ZooModels()) {
    std::printf("%-14s %-18s %12lld  %s\n", m.name.c_str(), ShapeToString(m.input_shape).c_str(),
                static_cast<long long>(m.parameters), m.description.c_str());
  }
}

// Strict decimal uint64: no sign, no trailing characters, no overflow.
bool ParseSeed(const std::string& s, uint64_t* seed) {
  if (s.empty() || s[0] < '0' || s[0] > '9') return false;
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (errno != 0 || *end != '\0') return false;
  *seed = v;
  return true;
}

}  // namespace

int ZooCommand(int argc, char** argv) {
  Args args({"-o", "--output", "--seed"}, {"--list", "--help", "-h"});
  if (!args.Parse(argc, argv)) return UsageError(args.error());
  if (args.Has("--help") || args.Has("-h")) {
    std::printf("%s", kUsage);
    return 0;
  }
  if (args.Has("--list")) {
    if (!args.positionals().empty()) return UsageError("--list takes no model name");
    PrintList();
    return 0;
  }
  if (args.positionals().size() != 1) {
    return UsageError(args.positionals().empty() ? "missing model NAME" : "expected one NAME");
  }
  const std::string name = args.positionals()[0];
  const ZooModel* model = FindZooModel(name);
  if (model == nullptr) {
    std::fprintf(stderr, "edgeinfer zoo: unknown model '%s'\n", name.c_str());
    PrintModelNames(stderr);
    return 2;
  }
  std::string path = args.Get("-o", args.Get("--output"));
  if (args.Has("-o") && args.Has("--output")) return UsageError("give -o or --output, not both");
  if (path.empty()) return UsageError("missing -o FILE");
  uint64_t seed = 1;
  if (args.Has("--seed") && !ParseSeed(args.Get("--seed"), &seed)) {
    return UsageError("--seed needs a non-negative integer, got '" + args.Get("--seed") + "'");
  }

  auto graph = model->build(seed);
  if (!graph.ok()) {
    std::fprintf(stderr, "edgeinfer zoo: %s\n", graph.status().ToString().c_str());
    return 1;
  }
  Status written = ExportOnnxFile(*graph, path);
  if (!written.ok()) {
    std::fprintf(stderr, "edgeinfer zoo: %s\n", written.ToString().c_str());
    return 1;
  }
  std::error_code ec;
  const auto bytes = std::filesystem::file_size(path, ec);
  std::printf("wrote %s (%lld params, %.1f MB)\n", path.c_str(),
              static_cast<long long>(CountParameters(*graph)),
              ec ? 0.0 : static_cast<double>(bytes) / 1e6);
  return 0;
}

}  // namespace edgeinfer::tools
