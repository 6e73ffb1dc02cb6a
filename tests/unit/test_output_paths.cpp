// output_path_problem: which output paths would destroy something. Files are made in a directory
// of their own under the current one (tests run in parallel).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "miniattn/output_paths.hpp"

namespace miniattn {
namespace {

class OutputPaths : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::string("output_paths_") + info->name() + "_" + std::to_string(::getpid());
    ASSERT_EQ(::mkdir(dir_.c_str(), 0755), 0);
  }
  void TearDown() override {
    for (const std::string& p : made_) std::remove(p.c_str());
    ::rmdir(dir_.c_str());
  }
  std::string path(const std::string& name) {
    made_.push_back(dir_ + "/" + name);
    return made_.back();
  }
  std::string file(const std::string& name) {
    const std::string p = path(name);
    std::ofstream(p) << "contents\n";
    return p;
  }

  std::string dir_;
  std::vector<std::string> made_;
};

void expect_problem(const std::string& why, const std::vector<std::string>& parts) {
  ASSERT_FALSE(why.empty()) << "no problem found";
  for (const std::string& p : parts)
    EXPECT_NE(why.find(p), std::string::npos) << "message: " << why << "\nmissing: " << p;
}

TEST_F(OutputPaths, DistinctFilesAndEmptyPathsAreFine) {
  const std::string deck = file("deck.toml"), input = file("in.h5"), old = file("out.h5");
  EXPECT_EQ(output_path_problem({{"[output] file", old}, {"[output] report", path("r.json")},
                                 {"[output] report", ""}},
                                {{"the deck", deck}, {"[input] file", input}, {"[input] file", ""}}),
            "");
}

TEST_F(OutputPaths, TheSameExistingFileIsFoundByItsInodeWhateverTheSpelling) {
  const std::string deck = file("deck.toml");
  const std::string hard = path("hard_link.toml");
  ASSERT_EQ(::link(deck.c_str(), hard.c_str()), 0);
  expect_problem(output_path_problem({{"[output] file", "./" + deck}}, {{"the deck", deck}}),
                 {"[output] file = \"./" + deck + "\" is the same file as the deck \"" + deck +
                      "\"",
                  "give [output] file another path"});
  expect_problem(output_path_problem({{"[output] report", hard}}, {{"the deck", deck}}),
                 {"is the same file as the deck"});
}

TEST_F(OutputPaths, TwoOutputsNotYetWrittenClashByResolvedDirectoryAndName) {
  const std::string out = path("new.h5");
  expect_problem(output_path_problem({{"[output] file", out},
                                      {"[output] report", dir_ + "/../" + out}},
                                     {}),
                 {"[output] report = \"" + dir_ + "/../" + out + "\" is the same file as "
                  "[output] file", "both outputs"});
  EXPECT_EQ(output_path_problem({{"[output] file", out}, {"[output] report", path("new.json")}}, {}),
            "");
}

TEST_F(OutputPaths, NonRegularFilesAndLinksAreRefused) {
  const std::string fifo = path("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  expect_problem(output_path_problem({{"[output] file", fifo}}, {}),
                 {"exists and is a FIFO", "or \"\" to write none"});
  expect_problem(output_path_problem({{"[output] report", dir_}}, {}),
                 {"exists and is a directory"});
  expect_problem(output_path_problem({{"-o", "/dev/null"}}, {}),
                 {"-o \"/dev/null\" exists and is a character device"});
  const std::string target = file("target.h5"), link = path("link.h5");
  ASSERT_EQ(::symlink("target.h5", link.c_str()), 0);
  expect_problem(output_path_problem({{"[output] file", link}}, {}),
                 {"is a symbolic link (to \"target.h5\")", "give the path of its target"});
  // A dangling link too: the rename would still replace the link.
  const std::string dangling = path("dangling.h5");
  ASSERT_EQ(::symlink("nowhere.h5", dangling.c_str()), 0);
  expect_problem(output_path_problem({{"[output] file", dangling}}, {}), {"is a symbolic link"});
}

TEST_F(OutputPaths, TemporaryNameIsBesideThePath) {
  const std::string out = path("out.h5");
  EXPECT_EQ(temporary_name(out), out + ".tmp-" + std::to_string(::getpid()));
  EXPECT_EQ(temporary_creation_problem(out), "");
  EXPECT_NE(::access(temporary_name(out).c_str(), F_OK), 0) << "the trial file is removed";
  EXPECT_NE(temporary_creation_problem(dir_ + "/no_such_dir/out.h5"), "");
}

}  // namespace
}  // namespace miniattn
