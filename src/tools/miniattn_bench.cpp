// miniattn-bench: the machine's peaks and the kernel studies behind every "% of peak" in the
// project. Needs Kokkos (threads, the CPU executor of the attention study; Kokkos starts with the
// largest --threads value, and each study runs on as many of its threads as it asks for), no
// MPI/HDF5/CLI11.
//
//   miniattn-bench [--study peaks,gemm,exp2,stage2,attention | all] [--backend NAME|best|all]
//                  [--quick] [--threads 1,2] [--seconds S] [--repeat N]
//                  [--L 1024,4096] [--D 64,128] [--H 1,8] [--causal 0,1]
//                  [--variant fused,two_pass,unfused] [--pv fp32,bf16,int8] [--exp2 accurate]
//                  [--json FILE] [--csv FILE]
//
// Every figure is a median over --repeat runs after a warm-up run; buffers are allocated and
// touched before anything is timed. Peaks are instruction-throughput loops on register operands
// (per thread, then all threads at once); "% of peak" always divides by the peak this run measured.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "exec/cpu_executor.hpp"
#include "kernels/common/exp2.hpp"
#include "kernels/common/quantize.hpp"
#include "kernels/common/tile_math.hpp"
#include "kernels/studies.hpp"
#include "miniattn/clock.hpp"
#include "miniattn/cpu_features.hpp"
#include "miniattn/decomp.hpp"
#include "miniattn/error.hpp"
#include "miniattn/peaks.hpp"
#include "miniattn/registry.hpp"
#include "miniattn/synthetic.hpp"

#include "miniattn/kokkos_host.hpp"
#include "kernels/kokkos/kokkos_backend.hpp"

#if defined(MINIATTN_HAVE_CUDA)
#include "tools/cuda_tools.hpp"
#endif

namespace miniattn::bench {
namespace {

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------
struct Options {
  std::vector<std::string> studies{"peaks", "gemm", "exp2", "stage2", "attention"};
  std::string backend = "best";
  bool quick = false;
  std::vector<int> threads{1};
  double seconds = 0.2;  // per peak loop
  int repeat = 5;
  std::vector<int64_t> L{1024, 4096};
  std::vector<int64_t> D{128};
  std::vector<int64_t> H{1};
  std::vector<int64_t> causal{0, 1};
  std::vector<std::string> variants{"fused", "two_pass", "unfused"};
  std::vector<std::string> pvs{"fp32", "bf16", "int8"};
  std::vector<std::string> exp2s{"accurate"};
  std::vector<std::string> rotations{"none"};
  std::string json, csv;
};

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "miniattn-bench: error: %s (see --help)\n", msg.c_str());
  std::exit(2);
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

std::vector<int64_t> split_ints(const std::string& opt, const std::string& s) {
  std::vector<int64_t> out;
  for (const std::string& x : split(s)) {
    char* end = nullptr;
    const long long v = std::strtoll(x.c_str(), &end, 10);
    if (!end || *end || v < 0) usage_error(opt + " " + s + ": expected a comma-separated list of integers >= 0");
    out.push_back(v);
  }
  if (out.empty()) usage_error(opt + ": expected at least one value");
  return out;
}

const char* kHelp = R"(miniattn-bench: peaks and kernel studies of the miniattn backends
  --study LIST      peaks,gemm,exp2,stage2,attention or all (default all)
  --backend NAME    a backend name, "best" (default: the best this CPU runs) or "all"
  --quick           a small subset of every study (seconds, not minutes)
  --threads LIST    thread counts for peaks and attention (default 1)
  --seconds S       seconds per peak loop (default 0.2)
  --repeat N        timed runs per point, median reported (default 5)
  --L --D --H LIST  attention shapes (defaults 1024,4096 / 128 / 1)
  --causal LIST     0,1 (default both)
  --variant LIST    fused,two_pass,unfused   --pv LIST  fp32,bf16,int8   --exp2 LIST accurate,fast,fixed
  --rotate LIST     none,hadamard: the rotation of Q and K before quantising (default none)
  --json FILE       all results as JSON      --csv FILE  one row per measured point
)";

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kHelp, stdout);
      std::exit(0);
    }
    if (a == "--quick") {
      o.quick = true;
      continue;
    }
    if (i + 1 >= argc) usage_error(a + ": expected a value after it");
    const std::string v = argv[++i];
    if (a == "--study") o.studies = v == "all" ? o.studies : split(v);
    else if (a == "--backend") o.backend = v;
    else if (a == "--threads") {
      o.threads.clear();
      for (int64_t t : split_ints(a, v)) o.threads.push_back(static_cast<int>(std::max<int64_t>(1, t)));
    } else if (a == "--seconds") o.seconds = std::atof(v.c_str());
    else if (a == "--repeat") o.repeat = std::max(1, std::atoi(v.c_str()));
    else if (a == "--L") o.L = split_ints(a, v);
    else if (a == "--D") o.D = split_ints(a, v);
    else if (a == "--H") o.H = split_ints(a, v);
    else if (a == "--causal") o.causal = split_ints(a, v);
    else if (a == "--variant") o.variants = split(v);
    else if (a == "--pv") o.pvs = split(v);
    else if (a == "--exp2") o.exp2s = split(v);
    else if (a == "--rotate") o.rotations = split(v);
    else if (a == "--json") o.json = v;
    else if (a == "--csv") o.csv = v;
    else usage_error("unknown option " + a);
  }
  for (const std::string& s : o.studies)
    if (s != "peaks" && s != "gemm" && s != "exp2" && s != "stage2" && s != "attention")
      usage_error("--study " + s + ": expected peaks, gemm, exp2, stage2, attention or all");
  for (const std::string& v : o.variants)
    if (!parse_variant(v)) usage_error("--variant " + v + ": expected fused, two_pass or unfused");
  for (const std::string& v : o.pvs)
    if (!parse_pv_precision(v)) usage_error("--pv " + v + ": expected fp32, bf16 or int8");
  for (const std::string& v : o.exp2s)
    if (!parse_exp2_kind(v)) usage_error("--exp2 " + v + ": expected accurate, fast or fixed");
  for (const std::string& v : o.rotations)
    if (!parse_rotation(v)) usage_error("--rotate " + v + ": expected none or hadamard");
  if (o.quick) {
    o.seconds = std::min(o.seconds, 0.05);
    o.repeat = std::min(o.repeat, 3);
  }
  return o;
}

