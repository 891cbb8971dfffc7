#include "backend/cpu/cpu_backend.h"

#include "backend/cpu/cpu_compiler.h"
#include "core/parallel.h"

namespace edgeinfer {
namespace {

class CpuBackend : public Backend {
 public:
  const char* name() const override { return "cpu"; }
  Result<std::unique_ptr<Executable>> Compile(Graph graph,
                                              const CompileOptions& options) const override {
    // oneDNN sizes its kernels for the thread count current at primitive creation.
    if (options.threads > 0) SetNumThreads(options.threads);
    cpu::Compiler compiler(std::move(graph), options.threads);
    return compiler.Compile();
  }
};

}  // namespace

const Backend* GetCpuBackend() {
  static const CpuBackend* backend = new CpuBackend();
  return backend;
}

}  // namespace edgeinfer
