// Remoting protocol, server and cpu executor (docs/remoting.md): frames and their limits,
// malformed input, the handshake, batching (round trips = synchronising calls), streamed
// copies, deferred errors, the cpu executor's cuBLAS/cuDNN calls against plain references
// (relative L2 <= 1e-5), and the release of a dropped connection's memory.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <thread>

#include "core/file_io.h"
#include "remoting/binary_check.h"
#include "remoting/client.h"
#include "remoting/executor.h"
#include "remoting/protocol.h"
#include "remoting/server.h"

namespace edgeinfer::remoting {
namespace {

std::vector<uint8_t> Frame(FrameType type, uint16_t flags, const std::vector<uint8_t>& payload) {
  MemoryStream out(nullptr, 0);
  EXPECT_TRUE(WriteFrame(out, type, flags, payload.data(), payload.size()).ok());
  return out.written();
}

std::vector<uint8_t> Concat(std::initializer_list<std::vector<uint8_t>> parts) {
  std::vector<uint8_t> all;
  for (const auto& p : parts) all.insert(all.end(), p.begin(), p.end());
  return all;
}

std::vector<uint8_t> HelloFrame(const std::string& token) {
  Hello hello;
  hello.token = token;
  return Frame(FrameType::kHello, 0, EncodeHello(hello));
}

std::vector<uint8_t> CallsFrame(uint16_t flags,
                                std::initializer_list<std::pair<Op, Encoder>> calls) {
  std::vector<uint8_t> payload;
  for (const auto& [op, args] : calls) AppendCall(&payload, op, args.bytes().data(), args.size());
  return Frame(FrameType::kCalls, flags, payload);
}

double RelL2(const std::vector<float>& got, const std::vector<float>& want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    num += (got[i] - want[i]) * double(got[i] - want[i]);
    den += double(want[i]) * want[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

std::vector<float> Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

TEST(RemotingProtocol, EncoderDecoderRoundTripAndOverrun) {
  Encoder e;
  e.U8(7).U16(513).U32(70000).I32(-5).U64(1ull << 40).F32(1.5f).F64(-2.25).Str("abc");
  Decoder d(e.bytes().data(), e.size());
  EXPECT_EQ(d.U8(), 7);
  EXPECT_EQ(d.U16(), 513);
  EXPECT_EQ(d.U32(), 70000u);
  EXPECT_EQ(d.I32(), -5);
  EXPECT_EQ(d.U64(), 1ull << 40);
  EXPECT_EQ(d.F32(), 1.5f);
  EXPECT_EQ(d.F64(), -2.25);
  EXPECT_EQ(d.Str(), "abc");
  EXPECT_TRUE(d.ok());
  EXPECT_EQ(d.U32(), 0u);  // past the end: zero and failed
  EXPECT_FALSE(d.ok());
  // A string longer than its limit fails without reading.
  Encoder s;
  s.Str(std::string(100, 'x'));
  Decoder ds(s.bytes().data(), s.size());
  EXPECT_EQ(ds.Str(10), "");
  EXPECT_FALSE(ds.ok());
}

TEST(RemotingProtocol, FrameSizeCheckedBeforeAllocation) {
  // A header announcing 4 GiB - 1 bytes with no payload: refused from the header alone.
  std::vector<uint8_t> bytes = {0xff, 0xff, 0xff, 0xff, 3, 0, 0, 0};
  MemoryStream in(bytes.data(), bytes.size());
  FrameHeader h;
  std::vector<uint8_t> payload;
  Status st = ReadFrame(in, kMaxFrameBytes, &h, &payload);
  EXPECT_EQ(st.code(), StatusCode::kResourceExhausted) << st.ToString();
  EXPECT_TRUE(payload.empty());
  // Unknown frame type.
  std::vector<uint8_t> unknown = {0, 0, 0, 0, 99, 0, 0, 0};
  MemoryStream in2(unknown.data(), unknown.size());
  EXPECT_EQ(ReadFrame(in2, kMaxFrameBytes, &h, &payload).code(), StatusCode::kInvalidArgument);
  // Truncated payload.
  std::vector<uint8_t> truncated = {10, 0, 0, 0, 3, 0, 0, 0, 1, 2};
  MemoryStream in3(truncated.data(), truncated.size());
  EXPECT_EQ(ReadFrame(in3, kMaxFrameBytes, &h, &payload).code(), StatusCode::kUnavailable);
}

TEST(RemotingProtocol, SplitCallsRejectsTruncatedRecords) {
  std::vector<uint8_t> payload;
  Encoder args;
  args.U64(5);
  AppendCall(&payload, Op::kFree, args.bytes().data(), args.size());
  Result<std::vector<CallRecord>> ok = SplitCalls(payload.data(), payload.size());
  ASSERT_TRUE(ok.ok());
  ASSERT_EQ(ok->size(), 1u);
  EXPECT_EQ((*ok)[0].op, Op::kFree);
  EXPECT_EQ((*ok)[0].size, 8u);
  payload.pop_back();
  Result<std::vector<CallRecord>> bad = SplitCalls(payload.data(), payload.size());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("offset 0"), std::string::npos);
}

TEST(RemotingProtocol, HandshakeChecksMagicVersionAndToken) {
  std::unique_ptr<Executor> ex = std::move(MakeExecutor("cpu").value());
  const std::set<std::string> tokens = {"s3cret"};
  {  // Wrong token: a welcome with UNAUTHENTICATED, then the connection ends.
    ServerCounters counters;
    std::vector<uint8_t> in = Concat({HelloFrame("guess"), CallsFrame(kFlagSync, {})});
    MemoryStream s(in.data(), in.size());
    EXPECT_EQ(ServeConnection(s, *ex, tokens, &counters).code(), StatusCode::kUnauthenticated);
    EXPECT_EQ(counters.handshakes_refused, 1);
    MemoryStream out(s.written().data(), s.written().size());
    FrameHeader h;
    std::vector<uint8_t> payload;
    ASSERT_TRUE(ReadFrame(out, kMaxHelloBytes, &h, &payload).ok());
    Result<Welcome> w = DecodeWelcome(payload.data(), payload.size());
    ASSERT_TRUE(w.ok());
    EXPECT_EQ(w->code, StatusCode::kUnauthenticated);
    EXPECT_EQ(counters.round_trips, 0);  // the calls after the refusal never ran
  }
  {  // Bad magic.
    ServerCounters counters;
    Hello hello;
    hello.magic = 1234;
    std::vector<uint8_t> in = Frame(FrameType::kHello, 0, EncodeHello(hello));
    MemoryStream s(in.data(), in.size());
    EXPECT_EQ(ServeConnection(s, *ex, {}, &counters).code(), StatusCode::kInvalidArgument);
  }
  {  // A hello larger than the handshake limit is refused before allocation.
    ServerCounters counters;
    std::vector<uint8_t> in = HelloFrame(std::string(kMaxHelloBytes, 't'));
    MemoryStream s(in.data(), in.size());
    EXPECT_EQ(ServeConnection(s, *ex, {}, &counters).code(), StatusCode::kResourceExhausted);
  }
  {  // Calls before the hello.
    ServerCounters counters;
    std::vector<uint8_t> in = CallsFrame(kFlagSync, {});
    MemoryStream s(in.data(), in.size());
    EXPECT_FALSE(ServeConnection(s, *ex, {}, &counters).ok());
    EXPECT_EQ(counters.handshakes_refused, 1);
  }
}

TEST(RemotingProtocol, MalformedFramesEndTheConnectionAndFreeItsMemory) {
  std::unique_ptr<Executor> ex = std::move(MakeExecutor("cpu").value());
  ServerCounters counters;
  Encoder malloc_args;
  malloc_args.U64(1024);
  Encoder truncated;  // MemcpyHtoD needs dst, size, inline
  truncated.U64(1);
  std::vector<uint8_t> in =
      Concat({HelloFrame(""), CallsFrame(kFlagSync, {{Op::kMalloc, malloc_args}}),
              CallsFrame(0, {{Op::kMemcpyHtoD, truncated}})});
  MemoryStream s(in.data(), in.size());
  Status st = ServeConnection(s, *ex, {}, &counters);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  EXPECT_EQ(counters.protocol_errors, 1);
  EXPECT_EQ(counters.round_trips, 1);
  EXPECT_EQ(counters.executor.live_bytes, 0);  // the session was released
  EXPECT_EQ(counters.executor.live_allocations, 0);

  // A data frame where calls are expected, and a streamed copy that is not last in its frame.
  for (int variant = 0; variant < 2; ++variant) {
    ServerCounters c2;
    Encoder h2d;
    h2d.U64(0).U64(kInlineCopyBytes + 1).U8(0);
    std::vector<uint8_t> second =
        variant == 0 ? Frame(FrameType::kData, 0, {1, 2, 3})
                     : CallsFrame(0, {{Op::kMemcpyHtoD, h2d}, {Op::kFree, Encoder().U64(0)}});
    std::vector<uint8_t> in2 = Concat({HelloFrame(""), second});
    MemoryStream s2(in2.data(), in2.size());
    EXPECT_EQ(ServeConnection(s2, *ex, {}, &c2).code(), StatusCode::kInvalidArgument);
  }
}

// The fuzz seeds are whole sessions that must run cleanly: every reply without error.
TEST(RemotingProtocol, FuzzSeedSessionsRunWithoutErrors) {
  std::unique_ptr<Executor> ex = std::move(MakeExecutor("cpu").value());
  for (const char* name : {"memory", "blas", "dnn"}) {
    Result<std::string> bytes = ReadFileBytes(std::string(EDGEINFER_SOURCE_DIR) +
                                              "/fuzz/corpus/remoting_frame_fuzz/" + name);
    ASSERT_TRUE(bytes.ok()) << name;
    ASSERT_EQ((*bytes)[0], 1);  // the fuzz target sends a hello first
    std::vector<uint8_t> in = HelloFrame("");
    in.insert(in.end(), bytes->begin() + 1, bytes->end());
    MemoryStream s(in.data(), in.size());
    ServerCounters counters;
    EXPECT_TRUE(ServeConnection(s, *ex, {}, &counters).ok()) << name;
    MemoryStream out(s.written().data(), s.written().size());
    FrameHeader h;
    std::vector<uint8_t> payload;
    int replies = 0;
    while (ReadFrame(out, kMaxFrameBytes, &h, &payload).ok()) {
      if (h.type != FrameType::kReply) continue;
      ++replies;
      Result<Reply> r = DecodeReply(payload.data(), payload.size());
      ASSERT_TRUE(r.ok());
      EXPECT_EQ(r->code, StatusCode::kOk)
          << name << ": " << OpName(r->failed_op) << ": " << r->message;
    }
    EXPECT_EQ(replies, counters.round_trips) << name;
    EXPECT_GE(replies, 3) << name;
  }
}

// Device-to-host copies are bounded before anything is copied: by the connection's device
// memory (a failed copy is answered with zeros) and by the bytes pending without a sync.
TEST(RemotingProtocol, DeviceToHostCopiesAreBounded) {
  ExecutorOptions options;
  options.max_connection_bytes = 1 << 20;
  std::unique_ptr<Executor> ex = std::move(MakeExecutor("cpu", options).value());
  ConnectionLimits limits;
  limits.max_pending_copy_bytes = 4096;
  {  // 2^40 bytes from an invalid address: refused, not answered with a terabyte of zeros.
    ServerCounters counters;
    std::vector<uint8_t> in =
        Concat({HelloFrame(""),
                CallsFrame(kFlagSync, {{Op::kMemcpyDtoH, Encoder().U64(1).U64(1ull << 40)}})});
    MemoryStream s(in.data(), in.size());
    EXPECT_EQ(ServeConnection(s, *ex, {}, &counters, limits).code(), StatusCode::kInvalidArgument);
    EXPECT_LT(s.written().size(), 1024u);
  }
  {  // Three async 2 KiB copies of one allocation: the third exceeds 4 KiB pending.
    ServerCounters counters;
    const uint64_t a = uint64_t{1} << 36;  // the first allocation's address
    Encoder copy;
    copy.U64(a).U64(2048);
    std::vector<uint8_t> in = Concat(
        {HelloFrame(""), CallsFrame(kFlagSync, {{Op::kMalloc, Encoder().U64(2048)}}),
         CallsFrame(0,
                    {{Op::kMemcpyDtoH, copy}, {Op::kMemcpyDtoH, copy}, {Op::kMemcpyDtoH, copy}})});
    MemoryStream s(in.data(), in.size());
    EXPECT_EQ(ServeConnection(s, *ex, {}, &counters, limits).code(),
              StatusCode::kResourceExhausted);
    EXPECT_EQ(counters.executor.live_bytes, 0);
  }
}

class RemotingServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RemotingServerOptions options;
    options.address = "127.0.0.1:0";
    options.executor = "cpu";
    options.tokens = {"tok"};
    options.executor_options.max_connection_bytes = 64u << 20;
    ASSERT_TRUE(server_.Start(options).ok());
    address_ = "127.0.0.1:" + std::to_string(server_.port());
  }
  std::unique_ptr<Client> Connect() {
    Result<std::unique_ptr<Client>> c = Client::Connect(address_, "tok");
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(*c) : nullptr;
  }
  uint64_t Malloc(Client& c, uint64_t size) {
    Result<Reply> r = c.Sync(Op::kMalloc, Encoder().U64(size));
    EXPECT_TRUE(r.ok() && r->code == StatusCode::kOk);
    Decoder d(r->result.data(), r->result.size());
    return d.U64();
  }
  // Waits (up to 30 s, not a timing claim) until the server has released every connection.
  void WaitForDrops() {
    for (int i = 0; i < 3000 && server_.counters().connections_open > 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  RemotingServer server_;
  std::string address_;
};

TEST_F(RemotingServerTest, WrongTokenIsRefused) {
  Result<std::unique_ptr<Client>> c = Client::Connect(address_, "nope");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kUnauthenticated) << c.status().ToString();
}

TEST_F(RemotingServerTest, CopiesBatchAndStreamWithOneRoundTripPerSync) {
  std::unique_ptr<Client> c = Connect();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->welcome().executor, "cpu");
  const uint64_t small_bytes = 4096, large_bytes = (3u << 20) + 123;  // inline; streamed
  const uint64_t a = Malloc(*c, small_bytes), b = Malloc(*c, large_bytes);
  ASSERT_NE(a, 0u);
  const int64_t trips_before = server_.counters().round_trips;
  std::vector<uint8_t> small(small_bytes), large(large_bytes);
  for (size_t i = 0; i < small.size(); ++i) small[i] = uint8_t(i * 7);
  for (size_t i = 0; i < large.size(); ++i) large[i] = uint8_t(i * 13 + 1);
  ASSERT_TRUE(c->CopyToDevice(a, small.data(), small.size()).ok());
  ASSERT_TRUE(c->CopyToDevice(b, large.data(), large.size()).ok());
  // Device-to-device, memset, then async copies back: all collected at one sync.
  ASSERT_TRUE(c->Enqueue(Op::kMemcpyDtoD, Encoder().U64(b + 10).U64(a).U64(100)).ok());
  ASSERT_TRUE(c->Enqueue(Op::kMemset, Encoder().U64(a).U32(0x1ab).U64(16)).ok());
  std::vector<uint8_t> small_back(small_bytes), large_back(large_bytes);
  ASSERT_TRUE(c->CopyToHost(small_back.data(), a, small_bytes).ok());
  ASSERT_TRUE(c->CopyToHost(large_back.data(), b, large_bytes).ok());
  Result<Reply> r = c->Sync(Op::kSynchronize, Encoder().U64(0));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->code, StatusCode::kOk) << r->message;
  EXPECT_EQ(server_.counters().round_trips - trips_before, 1);
  std::vector<uint8_t> want_small = small, want_large = large;
  std::memcpy(want_large.data() + 10, small.data(), 100);
  std::memset(want_small.data(), 0xab, 16);
  EXPECT_EQ(small_back, want_small);
  EXPECT_EQ(large_back, want_large);
  // A synchronous copy: the copy itself is the sync point.
  std::vector<uint8_t> again(large_bytes);
  ASSERT_TRUE(c->CopyToHost(again.data(), b, large_bytes).ok());
  ASSERT_TRUE(c->Sync(Op::kNone, Encoder()).ok());
  EXPECT_EQ(again, want_large);
  EXPECT_EQ(server_.counters().round_trips - trips_before, 2);
  EXPECT_EQ(c->stats().round_trips, server_.counters().round_trips);
}

