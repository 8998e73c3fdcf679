"""A throwaway PKI for the TLS tests: one CA the tests trust, one they never
trust, and leaf certificates (good, unknown CA, wrong name, expired), made
once per test process with openssl."""
import os
import subprocess

from harness import scratch_dir

PKI = {}


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                   timeout=60)


def make_ca(d, name):
    key, pem = os.path.join(d, name + ".key"), os.path.join(d, name + ".pem")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", pem,
            "-days", "3", "-subj", "/CN=ringfetch test " + name,
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return pem, key


def make_leaf(d, name, ca, san, days="2"):
    """A server cert signed by ca; days "-1" gives one already expired."""
    key, csr = os.path.join(d, name + ".key"), os.path.join(d, name + ".csr")
    pem, ext = os.path.join(d, name + ".pem"), os.path.join(d, name + ".ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\n" % san)
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=" + name)
    openssl("x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1],
            "-CAcreateserial", "-out", pem, "-days", days, "-extfile", ext)
    return pem, key


def pki():
    """One CA (trusted by the tests), another (never trusted), and leaves."""
    if PKI:
        return PKI
    d = scratch_dir("pki")
    ca = make_ca(d, "ca")
    other = make_ca(d, "other")
    good_san = "DNS:localhost,IP:127.0.0.1,IP:::1"
    PKI.update(
        ca=ca[0],
        good=make_leaf(d, "good", ca, good_san),
        unknown=make_leaf(d, "unknown", other, good_san),
        wrongname=make_leaf(d, "wrongname", ca, "DNS:other.example"),
        expired=make_leaf(d, "expired", ca, good_san, days="-1"))
    return PKI


def trust():
    return ["--set", "tls.ca_file=" + pki()["ca"]]
