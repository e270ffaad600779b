// ----------------------------------------------------------------------------------------------------------
// examples/packet_demux.cpp: the question handoff was built to answer, as a program with numbers.
//
// A network handler ("packet arrived"; it must never block for long) demultiplexes packets by id to API
// callers that block until their bytes come ("want_bytes(id, timeout)"). Which hand-off should sit between
// them: a condition (broadcast or signal), an mvar per id, or a bounded stream per id?
//
// The program runs, for each hand-off chosen with --impl:
//   sender thread     sends UDP datagrams to 127.0.0.1 at --rate per second: --packets of them at most, for
//                     --seconds at most; --bad-percent of them malformed (truncated, wrong magic, bad
//                     checksum, id out of range); ids come in bursts of --burst packets for the same id.
//   receiver thread   reads the socket (bound to 127.0.0.1, port 0), parses every datagram
//                     (packet_demux/packet.hpp), rejects the bad ones, hands the good ones over. For
//                     --impl=loop it is an epoll loop over the socket and a control stream through which
//                     the consumers send their requests (packet_demux/loop_demux.hpp): it never blocks
//                     but in epoll_wait, and answers each caller itself. --impl=loop-coroutines: the same
//                     loop, with every consumer a C++20 coroutine on a 2-thread handoff::thread_pool
//                     instead of a thread of its own (it co_awaits its reply box; the loop owns the
//                     timeouts).
//   consumer threads  --consumers-per-id for each of --ids ids, each looping want_bytes(id, --timeout-ms),
//                     then "working" with the bytes for --work-us (a sleep).
// and reports, per hand-off: datagrams sent and read, kernel drops (sent - read: the socket buffer overflowed
// while the receiver did not read), rejected, delivered, lost inside the hand-off, waiters woken per packet,
// the receiver's time blocked in the hand-off (back-pressure), the high-water mark of payload bytes alive,
// and latency percentiles from the packet's arrival (recvmsg returned) to want_bytes returning it.
//
// The program checks itself and exits 1 when a check fails: delivered + lost + rejected == read; no packet
// delivered twice, to the wrong id, or with damaged bytes; rejections by kind never exceed what the sender
// sent of that kind (and match exactly when the kernel dropped nothing); no payload byte left alive.
// Traffic goes only to 127.0.0.1; each run stops by itself (a watchdog aborts a run that outlives
// --seconds by 60 s).
//
// Usage: packet_demux [--impl=all|condition-broadcast|condition-signal|mvar|stream|loop|loop-coroutines]
//          [--ids=64]
//          [--consumers-per-id=1] [--packets=200000] [--seconds=5] [--rate=50000] [--burst=4]
//          [--bad-percent=10] [--capacity=8] [--work-us=20] [--timeout-ms=50] [--rcvbuf=0] [--seed=1]
// ----------------------------------------------------------------------------------------------------------
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <coroutine>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <latch>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <type_traits>
#include <vector>

#include "packet_demux/common.hpp"
#include "packet_demux/mvar_demux.hpp"
#include "packet_demux/packet.hpp"

#if __has_include(<handoff/condition.hpp>)
#include "packet_demux/condition_demux.hpp"
#define PACKET_DEMUX_HAVE_CONDITION 1
#else
#define PACKET_DEMUX_HAVE_CONDITION 0
#endif
#if __has_include(<handoff/stream.hpp>)
#include "packet_demux/stream_demux.hpp"
#define PACKET_DEMUX_HAVE_STREAM 1
#else
#define PACKET_DEMUX_HAVE_STREAM 0
#endif
#if __has_include(<handoff/readiness.hpp>) && __has_include(<handoff/eventfd_notifier.hpp>)
#include "packet_demux/loop_demux.hpp"
#define PACKET_DEMUX_HAVE_LOOP 1
#else
#define PACKET_DEMUX_HAVE_LOOP 0
#endif

