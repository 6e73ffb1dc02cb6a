// What the network between the ranks delivers (scripts/netlab.sh --probe): the half round trip
// and bandwidth of a ping-pong between ranks 0 and 1, and the per-rank bandwidth of the exchange
// ring mode does (every rank sends to the next while it receives from the previous).
//   mpi_pingpong [--max-bytes N] [--seconds S]
// One line per message size, "key=value" pairs; times are medians over the iterations (a shared
// machine's stalls move the mean, not the median), bandwidth is payload bits per second.
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct Options {
  long long max_bytes = 4 << 20;
  double seconds = 0.2;  // measuring time per size, after one calibration iteration
};

bool parse(int argc, char** argv, Options& o, std::string& error) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "--max-bytes" || a == "--seconds") && i + 1 < argc) {
      char* end = nullptr;
      const char* v = argv[++i];
      if (a == "--max-bytes") {
        o.max_bytes = std::strtoll(v, &end, 10);
        if (*end != '\0' || o.max_bytes < 8) {
          error = "--max-bytes " + std::string(v) + ": expected an integer >= 8";
          return false;
        }
      } else {
        o.seconds = std::strtod(v, &end);
        if (*end != '\0' || !(o.seconds > 0)) {
          error = "--seconds " + std::string(v) + ": expected a positive number";
          return false;
        }
      }
    } else {
      error = "unknown or incomplete option '" + a + "' (expected --max-bytes N, --seconds S)";
      return false;
    }
  }
  return true;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Iterations that fill the time budget, judged by rank 0 from one timed iteration; every rank
// gets the same count.
int iterations(double one, double seconds, MPI_Comm comm) {
  int n = static_cast<int>(std::ceil(seconds / std::max(one, 1e-7)));
  n = std::clamp(n, 3, 100000);
  MPI_Bcast(&n, 1, MPI_INT, 0, comm);
  return n;
}

// Ranks 0 and 1 bounce `bytes` back and forth; returns rank 0's round-trip times.
std::vector<double> pingpong(std::vector<char>& buf, long long bytes, int iters, int rank,
                             MPI_Comm comm) {
  std::vector<double> rtt;
  const int n = static_cast<int>(bytes);
  MPI_Barrier(comm);
  for (int i = 0; i < iters; ++i) {
    const double t0 = MPI_Wtime();
    if (rank == 0) {
      MPI_Send(buf.data(), n, MPI_CHAR, 1, 0, comm);
      MPI_Recv(buf.data(), n, MPI_CHAR, 1, 0, comm, MPI_STATUS_IGNORE);
    } else if (rank == 1) {
      MPI_Recv(buf.data(), n, MPI_CHAR, 0, 0, comm, MPI_STATUS_IGNORE);
      MPI_Send(buf.data(), n, MPI_CHAR, 0, 0, comm);
    }
    rtt.push_back(MPI_Wtime() - t0);
  }
  return rtt;
}

// Every rank sends `bytes` to the next and receives as many from the previous; returns, per
// iteration, the slowest rank's time (each step of a ring waits for its slowest link).
std::vector<double> ring(std::vector<char>& out, std::vector<char>& in, long long bytes,
                         int iters, int rank, int size, MPI_Comm comm) {
  std::vector<double> step;
  const int n = static_cast<int>(bytes);
  for (int i = 0; i < iters; ++i) {
    MPI_Barrier(comm);
    const double t0 = MPI_Wtime();
    MPI_Sendrecv(out.data(), n, MPI_CHAR, (rank + 1) % size, 1, in.data(), n, MPI_CHAR,
                 (rank + size - 1) % size, 1, comm, MPI_STATUS_IGNORE);
    double t = MPI_Wtime() - t0, slowest = 0;
    MPI_Allreduce(&t, &slowest, 1, MPI_DOUBLE, MPI_MAX, comm);
    step.push_back(slowest);
  }
  return step;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm comm = MPI_COMM_WORLD;
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  Options o;
  std::string error;
  if (!parse(argc, argv, o, error) || size < 2) {
    if (rank == 0)
      std::fprintf(stderr, "mpi_pingpong: error: %s\n",
                   error.empty() ? "needs at least 2 ranks" : error.c_str());
    MPI_Finalize();
    return 2;
  }
  // The ranks MPI sees on rank 0's node: 1 when every rank is a host of its own (no shared
  // memory between them).
  MPI_Comm node;
  int node_ranks = 0;
  MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
  MPI_Comm_size(node, &node_ranks);
  MPI_Comm_free(&node);
  if (rank == 0) {
    char host[MPI_MAX_PROCESSOR_NAME] = {};
    int len = 0;
    MPI_Get_processor_name(host, &len);
    std::printf("mpi_pingpong ranks=%d node_ranks=%d rank0_host=%s\n", size, node_ranks, host);
  }
  std::vector<long long> sizes;
  for (long long b = 8; b <= o.max_bytes; b *= 8) sizes.push_back(b);
  if (sizes.back() != o.max_bytes) sizes.push_back(o.max_bytes);
  std::vector<char> a(static_cast<std::size_t>(o.max_bytes), 1);
  std::vector<char> b(static_cast<std::size_t>(o.max_bytes), 2);

  for (long long bytes : sizes) {
    pingpong(a, bytes, 1, rank, comm);  // connection set-up and first touch
    const int n = iterations(pingpong(a, bytes, 1, rank, comm)[0], o.seconds, comm);
    const double half = 0.5 * median(pingpong(a, bytes, n, rank, comm));
    if (rank == 0)
      std::printf("pingpong bytes=%lld iters=%d half_rtt_us=%.2f mbit_s=%.2f\n", bytes, n,
                  half * 1e6, bytes * 8 / half / 1e6);
  }
  for (long long bytes : sizes) {
    if (bytes < 4096) continue;  // a latency-bound exchange says nothing the ping-pong did not
    ring(a, b, bytes, 1, rank, size, comm);
    const int n = iterations(ring(a, b, bytes, 1, rank, size, comm)[0], o.seconds, comm);
    const double step = median(ring(a, b, bytes, n, rank, size, comm));
    if (rank == 0)
      std::printf("ring ranks=%d bytes=%lld iters=%d step_us=%.2f mbit_s_per_rank=%.2f\n", size,
                  bytes, n, step * 1e6, bytes * 8 / step / 1e6);
  }
  std::fflush(stdout);
  MPI_Finalize();
  return 0;
}
