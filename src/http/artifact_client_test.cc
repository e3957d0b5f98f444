// HttpArtifactStore against a real orchestrator on loopback (the Server and
// API over a LocalArtifactStore in a temp dir, on a thread of its own); the
// client's coroutines run on the test's own io_context, as a builder's would.
#include "http/artifact_client.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>

#include "artifact/digest.h"
#include "artifact/local_store.h"
#include "http/api_fixture_test.h"
#include "http/client.h"
#include "http/server.h"

namespace anthill::http {
namespace {

namespace asio = boost::asio;
using artifact::ArtifactRef;
using asio::ip::tcp;

// Writes `bytes` random bytes to `path`, a MiB at a time (a 64 MB file is
// never in memory), and returns its ref under `key`.
ArtifactRef RandomFile(const std::filesystem::path& path, const std::string& key, int64_t bytes,
                       uint64_t seed) {
  std::mt19937_64 random(seed);
  artifact::Sha256 sha;
  std::ofstream out(path, std::ios::binary);
  std::vector<uint64_t> block((1 << 20) / 8);
  for (int64_t left = bytes; left > 0;) {
    for (auto& w : block) w = random();
    const auto n = static_cast<size_t>(std::min<int64_t>(left, 1 << 20));
    out.write(reinterpret_cast<const char*>(block.data()), static_cast<std::streamsize>(n));
    sha.Update(block.data(), n);
    left -= static_cast<int64_t>(n);
  }
  return ArtifactRef{key, sha.HexDigest(), bytes};
}

std::string Sha256OfFile(const std::filesystem::path& path) {
  artifact::Sha256 sha;
  std::ifstream in(path, std::ios::binary);
  std::vector<char> chunk(1 << 16);
  while (in.read(chunk.data(), static_cast<std::streamsize>(chunk.size())) || in.gcount() > 0) {
    sha.Update(chunk.data(), static_cast<size_t>(in.gcount()));
  }
  return sha.HexDigest();
}

// Files in dir whose name starts with `prefix` (a download's temporaries
// are ".<dest name>.tmp-...").
size_t FilesNamed(const std::filesystem::path& dir, const std::string& prefix) {
  size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    n += e.path().filename().string().rfind(prefix, 0) == 0;
  }
  return n;
}

// The coroutine `a` run to its end on an io_context of the test's own.
template <typename T>
T Await(asio::awaitable<T> a) {
  asio::io_context io;
  std::optional<T> out;
  asio::co_spawn(io, std::move(a), [&](std::exception_ptr e, T v) {
    if (e) std::rethrow_exception(e);
    out = std::move(v);
  });
  io.run();
  EXPECT_TRUE(out.has_value()) << "the coroutine never finished";
  return out.value_or(T{});
}

class HttpArtifactStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::OpenSqlite(dir_ / "anthill.db");
    ASSERT_TRUE(s.ok()) << s.error();
    store_ = std::move(s.value());
    auto a = artifact::LocalArtifactStore::Open(dir_ / "artifacts");
    ASSERT_TRUE(a.ok()) << a.error();
    artifacts_ = std::move(a.value());
    std::filesystem::create_directories(dir_ / "work");
  }
  void TearDown() override {
    if (!loop_.joinable()) return;
    asio::post(io_, [this] { server_->Stop(); });
    loop_.join();
  }
  // The orchestrator, serving until the test ends.
  void Start(const std::string& token = "") {
    ApiContext ctx{store_.get(), &projects_, dir_.path(), "m1", token, {}};
    ctx.record = &store_->async_record();
    ctx.artifacts = artifacts_.get();
    server_ = std::make_unique<Server>(io_, MakeApi(ctx));
    ASSERT_TRUE(server_->Listen("127.0.0.1:0").ok());
    loop_ = std::thread([this] { io_.run(); });
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }
  std::unique_ptr<HttpArtifactStore> Client(const std::string& token = "", std::string base = "") {
    auto c = HttpArtifactStore::Open(base.empty() ? url() : base, token);
    EXPECT_TRUE(c.ok()) << c.error();
    return c.ok() ? std::move(c.value()) : nullptr;
  }
  std::filesystem::path work(const std::string& name) const { return dir_ / "work" / name; }

  testing::TempDir dir_;
  std::unique_ptr<store::LocalStore> store_;
  std::unique_ptr<artifact::LocalArtifactStore> artifacts_;
  FakeProjects projects_;
  asio::io_context io_;
  std::unique_ptr<Server> server_;
  std::thread loop_;
};

