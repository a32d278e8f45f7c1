// Asio's implementation for the load generator alone (BOOST_ASIO_SEPARATE_COMPILATION is set
// project-wide). The loadgen does not link torii_lib on purpose: a bench tool must build and run
// while the gateway it measures is broken or half-written, and it needs neither Beast nor TLS.
#include <boost/asio/impl/src.hpp>
