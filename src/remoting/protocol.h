// The remoting wire protocol (docs/remoting.md): length-prefixed binary frames over TCP that
// carry CUDA runtime, cuBLAS and cuDNN calls from the interposer libraries on a device to the
// remoting server.
//
// A frame is an 8-byte header (u32 payload size, u16 frame type, u16 flags, little-endian)
// and its payload. Every reader checks the size against its limit before allocating. The
// client opens with kHello (magic, version, token); the server answers kWelcome. Calls travel
// in kCalls frames as records (u16 op, u16 reserved, u32 argument bytes, arguments);
// asynchronous calls accumulate on the client and go out with the next synchronising call,
// whose frame carries kFlagSync and is answered by one kReply (then kData frames with the
// bytes of the device-to-host copies made since the last reply). Large host-to-device copies
// follow their kCalls frame as kData chunks.
#ifndef EDGEINFER_REMOTING_PROTOCOL_H_
#define EDGEINFER_REMOTING_PROTOCOL_H_

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "edgeinfer/status.h"

namespace edgeinfer::remoting {

static_assert(std::endian::native == std::endian::little, "the wire format is little-endian");

inline constexpr uint32_t kMagic = 0x4d524945;  // "EIRM"
inline constexpr uint32_t kProtocolVersion = 1;
inline constexpr size_t kFrameHeaderBytes = 8;
// Largest payload of any frame (a kCalls batch or a kData chunk) either side accepts.
inline constexpr uint32_t kMaxFrameBytes = 4u << 20;
// Largest kHello / kWelcome payload: the only frames read before the token is checked.
inline constexpr uint32_t kMaxHelloBytes = 4096;
// Copies up to this size travel inside their call record; larger ones as kData chunks.
inline constexpr uint64_t kInlineCopyBytes = 64u << 10;
// Size of the kData chunks of a streamed copy.
inline constexpr uint32_t kChunkBytes = 1u << 20;

enum class FrameType : uint16_t {
  kHello = 1,
  kWelcome = 2,
  kCalls = 3,
  kReply = 4,
  kData = 5,
};
inline constexpr uint16_t kFlagSync = 1;  // kCalls: the last record wants a kReply

struct FrameHeader {
  uint32_t size = 0;
  FrameType type = FrameType::kHello;
  uint16_t flags = 0;
};

// Calls. Values are fixed by the protocol version; new ones are appended.
enum class Op : uint16_t {
  kNone = 0,
  // CUDA runtime.
  kMalloc = 1,         // sync: u64 size -> u64 ptr
  kFree = 2,           // u64 ptr
  kMemcpyHtoD = 3,     // u64 dst, u64 size, u8 inline, [bytes]
  kMemcpyDtoH = 4,     // u64 src, u64 size (data comes back after the next kReply)
  kMemcpyDtoD = 5,     // u64 dst, u64 src, u64 size
  kMemset = 6,         // u64 dst, u32 value, u64 size
  kSynchronize = 7,    // sync (device, stream or event synchronisation): u64 stream or 0
  kStreamCreate = 8,   // u64 id
  kStreamDestroy = 9,  // u64 id
  kEventCreate = 10,   // u64 id
  kEventDestroy = 11,  // u64 id
  kEventRecord = 12,   // u64 event, u64 stream
  kEventElapsed = 13,  // sync: u64 start, u64 end -> f32 ms
  kMemGetInfo = 14,    // sync: -> u64 free, u64 total
  kLaunchKernel = 15,  // str name, u32 grid[3], u32 block[3], u64 shared, u64 stream, bytes
  // cuBLAS.
  kBlasCreate = 32,     // u64 id
  kBlasDestroy = 33,    // u64 id
  kBlasSetStream = 34,  // u64 id, u64 stream
  kSgemm = 35,          // u64 h, u8 ta, u8 tb, i32 m n k, f32 alpha, u64 A, i32 lda, u64 B,
                        // i32 ldb, f32 beta, u64 C, i32 ldc, i64 sA sB sC, i32 batch
  kSgemv = 36,          // u64 h, u8 trans, i32 m n, f32 alpha, u64 A, i32 lda, u64 x, i32 incx,
                        // f32 beta, u64 y, i32 incy
  // cuDNN.
  kDnnCreate = 64,           // u64 id
  kDnnDestroy = 65,          // u64 id
  kDnnSetStream = 66,        // u64 id, u64 stream
  kDescCreate = 67,          // u8 kind, u64 id
  kDescDestroy = 68,         // u64 id
  kTensorDescSet = 69,       // u64 id, i32 dims[4], i32 strides[4]
  kFilterDescSet = 70,       // u64 id, i32 k c h w
  kConvDescSet = 71,         // u64 id, i32 pad_h pad_w stride_h stride_w dil_h dil_w, u8 cross,
                             // i32 groups
  kPoolDescSet = 72,         // u64 id, u8 mode, i32 win_h win_w pad_h pad_w stride_h stride_w
  kActDescSet = 73,          // u64 id, u8 mode, f64 coef
  kLrnDescSet = 74,          // u64 id, u32 n, f64 alpha beta k
  kOpTensorDescSet = 75,     // u64 id, u8 op (cuDNN's cudnnOpTensorOp_t)
  kConvForward = 80,         // u64 h, f32 alpha, u64 xd x wd w cd, f32 beta, u64 yd y
  kAddTensor = 81,           // u64 h, f32 alpha, u64 ad a, f32 beta, u64 cd c
  kActivationForward = 82,   // u64 h ad, f32 alpha, u64 xd x, f32 beta, u64 yd y
  kPoolingForward = 83,      // u64 h pd, f32 alpha, u64 xd x, f32 beta, u64 yd y
  kSoftmaxForward = 84,      // u64 h, u8 log, u8 channel, f32 alpha, u64 xd x, f32 beta, u64 yd y
  kLrnForward = 85,          // u64 h ld, f32 alpha, u64 xd x, f32 beta, u64 yd y
  kBatchNormInference = 86,  // u64 h, f32 alpha beta, u64 xd x yd y bd scale bias mean var,
                             // f64 eps
  kOpTensor = 87,  // u64 h od, f32 alpha1, u64 ad a, f32 alpha2, u64 bd b, f32 beta, u64 cd c
};

// The descriptor kinds of kDescCreate.
enum class DescKind : uint8_t {
  kTensor = 1,
  kFilter = 2,
  kConv = 3,
  kPool = 4,
  kAct = 5,
  kLrn = 6,
  kOpTensor = 7
};

// "kMalloc" -> "Malloc"; "unknown" for a value that names no call.
const char* OpName(Op op);
// True for the calls a client must send with kFlagSync (they return a result).
bool OpIsSync(Op op);

// Appends little-endian values to a byte buffer.
class Encoder {
 public:
  Encoder& U8(uint8_t v) { return Raw(&v, 1); }
  Encoder& U16(uint16_t v) { return Raw(&v, 2); }
  Encoder& U32(uint32_t v) { return Raw(&v, 4); }
  Encoder& I32(int32_t v) { return Raw(&v, 4); }
  Encoder& U64(uint64_t v) { return Raw(&v, 8); }
  Encoder& I64(int64_t v) { return Raw(&v, 8); }
  Encoder& F32(float v) { return Raw(&v, 4); }
  Encoder& F64(double v) { return Raw(&v, 8); }
  // u32 length, then the bytes.
  Encoder& Str(std::string_view s) {
    U32(static_cast<uint32_t>(s.size()));
    return Raw(s.data(), s.size());
  }
  Encoder& Raw(const void* p, size_t n) {
    const size_t at = bytes_.size();
    bytes_.resize(at + n);
    if (n > 0) std::memcpy(bytes_.data() + at, p, n);
    return *this;
  }
  const std::vector<uint8_t>& bytes() const { return bytes_; }
  std::vector<uint8_t>& bytes() { return bytes_; }
  size_t size() const { return bytes_.size(); }
  void Clear() { bytes_.clear(); }

