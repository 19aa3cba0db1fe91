/* neurodyn serve RUN_DIR and train ... --live PORT: the report page of a run
 * served over HTTP by libmicrohttpd, with the run's new metrics lines,
 * figures and recorded frames pushed to the page as server-sent events
 * (docs/report.md).
 *
 * Read-only: GET (and HEAD) of "/" (the page), "/events" (the event
 * stream) and "/file/NAME" (config.json, metrics.jsonl or a PNG of the run
 * directory, NAME a plain file name); nothing else, and no request changes
 * anything.  Bound to 127.0.0.1 unless --host names another address and
 * --allow-remote is given.  Each connection has its own thread (libmicrohttpd
 * THREAD_PER_CONNECTION) that tails the run's files; what it holds is a few
 * offsets and one event (at most EVENT_FLOATS frame values), and chunk files
 * are read through one shared cache, so memory stays bounded whatever the
 * clients do; a client that goes away ends its thread at the next write. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "commands.h"
#include "options.h"
#include "report.h"

#ifdef ND_HAVE_MHD
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>

#include <microhttpd.h>

#define EVENT_FLOATS (64 * 1024)  /* frame values in one chunk event (256 KiB, 350 KB of base64) */
#define LINE_MAX_BYTES (64 * 1024) /* a longer metrics line is skipped */
#define CONFIG_MAX_BYTES (1 << 20)
#define MAX_STREAMS 256
#define MAX_PNGS 256
#define MAX_CONNECTIONS 256
#define POLL_US 200000  /* how often a connection looks for news */
#define KEEPALIVE_S 10  /* a comment line this often: a gone client is noticed */

typedef struct server {
  struct MHD_Daemon *daemon;
  pthread_mutex_t mu;        /* dir, the chunk cache */
  char dir[PATH_MAX];        /* "" until the run directory is known (--live) */
  char name[256];            /* shown in the page */
  char *page;                /* the live page, built once */
  size_t page_len;
  volatile sig_atomic_t stopping;
  /* one chunk file read, shared by the connections */
  char cache_path[PATH_MAX + 64];
  float *cache;
  int64_t cache_frames;
} server;

static server g_srv = {.mu = PTHREAD_MUTEX_INITIALIZER};
static bool g_live = false;

typedef struct sent_png {
  char name[256];
  long long version;
} sent_png;

