// ---------------------------------------------------------------------------------------------------------------
// handoff/eventfd_notifier.hpp: a file descriptor that a watcher's notifier makes readable (WA-6), for event
// loops that wait in epoll, poll, select or io_uring (handoff/readiness.hpp has the watcher).
//
// Purpose: eventfd_notifier owns one eventfd (Linux; EFD_NONBLOCK | EFD_CLOEXEC) or, where eventfd is
// absent, a pipe whose two ends are nonblocking and close-on-exec. notifier() is the callback to give a
// watcher: it writes to the descriptor, so fd() polls readable (POLLIN / EPOLLIN); consume() reads it back to
// not readable. The write never blocks: a counter already at its limit, or a full pipe, is readable anyway.
// Any number of watchers (of any channels) may share one eventfd_notifier: the loop wakes once and tries
// them all.
// Other loops need no descriptor: a handoff::notifier is any `void(void*) noexcept` function and its
// argument, called outside every channel lock (docs/semantics.md, WA-6):
//   libuv:  notifier{[](void* a) noexcept { uv_async_send(static_cast<uv_async_t*>(a)); }, &async}
//   asio:   notifier{[](void* p) noexcept { static_cast<my_loop*>(p)->post_wakeup(); }, &loop}  (post_wakeup
//           calls asio::post(executor, handler); asio::post may allocate, so catch inside it)
// Errors: the constructor throws std::system_error when the descriptor cannot be created (EMFILE, ...).
// Lifetime: the notifier (and so this object) must outlive every watcher given notifier(), or those
// watchers' unwatch(); the descriptor is closed by the destructor. Not copyable, not movable (a watcher
// holds its address).
// ---------------------------------------------------------------------------------------------------------------
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <system_error>

#if defined(__linux__)
#include <sys/eventfd.h>
#define HANDOFF_HAVE_EVENTFD 1
#endif

#include "readiness.hpp"

namespace handoff {

class eventfd_notifier {
 public:
  eventfd_notifier() {
#if defined(HANDOFF_HAVE_EVENTFD)
    read_fd_ = write_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (read_fd_ < 0)
      throw std::system_error(errno, std::generic_category(), "handoff::eventfd_notifier: eventfd");
#else
    int fds[2];
    if (::pipe(fds) != 0)
      throw std::system_error(errno, std::generic_category(), "handoff::eventfd_notifier: pipe");
    read_fd_ = fds[0];
    write_fd_ = fds[1];
    for (int fd : fds) {
      if (::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK) != 0 ||
          ::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
        const int e = errno;
        close_all();
        throw std::system_error(e, std::generic_category(), "handoff::eventfd_notifier: fcntl");
      }
    }
#endif
  }
  eventfd_notifier(const eventfd_notifier&) = delete;
  eventfd_notifier& operator=(const eventfd_notifier&) = delete;
  ~eventfd_notifier() {
    close_all();
  }

  // The descriptor to poll for readability.
  int fd() const noexcept {
    return read_fd_;
  }

  // The callback for a watcher (stream<T>::watch): makes fd() readable.
  handoff::notifier notifier() noexcept {
    return {&signal, this};
  }

  // Make fd() readable (what the notifier does); callable from any thread.
  void signal_now() noexcept {
    signal(this);
  }

  // Read the descriptor back to not readable (call after the loop woke on it, before it arms again). Returns
  // whether it was readable.
  bool consume() noexcept {
    bool was = false;
#if defined(HANDOFF_HAVE_EVENTFD)
    std::uint64_t count = 0;
    while (::read(read_fd_, &count, sizeof count) == static_cast<ssize_t>(sizeof count)) was = true;
#else
    char buffer[256];
    while (::read(read_fd_, buffer, sizeof buffer) > 0) was = true;
#endif
    return was;
  }

 private:
  static void signal(void* self) noexcept {
    const auto* n = static_cast<const eventfd_notifier*>(self);
    // EAGAIN (the counter at its limit, the pipe full) leaves it readable, as wanted; EINTR: try again.
#if defined(HANDOFF_HAVE_EVENTFD)
    const std::uint64_t one = 1;
    while (::write(n->write_fd_, &one, sizeof one) < 0 && errno == EINTR) {
    }
#else
    const char one = 1;
    while (::write(n->write_fd_, &one, 1) < 0 && errno == EINTR) {
    }
#endif
  }

  void close_all() noexcept {
    if (read_fd_ >= 0) ::close(read_fd_);
    if (write_fd_ >= 0 && write_fd_ != read_fd_) ::close(write_fd_);
    read_fd_ = write_fd_ = -1;
  }

  int read_fd_ = -1;
  int write_fd_ = -1;
};

}  // namespace handoff
