// The artifact routes over real HTTP on loopback: the real Server and API in
// front of a real LocalArtifactStore in a temp dir, asked with the CLI's
// blocking client (http/client.h) or raw bytes where a request must be
// shaped by hand (HEAD, a chunked body, Expect: 100-continue).
#include "http/artifacts.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <random>
#include <thread>

#include "artifact/digest.h"
#include "artifact/local_store.h"
#include "http/api_fixture_test.h"
#include "http/client.h"
#include "http/server.h"
#include "http/socket_test_util.h"

namespace anthill::http {
namespace {

std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 random(seed);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(random());
  return out;
}

std::string Sha256Of(const std::string& bytes) {
  artifact::Sha256 sha;
  sha.Update(bytes.data(), bytes.size());
  return sha.HexDigest();
}

size_t FilesIn(const std::filesystem::path& dir) {
  size_t n = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) n += e.is_regular_file();
  return n;
}

// An orchestrator: the API with an artifact store, served on its own thread.
class ArtifactRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::OpenSqlite(dir_ / "anthill.db");
    ASSERT_TRUE(s.ok()) << s.error();
    store_ = std::move(s.value());
    auto a = artifact::LocalArtifactStore::Open(dir_ / "artifacts");
    ASSERT_TRUE(a.ok()) << a.error();
    artifacts_ = std::move(a.value());
  }
  void TearDown() override {
    if (!loop_.joinable()) return;
    boost::asio::post(io_, [this] { server_->Stop(); });
    loop_.join();
  }
  void Start(const std::string& token = "", ServerLimits limits = {}, bool with_store = true) {
    ApiContext ctx{store_.get(), &projects_, dir_.path(), "m1", token, {}};
    ctx.record = &store_->async_record();
    if (with_store) ctx.artifacts = artifacts_.get();
    server_ = std::make_unique<Server>(io_, MakeApi(ctx), limits);
    ASSERT_TRUE(server_->Listen("127.0.0.1:0").ok());
    loop_ = std::thread([this] { io_.run(); });
  }
  std::string addr() const { return "127.0.0.1:" + std::to_string(server_->port()); }
  ClientResponse Ask(const std::string& method, const std::string& target,
                     const std::string& body = "", const std::string& token = "",
                     const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    auto r = Fetch(method, addr(), target, body, token, headers);
    EXPECT_TRUE(r.ok()) << r.error();
    return r.ok() ? *r : ClientResponse{};
  }
  // Sends raw bytes and returns all the server sends until it closes.
  std::string Exchange(const std::string& bytes) {
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket socket(io);
    boost::system::error_code ec;
    socket.connect({boost::asio::ip::make_address("127.0.0.1"), server_->port()}, ec);
    EXPECT_FALSE(ec) << ec.message();
    boost::asio::write(socket, boost::asio::buffer(bytes), ec);
    boost::asio::streambuf buf;
    return ReadUntil(socket, buf, "\x01 (never sent: read to the end)");
  }

  testing::TempDir dir_;
  std::unique_ptr<store::LocalStore> store_;
  std::unique_ptr<artifact::LocalArtifactStore> artifacts_;
  FakeProjects projects_;
  boost::asio::io_context io_;
  std::unique_ptr<Server> server_;
  std::thread loop_;
};

const std::string kKey = "hello/v1.tar.zst";
const std::string kPath = "/api/v1/artifacts/" + kKey;