 private:
  std::vector<uint8_t> bytes_;
};

// Reads little-endian values from a byte range. A read past the end sets failed() and yields
// zeros; callers check ok() once after reading a record.
class Decoder {
 public:
  Decoder(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint8_t U8() { return Get<uint8_t>(); }
  uint16_t U16() { return Get<uint16_t>(); }
  uint32_t U32() { return Get<uint32_t>(); }
  int32_t I32() { return Get<int32_t>(); }
  uint64_t U64() { return Get<uint64_t>(); }
  int64_t I64() { return Get<int64_t>(); }
  float F32() { return Get<float>(); }
  double F64() { return Get<double>(); }
  // A string of at most `max` bytes (longer fails).
  std::string Str(size_t max = 4096);
  // `n` bytes in place (nullptr and failed() when fewer remain).
  const uint8_t* Bytes(size_t n);
  bool ok() const { return !failed_; }
  size_t remaining() const { return size_ - pos_; }

 private:
  template <typename T>
  T Get() {
    T v{};
    if (const uint8_t* p = Bytes(sizeof(T))) std::memcpy(&v, p, sizeof(T));
    return v;
  }
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  bool failed_ = false;
};

// A byte stream both ends use: a socket, or memory in tests and the fuzz target.
class Stream {
 public:
  virtual ~Stream() = default;
  // Reads exactly n bytes; false on end of stream or error.
  virtual bool ReadFull(void* p, size_t n) = 0;
  // Writes all n bytes; false on error.
  virtual bool WriteFull(const void* p, size_t n) = 0;
};

// A connected TCP socket (owned: closed by the destructor).
class SocketStream : public Stream {
 public:
  explicit SocketStream(int fd) : fd_(fd) {}
  ~SocketStream() override;
  SocketStream(const SocketStream&) = delete;
  SocketStream& operator=(const SocketStream&) = delete;
  bool ReadFull(void* p, size_t n) override;
  bool WriteFull(const void* p, size_t n) override;
  // Wakes a blocked reader (shutdown of both directions); the fd stays open.
  void Shutdown();
  int fd() const { return fd_; }

