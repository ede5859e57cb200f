#include "admin.h"

#include <sys/queue.h>

#include <regex>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <nlohmann/json.hpp>

#include "envoy_version.h"
#include "log.h"
#include "server.h"
#include "stats.h"

namespace devhost {

namespace {

evhttp* g_admin = nullptr;
AdminHandlers g_handlers;

std::string queryParam(evhttp_request* req, const char* name) {
  const evhttp_uri* uri = evhttp_request_get_evhttp_uri(req);
  const char* query = uri ? evhttp_uri_get_query(uri) : nullptr;
  if (!query) return "";
  struct evkeyvalq params;
  TAILQ_INIT(&params);
  if (evhttp_parse_query_str(query, &params) != 0) return "";
  const char* value = evhttp_find_header(&params, name);
  std::string out = value ? value : "";
  evhttp_clear_headers(&params);
  return out;
}

bool hasQueryParam(evhttp_request* req, const char* name) {
  const evhttp_uri* uri = evhttp_request_get_evhttp_uri(req);
  const char* query = uri ? evhttp_uri_get_query(uri) : nullptr;
  if (!query) return false;
  struct evkeyvalq params;
  TAILQ_INIT(&params);
  if (evhttp_parse_query_str(query, &params) != 0) return false;
  bool found = evhttp_find_header(&params, name) != nullptr;
  evhttp_clear_headers(&params);
  return found;
}

void reply(evhttp_request* req, int code, const std::string& body, const char* content_type) {
  evhttp_add_header(evhttp_request_get_output_headers(req), "content-type", content_type);
  evbuffer* out = evbuffer_new();
  evbuffer_add(out, body.data(), body.size());
  evhttp_send_reply(req, code, code == 200 ? "OK" : "Error", out);
  evbuffer_free(out);
}

bool requirePost(evhttp_request* req) {
  if (evhttp_request_get_command(req) == EVHTTP_REQ_POST) return true;
  reply(req, 405, "This endpoint requires POST\n", "text/plain");
  return false;
}

std::string filteredStats(const std::string& all, const std::string& pattern) {
  if (pattern.empty()) return all;
  std::regex re(pattern);
  std::string out;
  size_t start = 0;
  while (start < all.size()) {
    size_t end = all.find('\n', start);
    if (end == std::string::npos) end = all.size();
    std::string line = all.substr(start, end - start);
    std::string name = line.substr(0, line.find(':'));
    if (std::regex_search(name, re)) out += line + "\n";
    start = end + 1;
  }
  return out;
}

void onRequest(evhttp_request* req, void*) {
  const char* uri_text = evhttp_request_get_uri(req);
  const evhttp_uri* uri = evhttp_request_get_evhttp_uri(req);
  std::string path = uri && evhttp_uri_get_path(uri) ? evhttp_uri_get_path(uri) : (uri_text ? uri_text : "/");
  Server& server = Server::instance();
  try {
    if (path == "/ready") {
      if (server.draining) {
        reply(req, 503, "DRAINING\n", "text/plain");
      } else {
        reply(req, 200, "LIVE\n", "text/plain");
      }
    } else if (path == "/stats") {
      std::string filter = queryParam(req, "filter");
      if (queryParam(req, "format") == "json") {
        nlohmann::json all = nlohmann::json::parse(stats().renderJson(""));
        if (!filter.empty()) {
          std::regex re(filter);
          nlohmann::json kept = nlohmann::json::array();
          for (auto& stat : all["stats"]) {
            if (std::regex_search(stat["name"].get<std::string>(), re)) kept.push_back(stat);
          }
          all["stats"] = kept;
        }
        reply(req, 200, all.dump(), "application/json");
      } else {
        reply(req, 200, filteredStats(stats().renderText(""), filter), "text/plain");
      }
    } else if (path == "/stats/prometheus") {
      reply(req, 200, stats().renderPrometheus(), "text/plain");
    } else if (path == "/listeners") {
      if (queryParam(req, "format") == "json") {
        nlohmann::json statuses = nlohmann::json::array();
        for (const auto& listener : server.listeners) {
          statuses.push_back({{"name", listener->spec.name},
                              {"local_address",
                               {{"socket_address",
                                 {{"address", listener->spec.address.address}, {"port_value", listener->bound_port}}}}}});
        }
        reply(req, 200, nlohmann::json({{"listener_statuses", statuses}}).dump(1), "application/json");
      } else {
        std::string out;
        for (const auto& listener : server.listeners) {
          out += listener->spec.name + "::" + listener->spec.address.address + ":" +
                 std::to_string(listener->bound_port) + "\n";
        }
        reply(req, 200, out, "text/plain");
      }
    } else if (path == "/server_info") {
      nlohmann::json info = {{"version", std::string("nodevoy-devhost imitating Envoy ") + envoyVersionName(envoyVersion())},
                             {"state", server.draining ? "DRAINING" : "LIVE"},
                             {"command_line_options", {{"concurrency", server.concurrency}}}};
      reply(req, 200, info.dump(1), "application/json");
    } else if (path == "/logging") {
      if (!requirePost(req)) return;
      std::string level = queryParam(req, "level");
      LogLevel parsed;
      if (!level.empty()) {
        if (!parseLevel(level, &parsed)) {
          reply(req, 400, "unknown level '" + level + "'\n", "text/plain");
          return;
        }
        Logger::setAll(parsed);
      }
      for (int c = 0; c < static_cast<int>(Component::Count); c++) {
        const char* name = componentName(static_cast<Component>(c));
        if (!hasQueryParam(req, name)) continue;
        std::string value = queryParam(req, name);
        if (!parseLevel(value, &parsed)) {
          reply(req, 400, "unknown level '" + value + "'\n", "text/plain");
          return;
        }
        Logger::set(static_cast<Component>(c), parsed);
      }
      std::string out = "active loggers:\n";
      for (int c = 0; c < static_cast<int>(Component::Count); c++) {
        out += std::string("  ") + componentName(static_cast<Component>(c)) + ": " +
               levelName(Logger::level(static_cast<Component>(c))) + "\n";
      }
      reply(req, 200, out, "text/plain");
    } else if (path == "/quitquitquit") {
      if (!requirePost(req)) return;
      reply(req, 200, "OK\n", "text/plain");
      if (g_handlers.quit) g_handlers.quit();
    } else if (path == "/devhost/reload") {
      // Dev host only (Envoy takes new filter configs through xDS): re-read the bootstrap file.
      if (!requirePost(req)) return;
      std::string error = g_handlers.reload ? g_handlers.reload() : "reload is not available";
      if (error.empty()) {
        reply(req, 200, "reloaded\n", "text/plain");
      } else {
        reply(req, 400, "reload refused, the previous configuration stays: " + error + "\n", "text/plain");
      }
    } else {
      reply(req, 404, "invalid path. admin commands are: /ready /stats /stats/prometheus /listeners /server_info "
                      "/logging /quitquitquit /devhost/reload\n",
            "text/plain");
    }
  } catch (const std::regex_error& e) {
    reply(req, 400, std::string("invalid filter regex: ") + e.what() + "\n", "text/plain");
  }
}

}  // namespace

uint16_t startAdmin(const std::string& address, uint16_t port, AdminHandlers handlers, std::string* error) {
  g_handlers = std::move(handlers);
  g_admin = evhttp_new(Server::instance().main_dispatcher.base());
  evhttp_set_allowed_methods(g_admin, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD);
  evhttp_set_gencb(g_admin, &onRequest, nullptr);
  evhttp_bound_socket* socket = evhttp_bind_socket_with_handle(g_admin, address.c_str(), port);
  if (socket == nullptr) {
    *error = "cannot bind admin address " + address + ":" + std::to_string(port);
    return 0;
  }
  struct sockaddr_storage bound;
  socklen_t len = sizeof(bound);
  getsockname(evhttp_bound_socket_get_fd(socket), reinterpret_cast<struct sockaddr*>(&bound), &len);
  return ntohs(reinterpret_cast<struct sockaddr_in*>(&bound)->sin_port);
}

void stopAdmin() {
  if (g_admin) evhttp_free(g_admin);
  g_admin = nullptr;
}

}  // namespace devhost