TEST_F(RemotingServerTest, AsynchronousErrorsSurfaceAtTheNextSync) {
  std::unique_ptr<Client> c = Connect();
  ASSERT_TRUE(c);
  const uint64_t a = Malloc(*c, 256);
  ASSERT_TRUE(c->Enqueue(Op::kMemset, Encoder().U64(a + 200).U32(0).U64(100)).ok());  // overrun
  ASSERT_TRUE(c->Enqueue(Op::kFree, Encoder().U64(12345)).ok());  // second error: not reported
  Result<Reply> r = c->Sync(Op::kSynchronize, Encoder().U64(0));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->code, StatusCode::kOutOfRange);
  EXPECT_EQ(r->failed_op, Op::kMemset);
  // Reported once: the next sync is clean.
  r = c->Sync(Op::kSynchronize, Encoder().U64(0));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->code, StatusCode::kOk);
  // Unknown stream, out of memory, and a kernel launch on the cpu executor.
  r = c->Sync(Op::kSynchronize, Encoder().U64(0x999));
  EXPECT_EQ(r->code, StatusCode::kNotFound);
  r = c->Sync(Op::kMalloc, Encoder().U64(1ull << 40));
  EXPECT_EQ(r->code, StatusCode::kResourceExhausted);
  Encoder launch;
  launch.Str("_Z6vecAddPfS_S_i");
  ASSERT_TRUE(c->Enqueue(Op::kLaunchKernel, launch).ok());
  r = c->Sync(Op::kSynchronize, Encoder().U64(0));
  EXPECT_EQ(r->code, StatusCode::kFailedPrecondition);
  EXPECT_NE(r->message.find("needs a GPU remoting server"), std::string::npos) << r->message;
  // An unknown op is refused by name, not a crash.
  r = c->Sync(static_cast<Op>(999), Encoder());
  EXPECT_EQ(r->code, StatusCode::kUnimplemented);
}