/* One /events connection. */
typedef struct conn {
  char *out;                 /* the event being sent */
  size_t out_len, out_pos, out_cap;
  bool hello, had_dir;
  long long config_version;
  off_t metrics_off;
  bool skipping_line;        /* inside a line longer than LINE_MAX_BYTES */
  char *line;                /* LINE_MAX_BYTES */
  long long index_version;
  nd_record_index ix;
  int nstreams;
  char stream_name[MAX_STREAMS][ND_RECORD_NAME_MAX + 1];
  int64_t stream_sent[MAX_STREAMS]; /* frames sent; -1: not yet announced */
  sent_png pngs[MAX_PNGS];
  int npngs;
  double last_png_scan, last_write;
} conn;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static long long version_of(const struct stat *st) {
  return (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec + (long long)st->st_size * 7919;
}

static void current_dir(char *buf, size_t len) {
  pthread_mutex_lock(&g_srv.mu);
  snprintf(buf, len, "%s", g_srv.dir);
  pthread_mutex_unlock(&g_srv.mu);
}

/* Appends "event: type\ndata: json\n\n" (json: one line). */
static bool put_event(conn *c, const char *type, const char *json) {
  size_t need = strlen(type) + strlen(json) + 32;
  if (c->out_len + need > c->out_cap) {
    size_t cap = c->out_len + need;
    char *p = realloc(c->out, cap);
    if (!p) return false;
    c->out = p, c->out_cap = cap;
  }
  c->out_len += (size_t)sprintf(c->out + c->out_len, "event: %s\ndata: %s\n\n", type, json);
  return true;
}

static bool put_json(conn *c, const char *type, cJSON *j) {
  char *text = j ? cJSON_PrintUnformatted(j) : NULL;
  bool ok = text && put_event(c, type, text);
  cJSON_free(text);
  cJSON_Delete(j);
  return ok;
}

static void conn_reset(conn *c) {
  nd_record_index_release(&c->ix);
  free(c->out);
  free(c->line);
  memset(c, 0, sizeof *c);
}

static bool hello(conn *c, const char *dir) {
  cJSON *h = cJSON_CreateObject();
  cJSON_AddStringToObject(h, "name", g_srv.name);
  if (dir[0]) cJSON_AddStringToObject(h, "dir", dir);
  c->hello = true, c->had_dir = dir[0] != '\0';
  return put_json(c, "hello", h);
}

static bool config_event(conn *c, const char *dir) {
  char path[PATH_MAX + 32];
  snprintf(path, sizeof path, "%s/config.json", dir);
  struct stat st;
  if (stat(path, &st) || !S_ISREG(st.st_mode) || st.st_size > CONFIG_MAX_BYTES || version_of(&st) == c->config_version)
    return false;
  void *buf;
  size_t len;
  if (nd_file_read_all(path, &buf, &len) != ND_OK) return false;
  cJSON *j = cJSON_ParseWithLength(buf, len);
  free(buf);
  c->config_version = version_of(&st);
  return cJSON_IsObject(j) ? put_json(c, "config", j) : (cJSON_Delete(j), false);
}

/* The next complete line of metrics.jsonl after c->metrics_off. */
static bool metrics_event(conn *c, const char *dir) {
  char path[PATH_MAX + 32];
  snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return false;
  struct stat st;
  bool sent = false;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    if (st.st_size < c->metrics_off) c->metrics_off = 0; /* rewritten: start again */
    if (!c->line && !(c->line = malloc(LINE_MAX_BYTES + 1))) st.st_size = 0;
    char *line = c->line;
    while (!sent && st.st_size > c->metrics_off) {
      ssize_t n = pread(fd, line, LINE_MAX_BYTES, c->metrics_off);
      if (n <= 0) break;
      char *nl = memchr(line, '\n', (size_t)n);
      if (!nl) {
        if (n < LINE_MAX_BYTES) break; /* unfinished line: the writer is at it */
        c->metrics_off += n, c->skipping_line = true;
        continue;
      }
      c->metrics_off += nl - line + 1;
      if (c->skipping_line) {
        c->skipping_line = false;
        continue;
      }
      size_t n_line = (size_t)(nl - line);
      while (n_line && line[n_line - 1] == '\r') n_line--;
      cJSON *j = cJSON_ParseWithLength(line, n_line);
      if (cJSON_IsObject(j)) { /* sent as written: cJSON would round the last digit */
        line[n_line] = '\0';
        sent = put_event(c, "metrics", line);
      }
      cJSON_Delete(j);
    }
  }
  close(fd);
  return sent;
}

static bool png_event(conn *c, const char *dir) {
  double t = now_s();
  if (t - c->last_png_scan < 1.0) return false;
  DIR *d = opendir(dir);
  if (!d) return false;
  bool sent = false;
  for (struct dirent *e; !sent && (e = readdir(d));) {
    size_t n = strlen(e->d_name);
    if (e->d_name[0] == '.' || n < 5 || n >= sizeof c->pngs[0].name || strcmp(e->d_name + n - 4, ".png")) continue;
    char path[PATH_MAX + 300];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    struct stat st;
    if (stat(path, &st) || !S_ISREG(st.st_mode)) continue;
    int i = 0;
    while (i < c->npngs && strcmp(c->pngs[i].name, e->d_name)) i++;
    if (i < c->npngs && c->pngs[i].version == version_of(&st)) continue;
    if (i == c->npngs) {
      if (c->npngs == MAX_PNGS) continue;
      snprintf(c->pngs[c->npngs++].name, sizeof c->pngs[0].name, "%s", e->d_name);
    }
    c->pngs[i].version = version_of(&st);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "name", e->d_name);
    cJSON_AddNumberToObject(j, "version", (double)(c->pngs[i].version % 1000000000000LL));
    sent = put_json(c, "png", j);
  }
  closedir(d);
  if (!sent) c->last_png_scan = t;
  return sent;
}