namespace {

using namespace std::chrono_literals;
using demux::clock;

// ---------------------------------------------------------------------------------------------- options
struct options {
  std::string impl = "all";
  std::uint32_t ids = 64;
  std::uint32_t consumers_per_id = 1;
  std::uint32_t packets = 200'000;
  double seconds = 5;
  std::uint32_t rate = 50'000;  // datagrams per second; 0 = as fast as the sender can
  std::uint32_t burst = 4;
  std::uint32_t bad_percent = 10;
  std::uint32_t capacity = 8;
  std::uint32_t work_us = 20;
  std::uint32_t timeout_ms = 50;
  std::uint32_t rcvbuf = 0;  // SO_RCVBUF in bytes; 0 = the system default
  std::uint32_t seed = 1;
};

const char* const kUsage =
    "usage: packet_demux [--impl=all|condition-broadcast|condition-signal|mvar|stream|loop|loop-coroutines]\n"
    "         [--ids=N]\n"
    "         [--consumers-per-id=N] [--packets=N] [--seconds=S] [--rate=PER_SECOND (0 = unpaced)]\n"
    "         [--burst=N] [--bad-percent=P] [--capacity=N] [--work-us=US] [--timeout-ms=MS]\n"
    "         [--rcvbuf=BYTES (0 = default)] [--seed=N]\n";

[[noreturn]] void usage_error(const std::string& what) {
  std::fprintf(stderr, "packet_demux: %s\n%s", what.c_str(), kUsage);
  std::exit(2);
}

std::uint32_t parse_uint(std::string_view name, std::string_view text, std::uint32_t lo, std::uint32_t hi) {
  std::uint32_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || v < lo || v > hi) {
    usage_error("--" + std::string(name) + " needs an integer in [" + std::to_string(lo) + ", " +
                std::to_string(hi) + "], not '" + std::string(text) + "'");
  }
  return v;
}

options parse_options(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    const auto eq = arg.find('=');
    if (arg.substr(0, 2) != "--" || eq == std::string_view::npos)
      usage_error("bad argument '" + std::string(arg) + "'");
    const std::string_view name = arg.substr(2, eq - 2);
    const std::string_view value = arg.substr(eq + 1);
    if (name == "impl") {
      o.impl = value;
    } else if (name == "ids") {
      o.ids = parse_uint(name, value, 1, 1024);
    } else if (name == "consumers-per-id") {
      o.consumers_per_id = parse_uint(name, value, 1, 16);
    } else if (name == "packets") {
      o.packets = parse_uint(name, value, 1, 50'000'000);
    } else if (name == "seconds") {
      o.seconds = parse_uint(name, value, 1, 600);
    } else if (name == "rate") {
      o.rate = parse_uint(name, value, 0, 10'000'000);
    } else if (name == "burst") {
      o.burst = parse_uint(name, value, 1, 1'000'000);
    } else if (name == "bad-percent") {
      o.bad_percent = parse_uint(name, value, 0, 100);
    } else if (name == "capacity") {
      o.capacity = parse_uint(name, value, 1, 1'000'000);
    } else if (name == "work-us") {
      o.work_us = parse_uint(name, value, 0, 1'000'000);
    } else if (name == "timeout-ms") {
      o.timeout_ms = parse_uint(name, value, 1, 10'000);
    } else if (name == "rcvbuf") {
      o.rcvbuf = parse_uint(name, value, 0, 1u << 30);
    } else if (name == "seed") {
      o.seed = parse_uint(name, value, 0, 0xFFFFFFFFu);
    } else {
      usage_error("unknown option '--" + std::string(name) + "'");
    }
  }
  if (o.ids * o.consumers_per_id > 1024) usage_error("--ids times --consumers-per-id must be at most 1024");
  return o;
}

