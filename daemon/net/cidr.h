/* network.deny / network.allow: lists of address ranges, and the check that
 * every resolved address (and every redirect hop) passes before a connect.
 * Sees addresses only, never the ring. */
#ifndef RF_CIDR_H
#define RF_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/addr.h"
#include "config/config.h"

struct cidr_list {
	struct addr_cidr *v;	/* owned */
	size_t n;
};

struct netguard {
	struct cidr_list deny, allow;
};

/* Build the guard from cfg->network (CIDRs, plain IPs, or "private" for
 * every special-use range of RFC 6890 and its successors). Returns 0, or
 * -EINVAL with the bad entry named in err, or -ENOMEM. */
int netguard_init(struct netguard *g, const struct config *cfg, char *err,
		  size_t errlen);
void netguard_fini(struct netguard *g);

/* Whether a connect to sa is forbidden: in deny and not in allow. An
 * IPv4-mapped IPv6 address is judged as the IPv4 address it carries. */
bool netguard_blocks(const struct netguard *g, const struct sockaddr *sa);

#endif