TEST_F(RemotingServerTest, DroppedConnectionFreesItsMemoryAndObjects) {
  {
    std::unique_ptr<Client> c = Connect();
    ASSERT_TRUE(c);
    Malloc(*c, 1 << 20);
    Malloc(*c, 1 << 20);
    ASSERT_TRUE(c->Enqueue(Op::kStreamCreate, Encoder().U64(c->NextId())).ok());
    ASSERT_TRUE(c->Enqueue(Op::kBlasCreate, Encoder().U64(c->NextId())).ok());
    ASSERT_TRUE(c->Sync(Op::kSynchronize, Encoder().U64(0)).ok());
    EXPECT_EQ(server_.counters().live_allocations, 2);
    EXPECT_EQ(server_.counters().live_bytes, 2 << 20);
    EXPECT_EQ(server_.counters().live_objects, 2);
  }
  WaitForDrops();
  const RemotingCounters counters = server_.counters();
  EXPECT_EQ(counters.connections_open, 0);
  EXPECT_EQ(counters.live_allocations, 0);
  EXPECT_EQ(counters.live_bytes, 0);
  EXPECT_EQ(counters.live_objects, 0);
}

TEST_F(RemotingServerTest, OversizedFrameClosesTheConnection) {
  Result<int> fd = ConnectTcp(address_);
  ASSERT_TRUE(fd.ok());
  auto stream = std::make_unique<SocketStream>(*fd);
  SocketStream* raw = stream.get();
  Result<std::unique_ptr<Client>> c = Client::Handshake(std::move(stream), "tok");
  ASSERT_TRUE(c.ok());
  const uint8_t header[8] = {0, 0, 0, 0x7f, 3, 0, 0, 0};  // ~2 GiB of calls
  ASSERT_TRUE(raw->WriteFull(header, sizeof(header)));
  uint8_t byte;
  EXPECT_FALSE(raw->ReadFull(&byte, 1));  // closed by the server
  WaitForDrops();
  EXPECT_EQ(server_.counters().protocol_errors, 1);
}

