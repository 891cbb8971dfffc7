#include "server/grpc_guard.h"

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>

#include <atomic>

#include "server/auth.h"

namespace edgeinfer::server {

namespace {

constexpr char kAuthorization[] = "authorization";

// What a processor needs; `stopping` outlives the server (it is ServerState::stopping).
struct Gate {
  std::set<std::string> tokens;
  const std::atomic<bool>* stopping = nullptr;
};

// The check shared by both processors: OK, or the status to refuse the call with.
grpc::Status Check(const std::string* header, const Gate& gate) {
  // During shutdown every new call is refused here, before gRPC's own shutdown would cancel
  // it (CANCELLED tells a client nothing; UNAVAILABLE says "try another server").
  if (gate.stopping != nullptr && gate.stopping->load(std::memory_order_acquire)) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down");
  }
  Status s = CheckBearer(header, gate.tokens);
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, s.message());
}

// For plaintext: gRPC's C++ InsecureServerCredentials cannot take a processor, but the core's
// insecure credentials can. Runs synchronously on the transport thread (the check is a few
// hashes, it never blocks).
class InsecureGuardedCredentials final : public grpc::ServerCredentials {
 public:
  explicit InsecureGuardedCredentials(Gate gate) : gate_(std::move(gate)) {}

  void SetAuthMetadataProcessor(const std::shared_ptr<grpc::AuthMetadataProcessor>&) override {}

 private:
  int AddPortToServer(const std::string& addr, grpc_server* server) override {
    grpc_server_credentials* creds = grpc_insecure_server_credentials_create();
    grpc_auth_metadata_processor processor;
    processor.process = &Process;
    processor.destroy = &Destroy;
    // Each credentials object owns a copy: gRPC destroys the state with the credentials.
    processor.state = new Gate(gate_);
    grpc_server_credentials_set_auth_metadata_processor(creds, processor);
    const int port = grpc_server_add_http2_port(server, addr.c_str(), creds);
    grpc_server_credentials_release(creds);
    return port;
  }

  static void Process(void* state, grpc_auth_context*, const grpc_metadata* md, size_t num_md,
                      grpc_process_auth_metadata_done_cb cb, void* user_data) {
    const Gate& gate = *static_cast<const Gate*>(state);
    std::string header;
    bool has_header = false;
    for (size_t i = 0; i < num_md; ++i) {
      const grpc_slice& key = md[i].key;
      const std::string k(reinterpret_cast<const char*>(GRPC_SLICE_START_PTR(key)),
                          GRPC_SLICE_LENGTH(key));
      if (k != kAuthorization) continue;
      const grpc_slice& value = md[i].value;
      header.assign(reinterpret_cast<const char*>(GRPC_SLICE_START_PTR(value)),
                    GRPC_SLICE_LENGTH(value));
      has_header = true;
      break;
    }
    const grpc::Status status = Check(has_header ? &header : nullptr, gate);
    cb(user_data, nullptr, 0, nullptr, 0, static_cast<grpc_status_code>(status.error_code()),
       status.ok() ? nullptr : status.error_message().c_str());
  }

  static void Destroy(void* state) { delete static_cast<Gate*>(state); }

  const Gate gate_;
};

// For TLS: the C++ processor interface of SslServerCredentials, run inline (not blocking).
class TokenProcessor final : public grpc::AuthMetadataProcessor {
 public:
  explicit TokenProcessor(Gate gate) : gate_(std::move(gate)) {}
  bool IsBlocking() const override { return false; }
  grpc::Status Process(const InputMetadata& metadata, grpc::AuthContext*, OutputMetadata*,
                       OutputMetadata*) override {
    auto it = metadata.find(kAuthorization);
    std::string header;
    if (it != metadata.end()) header.assign(it->second.data(), it->second.size());
    return Check(it != metadata.end() ? &header : nullptr, gate_);
  }

 private:
  const Gate gate_;
};

class MalformedRequestInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit MalformedRequestInterceptor(std::string method) : method_(std::move(method)) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      const grpc::Status status = methods->GetSendStatus();
      if (status.error_code() == grpc::StatusCode::INTERNAL && status.error_message().empty()) {
        methods->ModifySendStatus(grpc::Status(
            grpc::StatusCode::INVALID_ARGUMENT,
            "the request message of " + method_ +
                " could not be parsed: not a valid protobuf encoding of the request (truncated, "
                "malformed, or a string field with invalid UTF-8)"));
      }
    }
    methods->Proceed();
  }

 private:
  const std::string method_;
};

}  // namespace

std::shared_ptr<grpc::ServerCredentials> GuardedCredentials(const std::set<std::string>& tokens,
                                                            const std::atomic<bool>* stopping,
                                                            const std::string& cert,
                                                            const std::string& key) {
  Gate gate{tokens, stopping};
  if (!cert.empty()) {
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({key, cert});
    std::shared_ptr<grpc::ServerCredentials> credentials = grpc::SslServerCredentials(ssl);
    credentials->SetAuthMetadataProcessor(std::make_shared<TokenProcessor>(std::move(gate)));
    return credentials;
  }
  return std::make_shared<InsecureGuardedCredentials>(std::move(gate));
}

grpc::experimental::Interceptor* MalformedRequestInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new MalformedRequestInterceptor(info->method() != nullptr ? info->method() : "the call");
}

}  // namespace edgeinfer::server