bool wants(const Options& o, const std::string& study) {
  return std::find(o.studies.begin(), o.studies.end(), study) != o.studies.end();
}

// ---------------------------------------------------------------------------------------------
// Results: one record per measured point, printed as table rows, JSON and CSV.
// ---------------------------------------------------------------------------------------------
struct Record {
  explicit Record(std::string s) : study(std::move(s)) {}
  std::string study;
  std::vector<std::pair<std::string, std::string>> fields;  // in order; numbers unquoted
  Record& text(const std::string& k, const std::string& v) {
    std::string q = "\"";
    for (char c : v) q += (c == '"' || c == '\\') ? std::string("\\") + c : std::string(1, c);
    fields.push_back({k, q + "\""});
    return *this;
  }
  Record& num(const std::string& k, double v) {
    char buf[64];
    if (std::isfinite(v)) std::snprintf(buf, sizeof buf, "%.6g", v);
    else std::snprintf(buf, sizeof buf, "null");
    fields.push_back({k, buf});
    return *this;
  }
};

std::vector<Record> g_records;

void write_outputs(const Options& o, const std::string& machine) {
  if (!o.json.empty()) {
    std::ofstream f(o.json);
    f << "{\n  \"machine\": \"" << machine << "\",\n  \"results\": [\n";
    for (std::size_t i = 0; i < g_records.size(); ++i) {
      f << "    {\"study\": \"" << g_records[i].study << "\"";
      for (const auto& [k, v] : g_records[i].fields) f << ", \"" << k << "\": " << v;
      f << "}" << (i + 1 < g_records.size() ? ",\n" : "\n");
    }
    f << "  ]\n}\n";
    if (!f) usage_error("--json " + o.json + ": cannot write");
  }
  if (!o.csv.empty()) {
    std::ofstream f(o.csv);
    f << "study,key,value\n";
    for (std::size_t i = 0; i < g_records.size(); ++i)
      for (const auto& [k, v] : g_records[i].fields) f << g_records[i].study << "#" << i << "," << k << "," << v << "\n";
    if (!f) usage_error("--csv " + o.csv + ": cannot write");
  }
}

double process_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Median of repeat timed runs after one warm-up.
double time_median(int repeat, const std::function<void()>& f) {
  f();
  std::vector<double> t;
  for (int i = 0; i < repeat; ++i) {
    const double t0 = wall_seconds();
    f();
    t.push_back(wall_seconds() - t0);
  }
  return median(t);
}

// f(i) for i in [0, t), each on a thread of its own (t <= the host space's threads).
template <class F>
void on_threads(const char* label, int t, const F& f) {
  Kokkos::parallel_for(label, static_items(t), f);
}

