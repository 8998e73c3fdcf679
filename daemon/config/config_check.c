/* Checks of string-valued keys: addresses, CIDRs, header fields, paths. */
#include "config/config_impl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/un.h>

#include "base/addr.h"

/* sockaddr_un.sun_path, NUL included: 108 on Linux */
#define SUN_PATH_LEN sizeof(((struct sockaddr_un *)0)->sun_path)

/* The longest address text we accept, brackets and port included. */
#define ADDR_TEXT_MAX 64

static bool is_ip4(const char *s)
{
	struct in_addr a;

	return inet_pton(AF_INET, s, &a) == 1;
}

static bool is_ip6(const char *s)
{
	struct in6_addr a;

	return inet_pton(AF_INET6, s, &a) == 1;
}

/* IP, IP:port, v6 bare, [v6] or [v6]:port: how dns.servers are written. */
static bool is_dns_server(const char *text)
{
	char host[ADDR_TEXT_MAX];
	uint16_t port = 53;

	if (addr_split_hostport(text, host, sizeof(host), &port, true) < 0)
		return false;
	return port != 0 && (is_ip4(host) || is_ip6(host));
}

static bool is_hostname(const char *s)
{
	if (!*s || strlen(s) > 253)
		return false;
	for (; *s; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '.'))
			return false;
	}
	return true;
}

/* HOST:PORT for a listener: a name, an IPv4 address or [v6]. */
static bool is_listen(const char *text)
{
	char host[ADDR_TEXT_MAX * 4 + 8];
	uint16_t port;

	if (addr_split_hostport(text, host, sizeof(host), &port, false) < 0)
		return false;
	return port != 0 && (is_ip6(host) || is_hostname(host));
}

/* "ADDR/LEN", "ADDR" or "private"; names stray host bits. */
static bool check_cidr(const char *text, char *why, size_t n)
{
	struct addr_cidr c;
	int rc;

	if (strcmp(text, "private") == 0)
		return true;
	rc = addr_parse_cidr(text, &c);
	if (rc == -ERANGE)
		snprintf(why, n, "has address bits set beyond the /%s prefix",
			 strchr(text, '/') + 1);
	else if (rc < 0)
		snprintf(why, n, "expected a CIDR like 10.0.0.0/8 or "
			 "fd00::/8, an IP address, or private");
	return rc == 0;
}

/* RFC 9110 5.5: a field value is visible characters, spaces and tabs.
 * CR and LF above all would let a value inject headers of its own. */
static bool is_field_value(const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return false;
	}
	return true;
}

bool config_is_token(const char *s)
{
	static const char tchar_punct[] = "!#$%&'*+-.^_`|~";

	if (!*s)
		return false;
	for (; *s; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr(tchar_punct, *s)))
			return false;
	}
	return true;
}

bool config_check_str(enum ck_check chk, const char *s, char *why, size_t n)
{
	const char *problem = NULL;

	switch (chk) {
	case CHK_ANY:
		break;
	case CHK_NONEMPTY:
		if (!*s)
			problem = "must not be empty";
		break;
	case CHK_SOCKPATH:
		if (!*s)
			problem = "must not be empty";
		else if (strlen(s) >= SUN_PATH_LEN)
			problem = "must be shorter than 108 bytes";
		break;
	case CHK_HDRVAL:
		if (!is_field_value(s))
			problem = "must not contain CR, LF or other control "
				  "characters";
		break;
	case CHK_LISTEN:
		if (*s && !is_listen(s))
			problem = "expected HOST:PORT like 127.0.0.1:9464";
		break;
	case CHK_DNS:
		if (!is_dns_server(s))
			problem = "expected an address like 192.0.2.53, "
				  "192.0.2.53:53 or [2001:db8::53]:53";
		break;
	case CHK_CIDR:
		return check_cidr(s, why, n);
	case CHK_PROXY: {
		struct addr_proxy p;

		return addr_parse_proxy(s, &p, why, n) == 0;
	}
	case CHK_REDIS: {
		struct addr_redis r;

		return !*s || addr_parse_redis(s, &r, why, n) == 0;
	}
	case CHK_RKEY:
		if (!*s)
			problem = "must not be empty";
		else if (strlen(s) > CONFIG_RKEY_MAX)
			problem = "must be at most 200 bytes";
		for (; *s && !problem; s++)
			if ((unsigned char)*s <= ' ' || *s == 0x7f)
				problem = "must not contain spaces or "
					  "control characters";
		break;
	case CHK_NOPROXY: {
		struct addr_cidr c;

		if (addr_parse_cidr(s, &c) == 0)
			break;
		if (!*s || strpbrk(s, "/ \t:@"))
			problem = "expected a host name, a .suffix or a CIDR";
		break;
	}
	}
	if (problem)
		snprintf(why, n, "%s", problem);
	return problem == NULL;
}
