"""HTTPS against a real nginx on loopback (the issue's done-when), with a CA
and a server certificate generated here: every record ok with its tls
field and the right sha256, later connections resumed, keep-alive and
Connection: close, TLS 1.3 and a TLS 1.2-only server. Skipped when nginx is
not installed (scripts/install-deps.sh installs nginx-light)."""
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import *  # noqa: E402,F401,F403

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, timeout=60,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_ca_and_leaf(d):
    """A P-256 CA and a leaf for localhost/127.0.0.1 it signed."""
    ca, ca_key = os.path.join(d, "ca.pem"), os.path.join(d, "ca.key")
    srv, srv_key = os.path.join(d, "srv.pem"), os.path.join(d, "srv.key")
    csr, ext = os.path.join(d, "srv.csr"), os.path.join(d, "srv.ext")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-nodes", "-keyout", ca_key, "-out",
            ca, "-days", "2", "-subj", "/CN=rf-test-ca", "-addext",
            "basicConstraints=critical,CA:TRUE")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", srv_key, "-out", csr, "-subj",
            "/CN=localhost")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
            "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", srv)
    return ca, srv, srv_key


class Nginx:
    """One private nginx worker: a keep-alive and a Connection: close
    listener over TLS 1.2/1.3 and a TLS 1.2-only one, serving www/."""

    def __init__(self):
        self.dir = scratch_dir("nginx")
        # the worker runs as nobody: it must reach and read www/
        os.chmod(os.path.dirname(self.dir), 0o711)
        os.chmod(self.dir, 0o755)
        self.ca, cert, key = make_ca_and_leaf(self.dir)
        self.www = os.path.join(self.dir, "www")
        os.mkdir(self.www)
        os.mkdir(os.path.join(self.dir, "logs"))
        self.sizes = [0, 1, 100, 4096, 16383, 16385, 100000, 1 << 20]
        self.sha = {}
        for n in self.sizes:
            data = content_of(n)
            with open(os.path.join(self.www, "f%d" % n), "wb") as f:
                f.write(data)
            self.sha[n] = hashlib.sha256(data).hexdigest()
        for p in [self.dir, self.www] + [os.path.join(self.www, x)
                                         for x in os.listdir(self.www)]:
            os.chmod(p, 0o755 if os.path.isdir(p) else 0o644)
        self.ka, self.close, self.tls12 = free_port(), free_port(), \
            free_port()
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write("""worker_processes 1;
daemon off;
pid %(d)s/nginx.pid;
error_log %(d)s/logs/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	ssl_certificate %(cert)s;
	ssl_certificate_key %(key)s;
	ssl_session_cache shared:rftest:1m;
	server { listen 127.0.0.1:%(ka)d ssl; root %(www)s;
		ssl_protocols TLSv1.2 TLSv1.3; keepalive_timeout 60s; }
	server { listen 127.0.0.1:%(close)d ssl; root %(www)s;
		ssl_protocols TLSv1.2 TLSv1.3; keepalive_timeout 0; }
	server { listen 127.0.0.1:%(tls12)d ssl; root %(www)s;
		ssl_protocols TLSv1.2; keepalive_timeout 60s; }
}
""" % dict(d=self.dir, cert=cert, key=key, ka=self.ka, close=self.close,
           tls12=self.tls12, www=self.www))
        self.proc = subprocess.Popen([NGINX, "-p", self.dir, "-c", conf],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        self.wait_ready()

    def wait_ready(self):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("nginx exited: %s" %
                                     self.proc.stderr.read().decode())
            try:
                import socket
                for port in (self.ka, self.close, self.tls12):
                    socket.create_connection(("127.0.0.1", port), 1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("nginx did not listen within 10 s")

    def url(self, port, n, q=""):
        return "https://127.0.0.1:%d/f%d%s" % (port, n, q)

    def stop(self):
        self.proc.send_signal(signal.SIGQUIT)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def need_nginx():
    if not os.path.exists(NGINX):
        skip("nginx is not installed")


def crawl(ng, urls, *args):
    return run_batch(urls, ["--set", "tls.ca_file=" + ng.ca] + list(args),
                     timeout=120)


@test("nginx keep-alive: every record ok, tls field, sha256, resumption")
def _():
    need_nginx()
    with Nginx() as ng:
        urls = [ng.url(ng.ka, n, "?i=%d" % i) for i in range(40)
                for n in ng.sizes]
        r = crawl(ng, urls, "--per-host", "16")
        check_eq(r.rc, 0, "exit status\n" + r.describe())
        check_eq(len(r.records), len(urls), "one record per URL")
        for rec in r.records:
            n = int(rec["url"].split("/f")[1].split("?")[0])
            check_eq(rec["ok"], True, "ok: %r" % rec)
            check_eq(rec["sha256"], ng.sha[n], "sha256 of f%d" % n)
            check_eq(rec["bytes"], n, "bytes of f%d" % n)
            check_eq(rec["tls"]["version"], "TLSv1.3", "version")
            check(rec["tls"]["cipher"], "a cipher")
        # only the first connection shakes hands in full: the records
        # with resumed false are the requests it carried
        full = [x for x in r.records if not x["tls"]["resumed"]]
        check(0 < len(full) < len(urls) // 4,
              "%d records on the full handshake" % len(full))
        check(all(isinstance(x["timings_ms"]["tls"], int)
                  for x in r.records), "timings_ms.tls")


@test("nginx Connection: close: a handshake per request, all but one resumed")
def _():
    need_nginx()
    with Nginx() as ng:
        urls = [ng.url(ng.close, 4096, "?i=%d" % i) for i in range(200)]
        r = crawl(ng, urls, "--per-host", "8")
        check_eq(r.rc, 0, "exit status\n" + r.describe())
        resumed = sum(1 for x in r.records if x["tls"]["resumed"])
        check_eq(resumed, len(urls) - 1, "records on resumed sessions")


@test("nginx TLS 1.2 only: TLSv1.2, AES-GCM, sessions resumed")
def _():
    need_nginx()
    with Nginx() as ng:
        urls = [ng.url(ng.tls12, 100000, "?i=%d" % i) for i in range(60)]
        r = crawl(ng, urls, "--per-host", "6", "--set",
                  "http.keepalive_idle=1s")
        check_eq(r.rc, 0, "exit status\n" + r.describe())
        for rec in r.records:
            check_eq(rec["tls"]["version"], "TLSv1.2", "version")
            check_in("GCM", rec["tls"]["cipher"], "cipher")
            check_eq(rec["sha256"], ng.sha[100000], "sha256")
        check(sum(1 for x in r.records if x["tls"]["resumed"]) > 0,
              "resumed sessions")


@test("nginx: a CA that did not sign the server ends in tls_verify")
def _():
    need_nginx()
    with Nginx() as ng:
        other = scratch_dir("ca2")
        ca2, _, _ = make_ca_and_leaf(other)
        r = run_batch([ng.url(ng.ka, 100)],
                      ["--set", "tls.ca_file=" + ca2], timeout=60)
        check_eq(r.rc, 1, "exit status")
        rec = r.records[0]
        check_eq(rec["error"], "tls_verify", "class")
        check(rec["error_detail"], "a reason")
        check_eq(rec["attempts"], 1, "not retried")


main()