// The cpu executor's library calls against plain references.
class CpuExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    executor_ = std::move(MakeExecutor("cpu").value());
    session_ = executor_->NewSession(&counters_);
    Run(Op::kBlasCreate, Encoder().U64(kBlas));
    Run(Op::kDnnCreate, Encoder().U64(kDnn));
  }
  Status Exec(Op op, const Encoder& args, Encoder* result = nullptr) {
    Encoder ignored;
    Decoder d(args.bytes().data(), args.size());
    return session_->Execute(op, d, result ? result : &ignored);
  }
  void Run(Op op, const Encoder& args) {
    Status st = Exec(op, args);
    ASSERT_TRUE(st.ok()) << OpName(op) << ": " << st.ToString();
  }
  uint64_t Upload(const std::vector<float>& v) {
    Encoder r;
    EXPECT_TRUE(Exec(Op::kMalloc, Encoder().U64(v.size() * 4), &r).ok());
    Decoder d(r.bytes().data(), r.size());
    const uint64_t p = d.U64();
    std::memcpy(*session_->Resolve(p, v.size() * 4), v.data(), v.size() * 4);
    return p;
  }
  std::vector<float> Download(uint64_t p, size_t n) {
    std::vector<float> v(n);
    std::memcpy(v.data(), *session_->Resolve(p, n * 4), n * 4);
    return v;
  }
  uint64_t TensorDesc(int n, int c, int h, int w) {
    const uint64_t id = next_id_++;
    Run(Op::kDescCreate, Encoder().U8(uint8_t(DescKind::kTensor)).U64(id));
    Run(Op::kTensorDescSet,
        Encoder().U64(id).I32(n).I32(c).I32(h).I32(w).I32(c * h * w).I32(h * w).I32(w).I32(1));
    return id;
  }
  static constexpr uint64_t kBlas = 0x100, kDnn = 0x200;
  ExecutorCounters counters_;
  std::unique_ptr<Executor> executor_;
  std::unique_ptr<ExecutorSession> session_;
  uint64_t next_id_ = 0x1000;
};

