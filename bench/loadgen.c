/*
 * loadgen: the HTTP/1.1 load generator of `npm run bench`. One thread, epoll, keep-alive connections.
 *
 *   closed loop (no -R): each connection sends its next request as soon as the previous response
 *     ended: the maximum rate the server sustains with that many connections in flight.
 *   open loop (-R rate): requests are scheduled at fixed times (rate/connections per connection, the
 *     connections staggered), and each latency is measured from its scheduled time, not from when it
 *     could be sent: a stalled server is charged for every request it delayed (no coordinated
 *     omission, as in wrk2).
 *
 * With -P pid (repeatable) it reads the CPU time those processes used (all their threads:
 * /proc/<pid>/task/<tid>/schedstat, in ns) exactly over the measured window, and their user/system
 * split (/proc/<pid>/stat, in clock ticks), so CPU per request is measured over the same requests.
 *
 * Prints one JSON object on stdout. Exit 2 on bad usage, 1 when nothing could be measured.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNECTIONS 1024
#define MAX_PIDS 16
#define MAX_HEADERS 32
#define READ_BUFFER 65536

typedef struct {
  int fd;
  int index;
  int connected;
  /* Request being written. */
  size_t written;
  int in_flight;
  uint64_t sent_ns;      /* when the request's first byte was written */
  uint64_t scheduled_ns; /* open loop: when it was due */
  uint64_t next_due_ns;  /* open loop: when this connection's next request is due */
  /* Response parser. */
  char head[8192];
  size_t head_length;
  int in_body;
  long long body_left;
  int status;
} connection;

static struct {
  const char* address;
  int port;
  int connections;
  double duration_s;
  double warmup_s;
  double rate;
  const char* method;
  const char* path;
  const char* headers[MAX_HEADERS];
  int header_count;
  long body_bytes;
  int pids[MAX_PIDS];
  int pid_count;
} opt = {"127.0.0.1", 0, 16, 2.0, 0.5, 0, "GET", "/", {0}, 0, 0, {0}, 0};

static char* request_bytes;
static size_t request_length;
static connection conns[MAX_CONNECTIONS];
static int epoll_fd;

/* Measurement window. */
static int measuring;
static uint64_t window_start_ns, window_end_ns, stop_ns;
static uint64_t completed, errors, reconnects;
static uint64_t status_counts[6]; /* 1xx..5xx, [0] other */
static uint64_t* latencies;
static size_t latency_count, latency_capacity;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char* what) {
  fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void usage(void) {
  fprintf(stderr,
          "usage: loadgen -p port [-a 127.0.0.1] [-c connections=16] [-d seconds=2] [-w warmup_seconds=0.5]\n"
          "               [-R requests_per_second (open loop)] [-m method] [-u path] [-H 'name: value']...\n"
          "               [-b body_bytes] [-P pid]...\n");
  exit(2);
}

/* ---- CPU of the measured processes ----------------------------------------------------------- */

typedef struct {
  uint64_t run_ns;      /* sum of schedstat run time over all threads */
  uint64_t user_ticks;  /* /proc/<pid>/stat utime */
  uint64_t system_ticks;
} cpu_sample;

static void read_cpu(int pid, cpu_sample* out) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/task", pid);
  DIR* dir = opendir(path);
  if (dir != NULL) {
    struct dirent* entry;
    while ((entry = readdir(dir)) != NULL) {
      if (entry->d_name[0] == '.') continue;
      char file[300];
      snprintf(file, sizeof file, "/proc/%d/task/%s/schedstat", pid, entry->d_name);
      FILE* f = fopen(file, "r");
      if (f == NULL) continue;
      unsigned long long run = 0;
      if (fscanf(f, "%llu", &run) == 1) out->run_ns += run;
      fclose(f);
    }
    closedir(dir);
  }
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE* f = fopen(path, "r");
  if (f == NULL) return;
  char buffer[1024];
  size_t n = fread(buffer, 1, sizeof buffer - 1, f);
  fclose(f);
  buffer[n] = '\0';
  /* Fields after the command name (which may hold spaces): state is field 3; utime 14, stime 15. */
  char* p = strrchr(buffer, ')');
  if (p == NULL) return;
  unsigned long long utime = 0, stime = 0;
  if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) == 2) {
    out->user_ticks += utime;
    out->system_ticks += stime;
  }
}

static void sample_cpu(cpu_sample* out) {
  memset(out, 0, sizeof *out);
  for (int i = 0; i < opt.pid_count; i++) read_cpu(opt.pids[i], out);
}

/* ---- Connections ----------------------------------------------------------------------------- */

