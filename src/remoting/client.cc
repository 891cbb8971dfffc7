#include "remoting/client.h"

namespace edgeinfer::remoting {

Result<std::unique_ptr<Client>> Client::Connect(const std::string& address,
                                                const std::string& token) {
  EI_ASSIGN_OR_RETURN(int fd, ConnectTcp(address));
  Result<std::unique_ptr<Client>> client = Handshake(std::make_unique<SocketStream>(fd), token);
  if (!client.ok()) return client.status().WithContext("remoting server '" + address + "'");
  return client;
}

Result<std::unique_ptr<Client>> Client::Handshake(std::unique_ptr<Stream> stream,
                                                  const std::string& token) {
  std::unique_ptr<Client> client(new Client(std::move(stream)));
  Hello hello;
  hello.token = token;
  const std::vector<uint8_t> bytes = EncodeHello(hello);
  EI_RETURN_IF_ERROR(
      WriteFrame(*client->stream_, FrameType::kHello, 0, bytes.data(), bytes.size()));
  FrameHeader h;
  std::vector<uint8_t> payload;
  EI_RETURN_IF_ERROR(ReadFrame(*client->stream_, kMaxHelloBytes, &h, &payload));
  if (h.type != FrameType::kWelcome) return Status::DataLoss("server did not answer with welcome");
  EI_ASSIGN_OR_RETURN(client->welcome_, DecodeWelcome(payload.data(), payload.size()));
  if (client->welcome_.code != StatusCode::kOk) {
    return Status(client->welcome_.code, "refused: " + client->welcome_.message);
  }
  client->stats_.bytes_out += static_cast<int64_t>(kFrameHeaderBytes + bytes.size());
  client->stats_.bytes_in += static_cast<int64_t>(kFrameHeaderBytes + payload.size());
  return client;
}

uint64_t Client::NextId() {
  std::lock_guard<std::mutex> lock(mu_);
  next_id_ += 16;
  return next_id_;
}

ClientStats Client::stats() {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

Status Client::Broken() {
  return Status::Unavailable("remoting connection lost: " + broken_reason_);
}

Status Client::SendQueue(uint16_t flags) {
  Status st = WriteFrame(*stream_, FrameType::kCalls, flags, queue_.data(), queue_.size());
  if (!st.ok()) {
    broken_ = true;
    broken_reason_ = st.message();
    return Broken();
  }
  ++stats_.frames_out;
  stats_.bytes_out += static_cast<int64_t>(kFrameHeaderBytes + queue_.size());
  queue_.clear();
  return Status::Ok();
}

Status Client::Enqueue(Op op, const Encoder& args) {
  std::lock_guard<std::mutex> lock(mu_);
  if (broken_) return Broken();
  if (queue_.size() + 8 + args.size() > kMaxFrameBytes) EI_RETURN_IF_ERROR(SendQueue(0));
  AppendCall(&queue_, op, args.bytes().data(), args.size());
  ++stats_.calls;
  return Status::Ok();
}

Status Client::CopyToDevice(uint64_t dst, const void* src, uint64_t size) {
  std::lock_guard<std::mutex> lock(mu_);
  if (broken_) return Broken();
  Encoder args;
  args.U64(dst).U64(size);
  const bool inline_data = size <= kInlineCopyBytes;
  args.U8(inline_data ? 1 : 0);
  if (inline_data) args.Raw(src, size);
  if (queue_.size() + 8 + args.size() > kMaxFrameBytes) EI_RETURN_IF_ERROR(SendQueue(0));
  AppendCall(&queue_, Op::kMemcpyHtoD, args.bytes().data(), args.size());
  ++stats_.calls;
  if (inline_data) return Status::Ok();
  // The copy ends this frame; its bytes follow as data chunks.
  EI_RETURN_IF_ERROR(SendQueue(0));
  const auto* p = static_cast<const uint8_t*>(src);
  for (uint64_t at = 0; at < size; at += kChunkBytes) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kChunkBytes, size - at));
    Status st = WriteFrame(*stream_, FrameType::kData, 0, p + at, n);
    if (!st.ok()) {
      broken_ = true;
      broken_reason_ = st.message();
      return Broken();
    }
    stats_.bytes_out += static_cast<int64_t>(kFrameHeaderBytes + n);
  }
  return Status::Ok();
}

Status Client::CopyToHost(void* dst, uint64_t src, uint64_t size) {
  std::lock_guard<std::mutex> lock(mu_);
  if (broken_) return Broken();
  Encoder args;
  args.U64(src).U64(size);
  if (queue_.size() + 8 + args.size() > kMaxFrameBytes) EI_RETURN_IF_ERROR(SendQueue(0));
  AppendCall(&queue_, Op::kMemcpyDtoH, args.bytes().data(), args.size());
  ++stats_.calls;
  copies_.emplace_back(dst, size);
  return Status::Ok();
}

Result<Reply> Client::Sync(Op op, const Encoder& args) {
  std::lock_guard<std::mutex> lock(mu_);
  if (broken_) return Broken();
  if (op != Op::kNone) {
    if (queue_.size() + 8 + args.size() > kMaxFrameBytes) EI_RETURN_IF_ERROR(SendQueue(0));
    AppendCall(&queue_, op, args.bytes().data(), args.size());
    ++stats_.calls;
  }
  EI_RETURN_IF_ERROR(SendQueue(kFlagSync));
  ++stats_.round_trips;
  FrameHeader h;
  std::vector<uint8_t> payload;
  Status st = ReadFrame(*stream_, kMaxFrameBytes, &h, &payload);
  if (st.ok() && h.type != FrameType::kReply) st = Status::DataLoss("expected a reply frame");
  Result<Reply> reply = st.ok() ? DecodeReply(payload.data(), payload.size()) : Result<Reply>(st);
  uint64_t expected = 0;
  for (const auto& c : copies_) expected += c.second;
  if (reply.ok() && reply->data_bytes != expected) {
    reply = Status::DataLoss("reply announces " + std::to_string(reply->data_bytes) +
                             " copy bytes, " + std::to_string(expected) + " expected");
  }
  if (!reply.ok()) {
    broken_ = true;
    broken_reason_ = reply.status().message();
    return Broken();
  }
  stats_.bytes_in += static_cast<int64_t>(kFrameHeaderBytes + payload.size());
  // The device-to-host copies, in order, as data chunks.
  for (const auto& [dst, size] : copies_) {
    uint64_t done = 0;
    while (done < size) {
      st = ReadFrameHeader(*stream_, kMaxFrameBytes, &h);
      if (st.ok() && (h.type != FrameType::kData || h.size == 0 || h.size > size - done)) {
        st = Status::DataLoss("bad data frame in a device-to-host copy");
      }
      if (st.ok() && !stream_->ReadFull(static_cast<uint8_t*>(dst) + done, h.size)) {
        st = Status::Unavailable("connection closed inside a copy");
      }
      if (!st.ok()) {
        broken_ = true;
        broken_reason_ = st.message();
        copies_.clear();
        return Broken();
      }
      stats_.bytes_in += static_cast<int64_t>(kFrameHeaderBytes + h.size);
      done += h.size;
    }
  }
  copies_.clear();
  return reply;
}

}  // namespace edgeinfer::remoting
