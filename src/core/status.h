// Status and Result<T>: the one error model used at every module boundary.
//
// A Status is OK or carries a Code and a message. Codes map one-to-one onto the
// Kubernetes metav1.Status reasons so that any module's error can be answered to a
// client without translation tables scattered around the code.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace berth {

enum class Code {
  kOk = 0,
  kBadRequest,            // 400 BadRequest
  kUnauthorized,          // 401 Unauthorized
  kForbidden,             // 403 Forbidden
  kNotFound,              // 404 NotFound
  kMethodNotAllowed,      // 405 MethodNotAllowed
  kNotAcceptable,         // 406 NotAcceptable
  kAlreadyExists,         // 409 AlreadyExists
  kConflict,              // 409 Conflict
  kGone,                  // 410 Expired (resource version too old)
  kRequestTooLarge,       // 413 RequestEntityTooLarge
  kUnsupportedMediaType,  // 415 UnsupportedMediaType
  kInvalid,               // 422 Invalid
  kTooManyRequests,       // 429 TooManyRequests
  kInternal,              // 500 InternalError
  kUnavailable,           // 503 ServiceUnavailable
  kTimeout,               // 504 Timeout
};

// One field-level cause of an Invalid (or BadRequest) error, as in
// metav1.StatusCause: reason is e.g. "FieldValueRequired", field a JSON path.
struct Cause {
  std::string reason;
  std::string message;
  std::string field;
};

class Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status Ok() { return Status(); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::vector<Cause>& causes() const { return causes_; }
  Status& AddCause(Cause c) {
    causes_.push_back(std::move(c));
    return *this;
  }
  Status& WithCauses(std::vector<Cause> c) {
    causes_ = std::move(c);
    return *this;
  }
  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
  std::vector<Cause> causes_;
};

// HTTP status code and Kubernetes reason string for a Code.
int HttpCode(Code c);
const char* ReasonString(Code c);

inline Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
inline Status AlreadyExists(std::string m) { return {Code::kAlreadyExists, std::move(m)}; }
inline Status Conflict(std::string m) { return {Code::kConflict, std::move(m)}; }
inline Status BadRequest(std::string m) { return {Code::kBadRequest, std::move(m)}; }
inline Status Invalid(std::string m) { return {Code::kInvalid, std::move(m)}; }
inline Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }
inline Status Gone(std::string m) { return {Code::kGone, std::move(m)}; }

// Result<T> holds a T or a non-OK Status.
template <class T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT(implicit)
  Result(Status status) : v_(std::move(status)) {}   // NOLINT(implicit)

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace berth

#define BERTH_RETURN_IF_ERROR(expr)      \
  do {                                   \
    ::berth::Status _st = (expr);        \
    if (!_st.ok()) return _st;           \
  } while (0)

#define BERTH_CONCAT_INNER(a, b) a##b
#define BERTH_CONCAT(a, b) BERTH_CONCAT_INNER(a, b)
#define BERTH_ASSIGN_OR_RETURN(lhs, expr) \
  BERTH_ASSIGN_OR_RETURN_IMPL(BERTH_CONCAT(_res_, __LINE__), lhs, expr)
#define BERTH_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()
