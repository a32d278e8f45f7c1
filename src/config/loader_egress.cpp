// IdentityLoader::egress: `egress:` (see loader_identity.h and upstream/egress.h).
#include "config/loader_identity.h"
#include "upstream/egress.h"

namespace torii::config_detail {

void IdentityLoader::egress(const YAML::Node& v, const std::string& path, Config& cfg) {
  each_key(v, path, {"allow_hosts", "allow_networks"},
           [&](const std::string& k, const YAML::Node& x, const std::string& p) {
             if (k == "allow_hosts") {
               if (!x.IsSequence()) return error(x, p, "must be a list of host names");
               for (std::size_t i = 0; i < x.size(); ++i) {
                 const std::string ip = index_path(p, i);
                 auto h = nonempty(x[i], ip);
                 if (!h) continue;
                 // A bare host: the endpoint's host is compared, never a URL or host:port.
                 // (IPv6 addresses have two colons or more; one is a port.)
                 if (h->find_first_of("/ \t@?#[]") != std::string::npos ||
                     std::count(h->begin(), h->end(), ':') == 1)
                   error(x[i], ip, "must be a host name or address, without scheme, port or path");
                 else
                   cfg.egress.allow_hosts.push_back(*h);
               }
             }
             if (k == "allow_networks") {
               if (!x.IsSequence()) return error(x, p, "must be a list of CIDRs");
               for (std::size_t i = 0; i < x.size(); ++i) {
                 const std::string ip = index_path(p, i);
                 auto n = nonempty(x[i], ip);
                 if (!n) continue;
                 if (auto net = parse_network(*n); !net)
                   error(x[i], ip, net.error().message);
                 else
                   cfg.egress.allow_networks.push_back(*n);
               }
             }
           });
}

}  // namespace torii::config_detail