// ---------------------------------------------------------------------------------------------- sockets
[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

class udp_socket {
 public:
  udp_socket() : fd_(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
    if (fd_ < 0) throw_errno("socket");
  }
  udp_socket(const udp_socket&) = delete;
  udp_socket& operator=(const udp_socket&) = delete;
  ~udp_socket() { ::close(fd_); }
  int fd() const noexcept { return fd_; }

 private:
  int fd_;
};

sockaddr_in loopback(std::uint16_t port_host_order) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port_host_order);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// Binds `s` to 127.0.0.1 on a port the kernel picks and returns that port.
std::uint16_t bind_loopback(const udp_socket& s, std::uint32_t rcvbuf) {
  if (rcvbuf != 0 && ::setsockopt(s.fd(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) != 0) {
    throw_errno("setsockopt(SO_RCVBUF)");
  }
  const int on = 1;  // ask for the socket's drop counter with every datagram
  if (::setsockopt(s.fd(), SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof on) != 0)
    throw_errno("setsockopt(SO_RXQ_OVFL)");
  sockaddr_in a = loopback(0);
  if (::bind(s.fd(), reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) throw_errno("bind 127.0.0.1:0");
  socklen_t len = sizeof a;
  if (::getsockname(s.fd(), reinterpret_cast<sockaddr*>(&a), &len) != 0) throw_errno("getsockname");
  return ntohs(a.sin_port);
}

int receive_buffer_bytes(const udp_socket& s) {
  int v = 0;
  socklen_t len = sizeof v;
  if (::getsockopt(s.fd(), SOL_SOCKET, SO_RCVBUF, &v, &len) != 0) throw_errno("getsockopt(SO_RCVBUF)");
  return v;
}

// ---------------------------------------------------------------------------------------------- sender
// The bad kinds the sender makes; each is rejected with exactly this parse_error (packet.hpp's check order).
constexpr std::array kBadKinds{demux::parse_error::truncated, demux::parse_error::bad_magic,
                               demux::parse_error::bad_checksum, demux::parse_error::id_out_of_range};

using by_kind = std::array<std::uint64_t, demux::parse_error_count>;

std::byte payload_byte(std::uint32_t seq, std::size_t i) {
  return static_cast<std::byte>((seq * 7 + i) & 0xFF);
}

struct sender_report {
  std::uint64_t sent = 0;         // datagrams the kernel accepted
  std::uint64_t send_failed = 0;  // send() refused (ENOBUFS and the like): not sent
  by_kind sent_bad{};             // sent, by the parse_error they must get
};

void run_sender(const options& o, std::uint16_t port, std::atomic<bool>& done, sender_report& r) {
  udp_socket s;
  const sockaddr_in to = loopback(port);
  if (::connect(s.fd(), reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) throw_errno("connect");
  std::mt19937 rng(o.seed);
  std::array<std::byte, demux::max_datagram> buf{};
  std::array<std::byte, 256> payload{};
  const auto start = clock::now();
  const auto stop =
      start + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(o.seconds));
  std::uint16_t id = 0;
  for (std::uint32_t seq = 0; seq < o.packets; ++seq) {
    if (o.rate != 0) {  // pace: datagram `seq` leaves at start + seq / rate
      const auto due = start + std::chrono::duration_cast<clock::duration>(
                                   std::chrono::duration<double>(static_cast<double>(seq) / o.rate));
      if (due - clock::now() > 200us) std::this_thread::sleep_until(due);
    }
    if ((seq & 255) == 0 && clock::now() >= stop) break;
    if (seq % o.burst == 0) id = static_cast<std::uint16_t>(rng() % o.ids);
    const std::size_t n = 16 + rng() % (payload.size() - 16);
    for (std::size_t i = 0; i < n; ++i) payload[i] = payload_byte(seq, i);
    const bool bad = rng() % 100 < o.bad_percent;
    const demux::parse_error kind = bad ? kBadKinds[rng() % kBadKinds.size()] : demux::parse_error::none;
    const std::uint16_t wire_id = kind == demux::parse_error::id_out_of_range
                                      ? static_cast<std::uint16_t>(o.ids + rng() % (65536 - o.ids))
                                      : id;
    std::size_t size = demux::encode(buf, wire_id, seq, std::span(payload).first(n));
    switch (kind) {
      case demux::parse_error::truncated:
        size = rng() % size;
        break;  // 0 bytes included
      case demux::parse_error::bad_magic:
        buf[rng() % 4] ^= std::byte{0x10};
        break;
      case demux::parse_error::bad_checksum:
        buf[size - 1 - rng() % 4] ^= std::byte{0x01};
        break;
      default:
        break;
    }
    if (::send(s.fd(), buf.data(), size, 0) < 0) {
      if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR) throw_errno("send");
      ++r.send_failed;
      continue;
    }
    ++r.sent;
    if (bad) ++r.sent_bad[static_cast<std::size_t>(kind)];
  }
  done.store(true);  // after the last send returned: its datagram is in the receiver's queue, or dropped
}

// ---------------------------------------------------------------------------------------------- receiver
struct receiver_report {
  std::uint64_t read = 0;
  by_kind rejected{};
  std::uint64_t handed_over = 0;
  std::uint64_t woken = 0;
  clock::duration blocked{0};
  clock::duration max_blocked{0};
  std::uint32_t socket_overflow = 0;  // the kernel's own drop counter (SO_RXQ_OVFL), as of the last datagram
};

// Reads every datagram queued on the socket without blocking and passes each good one to on_good(packet&&),
// which returns the hand-off's handoff_outcome. Counts what it read and rejected in `r`.
template <class OnGood>
void read_queued(const options& o, const udp_socket& s, receiver_report& r, OnGood&& on_good) {
  std::array<std::byte, demux::max_datagram> buf{};
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(std::uint32_t))> control{};
  const demux::parse_limits limits{o.ids, o.packets};
  for (;;) {
    iovec iov{buf.data(), buf.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    const ssize_t len = ::recvmsg(s.fd(), &msg, MSG_DONTWAIT | MSG_TRUNC);  // MSG_TRUNC: the real length
    if (len < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == EINTR) continue;
      throw_errno("recvmsg");
    }
    const auto arrival = clock::now();
    ++r.read;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
        std::memcpy(&r.socket_overflow, CMSG_DATA(c), sizeof r.socket_overflow);
      }
    }
    const std::size_t size = static_cast<std::size_t>(len);
    const demux::parsed_packet p = size > buf.size() ? demux::reject(demux::parse_error::bad_length)
                                                     : demux::parse(std::span(buf).first(size), limits);
    if (p.error != demux::parse_error::none) {
      ++r.rejected[static_cast<std::size_t>(p.error)];
      continue;
    }
    demux::packet good{p.id, p.seq, arrival, demux::payload_bytes(p.payload.begin(), p.payload.end())};
    const demux::handoff_outcome out = on_good(std::move(good));
    ++r.handed_over;
    r.woken += out.woken;
    r.blocked += out.blocked;
    r.max_blocked = std::max(r.max_blocked, out.blocked);
  }
}

