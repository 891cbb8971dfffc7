// bench_quantization: what fp16 / int8 transfer quantisation costs in accuracy, and what lz4 /
// zstd compression buys, on the tensors that cross a split point of each zoo model.
//
// For each model and split point (the first 25%, 50% and 75% of the nodes in topological order
// run on the device), the full model runs locally on `--seeds` structured random images
// (smooth gratings plus noise, normalised like ImageNet inputs) and yields both the cut tensors
// and the reference output. The suffix (Graph::Slice from the cut to the outputs) then runs on
// the cut tensors after an fp16 and after an int8 round trip (net/compress.h), and the output
// is compared with the reference: relative L2 (mean and max over seeds) and top-1 agreement
// (classifiers only). The raw float32 cut tensors are also compressed with lz4 (default
// acceleration) and zstd (level 1): ratio = compressed / raw bytes over all seeds, and speed in
// MB/s of raw data (best of 3 passes over all seeds' tensors, one thread).
//
// Zoo models carry deterministic random weights, so top-1 agreement measures how often
// quantisation flips the arg-max of a random classifier, not accuracy on real data.
//
// usage: bench_quantization [--models a,b,...] [--seeds N] [--fractions 0.25,0.5,0.75]
//                           [--threads N] [--out docs/benchmarks.md]
#include <sys/utsname.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "core/parallel.h"
#include "net/compress.h"
#include "runtime/local_session.h"
#include "runtime/split_plan.h"
#include "zoo/zoo.h"