// Clock estimate: a chain of dependent integer adds runs one add per cycle.
double core_ghz() {
  auto chain = [](long n) {
    uint64_t x = 1;
    for (long i = 0; i < n; ++i) __asm__ volatile("add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0" : "+r"(x));
    return x;
  };
#if defined(__x86_64__)
  const long n = 50'000'000;
  chain(n / 10);
  std::vector<double> v;
  for (int i = 0; i < 5; ++i) {
    const double t0 = wall_seconds();
    chain(n);
    v.push_back(4.0 * n / (wall_seconds() - t0) * 1e-9);
  }
  return *std::max_element(v.begin(), v.end());  // the least disturbed run
#else
  (void)chain;
  return 0.0;
#endif
}

// ---------------------------------------------------------------------------------------------
// (a) peaks
// ---------------------------------------------------------------------------------------------
struct Peaks {
  PeakRates one;                 // one thread
  std::map<int, PeakRates> all;  // all threads at once, by count
  std::map<int, double> triad_gbs;
  std::string backend;
};

PeakRates scaled(const PeakRates& r, double f) { return {r.int8_gops * f, r.fp32_gflops * f, r.bf16_gflops * f}; }

double triad(int threads, int repeat) {
  const std::size_t n = std::size_t{1} << 24;  // 3 x 64 MiB: far beyond any cache
  std::vector<float> a(n, 0.0f), b(n, 1.0f), c(n, 2.0f);
  const int64_t nn = static_cast<int64_t>(n);
  const double t = time_median(repeat, [&] {
    on_threads("miniattn::bench_triad", threads, [&](int64_t id) {
      for (int64_t i = id * nn / threads; i < (id + 1) * nn / threads; ++i) a[i] = b[i] + 0.5f * c[i];
    });
  });
  return 3.0 * sizeof(float) * n / t * 1e-9;
}

PeakRates best_of(const Options& o) {
  const std::optional<MachinePeakRates> m = measure_machine_peaks(o.seconds / 10, 10);
  return m ? m->rates : PeakRates{};
}

Peaks measure_peaks(const Options& o, const std::string& backend) {
  Peaks pk;
  pk.backend = backend;
  pk.one = best_of(o);
  for (int t : o.threads) {
    std::vector<PeakRates> per(static_cast<std::size_t>(t));
    on_threads("miniattn::bench_peaks", t, [&](int64_t id) { per[static_cast<std::size_t>(id)] = best_of(o); });
    PeakRates sum;
    for (const PeakRates& r : per) {
      sum.int8_gops += r.int8_gops;
      sum.fp32_gflops += r.fp32_gflops;
      sum.bf16_gflops += r.bf16_gflops;
    }
    pk.all[t] = sum;
    pk.triad_gbs[t] = triad(t, o.repeat);
  }
  return pk;
}

void print_peaks(const Peaks& p, double ghz) {
  std::printf("\n(a) peaks [%s loops; clock estimate %.2f GHz]\n", p.backend.c_str(), ghz);
  std::printf("  %-8s %14s %14s %14s %12s\n", "threads", "int8 GOP/s", "fp32 GFLOP/s", "bf16 GFLOP/s", "triad GB/s");
  std::printf("  %-8d %14.1f %14.1f %14.1f %12s\n", 1, p.one.int8_gops, p.one.fp32_gflops, p.one.bf16_gflops, "-");
  g_records.push_back(Record("peaks").text("backend", p.backend).num("threads", 1).num("int8_gops", p.one.int8_gops)
                          .num("fp32_gflops", p.one.fp32_gflops).num("bf16_gflops", p.one.bf16_gflops).num("ghz", ghz));
  for (const auto& [t, r] : p.all) {
    std::printf("  %-8d %14.1f %14.1f %14.1f %12.1f   (all threads at once)\n", t, r.int8_gops, r.fp32_gflops,
                r.bf16_gflops, p.triad_gbs.at(t));
    g_records.push_back(Record("peaks").text("backend", p.backend).num("threads", t).num("int8_gops", r.int8_gops)
                            .num("fp32_gflops", r.fp32_gflops).num("bf16_gflops", r.bf16_gflops)
                            .num("triad_gbs", p.triad_gbs.at(t)).num("concurrent", 1));
  }
}

// ---------------------------------------------------------------------------------------------
// Synthetic problems for the kernel studies: quantised K/V of one head, packed by the backend.
// ---------------------------------------------------------------------------------------------
struct Head {
  AttnParams p;
  std::vector<float> q, k, v;
  std::vector<int8_t> q8, k8, v8;
  std::vector<float> q_scale, k_scale, k_mean, v_scale;
  std::vector<uint16_t> v_bf16;
  HostView<std::byte*> packed;
  KvBlock kv;