// The threaded hand-offs: the receiver polls the socket and hands each packet to the consumers' channels.
template <class Demux>
void run_receiver(const options& o, const udp_socket& s, Demux& d, const std::atomic<bool>& sender_done,
                  receiver_report& r) {
  pollfd pfd{s.fd(), POLLIN, 0};
  for (;;) {
    const int ready = ::poll(&pfd, 1, 20);
    if (ready < 0) {
      if (errno == EINTR) continue;
      throw_errno("poll");
    }
    if (ready == 0) {
      // 20 ms of silence after the sender's last send: every datagram it sent was read or dropped.
      if (sender_done.load()) break;
      continue;
    }
    read_queued(o, s, r, [&](demux::packet&& p) { return d.deliver(std::move(p)); });
  }
  d.finish();
}

#if PACKET_DEMUX_HAVE_LOOP
// The event-loop hand-off (packet_demux/loop_demux.hpp): one epoll loop over the socket and the control
// stream's eventfd; it never blocks anywhere but in epoll_wait, and serves callers' requests itself.
void run_receiver(const options& o, const udp_socket& s, demux::loop_demux& d,
                  const std::atomic<bool>& sender_done, receiver_report& r) {
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) throw_errno("epoll_create1");
  for (const int fd : {s.fd(), d.control_fd()}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) throw_errno("epoll_ctl");
  }
  bool socket_open = true;  // until 20 ms of silence after the sender's last send
  bool sleep_ok = d.serve_requests();
  for (;;) {
    std::array<epoll_event, 2> events{};
    int sleep_ms = sleep_ok ? 20 : 0;
    const clock::time_point due = d.next_deadline();  // coroutine callers' timeouts are the loop's timers
    if (due != clock::time_point::max()) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(due - clock::now()).count();
      sleep_ms = std::min<int>(sleep_ms, static_cast<int>(std::max<std::int64_t>(left, 0)));
    }
    const int n = ::epoll_wait(ep, events.data(), 2, sleep_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("epoll_wait");
    }
    bool control = !sleep_ok;
    for (int i = 0; i < n; ++i) {
      if (events[i].data.fd == s.fd())
        read_queued(o, s, r, [&](demux::packet&& p) { return d.on_packet(std::move(p)); });
      else
        control = true;
    }
    if (control) sleep_ok = d.serve_requests();
    d.expire_due(clock::now());
    if (n == 0 && sleep_ok && sender_done.load()) socket_open = false;
    // Finished once the socket went quiet and every buffered packet was handed to a caller.
    if (!socket_open && !d.holds_packets()) break;
  }
  ::close(ep);
  d.finish();
}
#endif

