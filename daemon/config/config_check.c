/* Checks of string-valued keys: addresses, CIDRs, header fields, paths. */
#include "config/config_impl.h"

#include <arpa/inet.h>
#include <string.h>
#include <sys/un.h>

/* sockaddr_un.sun_path, NUL included: 108 on Linux */
#define SUN_PATH_LEN sizeof(((struct sockaddr_un *)0)->sun_path)

/* The longest address text we accept, brackets and port included. */
#define ADDR_TEXT_MAX 64

/* Parse a decimal TCP/UDP port, 1..65535, digits only. */
static bool parse_port(const char *s)
{
	unsigned long v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > 65535)
			return false;
	}
	return v > 0;
}

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

/* "[v6]" followed by ":port", or by nothing when port_optional. */
static bool parse_bracketed(char *s, bool port_optional)
{
	char *end = strchr(s, ']');

	if (!end)
		return false;
	*end = '\0';
	if (!is_ip6(s + 1))
		return false;
	if (end[1] == '\0')
		return port_optional;
	return end[1] == ':' && parse_port(end + 2);
}

/* IP, IP:port, v6 bare, [v6] or [v6]:port: how dns.servers are written. */
static bool is_dns_server(const char *text)
{
	char s[ADDR_TEXT_MAX];
	char *colon;

	if (strlen(text) >= sizeof(s))
		return false;
	strcpy(s, text);
	if (s[0] == '[')
		return parse_bracketed(s, true);
	if (is_ip6(s) || is_ip4(s))
		return true;
	colon = strrchr(s, ':');
	if (!colon)
		return false;
	*colon = '\0';
	return is_ip4(s) && parse_port(colon + 1);
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
	char s[ADDR_TEXT_MAX * 4 + 8];
	char *colon;

	if (strlen(text) >= sizeof(s))
		return false;
	strcpy(s, text);
	if (s[0] == '[')
		return parse_bracketed(s, false);
	colon = strrchr(s, ':');
	if (!colon)
		return false;
	*colon = '\0';
	return is_hostname(s) && parse_port(colon + 1);
}

/* Parse "ADDR/LEN" or "ADDR" into family bytes; reports stray host bits. */
static bool check_cidr(const char *text, char *why, size_t n)
{
	static const char expect[] = "expected a CIDR like 10.0.0.0/8 or "
				     "fd00::/8, an IP address, or private";
	unsigned char a[16];
	char s[ADDR_TEXT_MAX];
	char *slash;
	unsigned long bits, max;
	int af;

	if (strcmp(text, "private") == 0)
		return true;
	if (strlen(text) >= sizeof(s))
		goto bad;
	strcpy(s, text);
	slash = strchr(s, '/');
	if (slash)
		*slash = '\0';
	af = strchr(s, ':') ? AF_INET6 : AF_INET;
	max = af == AF_INET6 ? 128 : 32;
	if (inet_pton(af, s, a) != 1)
		goto bad;
	if (!slash)
		return true;
	bits = 0;
	if (!slash[1] || strlen(slash + 1) > 3)
		goto bad;
	for (const char *p = slash + 1; *p; p++) {
		if (*p < '0' || *p > '9')
			goto bad;
		bits = bits * 10 + (unsigned long)(*p - '0');
	}
	if (bits > max)
		goto bad;
	/* 10.1.2.3/8 is almost always a typo for an address or a network */
	for (unsigned long i = bits; i < max; i++) {
		if (a[i / 8] & (0x80 >> (i % 8))) {
			snprintf(why, n, "has address bits set beyond the /%lu "
				 "prefix", bits);
			return false;
		}
	}
	return true;
bad:
	snprintf(why, n, "%s", expect);
	return false;
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
	}
	if (problem)
		snprintf(why, n, "%s", problem);
	return problem == NULL;
}
