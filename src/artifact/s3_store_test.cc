#include "artifact/s3_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <random>

#include "artifact/await_test.h"
#include "artifact/pack.h"
#include "testing/s3rver.h"
#include "testing/testing.h"

namespace anthill::artifact {
namespace {

namespace fs = std::filesystem;

TEST(ParseS3, ReadsBucketAndPrefixAndFillsTheDefaults) {
  Result<S3Location> loc = ParseS3("s3://releases/anthill/prod/", "", "");
  ASSERT_TRUE(loc.ok()) << loc.error();
  EXPECT_EQ(loc->bucket, "releases");
  EXPECT_EQ(loc->prefix, "anthill/prod");
  EXPECT_EQ(loc->region, "us-east-1");
  EXPECT_EQ(loc->endpoint, "https://s3.us-east-1.amazonaws.com");

  loc = ParseS3("s3://my.bucket-1", "http://127.0.0.1:9000/", "eu-west-1");
  ASSERT_TRUE(loc.ok()) << loc.error();
  EXPECT_EQ(loc->bucket, "my.bucket-1");
  EXPECT_EQ(loc->prefix, "");
  EXPECT_EQ(loc->region, "eu-west-1");
  EXPECT_EQ(loc->endpoint, "http://127.0.0.1:9000");
}

TEST(ParseS3, RefusesWhatS3WouldNotTakeSayingWhy) {
  struct Case {
    const char* url;
    const char* endpoint;
    const char* error;
  };
  const Case cases[] = {
      {"https://bucket/x", "",
       "artifact store URL 'https://bucket/x': must be s3://<bucket>[/<prefix>]"},
      {"s3://", "", "artifact store URL 's3://': bucket '' must be 3 to 63 characters"},
      {"s3://ab", "", "artifact store URL 's3://ab': bucket 'ab' must be 3 to 63 characters"},
      {"s3://My_Bucket", "",
       "artifact store URL 's3://My_Bucket': bucket 'My_Bucket' may hold only a-z, 0-9, '.' and "
       "'-'"},
      {"s3://-bucket", "",
       "artifact store URL 's3://-bucket': bucket '-bucket' must begin and end with a letter or "
       "digit"},
      {"s3://bucket//x", "",
       "artifact store URL 's3://bucket//x': prefix '/x' has an empty, '.' or '..' segment"},
      {"s3://bucket/a/../b", "",
       "artifact store URL 's3://bucket/a/../b': prefix 'a/../b' has an empty, '.' or '..' "
       "segment"},
      {"s3://bucket", "ftp://x", "S3 endpoint 'ftp://x' must start with http:// or https://"},
  };
  for (const Case& c : cases) {
    const std::string endpoint = c.endpoint;
    Result<S3Location> loc = ParseS3(c.url, endpoint, "");
    EXPECT_EQ(loc.code(), StatusCode::kInvalidArgument) << c.url;
    EXPECT_EQ(loc.error(), c.error);
  }
}

TEST(S3ArtifactStore, ObjectUrlsArePathStyleAndPercentEncoded) {
  Result<S3Location> loc = ParseS3("s3://bucket/team a/ä", "http://127.0.0.1:1", "");
  ASSERT_TRUE(loc.ok()) << loc.error();
  S3ArtifactStore store(*loc, {"id", "secret", std::nullopt});
  EXPECT_EQ(store.ObjectUrl("hello/v1.tar.zst"),
            "http://127.0.0.1:1/bucket/team%20a/%C3%A4/hello/v1.tar.zst");
  EXPECT_EQ(store.Describe(), "s3://bucket/team a/ä");
}

// Sets (or, with nullptr, unsets) an environment variable for one test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = getenv(name)) old_ = old;
    value ? setenv(name, value, 1) : unsetenv(name);
  }
  ~ScopedEnv() { old_ ? setenv(name_, old_->c_str(), 1) : unsetenv(name_); }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(S3ArtifactStore, CredentialsComeFromTheEnvironmentAndMissingOnesAreNamed) {
  {
    ScopedEnv id("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE");
    ScopedEnv secret("AWS_SECRET_ACCESS_KEY", "s3cr3t");
    ScopedEnv token("AWS_SESSION_TOKEN", nullptr);
    auto creds = S3ArtifactStore::CredentialsFromEnvironment();
    ASSERT_TRUE(creds.ok()) << creds.error();
    EXPECT_EQ(creds->access_key_id, "AKIDEXAMPLE");
    EXPECT_EQ(creds->secret_access_key, "s3cr3t");
    EXPECT_FALSE(creds->session_token.has_value());
    ScopedEnv session("AWS_SESSION_TOKEN", "tok");
    EXPECT_EQ(S3ArtifactStore::CredentialsFromEnvironment()->session_token, "tok");
  }
  {
    ScopedEnv id("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE");
    ScopedEnv secret("AWS_SECRET_ACCESS_KEY", "");
    auto creds = S3ArtifactStore::CredentialsFromEnvironment();
    EXPECT_EQ(creds.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(creds.error(),
              "AWS_SECRET_ACCESS_KEY is not set (the S3 artifact store needs AWS_ACCESS_KEY_ID and "
              "AWS_SECRET_ACCESS_KEY; AWS_SESSION_TOKEN is optional)");
  }
  {
    ScopedEnv id("AWS_ACCESS_KEY_ID", nullptr);
    ScopedEnv secret("AWS_SECRET_ACCESS_KEY", nullptr);
    EXPECT_EQ(S3ArtifactStore::CredentialsFromEnvironment().error().rfind(
                  "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set", 0),
              0u);
  }
}

TEST(S3ArtifactStore, AServerThatIsNotThereIsUnavailable) {
  const std::string endpoint = "http://127.0.0.1:" + std::to_string(testing::FreePort());
  Result<S3Location> loc = ParseS3("s3://anthill/x", endpoint, "");
  ASSERT_TRUE(loc.ok());
  S3ArtifactStore store(*loc, {"id", "secret", std::nullopt});
  testing::TempDir dir;
  Status got = Await(store.Get({"hello/v1.tar.zst", std::string(64, 'a'), 1}, dir / "out"));
  EXPECT_EQ(got.code(), StatusCode::kUnavailable) << got.message();
  EXPECT_EQ(got.message().rfind("S3 GET " + endpoint + "/anthill/x/hello/v1.tar.zst: ", 0), 0u)
      << got.message();
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

// Against a real S3 server (s3rver), one for the whole suite: it takes a
// second to start, and each test uses keys of its own. Started by the
// first test's SetUp, not SetUpTestSuite, so that a server that cannot
// start fails that test (gtest would mark them all skipped).
class S3StoreTest : public ::testing::Test {
 protected:
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    if (server_ == nullptr) server_ = new testing::S3rver({"anthill"});
    ASSERT_TRUE(server_->ok()) << server_->error();
    store_ = Store(testing::S3rver::kAccessKeyId, testing::S3rver::kSecretAccessKey);
  }

  std::unique_ptr<S3ArtifactStore> Store(const std::string& id, const std::string& secret) {
    Result<S3Location> loc = ParseS3("s3://anthill/releases", server_->Endpoint(), "eu-west-1");
    EXPECT_TRUE(loc.ok()) << loc.error();
    return std::make_unique<S3ArtifactStore>(
        *loc, S3ArtifactStore::Credentials{id, secret, std::nullopt});
  }

  // `size` pseudo-random bytes (the same for the same seed) in a file, and
  // the ref describing them under `key`.
  ArtifactRef Artifact(const std::string& key, size_t size, unsigned seed, fs::path* file) {
    *file = dir_ / ("src-" + std::to_string(seed));
    std::mt19937 random(seed);
    std::string bytes(size, '\0');
    for (char& c : bytes) c = static_cast<char>(random());
    testing::WriteFile(*file, bytes);
    Result<Packed> packed = HashFile(*file);
    EXPECT_TRUE(packed.ok()) << packed.error();
    return ArtifactRef{key, packed->sha256, packed->size};
  }

  static testing::S3rver* server_;
  testing::TempDir dir_;
  std::unique_ptr<S3ArtifactStore> store_;
};

testing::S3rver* S3StoreTest::server_ = nullptr;

TEST_F(S3StoreTest, PutThenGetRoundTripsAFewMegabytes) {
  fs::path file;
  ArtifactRef ref = Artifact("hello/v1.tar.zst", 3 << 20, 1, &file);
  Status put = Await(store_->Put(ref, file));
  ASSERT_TRUE(put.ok()) << put.message();
  // Where s3rver keeps it, with the digest sent as metadata.
  EXPECT_EQ(fs::file_size(server_->ObjectFile("anthill", "releases/hello/v1.tar.zst")), 3u << 20);
  EXPECT_NE(server_->ObjectMetadata("anthill", "releases/hello/v1.tar.zst").find(ref.sha256),
            std::string::npos);

  Status got = Await(store_->Get(ref, dir_ / "back.tar.zst"));
  ASSERT_TRUE(got.ok()) << got.message();
  EXPECT_EQ(HashFile(dir_ / "back.tar.zst")->sha256, ref.sha256);
  EXPECT_EQ(store_->Describe(), "s3://anthill/releases");
}

TEST_F(S3StoreTest, PutRefusesAFileThatIsNotWhatTheRefSaysAndSendsNothing) {
  fs::path file;
  ArtifactRef ref = Artifact("hello/v2.tar.zst", 1000, 2, &file);
  ArtifactRef wrong = ref;
  wrong.sha256 = std::string(64, 'f');
  Status put = Await(store_->Put(wrong, file));
  EXPECT_EQ(put.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(put.message(), "checksum mismatch for artifact hello/v2.tar.zst from " + file.string() +
                               ": expected sha256 " + wrong.sha256 + ", got " + ref.sha256);
  EXPECT_FALSE(fs::exists(server_->ObjectFile("anthill", "releases/hello/v2.tar.zst")));
}

TEST_F(S3StoreTest, ATamperedObjectIsRefusedAndLeavesNoFile) {
  fs::path file;
  ArtifactRef ref = Artifact("hello/v3.tar.zst", 100000, 3, &file);
  ASSERT_TRUE(Await(store_->Put(ref, file)).ok());
  // Someone with write access to the bucket puts other bytes of the same
  // size under the key: a plain signed PUT.
  fs::path other;
  ArtifactRef swapped = Artifact("hello/v3.tar.zst", 100000, 33, &other);
  ASSERT_TRUE(Await(store_->Put(swapped, other)).ok());

  fs::create_directories(dir_ / "dest");
  Status got = Await(store_->Get(ref, dir_ / "dest/r.tar.zst"));
  EXPECT_EQ(got.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(got.message(),
            "checksum mismatch for artifact hello/v3.tar.zst from "
            "s3://anthill/releases: expected sha256 " +
                ref.sha256 + ", got " + swapped.sha256);
  EXPECT_TRUE(fs::is_empty(dir_ / "dest")) << "no file, and no temporary one either";

  // And bytes cut short on the server's disk.
  fs::resize_file(server_->ObjectFile("anthill", "releases/hello/v3.tar.zst"), 500);
  got = Await(store_->Get(swapped, dir_ / "dest/r.tar.zst"));
  EXPECT_EQ(got.code(), StatusCode::kInvalidArgument) << got.message();
  EXPECT_EQ(got.message().rfind("size mismatch for artifact hello/v3.tar.zst", 0), 0u)
      << got.message();
  EXPECT_TRUE(fs::is_empty(dir_ / "dest"));
}

TEST_F(S3StoreTest, AMissingKeyIsNotFound) {
  Status got = Await(store_->Get({"hello/none.tar.zst", std::string(64, 'a'), 1}, dir_ / "out"));
  EXPECT_EQ(got.code(), StatusCode::kNotFound) << got.message();
  EXPECT_EQ(
      got.message().rfind(
          "S3 GET " + server_->Endpoint() + "/anthill/releases/hello/none.tar.zst: HTTP 404: ", 0),
      0u)
      << got.message();
  EXPECT_NE(got.message().find("NoSuchKey"), std::string::npos) << got.message();
  EXPECT_FALSE(fs::exists(dir_ / "out"));
}

TEST_F(S3StoreTest, RemoveDeletesTheObjectAndAMissingOneIsFine) {
  fs::path file;
  ArtifactRef ref = Artifact("hello/v4.tar.zst", 1000, 4, &file);
  ASSERT_TRUE(Await(store_->Put(ref, file)).ok());
  Status removed = Await(store_->Remove(ref));
  ASSERT_TRUE(removed.ok()) << removed.message();
  EXPECT_EQ(Await(store_->Get(ref, dir_ / "out")).code(), StatusCode::kNotFound);
  removed = Await(store_->Remove(ref));
  EXPECT_TRUE(removed.ok()) << removed.message();
}

TEST_F(S3StoreTest, AnUnknownAccessKeyIsUnauthenticated) {
  fs::path file;
  ArtifactRef ref = Artifact("hello/v5.tar.zst", 1000, 5, &file);
  auto stranger = Store("AKIDNOBODY", testing::S3rver::kSecretAccessKey);
  Status put = Await(stranger->Put(ref, file));
  EXPECT_EQ(put.code(), StatusCode::kUnauthenticated) << put.message();
  EXPECT_NE(put.message().find("HTTP 403: "), std::string::npos) << put.message();
  EXPECT_NE(put.message().find("InvalidAccessKeyId"), std::string::npos) << put.message();
  EXPECT_EQ(Await(stranger->Get(ref, dir_ / "out")).code(), StatusCode::kUnauthenticated);
  EXPECT_FALSE(fs::exists(dir_ / "out"));
}

TEST_F(S3StoreTest, AWrongSecretPassesBecauseS3rverDoesNotCheckSignatures) {
  // Recorded so that nobody reads the test above as proof that a wrong
  // secret is caught: s3rver 3.7.1 never computes a SigV4 signature
  // ("Signature version 4 calculation is unimplemented"). Real S3 answers
  // 403 SignatureDoesNotMatch, which maps to kUnauthenticated as above. If
  // s3rver starts checking, this fails and should become that test.
  fs::path file;
  ArtifactRef ref = Artifact("hello/v6.tar.zst", 1000, 6, &file);
  auto wrong_secret = Store(testing::S3rver::kAccessKeyId, "not-the-secret");
  EXPECT_TRUE(Await(wrong_secret->Put(ref, file)).ok());
}

}  // namespace
}  // namespace anthill::artifact
