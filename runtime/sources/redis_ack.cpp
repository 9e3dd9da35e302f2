#include "redis_ack.hpp"

#include "redis_entries.hpp"

namespace recflow::redis_detail {

acknowledger::acknowledger(const redis_source_options& o, std::string name)
    : at_(o.at), group_(o.group), auth_(o.auth), log_(o.log), name_(std::move(name)) {}

redis_client* acknowledger::connection(std::string& why) {
  if (!conn_) {
    auto c = redis_client::connect(at_.server, std::chrono::seconds(5), auth_);
    if (!c) {
      why = c.err().message;
      return nullptr;
    }
    conn_.emplace(std::move(*c));
  }
  return &*conn_;
}

std::vector<std::string> acknowledger::ack(std::vector<std::string> ids) {
  std::lock_guard lock(m_);
  ids.insert(ids.end(), unacked_.begin(), unacked_.end());
  unacked_.clear();
  if (ids.empty())
    return ids;
  std::string why;
  for (int attempt = 0; attempt < 2; ++attempt) {  // the second on a new connection
    auto* c = connection(why);
    if (!c)
      continue;
    std::vector<std::string> args{"XACK", at_.stream, group_};
    args.insert(args.end(), ids.begin(), ids.end());
    auto r = c->command(args);
    if (r)
      return ids;
    why = r.err().message;
    conn_.reset();
  }
  failed_ += ids.size();
  log_(name_ + ": could not acknowledge " + std::to_string(ids.size()) + " entries of "
       + at_.stream + " (XACK): " + why
       + "; they stay pending and are acknowledged with the next batch");
  unacked_ = std::move(ids);
  return {};
}

std::optional<source_backlog> acknowledger::backlog(std::chrono::milliseconds max_age) {
  std::lock_guard lock(m_);
  auto counted = [&]() -> std::optional<source_backlog> {
    if (!backlog_)
      return backlog_;
    auto b = *backlog_;
    b.failed_acks = failed_;
    return b;
  };
  auto now = std::chrono::steady_clock::now();
  if (backlog_ && max_age.count() > 0 && now - backlog_at_ < max_age)
    return counted();
  backlog_at_ = now;  // a failed query is not retried before max_age either
  std::string why;
  auto* c = connection(why);
  if (!c)
    return counted();
  auto r = c->command({"XINFO", "GROUPS", at_.stream});
  if (!r) {
    conn_.reset();
    return counted();
  }
  if (auto b = group_backlog(*r, group_))
    backlog_ = b;
  return counted();
}

}  // namespace recflow::redis_detail
