/// Decimal number scanners for the line parser (internal to data/): eight digits at a time
/// (SWAR), no bounds checks. The text must hold a non-digit ('\n') ahead of any number and
/// `read_slack` readable bytes after it.
#pragma once

#include <bit>
#include <charconv>
#include <cstdint>
#include <cstring>

namespace recflow::detail {

/// Bytes the scanners may read past the '\n' that ends the text.
inline constexpr std::size_t read_slack = 16;

static_assert(std::endian::native == std::endian::little, "the digit scanner loads little-endian");

inline bool is_digit(char c) noexcept {
  return static_cast<unsigned>(static_cast<unsigned char>(c)) - '0' < 10u;
}

/// Value of eight digit bytes (0..9 each, the first in the lowest byte).
inline std::uint64_t eight_digits(std::uint64_t d) noexcept {
  d = d * 10 + (d >> 8);
  return (((d & 0x000000ff000000ffull) * (100 + (1000000ull << 32)))
          + (((d >> 16) & 0x000000ff000000ffull) * (1 + (10000ull << 32))))
         >> 32;
}

inline constexpr std::uint64_t pow10_int[] = {1,      10,      100,      1000,     10000,
                                              100000, 1000000, 10000000, 100000000};

/// Scans the run of digits at `p` eight bytes at a time; returns its end and sets `acc`
/// to its value (modulo 2^64: callers check the length before trusting long runs).
inline const char* scan_digits(const char* p, std::uint64_t& acc) noexcept {
  acc = 0;
  for (;;) {
    std::uint64_t d;
    std::memcpy(&d, p, 8);
    d ^= 0x3030303030303030ull;  // digits become 0..9
    // High bit of a byte set when it is not a digit (a carry out of a non-digit byte can
    // only disturb later bytes, which do not matter).
    std::uint64_t non_digit = ((d + 0x7676767676767676ull) | d) & 0x8080808080808080ull;
    if (non_digit == 0) {
      acc = acc * 100000000 + eight_digits(d);
      p += 8;
      continue;
    }
    auto len = static_cast<unsigned>(std::countr_zero(non_digit)) >> 3;
    if (len) acc = acc * pow10_int[len] + eight_digits(d << (8 * (8 - len)));
    return p + len;
  }
}

enum class num_status { ok, syntax, overflow };

/// Parses a decimal integer, with a leading '-' if `allow_minus`; returns where it ends.
inline const char* parse_int(const char* p, bool allow_minus, std::int64_t& out,
                             num_status& st) noexcept {
  const char* s = p;
  bool neg = allow_minus && *p == '-';
  p += neg;
  std::uint64_t acc;
  const char* e = scan_digits(p, acc);
  auto n = e - p;
  if (n == 0) {
    st = num_status::syntax;
  } else if (n > 18) {  // may not fit: let the library check the range
    auto r = std::from_chars(s, e, out);
    st = r.ec == std::errc{} ? num_status::ok : num_status::overflow;
  } else {
    out = neg ? -static_cast<std::int64_t>(acc) : static_cast<std::int64_t>(acc);
    st = num_status::ok;
  }
  return e;
}

/// m and m / 10 for m < 1024, rounded once at compile time: the usual ratings ("4",
/// "3.5", "4.0") without a division on the hot path.
struct small_decimals {
  double value[2][1024];
  constexpr small_decimals() : value{} {
    for (int m = 0; m < 1024; ++m) {
      value[0][m] = m;
      value[1][m] = m / 10.0;
    }
  }
};
inline constexpr small_decimals small_decimal_table{};

inline constexpr double pow10_double[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                          1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

/// Parses a decimal number. With at most 15 digits and no exponent both the mantissa and
/// the power of ten are exact doubles, so one division rounds correctly; anything else
/// (exponents, long mantissas, nan, inf) goes to std::from_chars.
inline const char* parse_double(const char* p, double& out, bool& ok) noexcept {
  ok = true;
  if (is_digit(p[0])) {  // the usual ratings: "4" and "3.5", straight from the table
    auto e = [](char c) { return (c | 0x20) == 'e'; };
    if (p[1] == '.' && is_digit(p[2]) && !is_digit(p[3]) && !e(p[3])) {
      out = small_decimal_table.value[1][(p[0] - '0') * 10 + (p[2] - '0')];
      return p + 3;
    }
    if (!is_digit(p[1]) && p[1] != '.' && !e(p[1])) {
      out = p[0] - '0';
      return p + 1;
    }
  }
  const char* s = p;
  bool neg = *p == '-';
  p += neg;
  std::uint64_t whole, frac = 0;
  const char* e = scan_digits(p, whole);
  auto digits = e - p;
  std::ptrdiff_t frac_digits = 0;
  if (*e == '.') {
    const char* f = e + 1;
    e = scan_digits(f, frac);
    frac_digits = e - f;
    digits += frac_digits;
  }
  if (digits == 0 || digits > 15 || *e == 'e' || *e == 'E') {
    const char* end = s;
    while (*end != '\n') ++end;
    auto r = std::from_chars(s, end, out);
    ok = r.ec == std::errc{};
    return ok ? r.ptr : s;
  }
  auto m = whole * static_cast<std::uint64_t>(pow10_double[frac_digits]) + frac;
  if (frac_digits <= 1 && m < 1024)
    out = small_decimal_table.value[frac_digits][m];
  else
    out = static_cast<double>(m) / pow10_double[frac_digits];
  if (neg) out = -out;
  return e;
}

}  // namespace recflow::detail
