#include "edgeinfer/mode.h"

#include <utility>

namespace edgeinfer {

namespace {

constexpr std::string_view kSplitPrefix = "split:";
constexpr char kModeForms[] =
    "expected local, remote, split:CUT (CUT: a node count N, the first N nodes in topological "
    "order on the device, or comma-separated tensor names), auto, auto-noload or collab";

// A node count: digits only, small enough for int64 (a tensor may be named "12"; such a cut is
// read as a node count, as it always was).
bool IsNodeCount(std::string_view s) {
  return !s.empty() && s.size() < 10 && s.find_first_not_of("0123456789") == std::string::npos;
}

}  // namespace

const char* ExecutionModeName(ExecutionMode mode) {
  switch (mode) {
    case ExecutionMode::kLocal:
      return "local";
    case ExecutionMode::kRemote:
      return "remote";
    case ExecutionMode::kSplit:
      return "split";
    case ExecutionMode::kAuto:
      return "auto";
    case ExecutionMode::kAutoNoLoad:
      return "auto-noload";
    case ExecutionMode::kCollab:
      return "collab";
  }
  return "unknown";
}

Cut Cut::Remote() {
  Cut c;
  c.kind_ = Kind::kRemote;
  return c;
}

Cut Cut::AfterNodes(int64_t nodes) {
  Cut c;
  c.kind_ = Kind::kAfterNodes;
  c.nodes_ = nodes < 0 ? 0 : nodes;
  return c;
}

Cut Cut::AtTensors(std::vector<std::string> tensors) {
  Cut c;
  c.kind_ = Kind::kAtTensors;
  c.tensors_ = std::move(tensors);
  return c;
}

Result<Cut> Cut::Parse(std::string_view text) {
  if (text == "local") return Cut::Local();
  if (text == "remote") return Cut::Remote();
  if (text.substr(0, kSplitPrefix.size()) == kSplitPrefix) {
    const std::string_view spec = text.substr(kSplitPrefix.size());
    if (IsNodeCount(spec)) return Cut::AfterNodes(std::stoll(std::string(spec)));
    std::vector<std::string> names;
    size_t start = 0;
    while (start <= spec.size()) {
      size_t end = spec.find(',', start);
      if (end == std::string_view::npos) end = spec.size();
      if (end == start) {
        return Status::InvalidArgument("cut '" + std::string(text) + "' has an empty tensor name");
      }
      names.emplace_back(spec.substr(start, end - start));
      start = end + 1;
    }
    return Cut::AtTensors(std::move(names));
  }
  return Status::InvalidArgument("unknown cut '" + std::string(text) +
                                 "' (expected local, remote, split:N or split:NAME[,NAME...])");
}

std::string Cut::ToString() const {
  switch (kind_) {
    case Kind::kLocal:
      return "local";
    case Kind::kRemote:
      return "remote";
    case Kind::kAfterNodes:
      return std::string(kSplitPrefix) + std::to_string(nodes_);
    case Kind::kAtTensors: {
      std::string text(kSplitPrefix);
      for (size_t i = 0; i < tensors_.size(); ++i) text += (i ? "," : "") + tensors_[i];
      return text;
    }
  }
  return "local";
}

Status ParseExecutionMode(std::string_view text, ExecutionMode* mode, Cut* cut) {
  *cut = Cut::Local();
  if (text == "local") {
    *mode = ExecutionMode::kLocal;
  } else if (text == "remote") {
    *mode = ExecutionMode::kRemote;
  } else if (text == "auto") {
    *mode = ExecutionMode::kAuto;
  } else if (text == "auto-noload") {
    *mode = ExecutionMode::kAutoNoLoad;
  } else if (text == "collab") {
    *mode = ExecutionMode::kCollab;
  } else if (text.substr(0, kSplitPrefix.size()) == kSplitPrefix &&
             text.size() > kSplitPrefix.size()) {
    Result<Cut> parsed = Cut::Parse(text);
    if (!parsed.ok()) {
      return Status::InvalidArgument("session mode '" + std::string(text) +
                                     "': " + parsed.status().message() + "; " + kModeForms);
    }
    *mode = ExecutionMode::kSplit;
    *cut = std::move(parsed).value();
  } else {
    return Status::InvalidArgument("unknown session mode '" + std::string(text) + "' (" +
                                   kModeForms + ")");
  }
  return Status::Ok();
}

std::string ExecutionModeText(ExecutionMode mode, const Cut& cut) {
  // A split at a trivial cut reads as the mode that runs the same way ("local", "remote").
  return mode == ExecutionMode::kSplit ? cut.ToString() : ExecutionModeName(mode);
}

}  // namespace edgeinfer
