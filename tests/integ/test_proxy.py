"""network.proxy through real proxies from Debian on loopback: tinyproxy
(http:// absolute-form and CONNECT tunnels, Basic credentials) and
microsocks (socks5 and socks5h, user and password): http and https URLs
fetched through them, names resolved where the mode says, network.no_proxy
going direct, and every failure ending in the class proxy."""
import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import *  # noqa: E402,F401,F403
import pki as test_tls  # noqa: E402  (the tests' throwaway PKI)

ONE = ["--set", "retry.attempts=1"]
# a resolver nobody answers: a name resolved here would fail
NO_DNS = ["--set", 'dns.servers=["127.0.0.1:9"]', "--set", "dns.timeout=300ms",
          "--set", "dns.attempts=1"]


class Proc:
    """A proxy binary in the foreground, stopped by PID."""

    def __init__(self, args, log):
        self.log = log
        with open(log, "wb") as f:
            self.p = subprocess.Popen(args, stdout=f, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL)

    def text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.p.terminate()
        try:
            self.p.wait(5)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait(5)


def listening(port):
    import socket
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def tinyproxy(auth=None):
    if not shutil.which("tinyproxy"):
        skip("tinyproxy not installed")
    d = scratch_dir("tinyproxy")
    port = free_port()
    conf = os.path.join(d, "tinyproxy.conf")
    with open(conf, "w") as f:
        f.write("Port %d\nListen 127.0.0.1\nTimeout 30\nLogLevel Connect\n"
                "MaxClients 64\nAllow 127.0.0.1\n" % port)
        if auth:
            f.write("BasicAuth %s %s\n" % auth)
    p = Proc(["tinyproxy", "-d", "-c", conf], os.path.join(d, "log"))
    wait_until(lambda: listening(port), 10, what="tinyproxy")
    return p, port


def microsocks(auth=None):
    if not shutil.which("microsocks"):
        skip("microsocks not installed")
    port = free_port()
    args = ["microsocks", "-i", "127.0.0.1", "-p", str(port)]
    if auth:
        args += ["-u", auth[0], "-P", auth[1]]
    p = Proc(args, os.path.join(scratch_dir("microsocks"), "log"))
    wait_until(lambda: listening(port), 10, what="microsocks")
    return p, port


def via(srv):
    """Whether the last request the server saw came through tinyproxy."""
    heads = srv.log()[-1]["headers"]
    return any(k.lower() == "via" and "tinyproxy" in v for k, v in heads)


@test("an http URL through tinyproxy goes in absolute-form, and https "
      "through a CONNECT tunnel")
def _():
    p, port = tinyproxy()
    with p, Server() as srv, Server(tls=test_tls.pki()["good"]) as tls:
        proxy = ["--set", "network.proxy=http://127.0.0.1:%d" % port]
        r = run_batch([srv.url("/size/1000")], args=ONE + proxy)
        x = r.records[0]
        check(x["ok"], "http ok: %r" % x)
        check(via(srv), "the server saw tinyproxy's Via header")
        r = run_batch([tls.url("/size/2000")],
                      args=ONE + proxy + test_tls.trust())
        x = r.records[0]
        check(x["ok"], "https ok: %r" % x)
        check_eq(x["bytes"], 2000, "bytes")
        check(x["tls"] and x["tls"]["version"], "TLS inside the tunnel")
        check_in("CONNECT 127.0.0.1:%d" % tls.port, p.text(),
                 "tinyproxy logged the CONNECT")


@test("tinyproxy with BasicAuth: credentials from the URL are sent, none "
      "gives proxy 'wants credentials'")
def _():
    p, port = tinyproxy(auth=("ann", "s3cret"))
    with p, Server() as srv, Server(tls=test_tls.pki()["good"]) as tls:
        bare = ["--set", "network.proxy=http://127.0.0.1:%d" % port]
        r = run_batch([tls.url("/ok")], args=ONE + bare + test_tls.trust())
        x = r.records[0]
        check_eq(x["error"], "proxy", "class: %r" % x)
        check_in("wants credentials", x["error_detail"], "detail")
        auth = ["--set", "network.proxy=http://ann:s3cret@127.0.0.1:%d" % port]
        r = run_batch([tls.url("/ok"), srv.url("/ok")],
                      args=ONE + auth + test_tls.trust())
        check(all(x["ok"] for x in r.records), "both ok: %r" % r.records)