  Head(const Backend& be, const AttnParams& params) : p(params) {
    const int d = p.d;
    q.resize(static_cast<std::size_t>(p.lq) * d);
    k.resize(static_cast<std::size_t>(p.lk) * d);
    v.resize(k.size());
    synthetic_rows(Distribution::Normal, 1, Tensor::Q, 1, p.lq, d, 0, p.lq, q.data());
    synthetic_rows(Distribution::Normal, 1, Tensor::K, 1, p.lk, d, 0, p.lk, k.data());
    synthetic_rows(Distribution::Normal, 1, Tensor::V, 1, p.lk, d, 0, p.lk, v.data());
    q8.resize(q.size());
    q_scale.resize(static_cast<std::size_t>(p.lq));
    for (int64_t r0 = 0; r0 < p.lq; r0 += p.tile.q) {
      const int rows = static_cast<int>(std::min<int64_t>(p.tile.q, p.lq - r0));
      quant::quantize_q_tile(p.qk_scales, q.data() + r0 * d, rows, d, q8.data() + r0 * d, q_scale.data() + r0);
    }
    k8.resize(k.size());
    v8.resize(v.size());
    v_bf16.resize(v.size());
    k_scale.resize(static_cast<std::size_t>(p.lk));
    k_mean.resize(static_cast<std::size_t>(d));
    v_scale.resize(static_cast<std::size_t>(d));
    quant::KvHeadQuant out{k8.data(), k_scale.data(), k_mean.data(), v_bf16.data(), v8.data(), v_scale.data()};
    quant::quantize_kv_head(p, k.data(), v.data(), p.lk, out);
    kv.key0 = 0;
    kv.n = p.lk;
    kv.k = k.data();
    kv.v = v.data();
    kv.k8 = k8.data();
    kv.k_scale = k_scale.data();
    kv.v_bf16 = v_bf16.data();
    kv.v8 = v8.data();
    kv.v_scale = v_scale.data();
    const std::size_t pb = be.packed_kv_bytes(p, p.lk);
    if (pb > 0) {
      packed = HostView<std::byte*>("miniattn::bench_packed_kv", pb);
      be.pack_kv(p, kv, packed.data());
      kv.packed = packed.data();
    }
  }

  QTile tile(int64_t row0, int rows) const {
    QTile t;
    t.row0 = row0;
    t.rows = rows;
    t.q = q.data() + row0 * p.d;
    t.q8 = q8.data() + row0 * p.d;
    t.q_scale = q_scale.data() + row0;
    return t;
  }
};

AttnParams params_for(const Backend& be, int64_t lq, int64_t lk, int d, bool causal, int64_t heads,
                      Variant v, PvPrecision pv, Exp2Kind e, Rotation rot = Rotation::None) {
  const TileShape t = be.default_tiles(d, pv);
  return make_attn_params({1, heads, heads, lq, lk, d, causal, 0.0}, v, pv, e, QkScales::PerToken, true, t, rot);
}

// ---------------------------------------------------------------------------------------------
// (b) the Q.K^T GEMM on the seed shapes
// ---------------------------------------------------------------------------------------------
void study_gemm(const Options& o, const Backend& be, const Peaks* pk) {
  std::printf("\n(b) Q.K^T int8 GEMM, M = N = L, K = 128 (%s; 1 thread; S written tile by tile to an "
              "L2-resident buffer, as the unfused kernel does)\n", std::string(be.name()).c_str());
  std::printf("  %-6s %12s %12s %10s\n", "L", "median [s]", "GOP/s", "% int8pk");
  const std::vector<int64_t> shapes = o.quick ? std::vector<int64_t>{1024} : std::vector<int64_t>{1024, 4096, 8192};
  for (int64_t L : shapes) {
    const AttnParams p = params_for(be, L, L, 128, false, 1, Variant::Fused, PvPrecision::Fp32, Exp2Kind::Accurate);
    const Head h(be, p);
    const int64_t chunk = 256;
    HostView<int32_t*> s("miniattn::bench_scores", static_cast<std::size_t>(p.tile.q * chunk));
    HostView<std::byte*> scratch("miniattn::bench_scratch", be.scratch_bytes(p, p.lk));
    bool ok = true;
    const double t = time_median(o.repeat, [&] {
      for (int64_t r0 = 0; r0 < L; r0 += p.tile.q) {
        const QTile q = h.tile(r0, static_cast<int>(std::min<int64_t>(p.tile.q, L - r0)));
        for (int64_t j0 = 0; j0 < L; j0 += chunk)
          ok = ok && be.qk_scores(p, q, h.kv, j0, std::min(chunk, L - j0), s.data(), chunk, scratch.data());
      }
    });
    if (!ok) {
      std::printf("  %-6lld (no int8 scores in this backend)\n", static_cast<long long>(L));
      return;
    }
    const double gops = 2.0 * L * L * 128 / t * 1e-9;
    const double pct = pk ? 100.0 * gops / pk->one.int8_gops : NAN;
    std::printf("  %-6lld %12.6f %12.1f %9.1f%%\n", static_cast<long long>(L), t, gops, pct);
    g_records.push_back(Record("gemm").text("backend", std::string(be.name())).num("L", static_cast<double>(L))
                            .num("K", 128).num("seconds", t).num("gops", gops).num("pct_int8_peak", pct));
  }
}

