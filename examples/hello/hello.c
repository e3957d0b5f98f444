/* hello: the sample program Anthill deploys in the demo and the tests.
 *
 * A tiny HTTP/1.0 server: GET / greets with the deployed version, GET
 * /healthz answers "ok", GET /version prints the version label. SIGTERM
 * ends it cleanly. An optional file `mode` in its working directory makes it
 * misbehave on purpose, so tests can deploy broken versions:
 *   crash        exit 3 at once
 *   ignore-term  ignore SIGTERM (Anthill must SIGKILL it after stop_timeout)
 *   unhealthy    /healthz answers 500
 *   slow-start   wait 1 s before listening
 *   never-ready  with NOTIFY_SOCKET set, never send READY=1
 *   crash-later  serve (and pass a health check), then die of SIGALRM after 1 s
 *
 * Under systemd-style socket activation (LISTEN_FDS=1, LISTEN_PID = its own
 * pid) it serves the socket it was given (fd 3) instead of binding one, and
 * with NOTIFY_SOCKET set it sends READY=1 once it accepts connections: the
 * zero-downtime swap of Anthill (and systemd) in a hundred lines of C.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static volatile sig_atomic_t stopping = 0;

static void on_term(int sig) {
  (void)sig;
  stopping = 1;
}

static void read_mode(char *mode, size_t size) {
  mode[0] = '\0';
  FILE *f = fopen("mode", "r");
  if (!f) return;
  if (fgets(mode, (int)size, f)) mode[strcspn(mode, " \r\n")] = '\0';
  fclose(f);
}

/* fd 3 when LISTEN_FDS/LISTEN_PID say the socket was passed to this process. */
static int passed_socket(void) {
  const char *fds = getenv("LISTEN_FDS"), *pid = getenv("LISTEN_PID");
  if (!fds || !pid || atoi(fds) < 1 || atoi(pid) != (int)getpid()) return -1;
  return 3;
}

/* sd_notify(0, "READY=1") without libsystemd. */
static void notify_ready(void) {
  const char *path = getenv("NOTIFY_SOCKET");
  if (!path || !*path) return;
  struct sockaddr_un sun;
  memset(&sun, 0, sizeof sun);
  sun.sun_family = AF_UNIX;
  strncpy(sun.sun_path, path, sizeof sun.sun_path - 1);
  if (sun.sun_path[0] == '@') sun.sun_path[0] = '\0'; /* abstract namespace */
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  const char msg[] = "READY=1";
  sendto(fd, msg, sizeof msg - 1, 0, (struct sockaddr *)&sun, sizeof sun);
  close(fd);
}

static void respond(int fd, int status, const char *body) {
  char head[256];
  const char *reason = status == 200 ? "OK" : status == 404 ? "Not Found" : "Internal Server Error";
  int n = snprintf(head, sizeof head,
                   "HTTP/1.0 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                   "Connection: close\r\n\r\n",
                   status, reason, strlen(body));
  if (write(fd, head, (size_t)n) < 0) return;
  if (write(fd, body, strlen(body)) < 0) return;
}

int main(int argc, char **argv) {
  const char *port_text = getenv("PORT") ? getenv("PORT") : "8080";
  for (int i = 1; i + 1 < argc; ++i) {
    if (strcmp(argv[i], "--port") == 0) port_text = argv[i + 1];
  }
  const char *host = getenv("HOST") ? getenv("HOST") : "127.0.0.1";
  const char *version = getenv("ANTHILL_VERSION") ? getenv("ANTHILL_VERSION") : "dev";
  const char *commit = getenv("ANTHILL_COMMIT") ? getenv("ANTHILL_COMMIT") : "-";
  char mode[64];
  read_mode(mode, sizeof mode);

  if (strcmp(mode, "crash") == 0) {
    fprintf(stderr, "hello: crashing on purpose\n");
    return 3;
  }
  /* SIGTERM stays blocked except while waiting for a connection (pselect
   * unblocks it atomically): a request being served is always finished. */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = strcmp(mode, "ignore-term") == 0 ? SIG_IGN : on_term;
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  sigset_t term, waiting;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigprocmask(SIG_BLOCK, &term, &waiting);
  sigdelset(&waiting, SIGTERM);
  if (strcmp(mode, "slow-start") == 0) sleep(1);
  if (strcmp(mode, "crash-later") == 0) alarm(1);

  int server = passed_socket();
  if (server < 0) {
    server = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(server, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)atoi(port_text));
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1 ||
        bind(server, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(server, 128) != 0) {
      fprintf(stderr, "hello: cannot listen on %s:%s: %s\n", host, port_text, strerror(errno));
      return 1;
    }
    printf("hello %s listening on %s:%s (pid %d)\n", version, host, port_text, (int)getpid());
  } else {
    printf("hello %s serving the passed socket (pid %d)\n", version, (int)getpid());
  }
  fflush(stdout);
  /* Non-blocking accept: when another process sharing the socket takes the
   * connection first, go back to waiting (where SIGTERM can arrive). */
  fcntl(server, F_SETFL, fcntl(server, F_GETFL) | O_NONBLOCK);
  if (strcmp(mode, "never-ready") != 0) notify_ready();

  char body[512];
  while (!stopping) {
    fd_set readable;
    FD_ZERO(&readable);
    FD_SET(server, &readable);
    if (pselect(server + 1, &readable, NULL, NULL, NULL, &waiting) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    int fd = accept(server, NULL, NULL);
    if (fd < 0) continue; /* another process sharing the socket took it */
    char request[2048];
    ssize_t n = read(fd, request, sizeof request - 1);
    request[n > 0 ? n : 0] = '\0';
    if (strncmp(request, "GET /healthz ", 13) == 0) {
      if (strcmp(mode, "unhealthy") == 0) {
        respond(fd, 500, "unhealthy on purpose\n");
      } else {
        respond(fd, 200, "ok\n");
      }
    } else if (strncmp(request, "GET /version ", 13) == 0) {
      snprintf(body, sizeof body, "%s\n", version);
      respond(fd, 200, body);
    } else if (strncmp(request, "GET / ", 6) == 0) {
      snprintf(body, sizeof body, "hello from %s (commit %.12s, pid %d)\n", version, commit,
               (int)getpid());
      respond(fd, 200, body);
    } else {
      respond(fd, 404, "not found\n");
    }
    close(fd);
  }
  printf("hello: SIGTERM, shutting down\n");
  close(server);
  return 0;
}