 private:
  int fd_;
};

// Reads from a byte range and collects what is written (tests, the fuzz target).
class MemoryStream : public Stream {
 public:
  MemoryStream(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool ReadFull(void* p, size_t n) override {
    if (n > size_ - pos_) return false;
    if (n > 0) std::memcpy(p, data_ + pos_, n);
    pos_ += n;
    return true;
  }
  bool WriteFull(const void* p, size_t n) override {
    written_.insert(written_.end(), static_cast<const uint8_t*>(p),
                    static_cast<const uint8_t*>(p) + n);
    return true;
  }
  const std::vector<uint8_t>& written() const { return written_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  std::vector<uint8_t> written_;
};

// Connects to "HOST:PORT" (TCP_NODELAY set).
Result<int> ConnectTcp(const std::string& address);
// Splits "HOST:PORT"; an error naming the address when it is not one.
Status SplitHostPort(const std::string& address, std::string* host, int* port);

// Writes one frame (header and payload).
Status WriteFrame(Stream& s, FrameType type, uint16_t flags, const void* payload, size_t size);
// Reads a header and checks its type is known and its size is at most `max_size`, before the
// payload is read or anything allocated.
Status ReadFrameHeader(Stream& s, uint32_t max_size, FrameHeader* header);
// Reads a header and its payload into `payload` (size-checked first).
Status ReadFrame(Stream& s, uint32_t max_size, FrameHeader* header, std::vector<uint8_t>* payload);

// Handshake payloads.
struct Hello {
  uint32_t magic = kMagic;
  uint32_t version = kProtocolVersion;
  std::string token;
};
std::vector<uint8_t> EncodeHello(const Hello& hello);
Result<Hello> DecodeHello(const uint8_t* data, size_t size);

struct Welcome {
  StatusCode code = StatusCode::kOk;
  std::string message;   // why the connection is refused
  std::string executor;  // "cpu" or "gpu"
  std::string device_name;
  uint64_t total_memory = 0;
  uint32_t max_frame_bytes = kMaxFrameBytes;
};
std::vector<uint8_t> EncodeWelcome(const Welcome& welcome);
Result<Welcome> DecodeWelcome(const uint8_t* data, size_t size);

// The kReply payload: the first error since the previous reply (asynchronous calls report
// theirs here), the op that raised it, the synchronous call's result bytes, and the number of
// bytes of device-to-host data that follow in kData frames.
struct Reply {
  StatusCode code = StatusCode::kOk;
  Op failed_op = Op::kNone;
  std::string message;
  std::vector<uint8_t> result;
  uint64_t data_bytes = 0;
};
std::vector<uint8_t> EncodeReply(const Reply& reply);
Result<Reply> DecodeReply(const uint8_t* data, size_t size);

// One call record inside a kCalls payload.
struct CallRecord {
  Op op = Op::kNone;
  const uint8_t* args = nullptr;
  uint32_t size = 0;
};
// Appends a record to a kCalls payload.
void AppendCall(std::vector<uint8_t>* payload, Op op, const uint8_t* args, size_t size);
// Splits a kCalls payload into records; an error naming the offset when one is truncated.
Result<std::vector<CallRecord>> SplitCalls(const uint8_t* data, size_t size);

}  // namespace edgeinfer::remoting

#endif  // EDGEINFER_REMOTING_PROTOCOL_H_
