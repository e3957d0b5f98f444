#include "artifact/pack.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <utime.h>

#include <algorithm>
#include <fstream>
#include <vector>

#include "testing/testing.h"

namespace anthill::artifact {
namespace {

namespace fs = std::filesystem;

// Every entry under root, one line each, sorted: what a round trip must
// keep (type, permission bits, bytes or link target, mtime of files).
std::string Listing(const fs::path& root) {
  std::vector<std::string> lines;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    struct stat st;
    EXPECT_EQ(lstat(it->path().c_str(), &st), 0) << it->path();
    std::string line =
        fs::relative(it->path(), root).string() + " mode=" + std::to_string(st.st_mode & 07777);
    if (S_ISREG(st.st_mode)) {
      line += " file mtime=" + std::to_string(st.st_mtim.tv_sec) +
              " bytes=" + testing::ReadFile(it->path());
    } else if (S_ISDIR(st.st_mode)) {
      line += " dir";
    } else if (S_ISLNK(st.st_mode)) {
      line += " link->" + fs::read_symlink(it->path()).string();
    }
    lines.push_back(line);
  }
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

void SetMtime(const fs::path& p, time_t t) {
  struct utimbuf times {
    t, t
  };
  ASSERT_EQ(utime(p.c_str(), &times), 0) << p;
}

// An archive written with libarchive directly: the entries an attacker (or
// another tool) could put in one, which Pack never would.
struct TarEntry {
  std::string name;
  unsigned type = AE_IFREG;
  std::string data;  // a file's bytes
  std::string link;  // a symlink's target, or a hard link's
};

void WriteTar(const fs::path& out, const std::vector<TarEntry>& entries, bool gzip) {
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (gzip) archive_write_add_filter_gzip(a);
  ASSERT_EQ(archive_write_open_filename(a, out.c_str()), ARCHIVE_OK) << archive_error_string(a);
  for (const TarEntry& e : entries) {
    archive_entry* entry = archive_entry_new();
    archive_entry_copy_pathname(entry, e.name.c_str());
    archive_entry_set_filetype(entry, e.type);
    archive_entry_set_perm(entry, e.type == AE_IFDIR ? 0755 : 0644);
    if (e.type == AE_IFLNK) archive_entry_copy_symlink(entry, e.link.c_str());
    if (e.type == AE_IFREG && !e.link.empty()) archive_entry_copy_hardlink(entry, e.link.c_str());
    if (e.type == AE_IFREG && e.link.empty()) archive_entry_set_size(entry, e.data.size());
    EXPECT_EQ(archive_write_header(a, entry), ARCHIVE_OK) << archive_error_string(a);
    if (!e.data.empty()) archive_write_data(a, e.data.data(), e.data.size());
    archive_entry_free(entry);
  }
  archive_write_close(a);
  archive_write_free(a);
}

class PackTest : public ::testing::Test {
 protected:
  // A release as builds make them: an executable, a data dir, links to a
  // file and to a dir, an empty dir, a name that is not UTF-8 and has spaces.
  void MakeTree(const fs::path& root) {
    testing::WriteFile(root / "bin/app", "#!/bin/sh\necho hello\n");
    fs::permissions(root / "bin/app", fs::perms(0755));
    testing::WriteFile(root / "data/config.json", "{\"port\": 8080}\n");
    fs::permissions(root / "data/config.json", fs::perms(0600));
    testing::WriteFile(root / "odd name \xff\xfe.txt", "bytes");
    fs::create_directories(root / "empty");
    fs::create_symlink("bin/app", root / "run");
    fs::create_symlink("data", root / "data-link");
    fs::create_symlink("../missing", root / "data/dangling");
    for (const char* f : {"bin/app", "data/config.json", "odd name \xff\xfe.txt"}) {
      SetMtime(root / f, 1700000000);
    }
  }
  testing::TempDir dir_;
};

TEST_F(PackTest, RoundTripKeepsFilesModesLinksEmptyDirsAndOddNames) {
  MakeTree(dir_ / "release");
  Result<Packed> packed = Pack(dir_ / "release", dir_ / "release.tar.zst");
  ASSERT_TRUE(packed.ok()) << packed.error();
  Result<Packed> hashed = HashFile(dir_ / "release.tar.zst");
  ASSERT_TRUE(hashed.ok()) << hashed.error();
  EXPECT_EQ(packed->sha256, hashed->sha256);
  EXPECT_EQ(packed->size, hashed->size);
  EXPECT_EQ(packed->size, static_cast<int64_t>(fs::file_size(dir_ / "release.tar.zst")));

  Status unpacked = Unpack(dir_ / "release.tar.zst", dir_ / "out");
  ASSERT_TRUE(unpacked.ok()) << unpacked.message();
  EXPECT_EQ(Listing(dir_ / "out"), Listing(dir_ / "release"));
  EXPECT_TRUE(fs::is_symlink(dir_ / "out/data-link"));
  EXPECT_EQ(testing::ReadFile(dir_ / "out/run"), "#!/bin/sh\necho hello\n");
  EXPECT_FALSE(fs::exists(dir_ / "out.partial"));
  // Only the archive and what was asked for: no temporary file left beside.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_.path()), fs::directory_iterator()), 3);
}

TEST_F(PackTest, TheSameTreePacksToTheSameBytes) {
  MakeTree(dir_ / "release");
  Result<Packed> first = Pack(dir_ / "release", dir_ / "1.tar.zst");
  Result<Packed> second = Pack(dir_ / "release", dir_ / "2.tar.zst");
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->sha256, second->sha256);
}

TEST_F(PackTest, AnEmptyDirPacksAndUnpacks) {
  fs::create_directories(dir_ / "empty");
  Result<Packed> packed = Pack(dir_ / "empty", dir_ / "empty.tar.zst");
  ASSERT_TRUE(packed.ok()) << packed.error();
  EXPECT_GT(packed->size, 0);
  ASSERT_TRUE(Unpack(dir_ / "empty.tar.zst", dir_ / "out").ok());
  EXPECT_TRUE(fs::is_directory(dir_ / "out"));
  EXPECT_TRUE(fs::is_empty(dir_ / "out"));
}

TEST_F(PackTest, ReadOnlyDirsComeBackReadOnly) {
  testing::WriteFile(dir_ / "release/sealed/file", "x");
  fs::permissions(dir_ / "release/sealed", fs::perms(0555));
  ASSERT_TRUE(Pack(dir_ / "release", dir_ / "r.tar.zst").ok());
  ASSERT_TRUE(Unpack(dir_ / "r.tar.zst", dir_ / "out").ok());
  EXPECT_EQ(Listing(dir_ / "out"), Listing(dir_ / "release"));
  fs::permissions(dir_ / "release/sealed", fs::perms(0755));  // for TempDir's removal
  fs::permissions(dir_ / "out/sealed", fs::perms(0755));
}

TEST_F(PackTest, ATruncatedArchiveFailsAndLeavesNothing) {
  for (int i = 0; i < 50; ++i) {
    testing::WriteFile(dir_ / "release" / ("file" + std::to_string(i)),
                       std::string(20000, static_cast<char>('a' + i % 26)) + std::to_string(i));
  }
  Result<Packed> packed = Pack(dir_ / "release", dir_ / "r.tar.zst");
  ASSERT_TRUE(packed.ok()) << packed.error();
  fs::resize_file(dir_ / "r.tar.zst", packed->size / 2);
  Status unpacked = Unpack(dir_ / "r.tar.zst", dir_ / "out");
  EXPECT_FALSE(unpacked.ok());
  EXPECT_EQ(unpacked.message().rfind("unpack " + (dir_ / "r.tar.zst").string() + ": ", 0), 0u)
      << unpacked.message();
  EXPECT_FALSE(fs::exists(dir_ / "out"));
  EXPECT_FALSE(fs::exists(dir_ / "out.partial"));
}

TEST_F(PackTest, ACorruptArchiveFailsAndLeavesNothing) {
  for (int i = 0; i < 50; ++i) {
    testing::WriteFile(dir_ / "release" / ("file" + std::to_string(i)),
                       "line " + std::to_string(i) + " of a log that compresses well\n");
  }
  Result<Packed> packed = Pack(dir_ / "release", dir_ / "r.tar.zst");
  ASSERT_TRUE(packed.ok()) << packed.error();
  {
    std::fstream f(dir_ / "r.tar.zst", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(packed->size / 2);
    f.write(std::string(32, '\xff').data(), 32);
  }
  Status unpacked = Unpack(dir_ / "r.tar.zst", dir_ / "out");
  EXPECT_FALSE(unpacked.ok());
  EXPECT_FALSE(fs::exists(dir_ / "out"));
  EXPECT_FALSE(fs::exists(dir_ / "out.partial"));
}

TEST_F(PackTest, EntriesThatLeaveTheDestinationAreRefused) {
  struct Case {
    std::vector<TarEntry> entries;
    std::string error;  // the end of the message
  };
  const std::string outside = (dir_ / "outside").string();
  fs::create_directories(outside);
  const std::vector<Case> cases = {
      {{{"ok.txt", AE_IFREG, "fine"}, {"../evil", AE_IFREG, "gotcha"}},
       "entry '../evil': refused: a '..' component"},
      {{{"a/../../evil", AE_IFREG, "gotcha"}}, "entry 'a/../../evil': refused: a '..' component"},
      {{{outside + "/evil", AE_IFREG, "gotcha"}},
       "entry '" + outside + "/evil': refused: an absolute path"},
      {{{"link", AE_IFLNK, "", outside}, {"link/evil", AE_IFREG, "gotcha"}},
       "entry 'link/evil': Cannot extract through symlink " +
           (dir_ / "out.partial/link/evil").string()},
      {{{"hard", AE_IFREG, "", "/etc/passwd"}}, "entry 'hard': refused: a hard link"},
      {{{"fifo", AE_IFIFO}}, "entry 'fifo': refused: not a regular file, directory or symlink"},
  };
  for (const Case& c : cases) {
    WriteTar(dir_ / "evil.tar.gz", c.entries, /*gzip=*/true);
    Status unpacked = Unpack(dir_ / "evil.tar.gz", dir_ / "out");
    EXPECT_EQ(unpacked.code(), StatusCode::kInvalidArgument) << unpacked.message();
    EXPECT_EQ(unpacked.message(), "unpack " + (dir_ / "evil.tar.gz").string() + ": " + c.error);
    EXPECT_FALSE(fs::exists(dir_ / "out"));
    EXPECT_FALSE(fs::exists(dir_ / "out.partial"));
    EXPECT_FALSE(fs::exists(dir_ / "evil"));
    EXPECT_TRUE(fs::is_empty(outside)) << c.error;
  }
}

TEST_F(PackTest, AGzipTarFromAnotherToolUnpacks) {
  WriteTar(dir_ / "other.tar.gz",
           {{"./", AE_IFDIR},
            {"./bin", AE_IFDIR},
            {"./bin/app", AE_IFREG, "hi"},
            {"./latest", AE_IFLNK, "", "bin/app"}},
           /*gzip=*/true);
  Status unpacked = Unpack(dir_ / "other.tar.gz", dir_ / "out");
  ASSERT_TRUE(unpacked.ok()) << unpacked.message();
  EXPECT_EQ(testing::ReadFile(dir_ / "out/latest"), "hi");
}

TEST_F(PackTest, SetuidBitsAreDropped) {
  testing::WriteFile(dir_ / "release/tool", "x");
  fs::permissions(dir_ / "release/tool", fs::perms(04755));
  ASSERT_TRUE(Pack(dir_ / "release", dir_ / "r.tar.zst").ok());
  ASSERT_TRUE(Unpack(dir_ / "r.tar.zst", dir_ / "out").ok());
  EXPECT_EQ(fs::status(dir_ / "out/tool").permissions(), fs::perms(0755));
}

TEST_F(PackTest, UnpackNeverReplacesWhatIsThere) {
  fs::create_directories(dir_ / "release");
  ASSERT_TRUE(Pack(dir_ / "release", dir_ / "r.tar.zst").ok());
  testing::WriteFile(dir_ / "out/keep", "mine");
  Status unpacked = Unpack(dir_ / "r.tar.zst", dir_ / "out");
  EXPECT_EQ(unpacked.code(), StatusCode::kConflict);
  EXPECT_EQ(unpacked.message(), "unpack " + (dir_ / "r.tar.zst").string() + ": " +
                                    (dir_ / "out").string() + " already exists");
  EXPECT_EQ(testing::ReadFile(dir_ / "out/keep"), "mine");
}

TEST_F(PackTest, APartialDirLeftByACrashIsReplaced) {
  testing::WriteFile(dir_ / "release/new", "new");
  ASSERT_TRUE(Pack(dir_ / "release", dir_ / "r.tar.zst").ok());
  testing::WriteFile(dir_ / "out.partial/stale", "old");
  ASSERT_TRUE(Unpack(dir_ / "r.tar.zst", dir_ / "out").ok());
  EXPECT_EQ(Listing(dir_ / "out"), Listing(dir_ / "release"));
}

TEST_F(PackTest, PackRefusesSpecialFilesAndAnArchiveInsideTheTree) {
  fs::create_directories(dir_ / "release");
  ASSERT_EQ(mkfifo((dir_ / "release/pipe").c_str(), 0644), 0);
  Result<Packed> fifo = Pack(dir_ / "release", dir_ / "r.tar.zst");
  EXPECT_EQ(fifo.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(fifo.error(), "pack " + (dir_ / "release").string() +
                              ": pipe: not a regular file, directory or symlink");
  EXPECT_FALSE(fs::exists(dir_ / "r.tar.zst"));

  fs::remove(dir_ / "release/pipe");
  Result<Packed> inside = Pack(dir_ / "release", dir_ / "release/sub/r.tar.zst");
  EXPECT_EQ(inside.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(inside.error(), "pack " + (dir_ / "release").string() + ": the archive " +
                                (dir_ / "release/sub/r.tar.zst").string() +
                                " would be inside the directory it packs");

  Result<Packed> missing = Pack(dir_ / "nope", dir_ / "r.tar.zst");
  EXPECT_EQ(missing.code(), StatusCode::kNotFound);
}

TEST(HashFile, GivesTheDigestAndSizeOrNotFound) {
  testing::TempDir dir;
  testing::WriteFile(dir / "f", "abc");
  Result<Packed> got = HashFile(dir / "f");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(got->size, 3);
  EXPECT_EQ(HashFile(dir / "nope").code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace anthill::artifact
