#include "miniattn/comm.hpp"

#include <cstdlib>

namespace miniattn {

#if MINIATTN_HAVE_MPI

Comm Comm::world() {
  Comm c;
  c.comm_ = MPI_COMM_WORLD;
  MPI_Comm_rank(c.comm_, &c.rank_);
  MPI_Comm_size(c.comm_, &c.size_);
  return c;
}

void Comm::barrier() const { MPI_Barrier(comm_); }

namespace {
template <class T>
T reduce(MPI_Comm comm, T v, MPI_Datatype type, MPI_Op op) {
  T out{};
  MPI_Allreduce(&v, &out, 1, type, op, comm);
  return out;
}
}  // namespace

double Comm::max(double v) const { return reduce(comm_, v, MPI_DOUBLE, MPI_MAX); }
double Comm::min(double v) const { return reduce(comm_, v, MPI_DOUBLE, MPI_MIN); }
double Comm::sum(double v) const { return reduce(comm_, v, MPI_DOUBLE, MPI_SUM); }
int64_t Comm::max(int64_t v) const { return reduce(comm_, v, MPI_INT64_T, MPI_MAX); }
int64_t Comm::min(int64_t v) const { return reduce(comm_, v, MPI_INT64_T, MPI_MIN); }
int64_t Comm::sum(int64_t v) const { return reduce(comm_, v, MPI_INT64_T, MPI_SUM); }

void Comm::sum_inplace(double* v, int n) const {
  MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_SUM, comm_);
}

std::vector<double> Comm::allgather(const std::vector<double>& local) const {
  std::vector<double> all(local.size() * static_cast<std::size_t>(size_));
  MPI_Allgather(local.data(), static_cast<int>(local.size()), MPI_DOUBLE, all.data(),
                static_cast<int>(local.size()), MPI_DOUBLE, comm_);
  return all;
}

void Comm::broadcast(std::string& s, int root) const {
  long long n = static_cast<long long>(s.size());
  MPI_Bcast(&n, 1, MPI_LONG_LONG, root, comm_);
  s.resize(static_cast<std::size_t>(n));
  if (n > 0) MPI_Bcast(s.data(), static_cast<int>(n), MPI_CHAR, root, comm_);
}

void Comm::abort(int code) const {
  MPI_Abort(comm_, code);
  std::exit(code);
}

#else  // one rank, no MPI

Comm Comm::world() { return Comm{}; }
void Comm::barrier() const {}
double Comm::max(double v) const { return v; }
double Comm::min(double v) const { return v; }
double Comm::sum(double v) const { return v; }
int64_t Comm::max(int64_t v) const { return v; }
int64_t Comm::min(int64_t v) const { return v; }
int64_t Comm::sum(int64_t v) const { return v; }
void Comm::sum_inplace(double*, int) const {}
std::vector<double> Comm::allgather(const std::vector<double>& local) const { return local; }
void Comm::broadcast(std::string&, int) const {}
void Comm::abort(int code) const { std::exit(code); }

#endif

void raise_if_any(const Comm& comm, const std::string& local_error, ExitCode code) {
  const int64_t none = comm.size();
  const int64_t first = comm.min(local_error.empty() ? none : static_cast<int64_t>(comm.rank()));
  if (first == none) return;
  std::string msg = local_error;
  comm.broadcast(msg, static_cast<int>(first));
  // The exit code travels with the message: the failing rank's code wins.
  int64_t c = comm.rank() == first ? static_cast<int64_t>(code) : 0;
  c = comm.max(c);
  Error e(msg, static_cast<ExitCode>(c));
  e.set_agreed();
  throw e;
}

}  // namespace miniattn
