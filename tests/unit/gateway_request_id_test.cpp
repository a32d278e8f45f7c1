// request_id_for: the client's x-request-id when sane, else a fresh random 32-hex id.
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>

#include "core/request_id.h"

namespace torii {
namespace {

bool is_hex32(const std::string& s) {
  static const std::regex re("^[0-9a-f]{32}$");
  return std::regex_match(s, re);
}

TEST(RequestId, SaneClientIdsAreKept) {
  for (std::string id : {std::string("abc"), std::string("req-123_4.5:6"), std::string("A"),
                         std::string("0123456789abcdef"), std::string(128, 'x')})
    EXPECT_EQ(request_id_for(id), id);
}

TEST(RequestId, BadIdsAreReplaced) {
  for (std::string bad : {std::string(), std::string("has space"), std::string("semi;colon"),
                          std::string("new\nline"), std::string("crlf\r\nX-Evil: 1"),
                          std::string("quote\""), std::string("sl/ash"), std::string("ütf8"),
                          std::string(129, 'x'), std::string("nul\0x", 5)}) {
    std::string id = request_id_for(bad);
    EXPECT_NE(id, bad);
    EXPECT_TRUE(is_hex32(id)) << id;
  }
}

TEST(RequestId, GeneratedIdsAreUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 2000; ++i) {
    std::string id = request_id_for("");
    ASSERT_TRUE(is_hex32(id)) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 2000u);
}

}  // namespace
}  // namespace torii
