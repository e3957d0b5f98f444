// Artifacts kept in S3 (s3rver, a real S3 API on loopback): the agent
// reaches the bucket the desired state names with its own credentials, not
// through the orchestrator.
#include <stdlib.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "agent/agent_fixture_test.h"
#include "artifact/pack.h"
#include "artifact/s3_store.h"
#include "testing/s3rver.h"

namespace anthill::agent {
namespace {

namespace asio = boost::asio;

// Sets an environment variable for the test's length.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = getenv(name)) old_ = old;
    setenv(name, value, 1);
  }
  ~ScopedEnv() { old_ ? setenv(name_, old_->c_str(), 1) : unsetenv(name_); }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST_F(AgentTest, ArtifactsInS3AreDownloadedWithTheAgentsOwnCredentials) {
  testing::S3rver s3;
  ASSERT_TRUE(s3.ok()) << s3.error();
  ScopedEnv key("AWS_ACCESS_KEY_ID", testing::S3rver::kAccessKeyId);
  ScopedEnv secret("AWS_SECRET_ACCESS_KEY", testing::S3rver::kSecretAccessKey);

  // The builder's part: the release packed and put in the bucket.
  deploy::AgentRelease v1 = Release("v1");
  const std::filesystem::path archive = dir_ / "v1.tar.zst";
  auto packed = artifact::Pack(dir_ / "src" / "v1", archive);
  ASSERT_TRUE(packed.ok()) << packed.error();
  v1.sha256 = packed->sha256;
  v1.size = packed->size;
  auto location = artifact::ParseS3("s3://anthill/fleet", s3.Endpoint(), "us-east-1");
  ASSERT_TRUE(location.ok()) << location.error();
  auto credentials = artifact::S3ArtifactStore::CredentialsFromEnvironment();
  ASSERT_TRUE(credentials.ok()) << credentials.error();
  artifact::S3ArtifactStore bucket(*location, *credentials);
  asio::io_context io;
  auto put = asio::co_spawn(io, bucket.Put({v1.artifact_key, v1.sha256, v1.size}, archive),
                            asio::use_future);
  io.run();
  const Status stored = put.get();
  ASSERT_TRUE(stored.ok()) << stored.message();

  deploy::DesiredState state = State(1, {Hello(7, v1)});
  state.artifacts.store = "s3://anthill/fleet";
  state.artifacts.endpoint = s3.Endpoint();
  orchestrator_->SetDesired(state);
  StartAgent();
  ASSERT_TRUE(WaitForState([&](const deploy::ProjectReport& s) {
    return s.run_status == "succeeded" && s.running_release == v1.release && s.health == "healthy";
  })) << deploy::ToJson(orchestrator_->state("hello").value_or(deploy::ProjectReport{}));
  EXPECT_EQ(Serving(), "v1");
  EXPECT_EQ(StepsOf(7), (std::vector<std::string>{"download:succeeded", "start:succeeded",
                                                  "healthcheck:succeeded"}));
}

}  // namespace
}  // namespace anthill::agent