// ---------------------------------------------------------------------------------------------
// (c) exp2 forms: time per element of the backend's vectorised row, and the error over the
// softmax's domain against the exact 2^x.
// ---------------------------------------------------------------------------------------------
void study_exp2(const Options& o, const Backend& be, double ghz) {
  const KernelStudies* st = kernel_studies(be.name());
  const int64_t n = 16384;  // 64 KiB in + 64 KiB out: L2
  std::vector<float> x(static_cast<std::size_t>(n)), y(x.size());
  for (int64_t i = 0; i < n; ++i) x[i] = -20.0f * static_cast<float>(i) / n;
  const int64_t sweep = 1 << 21;
  std::vector<float> xs(static_cast<std::size_t>(sweep)), ys(xs.size());
  for (int64_t i = 0; i < sweep; ++i) xs[i] = -125.0f * static_cast<float>(i) / sweep;
  std::printf("\n(c) exp2 forms (%s, 1 thread): time per element over a 16K row, error over [-125, 0]\n",
              std::string(be.name()).c_str());
  std::printf("  %-9s %12s %12s %18s %14s\n", "form", "ns/elem", "cycles/elem", "max rel err x>-8", "max abs err");
  for (Exp2Kind e : {Exp2Kind::Accurate, Exp2Kind::Fast, Exp2Kind::Fixed}) {
    const int reps = 64;
    const double t = time_median(o.repeat, [&] {
      for (int r = 0; r < reps; ++r) st->exp2_row(e, x.data(), y.data(), n);
    }) / (reps * static_cast<double>(n));
    st->exp2_row(e, xs.data(), ys.data(), sweep);
    // Relative error where 2^x >= 2^-8 (the fixed form's Q16.16 output loses relative
    // precision below that by design; its absolute error stays 2^-16), absolute everywhere.
    double rel = 0.0, abs_err = 0.0;
    for (int64_t i = 0; i < sweep; ++i) {
      const double exact = std::exp2(static_cast<double>(xs[i]));
      if (xs[i] > -8.0f) rel = std::max(rel, std::fabs(ys[i] / exact - 1.0));
      abs_err = std::max(abs_err, std::fabs(ys[i] - exact));
    }
    std::printf("  %-9s %12.4f %12.3f %18.3e %14.3e\n", std::string(to_string(e)).c_str(), t * 1e9, t * 1e9 * ghz,
                rel, abs_err);
    g_records.push_back(Record("exp2").text("backend", std::string(be.name())).text("form", std::string(to_string(e)))
                            .num("ns_per_element", t * 1e9).num("cycles_per_element", t * 1e9 * ghz)
                            .num("max_rel_error", rel).num("max_abs_error", abs_err));
  }
}