@test("socks5 through microsocks fetches http and https, names resolved "
      "here")
def _():
    p, port = microsocks()
    with p, Server() as srv, Server(tls=test_tls.pki()["good"]) as tls:
        proxy = ["--set", "network.proxy=socks5://127.0.0.1:%d" % port]
        r = run_batch([srv.url("/size/100"), tls.url("/size/300")],
                      args=ONE + proxy + test_tls.trust())
        check(all(x["ok"] for x in r.records), "ok: %r" % r.records)
        check_in("connected to 127.0.0.1:%d" % srv.port, p.text(),
                 "microsocks carried the http request")
        check_in("connected to 127.0.0.1:%d" % tls.port, p.text(),
                 "and the https one")
        # socks5 resolves here: with no resolver a name fails as dns
        r = run_batch(["http://rf-test.invalid:%d/ok" % srv.port],
                      args=ONE + proxy + NO_DNS)
        check_eq(r.records[0]["error"], "dns", "resolved here")


@test("socks5h lets microsocks resolve the name (no resolver here)")
def _():
    p, port = microsocks()
    with p, Server() as srv:
        proxy = ["--set", "network.proxy=socks5h://127.0.0.1:%d" % port]
        r = run_batch(["http://localhost:%d/size/10" % srv.port],
                      args=ONE + proxy + NO_DNS)
        x = r.records[0]
        check(x["ok"], "ok though nothing resolves here: %r" % x)
        check_in("connected to localhost:%d" % srv.port, p.text(),
                 "the name went to the proxy")


@test("socks5 with a user and password; wrong ones end in proxy")
def _():
    p, port = microsocks(auth=("bob", "pw"))
    with p, Server() as srv:
        good = ["--set", "network.proxy=socks5://bob:pw@127.0.0.1:%d" % port]
        r = run_batch([srv.url("/ok")], args=ONE + good)
        check(r.records[0]["ok"], "ok: %r" % r.records[0])
        bad = ["--set", "network.proxy=socks5://bob:no@127.0.0.1:%d" % port]
        r = run_batch([srv.url("/ok")], args=ONE + bad)
        check_eq(r.records[0]["error"], "proxy", "class")
        none = ["--set", "network.proxy=socks5://127.0.0.1:%d" % port]
        r = run_batch([srv.url("/ok")], args=ONE + none)
        check_eq(r.records[0]["error"], "proxy", "class without creds")
        check_in("credentials", r.records[0]["error_detail"], "detail")


@test("an unreachable proxy ends in proxy, and no_proxy goes direct")
def _():
    with Server() as srv:
        dead = ["--set", "network.proxy=http://127.0.0.1:%d" % closed_port()]
        r = run_batch([srv.url("/ok")], args=ONE + dead)
        x = r.records[0]
        check_eq(x["error"], "proxy", "class: %r" % x)
        check_in("cannot reach the proxy", x["error_detail"], "detail")
        r = run_batch([srv.url("/ok")],
                      args=ONE + dead + ["--set", "network.no_proxy=[127.0.0.0/8]"])
        check(r.records[0]["ok"], "direct by CIDR: %r" % r.records[0])
        r = run_batch(["http://localhost:%d/ok" % srv.port],
                      args=ONE + dead + ["--set", "network.no_proxy=[LOCALHOST]"])
        check(r.records[0]["ok"], "direct by name: %r" % r.records[0])


@test("through an http proxy network.deny still sees an IP-literal URL")
def _():
    p, port = tinyproxy()
    with p, Server() as srv:
        r = run_batch([srv.url("/ok")], args=ONE + [
            "--set", "network.proxy=http://127.0.0.1:%d" % port,
            "--set", "network.deny=[127.0.0.2/32, %s/32]" % "127.0.0.1",
            "--set", "network.allow=[]"])
        x = r.records[0]
        check_eq(x["error"], "blocked_address", "class: %r" % x)


@test("a bad proxy URL is a configuration error naming the key")
def _():
    r = run_rf(["--check-config", "--set", "network.proxy=ftp://x:1"])
    check_eq(r.rc, 2, "exit status")
    check_in("network.proxy", r.stderr, "names the key")


main()
