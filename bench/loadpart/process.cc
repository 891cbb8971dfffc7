#include "loadpart/process.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace edgeinfer::bench {
namespace {

// Live children, read by the signal handler (async-signal-safe: plain atomics and kill()).
constexpr int kMaxChildren = 64;
std::array<std::atomic<pid_t>, kMaxChildren> g_children{};

void Register(pid_t pid) {
  for (auto& slot : g_children) {
    pid_t empty = 0;
    if (slot.compare_exchange_strong(empty, pid)) return;
  }
}

void Unregister(pid_t pid) {
  for (auto& slot : g_children) {
    pid_t expected = pid;
    if (slot.compare_exchange_strong(expected, 0)) return;
  }
}

void OnSignal(int sig) {
  for (auto& slot : g_children) {
    const pid_t pid = slot.load();
    if (pid > 0) kill(pid, SIGKILL);
  }
  _exit(128 + sig);
}

}  // namespace

void InstallCleanupHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);
  // A dead worker must surface as an error on its pipe, not kill us.
  signal(SIGPIPE, SIG_IGN);
}

namespace {

// `cpus` as a cpu_set_t. Errors: a CPU number out of range.
Status ToCpuSet(const std::vector<int>& cpus, cpu_set_t* set) {
  CPU_ZERO(set);
  for (int c : cpus) {
    if (c < 0 || c >= CPU_SETSIZE) {
      return Status::InvalidArgument("CPU " + std::to_string(c) + " is out of range");
    }
    CPU_SET(c, set);
  }
  return Status::Ok();
}

}  // namespace

Status PinToCpus(const std::vector<int>& cpus) {
  if (cpus.empty()) return Status::InvalidArgument("no CPU to pin to");
  cpu_set_t set;
  EI_RETURN_IF_ERROR(ToCpuSet(cpus, &set));
  if (sched_setaffinity(0, sizeof set, &set) != 0) {
    return Status::InvalidArgument("sched_setaffinity failed (a CPU this process may not use?)");
  }
  return Status::Ok();
}

Result<std::vector<int>> ParseCpuList(const std::string& text) {
  std::vector<int> cpus;
  std::stringstream ss(text);
  std::string item;
  auto number = [](const std::string& s, int* out) {
    if (s.empty() || s.size() > 4 || s.find_first_not_of("0123456789") != std::string::npos) {
      return false;
    }
    *out = std::stoi(s);
    return *out < CPU_SETSIZE;
  };
  while (std::getline(ss, item, ',')) {
    const size_t dash = item.find('-');
    int lo = 0, hi = 0;
    const bool ok = dash == std::string::npos
                        ? number(item, &lo) && number(item, &hi)
                        : number(item.substr(0, dash), &lo) && number(item.substr(dash + 1), &hi);
    if (!ok || hi < lo) return Status::InvalidArgument("bad CPU list item '" + item + "'");
    for (int c = lo; c <= hi; ++c) cpus.push_back(c);
  }
  if (cpus.empty()) return Status::InvalidArgument("empty CPU list '" + text + "'");
  return cpus;
}

Result<std::unique_ptr<ChildProcess>> ChildProcess::Start(const std::vector<std::string>& argv,
                                                          bool pipes, const std::string& log_path,
                                                          int nice, const std::vector<int>& cpus) {
  std::unique_ptr<ChildProcess> child(new ChildProcess());
  child->log_path_ = log_path;
  int to_child[2] = {-1, -1}, from_child[2] = {-1, -1};
  if (pipes && (pipe2(to_child, O_CLOEXEC) != 0 || pipe2(from_child, O_CLOEXEC) != 0)) {
    return Status::Internal("pipe failed");
  }
  int log = -1;
  if (!log_path.empty()) {
    log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (log < 0) return Status::Internal("cannot create " + log_path);
  }
  std::vector<std::string> args = argv;
  std::vector<char*> cargv;
  for (std::string& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  // Built before fork(): the child only makes the system call.
  cpu_set_t cpu_set;
  EI_RETURN_IF_ERROR(ToCpuSet(cpus, &cpu_set));
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) return Status::Internal("fork failed");
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    // The benchmark's handlers must not run in the child.
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    if (pipes) {
      dup2(to_child[0], STDIN_FILENO);
      dup2(from_child[1], STDOUT_FILENO);
    } else if (log >= 0) {
      dup2(log, STDOUT_FILENO);
    }
    if (log >= 0) dup2(log, STDERR_FILENO);
    if (nice > 0) setpriority(PRIO_PROCESS, 0, nice);
    if (!cpus.empty() && sched_setaffinity(0, sizeof cpu_set, &cpu_set) != 0) _exit(126);
    execv(cargv[0], cargv.data());
    _exit(127);
  }
  if (log >= 0) close(log);
  if (pipes) {
    close(to_child[0]);
    close(from_child[1]);
    child->in_fd_ = to_child[1];
    child->out_fd_ = from_child[0];
  }
  child->pid_ = pid;
  Register(pid);
  return child;
}

ChildProcess::~ChildProcess() { Kill(); }

bool ChildProcess::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    Unregister(pid_);
    pid_ = -1;
    return false;
  }
  return true;
}

void ChildProcess::Kill() {
  if (in_fd_ >= 0) close(in_fd_);
  if (out_fd_ >= 0) close(out_fd_);
  in_fd_ = out_fd_ = -1;
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  Unregister(pid_);
  pid_ = -1;
}

Status ChildProcess::WriteLine(const std::string& line) {
  if (in_fd_ < 0) return Status::FailedPrecondition("child has no stdin pipe");
  std::string data = line + "\n";
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = write(in_fd_, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::Unavailable("the device worker is gone (write failed)");
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Result<std::string> ChildProcess::ReadLine(int timeout_ms) {
  if (out_fd_ < 0) return Status::FailedPrecondition("child has no stdout pipe");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    const size_t nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) {
      return Status(StatusCode::kDeadlineExceeded,
                    "no reply from the device worker within " + std::to_string(timeout_ms) + " ms");
    }
    pollfd p{out_fd_, POLLIN, 0};
    const int ready = poll(&p, 1, static_cast<int>(left));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    char chunk[4096];
    const ssize_t n = read(out_fd_, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::Unavailable("the device worker exited");
    buffer_.append(chunk, static_cast<size_t>(n));
  }
}

Result<std::string> ChildProcess::WaitForLogValue(const std::string& marker, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string log = Log();
    const size_t at = log.find(marker);
    if (at != std::string::npos) {
      const size_t end = log.find_first_of(" \n", at + marker.size());
      if (end != std::string::npos) return log.substr(at + marker.size(), end - at - marker.size());
    }
    if (!Running()) return Status::Unavailable("child exited; output:\n" + log);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Status::Unavailable("'" + marker + "' not seen within " + std::to_string(timeout_ms) +
                             " ms; output:\n" + Log());
}

std::string ChildProcess::Log() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace edgeinfer::bench
