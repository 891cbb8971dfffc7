// Edge server security: bearer tokens, upload switch, message size limit, TLS.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "server_test_util.h"

namespace edgeinfer {
namespace {

using testing::LocalOptions;
using testing::TempDir;
using testing::TinyModelBytes;
using testing::WriteModel;

grpc::Status Live(inference::GRPCInferenceService::Stub* stub, const std::string& token) {
  grpc::ClientContext ctx;
  if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
  inference::ServerLiveResponse res;
  return stub->ServerLive(&ctx, {}, &res);
}

TEST(ServerSecurityTest, TokensAreRequiredOnEveryRpc) {
  TempDir dir;
  std::ofstream(dir.path() / "tokens") << "# comment\nsecret-one\n\n  secret-two  \n";
  server::EdgeServer edge;
  server::ServerOptions options = LocalOptions("");
  options.token_file = (dir.path() / "tokens").string();
  ASSERT_TRUE(edge.Start(options).ok());
  auto stub = testing::Connect(edge.ports().grpc);
  EXPECT_EQ(Live(stub.get(), "").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Live(stub.get(), "wrong").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(Live(stub.get(), "secret-one").ok());
  EXPECT_TRUE(Live(stub.get(), "secret-two").ok());
  grpc::ClientContext ctx;  // inference is refused before the model is even looked up
  inference::ModelInferRequest req;
  req.set_model_name("none");
  inference::ModelInferResponse res;
  EXPECT_EQ(stub->ModelInfer(&ctx, req, &res).error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST(ServerSecurityTest, MissingTokenFileFailsStart) {
  server::EdgeServer edge;
  server::ServerOptions options = LocalOptions("");
  options.token_file = "/nonexistent/tokens";
  EXPECT_EQ(edge.Start(options).code(), StatusCode::kNotFound);
}

TEST(ServerSecurityTest, UploadRefusedUnlessEnabled) {
  server::EdgeServer edge;
  ASSERT_TRUE(edge.Start(LocalOptions("")).ok());
  auto stub = testing::Connect(edge.ports().grpc);
  grpc::ClientContext ctx;
  inference::RepositoryModelLoadRequest req;
  req.set_model_name("tiny");
  (*req.mutable_parameters())["file:1/model.onnx"].set_bytes_param(TinyModelBytes());
  inference::RepositoryModelLoadResponse res;
  EXPECT_EQ(stub->RepositoryModelLoad(&ctx, req, &res).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST(ServerSecurityTest, OversizedMessagesAndModelsAreRefused) {
  TempDir dir;
  WriteModel(dir.path(), "tiny", TinyModelBytes());
  server::EdgeServer edge;
  server::ServerOptions options = LocalOptions(dir.path().string());
  options.max_message_bytes = 64 * 1024;
  options.max_model_bytes = 1024;  // smaller than the tiny model
  options.allow_upload = true;
  ASSERT_TRUE(edge.Start(options).ok());
  auto stub = testing::Connect(edge.ports().grpc);
  {
    grpc::ClientContext ctx;
    inference::ModelInferRequest req;
    req.set_model_name("tiny");
    req.add_raw_input_contents(std::string(128 * 1024, '\0'));
    inference::ModelInferResponse res;
    EXPECT_EQ(stub->ModelInfer(&ctx, req, &res).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  }
  {
    grpc::ClientContext ctx;
    inference::RepositoryModelLoadRequest req;
    req.set_model_name("big");
    (*req.mutable_parameters())["file:1/model.onnx"].set_bytes_param(std::string(4096, 'x'));
    inference::RepositoryModelLoadResponse res;
    EXPECT_EQ(stub->RepositoryModelLoad(&ctx, req, &res).error_code(),
              grpc::StatusCode::RESOURCE_EXHAUSTED);
  }
  // The repository model was over the model limit too: listed unavailable with a reason.
  grpc::ClientContext ctx;
  inference::RepositoryIndexResponse index;
  ASSERT_TRUE(stub->RepositoryIndex(&ctx, {}, &index).ok());
  ASSERT_EQ(index.models_size(), 1);
  EXPECT_EQ(index.models(0).state(), "UNAVAILABLE");
  EXPECT_NE(index.models(0).reason().find("limit"), std::string::npos);
  EXPECT_TRUE(Live(stub.get(), "").ok());  // still serving
}

std::string ReadAll(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(ServerSecurityTest, TlsWithGeneratedCertificate) {
  TempDir dir;
  const std::string cert = (dir.path() / "cert.pem").string();
  const std::string key = (dir.path() / "key.pem").string();
  const std::string cmd =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
      "-addext subjectAltName=DNS:localhost -keyout " +
      key + " -out " + cert + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[256];
  while (fgets(buf, sizeof(buf), p) != nullptr) {
  }
  ASSERT_EQ(pclose(p), 0) << "openssl failed";
  server::EdgeServer edge;
  server::ServerOptions options = LocalOptions("");
  options.tls_cert = cert;
  options.tls_key = key;
  ASSERT_TRUE(edge.Start(options).ok());
  const std::string target = "127.0.0.1:" + std::to_string(edge.ports().grpc);
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadAll(cert);
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("localhost");
  auto secure = inference::GRPCInferenceService::NewStub(
      grpc::CreateCustomChannel(target, grpc::SslCredentials(ssl), args));
  EXPECT_TRUE(Live(secure.get(), "").ok());
  // A plaintext client cannot talk to the TLS port.
  auto plain = testing::Connect(edge.ports().grpc);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  inference::ServerLiveResponse res;
  EXPECT_FALSE(plain->ServerLive(&ctx, {}, &res).ok());
}

}  // namespace
}  // namespace edgeinfer