/* The chunk event for frames [from, from + count) of chunk ci, read through
 * the shared cache. */
static cJSON *chunk_json(const char *rdir, const nd_record_stream_info *s, int ci, int64_t from, int64_t count) {
  char path[PATH_MAX + 64];
  snprintf(path, sizeof path, "%s/%s", rdir, s->chunks[ci].file);
  cJSON *j = NULL;
  pthread_mutex_lock(&g_srv.mu);
  if (strcmp(path, g_srv.cache_path) || !g_srv.cache) {
    free(g_srv.cache);
    g_srv.cache = NULL, g_srv.cache_path[0] = '\0';
    if (nd_report_chunk_read(rdir, s, ci, &g_srv.cache) == ND_OK) {
      snprintf(g_srv.cache_path, sizeof g_srv.cache_path, "%s", path);
      g_srv.cache_frames = s->chunks[ci].frames;
    }
  }
  if (g_srv.cache && g_srv.cache_frames == s->chunks[ci].frames)
    j = nd_report_chunk_json(g_srv.cache, s->frame_size, s->chunks[ci].t0, from, count, 1);
  pthread_mutex_unlock(&g_srv.mu);
  if (j) cJSON_AddStringToObject(j, "stream", s->name);
  return j;
}

static bool stream_events(conn *c, const char *dir) {
  char rdir[PATH_MAX + 16], ipath[PATH_MAX + 32];
  snprintf(rdir, sizeof rdir, "%s/record", dir);
  snprintf(ipath, sizeof ipath, "%s/index.json", rdir);
  struct stat st;
  if (stat(ipath, &st) == 0 && version_of(&st) != c->index_version) {
    nd_record_index ix;
    if (nd_record_index_read(ipath, &ix) == ND_OK) {
      nd_record_index_release(&c->ix);
      c->ix = ix;
      c->index_version = version_of(&st);
    }
  }
  for (int i = 0; i < c->ix.nstreams; i++) {
    const nd_record_stream_info *s = &c->ix.streams[i];
    int k = 0;
    while (k < c->nstreams && strcmp(c->stream_name[k], s->name)) k++;
    if (k == c->nstreams) {
      if (k == MAX_STREAMS) continue;
      snprintf(c->stream_name[k], sizeof c->stream_name[k], "%s", s->name);
      c->stream_sent[k] = -1;
      c->nstreams++;
    }
    if (c->stream_sent[k] < 0) {
      cJSON *j;
      if (nd_report_stream_json(rdir, s, 1, &j) != ND_OK) continue;
      c->stream_sent[k] = 0;
      return put_json(c, "stream", j);
    }
    int64_t sent = c->stream_sent[k];
    if (sent >= s->frames) continue;
    int ci = 0;
    while (ci < s->nchunks && s->chunks[ci].t0 + s->chunks[ci].frames <= sent) ci++;
    if (ci == s->nchunks) continue;
    int64_t from = sent - s->chunks[ci].t0, per = EVENT_FLOATS / (s->frame_size > 0 ? s->frame_size : 1);
    int64_t count = s->chunks[ci].frames - from;
    if (per < 1) per = 1;
    if (count > per) count = per;
    cJSON *j = chunk_json(rdir, s, ci, from, count);
    c->stream_sent[k] = sent + count; /* an unreadable chunk is skipped, not retried forever */
    if (j) return put_json(c, "chunk", j);
  }
  return false;
}

