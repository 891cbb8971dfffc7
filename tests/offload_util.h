// Test helpers for offloading: a real edge server child process on loopback.
#ifndef EDGEINFER_TESTS_OFFLOAD_UTIL_H_
#define EDGEINFER_TESTS_OFFLOAD_UTIL_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "edgeinfer/session.h"
#include "edgeinfer/status.h"

namespace edgeinfer::testing {

// `CLI serve --grpc 127.0.0.1:0 --http 127.0.0.1:0 --repository DIR --allow-upload EXTRA...` as
// a child process. The destructor kills it (SIGKILL) and reaps it, so a failing test never
// leaves a server behind; the child also dies with the test process (PR_SET_PDEATHSIG).
class EdgeServerProcess {
 public:
  // Starts the server and waits (at most `wait_ms`) for its "listening grpc=HOST:PORT" line.
  // Errors carry the server's output.
  static Result<std::unique_ptr<EdgeServerProcess>> Start(
      const std::string& cli, const std::string& repository,
      const std::vector<std::string>& extra_args = {}, int wait_ms = 30000);
  ~EdgeServerProcess();
  EdgeServerProcess(const EdgeServerProcess&) = delete;
  EdgeServerProcess& operator=(const EdgeServerProcess&) = delete;

  const std::string& grpc_address() const { return grpc_address_; }  // "127.0.0.1:PORT"
  std::string endpoint() const { return "grpc://" + grpc_address_; }
  // Kills the server now (SIGKILL) and reaps it.
  void Kill();
  // Sends SIGTERM and waits at most `wait_ms` for the server to exit. Returns the exit code
  // (-1 if it died by a signal); on timeout kills it and returns DeadlineExceeded.
  Result<int> Terminate(int wait_ms);
  // Everything the server wrote to stdout and stderr so far.
  std::string Log() const;

 private:
  EdgeServerProcess() = default;
  pid_t pid_ = -1;
  std::string log_path_;
  std::string grpc_address_;
};

// One edge server shared by a test suite: Start() in SetUpTestSuite, Stop() in
// TearDownTestSuite. Start never fails the suite; it records why the server did not come up, so
// each test can `ASSERT_NE(server_.get(), nullptr) << server_.error()` and report it.
class SharedEdgeServer {
 public:
  SharedEdgeServer() = default;
  ~SharedEdgeServer() { Stop(); }
  SharedEdgeServer(const SharedEdgeServer&) = delete;
  SharedEdgeServer& operator=(const SharedEdgeServer&) = delete;

  // Starts EdgeServerProcess::Start(cli, <fresh temp repository>, extra_args).
  void Start(const std::string& cli, const std::vector<std::string>& extra_args = {});
  // Kills the server, then removes its repository.
  void Stop();
  // Null when Start failed or was not called.
  EdgeServerProcess* get() const { return server_.get(); }
  EdgeServerProcess* operator->() const { return server_.get(); }
  // Why the last Start failed; empty otherwise.
  const std::string& error() const { return error_; }
  // A device Session on `model_path` that offloads to this server in `mode`, with one kernel
  // thread and a 20 s deadline per call (the settings the offload tests share).
  Result<std::unique_ptr<Session>> OpenSession(const std::string& model_path,
                                               const std::string& mode) const;

 private:
  std::string repository_;
  std::unique_ptr<EdgeServerProcess> server_;
  std::string error_;
};

// The directory holding the edgeinfer binary `cli` (the build directory), with a trailing '/'.
std::string BuildDirOf(const std::string& cli);

// A loopback port with nothing listening (bound, read, closed): connections are refused at
// once.
int ClosedPort();

}  // namespace edgeinfer::testing

#endif  // EDGEINFER_TESTS_OFFLOAD_UTIL_H_
