/// An array of trivially copyable values that grows without copying itself.
///
/// A std::vector that outgrows its capacity allocates a new buffer, copies every element
/// and only then frees the old one: for a moment both copies are resident, so a table of
/// S bytes that keeps growing peaks at about 2S (and pays the copy). growing_array keeps
/// its elements in an anonymous memory mapping and grows it with mremap(MREMAP_MAYMOVE):
/// the kernel moves the pages (or extends them in place), the contents are never copied
/// and never resident twice. Capacity doubles, as a vector's does, but capacity that was
/// never written costs no memory (untouched pages of a mapping are not resident).
/// Where mremap is missing (not Linux) it falls back to malloc/realloc.
///
/// Used for tables that grow for as long as a stream brings new keys: the factor owners'
/// shards (actors/factor_owner.hpp).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <span>
#include <type_traits>
#include <utility>

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace recflow {

template <class T>
class growing_array {
  static_assert(std::is_trivially_copyable_v<T>, "growing_array holds trivially copyable values");

 public:
  using value_type = T;

  growing_array() = default;
  ~growing_array() { release(); }
  growing_array(const growing_array& o) { assign(o.data(), o.size()); }
  growing_array(growing_array&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)),
      bytes_(std::exchange(o.bytes_, 0)) {}
  growing_array& operator=(const growing_array& o) {
    if (this != &o) {
      size_ = 0;
      assign(o.data(), o.size());
    }
    return *this;
  }
  growing_array& operator=(growing_array&& o) noexcept {
    if (this != &o) {
      release();
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
      bytes_ = std::exchange(o.bytes_, 0);
    }
    return *this;
  }

  T* data() noexcept { return data_; }
  const T* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  std::size_t capacity() const noexcept { return bytes_ / sizeof(T); }
  T& operator[](std::size_t k) noexcept { return data_[k]; }
  const T& operator[](std::size_t k) const noexcept { return data_[k]; }
  T* begin() noexcept { return data_; }
  T* end() noexcept { return data_ + size_; }
  const T* begin() const noexcept { return data_; }
  const T* end() const noexcept { return data_ + size_; }
  operator std::span<const T>() const noexcept { return {data_, size_}; }

  void push_back(const T& v) {
    if (size_ == capacity())
      grow(size_ + 1);
    data_[size_++] = v;
  }
  /// n elements; new ones are `fill`.
  void resize(std::size_t n, const T& fill = T{}) {
    if (n > capacity())
      grow(n);
    if (n > size_)
      std::fill(data_ + size_, data_ + n, fill);
    size_ = n;
  }
  /// Size 0; the capacity stays.
  void clear() noexcept { size_ = 0; }

  friend bool operator==(const growing_array& a, const growing_array& b) noexcept {
    return a.size_ == b.size_ && std::equal(a.begin(), a.end(), b.begin());
  }

 private:
  void assign(const T* from, std::size_t n) {
    if (n > capacity())
      grow(n);
    if (n > 0)
      std::memcpy(data_, from, n * sizeof(T));
    size_ = n;
  }

  /// Room for at least `n` elements: twice the capacity, or n if that is more.
  void grow(std::size_t n) {
    std::size_t want = std::max(n * sizeof(T), 2 * bytes_);
#if defined(__linux__) && defined(MREMAP_MAYMOVE)
    static const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    want = std::max<std::size_t>((want + page - 1) / page * page, 16 * page);
    void* p = bytes_ == 0
                ? ::mmap(nullptr, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
                : ::mremap(data_, bytes_, want, MREMAP_MAYMOVE);
    if (p == MAP_FAILED)
      throw std::bad_alloc();
#else
    void* p = std::realloc(data_, want);
    if (p == nullptr)
      throw std::bad_alloc();
#endif
    data_ = static_cast<T*>(p);
    bytes_ = want;
  }

  void release() noexcept {
    if (data_ == nullptr)
      return;
#if defined(__linux__) && defined(MREMAP_MAYMOVE)
    ::munmap(data_, bytes_);
#else
    std::free(data_);
#endif
    data_ = nullptr;
    size_ = bytes_ = 0;
  }

  T* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t bytes_ = 0;  ///< the mapping's (or allocation's) size
};

}  // namespace recflow