TEST_F(HttpArtifactStoreTest, UploadDownloadAndRemoveAFewMegabytes) {
  Start("s3cret");
  auto client = Client("s3cret");
  const ArtifactRef ref = RandomFile(work("v1.tar.zst"), "hello/v1.tar.zst", 5'000'003, 7);
  EXPECT_EQ(client->Describe(), "orchestrator at " + url());
  Status put = Await(client->Put(ref, work("v1.tar.zst")));
  ASSERT_TRUE(put.ok()) << put.message();
  auto stored = artifacts_->Find(ref.key);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->sha256, ref.sha256);
  EXPECT_EQ(stored->size, ref.size);
  // The same bytes again are fine.
  put = Await(client->Put(ref, work("v1.tar.zst")));
  EXPECT_TRUE(put.ok()) << put.message();

  Status got = Await(client->Get(ref, work("back.tar.zst")));
  ASSERT_TRUE(got.ok()) << got.message();
  EXPECT_EQ(std::filesystem::file_size(work("back.tar.zst")), 5'000'003u);
  EXPECT_EQ(Sha256OfFile(work("back.tar.zst")), ref.sha256);
  EXPECT_EQ(FilesNamed(dir_ / "work", ".back.tar.zst"), 0u);

  Status removed = Await(client->Remove(ref));
  EXPECT_TRUE(removed.ok()) << removed.message();
  EXPECT_FALSE(artifacts_->Find(ref.key).has_value());
  removed = Await(client->Remove(ref));
  EXPECT_TRUE(removed.ok()) << "removing what is not there is fine: " << removed.message();
  Status missing = Await(client->Get(ref, work("again.tar.zst")));
  EXPECT_EQ(missing.code(), StatusCode::kNotFound) << missing.message();
  EXPECT_FALSE(std::filesystem::exists(work("again.tar.zst")));
  EXPECT_EQ(FilesNamed(dir_ / "work", ".again"), 0u);
}

// Peak memory of this process (server and client both) in bytes.
int64_t PeakRss() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<int64_t>(u.ru_maxrss) * 1024;
}

// An archive of 64 MB goes up and comes back without being held in memory,
// while every other route keeps its 1 MiB bound on bodies.
TEST_F(HttpArtifactStoreTest, A64MegabyteArchiveIsStreamedNotHeld) {
  Start();
  auto client = Client();
  const ArtifactRef ref = RandomFile(work("big.tar.zst"), "hello/big.tar.zst", 64 << 20, 8);
  const int64_t before = PeakRss();
  Status put = Await(client->Put(ref, work("big.tar.zst")));
  ASSERT_TRUE(put.ok()) << put.message();
  Status got = Await(client->Get(ref, work("back.tar.zst")));
  ASSERT_TRUE(got.ok()) << got.message();
  [[maybe_unused]] const int64_t grown = PeakRss() - before;
#if !defined(__SANITIZE_ADDRESS__)  // ASan's shadow and quarantine make RSS meaningless
  EXPECT_LT(grown, 16 << 20) << "the peak grew by " << grown / (1 << 20) << " MiB";
#endif
  EXPECT_EQ(Sha256OfFile(work("back.tar.zst")), ref.sha256);
  auto deploy = Fetch("POST", "127.0.0.1:" + std::to_string(server_->port()),
                      "/api/v1/projects/hello/deploy", std::string((1 << 20) + 1, ' '));
  ASSERT_TRUE(deploy.ok()) << deploy.error();
  EXPECT_EQ(deploy->status, 413);
  EXPECT_EQ(server_->body_bytes_held(), 0u);
}