static void watch(connection* c, int want_write) {
  struct epoll_event ev = {.events = EPOLLIN | (want_write ? EPOLLOUT : 0), .data.ptr = c};
  if (epoll_ctl(epoll_fd, EPOLL_CTL_MOD, c->fd, &ev) != 0) die("epoll_ctl");
}

static void open_connection(connection* c) {
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (c->fd < 0) die("socket");
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port)};
  if (inet_pton(AF_INET, opt.address, &addr.sin_addr) != 1) {
    fprintf(stderr, "loadgen: bad address %s\n", opt.address);
    exit(2);
  }
  if (connect(c->fd, (struct sockaddr*)&addr, sizeof addr) != 0 && errno != EINPROGRESS) die("connect");
  c->connected = 0;
  c->written = 0;
  c->in_flight = 0;
  c->head_length = 0;
  c->in_body = 0;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
  if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, c->fd, &ev) != 0) die("epoll_ctl add");
}

/* The server closed or broke the connection: count it and open a fresh one. */
static void reconnect(connection* c) {
  if (c->in_flight && measuring) errors++;
  reconnects++;
  epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  uint64_t scheduled = c->scheduled_ns;
  int was_in_flight = c->in_flight;
  open_connection(c);
  if (was_in_flight) c->next_due_ns = scheduled; /* open loop: the request is retried, still late */
}

static void start_request(connection* c, uint64_t now, uint64_t scheduled) {
  c->in_flight = 1;
  c->written = 0;
  c->sent_ns = now;
  c->scheduled_ns = scheduled;
  c->head_length = 0;
  c->in_body = 0;
  if (!c->connected) return; /* written once connected */
  ssize_t n = write(c->fd, request_bytes, request_length);
  if (n < 0 && errno != EAGAIN) {
    reconnect(c);
    return;
  }
  c->written = n < 0 ? 0 : (size_t)n;
  if (c->written < request_length) watch(c, 1);
}

static void record(connection* c, uint64_t now) {
  if (!measuring || now < window_start_ns || now > window_end_ns) return;
  completed++;
  int bucket = c->status / 100;
  status_counts[bucket >= 1 && bucket <= 5 ? bucket : 0]++;
  uint64_t from = opt.rate > 0 ? c->scheduled_ns : c->sent_ns;
  if (latency_count == latency_capacity) {
    latency_capacity = latency_capacity ? latency_capacity * 2 : 65536;
    latencies = realloc(latencies, latency_capacity * sizeof *latencies);
    if (latencies == NULL) die("realloc");
  }
  latencies[latency_count++] = now - from;
}

/* The response of c ended: record it, and send the next request (closed loop) or schedule it. */
static void response_done(connection* c, uint64_t now) {
  record(c, now);
  c->in_flight = 0;
  if (now >= stop_ns) return;
  if (opt.rate <= 0) {
    start_request(c, now, now);
  } else if (c->next_due_ns <= now) {
    uint64_t due = c->next_due_ns;
    c->next_due_ns += (uint64_t)(1e9 * opt.connections / opt.rate);
    start_request(c, now, due);
  }
}

/* Parses what arrived; returns 0 when the connection must be reopened. */
static int consume(connection* c, const char* data, size_t length, uint64_t now) {
  while (length > 0) {
    if (!c->in_flight) return 0; /* bytes nobody asked for */
    if (c->in_body) {
      size_t take = (long long)length < c->body_left ? length : (size_t)c->body_left;
      c->body_left -= (long long)take;
      data += take;
      length -= take;
      if (c->body_left == 0) {
        c->in_body = 0;
        response_done(c, now);
      }
      continue;
    }
    size_t room = sizeof c->head - 1 - c->head_length;
    size_t take = length < room ? length : room;
    memcpy(c->head + c->head_length, data, take);
    size_t before = c->head_length;
    c->head_length += take;
    c->head[c->head_length] = '\0';
    char* end = strstr(c->head, "\r\n\r\n");
    if (end == NULL) {
      if (c->head_length == sizeof c->head - 1) return 0; /* head too large */
      data += take;
      length -= take;
      continue;
    }
    size_t head_size = (size_t)(end - c->head) + 4;
    size_t used = head_size - before; /* bytes of this read that belonged to the head */
    data += used;
    length -= used;
    c->status = 0;
    if (sscanf(c->head, "HTTP/1.%*d %d", &c->status) != 1) return 0;
    long long content_length = -1;
    for (char* line = strstr(c->head, "\r\n"); line != NULL && line < end; line = strstr(line + 2, "\r\n")) {
      if (strncasecmp(line + 2, "content-length:", 15) == 0) content_length = atoll(line + 17);
    }
    if (content_length < 0) return 0; /* only length-delimited responses are expected */
    c->head_length = 0;
    c->body_left = content_length;
    if (content_length == 0) {
      response_done(c, now);
    } else {
      c->in_body = 1;
    }
  }
  return 1;
}

