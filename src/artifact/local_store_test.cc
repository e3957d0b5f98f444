#include "artifact/local_store.h"

#include <gtest/gtest.h>

#include <fstream>

#include "artifact/await_test.h"
#include "artifact/pack.h"
#include "testing/testing.h"

namespace anthill::artifact {
namespace {

namespace fs = std::filesystem;

class LocalStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = LocalArtifactStore::Open(dir_ / "store");
    ASSERT_TRUE(opened.ok()) << opened.error();
    store_ = std::move(*opened);
  }

  // A file with `text` in it and the ref that describes it under `key`.
  struct Made {
    ArtifactRef ref;
    fs::path file;
  };
  Made Artifact(const std::string& key, const std::string& text) {
    const fs::path file = dir_ / ("src-" + std::to_string(++files_));
    testing::WriteFile(file, text);
    Result<Packed> packed = HashFile(file);
    EXPECT_TRUE(packed.ok()) << packed.error();
    return Made{ArtifactRef{key, packed->sha256, packed->size}, file};
  }

  Status Put(const ArtifactRef& ref, const fs::path& file) { return Await(store_->Put(ref, file)); }
  Status Get(const ArtifactRef& ref, const fs::path& dest) { return Await(store_->Get(ref, dest)); }
  Status Remove(const ArtifactRef& ref) { return Await(store_->Remove(ref)); }

  size_t Blobs() {
    return std::distance(fs::directory_iterator(dir_ / "store/sha256"), fs::directory_iterator());
  }
  size_t FilesIn(const fs::path& d) {
    return std::distance(fs::directory_iterator(d), fs::directory_iterator());
  }

  testing::TempDir dir_;
  std::unique_ptr<LocalArtifactStore> store_;
  int files_ = 0;
};

TEST_F(LocalStoreTest, PutThenGetGivesTheSameBytes) {
  auto [ref, ref_file] = Artifact("hello/v1.tar.zst", "release one");
  Status put = Put(ref, ref_file);
  ASSERT_TRUE(put.ok()) << put.message();
  EXPECT_EQ(testing::ReadFile(dir_ / "store/keys/hello/v1.tar.zst"),
            ref.sha256 + " " + std::to_string(ref.size) + "\n");
  EXPECT_EQ(testing::ReadFile(store_->BlobPath(ref)), "release one");
  EXPECT_EQ(fs::status(store_->BlobPath(ref)).permissions(), fs::perms(0444));

  Status got = Get(ref, dir_ / "fetched.tar.zst");
  ASSERT_TRUE(got.ok()) << got.message();
  EXPECT_EQ(testing::ReadFile(dir_ / "fetched.tar.zst"), "release one");
  std::optional<ArtifactRef> found = store_->Find("hello/v1.tar.zst");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->sha256, ref.sha256);
  EXPECT_EQ(found->size, ref.size);
  EXPECT_EQ(FilesIn(dir_ / "store/tmp"), 0u);
  EXPECT_EQ(store_->Describe(), "local store " + (dir_ / "store").string());
}

