#include "artifact/s3_store.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "artifact/blocking.h"
#include "artifact/digest.h"
#include "artifact/pack.h"
#include "base/strings.h"

namespace anthill::artifact {

namespace fs = std::filesystem;

namespace {

// The SHA-256 of no bytes: the payload hash of a GET or DELETE.
constexpr char kEmptySha256[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr size_t kErrorBodyBytes = 300;

// curl_global_init is not thread-safe and must run before any handle is
// made; the first request, on whichever pool thread, does it once.
void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

bool Unreserved(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

// Each byte but RFC 3986's unreserved ones as %XX (upper case, as SigV4's
// canonical URI spells it, so the path sent is the path signed).
std::string PercentEncode(std::string_view segment) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : segment) {
    if (Unreserved(c)) {
      out += c;
    } else {
      auto b = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 0xf];
    }
  }
  return out;
}

std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    out.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string ValidBucket(std::string_view b) {
  if (b.size() < 3 || b.size() > 63) return "must be 3 to 63 characters";
  for (char c : b) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) {
      return "may hold only a-z, 0-9, '.' and '-'";
    }
  }
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(b.front()) || !alnum(b.back())) return "must begin and end with a letter or digit";
  return "";
}

// One request's state, shared with libcurl's callbacks.
struct Transfer {
  CURL* curl = nullptr;
  int download_fd = -1;  // GET: where a 2xx body goes
  Sha256 sha;
  int64_t received = 0;
  std::string error_body;   // the first bytes of a non-2xx answer
  std::string write_error;  // a failed write to download_fd
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t length = size * count;
  long code = 0;
  curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &code);
  // An error answer (S3's XML) must not land in the artifact: it is kept
  // for the message instead.
  if (code < 200 || code >= 300 || t->download_fd < 0) {
    size_t room = kErrorBodyBytes - std::min(kErrorBodyBytes, t->error_body.size());
    t->error_body.append(data, std::min(room, length));
    return length;
  }
  for (size_t done = 0; done < length;) {
    ssize_t n = write(t->download_fd, data + done, length - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      t->write_error = std::strerror(errno);
      return 0;  // libcurl stops with CURLE_WRITE_ERROR
    }
    done += static_cast<size_t>(n);
  }
  t->sha.Update(data, length);
  t->received += static_cast<int64_t>(length);
  return length;
}

struct CurlFree {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

// What a failed transfer means for the caller (status.h's kinds).
bool Unreachable(CURLcode rc) {
  switch (rc) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
      return true;
    default:
      return false;
  }
}

std::string OneLine(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return text;
}

}  // namespace

Result<S3Location> ParseS3(std::string_view url, std::string endpoint, std::string region) {
  const std::string shown = "artifact store URL '" + std::string(url) + "'";
  constexpr std::string_view kScheme = "s3://";
  if (!StartsWith(url, kScheme)) {
    return Status::InvalidArgument(shown + ": must be s3://<bucket>[/<prefix>]");
  }
  std::string_view rest = url.substr(kScheme.size());
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  size_t slash = rest.find('/');
  S3Location loc;
  loc.bucket = std::string(rest.substr(0, slash));
  std::string why = ValidBucket(loc.bucket);
  if (!why.empty()) {
    return Status::InvalidArgument(shown + ": bucket '" + loc.bucket + "' " + why);
  }
  if (slash != std::string_view::npos) {
    loc.prefix = std::string(rest.substr(slash + 1));
    for (std::string_view segment : Segments(loc.prefix)) {
      if (segment.empty() || segment == "." || segment == "..") {
        return Status::InvalidArgument(shown + ": prefix '" + loc.prefix +
                                       "' has an empty, '.' or '..' segment");
      }
    }
  }
  loc.region = region.empty() ? "us-east-1" : std::move(region);
  if (endpoint.empty()) endpoint = "https://s3." + loc.region + ".amazonaws.com";
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  if (!StartsWith(endpoint, "http://") && !StartsWith(endpoint, "https://")) {
    return Status::InvalidArgument("S3 endpoint '" + endpoint +
                                   "' must start with http:// or https://");
  }
  loc.endpoint = std::move(endpoint);
  return loc;
}

