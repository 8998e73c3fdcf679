"""Name resolution in the engine: a dnsmasq the test starts on loopback
(dns.servers), the hosts file, NXDOMAIN as class dns. No query ever leaves
127.0.0.1: every run sets dns.servers."""
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import *  # noqa: E402,F401,F403


class Dnsmasq:
    def __enter__(self):
        exe = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
        if not os.path.exists(exe):
            skip("dnsmasq not installed")
        self.port = free_port()
        self.p = subprocess.Popen(
            [exe, "--keep-in-foreground", "--no-resolv", "--no-hosts",
             "--no-poll", "--port=%d" % self.port,
             "--listen-address=127.0.0.1", "--bind-interfaces",
             "--address=/test/127.0.0.1", "--address=/nx.test/",
             "--pid-file=", "--user=root"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_until(self.answers, 10, what="dnsmasq to answer on "
                       "127.0.0.1:%d" % self.port)
        except BaseException:
            self.__exit__()
            raise
        return self

    def answers(self):
        """True once dnsmasq answers an A query for probe.test over UDP;
        AssertionError if it exited (e.g. the port was taken)."""
        if self.p.poll() is not None:
            raise AssertionError("dnsmasq exited %s" % self.p.returncode)
        qid = random.randrange(1 << 16)
        # header: id, flags RD, 1 question; then probe.test IN A
        query = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
        query += b"\x05probe\x04test\x00" + struct.pack(">HH", 1, 1)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.2)
            try:
                s.sendto(query, ("127.0.0.1", self.port))
                reply = s.recv(512)
            except OSError:  # refused (not bound yet) or no answer yet
                return False
        return len(reply) >= 12 and struct.unpack(">H", reply[:2])[0] == qid

    def __exit__(self, *a):
        self.p.terminate()
        try:
            self.p.wait(3)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()

    def args(self):
        return ["--set", "dns.servers=[\"127.0.0.1:%d\"]" % self.port,
                "--set", "retry.backoff_base=10ms"]


@test("names resolve through dns.servers; NXDOMAIN is class dns")
def _():
    with Server() as srv, Dnsmasq() as dns:
        good = "http://www.test:%d/ok" % srv.port
        bad = "http://nope.nx.test:%d/ok" % srv.port
        r = run_batch([good, bad], args=dns.args())
        recs = r.by_url()
        check(recs[good]["ok"], "resolved name fetched: %r" % recs[good])
        check_eq(recs[good]["ip"], "127.0.0.1", "ip")
        check_eq(recs[bad]["error"], "dns", "NXDOMAIN class")
        check(recs[bad]["error_detail"], "detail")


@test("the hosts file is honoured (RINGFETCH_HOSTS_FILE for tests)")
def _():
    with Server() as srv, Dnsmasq() as dns:
        hosts = os.path.join(scratch_dir("hosts"), "hosts")
        with open(hosts, "w") as f:
            f.write("127.0.0.1 myhost.example\n")
        url = "http://myhost.example:%d/ok" % srv.port
        env = dict(os.environ, RINGFETCH_HOSTS_FILE=hosts)
        r = run_batch([url], args=dns.args(), env=env)
        check(r.by_url()[url]["ok"], "hosts entry used")


@test("a dead resolver ends in class dns within dns.timeout x attempts")
def _():
    with Server() as srv:
        port = closed_port()
        url = "http://slow.test:%d/ok" % srv.port
        t0 = time.monotonic()
        r = run_batch([url], args=["--set", "dns.servers=[\"127.0.0.1:%d\"]" % port,
                                   "--set", "dns.timeout=200ms",
                                   "--set", "dns.attempts=2"])
        check_eq(r.by_url()[url]["error"], "dns", "class")
        check(time.monotonic() - t0 < 10, "bounded")


@test("many URLs on one name cost one query (cache)")
def _():
    with Server() as srv, Dnsmasq() as dns:
        urls = ["http://c.test:%d/ok?n=%d" % (srv.port, i) for i in range(50)]
        r = run_batch(urls, args=dns.args())
        check(all(x["ok"] for x in r.records), "all ok")


if __name__ == "__main__":
    main()
