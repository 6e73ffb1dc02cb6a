#include "miniattn/comm.hpp"

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

#if MINIATTN_HAVE_MPI
#include <mpi.h>
#endif

namespace miniattn {

#if MINIATTN_HAVE_MPI

namespace {

// Bytes per MPI message (MPI counts are int); a larger buffer travels as several messages.
constexpr std::size_t kMaxMessage = std::size_t{1} << 30;

template <class T>
T reduce(MPI_Comm comm, T v, MPI_Datatype type, MPI_Op op) {
  T out{};
  MPI_Allreduce(&v, &out, 1, type, op, comm);
  return out;
}

// An MPI_Op is a plain function: it finds the merge of the reduce_scatter_records in progress
// here (collectives run one at a time, on the thread that initialised MPI).
Comm::RecordMerge g_record_merge = nullptr;

void apply_record_merge(void* in, void* inout, int* len, MPI_Datatype* type) {
  int bytes = 0;
  MPI_Type_size(*type, &bytes);
  g_record_merge(static_cast<const double*>(in), static_cast<double*>(inout), *len,
                 bytes / static_cast<int>(sizeof(double)));
}

}  // namespace

struct Comm::Handle {
  MPI_Comm comm = MPI_COMM_NULL;
  bool owned = false;  // made by split: freed with the last Comm that holds it

  Handle(MPI_Comm c, bool own) : comm(c), owned(own) {}
  ~Handle() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (owned && comm != MPI_COMM_NULL && !finalized) MPI_Comm_free(&comm);
  }
};

struct Comm::Requests::Impl {
  std::vector<MPI_Request> reqs;
};

Comm::Requests::Requests() : impl_(std::make_unique<Impl>()) {}
Comm::Requests::~Requests() = default;
Comm::Requests::Requests(Requests&&) noexcept = default;
Comm::Requests& Comm::Requests::operator=(Requests&&) noexcept = default;
bool Comm::Requests::empty() const { return impl_->reqs.empty(); }

bool Comm::Requests::test() {
  int flag = 0;
  MPI_Testall(static_cast<int>(impl_->reqs.size()), impl_->reqs.data(), &flag,
              MPI_STATUSES_IGNORE);
  return flag != 0;
}

void Comm::Requests::wait() {
  MPI_Waitall(static_cast<int>(impl_->reqs.size()), impl_->reqs.data(), MPI_STATUSES_IGNORE);
}

Comm Comm::adopt(std::shared_ptr<const Handle> handle) {
  Comm c;
  MPI_Comm_rank(handle->comm, &c.rank_);
  MPI_Comm_size(handle->comm, &c.size_);
  c.handle_ = std::move(handle);
  return c;
}

Comm Comm::world() { return adopt(std::make_shared<const Handle>(MPI_COMM_WORLD, false)); }

const void* Comm::native_handle() const { return &handle_->comm; }

void Comm::barrier() const { MPI_Barrier(handle_->comm); }

double Comm::max(double v) const { return reduce(handle_->comm, v, MPI_DOUBLE, MPI_MAX); }
double Comm::min(double v) const { return reduce(handle_->comm, v, MPI_DOUBLE, MPI_MIN); }
double Comm::sum(double v) const { return reduce(handle_->comm, v, MPI_DOUBLE, MPI_SUM); }
int64_t Comm::max(int64_t v) const { return reduce(handle_->comm, v, MPI_INT64_T, MPI_MAX); }
int64_t Comm::min(int64_t v) const { return reduce(handle_->comm, v, MPI_INT64_T, MPI_MIN); }
int64_t Comm::sum(int64_t v) const { return reduce(handle_->comm, v, MPI_INT64_T, MPI_SUM); }
uint64_t Comm::sum(uint64_t v) const { return reduce(handle_->comm, v, MPI_UINT64_T, MPI_SUM); }

void Comm::sum_inplace(double* v, int n) const {
  MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_SUM, handle_->comm);
}

void Comm::max_inplace(float* v, int n) const {
  MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_FLOAT, MPI_MAX, handle_->comm);
}

std::vector<double> Comm::allgather(const std::vector<double>& local) const {
  std::vector<double> all(local.size() * static_cast<std::size_t>(size_));
  MPI_Allgather(local.data(), static_cast<int>(local.size()), MPI_DOUBLE, all.data(),
                static_cast<int>(local.size()), MPI_DOUBLE, handle_->comm);
  return all;
}

std::vector<int> Comm::allgather(int v) const {
  std::vector<int> all(static_cast<std::size_t>(size_));
  MPI_Allgather(&v, 1, MPI_INT, all.data(), 1, MPI_INT, handle_->comm);
  return all;
}

void Comm::allgatherv(const int64_t* send, int count, int64_t* recv, const std::vector<int>& counts,
                      const std::vector<int>& displs) const {
  MPI_Allgatherv(send, count, MPI_INT64_T, recv, counts.data(), displs.data(), MPI_INT64_T,
                 handle_->comm);
}

void Comm::allgatherv(const float* send, int count, float* recv, const std::vector<int>& counts,
                      const std::vector<int>& displs) const {
  MPI_Allgatherv(send, count, MPI_FLOAT, recv, counts.data(), displs.data(), MPI_FLOAT,
                 handle_->comm);
}