namespace edgeinfer::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Per channel: three random sinusoidal gratings (1-6 cycles across the image, random
// orientation and phase) plus Gaussian noise of 0.1, then scaled to mean 0, std 1 per channel,
// as a normalised natural image roughly is.
Tensor StructuredImage(const Shape& shape, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::normal_distribution<double> noise(0.0, 0.1);
  Tensor t = Tensor::Empty(DType::kFloat32, shape);
  const int64_t c = shape[1], h = shape[2], w = shape[3];
  float* p = t.data<float>();
  for (int64_t ch = 0; ch < c; ++ch) {
    double fx[3], fy[3], ph[3], amp[3];
    for (int k = 0; k < 3; ++k) {
      const double cycles = 1.0 + 5.0 * u(rng), angle = u(rng) * M_PI;
      fx[k] = cycles * std::cos(angle) / static_cast<double>(w);
      fy[k] = cycles * std::sin(angle) / static_cast<double>(h);
      ph[k] = u(rng) * 2 * M_PI;
      amp[k] = 0.3 + u(rng);
    }
    float* plane = p + ch * h * w;
    double sum = 0, sq = 0;
    for (int64_t y = 0; y < h; ++y) {
      for (int64_t x = 0; x < w; ++x) {
        double v = noise(rng);
        for (int k = 0; k < 3; ++k) {
          v += amp[k] * std::sin(2 * M_PI * (fx[k] * x + fy[k] * y) + ph[k]);
        }
        plane[y * w + x] = static_cast<float>(v);
        sum += v;
        sq += v * v;
      }
    }
    const double n = static_cast<double>(h * w), mean = sum / n;
    const double sd = std::sqrt(std::max(sq / n - mean * mean, 1e-12));
    for (int64_t i = 0; i < h * w; ++i) plane[i] = static_cast<float>((plane[i] - mean) / sd);
  }
  return t;
}

double RelativeL2(const Tensor& got, const Tensor& ref) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < ref.numel(); ++i) {
    const double d = static_cast<double>(got.data<float>()[i]) - ref.data<float>()[i];
    num += d * d;
    den += static_cast<double>(ref.data<float>()[i]) * ref.data<float>()[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

int64_t ArgMax(const Tensor& t) {
  return std::max_element(t.data<float>(), t.data<float>() + t.numel()) - t.data<float>();
}

Tensor RoundTrip(const Tensor& t, net::Quantization q) {
  const size_t n = static_cast<size_t>(t.numel());
  Tensor out = Tensor::Empty(DType::kFloat32, t.shape());
  if (q == net::Quantization::kFp16) {
    std::vector<uint16_t> h(n);
    net::QuantizeFp16(t.data<float>(), n, h.data());
    net::DequantizeFp16(h.data(), n, out.data<float>());
  } else {
    std::vector<int8_t> b(n);
    const net::Int8Params p = net::ChooseInt8Params(t.data<float>(), n);
    net::QuantizeInt8(t.data<float>(), n, p, b.data());
    net::DequantizeInt8(b.data(), n, p, out.data<float>());
  }
  return out;
}

struct Accuracy {
  std::vector<double> rel_l2;
  int top1_same = 0;
};

struct SplitRow {
  int device_nodes = 0;
  std::vector<std::string> cut;
  size_t cut_bytes = 0;  // per inference
  Accuracy fp16, int8;
  std::vector<Tensor> cut_tensors;  // all seeds, float32
  std::unique_ptr<Session> suffix;
};

struct CodecStats {
  double ratio = 0, compress_mbs = 0, decompress_mbs = 0;
};

// Ratio and best-of-3 throughput of `codec` over `tensors`.
CodecStats MeasureCodec(net::Codec codec, const std::vector<Tensor>& tensors) {
  CodecStats s;
  std::vector<std::string> frames(tensors.size());
  size_t raw = 0, packed = 0;
  double best_c = 1e30, best_d = 1e30;
  for (int pass = 0; pass < 3; ++pass) {
    auto t0 = Clock::now();
    for (size_t i = 0; i < tensors.size(); ++i) {
      frames[i].clear();
      (void)net::Compress(codec, tensors[i].raw_data(), tensors[i].nbytes(), &frames[i]);
    }
    best_c = std::min(best_c, std::chrono::duration<double>(Clock::now() - t0).count());
    std::vector<char> out;
    t0 = Clock::now();
    for (size_t i = 0; i < tensors.size(); ++i) {
      out.resize(tensors[i].nbytes());
      (void)net::Decompress(codec, frames[i], out.data(), out.size(), "bench");
    }
    best_d = std::min(best_d, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  for (size_t i = 0; i < tensors.size(); ++i) {
    raw += tensors[i].nbytes();
    packed += frames[i].size();
  }
  s.ratio = raw ? static_cast<double>(packed) / raw : 1.0;
  s.compress_mbs = raw / 1e6 / best_c;
  s.decompress_mbs = raw / 1e6 / best_d;
  return s;
}

// int8 quantisation followed by lz4, wire bytes over raw float32 bytes.
double Int8Lz4Ratio(const std::vector<Tensor>& tensors) {
  size_t raw = 0, packed = 0;
  for (const Tensor& t : tensors) {
    const size_t n = static_cast<size_t>(t.numel());
    std::vector<int8_t> b(n);
    net::QuantizeInt8(t.data<float>(), n, net::ChooseInt8Params(t.data<float>(), n), b.data());
    std::string frame;
    (void)net::Compress(net::Codec::kLz4, b.data(), n, &frame);
    raw += t.nbytes();
    packed += std::min(frame.size(), n);  // the sender falls back to uncompressed bytes
  }
  return raw ? static_cast<double>(packed) / raw : 1.0;
}

int Run(int argc, char** argv) {
  // VGG-16 (15.5 GFLOPs) and OpenPose (~180 GFLOPs at 368x368) take minutes per seed sweep on
  // a shared core; they run only when named.
  std::vector<std::string> models = {"alexnet",       "resnet18",  "resnet50",   "mobilenetv2",
                                     "squeezenet1.1", "googlenet", "yolov2-tiny"};
  int seeds = 20, threads = 1;
  std::vector<double> fractions = {0.25, 0.5, 0.75};
  std::string out_md;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--models") {
      models = SplitComma(next());
    } else if (a == "--seeds") {
      seeds = std::max(1, std::atoi(next().c_str()));
    } else if (a == "--threads") {
      threads = std::atoi(next().c_str());
    } else if (a == "--fractions") {
      fractions.clear();
      for (const std::string& f : SplitComma(next())) fractions.push_back(std::atof(f.c_str()));
    } else if (a == "--out") {
      out_md = next();
    } else {
      std::fprintf(stderr,
                   "usage: bench_quantization [--models a,b] [--seeds N] [--fractions f,g] "
                   "[--threads N] [--out FILE]\n");
      return 2;
    }
  }
  std::string load;
  std::ifstream("/proc/loadavg") >> load;
  const std::string machine = MachineLine() + ", load average " + load + " at the start";
  SetNumThreads(threads);
  SessionOptions options;
  options.threads = threads;

  std::ostringstream table;
  table << "| model | split (device nodes/nodes) | cut tensors | cut KB | fp16 rel L2 mean / max | "
           "fp16 "
           "top-1 | int8 rel L2 mean / max | int8 top-1 | lz4 ratio | lz4 MB/s c / d | zstd-1 "
           "ratio | zstd MB/s c / d | int8+lz4 ratio |\n";
  table << "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const std::string& name : models) {
    const ZooModel* zoo = FindZooModel(name);
    if (zoo == nullptr) {
      std::fprintf(stderr, "unknown zoo model %s\n", name.c_str());
      return 2;
    }
    const auto model_start = Clock::now();
    Result<Graph> graph = zoo->build(42);
    if (!graph.ok()) {
      std::fprintf(stderr, "%s: %s\n", name.c_str(), graph.status().ToString().c_str());
      return 1;
    }
    const int nodes = static_cast<int>(graph->nodes().size());
    std::vector<std::string> model_outputs;
    for (ValueId id : graph->outputs()) model_outputs.push_back(graph->value(id).name);
    // One full session produces every split's cut tensors and the reference outputs.
    std::vector<SplitRow> rows;
    Graph probe = *graph;
    std::vector<ValueId> probe_outputs;
    for (double f : fractions) {
      SplitRow row;
      row.device_nodes = static_cast<int>(std::lround(f * nodes));
      Result<std::vector<std::string>> cut = CrossingTensors(*graph, row.device_nodes);
      if (!cut.ok()) {
        std::fprintf(stderr, "%s: %s\n", name.c_str(), cut.status().ToString().c_str());
        return 1;
      }
      row.cut = *cut;
      for (const std::string& t : row.cut) {
        const ValueId id = graph->FindValue(t);
        if (std::find(probe_outputs.begin(), probe_outputs.end(), id) == probe_outputs.end()) {
          probe_outputs.push_back(id);
        }
      }
      Result<Graph> slice = graph->Slice(row.cut, model_outputs);
      if (!slice.ok()) {
        std::fprintf(stderr, "%s: %s\n", name.c_str(), slice.status().ToString().c_str());
        return 1;
      }
      Result<std::unique_ptr<Session>> suffix = MakeLocalSession(std::move(slice).value(), options);
      if (!suffix.ok()) {
        std::fprintf(stderr, "%s: %s\n", name.c_str(), suffix.status().ToString().c_str());
        return 1;
      }
      row.suffix = std::move(suffix).value();
      rows.push_back(std::move(row));
    }
    probe.mutable_outputs().insert(probe.mutable_outputs().end(), probe_outputs.begin(),
                                   probe_outputs.end());
    Result<std::unique_ptr<Session>> full = MakeLocalSession(std::move(probe), options);
    if (!full.ok()) {
      std::fprintf(stderr, "%s: %s\n", name.c_str(), full.status().ToString().c_str());
      return 1;
    }
    const std::string input_name = graph->value(graph->inputs()[0]).name;
    bool classifier = false;
    for (int seed = 0; seed < seeds; ++seed) {
      Result<std::vector<NamedTensor>> out =
          (*full)->Run({{input_name, StructuredImage(zoo->input_shape, 1000 + seed)}});
      if (!out.ok()) {
        std::fprintf(stderr, "%s: %s\n", name.c_str(), out.status().ToString().c_str());
        return 1;
      }
      std::map<std::string, Tensor> by_name;
      for (const NamedTensor& t : *out) by_name[t.name] = t.tensor;
      const Tensor& ref = by_name.at(model_outputs[0]);
      classifier = ref.numel() == 1000;
      for (SplitRow& row : rows) {
        for (auto q : {net::Quantization::kFp16, net::Quantization::kInt8}) {
          std::vector<NamedTensor> sent;
          for (const std::string& t : row.cut) {
            if (seed == 0 && q == net::Quantization::kFp16) row.cut_bytes += by_name[t].nbytes();
            if (q == net::Quantization::kFp16) row.cut_tensors.push_back(by_name[t]);
            sent.push_back(
                {t, by_name[t].dtype() == DType::kFloat32 ? RoundTrip(by_name[t], q) : by_name[t]});
          }
          Result<std::vector<NamedTensor>> got = row.suffix->Run(sent);
          if (!got.ok()) {
            std::fprintf(stderr, "%s: %s\n", name.c_str(), got.status().ToString().c_str());
            return 1;
          }
          Accuracy& acc = q == net::Quantization::kFp16 ? row.fp16 : row.int8;
          double worst = 0;
          for (const NamedTensor& o : *got) {
            worst = std::max(worst, RelativeL2(o.tensor, by_name.at(o.name)));
          }
          acc.rel_l2.push_back(worst);
          acc.top1_same += ArgMax((*got)[0].tensor) == ArgMax(ref);
        }
      }
    }
    for (const SplitRow& row : rows) {
      auto mean_max = [](const std::vector<double>& v) {
        double sum = 0, mx = 0;
        for (double x : v) {
          sum += x;
          mx = std::max(mx, x);
        }
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.1e / %.1e", sum / v.size(), mx);
        return std::string(buf);
      };
      auto top1 = [&](const Accuracy& a) {
        if (!classifier) return std::string("n/a");
        char buf[32];
        std::snprintf(buf, sizeof buf, "%d/%d", a.top1_same, seeds);
        return std::string(buf);
      };
      const CodecStats lz4 = MeasureCodec(net::Codec::kLz4, row.cut_tensors);
      const CodecStats zstd = MeasureCodec(net::Codec::kZstd, row.cut_tensors);
      std::string cut_names =
          row.cut[0] +
          (row.cut.size() > 1 ? " +" + std::to_string(row.cut.size() - 1) : std::string());
      char line[1024];
      std::snprintf(line, sizeof line,
                    "| %s | %d/%d | %s | %.0f | %s | %s | %s | %s | %.3f | %.0f / %.0f | %.3f | "
                    "%.0f / %.0f | %.3f |\n",
                    name.c_str(), row.device_nodes, nodes, cut_names.c_str(),
                    row.cut_bytes / 1024.0, mean_max(row.fp16.rel_l2).c_str(),
                    top1(row.fp16).c_str(), mean_max(row.int8.rel_l2).c_str(),
                    top1(row.int8).c_str(), lz4.ratio, lz4.compress_mbs, lz4.decompress_mbs,
                    zstd.ratio, zstd.compress_mbs, zstd.decompress_mbs,
                    Int8Lz4Ratio(row.cut_tensors));
      table << line;
      std::cout << line << std::flush;
    }
    std::fprintf(stderr, "%s done in %.1f s\n", name.c_str(),
                 std::chrono::duration<double>(Clock::now() - model_start).count());
  }

  std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  std::string cmdline = "build/bench_quantization";
  for (int i = 1; i < argc; ++i) cmdline += std::string(" ") + argv[i];
  std::ostringstream md;
  md << "## Transfer compression and quantisation (bench/quantization.cc)\n\n";
  md << "Measured " << date << " on " << machine << "; " << threads << " kernel thread(s), "
     << seeds << " structured random inputs per model at its own input size (smooth gratings "
     << "+ noise, normalised per channel). A split after P nodes sends the tensors crossing "
     << "from the first P nodes (topological order) to the rest. Rel L2 is the output's relative "
     << "L2 error against the unquantised run (worst output of the model); top-1 counts seeds "
     << "whose arg-max is unchanged. **Zoo models have random weights**: top-1 agreement is "
     << "about arg-max stability of a random network, not accuracy on real images; n/a marks "
     << "non-classifiers. Ratios are compressed / raw float32 bytes over all seeds (lower is "
     << "better; int8+lz4 includes the 4x of int8). Throughput is MB/s of raw data, one thread, "
     << "best of 3 passes; the machine is shared by other engineers' builds, so speeds are "
     << "indicative. VGG-16 and OpenPose are skipped by default (minutes per sweep on a shared "
     << "core); name them with --models to include them.\n\n";
  md << table.str();
  md << "\nReproduce: `" << cmdline << "`\n";
  std::cout << "\n" << md.str();
  if (!out_md.empty()) {
    std::ofstream f(out_md, std::ios::app);
    f << "\n" << md.str();
    std::printf("appended to %s\n", out_md.c_str());
  }
  return 0;
}

}  // namespace
}  // namespace edgeinfer::bench

int main(int argc, char** argv) { return edgeinfer::bench::Run(argc, argv); }
