#include "providers/bedrock/sigv4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstring>

namespace torii::aws {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
constexpr char kHex[] = "0123456789abcdef";
constexpr char kHexUpper[] = "0123456789ABCDEF";

using Digest = std::array<std::uint8_t, 32>;

Digest hmac(const std::uint8_t* key, std::size_t key_len, std::string_view data) {
  Digest out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key, static_cast<int>(key_len),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &len);
  return out;
}

Digest sha256(std::string_view data) {
  Digest out{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr);
  return out;
}

bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes; a '%' not followed by two hex digits is kept as a literal '%'.
std::string percent_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size()) {
      int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(in[i]);
  }
  return out;
}

std::string canonical_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (part.empty()) continue;
    auto eq = part.find('=');
    std::string name, value;
    uri_encode(name, percent_decode(part.substr(0, eq)), false);
    if (eq != std::string_view::npos) uri_encode(value, percent_decode(part.substr(eq + 1)), false);
    params.emplace_back(std::move(name), std::move(value));
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out.push_back('&');
    out += name;
    out.push_back('=');
    out += value;
  }
  return out;
}

// Trims and collapses runs of spaces/tabs into one space (SigV4 canonical header values).
std::string canonical_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  bool pending_space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool is_reserved_header(std::string_view lname) {
  return lname == "host" || lname == "x-amz-date" || lname == "x-amz-security-token" ||
         lname == "x-amz-content-sha256" || lname == "authorization";
}

struct Canonical {
  std::string request;
  std::string signed_headers;
  std::string payload_hash;
};

Result<Canonical> build_canonical(const SigV4Request& req, std::string_view amz_date,
                                  std::string_view session_token) {
  if (!is_amz_date(amz_date))
    return ApiError::internal("sigv4: the signing time must be YYYYMMDDTHHMMSSZ");
  Canonical c;
  c.payload_hash = sha256_hex(req.payload);

  std::vector<std::pair<std::string, std::string>> headers;
  headers.reserve(req.headers.size() + 4);
  headers.emplace_back("host", canonical_value(req.host));
  headers.emplace_back("x-amz-date", std::string(amz_date));
  if (!session_token.empty())
    headers.emplace_back("x-amz-security-token", canonical_value(session_token));
  if (req.sign_content_sha256) headers.emplace_back("x-amz-content-sha256", c.payload_hash);
  for (const auto& [name, value] : req.headers) {
    std::string lname = lower(canonical_value(name));
    if (lname.empty()) return ApiError::internal("sigv4: empty header name");
    if (is_reserved_header(lname))
      return ApiError::internal("sigv4: header '" + lname + "' is set by the signer");
    headers.emplace_back(std::move(lname), canonical_value(value));
  }
  // Stable: values of a repeated header keep their order and are joined with ','.
  std::stable_sort(headers.begin(), headers.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });

  std::string& r = c.request;
  r.reserve(256 + req.path.size() * 3 + req.query.size() * 3);
  r.append(req.method).push_back('\n');
  std::string_view path = req.path.empty() ? std::string_view("/") : req.path;
  if (req.double_encode_path)
    uri_encode(r, path, true);
  else
    r.append(path);
  r.push_back('\n');
  r.append(canonical_query(req.query)).push_back('\n');
  for (std::size_t i = 0; i < headers.size(); ++i) {
    if (i > 0 && headers[i].first == headers[i - 1].first) {
      r.back() = ',';  // replaces the '\n' of the previous line
    } else {
      r.append(headers[i].first).push_back(':');
      if (!c.signed_headers.empty()) c.signed_headers.push_back(';');
      c.signed_headers.append(headers[i].first);
    }
    r.append(headers[i].second).push_back('\n');
  }
  r.push_back('\n');
  r.append(c.signed_headers).push_back('\n');
  r.append(c.payload_hash);
  return c;
}

}  // namespace

std::string SignedHeaders::header_block() const {
  std::string out;
  out.reserve(authorization.size() + security_token.size() + 160);
  out.append("Authorization: ").append(authorization).append("\r\n");
  out.append("X-Amz-Date: ").append(amz_date).append("\r\n");
  if (!security_token.empty())
    out.append("X-Amz-Security-Token: ").append(security_token).append("\r\n");
  if (!content_sha256.empty())
    out.append("X-Amz-Content-Sha256: ").append(content_sha256).append("\r\n");
  return out;
}

