// nodevoy-devhost: a local stand-in for Envoy that loads dynamic modules exactly as Envoy does and
// serves real HTTP/1.1 traffic. Command-line flags follow Envoy's.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include <event2/event.h>
#include <event2/thread.h>
#include <tclap/CmdLine.h>

#include "admin.h"
#include "config.h"
#include "connection.h"
#include "envoy_version.h"
#include "log.h"
#include "server.h"
#include "stats.h"
#include "upstream.h"

using namespace devhost;

namespace {

struct Options {
  std::string config_path;
  std::string config_yaml;
  uint32_t concurrency = 0;
  std::string log_level = "info";
  std::string component_log_level;
  std::string admin_address_path;
  std::string mode = "serve";
  uint32_t drain_time_s = 10;
  EnvoyVersion envoy_version = kNewestEnvoyVersion;
};

Options parseOptions(int argc, char** argv) {
  Options o;
  try {
    TCLAP::CmdLine cmd("nodevoy-devhost: a local stand-in for Envoy that loads Envoy dynamic modules", ' ',
                       "nodevoy-devhost (Envoy dynamic module ABI v0.2.0)");
    TCLAP::ValueArg<std::string> config_path("c", "config-path", "Path to the Envoy bootstrap YAML", false, "",
                                             "string", cmd);
    TCLAP::ValueArg<std::string> config_yaml("", "config-yaml", "Inline bootstrap YAML (used when no -c is given)",
                                             false, "", "string", cmd);
    TCLAP::ValueArg<uint32_t> concurrency("", "concurrency", "Number of worker threads (default: number of cores)",
                                          false, 0, "uint32_t", cmd);
    TCLAP::ValueArg<std::string> log_level("l", "log-level",
                                           "Log level: trace, debug, info, warning, error, critical, off", false,
                                           "info", "string", cmd);
    TCLAP::ValueArg<std::string> component_log_level(
        "", "component-log-level", "Comma-separated component:level pairs, e.g. dynamic_modules:debug", false, "",
        "string", cmd);
    TCLAP::ValueArg<std::string> admin_address_path("", "admin-address-path",
                                                    "File to write the admin address to once listening", false, "",
                                                    "string", cmd);
    TCLAP::ValueArg<std::string> mode("", "mode", "serve (default) or validate (load the config and exit)", false,
                                      "serve", "string", cmd);
    TCLAP::ValueArg<uint32_t> drain_time("", "drain-time-s",
                                         "Seconds SIGTERM waits for in-flight streams before closing them", false, 10,
                                         "uint32_t", cmd);
    TCLAP::ValueArg<std::string> envoy_version(
        "", "envoy-version",
        "Envoy release to imitate: 1.38, 1.39 or 1.40 (default: $NODEVOY_ENVOY_VERSION, else 1.40). Decides which "
        "callbacks a module can resolve, the ABI version expected, destroy timing and the other differences "
        "listed in host/devhost/README.md",
        false, "", "string", cmd);
    TCLAP::ValueArg<uint32_t> base_id("", "base-id", "Accepted for compatibility with Envoy; no hot restart here",
                                      false, 0, "uint32_t", cmd);
    TCLAP::SwitchArg dynamic_base_id("", "use-dynamic-base-id",
                                     "Accepted for compatibility with Envoy; no hot restart here", cmd, false);
    cmd.parse(argc, argv);
    o.config_path = config_path.getValue();
    o.config_yaml = config_yaml.getValue();
    o.concurrency = concurrency.getValue();
    o.log_level = log_level.getValue();
    o.component_log_level = component_log_level.getValue();
    o.admin_address_path = admin_address_path.getValue();
    o.mode = mode.getValue();
    o.drain_time_s = drain_time.getValue();
    // The flag, else NODEVOY_ENVOY_VERSION (so every launcher, e.g. a test run per release, can choose
    // without passing flags), else the release this executable's exports belong to.
    const char* from_env = getenv("NODEVOY_ENVOY_VERSION");
    const std::string wanted = envoy_version.isSet() ? envoy_version.getValue() : (from_env ? from_env : "");
    if (!wanted.empty()) {
      std::optional<EnvoyVersion> parsed = parseEnvoyVersion(wanted);
      if (!parsed) {
        fprintf(stderr, "error: %s must be 1.38, 1.39 or 1.40, got '%s'\n",
                envoy_version.isSet() ? "--envoy-version" : "NODEVOY_ENVOY_VERSION", wanted.c_str());
        exit(1);
      }
      o.envoy_version = *parsed;
    } else {
      o.envoy_version = exportedCallbacksVersion();
    }
  } catch (const TCLAP::ArgException& e) {
    fprintf(stderr, "error: %s for argument %s\n", e.error().c_str(), e.argId().c_str());
    exit(1);
  }
  if (o.config_path.empty() && o.config_yaml.empty()) {
    fprintf(stderr, "error: no configuration; pass -c <bootstrap.yaml> (or --config-yaml)\n");
    exit(1);
  }
  if (o.mode != "serve" && o.mode != "validate") {
    fprintf(stderr, "error: --mode must be serve or validate, got '%s'\n", o.mode.c_str());
    exit(1);
  }
  return o;
}

// The callbacks a module can resolve are fixed when this executable is linked; another release runs
// the sibling executable linked with that release's export list (same code, same arguments).
void execForEnvoyVersion(EnvoyVersion wanted, char** argv) {
  if (wanted == exportedCallbacksVersion()) return;
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) {
    fprintf(stderr, "error: --envoy-version %s: cannot find this executable (/proc/self/exe): %s\n",
            envoyVersionName(wanted), strerror(errno));
    exit(1);
  }
  self[n] = '\0';
  const std::string target = executableFor(wanted, self);
  if (access(target.c_str(), X_OK) != 0) {
    fprintf(stderr,
            "error: --envoy-version %s needs %s (the dev host linked with Envoy %s's callbacks), which is missing: "
            "build it with make -C host (npm run build:native)\n",
            envoyVersionName(wanted), target.c_str(), envoyVersionName(wanted));
    exit(1);
  }
  execv(target.c_str(), argv);
  fprintf(stderr, "error: --envoy-version %s: cannot run %s: %s\n", envoyVersionName(wanted), target.c_str(),
          strerror(errno));
  exit(1);
}

