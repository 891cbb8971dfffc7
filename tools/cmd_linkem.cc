// edgeinfer linkem: a TCP relay emulating a link of given rate and delay (testbed/linkem.h).
#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "args.h"
#include "commands.h"
#include "testbed/linkem.h"

namespace edgeinfer::tools {

namespace {

constexpr char kUsage[] =
    "usage: edgeinfer linkem --to HOST:PORT [--listen HOST:PORT] [--rate RATE] [--delay TIME]\n"
    "                        [--trace FILE [--trace-loop TIME]] [--burst BYTES]\n\n"
    "Relays every TCP connection made to --listen (default 127.0.0.1:0; port 0 picks a free\n"
    "port) to --to, through an emulated link: in each direction the bytes pass a token bucket\n"
    "of --rate shared by all connections, then a delay line of --delay (one way, applied in each\n"
    "direction, so the round trip grows by twice --delay). Half-close is forwarded; a refused\n"
    "upstream closes the client's connection. The rate counts TCP payload (tc also counts\n"
    "headers, ~4.5% more).\n\n"
    "  --rate RATE     default unlimited. Units as in tc: bit (or a bare number), kbit, mbit,\n"
    "                  gbit (x1000), kibit, mibit, gibit (x1024); bps, kbps, mbps, gbps are\n"
    "                  BYTES per second. E.g. 20mbit, 512kbit, 2mbps (= 16mbit).\n"
    "  --delay TIME    default 0. Units us, ms, s (a unit is required), e.g. 10ms.\n"
    "  --trace FILE    rate schedule, one step a line: 'TIME_S RATE' (e.g. '0 20mbit',\n"
    "                  '10 5mbit'), times in seconds from start, increasing; '#' comments.\n"
    "                  Before the first step the rate is --rate; after the last it holds,\n"
    "                  unless --trace-loop TIME (longer than the last step) repeats the\n"
    "                  schedule with that period.\n"
    "  --burst BYTES   token bucket depth (default max(16 KiB, 10 ms at the rate)).\n\n"
    "Once listening it prints 'edgeinfer linkem: listening HOST:PORT -> TO rate=RATE\n"
    "delay=Nms' and runs until SIGINT or SIGTERM, then prints the bytes relayed each way.\n";

int UsageError(const std::string& message) {
  std::fprintf(stderr, "edgeinfer linkem: %s (see --help)\n", message.c_str());
  return 2;
}

}  // namespace

int LinkemCommand(int argc, char** argv) {
  Args args({"--listen", "--to", "--rate", "--delay", "--trace", "--trace-loop", "--burst"},
            {"--help", "-h"});
  if (!args.Parse(argc, argv)) return UsageError(args.error());
  if (args.Has("--help") || args.Has("-h")) {
    std::printf("%s", kUsage);
    return 0;
  }
  if (!args.positionals().empty()) {
    return UsageError("unexpected argument '" + args.positionals()[0] + "'");
  }
  if (!args.Has("--to")) return UsageError("--to HOST:PORT is required");
  net::LinkOptions options;
  options.listen = args.Get("--listen", options.listen);
  options.to = args.Get("--to");
  if (args.Has("--rate")) {
    Result<double> rate = ParseRate(args.Get("--rate"));
    if (!rate.ok()) return UsageError("--rate: " + rate.status().message());
    options.rate_bps = *rate;
  }
  if (args.Has("--delay")) {
    Result<double> delay = ParseDurationMs(args.Get("--delay"));
    if (!delay.ok()) return UsageError("--delay: " + delay.status().message());
    options.delay_ms = *delay;
  }
  if (args.Has("--trace")) {
    const std::string path = args.Get("--trace");
    std::ifstream in(path);
    if (!in) return UsageError("--trace: cannot read '" + path + "'");
    std::stringstream text;
    text << in.rdbuf();
    Result<std::vector<net::RateStep>> trace = net::ParseTrace(text.str());
    if (!trace.ok()) return UsageError(path + ": " + trace.status().message());
    if (trace->empty()) return UsageError(path + ": the trace has no steps");
    options.trace = *trace;
  }
  if (args.Has("--trace-loop")) {
    if (options.trace.empty()) return UsageError("--trace-loop needs --trace");
    Result<double> period = ParseDurationMs(args.Get("--trace-loop"));
    if (!period.ok()) return UsageError("--trace-loop: " + period.status().message());
    options.trace_period_s = *period / 1000.0;
  }
  long long burst = 0;
  if (!args.GetInt("--burst", 0, &burst)) return UsageError(args.error());
  if (burst < 0) return UsageError("--burst must be >= 0");
  options.burst_bytes = burst;

  // Signals are taken synchronously here (the relay thread inherits the blocked mask).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Result<std::unique_ptr<net::LinkEmulator>> link = net::LinkEmulator::Start(options);
  if (!link.ok()) {
    std::fprintf(stderr, "edgeinfer linkem: %s\n", link.status().ToString().c_str());
    return 1;
  }
  std::printf("edgeinfer linkem: listening %s -> %s rate=%s delay=%gms%s\n",
              (*link)->address().c_str(), options.to.c_str(),
              net::FormatRate((*link)->rate_bps()).c_str(), options.delay_ms,
              options.trace.empty() ? "" : " trace=on");
  std::fflush(stdout);
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  (*link)->Stop();
  const net::LinkStats stats = (*link)->stats();
  std::fprintf(stderr,
               "edgeinfer linkem: signal %d, stopped; relayed %lld bytes up, %lld bytes down, "
               "%lld connections (%lld refused upstream)\n",
               signal_number, static_cast<long long>(stats.bytes_up),
               static_cast<long long>(stats.bytes_down),
               static_cast<long long>(stats.connections_accepted),
               static_cast<long long>(stats.connections_failed));
  return 0;
}

}  // namespace edgeinfer::tools
