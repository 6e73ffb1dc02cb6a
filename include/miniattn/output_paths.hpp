// Outputs never destroy anything: the checks an output path passes before any compute, and the
// temporary name every output is written under until it is renamed into place.
//
// An output is renamed over its path at the very end, so a path that already holds something
// other than an earlier output (the deck, an input, another output of the same run, a device, a
// FIFO, a directory) would be destroyed or replaced. A symbolic link is refused too: the rename
// would replace the link itself rather than write through it, surprising either way.
#pragma once

#include <string>
#include <vector>

namespace miniattn {

// A file that a program reads or writes, and how messages name it ("[output] file", "the deck").
struct NamedPath {
  std::string role;
  std::string path;  // "" = none (skipped)
};

// "" when every output may be written without destroying anything, else one message naming the
// output, what is wrong and what to change. An output must not be a symbolic link, must be a
// regular file if it exists, and must not be the same file as an input or another output: the
// same device and inode when the files exist, else the same resolved directory and name.
std::string output_path_problem(const std::vector<NamedPath>& outputs,
                                const std::vector<NamedPath>& inputs);

// The name an output is written under: the same directory (so the final rename is atomic) and
// ".tmp-<pid>" appended.
std::string temporary_name(const std::string& path);

// "" when the temporary of `path` can be created (it is created and removed again), else why
// not (strerror).
std::string temporary_creation_problem(const std::string& path);

}  // namespace miniattn
