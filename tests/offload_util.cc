#include "offload_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace edgeinfer::testing {

Result<std::unique_ptr<EdgeServerProcess>> EdgeServerProcess::Start(
    const std::string& cli, const std::string& repository,
    const std::vector<std::string>& extra_args, int wait_ms) {
  std::unique_ptr<EdgeServerProcess> server(new EdgeServerProcess());
  server->log_path_ = repository + "/.server.log";
  std::vector<std::string> args = {
      cli,           "serve",        "--grpc",   "127.0.0.1:0",   "--http",
      "127.0.0.1:0", "--repository", repository, "--allow-upload"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // A log file rather than a pipe: the server may keep writing after we stop reading.
  int log = open(server->log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (log < 0) return Status::Internal("cannot create " + server->log_path_);
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    close(log);
    return Status::Internal("fork failed");
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    dup2(log, STDOUT_FILENO);
    dup2(log, STDERR_FILENO);
    close(log);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(log);
  server->pid_ = pid;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  const std::string marker = "listening grpc=";
  while (std::chrono::steady_clock::now() < deadline) {
    std::string out = server->Log();
    size_t at = out.find(marker);
    if (at != std::string::npos) {
      size_t end = out.find_first_of(" \n", at + marker.size());
      if (end != std::string::npos) {
        server->grpc_address_ = out.substr(at + marker.size(), end - at - marker.size());
        return server;
      }
    }
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      server->pid_ = -1;
      return Status::Unavailable("edge server exited before listening; output:\n" + out);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return Status::Unavailable("edge server did not print its address within " +
                             std::to_string(wait_ms) + " ms; output:\n" + server->Log());
}

EdgeServerProcess::~EdgeServerProcess() { Kill(); }

void EdgeServerProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

Result<int> EdgeServerProcess::Terminate(int wait_ms) {
  if (pid_ <= 0) return Status::FailedPrecondition("the server is not running");
  kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  Kill();
  return Status(StatusCode::kDeadlineExceeded,
                "the server did not exit within " + std::to_string(wait_ms) + " ms of SIGTERM");
}

std::string EdgeServerProcess::Log() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void SharedEdgeServer::Start(const std::string& cli, const std::vector<std::string>& extra_args) {
  Stop();
  // A private mkdtemp directory rather than a TempDir: two test headers define TempDir, and
  // this file is linked into binaries that use either one.
  std::error_code ec;
  const std::filesystem::path tmp = std::filesystem::temp_directory_path(ec);
  if (ec) {
    error_ = "no temporary directory: " + ec.message();
    return;
  }
  std::string tmpl = (tmp / "edgeinfer_edge_XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) {
    error_ = "cannot create a temporary repository from " + tmpl;
    return;
  }
  repository_ = tmpl;
  auto server = EdgeServerProcess::Start(cli, repository_, extra_args);
  if (!server.ok()) {
    error_ = server.status().ToString();
    return;
  }
  server_ = std::move(server).value();
}

void SharedEdgeServer::Stop() {
  server_.reset();
  error_.clear();
  if (repository_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(repository_, ec);
  repository_.clear();
}

std::string BuildDirOf(const std::string& cli) {
  size_t slash = cli.rfind('/');
  return slash == std::string::npos ? "./" : cli.substr(0, slash + 1);
}

Result<std::unique_ptr<Session>> SharedEdgeServer::OpenSession(const std::string& model_path,
                                                               const std::string& mode) const {
  if (server_ == nullptr) return Status::FailedPrecondition("edge server not started: " + error_);
  SessionOptions o;
  o.accelerator = server_->endpoint();
  if (Status s = o.SetMode(mode); !s.ok()) return s;
  o.threads = 1;
  o.timeout_ms = 20000;
  return Session::Open(model_path, o);
}

int ClosedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace edgeinfer::testing
