#include "artifact/blocking.h"

#include <openssl/crypto.h>

namespace anthill::artifact {

boost::asio::thread_pool& BlockingPool() {
  // OpenSSL (hashing here, TLS inside libcurl) keeps state per thread that
  // it frees when the thread ends, unless its own exit handler (registered
  // by its first initialisation) has already run. Exit handlers and
  // statics are undone in the reverse order of their making: initialised
  // before the pool, OpenSSL is cleaned up only after the pool's threads
  // have been joined. (Options 0 would do nothing: OpenSSL returns early
  // for options it has "already done".)
  static const bool openssl_ready = OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, nullptr) == 1;
  (void)openssl_ready;
  // A function-local static: made on first use (most processes never
  // transfer an artifact), and its destructor at exit waits for jobs under
  // way rather than cutting a file copy short.
  static boost::asio::thread_pool pool(2);
  return pool;
}

}  // namespace anthill::artifact