// ---------------------------------------------------------------------------------------------
// (d) the seeds' stage 2: O = exp2(S * scale - max) . V, per-k fused vs two-pass vs pure GEMM
// ---------------------------------------------------------------------------------------------
void study_stage2(const Options& o, const Backend& be, const Peaks* pk) {
  const KernelStudies* st = kernel_studies(be.name());
  std::printf("\n(d) stage 2, O[M x D] = exp2(S scale - max) . V[Nc x D] (%s, 1 thread, %% of the fp32 FMA peak)\n",
              std::string(be.name()).c_str());
  std::printf("  %-4s %-5s %-4s %14s %14s %14s\n", "M", "Nc", "D", "fused per-k", "two-pass", "pure GEMM");
  const std::vector<int> ms = o.quick ? std::vector<int>{4} : std::vector<int>{4, 16};
  const std::vector<int> ncs = o.quick ? std::vector<int>{128} : std::vector<int>{64, 128, 256};
  const std::vector<int> ds = o.quick ? std::vector<int>{64} : std::vector<int>{64, 128};
  for (int m : ms)
    for (int nc : ncs)
      for (int d : ds) {
        std::vector<int32_t> sc(static_cast<std::size_t>(m) * nc);
        std::vector<float> v(static_cast<std::size_t>(nc) * d), out(static_cast<std::size_t>(m) * d),
            scratch(sc.size()), rmax(static_cast<std::size_t>(m), 8.0f);
        for (std::size_t i = 0; i < sc.size(); ++i) sc[i] = static_cast<int32_t>((i * 2654435761u) % 2001) - 1000;
        for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i % 97) / 97.0f;
        const double flops = 2.0 * m * nc * d;
        const int reps = std::max(1, static_cast<int>(2e6 / flops));
        double pct[3];
        int k = 0;
        st->stage2(Stage2Kind::TwoPass, m, nc, d, sc.data(), 0.008f, rmax.data(), v.data(), out.data(), scratch.data());
        for (Stage2Kind kind : {Stage2Kind::FusedPerK, Stage2Kind::TwoPass, Stage2Kind::PureGemm}) {
          const double t = time_median(o.repeat, [&] {
            for (int r = 0; r < reps; ++r)
              st->stage2(kind, m, nc, d, sc.data(), 0.008f, rmax.data(), v.data(), out.data(), scratch.data());
          }) / reps;
          pct[k++] = pk ? 100.0 * flops / t * 1e-9 / pk->one.fp32_gflops : NAN;
        }
        std::printf("  %-4d %-5d %-4d %13.1f%% %13.1f%% %13.1f%%\n", m, nc, d, pct[0], pct[1], pct[2]);
        g_records.push_back(Record("stage2").text("backend", std::string(be.name())).num("M", m).num("Nc", nc).num("D", d)
                                .num("pct_fp32_peak_fused_per_k", pct[0]).num("pct_fp32_peak_two_pass", pct[1])
                                .num("pct_fp32_peak_pure_gemm", pct[2]));
      }
}

// ---------------------------------------------------------------------------------------------
// (e) full attention through the app's executor (quantise, pack, threaded tiles)
// ---------------------------------------------------------------------------------------------
// The time the attention could not beat on this machine: Q.K^T at the int8 peak plus P.V at the
// peak of its precision, with the measured peaks of `threads` threads.
double floor_seconds(const AttnParams& p, const Peaks& pk, int threads) {
  const auto it = pk.all.find(threads);
  const PeakRates r = it != pk.all.end() ? it->second : scaled(pk.one, threads);
  const double half_ops = 2.0 * p.d * p.unmasked_scores();
  const double pv_rate = p.pv == PvPrecision::Int8 ? r.int8_gops : p.pv == PvPrecision::Bf16 ? r.bf16_gflops : r.fp32_gflops;
  return half_ops / (r.int8_gops * 1e9) + half_ops / (pv_rate * 1e9);
}