TEST_F(CpuExecutorTest, SgemmColumnMajorWithTransposesAndBatches) {
  const int m = 5, n = 7, k = 3, batch = 2;
  for (int ta = 0; ta < 2; ++ta) {
    for (int tb = 0; tb < 2; ++tb) {
      const int lda = (ta ? k : m) + 1, ldb = (tb ? n : k) + 2, ldc = m + 1;
      const int64_t sa = lda * (ta ? m : k), sb = ldb * (tb ? k : n), sc = ldc * n;
      std::vector<float> A = Random(sa * batch, 1), B = Random(sb * batch, 2),
                         C = Random(sc * batch, 3);
      const float alpha = 0.75f, beta = -0.5f;
      std::vector<float> want = C;
      for (int bi = 0; bi < batch; ++bi)
        for (int i = 0; i < m; ++i)
          for (int j = 0; j < n; ++j) {
            double acc = 0;
            for (int p = 0; p < k; ++p) {
              const double av = ta ? A[bi * sa + i * lda + p] : A[bi * sa + p * lda + i];
              const double bv = tb ? B[bi * sb + p * ldb + j] : B[bi * sb + j * ldb + p];
              acc += av * bv;
            }
            float& c = want[bi * sc + j * ldc + i];
            c = float(alpha * acc + beta * c);
          }
      const uint64_t pa = Upload(A), pb = Upload(B), pc = Upload(C);
      Run(Op::kSgemm, Encoder()
                          .U64(kBlas)
                          .U8(ta)
                          .U8(tb)
                          .I32(m)
                          .I32(n)
                          .I32(k)
                          .F32(alpha)
                          .U64(pa)
                          .I32(lda)
                          .U64(pb)
                          .I32(ldb)
                          .F32(beta)
                          .U64(pc)
                          .I32(ldc)
                          .I64(sa)
                          .I64(sb)
                          .I64(sc)
                          .I32(batch));
      EXPECT_LE(RelL2(Download(pc, C.size()), want), 1e-5) << "ta=" << ta << " tb=" << tb;
    }
  }
  // A leading dimension smaller than the rows is refused.
  const uint64_t p = Upload(Random(64, 4));  // 8x8 fits, 9x9 does not
  Status st = Exec(Op::kSgemm, Encoder()
                                   .U64(kBlas)
                                   .U8(0)
                                   .U8(0)
                                   .I32(4)
                                   .I32(4)
                                   .I32(4)
                                   .F32(1)
                                   .U64(p)
                                   .I32(2)
                                   .U64(p)
                                   .I32(4)
                                   .F32(0)
                                   .U64(p)
                                   .I32(4)
                                   .I64(0)
                                   .I64(0)
                                   .I64(0)
                                   .I32(1));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  // A matrix running past its allocation is refused.
  st = Exec(Op::kSgemm, Encoder()
                            .U64(kBlas)
                            .U8(0)
                            .U8(0)
                            .I32(9)
                            .I32(9)
                            .I32(9)
                            .F32(1)
                            .U64(p)
                            .I32(9)
                            .U64(p)
                            .I32(9)
                            .F32(0)
                            .U64(p)
                            .I32(9)
                            .I64(0)
                            .I64(0)
                            .I64(0)
                            .I32(1));
  EXPECT_EQ(st.code(), StatusCode::kOutOfRange);
}