// ---------------------------------------------------------------------------------------------- consumers
struct consumer_report {
  std::uint64_t delivered = 0;
  std::uint64_t duplicates = 0;  // a sequence number received twice
  std::uint64_t wrong_id = 0;
  std::uint64_t damaged = 0;  // payload bytes not what the sender sent
  std::uint64_t timeouts = 0;
  std::vector<std::int64_t> latency_ns;
};

// A delivered packet: its latency and the checks (id, duplicates, bytes).
void record_delivery(const options& o, std::size_t id, demux::ledger& ledger, consumer_report& r,
                     const demux::want_result& w) {
  r.latency_ns.push_back(
      std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - w.value.arrival).count());
  ++r.delivered;
  if (w.value.id != id) ++r.wrong_id;
  if (w.value.seq >= o.packets || !ledger.mark_received(w.value.seq)) ++r.duplicates;
  for (std::size_t i = 0; i < w.value.payload.size(); ++i) {
    if (w.value.payload[i] != payload_byte(w.value.seq, i)) {
      ++r.damaged;
      break;
    }
  }
}

template <class Demux>
void run_consumer(const options& o, Demux& d, std::size_t id, demux::ledger& ledger, consumer_report& r) {
  const std::chrono::nanoseconds timeout = std::chrono::milliseconds(o.timeout_ms);
  for (;;) {
    demux::want_result w = d.want_bytes(id, timeout);
    if (w.status == handoff::status::closed) return;
    if (w.status == handoff::status::timeout) {
      ++r.timeouts;
      continue;
    }
    record_delivery(o, id, ledger, r, w);
    if (o.work_us != 0)
      std::this_thread::sleep_for(std::chrono::microseconds(o.work_us));  // the caller's work
  }
}

