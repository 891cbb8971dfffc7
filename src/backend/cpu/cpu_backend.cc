#include "backend/cpu/cpu_backend.h"

#include "backend/cpu/cpu_compiler.h"
#include "core/parallel.h"
#include "ir/flops.h"

namespace edgeinfer {
namespace {

// Models with fewer FLOPs than this are compiled and run on one thread (see Compile).
constexpr double kOneThreadMaxFlops = 150e6;

class CpuBackend : public Backend {
 public:
  const char* name() const override { return "cpu"; }
  Result<std::unique_ptr<Executable>> Compile(Graph graph,
                                              const CompileOptions& options) const override {
    int threads = options.threads;
    // A model this small runs on one thread: at batch 1 each of its primitives lasts a few
    // microseconds, about a fork/join of the OpenMP team, so more threads mostly add barriers
    // (docs/benchmarks.md, 2026-12-05: PaddleOCR's 35 MFLOP angle classifier 0.68 ms on one
    // thread, 2.56 ms on two; MobileNetV3-small, 115 MFLOP, 1.46 ms and 3.18 ms).
    double flops = 0.0;
    for (const Node& node : graph.nodes()) {
      if (!node.removed) flops += NodeFlops(graph, node);
    }
    if (flops < kOneThreadMaxFlops) threads = 1;
    // oneDNN sizes its kernels for the thread count current at primitive creation.
    if (threads > 0) SetNumThreads(threads);
    cpu::Compiler compiler(std::move(graph), threads);
    return compiler.Compile();
  }
};

}  // namespace

const Backend* GetCpuBackend() {
  static const CpuBackend* backend = new CpuBackend();
  return backend;
}

}  // namespace edgeinfer