void study_attention(const Options& o, const Backend& be, const Peaks* pk) {
  std::printf("\n(e) attention (%s): median of %d runs; %% of floor = floor / time, floor = Q.K^T at the int8 "
              "peak + P.V at its precision's peak (same thread count)\n",
              std::string(be.name()).c_str(), o.repeat);
  std::printf("  (cpu [s]: process CPU time / threads, close to the wall time when the cores are not shared)\n");
  std::printf("  (softmax: its share of the kernel phases; quant: quantize + pack phases as a share of them)\n");
  std::printf("  %-5s %-4s %-3s %-3s %-3s %-9s %-5s %-8s %-8s %11s %9s %9s %8s %8s %7s %6s\n", "L", "D", "H", "cau",
              "thr", "variant", "pv", "exp2", "rotate", "median [s]", "cpu [s]", "GOP/s", "%floor", "softmax", "quant",
              "check");
  for (int64_t L : o.L)
    for (int64_t d : o.D)
      for (int64_t H : o.H)
        for (int64_t causal : o.causal)
          for (int threads : o.threads)
            for (const std::string& vs : o.variants)
              for (const std::string& ps : o.pvs)
                for (const std::string& es : o.exp2s)
                for (const std::string& rs : o.rotations) {
                  const PvPrecision pv = *parse_pv_precision(ps);
                  const AttnParams p = params_for(be, L, L, static_cast<int>(d), causal != 0, H, *parse_variant(vs), pv,
                                                  *parse_exp2_kind(es), *parse_rotation(rs));
                  if (!be.check(p).empty()) {
                    std::printf("  skipped %s/%s: %s\n", vs.c_str(), ps.c_str(), be.check(p).c_str());
                    continue;
                  }
                  const Decomposition dec(p, 1);
                  const int64_t rows = p.batch * p.heads * p.lq, keys = p.batch * p.kv_heads * p.lk;
                  HostView<float**> q("miniattn::q", rows, d), k("miniattn::k", keys, d),
                      v("miniattn::v", keys, d), out("miniattn::o", rows, d);
                  HostView<float*> lse("miniattn::lse", rows);
                  synthetic_rows(Distribution::Normal, 3, Tensor::Q, p.heads, p.lq, p.d, 0, rows, q.data());
                  synthetic_rows(Distribution::Normal, 3, Tensor::K, p.kv_heads, p.lk, p.d, 0, keys, k.data());
                  synthetic_rows(Distribution::Normal, 3, Tensor::V, p.kv_heads, p.lk, p.d, 0, keys, v.data());
                  RankSlice slice = replicated_slice(p, dec, 0);
                  slice.q = q.data();
                  slice.k = k.data();
                  slice.v = v.data();
                  slice.o = out.data();
                  slice.lse = lse.data();
                  std::unique_ptr<RankExecutor> ex;
                  try {
                    ex = be.make_executor(p, dec, slice, threads);
                  } catch (const Error& e) {
                    // A backend with its own executor may run on a fixed thread count (kokkos:
                    // all of Kokkos' host threads); the other points of the sweep still run.
                    std::printf("  skipped %s at %d thread(s): %s\n", vs.c_str(), threads, e.what());
                    continue;
                  }
                  if (!ex) ex = std::make_unique<CpuExecutor>(be, p, dec, slice, threads);
                  PhaseSeconds ph;
                  std::vector<double> times, cpu;
                  std::vector<PhaseSeconds> phs;
                  ex->run(ph);  // warm-up
                  for (int r = 0; r < o.repeat; ++r) {
                    PhaseSeconds one;
                    const double t0 = wall_seconds(), c0 = process_cpu_seconds();
                    ex->run(one);
                    times.push_back(wall_seconds() - t0);
                    cpu.push_back((process_cpu_seconds() - c0) / threads);
                    phs.push_back(one);
                  }
                  const double t = median(times);
                  // Phase shares from the median run.
                  const std::size_t mi = static_cast<std::size_t>(
                      std::find(times.begin(), times.end(), t) - times.begin());
                  const PhaseSeconds& m = phs[std::min(mi, phs.size() - 1)];
                  const double kernel = m[Phase::QkGemm] + m[Phase::Softmax] + m[Phase::PvGemm];
                  const double softmax_share = kernel > 0 ? m[Phase::Softmax] / kernel : NAN;
                  const double quant_share = kernel > 0 ? (m[Phase::Quantize] + m[Phase::Pack]) / kernel : NAN;
                  const double ops = 4.0 * p.d * p.unmasked_scores();
                  const double fl = pk ? floor_seconds(p, *pk, threads) : NAN;
                  // A sanity check that the run computed attention: O finite, rows normalised.
                  bool finite = true;
                  for (int64_t i = 0; i < rows * d; i += 997) finite = finite && std::isfinite(out.data()[i]);
                  std::printf("  %-5lld %-4lld %-3lld %-3s %-3d %-9s %-5s %-8s %-8s %11.6f %9.6f %9.1f %7.1f%% %7.1f%% %6.1f%% %6s\n",
                              static_cast<long long>(L), static_cast<long long>(d), static_cast<long long>(H),
                              causal ? "yes" : "no", threads, vs.c_str(), ps.c_str(), es.c_str(), rs.c_str(), t, median(cpu),
                              ops / t * 1e-9, 100.0 * fl / t, 100.0 * softmax_share, 100.0 * quant_share, finite ? "ok" : "NaN!");
                  std::fflush(stdout);
                  g_records.push_back(Record("attention").text("backend", std::string(be.name())).num("L", static_cast<double>(L))
                                          .num("D", static_cast<double>(d)).num("H", static_cast<double>(H))
                                          .num("causal", static_cast<double>(causal)).num("threads", threads)
                                          .text("variant", vs).text("pv", ps).text("exp2", es).text("rotate", rs).num("seconds_median", t).num("cpu_seconds_median", median(cpu))
                                          .num("gops", ops / t * 1e-9).num("floor_seconds", fl).num("pct_of_floor", 100.0 * fl / t)
                                          .num("quantize_s", m[Phase::Quantize]).num("pack_s", m[Phase::Pack])
                                          .num("qk_gemm_s", m[Phase::QkGemm]).num("softmax_s", m[Phase::Softmax])
                                          .num("pv_gemm_s", m[Phase::PvGemm]).num("softmax_share", softmax_share)
                                          .num("quant_share", quant_share)
                                          .num("finite", finite ? 1 : 0));
                  if (!finite) std::exit(3);
                }
}

