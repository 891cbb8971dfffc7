// Remoting end to end: unchanged CUDA programs (tests/cuda/*.cu, built by nvcc with
// -cudart shared against the installed toolkit) run through the interposer libraries against an
// in-process remoting server with the cpu executor over loopback. Their results match their
// own host computations within relative L2 1e-5 (the programs check and print it); the CNN
// costs one round trip per inference; a user kernel gets the clear error; a dropped connection
// leaves nothing allocated. Skipped when the programs were not built (no nvcc, or the ASan
// build: see EDGEINFER_CUDA_TEST_PROGRAMS in CMakeLists.txt).
#include <gtest/gtest.h>

#include <chrono>
#include <regex>
#include <string>
#include <thread>

#include "remoting/server.h"
#include "shell_util.h"
#include "testbed/linkem.h"

namespace edgeinfer::remoting {
namespace {

#ifdef EDGEINFER_CUDA_PROGRAM_DIR
constexpr const char* kProgramDir = EDGEINFER_CUDA_PROGRAM_DIR;
constexpr const char* kLibDir = EDGEINFER_REMOTING_LIB_DIR;
#else
constexpr const char* kProgramDir = nullptr;
constexpr const char* kLibDir = nullptr;
#endif

constexpr double kTolerance = 1e-5;  // relative L2, checked by the programs and here

class RemotingCudaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (kProgramDir == nullptr) {
      GTEST_SKIP() << "CUDA test programs not built (needs nvcc and the CUDA headers; off in "
                      "the ASan build)";
    }
    RemotingServerOptions options;
    options.address = "127.0.0.1:0";
    options.executor = "cpu";
    options.tokens = {"t0ken"};
    ASSERT_TRUE(server_.Start(options).ok());
  }

  testing::Outcome Run(const std::string& program, const std::string& args = "",
                       const std::string& token = "t0ken", std::string address = "") {
    if (address.empty()) address = "127.0.0.1:" + std::to_string(server_.port());
    const std::string command = "EDGEINFER_REMOTING=" + address +
                                " EDGEINFER_REMOTING_TOKEN=" + token +
                                " EDGEINFER_REMOTING_STATS=1" + " LD_LIBRARY_PATH=" + kLibDir +
                                " " + kProgramDir + "/" + program + " " + args + " 2>&1";
    testing::Outcome out = testing::Shell(command);
    WaitForDrops();
    return out;
  }