void Comm::reduce_scatter_records(const double* send, double* recv, const std::vector<int>& counts,
                                  int record_len, RecordMerge merge) const {
  MPI_Datatype record;
  MPI_Type_contiguous(record_len, MPI_DOUBLE, &record);
  MPI_Type_commit(&record);
  MPI_Op op;
  MPI_Op_create(&apply_record_merge, 1, &op);
  g_record_merge = merge;
  MPI_Reduce_scatter(send, recv, counts.data(), record, op, handle_->comm);
  g_record_merge = nullptr;
  MPI_Op_free(&op);
  MPI_Type_free(&record);
}

void Comm::broadcast(std::string& s, int root) const {
  long long n = static_cast<long long>(s.size());
  MPI_Bcast(&n, 1, MPI_LONG_LONG, root, handle_->comm);
  s.resize(static_cast<std::size_t>(n));
  if (n > 0) MPI_Bcast(s.data(), static_cast<int>(n), MPI_CHAR, root, handle_->comm);
}

Comm Comm::split(int color, int key) const {
  MPI_Comm c;
  MPI_Comm_split(handle_->comm, color, key, &c);
  return adopt(std::make_shared<const Handle>(c, true));
}

Comm Comm::split_node() const {
  MPI_Comm c;
  if (MPI_Comm_split_type(handle_->comm, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &c) !=
      MPI_SUCCESS)
    return adopt(std::make_shared<const Handle>(MPI_COMM_SELF, false));
  return adopt(std::make_shared<const Handle>(c, true));
}

void Comm::isend_bytes(const void* buf, std::size_t bytes, int peer, int tag,
                       Requests& reqs) const {
  const auto* p = static_cast<const std::byte*>(buf);
  for (std::size_t off = 0; off < bytes; off += kMaxMessage) {
    reqs.impl_->reqs.emplace_back();
    MPI_Isend(p + off, static_cast<int>(std::min(kMaxMessage, bytes - off)), MPI_BYTE, peer, tag,
              handle_->comm, &reqs.impl_->reqs.back());
  }
}

void Comm::irecv_bytes(void* buf, std::size_t bytes, int peer, int tag, Requests& reqs) const {
  auto* p = static_cast<std::byte*>(buf);
  for (std::size_t off = 0; off < bytes; off += kMaxMessage) {
    reqs.impl_->reqs.emplace_back();
    MPI_Irecv(p + off, static_cast<int>(std::min(kMaxMessage, bytes - off)), MPI_BYTE, peer, tag,
              handle_->comm, &reqs.impl_->reqs.back());
  }
}

void Comm::abort(int code) const {
  MPI_Abort(handle_->comm, code);
  std::exit(code);
}

#else  // one rank, no MPI

struct Comm::Handle {};
struct Comm::Requests::Impl {};

Comm::Requests::Requests() : impl_(std::make_unique<Impl>()) {}
Comm::Requests::~Requests() = default;
Comm::Requests::Requests(Requests&&) noexcept = default;
Comm::Requests& Comm::Requests::operator=(Requests&&) noexcept = default;
bool Comm::Requests::empty() const { return true; }
bool Comm::Requests::test() { return true; }
void Comm::Requests::wait() {}

Comm Comm::adopt(std::shared_ptr<const Handle> handle) {
  Comm c;
  c.handle_ = std::move(handle);
  return c;
}

Comm Comm::world() { return Comm{}; }
const void* Comm::native_handle() const { return nullptr; }
void Comm::barrier() const {}
double Comm::max(double v) const { return v; }
double Comm::min(double v) const { return v; }
double Comm::sum(double v) const { return v; }
int64_t Comm::max(int64_t v) const { return v; }
int64_t Comm::min(int64_t v) const { return v; }
int64_t Comm::sum(int64_t v) const { return v; }
uint64_t Comm::sum(uint64_t v) const { return v; }
void Comm::sum_inplace(double*, int) const {}
void Comm::max_inplace(float*, int) const {}
std::vector<double> Comm::allgather(const std::vector<double>& local) const { return local; }
std::vector<int> Comm::allgather(int v) const { return {v}; }

void Comm::allgatherv(const int64_t* send, int count, int64_t* recv, const std::vector<int>&,
                      const std::vector<int>& displs) const {
  std::copy_n(send, count, recv + displs[0]);
}

void Comm::allgatherv(const float* send, int count, float* recv, const std::vector<int>&,
                      const std::vector<int>& displs) const {
  std::copy_n(send, count, recv + displs[0]);
}

void Comm::reduce_scatter_records(const double* send, double* recv, const std::vector<int>& counts,
                                  int record_len, RecordMerge) const {
  std::copy_n(send, static_cast<std::size_t>(counts[0]) * record_len, recv);
}

void Comm::broadcast(std::string&, int) const {}
Comm Comm::split(int, int) const { return *this; }
Comm Comm::split_node() const { return *this; }

void Comm::isend_bytes(const void*, std::size_t, int, int, Requests&) const {
  throw std::logic_error("Comm::isend_bytes: a build without MPI has no other rank");
}

void Comm::irecv_bytes(void*, std::size_t, int, int, Requests&) const {
  throw std::logic_error("Comm::irecv_bytes: a build without MPI has no other rank");
}

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
