#pragma once
// AWS Signature Version 4 (header signing, AWS4-HMAC-SHA256) as pure functions: no I/O, no clock.
// The time is passed in, so a signature is a deterministic function of its inputs.
//
// Spec: "Create a signed AWS API request" (IAM user guide). The canonical request is
//   METHOD \n CanonicalURI \n CanonicalQuery \n CanonicalHeaders \n SignedHeaders \n
//   hex(sha256(payload))
// and the string to sign is
//   "AWS4-HMAC-SHA256" \n AmzDate \n Date/Region/Service/aws4_request \n
//   hex(sha256(canonical request)).
//
// Secrets: the secret access key is only read to derive the signing key; it is never copied into
// an error message, a returned string or a log line. The session token is not a secret in the
// same sense (it travels in a header), but it is not logged by this code either.
#include <array>
#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace torii::aws {

// Long-term or temporary (STS) credentials. Has no operator<< on purpose.
struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  // Empty for long-term keys; else sent and signed as x-amz-security-token.
  std::string session_token;
};

// The request as it goes on the wire.
struct SigV4Request {
  std::string_view method = "POST";
  // Host header value as sent (e.g. "bedrock-runtime.us-east-1.amazonaws.com", with ":port"
  // when the request carries a non-default port).
  std::string_view host;
  // The path exactly as sent on the wire, already percent-encoded (a Bedrock model id
  // "a.b-v1:0" travels as "/model/a.b-v1%3A0/converse"). Empty means "/".
  std::string_view path = "/";
  // The query exactly as sent, without the leading '?'; may be empty. It is decoded and
  // re-encoded per SigV4 ('+' is taken literally, not as a space) and sorted.
  std::string_view query;
  // Extra headers to sign and send, e.g. {"content-type", "application/json"}. Names are
  // case-insensitive. Do not list host, x-amz-date, x-amz-security-token or
  // x-amz-content-sha256 here: the signer adds those itself.
  std::vector<std::pair<std::string_view, std::string_view>> headers;
  std::string_view payload;  // the exact body bytes
  // Non-S3 services (Bedrock included) URI-encode the already-encoded path once more for the
  // canonical request ("%3A" -> "%253A"). Only S3 signs the wire path as it is: set false there.
  bool double_encode_path = true;
  // Also send and sign x-amz-content-sha256 (S3 requires it; Bedrock accepts it).
  bool sign_content_sha256 = false;
};

// A derived signing key with the scope it is valid for. Derive it once per (day, region,
// service) and reuse it: HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service),
// "aws4_request").
struct SigningKey {
  std::string date;     // YYYYMMDD
  std::string region;   // e.g. us-east-1
  std::string service;  // e.g. bedrock
  std::array<std::uint8_t, 32> key{};
};

// What to add to the request. The request must also carry, unchanged, every header it signed
// (host and the SigV4Request::headers).
struct SignedHeaders {
  // "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..."
  std::string authorization;
  std::string amz_date;        // X-Amz-Date value
  std::string security_token;  // X-Amz-Security-Token value; empty when no session token
  std::string content_sha256;  // X-Amz-Content-Sha256 value; empty unless sign_content_sha256
  std::string signature;       // hex signature (also inside authorization)

  // "Authorization: ...\r\nX-Amz-Date: ...\r\n" (+ X-Amz-Security-Token, X-Amz-Content-Sha256
  // when present): ready to paste into an HTTP/1.1 head.
  std::string header_block() const;
};

// "YYYYMMDDTHHMMSSZ" (UTC) for a time_t.
std::string amz_date(std::time_t t);

// True when `s` has the shape YYYYMMDDTHHMMSSZ (digits, 'T', digits, 'Z').
bool is_amz_date(std::string_view s);

// Derives the signing key for one day (YYYYMMDD), region and service.
SigningKey derive_signing_key(std::string_view secret_access_key, std::string_view date,
                              std::string_view region, std::string_view service);

// Lower-case hex of SHA-256(data).
std::string sha256_hex(std::string_view data);

// Lower-case hex of bytes.
std::string to_hex(const std::uint8_t* data, std::size_t size);

// SigV4 URI encoding: every byte except A-Z a-z 0-9 '-' '_' '.' '~' becomes %XX (upper-case
// hex); '/' is kept when keep_slash.
void uri_encode(std::string& out, std::string_view in, bool keep_slash);

// The canonical request for `req` signed at `amz_date` (the x-amz-date header value),
// with a session token when non-empty. Exposed for tests and debugging (it holds no secret).
// Error (500, internal) when amz_date is malformed or a header name is empty.
Result<std::string> canonical_request(const SigV4Request& req, std::string_view amz_date,
                                      std::string_view session_token = {});

// Signs with long-term or temporary credentials; `amz_date` is YYYYMMDDTHHMMSSZ.
// Error (500, internal) on a malformed date, empty access key id/secret, or empty header name.
Result<SignedHeaders> sign_v4(const SigV4Request& req, const AwsCredentials& creds,
                              std::string_view region, std::string_view service,
                              std::string_view amz_date);

// Same, with a cached signing key. Error when the key's date is not amz_date's day.
Result<SignedHeaders> sign_v4(const SigV4Request& req, std::string_view access_key_id,
                              std::string_view session_token, const SigningKey& key,
                              std::string_view amz_date);

}  // namespace torii::aws