static void on_event(connection* c, uint32_t events, uint64_t now) {
  if (events & (EPOLLERR | EPOLLHUP) && !(events & EPOLLIN)) {
    reconnect(c);
    return;
  }
  if ((events & EPOLLOUT) && !c->connected) {
    int error = 0;
    socklen_t size = sizeof error;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &size);
    if (error != 0) {
      errno = error;
      die("connect");
    }
    c->connected = 1;
    watch(c, 0);
    if (c->in_flight) start_request(c, now, c->scheduled_ns);
  } else if ((events & EPOLLOUT) && c->in_flight && c->written < request_length) {
    ssize_t n = write(c->fd, request_bytes + c->written, request_length - c->written);
    if (n < 0 && errno != EAGAIN) {
      reconnect(c);
      return;
    }
    if (n > 0) c->written += (size_t)n;
    if (c->written == request_length) watch(c, 0);
  }
  if (events & EPOLLIN) {
    static char buffer[READ_BUFFER];
    for (;;) {
      ssize_t n = read(c->fd, buffer, sizeof buffer);
      if (n > 0) {
        if (!consume(c, buffer, (size_t)n, now)) {
          reconnect(c);
          return;
        }
        if ((size_t)n < sizeof buffer) break;
        continue;
      }
      if (n == 0 || errno != EAGAIN) reconnect(c);
      break;
    }
  }
}

/* ---- Main ------------------------------------------------------------------------------------ */

static void build_request(void) {
  size_t capacity = 4096 + (size_t)opt.body_bytes;
  request_bytes = malloc(capacity);
  if (request_bytes == NULL) die("malloc");
  int n = snprintf(request_bytes, capacity, "%s %s HTTP/1.1\r\nhost: bench\r\n", opt.method, opt.path);
  for (int i = 0; i < opt.header_count; i++) n += snprintf(request_bytes + n, capacity - n, "%s\r\n", opt.headers[i]);
  if (opt.body_bytes > 0) n += snprintf(request_bytes + n, capacity - n, "content-length: %ld\r\n", opt.body_bytes);
  n += snprintf(request_bytes + n, capacity - n, "\r\n");
  for (long i = 0; i < opt.body_bytes; i++) request_bytes[n + i] = (char)('a' + i % 26);
  request_length = (size_t)n + (size_t)opt.body_bytes;
}

static int compare_u64(const void* a, const void* b) {
  uint64_t x = *(const uint64_t*)a, y = *(const uint64_t*)b;
  return x < y ? -1 : x > y;
}

static double percentile_us(double p) {
  if (latency_count == 0) return 0;
  size_t i = (size_t)(p / 100.0 * (double)(latency_count - 1) + 0.5);
  return (double)latencies[i] / 1000.0;
}

