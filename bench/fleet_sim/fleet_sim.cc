// fleet_sim: N simulated agents in one process, each speaking the real
// agent protocol to real orchestrators over loopback (sim_agent.h), for the
// fleet's scale and fault runs (bench/fleet_scale.py). Registers the agents
// it has no token for (POST /api/v1/agents with the server token; tokens
// kept in --tokens), starts them over --ramp, can kill a fraction of them
// once some runs are done (or at a time) and revive them later, and writes
// its counts and latencies as JSON to --stats every second and at the end.
// Bounded: it stops after --duration, or on SIGTERM/SIGINT.
//
//   fleet_sim --server http://127.0.0.1:7070 --agents 1000 --tokens sim.tokens
//       --server-token s3cret --start-time 2s --stats sim.json --duration 10m
#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>

#include "base/files.h"
#include "base/time.h"
#include "http/json_client.h"
#include "os/process.h"
#include "os/signals.h"
#include "sim_agent.h"

namespace asio = boost::asio;
using anthill::Duration;
using anthill::sim::SimAgent;
using anthill::sim::SimOptions;
using anthill::sim::SimStats;

namespace {

struct Args {
  std::vector<std::string> servers;
  int agents = 100;
  std::string prefix = "sim-";
  std::string tokens_file = "fleet_sim.tokens";
  std::string server_token;
  std::string start_time = "2s";
  std::string poll_wait = "30s";
  std::string report_every = "10s";
  std::string ramp = "5s";
  int verify = 10;  // agents that download and check each artifact
  double kill_fraction = 0;
  int kill_after_runs = 0;  // kill once this many runs are done (0: at --kill-at)
  std::string kill_at;      // or this long after the start
  std::string revive_after = "60s";
  std::string duration = "10m";
  std::string stats_file = "fleet_sim.json";
  std::string acked_file;  // every acknowledged report id, one a line, written at the end
};

Duration ParseOrDie(const std::string& text, const char* what) {
  auto d = anthill::ParseDuration(text);
  if (!d.ok()) {
    std::cerr << "fleet_sim: bad " << what << " '" << text << "': " << d.error() << "\n";
    std::exit(2);
  }
  return *d;
}

std::string NameOf(const Args& a, int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%05d", i);
  return a.prefix + buf;
}

// name -> token, as kept in the tokens file ("name token" lines).
std::map<std::string, std::string> ReadTokens(const std::string& file) {
  std::map<std::string, std::string> out;
  std::ifstream in(file);
  std::string name, token;
  while (in >> name >> token) out[name] = token;
  return out;
}

asio::awaitable<void> Register(asio::any_io_executor ex, const Args& a,
                               std::vector<std::string> names,
                               std::map<std::string, std::string>* tokens, int* failed) {
  for (const std::string& name : names) {
    const std::string body = nlohmann::json{{"name", name}}.dump();
    auto got = co_await anthill::http::AsyncFetch(ex, "POST", a.servers[0], "/api/v1/agents", body,
                                                  a.server_token, Duration(30000));
    if (!got.ok() || got->status != 201) {
      std::cerr << "fleet_sim: cannot register " << name << ": "
                << (got.ok() ? std::to_string(got->status) + " " + got->body : got.error()) << "\n";
      ++*failed;
      continue;
    }
    (*tokens)[name] = nlohmann::json::parse(got->body)["token"].get<std::string>();
  }
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  CLI::App app("fleet_sim: simulated anthill agents against real orchestrators");
  app.add_option("--server", a.servers, "orchestrators' URLs")->delimiter(',')->required();
  app.add_option("--agents", a.agents, "how many agents (each connects from its own 127.1.x.y)")
      ->capture_default_str()
      ->check(CLI::Range(1, 63999));
  app.add_option("--prefix", a.prefix, "agent names: PREFIX00001...")->capture_default_str();
  app.add_option("--tokens", a.tokens_file, "agent tokens kept here")->capture_default_str();
  app.add_option("--server-token", a.server_token, "to register agents (or ANTHILL_TOKEN)");
  app.add_option("--start-time", a.start_time, "a switch's simulated start")->capture_default_str();
  app.add_option("--poll-wait", a.poll_wait, "long poll wait")->capture_default_str();
  app.add_option("--report-every", a.report_every,
                 "states reported again after this long with nothing sent, give or take a fifth, "
                 "as the agent does (0s: never)")
      ->capture_default_str();
  app.add_option("--ramp", a.ramp, "agents start spread over this")->capture_default_str();
  app.add_option("--verify", a.verify, "agents that download and check artifacts")
      ->capture_default_str();
  app.add_option("--kill-fraction", a.kill_fraction, "agents to kill (0..1)");
  app.add_option("--kill-after-runs", a.kill_after_runs, "kill once this many runs are done");
  app.add_option("--kill-at", a.kill_at, "or kill this long after the start");
  app.add_option("--revive-after", a.revive_after, "revive the killed this long after")
      ->capture_default_str();
  app.add_option("--duration", a.duration, "stop after this")->capture_default_str();
  app.add_option("--stats", a.stats_file, "JSON counts and latencies")->capture_default_str();
  app.add_option("--acked-ids", a.acked_file, "at the end: every acknowledged report id");
  CLI11_PARSE(app, argc, argv);
  if (a.server_token.empty()) {
    if (const char* t = std::getenv("ANTHILL_TOKEN")) a.server_token = t;
  }

  // 10,000 agents hold 10,000 long polls, and more while they report.
  anthill::os::RaiseOpenFileLimit();
  asio::io_context io;
  SimStats stats;
  SimOptions options;
  options.servers = a.servers;
  options.start_time = ParseOrDie(a.start_time, "--start-time");
  options.poll_wait = ParseOrDie(a.poll_wait, "--poll-wait");
  options.report_every = ParseOrDie(a.report_every, "--report-every");
  options.epoch = std::chrono::steady_clock::now();
  {
    std::random_device random;
    char id[9];
    std::snprintf(id, sizeof id, "%08x", random());
    options.run_id = id;
  }

  // Tokens: the file's, and new ones for the names it lacks.
  std::map<std::string, std::string> tokens = ReadTokens(a.tokens_file);
  std::vector<std::string> missing;
  for (int i = 1; i <= a.agents; ++i) {
    if (!tokens.count(NameOf(a, i))) missing.push_back(NameOf(a, i));
  }
  if (!missing.empty()) {
    int failed = 0;
    constexpr size_t kRegistering = 16;  // at once
    std::vector<std::vector<std::string>> shares(kRegistering);
    for (size_t i = 0; i < missing.size(); ++i) shares[i % kRegistering].push_back(missing[i]);
    for (auto& share : shares) {
      asio::co_spawn(io, Register(io.get_executor(), a, share, &tokens, &failed), asio::detached);
    }
    io.run();
    io.restart();
    std::ofstream out(a.tokens_file, std::ios::trunc);
    for (const auto& [name, token] : tokens) out << name << " " << token << "\n";
    if (failed > 0) return 1;
    std::cerr << "fleet_sim: registered " << missing.size() << " agents\n";
  }

  std::vector<std::unique_ptr<SimAgent>> agents;
  for (int i = 1; i <= a.agents; ++i) {
    // 127.1.0.1, 127.1.0.2, ...: each machine its own loopback address.
    const std::string source =
        "127.1." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1);
    agents.push_back(std::make_unique<SimAgent>(io.get_executor(), NameOf(a, i),
                                                tokens[NameOf(a, i)], source, i <= a.verify,
                                                &options, &stats));
  }

