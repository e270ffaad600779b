// ----------------------------------------------------------------------------------------------------------
// examples/packet_demux/packet.hpp: the wire format of the packet-demux example, its encoder and its parser.
//
// Purpose: the network handler must survive any datagram anyone on the machine sends to its port, so the
// parser treats its input as hostile: it reads only inside the span it is given, never trusts a length field,
// and reports exactly one reason for every rejected datagram. It allocates nothing and never throws.
//
// Wire format (all integers big-endian):
//   offset 0        u32 magic, "HOFF"
//   offset 4        u16 id       (which consumer the bytes are for; must be < limits.ids)
//   offset 6        u16 length n (payload bytes; at most max_payload)
//   offset 8        u32 seq      (sender's sequence number; must be < limits.seqs)
//   offset 12       n bytes of payload
//   offset 12 + n   u32 checksum: FNV-1a (32 bit) over bytes [0, 12 + n)
// Checks run in this order, and the first failing one names the error: size below the smallest packet
// (truncated), magic (bad_magic), length field above max_payload (bad_length), size below 12 + n + 4
// (truncated), size above it (bad_length: trailing bytes), checksum (bad_checksum), id (id_out_of_range),
// seq (seq_out_of_range). FNV-1a detects every change confined to one byte (each step is a bijection of the
// state), so any single-bit corruption of a good packet is rejected.
// ----------------------------------------------------------------------------------------------------------
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace demux {

inline constexpr std::uint32_t wire_magic = 0x484F4646;  // "HOFF"
inline constexpr std::size_t header_size = 12;
inline constexpr std::size_t checksum_size = 4;
inline constexpr std::size_t max_payload = 1024;
inline constexpr std::size_t min_datagram = header_size + checksum_size;
inline constexpr std::size_t max_datagram = header_size + max_payload + checksum_size;

enum class parse_error : unsigned char {
  none,  // a good packet
  truncated,
  bad_magic,
  bad_length,
  bad_checksum,
  id_out_of_range,
  seq_out_of_range,
};
inline constexpr std::size_t parse_error_count = 7;

inline const char* to_string(parse_error e) noexcept {
  switch (e) {
    case parse_error::none:
      return "none";
    case parse_error::truncated:
      return "truncated";
    case parse_error::bad_magic:
      return "bad_magic";
    case parse_error::bad_length:
      return "bad_length";
    case parse_error::bad_checksum:
      return "bad_checksum";
    case parse_error::id_out_of_range:
      return "id_out_of_range";
    case parse_error::seq_out_of_range:
      return "seq_out_of_range";
  }
  return "unknown";
}

// What the receiver accepts: ids in [0, ids), sequence numbers in [0, seqs).
struct parse_limits {
  std::uint32_t ids;
  std::uint32_t seqs;
};

// The result of parse(). When error != none, the other fields are unspecified (zero / empty).
struct parsed_packet {
  parse_error error = parse_error::none;
  std::uint16_t id = 0;
  std::uint32_t seq = 0;
  std::span<const std::byte> payload;  // a view into the datagram that was parsed
};

inline std::uint32_t fnv1a(std::span<const std::byte> bytes) noexcept {
  std::uint32_t h = 2166136261u;
  for (std::byte b : bytes) {
    h ^= static_cast<std::uint32_t>(b);
    h *= 16777619u;
  }
  return h;
}

namespace wire {
inline std::uint32_t load16(const std::byte* p) noexcept {
  return (static_cast<std::uint32_t>(p[0]) << 8) | static_cast<std::uint32_t>(p[1]);
}
inline std::uint32_t load32(const std::byte* p) noexcept {
  return (load16(p) << 16) | load16(p + 2);
}
inline void store16(std::byte* p, std::uint32_t v) noexcept {
  p[0] = static_cast<std::byte>(v >> 8);
  p[1] = static_cast<std::byte>(v);
}
inline void store32(std::byte* p, std::uint32_t v) noexcept {
  store16(p, v >> 16);
  store16(p + 2, v);
}
}  // namespace wire

// Writes a packet into `out` and returns its size, or 0 (nothing written) if the payload is longer than
// max_payload or `out` is too small.
inline std::size_t encode(std::span<std::byte> out, std::uint16_t id, std::uint32_t seq,
                          std::span<const std::byte> payload) noexcept {
  const std::size_t size = header_size + payload.size() + checksum_size;
  if (payload.size() > max_payload || out.size() < size) return 0;
  std::byte* p = out.data();
  wire::store32(p, wire_magic);
  wire::store16(p + 4, id);
  wire::store16(p + 6, static_cast<std::uint32_t>(payload.size()));
  wire::store32(p + 8, seq);
  for (std::size_t i = 0; i < payload.size(); ++i) p[header_size + i] = payload[i];
  wire::store32(p + header_size + payload.size(), fnv1a(out.first(header_size + payload.size())));
  return size;
}

inline parsed_packet reject(parse_error e) noexcept {
  parsed_packet r;
  r.error = e;
  return r;
}

inline parsed_packet parse(std::span<const std::byte> d, parse_limits limits) noexcept {
  parsed_packet r;
  if (d.size() < min_datagram) return reject(parse_error::truncated);
  if (wire::load32(d.data()) != wire_magic) return reject(parse_error::bad_magic);
  const std::size_t length = wire::load16(d.data() + 6);
  if (length > max_payload) return reject(parse_error::bad_length);
  const std::size_t expected = header_size + length + checksum_size;
  if (d.size() < expected) return reject(parse_error::truncated);
  if (d.size() > expected) return reject(parse_error::bad_length);
  if (wire::load32(d.data() + header_size + length) != fnv1a(d.first(header_size + length))) {
    return reject(parse_error::bad_checksum);
  }
  const std::uint32_t id = wire::load16(d.data() + 4);
  const std::uint32_t seq = wire::load32(d.data() + 8);
  if (id >= limits.ids) return reject(parse_error::id_out_of_range);
  if (seq >= limits.seqs) return reject(parse_error::seq_out_of_range);
  r.id = static_cast<std::uint16_t>(id);
  r.seq = seq;
  r.payload = d.subspan(header_size, length);
  return r;
}

}  // namespace demux
