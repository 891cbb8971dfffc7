// Which oneDNN convolution algorithm a 2-D convolution gets: direct or Winograd.
//
// oneDNN's f32 Winograd kernels (F(2x2,3x3), AVX-512 only) do about 2.25x fewer multiplies for
// a 3x3, stride-1 convolution, but transform the input and output tiles and want a blocked
// layout (nChw16c) that the direct kernels' NHWC neighbours must be reordered to and from.
// Measured per layer on this project's zoo (docs/benchmarks.md, "Winograd convolutions"), it
// pays where the convolution has enough arithmetic per thread to amortise those fixed costs,
// and loses on thin or small layers (GoogLeNet's 7x7 and 14x14 branches at 2 threads,
// SqueezeNet's fire modules), so the default picks it per layer by work per thread.
#ifndef EDGEINFER_BACKEND_CPU_CONV_ALGORITHM_H_
#define EDGEINFER_BACKEND_CPU_CONV_ALGORITHM_H_

#include <cstdint>
#include <optional>
#include <string>

namespace edgeinfer::cpu {

// EDGEINFER_WINOGRAD: "auto" (default, by work per thread), "on" (every eligible layer),
// "off" (never).
enum class WinogradPolicy { kAuto, kOn, kOff };

// nullopt for an unknown name.
std::optional<WinogradPolicy> ParseWinogradPolicy(const std::string& name);
// The policy from EDGEINFER_WINOGRAD, read once; unset or unknown (with a warning on stderr
// naming the value) means kAuto.
WinogradPolicy WinogradPolicyFromEnv();

// A 2-D convolution as the choice sees it.
struct ConvShape {
  int64_t in_channels = 0, out_channels = 0, out_h = 0, out_w = 0;
  int64_t kernel_h = 0, kernel_w = 0, stride_h = 0, stride_w = 0;
  int64_t dilation_h = 1, dilation_w = 1, groups = 1;  // ONNX form: 1 means none
};

// kAuto picks Winograd for a layer with at least 64 input and output channels and 100 MFLOP
// of direct-convolution work per thread, or, on feature maps of at least 27x27 outputs (many
// tiles), with at least 16 channels and 50 MFLOP per thread. Thinner or smaller layers stay
// direct: the transforms and layout changes cost more than the multiplies saved.
constexpr int64_t kWinogradMinChannels = 64;
constexpr double kWinogradMinFlopsPerThread = 100e6;
constexpr int64_t kWinogradMinChannelsLargeMap = 16;
constexpr int64_t kWinogradLargeMapPixels = 27 * 27;
constexpr double kWinogradMinFlopsPerThreadLargeMap = 50e6;

// True if the layer's shape is one oneDNN's Winograd kernels take (3x3, stride 1, no
// dilation, one group).
bool WinogradEligible(const ConvShape& conv);
// True if `policy` asks for Winograd on this layer at `threads` threads (>= 1).
bool PreferWinograd(WinogradPolicy policy, const ConvShape& conv, int threads);

}  // namespace edgeinfer::cpu

#endif  // EDGEINFER_BACKEND_CPU_CONV_ALGORITHM_H_
