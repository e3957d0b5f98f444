// The ApiTest fixture (the API over a real store in a temp dir, beside a fake
// controller), shared by the api_*_test.cc files. Only tests include it
// (hence _test.h, which may use testing/).
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <exception>
#include <optional>

#include "http/api.h"
#include "http/url.h"
#include "testing/testing.h"

// In anthill::http, not an unnamed namespace: gtest wants every test of the
// ApiTest suite to derive from one and the same fixture class.
namespace anthill::http {

// handler(req) run to completion, as the server runs it but without a
// socket: on an io_context of its own, until nothing is left to do. An
// exception the handler lets out is thrown again here.
inline Response Answer(const Handler& handler, Request req) {
  boost::asio::io_context io;
  std::optional<Response> answer;
  std::exception_ptr failure;
  boost::asio::co_spawn(io, handler(std::move(req)), [&](std::exception_ptr e, Response r) {
    failure = e;
    answer = std::move(r);
  });
  io.run();
  if (failure) std::rethrow_exception(failure);
  EXPECT_TRUE(answer.has_value()) << "the handler never finished";
  return answer.value_or(Response{});
}

// Stands in for the project runners (the e2e tests run the real ones): it
// records what the API asked of it.
class FakeProjects : public deploy::Controller {
 public:
  std::vector<deploy::ProjectState> Projects() const override {
    deploy::ProjectState p;
    p.name = "hello";
    p.state = store::RunState::kRunning;
    p.version = "main-1a2b3c4d";
    p.pid = 42;
    p.started_at = Now();
    return {p};
  }
  std::vector<deploy::QueueState> Queue() const override {
    deploy::QueueState q;
    q.project = "hello";
    store::Deployment d;
    d.id = 9;
    d.project = "hello";
    d.status = store::DeploymentStatus::kQueued;
    q.waiting = d;
    q.waiting_reason = "waiting for deployment 8 to finish";
    return {q};
  }
  std::vector<deploy::HookTarget> HookTargets() const override {
    return {{"hello", "https://github.com/acme/hello.git", "main", "", "s3cret"},
            {"hello-prod", "git@github.com:acme/hello.git", "", "release-*", "s3cret"},
            {"other", "https://github.com/acme/other", "main", "", "another"},
            {"quiet", "https://github.com/acme/quiet", "main", "", ""}};
  }
  int max_parallel_builds() const override { return 1; }
  int builds_running() const override { return 0; }
  deploy::ActionOutcome Deploy(const std::string& project, const std::string& ref,
                               const std::string& actor) override {
    calls.push_back("deploy " + project + " " + ref + " " + actor);
    return deploy::ActionOutcome::Accepted(7, "deployment 7 queued");
  }
  deploy::ActionOutcome Rollback(const std::string& project, const std::string& version,
                                 const std::string& actor) override {
    calls.push_back("rollback " + project + " " + version + " " + actor);
    if (project != "hello") {
      return deploy::ActionOutcome::Refused(StatusCode::kNotFound, "no project '" + project + "'");
    }
    return deploy::ActionOutcome::Accepted(8, "deployment 8 queued");
  }
  deploy::ActionOutcome Notify(const std::string& project, const std::string& ref,
                               const std::string& commit, store::Trigger trigger,
                               const std::string& actor) override {
    calls.push_back("notify " + project + " " + ref + " " + commit.substr(0, 8) + " " +
                    std::string(store::ToString(trigger)) + " " + actor);
    return deploy::ActionOutcome::Accepted(0, "looking now");
  }
  deploy::ActionOutcome Cancel(int64_t id, const std::string& actor) override {
    calls.push_back("cancel " + std::to_string(id) + " " + actor);
    return deploy::ActionOutcome::Done(id, "cancelled");
  }
  deploy::ActionOutcome StopProgram(const std::string& project, const std::string& actor) override {
    calls.push_back("stop " + project + " " + actor);
    return deploy::ActionOutcome::Accepted(0, "stopping");
  }
  deploy::ActionOutcome StartProgram(const std::string& project,
                                     const std::string& actor) override {
    calls.push_back("start " + project + " " + actor);
    return deploy::ActionOutcome::Accepted(0, "starting");
  }
  std::vector<std::string> calls;
};

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::OpenSqlite(dir_ / "anthill.db");
    ASSERT_TRUE(s.ok());
    store_ = std::move(s.value());
    api_ = MakeApi(Context());
  }
  // The API's context over this fixture's store and projects.
  ApiContext Context(const std::string& token = "", std::vector<std::string> hosts = {}) {
    ApiContext ctx{store_.get(), &projects_, dir_.path(), "m1", token, std::move(hosts)};
    ctx.record = &store_->async_record();
    return ctx;
  }
  int64_t AddDeployment(const std::string& project, const std::string& actor = "poll") {
    store::Deployment d;
    d.project = project;
    d.machine = "m1";
    d.to_version = "main-" + std::string(8, 'a');
    d.to_commit = std::string(40, 'a');
    d.actor = actor;
    d.status = store::DeploymentStatus::kSucceeded;
    d.started_at = FromUnixMillis(1795532458000);
    d.finished_at = FromUnixMillis(1795532459500);
    int64_t id = *store_->CreateDeployment(d);
    auto step = store_->StartStep(id, store::StepName::kBuild, d.started_at);
    (void)store_->FinishStep(*step, store::StepStatus::kSucceeded, *d.finished_at, "");
    return id;
  }
  Response Get(const std::string& target, const std::string& method = "GET",
               const std::string& body = "", std::map<std::string, std::string> headers = {}) {
    Request r;
    r.method = method;
    r.target = target;
    r.body = body;
    r.headers = std::move(headers);
    // As the CLI and the web page send them (see request_guard.h).
    r.headers.emplace("host", "127.0.0.1:7070");
    if (method != "GET" && method != "HEAD") r.headers.emplace("content-type", "application/json");
    SplitTarget(target, &r.path, &r.query);
    return Answer(api_, std::move(r));
  }
  void UseToken(const std::string& token) { api_ = MakeApi(Context(token)); }
  void AllowHosts(std::vector<std::string> hosts) { api_ = MakeApi(Context("", std::move(hosts))); }

  testing::TempDir dir_;
  std::unique_ptr<store::LocalStore> store_;  // set up and checked synchronously
  FakeProjects projects_;
  Handler api_;
};

// Issue 12: one byte that is not UTF-8, in a tag, an actor or a delivery id,
// made every answer that carried it a 500, for good. Such bytes are shown as
// U+FFFD instead.
const std::string kReplacement = "\xEF\xBF\xBD";

}  // namespace anthill::http
