#include "backend/cpu/conv_algorithm.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace edgeinfer::cpu {

std::optional<WinogradPolicy> ParseWinogradPolicy(const std::string& name) {
  if (name == "auto") return WinogradPolicy::kAuto;
  if (name == "on") return WinogradPolicy::kOn;
  if (name == "off") return WinogradPolicy::kOff;
  return std::nullopt;
}

WinogradPolicy WinogradPolicyFromEnv() {
  static const WinogradPolicy policy = [] {
    const char* value = std::getenv("EDGEINFER_WINOGRAD");
    if (value == nullptr || *value == '\0') return WinogradPolicy::kAuto;
    std::optional<WinogradPolicy> parsed = ParseWinogradPolicy(value);
    if (!parsed) {
      std::fprintf(stderr,
                   "edgeinfer: ignoring EDGEINFER_WINOGRAD='%s' (expected auto, on or off); "
                   "using auto\n",
                   value);
      return WinogradPolicy::kAuto;
    }
    return *parsed;
  }();
  return policy;
}

bool WinogradEligible(const ConvShape& conv) {
  return conv.kernel_h == 3 && conv.kernel_w == 3 && conv.stride_h == 1 && conv.stride_w == 1 &&
         conv.dilation_h == 1 && conv.dilation_w == 1 && conv.groups == 1;
}

bool PreferWinograd(WinogradPolicy policy, const ConvShape& conv, int threads) {
  if (policy == WinogradPolicy::kOff || !WinogradEligible(conv)) return false;
  if (policy == WinogradPolicy::kOn) return true;
  const double flops = 2.0 * static_cast<double>(conv.out_h) * static_cast<double>(conv.out_w) *
                       static_cast<double>(conv.in_channels) *
                       static_cast<double>(conv.out_channels) * 9.0;
  const double per_thread = flops / std::max(1, threads);
  const int64_t narrowest = std::min(conv.in_channels, conv.out_channels);
  if (narrowest >= kWinogradMinChannels && per_thread >= kWinogradMinFlopsPerThread) return true;
  // Large feature maps have enough tiles to amortise the transforms at half that work.
  return narrowest >= kWinogradMinChannelsLargeMap &&
         conv.out_h * conv.out_w >= kWinogradLargeMapPixels &&
         per_thread >= kWinogradMinFlopsPerThreadLargeMap;
}

}  // namespace edgeinfer::cpu