Result<S3ArtifactStore::Credentials> S3ArtifactStore::CredentialsFromEnvironment() {
  auto get = [](const char* name) -> std::optional<std::string> {
    const char* v = std::getenv(name);
    if (v == nullptr || *v == '\0') return std::nullopt;
    return std::string(v);
  };
  std::optional<std::string> id = get("AWS_ACCESS_KEY_ID");
  std::optional<std::string> secret = get("AWS_SECRET_ACCESS_KEY");
  std::vector<std::string> missing;
  if (!id) missing.push_back("AWS_ACCESS_KEY_ID");
  if (!secret) missing.push_back("AWS_SECRET_ACCESS_KEY");
  if (!missing.empty()) {
    std::string names =
        missing.size() == 1 ? missing[0] + " is" : missing[0] + " and " + missing[1] + " are";
    return Status::InvalidArgument(names +
                                   " not set (the S3 artifact store needs AWS_ACCESS_KEY_ID and "
                                   "AWS_SECRET_ACCESS_KEY; AWS_SESSION_TOKEN is optional)");
  }
  return Credentials{std::move(*id), std::move(*secret), get("AWS_SESSION_TOKEN")};
}

S3ArtifactStore::S3ArtifactStore(S3Location location, Credentials credentials)
    : location_(std::move(location)), credentials_(std::move(credentials)) {}

std::string S3ArtifactStore::Describe() const {
  return "s3://" + location_.bucket + (location_.prefix.empty() ? "" : "/" + location_.prefix);
}

std::string S3ArtifactStore::ObjectUrl(std::string_view key) const {
  std::string url = location_.endpoint + "/" + location_.bucket;
  if (!location_.prefix.empty()) {
    for (std::string_view s : Segments(location_.prefix)) url += "/" + PercentEncode(s);
  }
  for (std::string_view s : Segments(key)) url += "/" + PercentEncode(s);
  return url;
}

namespace {

// One signed request. `upload` (PUT) is sent as the body with
// `payload_sha256` as its hash; a 2xx body goes to `download_fd` (GET).
struct Request {
  const char* method = "GET";
  std::string url;
  std::string payload_sha256 = kEmptySha256;
  FILE* upload = nullptr;
  int64_t upload_size = 0;
  int download_fd = -1;
  std::vector<std::string> headers;
};

Status Perform(const Request& r, const S3ArtifactStore::Credentials& credentials,
               const S3Location& location, Transfer& t) {
  InitCurlOnce();
  std::unique_ptr<CURL, CurlFree> curl(curl_easy_init());
  if (!curl) return Status::Internal("S3: curl_easy_init failed");
  CURL* c = curl.get();
  t.curl = c;
  t.download_fd = r.download_fd;
  const std::string what = std::string("S3 ") + r.method + " " + r.url;

  // libcurl signs the request (SigV4) with every header given here,
  // x-amz-content-sha256 included, whose value it also takes as the
  // payload hash: so it must be the body's real SHA-256.
  std::unique_ptr<curl_slist, CurlFree> headers;
  std::vector<std::string> lines = r.headers;
  lines.push_back("x-amz-content-sha256: " + r.payload_sha256);
  if (credentials.session_token) {
    lines.push_back("x-amz-security-token: " + *credentials.session_token);
  }
  for (const std::string& line : lines) {
    curl_slist* more = curl_slist_append(headers.get(), line.c_str());
    if (more == nullptr) return Status::Internal(what + ": out of memory");
    headers.release();
    headers.reset(more);
  }
  const std::string sigv4 = "aws:amz:" + location.region + ":s3";
  char error[CURL_ERROR_SIZE] = "";

  curl_easy_setopt(c, CURLOPT_URL, r.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // a pool thread: no SIGALRM for DNS timeouts
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4.c_str());
  curl_easy_setopt(c, CURLOPT_USERNAME, credentials.access_key_id.c_str());
  curl_easy_setopt(c, CURLOPT_PASSWORD, credentials.secret_access_key.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  // Ten seconds to connect; after that a transfer may take as long as it
  // needs, unless it crawls below 1 KiB/s for a whole minute (a stalled
  // connection, which no total timeout could tell from a big artifact).
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  if (r.upload != nullptr) {
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);  // a PUT of READDATA's bytes
    curl_easy_setopt(c, CURLOPT_READDATA, r.upload);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(r.upload_size));
  } else if (std::string_view(r.method) != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r.method);
  }

  CURLcode rc = curl_easy_perform(c);
  if (!t.write_error.empty()) return Status::Internal(what + ": cannot write: " + t.write_error);
  if (rc != CURLE_OK) {
    std::string why = what + ": " + (error[0] != '\0' ? error : curl_easy_strerror(rc));
    return Unreachable(rc) ? Status::Unavailable(why) : Status::Internal(why);
  }
  long code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  if (code >= 200 && code < 300) return Status::Ok();
  std::string why = what + ": HTTP " + std::to_string(code) +
                    (t.error_body.empty() ? "" : ": " + OneLine(t.error_body));
  if (code == 404) return Status::NotFound(why);
  if (code == 401 || code == 403) return Status::Unauthenticated(why);
  return Status::Internal(why);
}

}  // namespace