TEST_F(CpuExecutorTest, SgemvBothOrientations) {
  const int m = 6, n = 4, lda = 7;
  std::vector<float> A = Random(lda * n, 5);
  for (int trans = 0; trans < 2; ++trans) {
    const int xn = trans ? m : n, yn = trans ? n : m;
    std::vector<float> x = Random(xn * 2, 6), y = Random(yn, 7);
    std::vector<float> want = y;
    for (int i = 0; i < yn; ++i) {
      double acc = 0;
      for (int j = 0; j < xn; ++j)
        acc += (trans ? A[i * lda + j] : A[j * lda + i]) * double(x[j * 2]);
      want[i] = float(2.0 * acc + 0.5 * y[i]);
    }
    const uint64_t pa = Upload(A), px = Upload(x), py = Upload(y);
    Run(Op::kSgemv, Encoder()
                        .U64(kBlas)
                        .U8(trans)
                        .I32(m)
                        .I32(n)
                        .F32(2)
                        .U64(pa)
                        .I32(lda)
                        .U64(px)
                        .I32(2)
                        .F32(0.5f)
                        .U64(py)
                        .I32(1));
    EXPECT_LE(RelL2(Download(py, yn), want), 1e-5);
  }
}

TEST_F(CpuExecutorTest, ConvBiasReluPoolSoftmax) {
  const int N = 2, C = 3, H = 9, W = 8, K = 4, R = 3, S = 3;
  std::vector<float> x = Random(N * C * H * W, 11), w = Random(K * C * R * S, 12),
                     bias = Random(K, 13);
  // conv: pad 1, stride 2, dilation 1, cross-correlation.
  const int OH = (H + 2 - 3) / 2 + 1, OW = (W + 2 - 3) / 2 + 1;
  std::vector<float> conv(N * K * OH * OW);
  for (int n = 0; n < N; ++n)
    for (int k = 0; k < K; ++k)
      for (int oh = 0; oh < OH; ++oh)
        for (int ow = 0; ow < OW; ++ow) {
          double acc = 0;
          for (int c = 0; c < C; ++c)
            for (int r = 0; r < R; ++r)
              for (int s = 0; s < S; ++s) {
                const int ih = oh * 2 - 1 + r, iw = ow * 2 - 1 + s;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                acc +=
                    double(x[((n * C + c) * H + ih) * W + iw]) * w[((k * C + c) * R + r) * S + s];
              }
          const float v = float(acc) + bias[k];
          conv[((n * K + k) * OH + oh) * OW + ow] = v > 0 ? v : 0;
        }
  // 2x2 max pool, stride 2, then softmax over channels (instance mode).
  const int PH = OH / 2, PW = OW / 2;
  std::vector<float> pool(N * K * PH * PW);
  for (int n = 0; n < N; ++n)
    for (int k = 0; k < K; ++k)
      for (int ph = 0; ph < PH; ++ph)
        for (int pw = 0; pw < PW; ++pw) {
          float mx = -INFINITY;
          for (int r = 0; r < 2; ++r)
            for (int s = 0; s < 2; ++s)
              mx = std::max(mx, conv[((n * K + k) * OH + ph * 2 + r) * OW + pw * 2 + s]);
          pool[((n * K + k) * PH + ph) * PW + pw] = mx;
        }
  std::vector<float> soft(pool.size());
  const int per = K * PH * PW;
  for (int n = 0; n < N; ++n) {
    double mx = -INFINITY, sum = 0;
    for (int i = 0; i < per; ++i) mx = std::max<double>(mx, pool[n * per + i]);
    for (int i = 0; i < per; ++i) sum += std::exp(pool[n * per + i] - mx);
    for (int i = 0; i < per; ++i) soft[n * per + i] = float(std::exp(pool[n * per + i] - mx) / sum);
  }

  const uint64_t xd = TensorDesc(N, C, H, W), yd = TensorDesc(N, K, OH, OW),
                 bd = TensorDesc(1, K, 1, 1), pd = TensorDesc(N, K, PH, PW);
  const uint64_t fd = next_id_++, cd = next_id_++, ad = next_id_++, pool_d = next_id_++;
  Run(Op::kDescCreate, Encoder().U8(uint8_t(DescKind::kFilter)).U64(fd));
  Run(Op::kFilterDescSet, Encoder().U64(fd).I32(K).I32(C).I32(R).I32(S));
  Run(Op::kDescCreate, Encoder().U8(uint8_t(DescKind::kConv)).U64(cd));
  Run(Op::kConvDescSet, Encoder().U64(cd).I32(1).I32(1).I32(2).I32(2).I32(1).I32(1).U8(1).I32(1));
  Run(Op::kDescCreate, Encoder().U8(uint8_t(DescKind::kAct)).U64(ad));
  Run(Op::kActDescSet, Encoder().U64(ad).U8(1).F64(0));
  Run(Op::kDescCreate, Encoder().U8(uint8_t(DescKind::kPool)).U64(pool_d));
  Run(Op::kPoolDescSet, Encoder().U64(pool_d).U8(0).I32(2).I32(2).I32(0).I32(0).I32(2).I32(2));
  const uint64_t px = Upload(x), pw = Upload(w), pb = Upload(bias);
  const uint64_t py = Upload(std::vector<float>(conv.size(), NAN));
  const uint64_t pp = Upload(std::vector<float>(pool.size(), NAN));
  const uint64_t ps = Upload(std::vector<float>(pool.size(), NAN));
  Run(Op::kConvForward,
      Encoder().U64(kDnn).F32(1).U64(xd).U64(px).U64(fd).U64(pw).U64(cd).F32(0).U64(yd).U64(py));
  Run(Op::kAddTensor, Encoder().U64(kDnn).F32(1).U64(bd).U64(pb).F32(1).U64(yd).U64(py));
  Run(Op::kActivationForward,
      Encoder().U64(kDnn).U64(ad).F32(1).U64(yd).U64(py).F32(0).U64(yd).U64(py));
  EXPECT_LE(RelL2(Download(py, conv.size()), conv), 1e-5);
  Run(Op::kPoolingForward,
      Encoder().U64(kDnn).U64(pool_d).F32(1).U64(yd).U64(py).F32(0).U64(pd).U64(pp));
  EXPECT_LE(RelL2(Download(pp, pool.size()), pool), 1e-5);
  Run(Op::kSoftmaxForward,
      Encoder().U64(kDnn).U8(0).U8(0).F32(1).U64(pd).U64(pp).F32(0).U64(pd).U64(ps));
  EXPECT_LE(RelL2(Download(ps, soft.size()), soft), 1e-5);
  // A wrong output descriptor is refused with both shapes named.
  Status st = Exec(
      Op::kConvForward,
      Encoder().U64(kDnn).F32(1).U64(xd).U64(px).U64(fd).U64(pw).U64(cd).F32(0).U64(pd).U64(pp));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("expected 2x4x5x4"), std::string::npos) << st.message();
}

