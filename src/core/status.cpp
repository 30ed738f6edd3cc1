#include "core/status.h"

namespace berth {

int HttpCode(Code c) {
  switch (c) {
    case Code::kOk: return 200;
    case Code::kBadRequest: return 400;
    case Code::kUnauthorized: return 401;
    case Code::kForbidden: return 403;
    case Code::kNotFound: return 404;
    case Code::kMethodNotAllowed: return 405;
    case Code::kNotAcceptable: return 406;
    case Code::kAlreadyExists: return 409;
    case Code::kConflict: return 409;
    case Code::kGone: return 410;
    case Code::kRequestTooLarge: return 413;
    case Code::kUnsupportedMediaType: return 415;
    case Code::kInvalid: return 422;
    case Code::kTooManyRequests: return 429;
    case Code::kInternal: return 500;
    case Code::kUnavailable: return 503;
    case Code::kTimeout: return 504;
  }
  return 500;
}

const char* ReasonString(Code c) {
  switch (c) {
    case Code::kOk: return "";
    case Code::kBadRequest: return "BadRequest";
    case Code::kUnauthorized: return "Unauthorized";
    case Code::kForbidden: return "Forbidden";
    case Code::kNotFound: return "NotFound";
    case Code::kMethodNotAllowed: return "MethodNotAllowed";
    case Code::kNotAcceptable: return "NotAcceptable";
    case Code::kAlreadyExists: return "AlreadyExists";
    case Code::kConflict: return "Conflict";
    case Code::kGone: return "Expired";
    case Code::kRequestTooLarge: return "RequestEntityTooLarge";
    case Code::kUnsupportedMediaType: return "UnsupportedMediaType";
    case Code::kInvalid: return "Invalid";
    case Code::kTooManyRequests: return "TooManyRequests";
    case Code::kInternal: return "InternalError";
    case Code::kUnavailable: return "ServiceUnavailable";
    case Code::kTimeout: return "Timeout";
  }
  return "InternalError";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string s = std::string(ReasonString(code_)) + ": " + message_;
  for (const auto& c : causes_) s += "; " + c.field + ": " + c.message;
  return s;
}

}  // namespace berth
