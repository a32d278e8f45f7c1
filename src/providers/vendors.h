#pragma once
// The table of OpenAI-compatible vendors: what differs between them is data, not code
// (base URL, auth header, parameter mapping). One row per vendor kind.
#include <string_view>

namespace torii {

enum class AuthStyle { bearer, none };

struct VendorSpec {
  std::string_view kind;
  std::string_view default_base_url;    // empty: base_url is required
  AuthStyle auth = AuthStyle::bearer;
  bool key_required = true;             // a provider of this kind must have an api_key
  bool stream_usage_option = true;      // accepts stream_options.include_usage
  bool strip_stream_options = false;    // rejects stream_options altogether (usage comes anyway)
  bool max_completion_tokens_as_max_tokens = false;  // only knows max_tokens
};

// The row for `kind`, or nullptr when it is not an OpenAI-compatible vendor.
const VendorSpec* find_vendor(std::string_view kind);

}  // namespace torii