  // Waits (up to 30 s; not a timing claim) for the server to release every connection.
  void WaitForDrops() {
    for (int i = 0; i < 3000 && server_.counters().connections_open > 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  static void ExpectWithinTolerance(const std::string& output, int expected_results) {
    std::regex line("rel_l2 (\\S+) (\\S+)");
    int found = 0;
    for (auto it = std::sregex_iterator(output.begin(), output.end(), line);
         it != std::sregex_iterator(); ++it) {
      ++found;
      EXPECT_LE(std::stod((*it)[2]), kTolerance) << (*it)[1];
    }
    EXPECT_EQ(found, expected_results) << output;
  }

  void ExpectNothingLeft() {
    const RemotingCounters c = server_.counters();
    EXPECT_EQ(c.connections_open, 0);
    EXPECT_EQ(c.live_allocations, 0);
    EXPECT_EQ(c.live_bytes, 0);
    EXPECT_EQ(c.live_objects, 0);
  }

  RemotingServer server_;
};

TEST_F(RemotingCudaTest, CublasProgramMatchesItsHostReference) {
  const testing::Outcome out = Run("sgemm");
  EXPECT_EQ(out.exit_code, 0) << out.output;
  EXPECT_NE(out.output.find("PASS"), std::string::npos) << out.output;
  ExpectWithinTolerance(out.output, 4);
  ExpectNothingLeft();
}

TEST_F(RemotingCudaTest, CudnnCnnMatchesItsHostReferenceWithOneRoundTripPerInference) {
  const int64_t before = server_.counters().round_trips;
  const testing::Outcome one = Run("cnn", "1");
  EXPECT_EQ(one.exit_code, 0) << one.output;
  ExpectWithinTolerance(one.output, 1);
  const int64_t after_one = server_.counters().round_trips;
  const testing::Outcome four = Run("cnn", "4");
  EXPECT_EQ(four.exit_code, 0) << four.output;
  ExpectWithinTolerance(four.output, 1);
  const int64_t after_four = server_.counters().round_trips;
  // Three more inferences cost exactly three more round trips: each inference's upload and
  // 18 cuDNN calls are queued and sent with its one synchronising download.
  EXPECT_EQ((after_four - after_one) - (after_one - before), 3);
  ExpectNothingLeft();
}

// The same program through the link emulator (5 ms each way, 50 Mbit/s): the results do not
// depend on the link, and the round trips stay one per inference.
TEST_F(RemotingCudaTest, CnnThroughTheLinkEmulator) {
  net::LinkOptions link;
  link.to = "127.0.0.1:" + std::to_string(server_.port());
  link.delay_ms = 5;
  link.rate_bps = 50e6;
  Result<std::unique_ptr<net::LinkEmulator>> emulator = net::LinkEmulator::Start(link);
  ASSERT_TRUE(emulator.ok()) << emulator.status().ToString();
  const int64_t before = server_.counters().round_trips;
  const testing::Outcome one = Run("cnn", "1", "t0ken", (*emulator)->address());
  const int64_t after_one = server_.counters().round_trips;
  const testing::Outcome three = Run("cnn", "3", "t0ken", (*emulator)->address());
  EXPECT_EQ(one.exit_code, 0) << one.output;
  EXPECT_EQ(three.exit_code, 0) << three.output;
  ExpectWithinTolerance(three.output, 1);
  EXPECT_EQ((server_.counters().round_trips - after_one) - (after_one - before), 2);
  ExpectNothingLeft();
}

TEST_F(RemotingCudaTest, UserKernelGetsTheClearError) {
  const testing::Outcome out = Run("kernel");
  EXPECT_EQ(out.exit_code, 3) << out.output;
  EXPECT_NE(out.output.find("cudaErrorNotSupported"), std::string::npos) << out.output;
  EXPECT_NE(out.output.find("needs a GPU remoting server"), std::string::npos) << out.output;
  EXPECT_NE(out.output.find("VecAdd"), std::string::npos) << out.output;  // the kernel named
  // A call the interposer does not implement: "not supported", logged once by name.
  EXPECT_NE(out.output.find("cudaDeviceSetLimit: cudaErrorNotSupported"), std::string::npos)
      << out.output;
  EXPECT_NE(out.output.find("cudaDeviceSetLimit is not supported"), std::string::npos)
      << out.output;
  ExpectNothingLeft();
}

TEST_F(RemotingCudaTest, CudaRunRunsAProgramAndPrintsStats) {
  const std::string token_file = ::testing::TempDir() + "/remoting_token";
  ASSERT_EQ(testing::Shell("printf '# token\\nt0ken\\n' > " + token_file).exit_code, 0);
  const testing::Outcome out = testing::Shell(
      std::string(EDGEINFER_CLI) + " cuda-run --edge 127.0.0.1:" + std::to_string(server_.port()) +
      " --token-file " + token_file + " --stats --lib-dir " + kLibDir + " -- " + kProgramDir +
      "/cnn 2 2>&1");
  WaitForDrops();
  EXPECT_EQ(out.exit_code, 0) << out.output;
  ExpectWithinTolerance(out.output, 1);
  EXPECT_NE(out.output.find("round trips"), std::string::npos) << out.output;
  ExpectNothingLeft();
}

TEST_F(RemotingCudaTest, CudaRunRefusesAStaticallyLinkedRuntime) {
  const testing::Outcome out = testing::Shell(
      std::string(EDGEINFER_CLI) + " cuda-run --edge 127.0.0.1:" + std::to_string(server_.port()) +
      " --lib-dir " + kLibDir + " -- " + kProgramDir + "/kernel_static 2>&1");
  EXPECT_EQ(out.exit_code, 1) << out.output;
  EXPECT_NE(out.output.find("links the CUDA runtime statically"), std::string::npos) << out.output;
  EXPECT_NE(out.output.find("-cudart shared"), std::string::npos) << out.output;
  EXPECT_EQ(server_.counters().connections_accepted, 0);  // never ran
}

TEST_F(RemotingCudaTest, WrongTokenIsRefusedAndExplained) {
  const testing::Outcome out = Run("sgemm", "", "wrong");
  EXPECT_NE(out.exit_code, 0);
  EXPECT_NE(out.output.find("not accepted"), std::string::npos) << out.output;
  EXPECT_GE(server_.counters().handshakes_refused, 1);
}

}  // namespace
}  // namespace edgeinfer::remoting