TEST_F(LocalStoreTest, AFileThatIsNotWhatTheRefSaysIsRefusedAndNothingIsStored) {
  auto [ref, ref_file] = Artifact("hello/v1.tar.zst", "release one");
  testing::WriteFile(dir_ / "other", "release 1ne");  // same size, other bytes
  Status put = Put(ref, dir_ / "other");
  EXPECT_EQ(put.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(put.message().rfind("checksum mismatch for artifact hello/v1.tar.zst from ", 0), 0u)
      << put.message();
  EXPECT_FALSE(store_->Find(ref.key).has_value());
  EXPECT_EQ(Blobs(), 0u);
  EXPECT_EQ(FilesIn(dir_ / "store/tmp"), 0u);

  ArtifactRef longer = ref;
  longer.size += 1;
  EXPECT_EQ(Put(longer, ref_file).message().rfind("size mismatch", 0), 0u);
}

TEST_F(LocalStoreTest, KeysWithTheSameBytesShareOneBlobUntilTheLastIsRemoved) {
  auto [a, a_file] = Artifact("hello/v1.tar.zst", "same bytes");
  auto [b, b_file] = Artifact("world/v7.tar.gz", "same bytes");
  ASSERT_TRUE(Put(a, a_file).ok());
  ASSERT_TRUE(Put(b, b_file).ok());
  EXPECT_EQ(Blobs(), 1u);

  ASSERT_TRUE(Remove(a).ok());
  EXPECT_FALSE(store_->Find(a.key).has_value());
  EXPECT_FALSE(fs::exists(dir_ / "store/keys/hello")) << "an empty project dir stays behind";
  EXPECT_EQ(Blobs(), 1u);
  ASSERT_TRUE(Get(b, dir_ / "b.tar.gz").ok());

  ASSERT_TRUE(Remove(b).ok());
  EXPECT_EQ(Blobs(), 0u);
  EXPECT_TRUE(Remove(b).ok()) << "removing what is not there is fine";
}

TEST_F(LocalStoreTest, RemoveNeedsOnlyTheKeyAndLeavesOtherKeysAndTheirBytes) {
  // A prune knows the key from the record, not always the digest: Remove
  // goes by the key file, whatever digest the ref carries.
  auto [old, old_file] = Artifact("hello/v1.tar.zst", "old build");
  auto [kept, kept_file] = Artifact("hello/v2.tar.zst", "kept build");
  ASSERT_TRUE(Put(old, old_file).ok());
  ASSERT_TRUE(Put(kept, kept_file).ok());
  ASSERT_EQ(Blobs(), 2u);

  Status removed = Remove(ArtifactRef{"hello/v1.tar.zst", "", 0});
  ASSERT_TRUE(removed.ok()) << removed.message();
  EXPECT_FALSE(store_->Find(old.key).has_value());
  EXPECT_FALSE(fs::exists(store_->BlobPath(old)));
  EXPECT_TRUE(fs::exists(dir_ / "store/keys/hello")) << "v2 is still in it";
  EXPECT_EQ(Blobs(), 1u);
  ASSERT_TRUE(Get(kept, dir_ / "kept.tar.zst").ok());
  EXPECT_EQ(testing::ReadFile(dir_ / "kept.tar.zst"), "kept build");
}

TEST_F(LocalStoreTest, ABlobNoKeyNamesIsWhatAnInterruptedRemoveLeaves) {
  // Remove unlinks the key file first and the blob after it: stopped in
  // between, the store holds bytes nobody names, never a key without
  // bytes. Such a blob does not get in the way: the same bytes put again
  // are named by the new key, and removing that key takes them.
  auto [ref, ref_file] = Artifact("hello/v1.tar.zst", "release one");
  ASSERT_TRUE(Put(ref, ref_file).ok());
  fs::remove(dir_ / "store/keys/hello/v1.tar.zst");  // the first half of a Remove
  EXPECT_FALSE(store_->Find(ref.key).has_value());
  EXPECT_EQ(Blobs(), 1u);

  ASSERT_TRUE(Put(ref, ref_file).ok());
  ASSERT_TRUE(Get(ref, dir_ / "back.tar.zst").ok());
  ASSERT_TRUE(Remove(ref).ok());
  EXPECT_EQ(Blobs(), 0u);
}

TEST_F(LocalStoreTest, PuttingAKeyAgainWithOtherBytesReplacesItAndDropsTheOldBytes) {
  auto [first, first_file] = Artifact("hello/v1.tar.zst", "first build");
  ASSERT_TRUE(Put(first, first_file).ok());
  ASSERT_TRUE(Put(first, first_file).ok()) << "the same again is fine";
  auto [rebuilt, rebuilt_file] = Artifact("hello/v1.tar.zst", "other build");
  ASSERT_TRUE(Put(rebuilt, rebuilt_file).ok());
  EXPECT_EQ(store_->Find(first.key)->sha256, rebuilt.sha256);
  EXPECT_EQ(Blobs(), 1u);
  EXPECT_FALSE(fs::exists(store_->BlobPath(first)));

  // The record still holding the first build's digest is told, not given
  // other bytes.
  Status old = Get(first, dir_ / "old.tar.zst");
  EXPECT_EQ(old.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(old.message().rfind("checksum mismatch", 0), 0u) << old.message();
  EXPECT_FALSE(fs::exists(dir_ / "old.tar.zst"));
}

TEST_F(LocalStoreTest, GetOfAMissingKeyIsNotFound) {
  auto [ref, ref_file] = Artifact("hello/v9.tar.zst", "x");
  Status got = Get(ref, dir_ / "out");
  EXPECT_EQ(got.code(), StatusCode::kNotFound);
  EXPECT_EQ(got.message(),
            "artifact hello/v9.tar.zst not found in local store " + (dir_ / "store").string());
  EXPECT_FALSE(fs::exists(dir_ / "out"));
}

TEST_F(LocalStoreTest, ATamperedBlobIsRefusedAndLeavesNothingAtDest) {
  auto [ref, ref_file] = Artifact("hello/v1.tar.zst", "the real release");
  ASSERT_TRUE(Put(ref, ref_file).ok());
  fs::permissions(store_->BlobPath(ref), fs::perms(0644));
  {
    std::ofstream f(store_->BlobPath(ref), std::ios::in | std::ios::out | std::ios::binary);
    f.write("THE", 3);
  }
  fs::create_directories(dir_ / "dest");
  Status got = Get(ref, dir_ / "dest/r.tar.zst");
  EXPECT_EQ(got.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(got.message(), "checksum mismatch for artifact hello/v1.tar.zst: expected sha256 " +
                               ref.sha256 + ", got " + HashFile(store_->BlobPath(ref))->sha256);
  EXPECT_EQ(FilesIn(dir_ / "dest"), 0u) << "no file, and no temporary one either";
}

TEST_F(LocalStoreTest, AdoptMovesAnUploadIntoTheStore) {
  const fs::path upload = store_->TempDir() / "upload-1";
  testing::WriteFile(upload, "uploaded bytes");
  const std::string sha = HashFile(upload)->sha256;
  Result<ArtifactRef> adopted = store_->Adopt("hello/v2.tar.zst", upload, sha);
  ASSERT_TRUE(adopted.ok()) << adopted.error();
  EXPECT_EQ(adopted->key, "hello/v2.tar.zst");
  EXPECT_EQ(adopted->sha256, sha);
  EXPECT_EQ(adopted->size, 14);
  EXPECT_FALSE(fs::exists(upload));
  EXPECT_EQ(testing::ReadFile(store_->BlobPath(*adopted)), "uploaded bytes");
  EXPECT_EQ(store_->Find("hello/v2.tar.zst")->sha256, sha);
  ASSERT_TRUE(Get(*adopted, dir_ / "back").ok());

  // Without an expected digest, whatever came is taken.
  testing::WriteFile(upload, "more");
  EXPECT_TRUE(store_->Adopt("hello/v3.tar.zst", upload, std::nullopt).ok());
}

TEST_F(LocalStoreTest, AdoptOfAnUploadWithAnotherDigestRemovesIt) {
  const fs::path upload = store_->TempDir() / "upload-1";
  testing::WriteFile(upload, "uploaded bytes");
  Result<ArtifactRef> adopted = store_->Adopt("hello/v2.tar.zst", upload, std::string(64, '0'));
  EXPECT_EQ(adopted.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(adopted.error(),
            "checksum mismatch for artifact hello/v2.tar.zst: expected sha256 " +
                std::string(64, '0') + ", got " +
                "b467a58745eb669cb9b2ac392cdc6871edb391065b2c3d652ffe8593500dca5b");
  EXPECT_FALSE(fs::exists(upload));
  EXPECT_FALSE(store_->Find("hello/v2.tar.zst").has_value());
  EXPECT_EQ(Blobs(), 0u);
}

TEST_F(LocalStoreTest, KeysThatCouldEscapeTheStoreAreRefused) {
  auto [ref, ref_file] = Artifact("hello/v1.tar.zst", "x");
  ref.key = "../escape.tar.zst";
  EXPECT_EQ(Put(ref, ref_file).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Get(ref, dir_ / "out").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Remove(ref).code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(store_->Find("../escape.tar.zst").has_value());
  const fs::path upload = store_->TempDir() / "u";
  testing::WriteFile(upload, "x");
  EXPECT_EQ(store_->Adopt("hello/../../x.tar.zst", upload, std::nullopt).code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace anthill::artifact