/* The next event into c->out; false when there is nothing new. */
static bool next_event(conn *c) {
  char dir[PATH_MAX];
  current_dir(dir, sizeof dir);
  if (!c->hello || (dir[0] && !c->had_dir)) return hello(c, dir);
  if (!dir[0]) return false;
  return config_event(c, dir) || metrics_event(c, dir) || stream_events(c, dir) || png_event(c, dir);
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max) {
  (void)pos;
  conn *c = cls;
  for (;;) {
    if (c->out_pos < c->out_len) {
      size_t n = c->out_len - c->out_pos < max ? c->out_len - c->out_pos : max;
      memcpy(buf, c->out + c->out_pos, n);
      c->out_pos += n;
      c->last_write = now_s();
      return (ssize_t)n;
    }
    c->out_len = c->out_pos = 0;
    if (c->out_cap > 4 * EVENT_FLOATS * 2) { /* give back a large event's buffer */
      free(c->out);
      c->out = NULL, c->out_cap = 0;
    }
    if (g_srv.stopping) return MHD_CONTENT_READER_END_OF_STREAM;
    if (next_event(c)) continue;
    if (now_s() - c->last_write > KEEPALIVE_S) {
      if (!put_event(c, "ping", "{}")) return MHD_CONTENT_READER_END_WITH_ERROR;
      continue;
    }
    usleep(POLL_US);
  }
}

static void sse_free(void *cls) {
  conn *c = cls;
  conn_reset(c);
  free(c);
}

static enum MHD_Result reply(struct MHD_Connection *mc, unsigned code, struct MHD_Response *r, const char *type) {
  if (!r) return MHD_NO;
  if (type) MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
  MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
  enum MHD_Result ok = MHD_queue_response(mc, code, r);
  MHD_destroy_response(r);
  return ok;
}

static enum MHD_Result text_reply(struct MHD_Connection *mc, unsigned code, const char *msg) {
  struct MHD_Response *r = MHD_create_response_from_buffer(strlen(msg), (void *)msg, MHD_RESPMEM_MUST_COPY);
  return reply(mc, code, r, "text/plain; charset=utf-8");
}

static bool plain_name(const char *s) {
  if (!s[0] || s[0] == '.' || strlen(s) > 200) return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' ||
          *s == '.'))
      return false;
  return true;
}

static enum MHD_Result file_reply(struct MHD_Connection *mc, const char *name) {
  size_t n = strlen(name);
  bool png = n > 4 && !strcmp(name + n - 4, ".png");
  if (!plain_name(name) || !(png || !strcmp(name, "config.json") || !strcmp(name, "metrics.jsonl")))
    return text_reply(mc, MHD_HTTP_NOT_FOUND, "not found\n");
  char dir[PATH_MAX], path[PATH_MAX + 256];
  current_dir(dir, sizeof dir);
  snprintf(path, sizeof path, "%s/%s", dir, name);
  int fd = dir[0] ? open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK) : -1;
  struct stat st;
  if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
    if (fd >= 0) close(fd);
    return text_reply(mc, MHD_HTTP_NOT_FOUND, "not found\n");
  }
  struct MHD_Response *r = MHD_create_response_from_fd((size_t)st.st_size, fd); /* closes fd */
  return reply(mc, MHD_HTTP_OK, r, png ? "image/png" : name[0] == 'c' ? "application/json" : "text/plain; charset=utf-8");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
  (void)cls, (void)version, (void)upload, (void)con_cls;
  if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
    return text_reply(mc, MHD_HTTP_METHOD_NOT_ALLOWED, "read-only: GET only\n");
  if (*upload_size) return text_reply(mc, MHD_HTTP_BAD_REQUEST, "no request body\n");
  if (!strcmp(url, "/") || !strcmp(url, "/index.html")) {
    struct MHD_Response *r = MHD_create_response_from_buffer(g_srv.page_len, g_srv.page, MHD_RESPMEM_PERSISTENT);
    return reply(mc, MHD_HTTP_OK, r, "text/html; charset=utf-8");
  }
  if (!strcmp(url, "/events")) {
    conn *c = calloc(1, sizeof *c);
    if (!c) return MHD_NO;
    c->last_write = now_s();
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, sse_read, c, sse_free);
    if (!r) {
      free(c);
      return MHD_NO;
    }
    return reply(mc, MHD_HTTP_OK, r, "text/event-stream");
  }
  if (!strncmp(url, "/file/", 6)) return file_reply(mc, url + 6);
  return text_reply(mc, MHD_HTTP_NOT_FOUND, "not found\n");
}

