// Which avx2 dot-product path this CPU runs. Built without ISA flags (in miniattn_core, not in
// the avx2 object library): the registry calls it before any AVX2 code may run.
#include "kernels/avx2/avx2_backend.hpp"
#include "miniattn/cpu_features.hpp"

namespace miniattn {

const char* to_string(Avx2Dot dot) {
  switch (dot) {
    case Avx2Dot::Madd16: return "vpmaddwd";
    case Avx2Dot::AvxVnni: return "avx_vnni";
    case Avx2Dot::Avx512Vnni: return "avx512_vnni (ymm)";
  }
  return "?";
}

Avx2Dot avx2_dot_for_cpu() { return cpu_features().avx_vnni ? Avx2Dot::AvxVnni : Avx2Dot::Madd16; }

std::string avx2_unsupported(Avx2Dot dot) {
  const CpuFeatures& f = cpu_features();
  if (f.arch != "x86_64") return "needs an x86-64 CPU with AVX2 and FMA (this is " + f.arch + ")";
  std::string missing;
  auto need = [&](bool have, const char* name) {
    if (!have) missing += (missing.empty() ? "" : ", ") + std::string(name);
  };
  need(f.avx2, "avx2");
  need(f.fma, "fma");
  if (dot == Avx2Dot::AvxVnni) need(f.avx_vnni, "avx_vnni");
  if (dot == Avx2Dot::Avx512Vnni) {
    need(f.avx512vl, "avx512vl");
    need(f.avx512_vnni, "avx512_vnni");
  }
  return missing.empty() ? std::string() : "this CPU lacks " + missing;
}

std::unique_ptr<Backend> make_avx2_backend() { return make_avx2_backend(avx2_dot_for_cpu()); }

}  // namespace miniattn
