#include "remoting/protocol.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace edgeinfer::remoting {

const char* OpName(Op op) {
  switch (op) {
    case Op::kNone:
      return "None";
    case Op::kMalloc:
      return "Malloc";
    case Op::kFree:
      return "Free";
    case Op::kMemcpyHtoD:
      return "MemcpyHtoD";
    case Op::kMemcpyDtoH:
      return "MemcpyDtoH";
    case Op::kMemcpyDtoD:
      return "MemcpyDtoD";
    case Op::kMemset:
      return "Memset";
    case Op::kSynchronize:
      return "Synchronize";
    case Op::kStreamCreate:
      return "StreamCreate";
    case Op::kStreamDestroy:
      return "StreamDestroy";
    case Op::kEventCreate:
      return "EventCreate";
    case Op::kEventDestroy:
      return "EventDestroy";
    case Op::kEventRecord:
      return "EventRecord";
    case Op::kEventElapsed:
      return "EventElapsed";
    case Op::kMemGetInfo:
      return "MemGetInfo";
    case Op::kLaunchKernel:
      return "LaunchKernel";
    case Op::kBlasCreate:
      return "BlasCreate";
    case Op::kBlasDestroy:
      return "BlasDestroy";
    case Op::kBlasSetStream:
      return "BlasSetStream";
    case Op::kSgemm:
      return "Sgemm";
    case Op::kSgemv:
      return "Sgemv";
    case Op::kDnnCreate:
      return "DnnCreate";
    case Op::kDnnDestroy:
      return "DnnDestroy";
    case Op::kDnnSetStream:
      return "DnnSetStream";
    case Op::kDescCreate:
      return "DescCreate";
    case Op::kDescDestroy:
      return "DescDestroy";
    case Op::kTensorDescSet:
      return "TensorDescSet";
    case Op::kFilterDescSet:
      return "FilterDescSet";
    case Op::kConvDescSet:
      return "ConvDescSet";
    case Op::kPoolDescSet:
      return "PoolDescSet";
    case Op::kActDescSet:
      return "ActDescSet";
    case Op::kLrnDescSet:
      return "LrnDescSet";
    case Op::kOpTensorDescSet:
      return "OpTensorDescSet";
    case Op::kOpTensor:
      return "OpTensor";
    case Op::kConvForward:
      return "ConvForward";
    case Op::kAddTensor:
      return "AddTensor";
    case Op::kActivationForward:
      return "ActivationForward";
    case Op::kPoolingForward:
      return "PoolingForward";
    case Op::kSoftmaxForward:
      return "SoftmaxForward";
    case Op::kLrnForward:
      return "LrnForward";
    case Op::kBatchNormInference:
      return "BatchNormInference";
  }
  return "unknown";
}

bool OpIsSync(Op op) {
  return op == Op::kMalloc || op == Op::kSynchronize || op == Op::kEventElapsed ||
         op == Op::kMemGetInfo;
}

std::string Decoder::Str(size_t max) {
  const uint32_t n = U32();
  if (n > max) {
    failed_ = true;
    return {};
  }
  const uint8_t* p = Bytes(n);
  return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p), n);
}

const uint8_t* Decoder::Bytes(size_t n) {
  if (failed_ || n > size_ - pos_) {
    failed_ = true;
    return nullptr;
  }
  const uint8_t* p = data_ + pos_;
  pos_ += n;
  return p;
}

SocketStream::~SocketStream() {
  if (fd_ >= 0) ::close(fd_);
}

bool SocketStream::ReadFull(void* p, size_t n) {
  auto* out = static_cast<uint8_t*>(p);
  while (n > 0) {
    const ssize_t got = ::recv(fd_, out, n, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    out += got;
    n -= static_cast<size_t>(got);
  }
  return true;
}

bool SocketStream::WriteFull(const void* p, size_t n) {
  const auto* in = static_cast<const uint8_t*>(p);
  while (n > 0) {
    const ssize_t put = ::send(fd_, in, n, MSG_NOSIGNAL);
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) return false;
    in += put;
    n -= static_cast<size_t>(put);
  }
  return true;
}

void SocketStream::Shutdown() { ::shutdown(fd_, SHUT_RDWR); }

Status SplitHostPort(const std::string& address, std::string* host, int* port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon + 1 == address.size()) {
    return Status::InvalidArgument("remoting address '" + address + "' is not HOST:PORT");
  }
  char* end = nullptr;
  const long value = std::strtol(address.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || value < 0 || value > 65535) {
    return Status::InvalidArgument("remoting address '" + address + "' has no valid port");
  }
  *host = address.substr(0, colon);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  *port = static_cast<int>(value);
  return Status::Ok();
}