void applyLogLevels(const Options& o) {
  LogLevel level;
  if (!parseLevel(o.log_level, &level)) {
    fprintf(stderr, "error: unknown log level '%s' (use trace, debug, info, warning, error, critical, off)\n",
            o.log_level.c_str());
    exit(1);
  }
  Logger::setAll(level);
  std::stringstream pairs(o.component_log_level);
  std::string pair;
  while (std::getline(pairs, pair, ',')) {
    if (pair.empty()) continue;
    size_t colon = pair.find(':');
    Component component;
    LogLevel component_level;
    if (colon == std::string::npos || !parseComponent(pair.substr(0, colon), &component) ||
        !parseLevel(pair.substr(colon + 1), &component_level)) {
      fprintf(stderr,
              "error: invalid --component-log-level entry '%s' (expected component:level; components: main, "
              "config, dynamic_modules, http, router, upstream, admin, connection)\n",
              pair.c_str());
      exit(1);
    }
    Logger::set(component, component_level);
  }
}

// One SO_REUSEPORT socket per worker, like Envoy's default on Linux. The first binds (port 0 lets
// the OS pick); the rest share its port.
bool bindListener(ListenerEntry& listener, uint32_t workers, std::string* error) {
  uint16_t port = listener.spec.address.port;
  for (uint32_t i = 0; i < workers; i++) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    if (inet_pton(AF_INET, listener.spec.address.address.c_str(), &addr.sin_addr) != 1) {
      *error = "listener '" + listener.spec.name + "': address '" + listener.spec.address.address +
               "' is not an IPv4 address";
      ::close(fd);
      return false;
    }
    if (bind(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) != 0 || listen(fd, 1024) != 0) {
      *error = "listener '" + listener.spec.name + "': cannot bind " + listener.spec.address.address + ":" +
               std::to_string(port) + ": " + strerror(errno);
      ::close(fd);
      return false;
    }
    if (port == 0) {
      socklen_t len = sizeof(addr);
      getsockname(fd, reinterpret_cast<struct sockaddr*>(&addr), &len);
      port = ntohs(addr.sin_port);
    }
    listener.fds.push_back(fd);
  }
  listener.bound_port = port;
  return true;
}

