// lib/debug_report.cpp: the blocked-thread dump of handoff/debug.hpp (blocked_threads, format, dump_blocked,
// dump_on_signal) and the block-timing switch.
#include <handoff/debug.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <ostream>
#include <string>
#include <thread>

#include "blocked_registry.hpp"

#if defined(__unix__)
#include <fcntl.h>
#include <unistd.h>
#endif

namespace handoff::debug {

long this_thread_id() noexcept {
  return detail::current_thread_id();
}

bool reserve_thread_record() noexcept {
  return detail::reserve_this_thread_record();
}

std::vector<blocked_thread> blocked_threads(bool with_facts) {
  std::vector<blocked_thread> out;
  const std::int64_t now = detail::steady_now_ns();
  const std::int64_t system_now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count();
  detail::visit_records([&](const detail::record_copy& r) {
    if (!r.blocked) return;
    blocked_thread t;
    t.thread_id = r.thread_id;
    t.blocked_for = std::chrono::nanoseconds(now - r.since_ns);
    t.has_deadline = r.deadline_kind != detail::deadline::clock_kind::never;
    if (t.has_deadline)
      t.deadline_in = std::chrono::nanoseconds(
          r.deadline_ns - (r.deadline_kind == detail::deadline::clock_kind::steady ? now : system_now));
    t.stoppable = r.stoppable;
    t.case_count = r.count;
    for (std::uint32_t i = 0; i < r.count && i < detail::record_copy::max_sites; ++i) {
      blocked_case c;
      const detail::channel_info* ch = r.sites[i].channel;
      c.channel = ch ? ch->label() : std::string("(unknown)");
      c.operation = detail::wait_op_name(r.sites[i].op);
      // Safe under the registry's mutex, which visit_records holds (detail/channel_info.hpp).
      if (with_facts && ch) ch->describe(c.facts);
      t.cases.push_back(std::move(c));
    }
    out.push_back(std::move(t));
  });
  return out;
}

namespace {

std::string seconds(std::chrono::nanoseconds d) {
  char buf[48];
  const double s = std::chrono::duration<double>(d).count();
  if (s >= 60 || s <= -60)
    std::snprintf(buf, sizeof buf, "%.1f min", s / 60);
  else
    std::snprintf(buf, sizeof buf, "%.3g s", s);
  return buf;
}

}  // namespace

std::string format(const blocked_thread& t) {
  std::string line = "thread " + std::to_string(t.thread_id) + " [";
  if (t.case_count > 1) line += "select: ";
  for (std::size_t i = 0; i < t.cases.size(); ++i) {
    if (i) line += " | ";
    line += t.cases[i].channel + " " + t.cases[i].operation;
  }
  if (t.case_count > t.cases.size())
    line += " | " + std::to_string(t.case_count - t.cases.size()) + " more cases";
  line += ", " + seconds(t.blocked_for) + "]: ";
  line += t.has_deadline ? "deadline in " + seconds(t.deadline_in) : std::string("no deadline");
  line += t.stoppable ? ", stop token" : ", no stop token";
  for (const blocked_case& c : t.cases)
    if (!c.facts.empty()) line += "\n    " + c.channel + ": " + c.facts;
  return line;
}

void dump_blocked(std::ostream& out) {
  const std::vector<blocked_thread> threads = blocked_threads(true);
  out << "handoff: " << threads.size() << " thread" << (threads.size() == 1 ? "" : "s")
      << " parked in handoff\n";
  for (const blocked_thread& t : threads) out << "  " << format(t) << '\n';
  out.flush();
}

void set_block_timing(bool on) noexcept {
  detail::set_block_timing(on);
}
bool block_timing() noexcept {
  return detail::block_timing_on();
}

#if defined(__unix__)
namespace {

int signal_pipe_write = -1;  // written once, before the handler is installed
std::atomic<std::size_t> dumps_printed{0};

extern "C" void on_dump_signal(int) {
  const int saved = errno;
  const char byte = 1;
  (void)!::write(signal_pipe_write, &byte,
                 1);  // async-signal-safe; a full pipe drops a request (one is enough)
  errno = saved;
}

bool install_dump_on_signal(int sig) {
  int fds[2];
  if (::pipe(fds) != 0) return false;
  for (int fd : fds) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  ::fcntl(fds[1], F_SETFL, O_NONBLOCK);
  signal_pipe_write = fds[1];
  try {
    std::thread([read_end = fds[0]] {
      char byte;
      for (;;) {
        const ssize_t n = ::read(read_end, &byte, 1);
        if (n == 1) {
          std::fprintf(stderr, "handoff: signal received, blocked threads:\n");
          std::string text;
          for (const blocked_thread& t : blocked_threads(true)) text += "  " + format(t) + "\n";
          if (text.empty()) text = "  (none)\n";
          std::fputs(text.c_str(), stderr);
          std::fflush(stderr);
          dumps_printed.fetch_add(1, std::memory_order_release);  // release: the text is out before the count
        } else if (n < 0 && errno == EINTR) {
          continue;
        } else {
          return;
        }
      }
    }).detach();
  } catch (...) {
    return false;
  }
  struct sigaction sa {};
  sa.sa_handler = on_dump_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  return ::sigaction(sig, &sa, nullptr) == 0;
}

}  // namespace

bool dump_on_signal(int sig) {
  static const bool installed = install_dump_on_signal(sig);
  return installed;
}
std::size_t signal_dumps() noexcept {
  return dumps_printed.load(std::memory_order_acquire);
}
#else
bool dump_on_signal(int) {
  return false;
}
std::size_t signal_dumps() noexcept {
  return 0;
}
#endif

}  // namespace handoff::debug