std::string amz_date(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

bool is_amz_date(std::string_view s) {
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return false;
  for (std::size_t i = 0; i < 15; ++i)
    if (i != 8 && (s[i] < '0' || s[i] > '9')) return false;
  return true;
}

SigningKey derive_signing_key(std::string_view secret_access_key, std::string_view date,
                              std::string_view region, std::string_view service) {
  SigningKey k;
  k.date = std::string(date);
  k.region = std::string(region);
  k.service = std::string(service);
  std::string secret;
  secret.reserve(4 + secret_access_key.size());
  secret.append("AWS4").append(secret_access_key);
  Digest d = hmac(reinterpret_cast<const std::uint8_t*>(secret.data()), secret.size(), date);
  OPENSSL_cleanse(secret.data(), secret.size());
  d = hmac(d.data(), d.size(), region);
  d = hmac(d.data(), d.size(), service);
  k.key = hmac(d.data(), d.size(), "aws4_request");
  OPENSSL_cleanse(d.data(), d.size());
  return k;
}

std::string to_hex(const std::uint8_t* data, std::size_t size) {
  std::string out(size * 2, '0');
  for (std::size_t i = 0; i < size; ++i) {
    out[2 * i] = kHex[data[i] >> 4];
    out[2 * i + 1] = kHex[data[i] & 0xF];
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  Digest d = sha256(data);
  return to_hex(d.data(), d.size());
}

void uri_encode(std::string& out, std::string_view in, bool keep_slash) {
  for (unsigned char c : in) {
    if (is_unreserved(c) || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHexUpper[c >> 4]);
      out.push_back(kHexUpper[c & 0xF]);
    }
  }
}

Result<std::string> canonical_request(const SigV4Request& req, std::string_view amz_date,
                                      std::string_view session_token) {
  auto c = build_canonical(req, amz_date, session_token);
  if (!c) return c.error();
  return std::move(c->request);
}

Result<SignedHeaders> sign_v4(const SigV4Request& req, std::string_view access_key_id,
                              std::string_view session_token, const SigningKey& key,
                              std::string_view amz_date) {
  if (access_key_id.empty()) return ApiError::internal("sigv4: empty access key id");
  if (!is_amz_date(amz_date))
    return ApiError::internal("sigv4: the signing time must be YYYYMMDDTHHMMSSZ");
  if (amz_date.substr(0, 8) != key.date)
    return ApiError::internal("sigv4: the signing key is for another day");
  auto c = build_canonical(req, amz_date, session_token);
  if (!c) return c.error();

  std::string scope;
  scope.append(key.date).append("/").append(key.region).append("/").append(key.service);
  scope.append("/aws4_request");
  std::string to_sign;
  to_sign.reserve(160);
  to_sign.append(kAlgorithm).append("\n").append(amz_date).append("\n").append(scope);
  to_sign.append("\n").append(sha256_hex(c->request));

  Digest sig = hmac(key.key.data(), key.key.size(), to_sign);
  SignedHeaders out;
  out.signature = to_hex(sig.data(), sig.size());
  out.authorization.reserve(200);
  out.authorization.append(kAlgorithm).append(" Credential=").append(access_key_id);
  out.authorization.append("/").append(scope).append(", SignedHeaders=");
  out.authorization.append(c->signed_headers).append(", Signature=").append(out.signature);
  out.amz_date = std::string(amz_date);
  out.security_token = std::string(session_token);
  if (req.sign_content_sha256) out.content_sha256 = std::move(c->payload_hash);
  return out;
}

Result<SignedHeaders> sign_v4(const SigV4Request& req, const AwsCredentials& creds,
                              std::string_view region, std::string_view service,
                              std::string_view amz_date) {
  if (creds.access_key_id.empty() || creds.secret_access_key.empty())
    return ApiError::internal("sigv4: missing AWS access key id or secret access key");
  if (!is_amz_date(amz_date))
    return ApiError::internal("sigv4: the signing time must be YYYYMMDDTHHMMSSZ");
  SigningKey key = derive_signing_key(creds.secret_access_key, amz_date.substr(0, 8), region,
                                      service);
  auto out = sign_v4(req, creds.access_key_id, creds.session_token, key, amz_date);
  OPENSSL_cleanse(key.key.data(), key.key.size());
  return out;
}

}  // namespace torii::aws