int main(int argc, char** argv) {
  int c;
  while ((c = getopt(argc, argv, "a:p:c:d:w:R:m:u:H:b:P:")) != -1) {
    switch (c) {
      case 'a': opt.address = optarg; break;
      case 'p': opt.port = atoi(optarg); break;
      case 'c': opt.connections = atoi(optarg); break;
      case 'd': opt.duration_s = atof(optarg); break;
      case 'w': opt.warmup_s = atof(optarg); break;
      case 'R': opt.rate = atof(optarg); break;
      case 'm': opt.method = optarg; break;
      case 'u': opt.path = optarg; break;
      case 'H':
        if (opt.header_count == MAX_HEADERS) usage();
        opt.headers[opt.header_count++] = optarg;
        break;
      case 'b': opt.body_bytes = atol(optarg); break;
      case 'P':
        if (opt.pid_count == MAX_PIDS) usage();
        opt.pids[opt.pid_count++] = atoi(optarg);
        break;
      default: usage();
    }
  }
  if (opt.port <= 0 || opt.connections <= 0 || opt.connections > MAX_CONNECTIONS || opt.duration_s <= 0) usage();
  build_request();
  epoll_fd = epoll_create1(0);
  if (epoll_fd < 0) die("epoll_create1");
  int timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
  if (timer_fd < 0) die("timerfd_create");
  struct epoll_event timer_ev = {.events = EPOLLIN, .data.ptr = NULL};
  if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, timer_fd, &timer_ev) != 0) die("epoll_ctl timer");

  uint64_t start = now_ns();
  window_start_ns = start + (uint64_t)(opt.warmup_s * 1e9);
  window_end_ns = window_start_ns + (uint64_t)(opt.duration_s * 1e9);
  stop_ns = window_end_ns;
  measuring = 1;
  uint64_t interval = opt.rate > 0 ? (uint64_t)(1e9 * opt.connections / opt.rate) : 0;
  for (int i = 0; i < opt.connections; i++) {
    conns[i].index = i;
    open_connection(&conns[i]);
    conns[i].next_due_ns = start + interval * (uint64_t)i / (uint64_t)opt.connections;
    if (opt.rate <= 0) start_request(&conns[i], start, start);
  }
  cpu_sample cpu_before = {0}, cpu_after = {0};
  int window_open = 0, window_closed = 0;
  struct epoll_event events[256];
  for (;;) {
    uint64_t now = now_ns();
    if (!window_open && now >= window_start_ns) {
      sample_cpu(&cpu_before);
      window_open = 1;
    }
    if (!window_closed && now >= window_end_ns) {
      sample_cpu(&cpu_after);
      window_closed = 1;
    }
    if (now >= stop_ns) break;
    uint64_t wake = window_open ? window_end_ns : window_start_ns;
    if (opt.rate > 0) {
      for (int i = 0; i < opt.connections; i++) {
        connection* k = &conns[i];
        if (k->in_flight) continue;
        if (k->next_due_ns <= now) {
          uint64_t due = k->next_due_ns;
          k->next_due_ns += interval;
          start_request(k, now, due);
        } else if (k->next_due_ns < wake) {
          wake = k->next_due_ns;
        }
      }
    }
    struct itimerspec when = {.it_value = {.tv_sec = (time_t)(wake / 1000000000ull), .tv_nsec = (long)(wake % 1000000000ull)}};
    timerfd_settime(timer_fd, TFD_TIMER_ABSTIME, &when, NULL);
    int n = epoll_wait(epoll_fd, events, 256, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    now = now_ns();
    for (int i = 0; i < n; i++) {
      if (events[i].data.ptr == NULL) {
        uint64_t expirations;
        if (read(timer_fd, &expirations, sizeof expirations) < 0 && errno != EAGAIN) die("timerfd read");
        continue;
      }
      on_event((connection*)events[i].data.ptr, events[i].events, now);
    }
  }
  if (!window_closed) sample_cpu(&cpu_after);
  /* Open loop: a request due in the window and still unanswered at its end counts with the latency
     it has so far (a lower bound), so a server that stalls at the end is not let off. */
  uint64_t unfinished = 0;
  if (opt.rate > 0) {
    uint64_t end = now_ns();
    for (int i = 0; i < opt.connections; i++) {
      if (!conns[i].in_flight || conns[i].scheduled_ns < window_start_ns) continue;
      unfinished++;
      if (latency_count == latency_capacity) break;
      latencies[latency_count++] = end - conns[i].scheduled_ns;
    }
  }
  qsort(latencies, latency_count, sizeof *latencies, compare_u64);
  double seconds = (double)(window_end_ns - window_start_ns) / 1e9;
  long ticks = sysconf(_SC_CLK_TCK);
  printf("{\"mode\":\"%s\",\"connections\":%d,\"rate\":%.0f,\"seconds\":%.3f,\"requests\":%llu,\"rps\":%.1f,"
         "\"errors\":%llu,\"reconnects\":%llu,\"unfinished\":%llu,"
         "\"status\":{\"1xx\":%llu,\"2xx\":%llu,\"3xx\":%llu,\"4xx\":%llu,\"5xx\":%llu,\"other\":%llu},"
         "\"latency_us\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f},"
         "\"cpu\":{\"run_ns\":%llu,\"user_ms\":%.0f,\"system_ms\":%.0f}}\n",
         opt.rate > 0 ? "open" : "closed", opt.connections, opt.rate, seconds, (unsigned long long)completed,
         (double)completed / seconds, (unsigned long long)errors, (unsigned long long)reconnects,
         (unsigned long long)unfinished, (unsigned long long)status_counts[1], (unsigned long long)status_counts[2],
         (unsigned long long)status_counts[3], (unsigned long long)status_counts[4], (unsigned long long)status_counts[5],
         (unsigned long long)status_counts[0], percentile_us(50), percentile_us(90), percentile_us(99), percentile_us(99.9),
         latency_count ? (double)latencies[latency_count - 1] / 1000.0 : 0.0,
         (unsigned long long)(cpu_after.run_ns - cpu_before.run_ns),
         (double)(cpu_after.user_ticks - cpu_before.user_ticks) * 1000.0 / (double)ticks,
         (double)(cpu_after.system_ticks - cpu_before.system_ticks) * 1000.0 / (double)ticks);
  return completed > 0 ? 0 : 1;
}