void runWorker(Worker* worker) {
  tls_worker = worker;
  startWorkerListeners(*worker);
  worker->dispatcher().run();
  // Teardown on the worker's own thread: connections, then upstream pools.
  worker->shutting_down = true;
  stopWorkerListeners(*worker);
  std::vector<ServerConnection*> connections(worker->connections.begin(), worker->connections.end());
  for (ServerConnection* c : connections) c->drain();
  for (ServerConnection* c : std::vector<ServerConnection*>(worker->connections.begin(), worker->connections.end())) {
    c->forceClose();
  }
  worker->dispatcher().flush();
  worker->pools.clear();
  worker->dispatcher().flush();
  tls_worker = nullptr;
}

struct Shutdown {
  bool started = false;
  uint64_t deadline_ms = 0;
  event* poll = nullptr;
};
Shutdown g_shutdown;
uint32_t g_drain_time_s = 10;

void finishShutdown() {
  Server& server = Server::instance();
  for (auto& worker : server.workers) worker->dispatcher().exit();
  server.main_dispatcher.exit();
}

void pollDrain(int, short, void*) {
  Server& server = Server::instance();
  int64_t active = 0;
  for (auto& worker : server.workers) active += worker->active_streams.load();
  if (active == 0 || monotonicMs() >= g_shutdown.deadline_ms) {
    if (active > 0) DH_LOG(Main, Warn, "drain time over; closing %lld in-flight streams", static_cast<long long>(active));
    finishShutdown();
    return;
  }
  struct timeval tv = {0, 20000};
  evtimer_add(g_shutdown.poll, &tv);
}

// Main thread: stop accepting, let in-flight streams finish, then stop.
void beginShutdown() {
  if (g_shutdown.started) return;
  g_shutdown.started = true;
  Server& server = Server::instance();
  server.draining = true;
  DH_LOG(Main, Info, "shutting down: draining in-flight streams (up to %us)", g_drain_time_s);
  for (auto& worker : server.workers) {
    Worker* w = worker.get();
    w->dispatcher().post([w] {
      w->shutting_down = true;
      stopWorkerListeners(*w);
      for (ServerConnection* c : std::vector<ServerConnection*>(w->connections.begin(), w->connections.end())) c->drain();
    });
  }
  g_shutdown.deadline_ms = monotonicMs() + uint64_t(g_drain_time_s) * 1000;
  g_shutdown.poll = evtimer_new(server.main_dispatcher.base(), &pollDrain, nullptr);
  struct timeval tv = {0, 20000};
  evtimer_add(g_shutdown.poll, &tv);
}

void onSignal(int, short, void*) { beginShutdown(); }

std::string g_config_path;
std::vector<InlineHeaderSpec> g_inline_headers;  // as registered at start-up

bool sameEndpoints(const ClusterSpec& a, const ClusterSpec& b) {
  if (a.endpoints.size() != b.endpoints.size()) return false;
  for (size_t i = 0; i < a.endpoints.size(); i++) {
    if (a.endpoints[i].address != b.endpoints[i].address || a.endpoints[i].port != b.endpoints[i].port) return false;
  }
  return true;
}

