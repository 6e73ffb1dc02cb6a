#include "driver/memory_estimate.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "miniattn/error.hpp"

namespace miniattn {
namespace {

std::size_t round64(std::size_t n) { return (n + 63) / 64 * 64; }

// H5Reader moves at most 256 MiB per collective call (of float rows, or of double rows for a
// float64 dataset); float16, float64 and blhd datasets pass through a staging buffer of that
// transfer. The estimate takes the largest, float64's.
constexpr std::size_t kReadBytesPerCall = std::size_t{256} << 20;

std::optional<std::size_t> parse_size(const std::string& text) {
  std::size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i == 0 || i > 19) return std::nullopt;
  double value = std::strtod(text.substr(0, i).c_str(), nullptr);
  std::string suffix = text.substr(i);
  if (!suffix.empty() && (suffix.back() == 'B' || suffix.back() == 'b')) suffix.pop_back();
  if (suffix.size() == 2 && (suffix[1] == 'i' || suffix[1] == 'I')) suffix.pop_back();
  static const std::string kUnits = "KMGT";
  if (suffix.size() > 1) return std::nullopt;
  if (suffix.size() == 1) {
    const auto u = kUnits.find(static_cast<char>(std::toupper(static_cast<unsigned char>(suffix[0]))));
    if (u == std::string::npos) return std::nullopt;
    value *= std::pow(1024.0, static_cast<double>(u + 1));
  }
  if (value >= 1.8e19) return std::nullopt;
  return static_cast<std::size_t>(value);
}

// A "key value kB" line of /proc/meminfo, in bytes.
std::optional<std::size_t> meminfo(const std::string& key) {
  std::ifstream f("/proc/meminfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind(key + ":", 0) != 0) continue;
    std::istringstream is(line.substr(key.size() + 1));
    std::size_t kib = 0;
    if (is >> kib) return kib * 1024;
  }
  return std::nullopt;
}

std::optional<std::size_t> read_number(const std::string& path) {
  std::ifstream f(path);
  std::string text;
  if (!(f >> text) || text == "max") return std::nullopt;
  return parse_size(text);
}

// What the cgroup (v2) of this process may still allocate, when it has a limit.
std::optional<std::size_t> cgroup_headroom() {
  std::ifstream f("/proc/self/cgroup");
  std::string line, group;
  while (std::getline(f, line))
    if (line.rfind("0::", 0) == 0) group = line.substr(3);
  if (group.empty()) return std::nullopt;
  for (std::string dir = "/sys/fs/cgroup" + (group == "/" ? "" : group);;) {
    const auto max = read_number(dir + "/memory.max");
    if (max) {
      const std::size_t used = read_number(dir + "/memory.current").value_or(0);
      return *max > used ? *max - used : 0;
    }
    const std::size_t slash = dir.rfind('/');
    if (dir == "/sys/fs/cgroup" || slash == std::string::npos) return std::nullopt;
    dir.resize(slash);
  }
}

}  // namespace

MemoryEstimate estimate_rank_memory(const Backend& backend, const AttnParams& p, int64_t rows,
                                    int64_t kv_keys, int64_t kv_groups, int threads,
                                    bool hdf5_input, bool ring) {
  MemoryEstimate m;
  const std::size_t d = static_cast<std::size_t>(p.d);
  const std::size_t r = static_cast<std::size_t>(std::max<int64_t>(rows, 0));
  const std::size_t groups = static_cast<std::size_t>(std::max<int64_t>(kv_groups, 0));
  const std::size_t keys = static_cast<std::size_t>(std::max<int64_t>(kv_keys, 0));
  // Keys of one KV head the rank holds: all of them, or its shard in ring mode.
  const int64_t head_keys = groups > 0 ? static_cast<int64_t>(keys / groups) : p.lk;
  m.threads = std::max(threads, 1);
  m.ring = ring;

  m.q = r * d * 4;
  m.o_lse = r * d * 4 + r * 4;
  m.kv = 2 * keys * d * 4;

  std::size_t kv_quantised = 0;  // quantised K (and V) of the keys held, with scales
  if (backend.quantized()) {
    // V unpacked (bf16 or int8) only for backends that do not quantise into their packed layout.
    const bool unpacked_v = !backend.quantize_writes_packed();
    m.quantised = r * (d + 4) + groups * d * 4 + (p.smooth_k ? r * 4 : 0);  // + LSE shifts
    if (p.smooth_k && !ring) m.quantised += groups * d * 8;                 // CpuExecutor's K sums
    kv_quantised = keys * (d + 4);
    if (p.pv == PvPrecision::Bf16 && unpacked_v) kv_quantised += keys * d * 2;
    if (p.pv == PvPrecision::Int8) {
      if (unpacked_v) kv_quantised += keys * d;
      m.quantised += groups * d * 4 * (ring ? 1 : 2);  // V scales (and CpuExecutor's V maxima)
    }
  }
  const std::size_t packed = round64(backend.packed_kv_bytes(p, head_keys)) * groups;
  if (ring) {
    // RingExecutor: two shard buffers (the block computed on and the one in flight), each
    // holding a shard's quantised and packed K/V, and every local row's (m, l, O) state.
    m.packed = 2 * (kv_quantised + packed);
    m.quantised += r * (d + 2) * 4;
  } else {
    m.quantised += kv_quantised;
    m.packed = packed;
  }
  const std::size_t state = static_cast<std::size_t>(p.tile.q) * (2 + d) * 4;
  m.per_thread = round64(backend.scratch_bytes(p, head_keys)) + state;

  if (hdf5_input) {
    const std::size_t per_call = std::max<std::size_t>(1, kReadBytesPerCall / (d * 8));
    m.io_staging = std::min(std::max(r, keys), per_call) * d * 8;
  }
  return m;
}

std::optional<AvailableMemory> available_memory() {
  if (const char* env = std::getenv("MINIATTN_MEMORY_LIMIT"); env && *env) {
    const auto bytes = parse_size(env);
    if (!bytes)
      throw Error(fmt::format("MINIATTN_MEMORY_LIMIT={}: expected a size in bytes with an "
                              "optional K, M, G or T suffix, e.g. 64G",
                              env));
    return AvailableMemory{*bytes, fmt::format("MINIATTN_MEMORY_LIMIT={}", env)};
  }
  std::optional<AvailableMemory> best;
  if (const auto avail = meminfo("MemAvailable"))
    best = AvailableMemory{*avail, "MemAvailable in /proc/meminfo"};
  if (const auto cg = cgroup_headroom(); cg && (!best || *cg < best->bytes))
    best = AvailableMemory{*cg, "the cgroup's memory.max less memory.current"};
  return best;
}

std::string format_bytes(double bytes) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int u = 0;
  while (bytes >= 1024.0 && u < 6) {
    bytes /= 1024.0;
    ++u;
  }
  return u == 0 ? fmt::format("{:.0f} B", bytes) : fmt::format("{:.{}f} {}", bytes, bytes < 10 ? 1 : 0, kUnits[u]);
}

}  // namespace miniattn