/* 127.0.0.0/8 */
static bool loopback(struct in_addr a) { return (ntohl(a.s_addr) >> 24) == 127; }

/* Starts the server; returns 0 or the exit code (message printed). */
static int start(const char *prog, const char *host, bool allow_remote, int port, const char *name) {
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  if (!strcmp(host, "localhost")) host = "127.0.0.1";
  if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
    return nd_cli_fail(2, prog, "--host %s: not an IPv4 address", host);
  if (!loopback(sa.sin_addr) && !allow_remote)
    return nd_cli_fail(2, prog,
                       "--host %s: not a loopback address; the page would be visible to the network "
                       "(give --allow-remote to do that)",
                       host);
  snprintf(g_srv.name, sizeof g_srv.name, "%s", name);
  cJSON *data = cJSON_CreateObject(), *runs = cJSON_AddArrayToObject(data, "runs"), *run = cJSON_CreateObject();
  cJSON_AddStringToObject(run, "name", name);
  cJSON_AddNullToObject(run, "config");
  cJSON *m = cJSON_AddObjectToObject(run, "metrics");
  cJSON_AddArrayToObject(m, "keys");
  cJSON_AddNumberToObject(m, "n", 0);
  cJSON_AddObjectToObject(m, "columns");
  cJSON_AddArrayToObject(run, "pngs");
  cJSON_AddArrayToObject(run, "streams");
  cJSON_AddItemToArray(runs, run);
  cJSON_AddBoolToObject(data, "live", true);
  cJSON_AddBoolToObject(data, "compare", false);
  char title[400];
  snprintf(title, sizeof title, "neurodyn live: %s", name);
  nd_status s = nd_report_page(data, title, &g_srv.page, &g_srv.page_len);
  cJSON_Delete(data);
  if (s != ND_OK) return nd_cli_fail(nd_cli_status_code(s), prog, "%s", nd_last_error());
  signal(SIGPIPE, SIG_IGN);
  g_srv.stopping = 0;
  g_srv.daemon = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL,
                                  (uint16_t)port, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, &sa,
                                  MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
                                  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(4 * KEEPALIVE_S),
                                  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
                                  MHD_OPTION_THREAD_STACK_SIZE, (size_t)(1 << 20), MHD_OPTION_END);
  if (!g_srv.daemon) {
    free(g_srv.page);
    g_srv.page = NULL;
    return nd_cli_fail(2, prog, "cannot listen on %s:%d (%s)", host, port, errno ? strerror(errno) : "in use?");
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(g_srv.daemon, MHD_DAEMON_INFO_BIND_PORT);
  printf("serving %s at http://%s:%u/ (read-only%s)\n", name, host, info ? info->port : (unsigned)port,
         allow_remote && !loopback(sa.sin_addr) ? ", visible to the network" : "");
  fflush(stdout);
  return 0;
}

static void stop(void) {
  if (!g_srv.daemon) return;
  g_srv.stopping = 1;
  MHD_stop_daemon(g_srv.daemon); /* waits for the connection threads, which see `stopping` */
  g_srv.daemon = NULL;
  free(g_srv.page);
  free(g_srv.cache);
  g_srv.page = NULL, g_srv.cache = NULL, g_srv.cache_path[0] = '\0';
}

#define HAVE_SERVER 1
#else
#define HAVE_SERVER 0
#endif