std::vector<std::unique_ptr<Backend>> pick_backends(const Options& o) {
  std::vector<std::unique_ptr<Backend>> out;
  if (o.backend == "all") {
    for (const BackendInfo& i : backend_infos())
      if (i.supported && i.name != "reference") out.push_back(create_backend(i.name));
  } else {
    out.push_back(create_backend(o.backend == "best" ? auto_backend_name() : o.backend));
  }
  return out;
}

int run(int argc, char** argv) {
  const Options o = parse(argc, argv);
  std::vector<std::unique_ptr<Backend>> backends;
  try {
    backends = pick_backends(o);
  } catch (const std::exception& e) {
    usage_error(e.what());
  }
  const CpuFeatures& f = cpu_features();
  const std::string machine = (f.model.empty() ? f.arch : f.model) + " [" + f.summary() + "]";
  const double ghz = core_ghz();
  std::printf("miniattn-bench on %s\n", machine.c_str());
  std::string names;
  for (const auto& be : backends) names += (names.empty() ? "" : ",") + std::string(be->name());
  std::printf("backends: %s\n", names.c_str());
  // Peaks come from the best backend that has peak loops (the machine's, not a backend's).
  std::unique_ptr<Peaks> peaks;
  if (const std::optional<MachinePeakRates> m = measure_machine_peaks(0.001, 1))
    peaks = std::make_unique<Peaks>(measure_peaks(o, m->backend));
  if (wants(o, "peaks")) {
    if (peaks) print_peaks(*peaks, ghz);
    else std::printf("\n(a) peaks: no backend with peak loops runs on this machine\n");
  }
  for (const auto& be : backends) {
    if (!kernel_studies(be->name())) {
      std::printf("\n%s: no kernel studies\n", std::string(be->name()).c_str());
    } else {
      if (wants(o, "gemm")) study_gemm(o, *be, peaks.get());
      if (wants(o, "exp2")) study_exp2(o, *be, ghz);
      if (wants(o, "stage2")) study_stage2(o, *be, peaks.get());
    }
    if (wants(o, "attention")) study_attention(o, *be, peaks.get());
  }
  write_outputs(o, machine);
  return 0;
}

}  // namespace
}  // namespace miniattn::bench

int main(int argc, char** argv) {
  // --backend cuda: the GPU benchmark (its own options: --seq --dims --causal --pv --bh --heads
  // --warmup --repeat --csv), timed with CUDA events on the device.
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--backend") == 0 && std::strcmp(argv[i + 1], "cuda") == 0) {
#if defined(MINIATTN_HAVE_CUDA)
      std::vector<char*> rest;
      for (int j = 0; j < argc; ++j)
        if (j != i && j != i + 1) rest.push_back(argv[j]);
      try {
        return miniattn::cuda::bench_main(static_cast<int>(rest.size()), rest.data(), stdout);
      } catch (const miniattn::Error& e) {
        std::fprintf(stderr, "miniattn-bench: error: %s\n", e.what());
        return static_cast<int>(e.code());
      }
#else
      std::fprintf(stderr, "miniattn-bench: error: --backend cuda needs a build with -DMINIATTN_ENABLE_CUDA=ON\n");
      return 2;
#endif
    }
  // Kokkos with as many threads as the largest --threads value (default 1).
  int threads = 1;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--threads") == 0)
      for (const char* p = argv[i + 1]; *p;) {
        threads = std::max(threads, std::atoi(p));
        while (*p && *p != ',') ++p;
        if (*p) ++p;
      }
  std::vector<std::string> kargs{argv[0],
#if KOKKOS_VERSION >= 40000
                                 "--kokkos-num-threads=" + std::to_string(threads),
#else
                                 "--kokkos-threads=" + std::to_string(threads),
#endif
                                 "--kokkos-disable-warnings"};
  std::vector<char*> kargv;
  for (std::string& a : kargs) kargv.push_back(a.data());
  int kargc = static_cast<int>(kargv.size());
  Kokkos::ScopeGuard kokkos(kargc, kargv.data());
  if (miniattn::host_threads() < threads) {
    std::fprintf(stderr, "miniattn-bench: error: --threads %d, but %s runs %d thread(s)\n", threads,
                 miniattn::kokkos_description().c_str(), miniattn::host_threads());
    return 2;
  }
  miniattn::register_kokkos_backend();  // --backend kokkos (on all of Kokkos' host threads)
  return miniattn::bench::run(argc, argv);
}