TEST_F(ArtifactRoutesTest, UploadedThenServedWithETagRangesAndConditionalGets) {
  Start();
  const std::string bytes = RandomBytes(300 * 1000, 1);
  const std::string sha = Sha256Of(bytes);
  auto put = Ask("PUT", kPath, bytes, "", {{"X-Anthill-Sha256", sha}});
  EXPECT_EQ(put.status, 201) << put.body;
  EXPECT_EQ(put.body, "{\"key\":\"" + kKey + "\",\"sha256\":\"" + sha + "\",\"size\":300000}\n");
  ASSERT_TRUE(artifacts_->Find(kKey).has_value());
  EXPECT_EQ(FilesIn(artifacts_->TempDir()), 0u);

  const std::string etag = "\"" + sha + "\"";
  auto get = Ask("GET", kPath);
  EXPECT_EQ(get.status, 200);
  EXPECT_TRUE(get.body == bytes);
  EXPECT_EQ(get.headers["etag"], etag);
  EXPECT_EQ(get.headers["x-anthill-sha256"], sha);
  EXPECT_EQ(get.headers["accept-ranges"], "bytes");
  EXPECT_EQ(get.headers["content-length"], "300000");
  EXPECT_EQ(get.content_type, "application/zstd");

  auto same = Ask("GET", kPath, "", "", {{"If-None-Match", etag}});
  EXPECT_EQ(same.status, 304);
  EXPECT_EQ(same.body, "");
  EXPECT_EQ(same.headers["etag"], etag);
  auto changed = Ask("GET", kPath, "", "", {{"If-None-Match", "\"" + std::string(64, '0') + "\""}});
  EXPECT_EQ(changed.status, 200);

  struct Case {
    std::string range;
    int status;
    size_t offset, length;
    std::string content_range;
  } cases[] = {
      {"bytes=10-19", 206, 10, 10, "bytes 10-19/300000"},
      {"bytes=299990-", 206, 299990, 10, "bytes 299990-299999/300000"},
      {"bytes=-5", 206, 299995, 5, "bytes 299995-299999/300000"},
      {"bytes=299999-400000", 206, 299999, 1, "bytes 299999-299999/300000"},
      {"bytes=0-0,5-6", 200, 0, 300000, ""},  // more than one range: the whole file
      {"items=0-3", 200, 0, 300000, ""},
      {"bytes=300000-", 416, 0, 0, "bytes */300000"},
      {"bytes=-0", 416, 0, 0, "bytes */300000"},
  };
  for (const auto& c : cases) {
    auto r = Ask("GET", kPath, "", "", {{"Range", c.range}});
    EXPECT_EQ(r.status, c.status) << c.range << ": " << r.body;
    EXPECT_EQ(r.headers["content-range"], c.content_range) << c.range;
    if (c.status != 416) {
      EXPECT_TRUE(r.body == bytes.substr(c.offset, c.length)) << c.range;
    }
  }
  // If-Range names the version a part belongs to: another one gets it whole.
  auto resumed = Ask("GET", kPath, "", "", {{"Range", "bytes=100-"}, {"If-Range", etag}});
  EXPECT_EQ(resumed.status, 206);
  EXPECT_TRUE(resumed.body == bytes.substr(100));
  auto other = Ask("GET", kPath, "", "", {{"Range", "bytes=100-"}, {"If-Range", "\"x\""}});
  EXPECT_EQ(other.status, 200);
  EXPECT_EQ(other.body.size(), bytes.size());

  // HEAD: the head of the GET, and not a byte of the body.
  std::string head =
      Exchange("HEAD " + kPath + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << head;
  EXPECT_NE(head.find("Content-Length: 300000\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("ETag: " + etag + "\r\n"), std::string::npos) << head;
  EXPECT_EQ(head.substr(head.find("\r\n\r\n")), "\r\n\r\n") << "a body after the head";

  auto removed = Ask("DELETE", kPath);
  EXPECT_EQ(removed.status, 204) << removed.body;
  EXPECT_FALSE(artifacts_->Find(kKey).has_value());
  auto gone = Ask("GET", kPath);
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(gone.body, "{\"error\":\"no artifact '" + kKey + "'\"}\n");
  EXPECT_EQ(Ask("DELETE", kPath).status, 404);
}

TEST_F(ArtifactRoutesTest, EveryMethodNeedsTheTokenWhenOneIsSet) {
  Start("s3cret");
  const std::string bytes = RandomBytes(1000, 2);
  auto refused = Ask("PUT", kPath, bytes, "wrong");
  EXPECT_EQ(refused.status, 401) << refused.body;
  EXPECT_EQ(refused.headers["www-authenticate"], "Bearer");
  EXPECT_FALSE(artifacts_->Find(kKey).has_value());
  EXPECT_EQ(FilesIn(artifacts_->TempDir()), 0u);
  EXPECT_EQ(Ask("PUT", kPath, bytes, "s3cret").status, 201);
  EXPECT_EQ(Ask("GET", kPath).status, 401);
  EXPECT_EQ(Exchange("HEAD " + kPath + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                .rfind("HTTP/1.1 401", 0),
            0u);
  EXPECT_EQ(Ask("GET", kPath, "", "s3cret").status, 200);
  EXPECT_EQ(Ask("DELETE", kPath).status, 401);
  EXPECT_TRUE(artifacts_->Find(kKey).has_value());
  EXPECT_EQ(Ask("DELETE", kPath, "", "s3cret").status, 204);
}

// A refused upload costs nothing: with Expect: 100-continue the client
// sends no byte of the body, and the answer comes at once.
TEST_F(ArtifactRoutesTest, AnUploadRefusedBeforeItsBodyIsNeverRead) {
  Start("s3cret");
  std::string got = Exchange("PUT " + kPath +
                             " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000000\r\n"
                             "Expect: 100-continue\r\nAuthorization: Bearer wrong\r\n\r\n");
  EXPECT_EQ(got.rfind("HTTP/1.1 401 Unauthorized\r\n", 0), 0u) << got;
  EXPECT_EQ(got.find("100 Continue"), std::string::npos) << got;
  EXPECT_NE(got.find("Connection: close\r\n"), std::string::npos) << got;
  EXPECT_EQ(FilesIn(artifacts_->TempDir()), 0u);
}

TEST_F(ArtifactRoutesTest, KeysThatAreNotProjectSlashArchiveAre400) {
  Start();
  for (const std::string key : {"../x", "a/b/c", "a/b/c.tar.zst", "hello/notes.txt",
                                "%2e%2e/x.tar.zst", "hello/..", "hello", "hello/.tar.zst/"}) {
    for (const std::string method : {"GET", "PUT", "DELETE"}) {
      auto r = Ask(method, "/api/v1/artifacts/" + key, method == "PUT" ? "x" : "");
      EXPECT_EQ(r.status, 400) << method << " " << key << ": " << r.body;
      EXPECT_NE(r.body.find("bad artifact key"), std::string::npos) << r.body;
    }
  }
  EXPECT_EQ(FilesIn(dir_ / "artifacts"), 0u);
}

TEST_F(ArtifactRoutesTest, AChecksumThatDiffersIsRefusedAndNothingIsKept) {
  Start();
  const std::string bytes = RandomBytes(200 * 1000, 3);
  const std::string other = Sha256Of("something else");
  auto r = Ask("PUT", kPath, bytes, "", {{"X-Anthill-Sha256", other}});
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(r.body.rfind("{\"error\":\"checksum mismatch", 0), 0u) << r.body;
  EXPECT_FALSE(artifacts_->Find(kKey).has_value());
  EXPECT_EQ(FilesIn(dir_ / "artifacts"), 0u);
  auto malformed = Ask("PUT", kPath, bytes, "", {{"X-Anthill-Sha256", "abc"}});
  EXPECT_EQ(malformed.status, 400) << malformed.body;
  EXPECT_EQ(FilesIn(dir_ / "artifacts"), 0u);
}

TEST_F(ArtifactRoutesTest, ABodyOverTheUploadLimitIs413AndLeavesNoFile) {
  ServerLimits limits;
  limits.upload_limit = 64 * 1024;
  Start("", limits);
  // Known from Content-Length: refused before a byte is read.
  auto declared = Ask("PUT", kPath, RandomBytes(100 * 1024, 4));
  EXPECT_EQ(declared.status, 413);
  EXPECT_EQ(declared.body, "{\"error\":\"request body over 64 KiB\"}\n");
  // Chunked: found out while it is written to disk, which is then removed.
  const std::string chunk = RandomBytes(50 * 1024, 5);
  std::string got = Exchange("PUT " + kPath +
                             " HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n" +
                             "c800\r\n" + chunk + "\r\nc800\r\n" + chunk + "\r\n0\r\n\r\n");
  EXPECT_EQ(got.rfind("HTTP/1.1 413 Payload Too Large\r\n", 0), 0u) << got.substr(0, 300);
  EXPECT_NE(got.find("{\"error\":\"request body over 64 KiB\"}"), std::string::npos);
  EXPECT_EQ(FilesIn(dir_ / "artifacts"), 0u);
  // Under the limit it is taken.
  EXPECT_EQ(Ask("PUT", kPath, chunk).status, 201);
}

// The upload limit is the artifact routes' own: every other request keeps
// the 1 MiB bound on a body held in memory.
TEST_F(ArtifactRoutesTest, OtherRoutesKeepTheirOneMiBLimit) {
  Start();
  const std::string big = RandomBytes(3 << 20, 6);
  EXPECT_EQ(Ask("PUT", kPath, big).status, 201);
  auto deploy = Ask("POST", "/api/v1/projects/hello/deploy", std::string((1 << 20) + 1, ' '));
  EXPECT_EQ(deploy.status, 413);
  EXPECT_EQ(deploy.body, "{\"error\":\"request body over 1 MiB\"}\n");
  // PUT elsewhere is no upload either.
  EXPECT_EQ(Ask("PUT", "/api/v1/projects", std::string((1 << 20) + 1, ' ')).status, 413);
  EXPECT_TRUE(projects_.calls.empty());
}

TEST_F(ArtifactRoutesTest, WithoutAStoreTheRoutesAre404) {
  Start("", {}, false);
  for (const std::string method : {"GET", "PUT", "DELETE"}) {
    auto r = Ask(method, kPath, method == "PUT" ? "x" : "");
    EXPECT_EQ(r.status, 404) << method;
    EXPECT_EQ(r.body, "{\"error\":\"this anthill keeps no artifacts\"}\n");
  }
}

TEST_F(ArtifactRoutesTest, TheRequestGuardStillApplies) {
  Start();
  auto rebound = Ask("GET", kPath, "", "", {{"Host", "evil.example"}});
  EXPECT_EQ(rebound.status, 421) << rebound.body;
  auto cross = Ask("PUT", kPath, "x", "", {{"Sec-Fetch-Site", "cross-site"}});
  EXPECT_EQ(cross.status, 403) << cross.body;
  auto origin = Ask("DELETE", kPath, "", "", {{"Origin", "http://evil.example"}});
  EXPECT_EQ(origin.status, 403) << origin.body;
  EXPECT_EQ(FilesIn(dir_ / "artifacts"), 0u);
}

TEST(ParseRange, OneByteRangeAgainstASize) {
  struct Case {
    std::string header;
    int64_t size;
    bool some, unsatisfiable;
    int64_t offset, length;
  } cases[] = {
      {"bytes=0-99", 1000, true, false, 0, 100},
      {"bytes=990-", 1000, true, false, 990, 10},
      {"bytes=-10", 1000, true, false, 990, 10},
      {"bytes=-5000", 1000, true, false, 0, 1000},
      {"bytes=900-5000", 1000, true, false, 900, 100},
      {" bytes=1-1 ", 1000, true, false, 1, 1},
      {"bytes=1000-", 1000, false, true, 0, 0},
      {"bytes=-0", 1000, false, true, 0, 0},
      {"bytes=0-", 0, false, true, 0, 0},
      {"bytes=5-1", 1000, false, false, 0, 0},
      {"bytes=a-b", 1000, false, false, 0, 0},
      {"bytes=0-1,3-4", 1000, false, false, 0, 0},
      {"bytes=", 1000, false, false, 0, 0},
      {"bytes=--1", 1000, false, false, 0, 0},
      {"lines=0-1", 1000, false, false, 0, 0},
  };
  for (const auto& c : cases) {
    bool unsatisfiable = true;
    auto r = ParseRange(c.header, c.size, &unsatisfiable);
    EXPECT_EQ(r.has_value(), c.some) << c.header;
    EXPECT_EQ(unsatisfiable, c.unsatisfiable) << c.header;
    if (r) {
      EXPECT_EQ(r->offset, c.offset) << c.header;
      EXPECT_EQ(r->length, c.length) << c.header;
    }
  }
}

}  // namespace
}  // namespace anthill::http
