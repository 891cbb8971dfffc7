#include "core/npy.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/file_io.h"

namespace edgeinfer {

namespace {

constexpr char kMagic[] = "\x93NUMPY";

struct NpyType {
  const char* descr;
  DType dtype;
};

const NpyType kTypes[] = {
    {"<f4", DType::kFloat32}, {"<f8", DType::kFloat64}, {"<f2", DType::kFloat16},
    {"|i1", DType::kInt8},    {"<i2", DType::kInt16},   {"<i4", DType::kInt32},
    {"<i8", DType::kInt64},   {"|u1", DType::kUInt8},   {"<u2", DType::kUInt16},
    {"<u4", DType::kUInt32},  {"<u8", DType::kUInt64},  {"|b1", DType::kBool},
};

// Finds the value text after 'key': in a Python dict literal header.
bool FindHeaderValue(const std::string& header, const std::string& key, std::string* value) {
  size_t k = header.find("'" + key + "'");
  if (k == std::string::npos) return false;
  size_t colon = header.find(':', k);
  if (colon == std::string::npos) return false;
  size_t start = header.find_first_not_of(" ", colon + 1);
  if (start == std::string::npos) return false;
  size_t end;
  if (header[start] == '(') {
    end = header.find(')', start);
    if (end == std::string::npos) return false;
    ++end;
  } else if (header[start] == '\'') {
    end = header.find('\'', start + 1);
    if (end == std::string::npos) return false;
    ++end;
  } else {
    end = header.find_first_of(",}", start);
    if (end == std::string::npos) return false;
  }
  *value = header.substr(start, end - start);
  return true;
}

}  // namespace

Result<Tensor> ParseNpy(const std::string& bytes) {
  if (bytes.size() < 10 || bytes.compare(0, 6, kMagic, 6) != 0) {
    return Status::InvalidArgument("not a .npy file (bad magic)");
  }
  auto major = static_cast<uint8_t>(bytes[6]);
  size_t header_len;
  size_t header_start;
  if (major == 1) {
    header_len =
        static_cast<uint8_t>(bytes[8]) | (static_cast<size_t>(static_cast<uint8_t>(bytes[9])) << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return Status::InvalidArgument("truncated .npy header");
    header_len = 0;
    for (int i = 0; i < 4; ++i) {
      header_len |= static_cast<size_t>(static_cast<uint8_t>(bytes[8 + i])) << (8 * i);
    }
    header_start = 12;
  } else {
    return Status::InvalidArgument("unsupported .npy version " + std::to_string(major));
  }
  if (header_start + header_len > bytes.size()) {
    return Status::InvalidArgument("truncated .npy header");
  }
  std::string header = bytes.substr(header_start, header_len);
  std::string descr, fortran, shape_text;
  if (!FindHeaderValue(header, "descr", &descr) ||
      !FindHeaderValue(header, "fortran_order", &fortran) ||
      !FindHeaderValue(header, "shape", &shape_text)) {
    return Status::InvalidArgument("malformed .npy header: " + header);
  }
  if (descr.size() >= 2) descr = descr.substr(1, descr.size() - 2);
  if (fortran.rfind("False", 0) != 0) {
    return Status::Unimplemented("Fortran-order .npy arrays are not supported");
  }
  DType dtype = DType::kUndefined;
  for (const NpyType& t : kTypes) {
    if (descr == t.descr) dtype = t.dtype;
  }
  if (descr == "<b1") dtype = DType::kBool;
  if (descr == "<u1") dtype = DType::kUInt8;
  if (descr == "<i1") dtype = DType::kInt8;
  if (dtype == DType::kUndefined) {
    return Status::Unimplemented("unsupported .npy dtype '" + descr + "'");
  }
  // The shape is a tuple, "(2, 3)" or "()": anything else (even an empty value) is malformed.
  if (shape_text.size() < 2 || shape_text.front() != '(' || shape_text.back() != ')') {
    return Status::InvalidArgument("malformed .npy shape '" + shape_text + "'");
  }
  Shape shape;
  std::string dims = shape_text.substr(1, shape_text.size() - 2);
  std::stringstream ss(dims);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t b = item.find_first_not_of(' ');
    if (b == std::string::npos) continue;
    char* end = nullptr;
    errno = 0;
    long long d = std::strtoll(item.c_str() + b, &end, 10);
    if (errno != 0 || d < 0 || (end && *end != '\0' && *end != ' ')) {
      return Status::InvalidArgument("malformed .npy shape " + shape_text);
    }
    shape.push_back(d);
  }
  size_t data_start = header_start + header_len;
  size_t available = bytes.size() - data_start;
  EI_ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(dtype, shape, available + 1));
  if (t.nbytes() > available) {
    return Status::InvalidArgument("truncated .npy data: shape " + ShapeToString(shape) +
                                   " needs " + std::to_string(t.nbytes()) + " bytes, file has " +
                                   std::to_string(available));
  }
  if (t.nbytes()) std::memcpy(t.raw_data(), bytes.data() + data_start, t.nbytes());
  return t;
}

Result<Tensor> ReadNpyFile(const std::string& path) {
  EI_ASSIGN_OR_RETURN(std::string bytes, ReadFileBytes(path));
  auto t = ParseNpy(bytes);
  if (!t.ok()) return t.status().WithContext(path);
  return t;
}

Result<std::string> SerializeNpy(const Tensor& tensor) {
  const char* descr = nullptr;
  for (const NpyType& t : kTypes) {
    if (t.dtype == tensor.dtype()) descr = t.descr;
  }
  if (descr == nullptr) {
    return Status::Unimplemented(std::string("cannot write dtype ") + DTypeName(tensor.dtype()) +
                                 " as .npy");
  }
  std::string shape = "(";
  for (size_t i = 0; i < tensor.shape().size(); ++i) {
    shape += std::to_string(tensor.shape()[i]);
    shape += (tensor.shape().size() == 1 || i + 1 < tensor.shape().size()) ? "," : "";
    if (i + 1 < tensor.shape().size()) shape += " ";
  }
  shape += ")";
  std::string header =
      std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Pad so that magic + version + length + header is a multiple of 64, ending in '\n'.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  std::string out(kMagic, 6);
  out.push_back('\x01');
  out.push_back('\x00');
  out.push_back(static_cast<char>(header.size() & 0xff));
  out.push_back(static_cast<char>((header.size() >> 8) & 0xff));
  out += header;
  out.append(static_cast<const char*>(tensor.raw_data()), tensor.nbytes());
  return out;
}

Status WriteNpyFile(const std::string& path, const Tensor& tensor) {
  EI_ASSIGN_OR_RETURN(std::string bytes, SerializeNpy(tensor));
  return WriteFileBytes(path, bytes);
}

}  // namespace edgeinfer