#if PACKET_DEMUX_HAVE_LOOP
// A coroutine type for the coroutine callers: starts at once, frees itself at the end (the awaiters need
// nothing of the promise).
struct detached {
  struct promise_type {
    detached get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
};

// --impl=loop-coroutines: a caller as a coroutine. Its reply box lives in its frame; the loop answers every
// request once (the packet, `timeout` at the deadline, or `closed`), so the co_await needs no timer.
detached run_consumer_coroutine(const options& o, demux::loop_demux& d, std::size_t id, demux::ledger& ledger,
                                consumer_report& r, handoff::thread_pool::executor_type ex,
                                std::latch& done) {
  const std::chrono::nanoseconds timeout = std::chrono::milliseconds(o.timeout_ms);
  for (;;) {
    handoff::mvar<demux::want_result> reply;
    if (!d.request_with_deadline(id, reply, clock::now() + timeout)) break;  // finished: closed
    handoff::result<demux::want_result> answer = co_await reply.async_take(ex);
    const demux::want_result& w = *answer;  // no stop token: the take always gets the loop's answer
    if (w.status == handoff::status::closed) break;
    if (w.status == handoff::status::timeout) {
      ++r.timeouts;
      continue;
    }
    record_delivery(o, id, ledger, r, w);
    if (o.work_us != 0)
      std::this_thread::sleep_for(
          std::chrono::microseconds(o.work_us));  // the caller's work (a pool thread's)
  }
  done.count_down();
}
#endif

// ---------------------------------------------------------------------------------------------- one run
// Aborts the process, naming the run, if a run has not finished within its bound.
class run_watchdog {
 public:
  run_watchdog(std::string name, std::chrono::seconds bound)
      : thread_([this, name = std::move(name), bound] {
          std::unique_lock lock(mutex_);
          if (!cv_.wait_for(lock, bound, [this] { return finished_; })) {
            std::fprintf(stderr, "packet_demux: WATCHDOG: run '%s' still going after %llds; aborting\n",
                         name.c_str(), static_cast<long long>(bound.count()));
            std::abort();
          }
        }) {}
  run_watchdog(const run_watchdog&) = delete;
  run_watchdog& operator=(const run_watchdog&) = delete;
  ~run_watchdog() {
    {
      std::lock_guard lock(mutex_);
      finished_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool finished_ = false;
  std::thread thread_;
};

struct run_result {
  std::string impl;
  bool ok = true;
  sender_report sender;
  receiver_report receiver;
  std::uint64_t delivered = 0, lost = 0, rejected = 0;
  std::int64_t kernel_dropped = 0;
  std::size_t payload_high_water = 0;
  double p50_us = 0, p99_us = 0, max_us = 0;
  double seconds = 0;
};

double percentile_us(const std::vector<std::int64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return static_cast<double>(sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1]) / 1000.0;
}

bool check(bool holds, const std::string& impl, const std::string& what) {
  if (!holds) std::fprintf(stderr, "packet_demux: %s: CHECK FAILED: %s\n", impl.c_str(), what.c_str());
  return holds;
}

// `coroutine_callers` (loop_demux only): the consumers are coroutines on a 2-thread handoff::thread_pool.
template <class Demux, class Make>
run_result run_one(const options& o, const std::string& name, Make make, bool coroutine_callers = false) {
  run_watchdog watchdog(name, std::chrono::seconds(static_cast<long long>(o.seconds) + 60));
  demux::payload_memory::reset();
  run_result res;
  res.impl = name;
  {
    demux::ledger ledger(o.packets);
    Demux d = make(ledger);
    udp_socket rx;
    const std::uint16_t port = bind_loopback(rx, o.rcvbuf);
    const std::size_t consumer_count = std::size_t{o.ids} * o.consumers_per_id;
    std::vector<consumer_report> consumers(consumer_count);
    std::atomic<bool> sender_done{false};
    const auto start = clock::now();
    std::optional<handoff::thread_pool> pool;
    std::latch callers_done(static_cast<std::ptrdiff_t>(coroutine_callers ? consumer_count : 0));
    {
      std::vector<std::jthread> threads;
      threads.reserve(consumer_count + 2);
      if (coroutine_callers) {
#if PACKET_DEMUX_HAVE_LOOP
        if constexpr (std::is_same_v<Demux, demux::loop_demux>) {
          pool.emplace(2);
          for (std::size_t c = 0; c < consumer_count; ++c)
            run_consumer_coroutine(o, d, c % o.ids, ledger, consumers[c], pool->executor(), callers_done);
        }
#endif
      } else {
        for (std::size_t c = 0; c < consumer_count; ++c) {
          threads.emplace_back([&, c] { run_consumer(o, d, c % o.ids, ledger, consumers[c]); });
        }
      }
      threads.emplace_back([&] { run_receiver(o, rx, d, sender_done, res.receiver); });
      threads.emplace_back([&] { run_sender(o, port, sender_done, res.sender); });
    }  // jthread joins: sender, receiver (which calls finish()), then every consumer returns `closed`
    callers_done.wait();  // coroutine callers: each ends once the loop's finish() answered it `closed`
    pool.reset();
    res.seconds = std::chrono::duration<double>(clock::now() - start).count();

    std::vector<std::int64_t> latencies;
    consumer_report sum;
    for (auto& c : consumers) {
      sum.delivered += c.delivered;
      sum.duplicates += c.duplicates;
      sum.wrong_id += c.wrong_id;
      sum.damaged += c.damaged;
      latencies.insert(latencies.end(), c.latency_ns.begin(), c.latency_ns.end());
    }
    std::sort(latencies.begin(), latencies.end());
    res.p50_us = percentile_us(latencies, 0.50);
    res.p99_us = percentile_us(latencies, 0.99);
    res.max_us = latencies.empty() ? 0 : static_cast<double>(latencies.back()) / 1000.0;
    res.delivered = sum.delivered;
    res.lost = ledger.lost();
    for (auto n : res.receiver.rejected) res.rejected += n;
    res.kernel_dropped =
        static_cast<std::int64_t>(res.sender.sent) - static_cast<std::int64_t>(res.receiver.read);

    const auto& r = res.receiver;
    res.ok &= check(res.delivered + res.lost + res.rejected == r.read, name,
                    "delivered " + std::to_string(res.delivered) + " + lost " + std::to_string(res.lost) +
                        " + rejected " + std::to_string(res.rejected) + " != read " + std::to_string(r.read));
    res.ok &= check(r.handed_over + res.rejected == r.read, name, "handed over + rejected != read");
    res.ok &= check(res.kernel_dropped >= 0, name, "read more datagrams than were sent (foreign traffic?)");
    res.ok &= check(sum.duplicates == 0, name, std::to_string(sum.duplicates) + " duplicate deliveries");
    res.ok &= check(sum.wrong_id == 0, name, std::to_string(sum.wrong_id) + " deliveries to the wrong id");
    res.ok &= check(sum.damaged == 0, name, std::to_string(sum.damaged) + " deliveries with damaged bytes");
    for (std::size_t k = 1; k < demux::parse_error_count; ++k) {
      const auto kind = static_cast<demux::parse_error>(k);
      const std::string what = std::string("rejected as ") + demux::to_string(kind) + ": " +
                               std::to_string(r.rejected[k]) + ", sent " +
                               std::to_string(res.sender.sent_bad[k]);
      res.ok &= check(r.rejected[k] <= res.sender.sent_bad[k], name, what);
      if (res.kernel_dropped == 0) res.ok &= check(r.rejected[k] == res.sender.sent_bad[k], name, what);
    }
  }  // the hand-off and everything it held are gone
  res.payload_high_water = demux::payload_memory::high.load();
  res.ok &= check(demux::payload_memory::live.load() == 0, name, "payload bytes still alive after the run");
  return res;
}

// ---------------------------------------------------------------------------------------------- report
// The first three fields of /proc/loadavg, or "?" where it cannot be read: on a shared 2-core machine the
// numbers depend on what else runs.
std::string load_average() {
  std::string text = "?";
  if (std::FILE* f = std::fopen("/proc/loadavg", "r")) {
    double a = 0, b = 0, c = 0;
    if (std::fscanf(f, "%lf %lf %lf", &a, &b, &c) == 3) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.2f %.2f %.2f", a, b, c);
      text = buf;
    }
    std::fclose(f);
  }
  return text;
}

void print_header(const options& o, int rcvbuf) {
  std::printf(
      "packet_demux: ids=%u consumers-per-id=%u packets<=%u seconds<=%g rate=%u/s burst=%u bad=%u%% "
      "capacity=%u work=%uus timeout=%ums seed=%u; receive buffer %d bytes; %u cores, load average %s\n\n",
      o.ids, o.consumers_per_id, o.packets, o.seconds, o.rate, o.burst, o.bad_percent, o.capacity, o.work_us,
      o.timeout_ms, o.seed, rcvbuf, std::thread::hardware_concurrency(), load_average().c_str());
  std::printf(
      "| impl | sent | read | kernel dropped | rejected | delivered | lost | woken/packet | receiver blocked "
      "ms "
      "(max) | payload high-water KiB | p50 us | p99 us | max us |\n"
      "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
}

void print_row(const run_result& r) {
  const double handed = static_cast<double>(r.receiver.handed_over);
  char woken[32] = "-";
  if (r.impl.rfind("condition", 0) == 0 && handed > 0) {
    std::snprintf(woken, sizeof woken, "%.2f", static_cast<double>(r.receiver.woken) / handed);
  }
  std::printf(
      "| %s | %llu | %llu | %lld | %llu | %llu | %llu | %s | %.1f (%.1f) | %.1f | %.0f | %.0f | %.0f |\n",
      r.impl.c_str(), static_cast<unsigned long long>(r.sender.sent),
      static_cast<unsigned long long>(r.receiver.read), static_cast<long long>(r.kernel_dropped),
      static_cast<unsigned long long>(r.rejected), static_cast<unsigned long long>(r.delivered),
      static_cast<unsigned long long>(r.lost), woken,
      std::chrono::duration<double, std::milli>(r.receiver.blocked).count(),
      std::chrono::duration<double, std::milli>(r.receiver.max_blocked).count(),
      static_cast<double>(r.payload_high_water) / 1024.0, r.p50_us, r.p99_us, r.max_us);
  std::fflush(stdout);
}

void print_checks(const run_result& r) {
  std::printf(
      "  %s: delivered %llu + lost %llu + rejected %llu = %llu, read %llu (sent %llu, kernel dropped %lld, "
      "socket overflow counter %u, send failures %llu) in %.2f s: %s\n",
      r.impl.c_str(), static_cast<unsigned long long>(r.delivered), static_cast<unsigned long long>(r.lost),
      static_cast<unsigned long long>(r.rejected),
      static_cast<unsigned long long>(r.delivered + r.lost + r.rejected),
      static_cast<unsigned long long>(r.receiver.read), static_cast<unsigned long long>(r.sender.sent),
      static_cast<long long>(r.kernel_dropped), r.receiver.socket_overflow,
      static_cast<unsigned long long>(r.sender.send_failed), r.seconds, r.ok ? "ok" : "FAILED");
}

struct impl_entry {
  const char* name;
  std::function<run_result(const options&)> run;  // empty: not built (its header is missing)
};

std::vector<impl_entry> all_impls() {
  std::vector<impl_entry> v;
#if PACKET_DEMUX_HAVE_CONDITION
  v.push_back({"condition-broadcast", [](const options& o) {
                 return run_one<demux::condition_broadcast_demux>(
                     o, "condition-broadcast",
                     [&](demux::ledger& l) { return demux::condition_broadcast_demux(o.ids, l); });
               }});
  v.push_back({"condition-signal", [](const options& o) {
                 return run_one<demux::condition_signal_demux>(o, "condition-signal", [&](demux::ledger& l) {
                   return demux::condition_signal_demux(o.ids, l);
                 });
               }});
#else
  v.push_back({"condition-broadcast", {}});
  v.push_back({"condition-signal", {}});
#endif
  v.push_back({"mvar", [](const options& o) {
                 return run_one<demux::mvar_demux>(
                     o, "mvar", [&](demux::ledger& l) { return demux::mvar_demux(o.ids, l); });
               }});
#if PACKET_DEMUX_HAVE_STREAM
  v.push_back({"stream", [](const options& o) {
                 return run_one<demux::stream_demux>(o, "stream", [&](demux::ledger& l) {
                   return demux::stream_demux(o.ids, o.capacity, l);
                 });
               }});
#else
  v.push_back({"stream", {}});
#endif
#if PACKET_DEMUX_HAVE_LOOP
  v.push_back({"loop", [](const options& o) {
                 return run_one<demux::loop_demux>(
                     o, "loop", [&](demux::ledger& l) { return demux::loop_demux(o.ids, o.capacity, l); });
               }});
  v.push_back({"loop-coroutines", [](const options& o) {
                 return run_one<demux::loop_demux>(
                     o, "loop-coroutines",
                     [&](demux::ledger& l) { return demux::loop_demux(o.ids, o.capacity, l); }, true);
               }});
#else
  v.push_back({"loop", {}});
  v.push_back({"loop-coroutines", {}});
#endif
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  const options o = parse_options(argc, argv);
  std::vector<impl_entry> chosen;
  for (auto& e : all_impls()) {
    if (o.impl == "all" || o.impl == e.name) chosen.push_back(e);
  }
  if (chosen.empty()) usage_error("unknown --impl '" + o.impl + "'");
  try {
    {
      udp_socket probe;
      (void)bind_loopback(probe, o.rcvbuf);
      print_header(o, receive_buffer_bytes(probe));
    }
    std::vector<run_result> results;
    std::vector<std::string> skipped;
    for (auto& e : chosen) {
      if (!e.run) {
        skipped.push_back(e.name);
        continue;
      }
      results.push_back(e.run(o));
      print_row(results.back());
    }
    std::printf("\n");
    bool ok = true;
    for (auto& r : results) {
      print_checks(r);
      ok &= r.ok;
    }
    for (auto& name : skipped) {
      std::printf("  %s: not built (its handoff header is missing from this tree)\n", name.c_str());
    }
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    std::printf("  process peak RSS %ld KiB (all runs together)\n", ru.ru_maxrss);
    if (!ok) return 1;
    if (o.impl != "all" && results.empty()) return 1;  // the one asked for was not built
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "packet_demux: %s\n", e.what());
    return 1;
  }
}