static int check_port(const char *prog, int64_t port) {
  if (port < 0 || port > 65535) return nd_cli_fail(2, prog, "--port %lld: need 0 ... 65535 (0: any free port)", (long long)port);
  return 0;
}

static volatile sig_atomic_t g_stop = 0;
static void on_stop(int sig) {
  (void)sig;
  g_stop = 1;
}

int nd_cli_serve(int argc, char **argv) {
  const char *prog = "neurodyn serve", *host;
  int64_t port;
  bool allow_remote;
  const nd_option table[] = {
      {"port", ND_OPT_INT64, &port, "8765", "TCP port (0: any free one; the address is printed)", NULL},
      {"host", ND_OPT_STRING, &host, "127.0.0.1", "IPv4 address to listen on (a loopback address unless --allow-remote)", NULL},
      {"allow-remote", ND_OPT_BOOL, &allow_remote, "false", "allow --host to be an address other machines reach", NULL},
      ND_OPT_END,
  };
  const nd_opts spec = {prog, "[options] RUN_DIR",
                        "Serves the report page of RUN_DIR (see neurodyn report --help) on http://127.0.0.1:PORT/\n"
                        "and streams the run's new metrics lines, figures and recorded frames to open pages as\n"
                        "server-sent events, while the run is written.  Read-only: only GET of the page, the\n"
                        "event stream and the run's config.json, metrics.jsonl and PNG files.  Runs until\n"
                        "Ctrl-C.  `neurodyn train MODEL ... --live PORT` does the same for a training run.",
                        table, 1, 1};
  nd_args args;
  int rc = nd_opts_parse(&spec, argc, argv, &args);
  if (rc != ND_OPTS_CONTINUE) return rc;
  rc = check_port(prog, port);
  struct stat st;
  if (!rc && stat(args.pos[0], &st) != 0) rc = nd_cli_fail(2, prog, "%s: no such directory", args.pos[0]);
  if (!rc && !S_ISDIR(st.st_mode)) rc = nd_cli_fail(2, prog, "%s: not a directory", args.pos[0]);
#if HAVE_SERVER
  if (!rc) {
    snprintf(g_srv.dir, sizeof g_srv.dir, "%s", args.pos[0]);
    const char *slash = strrchr(args.pos[0], '/');
    rc = start(prog, host, allow_remote, (int)port, slash && slash[1] ? slash + 1 : args.pos[0]);
  }
  if (!rc) {
    signal(SIGINT, on_stop);
    signal(SIGTERM, on_stop);
    while (!g_stop) usleep(100000);
    stop();
  }
#else
  (void)host, (void)allow_remote;
  if (!rc) rc = nd_cli_fail(2, prog, "this neurodyn was built without libmicrohttpd (Debian libmicrohttpd-dev)");
#endif
  nd_args_release(&args);
  return rc;
}

/* ------------------------------------------------------------ train --live */

int nd_live_start(const char *cmd, int port) {
  char prog[128];
  snprintf(prog, sizeof prog, "neurodyn %s", cmd);
  if (check_port(prog, port)) return 2;
#if HAVE_SERVER
  g_srv.dir[0] = '\0';
  int rc = start(prog, "127.0.0.1", false, port, cmd);
  g_live = rc == 0;
  return rc;
#else
  return nd_cli_fail(2, prog, "--live: this neurodyn was built without libmicrohttpd (Debian libmicrohttpd-dev)");
#endif
}

void nd_live_set_dir(const char *dir) {
#if HAVE_SERVER
  if (!g_live) return;
  pthread_mutex_lock(&g_srv.mu);
  snprintf(g_srv.dir, sizeof g_srv.dir, "%s", dir);
  pthread_mutex_unlock(&g_srv.mu);
#else
  (void)dir;
#endif
}

void nd_live_stop(void) {
#if HAVE_SERVER
  if (!g_live) return;
  stop();
  g_live = false;
#endif
}
