// The few collective operations the app needs, over MPI_COMM_WORLD, or trivially on one rank
// when built without MPI (MINIATTN_ENABLE_MPI=OFF).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "miniattn/error.hpp"

#if MINIATTN_HAVE_MPI
#include <mpi.h>
#endif

namespace miniattn {

class Comm {
 public:
  static Comm world();

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool root() const { return rank_ == 0; }

  void barrier() const;
  double max(double v) const;
  double min(double v) const;
  double sum(double v) const;
  int64_t max(int64_t v) const;
  int64_t min(int64_t v) const;
  int64_t sum(int64_t v) const;
  void sum_inplace(double* v, int n) const;
  // Every rank's values, rank-major; each rank gives the same count.
  std::vector<double> allgather(const std::vector<double>& local) const;
  void broadcast(std::string& s, int root) const;
  [[noreturn]] void abort(int code) const;

#if MINIATTN_HAVE_MPI
  MPI_Comm native() const { return comm_; }
#endif

 private:
  int rank_ = 0;
  int size_ = 1;
#if MINIATTN_HAVE_MPI
  MPI_Comm comm_ = MPI_COMM_WORLD;
#endif
};

// Collective: if any rank reports an error (a non-empty message), every rank throws the same
// miniattn::Error, carrying the message and exit code of the lowest failing rank. Every rank
// must call it, so no rank is left waiting in a later collective.
void raise_if_any(const Comm& comm, const std::string& local_error, ExitCode code);

// Runs f on every rank and agrees on failure as raise_if_any does.
template <class F>
void all_or_none(const Comm& comm, F&& f) {
  std::string err;
  ExitCode code = ExitCode::Ok;
  try {
    f();
  } catch (const Error& e) {
    err = e.what();
    code = e.code();
  } catch (const std::exception& e) {
    err = e.what();
    code = ExitCode::RuntimeFailure;
  }
  raise_if_any(comm, err, code);
}

}  // namespace miniattn
