// The MPI operations the app needs, over MPI_COMM_WORLD and the communicators split from it, or
// trivially on one rank when built without MPI (MINIATTN_ENABLE_MPI=OFF). Everything above
// comm/ talks MPI through this class; only the mains (MPI_Init, MPI_Finalize) and HDF5's MPI-IO
// (which takes the communicator itself: src/comm/mpi_comm.hpp) see <mpi.h>.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "miniattn/error.hpp"

namespace miniattn {

class Comm {
 public:
  // Non-blocking transfers in flight (MPI requests), from isend_bytes and irecv_bytes.
  // Move-only. Their buffers must stay untouched until test() has returned true or wait() has
  // returned.
  class Requests {
   public:
    Requests();
    ~Requests();
    Requests(Requests&&) noexcept;
    Requests& operator=(Requests&&) noexcept;
    Requests(const Requests&) = delete;
    Requests& operator=(const Requests&) = delete;

    // True when no transfer was ever posted here.
    bool empty() const;
    // True once every transfer has completed (MPI_Testall). Open MPI moves large messages only
    // inside MPI calls, so calling this between pieces of work is what keeps them moving.
    bool test();
    // Returns once every transfer has completed (MPI_Waitall).
    void wait();

   private:
    friend class Comm;
    struct Impl;
    std::unique_ptr<Impl> impl_;
  };

  static Comm world();

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool root() const { return rank_ == 0; }

  // Collectives: every rank of the communicator calls them, in the same order.
  void barrier() const;
  double max(double v) const;
  double min(double v) const;
  double sum(double v) const;
  int64_t max(int64_t v) const;
  int64_t min(int64_t v) const;
  int64_t sum(int64_t v) const;
  uint64_t sum(uint64_t v) const;
  // Element-wise over ranks, in place: sums of n doubles, maxima of n floats.
  void sum_inplace(double* v, int n) const;
  void max_inplace(float* v, int n) const;
  // Every rank's values, rank-major; each rank gives the same count.
  std::vector<double> allgather(const std::vector<double>& local) const;
  // Every rank's value, in rank order.
  std::vector<int> allgather(int v) const;
  // Every rank's values, rank r's counts[r] of them at recv + displs[r] (count = counts[rank]).
  void allgatherv(const int64_t* send, int count, int64_t* recv, const std::vector<int>& counts,
                  const std::vector<int>& displs) const;
  void allgatherv(const float* send, int count, float* recv, const std::vector<int>& counts,
                  const std::vector<int>& displs) const;
  // Records of record_len doubles. merge(in, inout, n, record_len) combines n records into inout;
  // it must be associative and commutative. Every rank sends the same number of records (the
  // sum of counts); the records are combined over ranks, and rank r receives counts[r] of them,
  // those after the first counts[0] + ... + counts[r-1] (MPI_Reduce_scatter).
  using RecordMerge = void (*)(const double* in, double* inout, int64_t records, int record_len);
  void reduce_scatter_records(const double* send, double* recv, const std::vector<int>& counts,
                              int record_len, RecordMerge merge) const;
  void broadcast(std::string& s, int root) const;

  // Collective: one communicator per color, its ranks ordered by key (MPI_Comm_split); freed
  // with its last copy.
  Comm split(int color, int key) const;
  // Collective: the ranks of this communicator on this rank's node (MPI_COMM_TYPE_SHARED); this
  // rank alone if MPI cannot tell.
  Comm split_node() const;

  // Non-blocking point-to-point of `bytes` bytes with rank `peer`, added to reqs. Any size: a
  // buffer beyond 1 GiB travels as several messages (MPI counts are int), which the matching
  // call on the peer splits the same way.
  void isend_bytes(const void* buf, std::size_t bytes, int peer, int tag, Requests& reqs) const;
  void irecv_bytes(void* buf, std::size_t bytes, int peer, int tag, Requests& reqs) const;

  [[noreturn]] void abort(int code) const;

  // The MPI_Comm, for a library that takes one (src/comm/mpi_comm.hpp); null without MPI.
  const void* native_handle() const;

 private:
  struct Handle;  // the MPI_Comm, and whether this class frees it
  Comm() = default;
  static Comm adopt(std::shared_ptr<const Handle> handle);  // rank and size from MPI
  int rank_ = 0;
  int size_ = 1;
  std::shared_ptr<const Handle> handle_;
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
