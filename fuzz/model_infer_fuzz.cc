// Fuzz target: a gRPC ModelInferRequest from its bytes through the service's decoding and
// validation (raw, typed and compressed/quantised inputs) into an inference on a small model,
// exactly as GrpcService::ModelInfer handles it, without a network.
#include <memory>
#include <string>

#include "fuzz_common.h"
#include "onnx/onnx_io.h"
#include "server/grpc_service.h"
#include "server/inference.h"
#include "zoo/builder.h"

namespace {

using namespace edgeinfer;

std::string TinyModel() {
  zoo::GraphBuilder b("tiny", 7);
  ValueId x = b.Input("x", {1, 3, 8, 8});
  zoo::ConvOptions c;
  c.out_channels = 4;
  c.kernel = 3;
  c.pad = 1;
  b.Output(b.Relu("relu", b.Conv("conv", x, c)), "y");
  return *ExportOnnx(*b.Finish());
}

struct Fixture {
  Fixture() {
    server::RepositoryOptions repo;
    repo.max_model_bytes = size_t{1} << 20;
    repo.model.threads = 1;
    repository = std::make_unique<server::ModelRepository>(repo);
    (void)repository->LoadFromBytes("tiny", "1", TinyModel());
    server::SchedulerOptions sched;
    sched.threads = 1;
    scheduler = std::make_unique<server::Scheduler>(sched);
    state.repository = repository.get();
    state.scheduler = scheduler.get();
    state.metrics = &metrics;
    state.max_tensor_bytes = fuzz::kMaxTensorBytes;
    service = std::make_unique<server::GrpcService>(&state);
  }
  std::unique_ptr<server::ModelRepository> repository;
  std::unique_ptr<server::Scheduler> scheduler;
  server::Metrics metrics;
  server::ServerState state;
  std::unique_ptr<server::GrpcService> service;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = (edgeinfer::fuzz::QuietProtobuf(), true);
  (void)quiet;
  static Fixture* fixture = new Fixture();
  inference::ModelInferRequest request;
  // gRPC refuses what does not parse (INVALID_ARGUMENT, server/grpc_guard.h) before the service.
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  grpc::ServerContext context;
  inference::ModelInferResponse response;
  (void)fixture->service->ModelInfer(&context, &request, &response);
  return 0;
}