TEST_F(HttpArtifactStoreTest, ATamperedBlobFailsTheChecksumAndLeavesNoFile) {
  Start();
  auto client = Client();
  const ArtifactRef ref = RandomFile(work("v1.tar.zst"), "hello/v1.tar.zst", 300'000, 9);
  Status put = Await(client->Put(ref, work("v1.tar.zst")));
  ASSERT_TRUE(put.ok()) << put.message();
  // Bytes rotted (or were changed) on the orchestrator's disk; same size.
  const std::filesystem::path blob = artifacts_->BlobPath(*artifacts_->Find(ref.key));
  std::filesystem::permissions(blob, std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::add);
  {
    std::fstream f(blob, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(150'000);
    f.write("tampered", 8);
  }
  Status got = Await(client->Get(ref, work("dest.tar.zst")));
  EXPECT_EQ(got.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(got.message().rfind("checksum mismatch for hello/v1.tar.zst from the orchestrator at " +
                                    url() + ": expected sha256 " + ref.sha256 + ", got ",
                                0),
            0u)
      << got.message();
  EXPECT_FALSE(std::filesystem::exists(work("dest.tar.zst")));
  EXPECT_EQ(FilesNamed(dir_ / "work", ".dest"), 0u);
  // A ref whose size is not the orchestrator's is refused from the head.
  ArtifactRef longer = ref;
  longer.size += 1;
  got = Await(client->Get(longer, work("dest.tar.zst")));
  EXPECT_EQ(got.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(got.message().rfind("size mismatch for hello/v1.tar.zst", 0), 0u) << got.message();
  EXPECT_FALSE(std::filesystem::exists(work("dest.tar.zst")));
  EXPECT_EQ(FilesNamed(dir_ / "work", ".dest"), 0u);
}

TEST_F(HttpArtifactStoreTest, TheOrchestratorRefusesBytesThatAreNotTheRefs) {
  Start();
  auto client = Client();
  ArtifactRef ref = RandomFile(work("v1.tar.zst"), "hello/v1.tar.zst", 100'000, 10);
  ref.sha256 = std::string(64, 'a');
  Status put = Await(client->Put(ref, work("v1.tar.zst")));
  EXPECT_EQ(put.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(put.message().rfind("checksum mismatch", 0), 0u) << put.message();
  EXPECT_FALSE(artifacts_->Find(ref.key).has_value());
  // A size other than the file's is found before anything is sent.
  ref = RandomFile(work("v1.tar.zst"), "hello/v1.tar.zst", 100'000, 10);
  ref.size = 99'999;
  put = Await(client->Put(ref, work("v1.tar.zst")));
  EXPECT_EQ(put.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(put.message().rfind("size mismatch for ", 0), 0u) << put.message();
  EXPECT_FALSE(artifacts_->Find(ref.key).has_value());
}

TEST_F(HttpArtifactStoreTest, AWrongTokenIsUnauthenticatedAndUploadsNothing) {
  Start("s3cret");
  auto client = Client("wrong");
  const ArtifactRef ref = RandomFile(work("v1.tar.zst"), "hello/v1.tar.zst", 2'000'000, 11);
  Status put = Await(client->Put(ref, work("v1.tar.zst")));
  EXPECT_EQ(put.code(), StatusCode::kUnauthenticated) << put.message();
  EXPECT_NE(put.message().find("answered 401: this call needs the token"), std::string::npos)
      << put.message();
  EXPECT_FALSE(artifacts_->Find(ref.key).has_value());
  Status got = Await(client->Get(ref, work("dest.tar.zst")));
  EXPECT_EQ(got.code(), StatusCode::kUnauthenticated) << got.message();
  EXPECT_FALSE(std::filesystem::exists(work("dest.tar.zst")));
  Status removed = Await(client->Remove(ref));
  EXPECT_EQ(removed.code(), StatusCode::kUnauthenticated) << removed.message();
}

TEST_F(HttpArtifactStoreTest, NobodyListeningIsUnavailable) {
  const std::string base = "http://127.0.0.1:" + std::to_string(testing::FreePort());
  auto client = Client("", base);
  const ArtifactRef ref = RandomFile(work("v1.tar.zst"), "hello/v1.tar.zst", 1000, 12);
  Status put = Await(client->Put(ref, work("v1.tar.zst")));
  EXPECT_EQ(put.code(), StatusCode::kUnavailable);
  EXPECT_EQ(put.message(), "cannot reach the orchestrator at " + base + ": Connection refused");
  Status got = Await(client->Get(ref, work("dest.tar.zst")));
  EXPECT_EQ(got.code(), StatusCode::kUnavailable);
  EXPECT_EQ(FilesNamed(dir_ / "work", ".dest"), 0u);
}

TEST(HttpArtifactStoreOpen, TakesHttpHostPortOnly) {
  for (const std::string good : {"http://127.0.0.1:7070", "http://127.0.0.1:7070/",
                                 "HTTP://orchestrator", "http://[::1]:7070"}) {
    auto c = HttpArtifactStore::Open(good);
    EXPECT_TRUE(c.ok()) << good << ": " << c.error();
  }
  EXPECT_EQ((*HttpArtifactStore::Open("http://orchestrator/"))->Describe(),
            "orchestrator at http://orchestrator");
  for (const std::string bad : {"https://x:443", "127.0.0.1:7070", "http://", "http://x:0",
                                "http://x:7070/api", "http://x:port"}) {
    auto c = HttpArtifactStore::Open(bad);
    EXPECT_EQ(c.code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(HttpArtifactStore::Open("https://x").error(),
            "bad orchestrator URL 'https://x': want http://host:port");
}

// Forwards connections to a server; the first answer is cut off after
// `cut_after` bytes, as a flaky network would. Keeps what each request said.
class CuttingProxy {
 public:
  CuttingProxy(uint16_t upstream, size_t cut_after)
      : upstream_(upstream), cut_after_(cut_after), acceptor_(io_, {tcp::v4(), 0}) {
    acceptor_.listen();
    asio::co_spawn(io_, Accept(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~CuttingProxy() {
    asio::post(io_, [this] { io_.stop(); });
    thread_.join();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::vector<std::string> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  asio::awaitable<void> Accept() {
    for (size_t n = 0;; ++n) {
      boost::system::error_code ec;
      tcp::socket accepted =
          co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      auto client = std::make_shared<tcp::socket>(std::move(accepted));
      auto server = std::make_shared<tcp::socket>(io_);
      const tcp::endpoint to{asio::ip::make_address("127.0.0.1"), upstream_};
      co_await server->async_connect(to, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      {
        std::lock_guard lock(mu_);
        requests_.emplace_back();
      }
      asio::co_spawn(io_, Pump(client, server, SIZE_MAX, n), asio::detached);
      asio::co_spawn(io_, Pump(server, client, n == 0 ? cut_after_ : SIZE_MAX, SIZE_MAX),
                     asio::detached);
    }
  }
  // Copies from -> to until either ends or `limit` bytes passed, then closes
  // both. Bytes of connection `record` are kept as its request.
  asio::awaitable<void> Pump(std::shared_ptr<tcp::socket> from, std::shared_ptr<tcp::socket> to,
                             size_t limit, size_t record) {
    std::array<char, 16384> buf;
    boost::system::error_code ec;
    for (size_t passed = 0; passed < limit;) {
      size_t n = co_await from->async_read_some(asio::buffer(buf),
                                                asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
      n = std::min(n, limit - passed);
      if (record != SIZE_MAX) {
        std::lock_guard lock(mu_);
        requests_[record].append(buf.data(), n);
      }
      co_await asio::async_write(*to, asio::buffer(buf.data(), n),
                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
      passed += n;
    }
    from->close(ec);
    to->close(ec);
  }

  uint16_t upstream_;
  size_t cut_after_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> requests_;
};

TEST_F(HttpArtifactStoreTest, ADownloadCutMidwayResumesFromWhereItStopped) {
  Start();
  const ArtifactRef ref = RandomFile(work("v1.tar.zst"), "hello/v1.tar.zst", 3'000'000, 13);
  Status put = Await(Client()->Put(ref, work("v1.tar.zst")));
  ASSERT_TRUE(put.ok()) << put.message();
  CuttingProxy proxy(server_->port(), 1'000'000);
  auto client = Client("", "http://127.0.0.1:" + std::to_string(proxy.port()));
  Status got = Await(client->Get(ref, work("dest.tar.zst")));
  ASSERT_TRUE(got.ok()) << got.message();
  EXPECT_EQ(Sha256OfFile(work("dest.tar.zst")), ref.sha256);
  const auto requests = proxy.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].find("Range:"), std::string::npos) << requests[0];
  // The first answer's head took some of the million bytes: the resume
  // starts a little below it, exactly where the file ended.
  const size_t at = requests[1].find("Range: bytes=");
  ASSERT_NE(at, std::string::npos) << requests[1];
  const int64_t from = std::stoll(requests[1].substr(at + 13));
  EXPECT_GT(from, 999'000);
  EXPECT_LT(from, 1'000'000);
  EXPECT_NE(requests[1].find("If-Range: \"" + ref.sha256 + "\"\r\n"), std::string::npos)
      << requests[1];
}

}  // namespace
}  // namespace anthill::http
