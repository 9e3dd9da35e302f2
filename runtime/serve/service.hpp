/// The query service: answers predict / recommend / similar / ratings / health / model
/// from a versioned, immutable snapshot of the model. No HTTP and no CAF here: a request
/// is (method, target, body) and an answer is (status, JSON text), so every route is
/// testable without a socket (the HTTP server in http_server.hpp only moves bytes).
///
/// Consistency: the snapshot is a `std::shared_ptr<const serving_snapshot>` swapped
/// atomically. A query loads it once and answers from it, so it never sees a
/// half-applied batch, and publishing a new one never waits for queries.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "recflow/graph/batch.hpp"
#include "recflow/model/cold_start.hpp"
#include "recflow/model/fold_in.hpp"
#include "recflow/model/model.hpp"
#include "recflow/model/top_n.hpp"
#include "recflow/serve/posted_users.hpp"

namespace recflow::serve {

/// What the service allows, with defaults.
struct service_options {
  fold_in_params fold_in{};          ///< regularisation of fold-ins
  cold_start_options cold_start{};   ///< ranking for unknown users
  std::size_t max_n = 1000;          ///< largest n of /recommend and /similar
  std::size_t max_ratings_per_post = 10'000;  ///< ratings in one POST /ratings
  std::size_t max_filter_items = 10'000;      ///< ids in one &items= filter
  // Bounds on the memory a client can grow through POST /ratings (0: no bound).
  /// Users kept with their posted ratings; past it the least recently posted one is
  /// forgotten (a user unknown to the model is then served by cold start again).
  std::size_t max_posted_users = 100'000;
  /// Posted ratings kept per user (for fold-in and top-N exclusion): the newest.
  std::size_t max_posted_per_user = 1'000;
  /// Posted ratings waiting for the next micro-batch; a post that would pass it gets 503
  /// with Retry-After.
  std::size_t max_pending = 100'000;
  /// Ids the model does not know (new users, new items) accepted per minute; a post that
  /// would pass it gets 429 with Retry-After.
  std::size_t max_new_ids_per_minute = 10'000;
  /// GET /model shows the metadata that names files (file, data, init_model).
  bool show_paths = false;
};

/// "max n must be positive" and friends.
result<void> validate(const service_options& o);

/// The implicit ALS parameters a model's metadata records (trainer "implicit-als": alpha,
/// lambda, lambda_exponent, confidence, epsilon, missing_exponent, recency_boost), for
/// its fold-ins; nothing for another trainer. A value that does not read as a number keeps
/// the default.
std::optional<implicit_params> implicit_fold_in_params(
  const std::vector<std::pair<std::string, std::string>>& metadata);

/// One immutable state of the model as queries see it.
struct serving_snapshot {
  std::shared_ptr<const factor_model> model;
  /// The model's item factors in single precision, for top-N scans (model/top_n.hpp).
  std::shared_ptr<const item_scan_table> scan;
  std::uint64_t version = 0;       ///< micro-batches applied (0 for a model loaded from a file)
  std::uint64_t ratings_seen = 0;  ///< training ratings the stream has applied
  /// Users who posted ratings, by external id (copy-on-write by shard, posted_users.hpp).
  std::shared_ptr<const posted_users> posted;
  /// An implicit model's fold-in: its parameters and the Gram matrix of its item factors,
  /// prepared once per model (null for an explicit model).
  std::shared_ptr<const implicit_als_solver> implicit;
  std::chrono::system_clock::time_point published;
};

/// An HTTP-free answer: a status code and a JSON body.
struct answer {
  int status = 200;
  std::string body;
  int retry_after = 0;  ///< seconds; sent as a Retry-After header when positive (429, 503)
};

class query_service {
 public:
  /// `metadata` is shown by GET /model (e.g. the model file's key=value pairs).
  explicit query_service(service_options o = {},
                         std::vector<std::pair<std::string, std::string>> metadata = {});

  /// Makes `m` the model queries see, as of `version` batches; users folded in so far
  /// stay (their fold-in is re-solved against the new item factors when next asked).
  void publish(std::shared_ptr<const factor_model> m, std::uint64_t version,
               std::uint64_t ratings_seen = 0);
  /// The current snapshot (never null after the first publish).
  std::shared_ptr<const serving_snapshot> snapshot() const { return current_.load(); }

  /// Where POSTed ratings go besides fold-in: in `stream --serve`, the next micro-batch.
  /// Without a sink (serving a saved model) they are only folded in.
  /// `pending` tells how many posted ratings wait for training (for max_pending).
  using rating_sink = std::function<void(std::vector<rating_event>)>;
  void set_rating_sink(rating_sink sink, std::function<std::size_t()> pending = {});
  /// Marks the stream as running or ended (shown by /health and /model).
  void set_training(bool training) { training_.store(training); }

  /// Answers one request. Never throws; a bad request gets a 4xx with {"error": ...}.
  answer handle(std::string_view method, std::string_view target, std::string_view body);

  /// The routes, with their query parameters already split (tests call them directly).
  answer predict(const serving_snapshot& s, std::int64_t user, std::int64_t item) const;
  answer recommend(const serving_snapshot& s, std::int64_t user, std::size_t n,
                   const std::vector<std::int64_t>* only, bool include_rated) const;
  answer similar(const serving_snapshot& s, std::int64_t item, std::size_t n) const;
  answer post_ratings(std::string_view body);
  answer health() const;
  answer model_info() const;

  const service_options& options() const noexcept { return opts_; }
  /// Requests answered so far, by status class (2xx, 4xx, 5xx).
  std::uint64_t answered(int status_class) const noexcept;
  /// Ratings accepted by POST /ratings so far.
  std::uint64_t posted_ratings() const noexcept { return posted_ratings_.load(); }
  /// Posted users forgotten so far to keep max_posted_users.
  std::uint64_t evicted_users() const noexcept { return evicted_users_.load(); }

 private:
  /// The folded user of `p` against snapshot `s` (re-solved if `s` is newer).
  folded_user folded_for(const serving_snapshot& s, const posted_user& p) const;
  /// A posted user solved against `s`: the implicit fold-in from events for an implicit
  /// model, the explicit one from ratings otherwise.
  result<folded_user> fold(const serving_snapshot& s, std::span<const item_rating> posted) const;

  service_options opts_;
  std::vector<std::pair<std::string, std::string>> metadata_;
  std::optional<implicit_params> implicit_;  ///< the model is implicit (from metadata_)
  std::atomic<std::shared_ptr<const serving_snapshot>> current_;
  std::mutex write_;  ///< serialises publish and POST (readers never take it)
  rating_sink sink_;
  std::function<std::size_t()> pending_;
  // Under write_: the posted users by the sequence number of their latest post (oldest
  // first), and the new ids accepted in the current minute.
  std::map<std::uint64_t, std::int64_t> lru_;
  std::uint64_t post_seq_ = 0;
  std::chrono::steady_clock::time_point new_ids_window_{};
  std::size_t new_ids_in_window_ = 0;
  std::atomic<std::uint64_t> evicted_users_{0};
  std::atomic<bool> training_{false};
  std::atomic<std::uint64_t> answered_[3] = {};
  std::atomic<std::uint64_t> posted_ratings_{0};
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace recflow::serve