  // Started over the ramp, each at its own moment.
  const Duration ramp = ParseOrDie(a.ramp, "--ramp");
  std::vector<std::unique_ptr<asio::steady_timer>> timers;
  for (size_t i = 0; i < agents.size(); ++i) {
    auto t = std::make_unique<asio::steady_timer>(io);
    t->expires_after(ramp * static_cast<int64_t>(i) / static_cast<int64_t>(agents.size()));
    t->async_wait([&, i](boost::system::error_code ec) {
      if (!ec) agents[i]->Start();
    });
    timers.push_back(std::move(t));
  }

  // Kill a fraction (chosen at random, seeded: the same ones each run), then
  // revive them.
  std::vector<size_t> victims;
  if (a.kill_fraction > 0) {
    std::vector<size_t> order(agents.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), std::mt19937(42));
    order.resize(static_cast<size_t>(a.kill_fraction * static_cast<double>(agents.size())));
    victims = order;
  }
  const Duration revive_after = ParseOrDie(a.revive_after, "--revive-after");
  const std::optional<Duration> kill_at =
      a.kill_at.empty() ? std::nullopt : std::optional(ParseOrDie(a.kill_at, "--kill-at"));
  bool killed = victims.empty();
  asio::steady_timer revive(io);
  const auto kill_now = [&] {
    killed = true;
    for (size_t i : victims) agents[i]->Kill();
    stats.kills += static_cast<int64_t>(victims.size());
    std::cerr << "fleet_sim: killed " << victims.size() << " agents\n";
    revive.expires_after(revive_after);
    revive.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      for (size_t i : victims) agents[i]->Start();
      stats.revivals += static_cast<int64_t>(victims.size());
      std::cerr << "fleet_sim: revived " << victims.size() << " agents\n";
    });
  };

  // Every second: the stats file, and the kill when it is due.
  const Duration duration = ParseOrDie(a.duration, "--duration");
  asio::steady_timer tick(io);
  std::function<void(boost::system::error_code)> on_tick;
  const auto write_stats = [&] {
    nlohmann::json j = stats.ToJson();
    j["agents"] = a.agents;
    j["alive"] = std::count_if(agents.begin(), agents.end(), [](auto& g) { return g->alive(); });
    j["elapsed_s"] =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - options.epoch).count();
    const std::string tmp = a.stats_file + ".tmp";
    std::ofstream(tmp, std::ios::trunc) << j.dump(1) << "\n";
    std::rename(tmp.c_str(), a.stats_file.c_str());
  };
  bool stopping = false;
  auto last_write = std::chrono::steady_clock::time_point{};
  const auto stop = [&] {
    if (stopping) return;
    stopping = true;
    for (auto& g : agents) g->Kill();
    for (auto& t : timers) t->cancel();
    revive.cancel();
    tick.cancel();
    write_stats();
    // Abandoned requests would run to their deadlines (a long poll's is
    // 45 s): nothing of theirs is wanted now.
    io.stop();
  };
  on_tick = [&](boost::system::error_code ec) {
    if (ec || stopping) return;
    if (std::chrono::steady_clock::now() - last_write >= std::chrono::seconds(1)) {
      last_write = std::chrono::steady_clock::now();
      write_stats();
    }
    const auto elapsed = std::chrono::steady_clock::now() - options.epoch;
    if (!killed && ((a.kill_after_runs > 0 && stats.runs_done >= a.kill_after_runs) ||
                    (kill_at && elapsed >= *kill_at))) {
      kill_now();
    }
    if (elapsed >= duration) {
      std::cerr << "fleet_sim: --duration reached\n";
      stop();
      return;
    }
    tick.expires_after(std::chrono::milliseconds(a.kill_after_runs > 0 ? 50 : 1000));
    tick.async_wait(on_tick);
  };
  tick.expires_after(std::chrono::milliseconds(0));
  tick.async_wait(on_tick);
  anthill::os::HandleTerminationSignals(io, [&](int) { stop(); });
  io.run();
  write_stats();
  // To be compared with the orchestrators' agent_reports: none lost.
  if (!a.acked_file.empty()) {
    std::ofstream out(a.acked_file, std::ios::trunc);
    for (const std::string& id : stats.reports_acked) out << id << "\n";
  }
  return 0;
}
