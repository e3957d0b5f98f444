#include "artifact/digest.h"

#include <gtest/gtest.h>

#include <set>

#include "testing/testing.h"

namespace anthill::artifact {
namespace {

namespace fs = std::filesystem;

TEST(Sha256, MatchesTheStandardTestVectors) {
  Sha256 empty;
  EXPECT_EQ(empty.HexDigest(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 abc;
  abc.Update("a", 1);
  abc.Update("bc", 2);  // in pieces, as a stream gives it
  EXPECT_EQ(abc.HexDigest(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(IsSha256Hex, WantsSixtyFourLowercaseHexDigits) {
  EXPECT_TRUE(IsSha256Hex(std::string(64, 'a')));
  EXPECT_FALSE(IsSha256Hex(std::string(63, 'a')));
  EXPECT_FALSE(IsSha256Hex(std::string(64, 'A')));
  EXPECT_FALSE(IsSha256Hex(std::string(64, 'g')));
}

TEST(TempSibling, IsHiddenBesideThePathAndNeverTheSameTwice) {
  std::set<fs::path> seen;
  for (int i = 0; i < 3; ++i) {
    fs::path t = TempSibling("/srv/store/keys/app.tar.zst");
    EXPECT_EQ(t.parent_path(), "/srv/store/keys");
    EXPECT_EQ(t.filename().string().rfind(".app.tar.zst.tmp-", 0), 0u) << t;
    EXPECT_TRUE(seen.insert(t).second) << t;
  }
}

TEST(CopyHashing, CopiesAndHashesInOnePass) {
  testing::TempDir dir;
  testing::WriteFile(dir / "from", "abc");
  Result<Packed> got = CopyHashing(dir / "from", dir / "to");
  ASSERT_TRUE(got.ok()) << got.error();
  EXPECT_EQ(got->sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(got->size, 3);
  EXPECT_EQ(testing::ReadFile(dir / "to"), "abc");
}

TEST(CopyHashing, AMissingSourceIsNotFoundAndMakesNothing) {
  testing::TempDir dir;
  Result<Packed> got = CopyHashing(dir / "nope", dir / "to");
  EXPECT_EQ(got.code(), StatusCode::kNotFound);
  EXPECT_EQ(got.error(), "cannot open " + (dir / "nope").string() + ": No such file or directory");
  EXPECT_FALSE(fs::exists(dir / "to"));
}

TEST(CopyHashing, NeverOverwritesAnExistingFile) {
  testing::TempDir dir;
  testing::WriteFile(dir / "from", "new");
  testing::WriteFile(dir / "to", "old");
  EXPECT_FALSE(CopyHashing(dir / "from", dir / "to").ok());
  EXPECT_EQ(testing::ReadFile(dir / "to"), "old");
}

TEST(Verify, SaysWhichOfSizeOrChecksumDiffers) {
  const Packed got{std::string(64, 'a'), 10};
  EXPECT_TRUE(Verify("x", got, std::string(64, 'a'), 10).ok());
  Status size = Verify("artifact a/b.tar.zst", got, std::string(64, 'a'), 11);
  EXPECT_EQ(size.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(size.message(), "size mismatch for artifact a/b.tar.zst: expected 11 bytes, got 10");
  Status sum = Verify("artifact a/b.tar.zst", got, std::string(64, 'b'), 10);
  EXPECT_EQ(sum.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(sum.message(), "checksum mismatch for artifact a/b.tar.zst: expected sha256 " +
                               std::string(64, 'b') + ", got " + std::string(64, 'a'));
}

}  // namespace
}  // namespace anthill::artifact
