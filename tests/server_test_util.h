// Helpers for the edge server tests (header only, so only the server tests build them): a tiny
// model, temporary repositories, local server options and a gRPC stub.
#ifndef EDGEINFER_TESTS_SERVER_TEST_UTIL_H_
#define EDGEINFER_TESTS_SERVER_TEST_UTIL_H_

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "inference.grpc.pb.h"
#include "onnx/onnx_io.h"
#include "server/server.h"
#include "zoo/builder.h"

namespace edgeinfer::testing {

inline std::string TinyModelBytes() {
  zoo::GraphBuilder b("tiny", 7);
  ValueId x = b.Input("x", {1, 3, 8, 8});
  zoo::ConvOptions c1;
  c1.out_channels = 8;
  c1.kernel = 3;
  c1.pad = 1;
  ValueId h = b.Relu("relu1", b.Conv("conv1", x, c1));
  zoo::ConvOptions c2 = c1;
  c2.out_channels = 4;
  c2.gain = zoo::kGainLinear;
  b.Output(b.Conv("conv2", h, c2), "y");
  Result<Graph> graph = b.Finish();
  EXPECT_TRUE(graph.ok()) << graph.status().ToString();
  Result<std::string> bytes = ExportOnnx(*graph);
  EXPECT_TRUE(bytes.ok()) << bytes.status().ToString();
  return bytes.ok() ? *bytes : std::string();
}

// A fresh temporary directory, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline TempDir::TempDir() {
  static std::atomic<int> counter{0};
  path_ = std::filesystem::temp_directory_path() /
          ("edgeinfer_server_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
  std::filesystem::remove_all(path_);
  std::filesystem::create_directories(path_);
}

inline TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

inline void WriteModel(const std::filesystem::path& repo, const std::string& name,
                       const std::string& bytes) {
  const auto dir = repo / name / "1";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "model.onnx", std::ios::binary) << bytes;
}

inline server::ServerOptions LocalOptions(const std::string& repository) {
  server::ServerOptions o;
  o.grpc_address = "127.0.0.1:0";
  o.http_address = "";
  o.repository = repository;
  o.threads = 1;
  o.workers = 1;
  return o;
}

inline std::unique_ptr<inference::GRPCInferenceService::Stub> Connect(int port) {
  auto channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials());
  return inference::GRPCInferenceService::NewStub(channel);
}

}  // namespace edgeinfer::testing

#endif  // EDGEINFER_TESTS_SERVER_TEST_UTIL_H_