// Main thread. Re-reads the bootstrap file and swaps every listener's HTTP filter chain: new streams
// use the new filters and routes, streams in flight finish on the old ones (which are destroyed when
// their last stream ends). Listeners and clusters themselves cannot change. Empty string on success.
std::string reloadBootstrap() {
  if (g_config_path.empty()) return "the configuration came from --config-yaml; there is no file to re-read";
  BootstrapSpec spec;
  try {
    spec = loadBootstrapFile(g_config_path);
  } catch (const ConfigError& e) {
    return e.what();
  }
  Server& server = Server::instance();
  if (spec.listeners.size() != server.listeners.size()) return "a reload cannot add or remove listeners";
  auto sameInline = [](const InlineHeaderSpec& a, const InlineHeaderSpec& b) { return a.name == b.name && a.type == b.type; };
  if (!std::equal(spec.inline_headers.begin(), spec.inline_headers.end(), g_inline_headers.begin(), g_inline_headers.end(),
                  sameInline)) {
    return "a reload cannot change inline_headers (Envoy registers them once, at start-up)";
  }
  if (spec.clusters.size() != server.clusters.size()) return "a reload cannot add or remove clusters";
  for (const auto& cluster : spec.clusters) {
    auto it = server.clusters.find(cluster.name);
    if (it == server.clusters.end() || !sameEndpoints(cluster, it->second->spec)) {
      return "cluster '" + cluster.name + "' differs; a reload can change filters and routes only";
    }
  }
  std::vector<std::shared_ptr<HttpChain>> chains;
  for (size_t i = 0; i < spec.listeners.size(); i++) {
    const auto& current = server.listeners[i]->spec;
    const auto& next = spec.listeners[i];
    if (next.name != current.name || next.address.address != current.address.address ||
        next.address.port != current.address.port) {
      return "listener '" + next.name + "' differs in name or address; a reload can change filters and routes only";
    }
    std::string error;
    auto chain = HttpChain::create(next, server.clusters, &error);
    if (!chain) return "listener '" + next.name + "': " + error;
    chains.push_back(std::move(chain));
  }
  for (size_t i = 0; i < chains.size(); i++) {
    std::shared_ptr<HttpChain> previous;
    {
      std::lock_guard<std::mutex> lock(server.listeners[i]->chain_mutex);
      previous = std::move(server.listeners[i]->chain);
      server.listeners[i]->chain = std::move(chains[i]);
    }
    previous.reset();  // destroyed here, or by its last stream on that stream's worker
  }
  stats().counter("devhost.reloads").fetch_add(1);
  DH_LOG(Main, Info, "configuration reloaded from '%s'", g_config_path.c_str());
  return "";
}

