#pragma once
#include <string>
#include <string_view>

namespace torii {
// A request id: the client's x-request-id when it is sane (<= 128 chars of [A-Za-z0-9._:-]),
// else a new random one (32 hex chars).
std::string request_id_for(std::string_view client_value);
}  // namespace torii
