// check_input_file_isolated: the input check in a forked child, so that a crash or a hang of
// the HDF5 library on a corrupt file is reported instead of taking the run down with it.
#include <hdf5.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "miniattn/error.hpp"
#include "miniattn/hdf5_io.hpp"

namespace miniattn {
namespace {

// Reads the first and the last row of each input dataset (check_input_file has already
// checked names, types and shapes), through whatever chunk index and filters the file uses.
std::string probe_rows(const InputFileSpec& in) {
  const hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
#if H5_VERSION_GE(1, 10, 7)
  H5Pset_file_locking(fapl, 0, 1);  // as check_input_file: parallel file systems refuse flock
#endif
  const hid_t file = H5Fopen(in.file.c_str(), H5F_ACC_RDONLY, fapl);
  if (file < 0) return "input file " + in.file + ": cannot open as HDF5";
  for (const std::string* name : {&in.q, &in.k, &in.v}) {
    const hid_t dset = H5Dopen2(file, name->c_str(), H5P_DEFAULT);
    const hid_t space = dset >= 0 ? H5Dget_space(dset) : -1;
    hsize_t dims[4] = {0, 0, 0, 0};
    if (space < 0 || H5Sget_simple_extent_ndims(space) != 4 ||
        H5Sget_simple_extent_dims(space, dims, nullptr) != 4)
      return "input file " + in.file + ": dataset '" + *name + "': cannot read its shape";
    std::vector<double> row(dims[3]);  // double: no float64 value overflows it
    const hsize_t count[4] = {1, 1, 1, dims[3]};
    const hid_t mspace = H5Screate_simple(1, &dims[3], nullptr);
    for (hsize_t last : {hsize_t{0}, hsize_t{1}}) {
      const hsize_t start[4] = {last * (dims[0] - 1), last * (dims[1] - 1), last * (dims[2] - 1), 0};
      if (H5Sselect_hyperslab(space, H5S_SELECT_SET, start, nullptr, count, nullptr) < 0 ||
          H5Dread(dset, H5T_NATIVE_DOUBLE, mspace, space, H5P_DEFAULT, row.data()) < 0)
        return "input file " + in.file + ": dataset '" + *name + "': reading its " +
               (last ? "last" : "first") + " row failed: the file is corrupt or truncated";
    }
  }
  return "";
}

[[noreturn]] void child(const InputFileSpec& in, int out) {
  // Die of the signal, quietly: no sanitizer or fuzzer report for a crash inside HDF5.
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) std::signal(sig, SIG_DFL);
  std::string msg;
  int code = 0;
  try {
    check_input_file(in);
    msg = probe_rows(in);
    code = msg.empty() ? 0 : static_cast<int>(ExitCode::BadInput);
  } catch (const Error& e) {
    msg = e.what();
    code = static_cast<int>(e.code());
  } catch (const std::exception& e) {
    msg = e.what();
    code = static_cast<int>(ExitCode::RuntimeFailure);
  }
  for (std::size_t off = 0; off < msg.size();) {
    const ssize_t n = ::write(out, msg.data() + off, msg.size() - off);
    if (n <= 0) break;
    off += static_cast<std::size_t>(n);
  }
  ::_exit(code);  // no atexit handlers, no library shutdown: this is a copy of the parent
}

}  // namespace

void check_input_file_isolated(const InputFileSpec& in, double timeout_seconds) {
  int fds[2];
  if (::pipe(fds) != 0) return check_input_file(in);
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return check_input_file(in);  // no process to spare: check in this one
  }
  if (pid == 0) {
    ::close(fds[0]);
    child(in, fds[1]);
  }
  ::close(fds[1]);

  std::string msg;
  bool timed_out = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_seconds);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: the child has exited (or closed its end)
    msg.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }

  const std::string& path = in.file;
  if (timed_out)
    throw Error("input file " + path + ": the HDF5 library did not finish reading its structure "
                "within " + std::to_string(static_cast<int>(timeout_seconds)) + " s: the file is "
                "corrupt (check it with h5dump -H " + path + ")");
  if (WIFSIGNALED(status))
    throw Error("input file " + path + ": the HDF5 library crashed (signal " +
                std::to_string(WTERMSIG(status)) + ", " + strsignal(WTERMSIG(status)) +
                ") reading it: the file is corrupt or truncated (check it with h5dump -H " + path + ")");
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : static_cast<int>(ExitCode::RuntimeFailure);
  if (code != 0)
    throw Error(msg.empty() ? "input file " + path + ": the input check failed" : msg,
                static_cast<ExitCode>(code));
}

}  // namespace miniattn
