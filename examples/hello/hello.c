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
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = strcmp(mode, "ignore-term") == 0 ? SIG_IGN : on_term;
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  if (strcmp(mode, "slow-start") == 0) sleep(1);

  int server = socket(AF_INET, SOCK_STREAM, 0);
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
  fflush(stdout);

  char body[512];
  while (!stopping) {
    int fd = accept(server, NULL, NULL);
    if (fd < 0) {
      if (errno == EINTR) continue;
      break;
    }
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
