#include "backend/profile.h"

#include <algorithm>
#include <string>

#include "ir/flops.h"

namespace edgeinfer {

Result<std::vector<StepProfile>> ProfileSteps(const Executable& executable,
                                              const std::vector<Tensor>& inputs, int repeat) {
  std::vector<Tensor> outs;
  EI_RETURN_IF_ERROR(executable.Run(inputs, &outs));
  std::vector<std::vector<StepTiming>> runs;
  for (int r = 0; r < std::max(1, repeat); ++r) {
    std::vector<StepTiming> timings;
    EI_RETURN_IF_ERROR(executable.RunProfiled(inputs, &outs, &timings));
    runs.push_back(std::move(timings));
  }
  const Graph& g = executable.graph();
  std::vector<StepProfile> steps;
  for (size_t s = 0; s < runs[0].size(); ++s) {
    StepProfile step;
    step.nodes = runs[0][s].nodes;
    NodeProfile& p = step.profile;
    for (int n : step.nodes) {
      const Node& node = g.nodes()[static_cast<size_t>(n)];
      p.name += (p.name.empty() ? "" : "+") + node.name;
      p.op += (p.op.empty() ? "" : "+") + std::string(OpName(node.op));
      p.flops += NodeFlops(g, node);
    }
    if (!step.nodes.empty()) {
      const Node& last = g.nodes()[static_cast<size_t>(step.nodes.back())];
      if (!last.outputs.empty() && last.outputs[0] >= 0) {
        const Value& v = g.value(last.outputs[0]);
        p.output_shape = v.shape;
        p.output_bytes = NumElements(v.shape) * static_cast<int64_t>(DTypeSize(v.dtype));
      }
    }
    // Every run executes the same steps; a run that somehow has fewer is not counted for them.
    std::vector<double> ms;
    for (const auto& run : runs) {
      if (s < run.size()) ms.push_back(run[s].ms);
    }
    std::sort(ms.begin(), ms.end());
    p.median_ms = ms[ms.size() / 2];
    p.reference = runs[0][s].reference;
    steps.push_back(std::move(step));
  }
  return steps;
}

}  // namespace edgeinfer
