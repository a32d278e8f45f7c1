#pragma once
// The coroutine type every asynchronous interface in torii returns.
// Including this header does not pull in Beast; it is cheap.
#include <boost/asio/awaitable.hpp>

namespace torii {
namespace net = boost::asio;
template <class T = void>
using Task = net::awaitable<T>;
}  // namespace torii
