// Reading a connection's socket in one go, as Envoy does.
#pragma once

#include <sys/ioctl.h>
#include <sys/uio.h>

#include <algorithm>
#include <cstddef>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

namespace devhost {

// One readv of `want` bytes (the socket holds at least that many) into input's free space.
inline size_t readInto(evbuffer* input, evutil_socket_t fd, size_t want) {
  evbuffer_iovec reserved[2];
  const int reserved_count = evbuffer_reserve_space(input, static_cast<ev_ssize_t>(want), reserved, 2);
  if (reserved_count <= 0) return 0;
  iovec to_read[2];
  int count = 0;
  for (size_t left = want; count < reserved_count && left > 0; count++) {
    const size_t length = std::min(reserved[count].iov_len, left);
    to_read[count] = iovec{reserved[count].iov_base, length};
    left -= length;
  }
  const ssize_t got = readv(fd, to_read, count);
  if (got <= 0) {
    evbuffer_commit_space(input, reserved, 0);
    return 0;
  }
  size_t unfilled = static_cast<size_t>(got);
  for (int i = 0; i < count; i++) {
    reserved[i].iov_len = std::min(to_read[i].iov_len, unfilled);
    unfilled -= reserved[i].iov_len;
  }
  evbuffer_commit_space(input, reserved, count);
  return static_cast<size_t>(got);
}

// libevent 2.1's socket bufferevent reads at most 4096 bytes per read (EVBUFFER_MAX_READ), then
// calls the read callback, and reads the next 4096 bytes only after another epoll_wait: a 64 KiB
// request took 17 rounds of epoll_wait + FIONREAD ioctl + readv, each also a pass through the codec
// and the filter chain with a 4 KiB body frame. Envoy reads what the socket holds in one readv into
// 16 KiB slices (until the connection's buffer limit) and dispatches that once.
//
// Envoy's largest single read: 8 slices of 16 KiB (its buffer's read reservation).
constexpr size_t kMaxReadBytes = 8 * 16 * 1024;

// Called first thing in a read callback: reads the rest of what the socket holds now into the
// bufferevent's input, up to kMaxReadBytes in all for this callback and `limit` bytes buffered. Reads only bytes the socket reports
// (FIONREAD), so an EOF or a socket error is never consumed here: libevent's own next read reports it
// through the event callback as before. Returns the bytes read. The connection's worker thread.
inline size_t readHeldBytes(bufferevent* bev, size_t limit) {
  evbuffer* input = bufferevent_get_input(bev);
  const evutil_socket_t fd = bufferevent_getfd(bev);
  const size_t buffered = evbuffer_get_length(input);
  if (fd < 0 || buffered >= limit) return 0;
  int available = 0;
  if (ioctl(fd, FIONREAD, &available) != 0 || available <= 0) return 0;
  const size_t want = std::min({static_cast<size_t>(available), limit - buffered, kMaxReadBytes - std::min(buffered, kMaxReadBytes)});
  if (want == 0) return 0;
  // A socket bufferevent keeps its input's end frozen except while it reads itself: thaw it likewise.
  evbuffer_unfreeze(input, 0);
  const size_t got = readInto(input, fd, want);
  evbuffer_freeze(input, 0);
  return got;
}

}  // namespace devhost