TEST_F(CpuExecutorTest, OpTensorBroadcastsAndTransformChangesLayout) {
  const int N = 2, C = 3, H = 4, W = 5;
  std::vector<float> a = Random(N * C * H * W, 21), b = Random(C, 22), c = Random(a.size(), 23);
  for (float& v : a) v = std::fabs(v) + 0.1f;  // for SQRT
  const uint64_t ad = TensorDesc(N, C, H, W), bd = TensorDesc(1, C, 1, 1);
  const uint64_t od = next_id_++;
  Run(Op::kDescCreate, Encoder().U8(uint8_t(DescKind::kOpTensor)).U64(od));
  const uint64_t pa = Upload(a), pb = Upload(b), pc = Upload(c);
  // MUL with B broadcast over n, h, w: C = (2a) * (0.5b) + 1 * C.
  Run(Op::kOpTensorDescSet, Encoder().U64(od).U8(1));
  Run(Op::kOpTensor, Encoder()
                         .U64(kDnn)
                         .U64(od)
                         .F32(2)
                         .U64(ad)
                         .U64(pa)
                         .F32(0.5f)
                         .U64(bd)
                         .U64(pb)
                         .F32(1)
                         .U64(ad)
                         .U64(pc));
  std::vector<float> want = c;
  for (size_t i = 0; i < want.size(); ++i) want[i] += a[i] * b[(i / (H * W)) % C];
  EXPECT_LE(RelL2(Download(pc, c.size()), want), 1e-6);
  // SQRT reads A only (B's descriptor may be anything).
  Run(Op::kOpTensorDescSet, Encoder().U64(od).U8(4));
  Run(Op::kOpTensor,
      Encoder().U64(kDnn).U64(od).F32(1).U64(ad).U64(pa).F32(0).U64(0).U64(0).F32(0).U64(ad).U64(
          pc));
  for (size_t i = 0; i < want.size(); ++i) want[i] = std::sqrt(a[i]);
  EXPECT_LE(RelL2(Download(pc, c.size()), want), 1e-6);
  // Transform (an add with equal dimensions) from NCHW into an NHWC-strided tensor.
  const uint64_t nhwc = next_id_++;
  Run(Op::kDescCreate, Encoder().U8(uint8_t(DescKind::kTensor)).U64(nhwc));
  Run(Op::kTensorDescSet,
      Encoder().U64(nhwc).I32(N).I32(C).I32(H).I32(W).I32(H * W * C).I32(1).I32(W * C).I32(C));
  const uint64_t py = Upload(std::vector<float>(a.size(), NAN));
  Run(Op::kAddTensor, Encoder().U64(kDnn).F32(1).U64(ad).U64(pa).F32(0).U64(nhwc).U64(py));
  std::vector<float> got = Download(py, a.size());
  for (int n = 0; n < N; ++n)
    for (int ch = 0; ch < C; ++ch)
      for (int h = 0; h < H; ++h)
        for (int w = 0; w < W; ++w)
          ASSERT_EQ(got[((n * H + h) * W + w) * C + ch], a[((n * C + ch) * H + h) * W + w]);
}

