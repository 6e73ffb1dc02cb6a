// miniattn-bench-cuda: the fused kernel's throughput on this GPU. For each (L, D, causal, pv):
// B*H heads chosen to fill the GPU (the same rule as scripts/cuda_vs_sdpa.py), synthetic
// normal inputs, quantised once per set; the kernel alone is timed with CUDA events (median of
// `repeat` after `warmup`), rotating over enough input sets that their operands exceed twice
// the L2 size, so no run finds its K/V in cache from the previous one. The on-device
// quantisation (Q, K smoothing and quantisation, V conversion/packing) is timed too.
// ops = 4 * D * unmasked scores (DESIGN.md); TOPS = ops / seconds / 1e12.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/cuda/cuda_backend.hpp"
#include "kernels/cuda/cuda_config.hpp"
#include "tools/cuda_tools.hpp"
#include "kernels/cuda/cuda_util.hpp"
#include "miniattn/error.hpp"
#include "miniattn/synthetic.hpp"

namespace miniattn::cuda {
namespace {

std::vector<int64_t> int_list(const std::string& s) {
  std::vector<int64_t> v;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) v.push_back(std::stoll(item));
  return v;
}

std::vector<std::string> str_list(const std::string& s) {
  std::vector<std::string> v;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) v.push_back(item);
  return v;
}

// Dense tensor-core peak (ops per clock per SM, datasheet figures) at the reported peak clock.
struct Peaks {
  double int8_tops = 0, bf16_tflops = 0;
};

Peaks device_peaks(int dev) {
  int major = 0, minor = 0, sms = 0, khz = 0;
  cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev);
  cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev);
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
  cudaDeviceGetAttribute(&khz, cudaDevAttrClockRate, dev);
  double int8 = 0, bf16 = 0;  // per SM per clock
  if (major == 8 && minor == 0) int8 = 4096, bf16 = 2048;       // A100
  else if (major == 8) int8 = 2048, bf16 = 1024;                // GA10x / AD10x (L4, L40, 4090)
  else if (major == 9) int8 = 8192, bf16 = 4096;                // H100 / H200 (wgmma peak)
  const double clk = khz * 1e3 * sms;
  return {int8 * clk / 1e12, bf16 * clk / 1e12};
}

// B*H so that the grid holds at least 4 waves of 128-row tiles on every SM, and >= 16 heads,
// rounded up to whole batches of `heads` (scripts/cuda_vs_sdpa.py applies the same rule).
int64_t auto_bh(int64_t l, int64_t heads, int sms) {
  const int64_t tiles = (l + 127) / 128;
  int64_t bh = std::max<int64_t>(16, (4 * sms + tiles - 1) / tiles);
  return (bh + heads - 1) / heads * heads;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[(v.size() - 1) / 2];
}

}  // namespace

