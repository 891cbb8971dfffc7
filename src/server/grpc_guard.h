// What stands in front of the gRPC service: authentication before a request's body is read,
// and the status of requests the service never sees.
//
// Tokens are checked by an auth metadata processor, which gRPC runs on a call's headers before
// it reads the call's message. A call without a valid token is refused with UNAUTHENTICATED and
// its message is never received into memory or parsed: an unauthenticated peer gets a message
// limit of zero bytes. (The service still checks the token itself as well.)
#ifndef EDGEINFER_SERVER_GRPC_GUARD_H_
#define EDGEINFER_SERVER_GRPC_GUARD_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_interceptor.h>

#include <atomic>
#include <memory>
#include <set>
#include <string>

namespace edgeinfer::server {

// Server credentials, plaintext or TLS (PEM `cert` and `key`, both empty for plaintext), that
// refuse, before the call's message is read, every call whose "authorization" metadata is not
// "Bearer <token>" for one of `tokens` (UNAUTHENTICATED; no tokens: no check), and every call
// once `*stopping` is set (UNAVAILABLE: gRPC's own shutdown would cancel calls that arrive
// meanwhile, and CANCELLED does not tell a client to go elsewhere). `tokens` is copied;
// `stopping` (may be null) must outlive the server.
std::shared_ptr<grpc::ServerCredentials> GuardedCredentials(const std::set<std::string>& tokens,
                                                            const std::atomic<bool>* stopping,
                                                            const std::string& cert,
                                                            const std::string& key);

// An interceptor that gives a request gRPC could not parse INVALID_ARGUMENT naming the method
// and the problem, instead of gRPC's INTERNAL with an empty message. (The service never sends
// INTERNAL without a message: ToGrpc fills one in.)
class MalformedRequestInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;
};

}  // namespace edgeinfer::server

#endif  // EDGEINFER_SERVER_GRPC_GUARD_H_
