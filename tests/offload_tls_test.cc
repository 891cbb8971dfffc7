// The device client over TLS: a Session and `edgeinfer run --tls-ca` reach a server started with
// `serve --tls-cert/--tls-key` (a self-signed certificate made here with the openssl CLI), and a
// client that does not trust the certificate is refused with a clear error.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>

#include "edgeinfer/session.h"
#include "offload_util.h"
#include "server_test_util.h"
#include "shell_util.h"

namespace edgeinfer::testing {
namespace {

class OffloadTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cert_ = (dir_.path() / "cert.pem").string();
    key_ = (dir_.path() / "key.pem").string();
    Outcome made = Shell(
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
        "-addext subjectAltName=DNS:localhost -keyout " +
        key_ + " -out " + cert_);
    ASSERT_EQ(made.exit_code, 0) << made.output;
    auto server = EdgeServerProcess::Start(EDGEINFER_CLI, dir_.path().string(),
                                           {"--tls-cert", cert_, "--tls-key", key_});
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    // The certificate names localhost, so the client must dial that name, not 127.0.0.1.
    const std::string& address = server_->grpc_address();
    port_ = address.substr(address.rfind(':') + 1);
  }

  static std::vector<NamedTensor> Input() {
    Tensor x = Tensor::Empty(DType::kFloat32, {1, 3, 8, 8});
    float* p = x.data<float>();
    for (int64_t i = 0; i < x.numel(); ++i) p[i] = static_cast<float>(i % 7) * 0.1f;
    return {{"x", x}};
  }

  TempDir dir_;
  std::string cert_, key_, port_;
  std::unique_ptr<EdgeServerProcess> server_;
};

TEST_F(OffloadTlsTest, SessionWithTheCaMatchesLocalAndUntrustedIsRefused) {
  const std::string model = TinyModelBytes();
  SessionOptions o;
  o.threads = 1;
  o.mode = ExecutionMode::kLocal;
  auto local = Session::OpenFromBytes(model, ".", o);
  ASSERT_TRUE(local.ok()) << local.status().ToString();
  auto expected = (*local)->Run(Input());
  ASSERT_TRUE(expected.ok());

  o.mode = ExecutionMode::kRemote;
  o.timeout_ms = 20000;
  o.accelerator = "grpcs://localhost:" + port_;
  o.tls_ca_file = cert_;
  auto remote = Session::OpenFromBytes(model, ".", o);
  ASSERT_TRUE(remote.ok()) << remote.status().ToString() << "\n" << server_->Log();
  auto got = (*remote)->Run(Input());
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 1u);
  // Same kernels and thread count on both sides: the tensors agree to float32 rounding.
  const Tensor& a = (*got)[0].tensor;
  const Tensor& b = (*expected)[0].tensor;
  ASSERT_EQ(a.shape(), b.shape());
  for (int64_t i = 0; i < a.numel(); ++i) {
    EXPECT_NEAR(a.data<float>()[i], b.data<float>()[i], 1e-5f) << "element " << i;
  }

  // Without the CA (system roots only) the self-signed certificate is not trusted.
  o.tls_ca_file.clear();
  o.timeout_ms = 5000;
  auto untrusted = Session::OpenFromBytes(model, ".", o);
  ASSERT_FALSE(untrusted.ok());
  EXPECT_EQ(untrusted.status().code(), StatusCode::kUnavailable) << untrusted.status().ToString();
  // A plaintext client cannot use the TLS port either.
  o.accelerator = "grpc://localhost:" + port_;
  EXPECT_FALSE(Session::OpenFromBytes(model, ".", o).ok());
}

TEST_F(OffloadTlsTest, CliRunsRemoteWithTlsCa) {
  const std::string model = (dir_.path() / "tiny.onnx").string();
  {
    std::ofstream out(model, std::ios::binary);
    out << TinyModelBytes();
  }
  Outcome run = Shell(std::string(EDGEINFER_CLI) + " run " + model + " --edge localhost:" + port_ +
                      " --tls-ca " + cert_ + " --mode remote --threads 1 --json");
  EXPECT_EQ(run.exit_code, 0) << run.output << "\n" << server_->Log();
  EXPECT_NE(run.output.find("\"mode\""), std::string::npos) << run.output;
  Outcome refused =
      Shell(std::string(EDGEINFER_CLI) + " run " + model + " --edge grpcs://localhost:" + port_ +
            " --mode remote --timeout-ms 5000");
  EXPECT_NE(refused.exit_code, 0) << refused.output;
}

}  // namespace
}  // namespace edgeinfer::testing
