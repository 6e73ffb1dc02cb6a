// miniattn_kernel_digest [--shapes N] [BACKEND ...]: one line per (backend, shape, tiles, variant, P.V
// precision, exp2 form, scales, smoothing, rotation) with a digest of the bits of O, LSE and the
// int32 scores the backend computes on fixed inputs (MINIATTN_TEST_SEED, default 1). A refactor
// of the kernels that must not change any result is checked by diffing this output before and
// after it, on the same machine and build type. Backends default to every one this CPU runs;
// --shapes N keeps the first N shapes (emulated runs: qemu takes about an hour for all).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "kernel_harness.hpp"
#include "miniattn/registry.hpp"

namespace {

using namespace miniattn;
using namespace miniattn::test;

uint64_t fnv(const void* data, std::size_t bytes, uint64_t h = 1469598103934665603ull) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < bytes; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

const std::vector<ProblemShape> kShapes = {
    {1, 2, 1, 77, 133, 64, false, 0.0},  {2, 4, 2, 130, 97, 64, true, 0.0},
    {1, 3, 3, 65, 200, 128, true, 0.0},  {1, 2, 1, 33, 70, 256, false, 0.0},
    {1, 1, 1, 1, 1, 16, false, 0.0},     {1, 4, 1, 50, 81, 80, true, 0.0},
    {1, 2, 2, 300, 700, 128, true, 0.0},
};

}  // namespace

int main(int argc, char** argv) {
  if (!std::getenv("MINIATTN_TEST_SEED")) setenv("MINIATTN_TEST_SEED", "1", 1);
  std::vector<std::string> names;
  std::size_t nshapes = kShapes.size();
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--shapes") == 0 && i + 1 < argc) nshapes = std::strtoul(argv[++i], nullptr, 10);
    else names.emplace_back(argv[i]);
  }
  if (names.empty())
    for (const BackendInfo& b : backend_infos())
      if (b.compiled && b.supported && b.name != "cuda") names.push_back(b.name);
  for (const std::string& name : names) {
    const std::unique_ptr<Backend> be = create_backend(name);
    for (std::size_t si = 0; si < std::min(nshapes, kShapes.size()); ++si)
      for (PvPrecision pv : {PvPrecision::Fp32, PvPrecision::Bf16, PvPrecision::Int8}) {
        const ProblemShape& s = kShapes[si];
        std::vector<TileShape> tiles{be->default_tiles(s.d, pv)};
        for (TileShape t : {TileShape{37, 48}, TileShape{13, 300}, TileShape{64, 64}})
          if (be->check(make_attn_params(s, Variant::Fused, pv, Exp2Kind::Accurate,
                                         QkScales::PerToken, true, t)).empty())
            tiles.push_back(t);
        for (TileShape t : tiles)
          for (Variant v : {Variant::Fused, Variant::TwoPass, Variant::Unfused})
            for (Exp2Kind e : {Exp2Kind::Accurate, Exp2Kind::Fast, Exp2Kind::Fixed})
              for (QkScales qs : {QkScales::PerToken, QkScales::PerBlock})
                for (bool smooth : {true, false})
                  for (Rotation rot : {Rotation::None, Rotation::Hadamard}) {
                    Problem pr = make_problem(s, v, pv, e, qs, smooth, t, test_seed(),
                                              smooth ? Distribution::KBias : Distribution::Outliers);
                    pr.p.rotate = rot;
                    if (!be->check(pr.p).empty()) continue;
                    const Output out = run_backend(*be, pr);
                    const Output split = run_backend(*be, pr, 3);  // ring-style key blocks
                    uint64_t h = fnv(out.o.data(), out.o.size() * 4);
                    h = fnv(out.lse.data(), out.lse.size() * 4, h);
                    h = fnv(split.o.data(), split.o.size() * 4, h);
                    h = fnv(split.lse.data(), split.lse.size() * 4, h);
                    if (v == Variant::Fused && e == Exp2Kind::Accurate) {
                      const std::vector<int32_t> sc =
                          tile_scores(*be, pr, s.batch - 1, s.heads - 1, 0, static_cast<int>(std::min<int64_t>(t.q, s.lq)));
                      h = fnv(sc.data(), sc.size() * 4, h);
                    }
                    std::printf("%s %s tiles=%dx%d %s/%s/%s/%s/%s/%s %016llx\n", name.c_str(),
                                describe(s).c_str(), t.q, t.kv, to_string(v).data(),
                                to_string(pv).data(), to_string(e).data(), to_string(qs).data(),
                                smooth ? "smooth" : "nosmooth", to_string(rot).data(),
                                static_cast<unsigned long long>(h));
                  }
      }
  }
  return 0;
}