ArtifactStore::Awaitable<Status> S3ArtifactStore::Put(ArtifactRef ref, fs::path file) {
  auto job = [this, ref, file] { return PutBlocking(ref, file); };
  Awaitable<Status> done = RunBlocking(std::move(job));
  co_return co_await std::move(done);
}

ArtifactStore::Awaitable<Status> S3ArtifactStore::Get(ArtifactRef ref, fs::path dest) {
  auto job = [this, ref, dest] { return GetBlocking(ref, dest); };
  Awaitable<Status> done = RunBlocking(std::move(job));
  co_return co_await std::move(done);
}

ArtifactStore::Awaitable<Status> S3ArtifactStore::Remove(ArtifactRef ref) {
  auto job = [this, ref] { return RemoveBlocking(ref); };
  Awaitable<Status> done = RunBlocking(std::move(job));
  co_return co_await std::move(done);
}

Status S3ArtifactStore::PutBlocking(const ArtifactRef& ref, const fs::path& file) const {
  if (!ValidKey(ref.key)) return Status::InvalidArgument("invalid artifact key '" + ref.key + "'");
  // Hashed before sending: the digest is the payload hash SigV4 needs up
  // front, and a file that is not what the record says is never uploaded.
  Result<Packed> got = HashFile(file);
  if (!got.ok()) return got.status();
  Status same =
      Verify("artifact " + ref.key + " from " + file.string(), *got, ref.sha256, ref.size);
  if (!same.ok()) return same;
  FILE* in = std::fopen(file.c_str(), "rb");
  if (in == nullptr) {
    return Status::Internal("cannot open " + file.string() + ": " + std::strerror(errno));
  }
  Request r;
  r.method = "PUT";
  r.url = ObjectUrl(ref.key);
  r.payload_sha256 = got->sha256;
  r.upload = in;
  r.upload_size = got->size;
  r.headers.push_back("x-amz-meta-sha256: " + got->sha256);
  r.headers.push_back("Content-Type: application/octet-stream");
  Transfer t;
  Status sent = Perform(r, credentials_, location_, t);
  std::fclose(in);
  return sent;
}

Status S3ArtifactStore::GetBlocking(const ArtifactRef& ref, const fs::path& dest) const {
  if (!ValidKey(ref.key)) return Status::InvalidArgument("invalid artifact key '" + ref.key + "'");
  const fs::path tmp = TempSibling(dest);
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Status::Internal("cannot create " + tmp.string() + ": " + std::strerror(errno));
  }
  Request r;
  r.url = ObjectUrl(ref.key);
  r.download_fd = fd;
  Transfer t;
  Status got = Perform(r, credentials_, location_, t);
  if (got.ok()) {
    got = Verify("artifact " + ref.key + " from " + Describe(),
                 Packed{t.sha.HexDigest(), t.received}, ref.sha256, ref.size);
  }
  if (got.ok() && fsync(fd) != 0) {
    got = Status::Internal("cannot sync " + tmp.string() + ": " + std::strerror(errno));
  }
  close(fd);
  if (got.ok() && rename(tmp.c_str(), dest.c_str()) != 0) {
    got = Status::Internal("cannot rename " + tmp.string() + " to " + dest.string() + ": " +
                           std::strerror(errno));
  }
  if (!got.ok()) unlink(tmp.c_str());
  return got;
}

Status S3ArtifactStore::RemoveBlocking(const ArtifactRef& ref) const {
  if (!ValidKey(ref.key)) return Status::InvalidArgument("invalid artifact key '" + ref.key + "'");
  Request r;
  r.method = "DELETE";
  r.url = ObjectUrl(ref.key);
  Transfer t;
  Status removed = Perform(r, credentials_, location_, t);
  if (removed.code() == StatusCode::kNotFound) return Status::Ok();
  return removed;
}

}  // namespace anthill::artifact