void onReloadSignal(int, short, void*) {
  std::string error = reloadBootstrap();
  if (!error.empty()) DH_LOG(Main, Error, "reload refused, the previous configuration stays: %s", error.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  Options options = parseOptions(argc, argv);
  execForEnvoyVersion(options.envoy_version, argv);
  setEnvoyVersion(options.envoy_version);
  applyLogLevels(options);
  DH_LOG(Main, Info, "imitating Envoy v%s (dynamic-module ABI %s)", envoyVersionName(options.envoy_version),
         expectedAbiVersion(options.envoy_version));
  g_drain_time_s = options.drain_time_s;
  signal(SIGPIPE, SIG_IGN);
  evthread_use_pthreads();

  Server& server = Server::instance();
  server.main_thread = pthread_self();
  unsigned hw = std::thread::hardware_concurrency();
  server.concurrency = options.concurrency > 0 ? options.concurrency : (hw > 0 ? hw : 1);
  server.validation_mode = options.mode == "validate";

  const std::string config_name = options.config_path.empty() ? "<--config-yaml>" : options.config_path;
  BootstrapSpec bootstrap;
  try {
    bootstrap = options.config_path.empty() ? loadBootstrapYaml(options.config_yaml)
                                            : loadBootstrapFile(options.config_path);
  } catch (const ConfigError& e) {
    DH_LOG(Main, Critical, "error initializing configuration '%s': %s", config_name.c_str(), e.what());
    return 1;
  }

  // Bootstrap inline_headers, registered before any header map exists (Envoy's CustomInlineHeaderRegistry).
  for (const auto& header : bootstrap.inline_headers) {
    HeaderMap::registerInlineHeader(static_cast<HeaderMap::Kind>(static_cast<int>(header.type)), header.name);
  }
  HeaderMap::freezeInlineHeaders();
  g_inline_headers = bootstrap.inline_headers;

  for (const auto& spec : bootstrap.clusters) {
    auto cluster = std::make_unique<Cluster>();
    cluster->spec = spec;
    const std::string prefix = "cluster." + spec.name + ".";
    cluster->upstream_rq_total = &stats().counter(prefix + "upstream_rq_total");
    cluster->upstream_cx_total = &stats().counter(prefix + "upstream_cx_total");
    cluster->upstream_cx_connect_fail = &stats().counter(prefix + "upstream_cx_connect_fail");
    cluster->upstream_rq_timeout = &stats().counter(prefix + "upstream_rq_timeout");
    cluster->upstream_cx_active = &stats().gauge(prefix + "upstream_cx_active");
    cluster->upstream_rq_active = &stats().gauge(prefix + "upstream_rq_active");
    server.clusters[spec.name] = cluster.get();
    server.cluster_storage.push_back(std::move(cluster));
  }
  stats().gauge("server.concurrency").store(server.concurrency);

  // Filter configs are created on the main thread, like Envoy's (config_new, metric definitions).
  for (const auto& spec : bootstrap.listeners) {
    auto listener = std::make_unique<ListenerEntry>();
    listener->spec = spec;
    std::string error;
    listener->chain = HttpChain::create(spec, server.clusters, &error);
    if (!listener->chain) {
      DH_LOG(Main, Critical, "error initializing configuration '%s': listener '%s': %s", config_name.c_str(),
             spec.name.c_str(), error.c_str());
      return 1;
    }
    server.listeners.push_back(std::move(listener));
  }

  if (server.validation_mode) {
    server.listeners.clear();  // destroys filter configs on this (main) thread
    printf("configuration '%s' OK\n", config_name.c_str());
    return 0;
  }

  for (auto& listener : server.listeners) {
    std::string error;
    if (!bindListener(*listener, server.concurrency, &error)) {
      DH_LOG(Main, Critical, "%s", error.c_str());
      return 1;
    }
    DH_LOG(Main, Info, "listener '%s' on %s:%u", listener->spec.name.c_str(), listener->spec.address.address.c_str(),
           listener->bound_port);
  }

  event* sigterm = evsignal_new(server.main_dispatcher.base(), SIGTERM, &onSignal, nullptr);
  event* sigint = evsignal_new(server.main_dispatcher.base(), SIGINT, &onSignal, nullptr);
  event* sighup = evsignal_new(server.main_dispatcher.base(), SIGHUP, &onReloadSignal, nullptr);
  evsignal_add(sigterm, nullptr);
  evsignal_add(sigint, nullptr);
  evsignal_add(sighup, nullptr);
  g_config_path = options.config_path;

  if (bootstrap.admin) {
    std::string error;
    AdminHandlers handlers;
    handlers.quit = [] { Server::instance().main_dispatcher.post(beginShutdown); };
    handlers.reload = reloadBootstrap;
    uint16_t port = startAdmin(bootstrap.admin->address, bootstrap.admin->port, std::move(handlers), &error);
    if (port == 0) {
      DH_LOG(Main, Critical, "%s", error.c_str());
      return 1;
    }
    DH_LOG(Admin, Info, "admin address: %s:%u", bootstrap.admin->address.c_str(), port);
    if (!options.admin_address_path.empty()) {
      std::string tmp = options.admin_address_path + ".tmp";
      std::ofstream(tmp) << bootstrap.admin->address << ":" << port << "\n";
      rename(tmp.c_str(), options.admin_address_path.c_str());
    }
  }

  std::vector<std::thread> threads;
  for (uint32_t i = 0; i < server.concurrency; i++) server.workers.push_back(std::make_unique<Worker>(i));
  for (auto& worker : server.workers) threads.emplace_back(runWorker, worker.get());
  stats().gauge("server.live").store(1);
  DH_LOG(Main, Info, "starting main dispatch loop with %u workers", server.concurrency);

  server.main_dispatcher.run();

  for (auto& thread : threads) thread.join();
  stats().gauge("server.live").store(0);
  stopAdmin();
  event_free(sigterm);
  event_free(sigint);
  event_free(sighup);
  if (g_shutdown.poll) event_free(g_shutdown.poll);
  // Filter configs go last, on the main thread, after every stream is gone.
  server.listeners.clear();
  server.main_dispatcher.flush();
  DH_LOG(Main, Info, "exiting");
  return 0;
}