int bench_main(int argc, char** argv, std::FILE* out) {
  std::string seqs = "1024,4096,16384", dims = "64,128", causals = "0,1", pvs = "bf16,int8", csv;
  int64_t bh_opt = 0, heads = 16, warmup = 5, repeat = 20;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw Error("miniattn-bench-cuda: " + a + " needs a value");
      return argv[++i];
    };
    if (a == "--seq") seqs = next();
    else if (a == "--dims") dims = next();
    else if (a == "--causal") causals = next();
    else if (a == "--pv") pvs = next();
    else if (a == "--bh") bh_opt = std::stoll(next());
    else if (a == "--heads") heads = std::stoll(next());
    else if (a == "--warmup") warmup = std::stoll(next());
    else if (a == "--repeat") repeat = std::stoll(next());
    else if (a == "--csv") csv = next();
    else throw Error("miniattn-bench-cuda: unknown argument '" + a + "'");
  }
  if (repeat < 1 || warmup < 0 || heads < 1) throw Error("miniattn-bench-cuda: --repeat >= 1, --warmup >= 0, --heads >= 1");
  if (const std::string why = cuda_unsupported(); !why.empty())
    throw Error("miniattn-bench-cuda: " + why, ExitCode::RuntimeFailure);
  const int dev = select_device();
  cudaDeviceProp prop{};
  check_cuda(cudaGetDeviceProperties(&prop, dev), "cudaGetDeviceProperties");
  int l2 = 0;
  cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, dev);
  const Peaks peak = device_peaks(dev);
  // The kernel runs half its ops (Q.K^T) on int8 and half (P.V) on bf16 or int8 units.
  std::fprintf(out, "device %s (sm_%d%d, %d SMs, L2 %d MiB); dense peaks: int8 %.0f TOPS, bf16 %.0f TFLOPS\n",
               prop.name, prop.major, prop.minor, prop.multiProcessorCount, l2 >> 20, peak.int8_tops, peak.bf16_tflops);

  std::FILE* csvf = csv.empty() ? nullptr : std::fopen(csv.c_str(), "w");
  if (!csv.empty() && !csvf) throw Error("miniattn-bench-cuda: cannot write " + csv);
  if (csvf)
    std::fprintf(csvf, "device,batch,heads,seq,dim,causal,pv,kernel_ms,kernel_ms_min,tops,peak_tops,pct_peak,"
                       "quant_ms,tops_with_quant,int8_peak_tops,bf16_peak_tflops\n");
  std::fprintf(out, "%-6s %-4s %-6s %-4s %-6s %-10s %-8s %-8s %-9s %-11s\n", "L", "D", "causal", "pv", "B*H",
               "kernel ms", "TOPS", "% peak", "quant ms", "TOPS+quant");

  for (int64_t l : int_list(seqs))
    for (int64_t d : int_list(dims))
      for (int64_t causal : int_list(causals))
        for (const std::string& pvname : str_list(pvs)) {
          const auto pv = parse_pv_precision(pvname);
          if (!pv) throw Error("miniattn-bench-cuda: unknown pv '" + pvname + "'");
          KernelShape ks;
          if (!kernel_shape(static_cast<int>(d), *pv, ks)) throw Error("miniattn-bench-cuda: no kernel for D " + std::to_string(d));
          const int64_t bh = bh_opt > 0 ? bh_opt : auto_bh(l, heads, prop.multiProcessorCount);
          const int64_t h = std::min(heads, bh), b = (bh + h - 1) / h;
          ProblemShape s{b, h, h, l, l, static_cast<int>(d), causal != 0, 0.0};
          const AttnParams p = make_attn_params(s, Variant::Fused, *pv, Exp2Kind::Accurate, QkScales::PerToken, true,
                                                {ks.br, ks.bc});
          const int64_t rows = p.batch * p.heads * p.lq, keys = p.batch * p.kv_heads * p.lk;
          std::vector<float> q(static_cast<std::size_t>(rows * d)), k(static_cast<std::size_t>(keys * d)), v(k.size());
          synthetic_rows(Distribution::Normal, 1, Tensor::Q, p.heads, p.lq, p.d, 0, rows, q.data());
          synthetic_rows(Distribution::Normal, 1, Tensor::K, p.kv_heads, p.lk, p.d, 0, keys, k.data());
          synthetic_rows(Distribution::Normal, 1, Tensor::V, p.kv_heads, p.lk, p.d, 0, keys, v.data());

          // Operands the kernel streams per run: q8, k8, V (1 or 2 bytes), O (fp32).
          const double run_bytes = static_cast<double>(rows) * d * (1 + 4) + keys * d * (1 + (*pv == PvPrecision::Int8 ? 1 : 2));
          const int sets = static_cast<int>(std::clamp(2.0 * l2 / run_bytes + 1.0, 2.0, 8.0));
          std::vector<std::unique_ptr<DeviceAttention>> set;
          std::vector<double> quant_s;
          for (int i = 0; i < sets; ++i) {
            set.push_back(std::make_unique<DeviceAttention>(p, Range{0, rows}, Range{0, p.batch * p.kv_heads}));
            set.back()->upload(q.data(), k.data(), v.data());
            const cudaStream_t st = static_cast<cudaStream_t>(set.back()->stream());
            Event e0, e1;
            e0.record(st);
            set.back()->quantize();
            set.back()->pack();
            e1.record(st);
            set.back()->sync();
            quant_s.push_back(seconds_between(e0, e1));
          }
          std::vector<double> times;
          Event e0, e1;
          for (int64_t it = 0; it < warmup + repeat; ++it) {
            DeviceAttention& dv = *set[static_cast<std::size_t>(it % sets)];
            const cudaStream_t st = static_cast<cudaStream_t>(dv.stream());
            e0.record(st);
            dv.attend(false);
            e1.record(st);
            dv.sync();
            if (it >= warmup) times.push_back(seconds_between(e0, e1));
          }
          const double t = median(times), tmin = *std::min_element(times.begin(), times.end());
          const double tq = median(quant_s);
          const double ops = 4.0 * d * p.unmasked_scores();
          const double tops = ops / t / 1e12, tops_q = ops / (t + tq) / 1e12;
          // Q.K^T on int8, P.V on bf16 (or int8): time at peak = ops/2 on each unit.
          const double pv_peak = *pv == PvPrecision::Int8 ? peak.int8_tops : peak.bf16_tflops;
          const double eff_peak = peak.int8_tops > 0 ? 1.0 / (0.5 / peak.int8_tops + 0.5 / pv_peak) : 0.0;
          const double pct = eff_peak > 0 ? 100.0 * tops / eff_peak : 0.0;
          std::fprintf(out, "%-6ld %-4ld %-6s %-4s %-6ld %-10.3f %-8.1f %-8.1f %-9.3f %-11.1f\n", static_cast<long>(l),
                       static_cast<long>(d), causal ? "yes" : "no", pvname.c_str(), static_cast<long>(b * h), t * 1e3, tops,
                       pct, tq * 1e3, tops_q);
          std::fflush(out);
          if (csvf)
            std::fprintf(csvf, "\"%s\",%ld,%ld,%ld,%ld,%d,%s,%.6f,%.6f,%.3f,%.1f,%.2f,%.6f,%.3f,%.1f,%.1f\n", prop.name,
                         static_cast<long>(b), static_cast<long>(h), static_cast<long>(l), static_cast<long>(d),
                         causal ? 1 : 0, pvname.c_str(), t * 1e3, tmin * 1e3, tops, eff_peak, pct, tq * 1e3, tops_q,
                         peak.int8_tops, peak.bf16_tflops);
        }
  if (csvf) std::fclose(csvf);
  std::fprintf(out, "%% peak: against 1 / (0.5 / int8 peak + 0.5 / P.V unit peak), the dense datasheet rates at the "
               "reported clock (sm_90: wgmma rates; this kernel uses mma.sync)\n");
  return 0;
}

}  // namespace miniattn::cuda