TEST(RemotingBinaryCheck, ReadsDependenciesAndRefusesMalformedFiles) {
  // This test binary: an ELF64 program that needs libc, no CUDA runtime, no device code.
  Result<BinaryInfo> self = InspectBinary("/proc/self/exe");
  ASSERT_TRUE(self.ok()) << self.status().ToString();
  bool libc = false;
  for (const std::string& lib : self->needed) libc |= lib.rfind("libc.so", 0) == 0;
  EXPECT_TRUE(libc);
  EXPECT_FALSE(self->has_device_code);
  std::vector<std::string> warnings;
  EXPECT_TRUE(CheckRemotable("self", *self, &warnings).ok());
  EXPECT_FALSE(warnings.empty());  // nothing would be forwarded
  // A program with device code and no shared runtime is refused with the fix named.
  BinaryInfo static_runtime;
  static_runtime.needed = {"libc.so.6"};
  static_runtime.has_device_code = true;
  Status st = CheckRemotable("prog", static_runtime, &warnings);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("nvcc -cudart shared"), std::string::npos);
  // Not ELF; ELF with section headers past the end; truncations of a real file.
  EXPECT_FALSE(InspectBinaryBytes("#!/bin/sh\necho hi\n").ok());
  std::string bytes = *ReadFileBytes("/proc/self/exe");
  std::string header = bytes.substr(0, 64);
  EXPECT_FALSE(InspectBinaryBytes(header).ok());
  for (size_t cut : {size_t{100}, bytes.size() / 2, bytes.size() - 1}) {
    (void)InspectBinaryBytes(bytes.substr(0, cut));  // an error or a partial answer, no crash
  }
}

// `edgeinfer serve --remoting` without the KServe ports: it prints its address, serves a
// client, and stops on SIGTERM. The gpu executor on this machine is a clear start-up error.
TEST(RemotingServe, ServeCommandRunsRemotingAlone) {
  const std::string cli = EDGEINFER_CLI;
  FILE* p = popen(("echo $$; exec " + cli +
                   " serve --grpc none --http none --remoting 127.0.0.1:0 "
                   "--remoting-executor cpu 2>&1")
                      .c_str(),
                  "r");
  ASSERT_NE(p, nullptr);
  char line[512];
  ASSERT_NE(fgets(line, sizeof(line), p), nullptr);
  const pid_t pid = static_cast<pid_t>(std::atol(line));
  ASSERT_NE(fgets(line, sizeof(line), p), nullptr);
  const std::string listening = line;
  EXPECT_NE(listening.find("executor=cpu"), std::string::npos) << listening;
  const size_t at = listening.find("remoting=");
  ASSERT_NE(at, std::string::npos) << listening;
  const std::string address = listening.substr(at + 9, listening.find(' ', at) - at - 9);
  {
    Result<std::unique_ptr<Client>> c = Client::Connect(address, "");
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    Result<Reply> r = (*c)->Sync(Op::kMalloc, Encoder().U64(64));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->code, StatusCode::kOk);
  }
  kill(pid, SIGTERM);
  std::string rest;  // read to the end, so that its last words do not meet a closed pipe
  while (fgets(line, sizeof(line), p) != nullptr) rest += line;
  EXPECT_EQ(pclose(p), 0) << rest;
  EXPECT_NE(rest.find("shutting down"), std::string::npos) << rest;

  FILE* gpu = popen((cli + " serve --grpc none --http none --remoting 127.0.0.1:0 "
                           "--remoting-executor gpu 2>&1")
                        .c_str(),
                    "r");
  ASSERT_NE(gpu, nullptr);
  std::string out;
  while (fgets(line, sizeof(line), gpu) != nullptr) out += line;
  const int status = pclose(gpu);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << out;
  EXPECT_NE(out.find("remoting executor 'gpu' cannot run"), std::string::npos) << out;
}

TEST(RemotingExecutor, GpuExecutorExplainsWhyItCannotRun) {
  Result<std::unique_ptr<Executor>> gpu = MakeExecutor("gpu");
  ASSERT_FALSE(gpu.ok());
  EXPECT_EQ(gpu.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(gpu.status().message().find("--remoting-executor cpu"), std::string::npos);
  EXPECT_FALSE(MakeExecutor("tpu").ok());
}

}  // namespace
}  // namespace edgeinfer::remoting
