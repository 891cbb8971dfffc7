// The KServe v2 / Triton gRPC service (GRPCInferenceService) over a ServerState.
//
// Every RPC first checks the bearer token (when tokens are configured). Thread safe: gRPC's
// synchronous server calls the methods from its own thread pool; compute happens on the
// scheduler's workers.
#ifndef EDGEINFER_SERVER_GRPC_SERVICE_H_
#define EDGEINFER_SERVER_GRPC_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "inference.grpc.pb.h"
#include "server/inference.h"

namespace edgeinfer::server {

// Name, version and protocol extensions reported by ServerMetadata (and HTTP GET /v2).
extern const char kServerName[];
extern const char kServerVersion[];
// ModelConfig parameter carrying the load-time per-step profile as a JSON array of
// {"name", "op", "ms"} in execution order (docs/protocol.md).
const std::vector<std::string>& ServerExtensions();

// Maps an edgeinfer Status to gRPC one to one (the codes are gRPC's).
grpc::Status ToGrpc(const Status& status);

class GrpcService final : public inference::GRPCInferenceService::Service {
 public:
  explicit GrpcService(const ServerState* state) : state_(state) {}

  grpc::Status ServerLive(grpc::ServerContext* context, const inference::ServerLiveRequest* request,
                          inference::ServerLiveResponse* response) override;
  grpc::Status ServerReady(grpc::ServerContext* context,
                           const inference::ServerReadyRequest* request,
                           inference::ServerReadyResponse* response) override;
  grpc::Status ModelReady(grpc::ServerContext* context, const inference::ModelReadyRequest* request,
                          inference::ModelReadyResponse* response) override;
  grpc::Status ServerMetadata(grpc::ServerContext* context,
                              const inference::ServerMetadataRequest* request,
                              inference::ServerMetadataResponse* response) override;
  grpc::Status ModelMetadata(grpc::ServerContext* context,
                             const inference::ModelMetadataRequest* request,
                             inference::ModelMetadataResponse* response) override;
  grpc::Status ModelInfer(grpc::ServerContext* context, const inference::ModelInferRequest* request,
                          inference::ModelInferResponse* response) override;
  grpc::Status ModelConfig(grpc::ServerContext* context,
                           const inference::ModelConfigRequest* request,
                           inference::ModelConfigResponse* response) override;
  grpc::Status ModelStatistics(grpc::ServerContext* context,
                               const inference::ModelStatisticsRequest* request,
                               inference::ModelStatisticsResponse* response) override;
  grpc::Status RepositoryIndex(grpc::ServerContext* context,
                               const inference::RepositoryIndexRequest* request,
                               inference::RepositoryIndexResponse* response) override;
  grpc::Status RepositoryModelLoad(grpc::ServerContext* context,
                                   const inference::RepositoryModelLoadRequest* request,
                                   inference::RepositoryModelLoadResponse* response) override;
  grpc::Status RepositoryModelUnload(grpc::ServerContext* context,
                                     const inference::RepositoryModelUnloadRequest* request,
                                     inference::RepositoryModelUnloadResponse* response) override;

 private:
  Status Authorize(const grpc::ServerContext* context) const;

  const ServerState* const state_;
};

}  // namespace edgeinfer::server

#endif  // EDGEINFER_SERVER_GRPC_SERVICE_H_
