/// Errors as values: `result<T>` holds either a T or an `error` with a code and a message.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace recflow {

/// What went wrong, coarsely; the message says precisely where and why.
enum class errc {
  io,              ///< a file could not be opened, read or written
  parse,           ///< input text is malformed (the message names file:line)
  invalid_value,   ///< a value is out of range (NaN, outside the rating scale, ...)
  invalid_argument,///< a parameter is wrong ("rank must be positive, got 0")
  corrupt,         ///< a saved file fails its checksum or is truncated
  version,         ///< a saved file has a format version this build cannot read
  not_found,       ///< an id or file that was asked for does not exist
};

/// Human-readable name of an error code.
const char* to_string(errc code) noexcept;

/// An error: a code for programs and a message for people.
struct error {
  errc code;
  std::string message;
};

/// Either a value or an error (a small stand-in for C++23's std::expected).
template <class T>
class result {
 public:
  result(T value) : data_(std::move(value)) {}
  result(error err) : data_(std::move(err)) {}

  explicit operator bool() const noexcept { return data_.index() == 0; }
  bool has_value() const noexcept { return data_.index() == 0; }

  T& value() & { assert(has_value()); return std::get<0>(data_); }
  const T& value() const& { assert(has_value()); return std::get<0>(data_); }
  T&& value() && { assert(has_value()); return std::get<0>(std::move(data_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const error& err() const { assert(!has_value()); return std::get<1>(data_); }

 private:
  std::variant<T, error> data_;
};

/// A result with no value: success, or an error.
template <>
class result<void> {
 public:
  result() = default;
  result(error err) : err_(std::move(err)), failed_(true) {}
  explicit operator bool() const noexcept { return !failed_; }
  bool has_value() const noexcept { return !failed_; }
  const error& err() const { assert(failed_); return err_; }

 private:
  error err_{errc::io, {}};
  bool failed_ = false;
};

}  // namespace recflow
