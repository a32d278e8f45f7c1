// The one translation unit that compiles Asio, Asio's SSL and Beast (separate compilation).
// Every other file includes their headers only, which keeps incremental builds fast.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