Result<int> ConnectTcp(const std::string& address) {
  std::string host;
  int port = 0;
  EI_RETURN_IF_ERROR(SplitHostPort(address, &host, &port));
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
  if (rc != 0) {
    return Status::Unavailable("cannot resolve remoting server '" + address +
                               "': " + gai_strerror(rc));
  }
  int fd = -1;
  int last_errno = 0;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
    last_errno = errno;
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(found);
  if (fd < 0) {
    return Status::Unavailable("cannot connect to remoting server '" + address +
                               "': " + std::strerror(last_errno));
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

Status WriteFrame(Stream& s, FrameType type, uint16_t flags, const void* payload, size_t size) {
  if (size > kMaxFrameBytes) {
    return Status::Internal("remoting frame of " + std::to_string(size) +
                            " bytes exceeds the limit");
  }
  uint8_t header[kFrameHeaderBytes];
  const uint32_t size32 = static_cast<uint32_t>(size);
  const uint16_t type16 = static_cast<uint16_t>(type);
  std::memcpy(header, &size32, 4);
  std::memcpy(header + 4, &type16, 2);
  std::memcpy(header + 6, &flags, 2);
  if (!s.WriteFull(header, sizeof(header)) || (size > 0 && !s.WriteFull(payload, size))) {
    return Status::Unavailable("remoting connection lost while sending");
  }
  return Status::Ok();
}

Status ReadFrameHeader(Stream& s, uint32_t max_size, FrameHeader* header) {
  uint8_t bytes[kFrameHeaderBytes];
  if (!s.ReadFull(bytes, sizeof(bytes))) {
    return Status::Unavailable("remoting connection closed");
  }
  uint16_t type = 0;
  std::memcpy(&header->size, bytes, 4);
  std::memcpy(&type, bytes + 4, 2);
  std::memcpy(&header->flags, bytes + 6, 2);
  if (type < static_cast<uint16_t>(FrameType::kHello) ||
      type > static_cast<uint16_t>(FrameType::kData)) {
    return Status::InvalidArgument("remoting frame of unknown type " + std::to_string(type));
  }
  header->type = static_cast<FrameType>(type);
  if (header->size > max_size) {
    return Status::ResourceExhausted("remoting frame of " + std::to_string(header->size) +
                                     " bytes exceeds the limit of " + std::to_string(max_size));
  }
  return Status::Ok();
}

Status ReadFrame(Stream& s, uint32_t max_size, FrameHeader* header, std::vector<uint8_t>* payload) {
  EI_RETURN_IF_ERROR(ReadFrameHeader(s, max_size, header));
  payload->resize(header->size);
  if (header->size > 0 && !s.ReadFull(payload->data(), header->size)) {
    return Status::Unavailable("remoting connection closed inside a frame");
  }
  return Status::Ok();
}

std::vector<uint8_t> EncodeHello(const Hello& hello) {
  Encoder e;
  e.U32(hello.magic).U32(hello.version).Str(hello.token);
  return std::move(e.bytes());
}

Result<Hello> DecodeHello(const uint8_t* data, size_t size) {
  Decoder d(data, size);
  Hello hello;
  hello.magic = d.U32();
  hello.version = d.U32();
  hello.token = d.Str(kMaxHelloBytes);
  if (!d.ok() || d.remaining() != 0) return Status::InvalidArgument("malformed remoting hello");
  if (hello.magic != kMagic) return Status::InvalidArgument("not a remoting client (bad magic)");
  return hello;
}

std::vector<uint8_t> EncodeWelcome(const Welcome& w) {
  Encoder e;
  e.U32(static_cast<uint32_t>(w.code)).Str(w.message).Str(w.executor).Str(w.device_name);
  e.U64(w.total_memory).U32(w.max_frame_bytes);
  return std::move(e.bytes());
}

Result<Welcome> DecodeWelcome(const uint8_t* data, size_t size) {
  Decoder d(data, size);
  Welcome w;
  w.code = static_cast<StatusCode>(d.U32());
  w.message = d.Str();
  w.executor = d.Str();
  w.device_name = d.Str();
  w.total_memory = d.U64();
  w.max_frame_bytes = d.U32();
  if (!d.ok()) return Status::DataLoss("malformed remoting welcome");
  return w;
}

std::vector<uint8_t> EncodeReply(const Reply& r) {
  Encoder e;
  e.U32(static_cast<uint32_t>(r.code)).U16(static_cast<uint16_t>(r.failed_op)).Str(r.message);
  e.U32(static_cast<uint32_t>(r.result.size())).Raw(r.result.data(), r.result.size());
  e.U64(r.data_bytes);
  return std::move(e.bytes());
}

Result<Reply> DecodeReply(const uint8_t* data, size_t size) {
  Decoder d(data, size);
  Reply r;
  r.code = static_cast<StatusCode>(d.U32());
  r.failed_op = static_cast<Op>(d.U16());
  r.message = d.Str(kMaxFrameBytes);
  const uint32_t n = d.U32();
  if (const uint8_t* p = d.Bytes(n)) r.result.assign(p, p + n);
  r.data_bytes = d.U64();
  if (!d.ok()) return Status::DataLoss("malformed remoting reply");
  return r;
}

void AppendCall(std::vector<uint8_t>* payload, Op op, const uint8_t* args, size_t size) {
  const size_t at = payload->size();
  payload->resize(at + 8 + size);
  const uint16_t op16 = static_cast<uint16_t>(op);
  const uint16_t reserved = 0;
  const uint32_t size32 = static_cast<uint32_t>(size);
  std::memcpy(payload->data() + at, &op16, 2);
  std::memcpy(payload->data() + at + 2, &reserved, 2);
  std::memcpy(payload->data() + at + 4, &size32, 4);
  if (size > 0) std::memcpy(payload->data() + at + 8, args, size);
}

Result<std::vector<CallRecord>> SplitCalls(const uint8_t* data, size_t size) {
  std::vector<CallRecord> records;
  Decoder d(data, size);
  while (d.remaining() > 0) {
    const size_t offset = size - d.remaining();
    CallRecord r;
    r.op = static_cast<Op>(d.U16());
    (void)d.U16();
    r.size = d.U32();
    r.args = d.Bytes(r.size);
    if (!d.ok()) {
      return Status::InvalidArgument("truncated remoting call record at offset " +
                                     std::to_string(offset));
    }
    records.push_back(r);
  }
  return records;
}

}  // namespace edgeinfer::remoting
