// resolve_secret: "${env:NAME}", "${file:/path}", "${vault:NAME/KEY}" or a literal (see
// docs/CONFIG.md, Secrets, and docs/SECURITY.md, Vault).
// Error messages name the reference (a variable name or a path), never a resolved value.
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "config/config.h"
#include "identity/vault.h"
#include "identity/vault_store.h"

namespace torii {
namespace {

bool valid_env_name(const std::string& name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  return true;
}

ApiError fail(std::string message) { return ApiError::invalid_request(std::move(message)); }

}  // namespace

Result<std::string> read_secret_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail("cannot read secret file " + path + ": " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return fail("cannot read secret file " + path);
  std::string v = ss.str();
  while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) v.pop_back();
  if (v.empty()) return fail("secret file " + path + " is empty");
  return v;
}

Result<SecretRef> resolve_secret(const std::string& reference, identity::Vault* vault) {
  SecretRef out;
  if (reference.empty()) return fail("secret is empty");

  const bool braced =
      reference.size() >= 3 && reference.compare(0, 2, "${") == 0 && reference.back() == '}';
  if (!braced) {
    // A reference embedded in a longer value is not interpolated: refuse it rather than send
    // the unexpanded text upstream as a key.
    if (reference.find("${env:") != std::string::npos ||
        reference.find("${file:") != std::string::npos ||
        reference.find("${vault:") != std::string::npos) {
      return fail("a secret reference must be the whole value (no text around ${...})");
    }
    out.reference = "<literal>";
    out.value = reference;
    out.literal = true;
    return out;
  }

  const std::string inner = reference.substr(2, reference.size() - 3);
  out.reference = reference;
  if (inner.compare(0, 4, "env:") == 0) {
    const std::string name = inner.substr(4);
    if (!valid_env_name(name)) {
      return fail("invalid environment variable name in ${env:...} (letters, digits, _)");
    }
    const char* v = std::getenv(name.c_str());
    if (v == nullptr || *v == '\0') return fail("environment variable " + name + " is not set");
    out.value = v;
    return out;
  }
  if (inner.compare(0, 5, "file:") == 0) {
    const std::string path = inner.substr(5);
    if (path.empty()) return fail("empty path in ${file:...}");
    auto v = read_secret_file(path);
    if (!v) return v.error();
    out.value = std::move(*v);
    return out;
  }
  if (inner.compare(0, 6, "vault:") == 0) {
    auto parts = identity::split_vault_ref(std::string_view(inner).substr(6));
    if (!parts) return fail("invalid ${vault:NAME/KEY}: " + parts.error().message);
    if (vault == nullptr) return fail("${vault:...} used but no `vault:` is configured");
    auto v = vault->get(parts->first, parts->second);
    if (!v) return fail(v.error().message);
    out.value = std::move(*v);
    return out;
  }
  return fail("unknown secret reference: use ${env:NAME}, ${file:/path} or ${vault:NAME/KEY}");
}

}  // namespace torii
