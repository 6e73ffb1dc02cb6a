#include "miniattn/output_paths.hpp"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>

#include <fmt/format.h>

namespace miniattn {
namespace {

// What a path names, for the same-file test: the inode of an existing file, else the resolved
// directory and the name (two spellings of a file not created yet, "out.h5" and "./out.h5").
struct FileId {
  bool exists = false;
  dev_t dev = 0;
  ino_t ino = 0;
  std::string resolved;

  bool same(const FileId& o) const {
    if (exists != o.exists) return false;
    return exists ? dev == o.dev && ino == o.ino : resolved == o.resolved;
  }
};

std::string resolved_path(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  char buf[PATH_MAX];
  // A directory that does not exist: its spelling is all there is (creating the file fails later).
  const std::string real = ::realpath(dir.c_str(), buf) ? std::string(buf) : dir;
  return real + "/" + name;
}

FileId file_id(const std::string& path) {
  FileId id;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    id.exists = true;
    id.dev = st.st_dev;
    id.ino = st.st_ino;
  } else {
    id.resolved = resolved_path(path);
  }
  return id;
}

const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// `[output] file = "x.h5"` for a deck key, `the deck "x.toml"` or `-o "x.h5"` otherwise.
std::string subject(const NamedPath& p) {
  const bool key = p.role.rfind('[', 0) == 0;
  return fmt::format("{}{}\"{}\"", p.role, key ? " = " : " ", p.path);
}

// The output alone: not a link, and a regular file if it exists.
std::string own_problem(const NamedPath& out) {
  struct stat st {};
  if (::lstat(out.path.c_str(), &st) != 0) return "";  // not there yet: created by the run
  if (S_ISLNK(st.st_mode)) {
    char target[PATH_MAX];
    const ssize_t n = ::readlink(out.path.c_str(), target, sizeof target - 1);
    const std::string to = n > 0 ? std::string(target, static_cast<std::size_t>(n)) : "?";
    return fmt::format("{} is a symbolic link (to \"{}\"); outputs are written under a temporary "
                       "name and renamed into place, which would replace the link, not write "
                       "through it: give the path of its target, or another path",
                       subject(out), to);
  }
  if (!S_ISREG(st.st_mode))
    return fmt::format("{} exists and is {}; outputs replace only regular files: give the path of "
                       "a regular file (or a new one){}",
                       subject(out), kind_of(st.st_mode),
                       out.role.rfind("[output]", 0) == 0 ? ", or \"\" to write none" : "");
  return "";
}

}  // namespace

std::string output_path_problem(const std::vector<NamedPath>& outputs,
                                const std::vector<NamedPath>& inputs) {
  std::vector<std::pair<const NamedPath*, FileId>> seen;
  for (const NamedPath& in : inputs)
    if (!in.path.empty()) seen.emplace_back(&in, file_id(in.path));
  const std::size_t num_inputs = seen.size();
  for (const NamedPath& out : outputs) {
    if (out.path.empty()) continue;
    if (std::string why = own_problem(out); !why.empty()) return why;
    const FileId id = file_id(out.path);
    for (std::size_t i = 0; i < seen.size(); ++i) {
      if (!seen[i].second.same(id)) continue;
      return fmt::format("{} is the same file as {}: {}; give {} another path", subject(out),
                         subject(*seen[i].first),
                         i < num_inputs ? "writing it would destroy that input"
                                        : "both outputs would be written to it",
                         out.role);
    }
    seen.emplace_back(&out, id);
  }
  return "";
}

std::string temporary_name(const std::string& path) {
  return path + ".tmp-" + std::to_string(static_cast<long long>(::getpid()));
}

std::string temporary_creation_problem(const std::string& path) {
  const std::string temp = temporary_name(path);
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return std::strerror(errno);
  ::close(fd);
  std::remove(temp.c_str());
  return "";
}

}  // namespace miniattn
