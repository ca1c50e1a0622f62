#!/usr/bin/env python3
"""Times tfr's sign-in flows against a running tfr and the test OIDC provider.

  auth_flows.py login    BASE            -> prints the session token (JWT) on stdout,
                                            the timings on stderr
  auth_flows.py exchange BASE TOKEN N    -> N terraform-login code exchanges, timed
  auth_flows.py verify   BASE KEY...     -> the first (uncached, bcrypt) request per key

Redirects are followed by hand so each hop can be timed and cookies kept per host
(urllib's cookie jar drops Secure cookies over http://127.0.0.1).
"""
import base64
import hashlib
import http.client
import json
import secrets
import statistics
import sys
import time
import urllib.parse


def request(method, url, headers=None, body=None):
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    path = u.path + ("?" + u.query if u.query else "")
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    out = (resp.status, resp.getheaders(), data)
    conn.close()
    return out


def header(headers, name):
    for k, v in headers:
        if k.lower() == name.lower():
            return v
    return None


def set_cookies(headers):
    out = {}
    for k, v in headers:
        if k.lower() == "set-cookie":
            pair = v.split(";", 1)[0]
            name, _, value = pair.partition("=")
            out[name.strip()] = value.strip()
    return out


def cookie_header(jar):
    return "; ".join(f"{k}={v}" for k, v in jar.items() if v)


def ms(seconds):
    return f"{seconds * 1000:.1f} ms"


def login(base):
    t0 = time.perf_counter()
    status, headers, _ = request("GET", f"{base}/api/v1/auth/login")
    assert status == 302, (status, headers)
    tfr_jar = set_cookies(headers)
    url = header(headers, "location")
    idp_jar = {}
    callback_prefix = f"{base}/api/v1/auth/callback"
    hops = 0
    while not url.startswith(callback_prefix):
        hops += 1
        assert hops < 20, "too many redirects at the identity provider"
        status, headers, body = request("GET", url, {"Cookie": cookie_header(idp_jar)})
        idp_jar.update(set_cookies(headers))
        loc = header(headers, "location")
        assert loc, (status, body[:300])
        url = urllib.parse.urljoin(url, loc)
    t1 = time.perf_counter()
    status, headers, body = request("GET", url, {"Cookie": cookie_header(tfr_jar)})
    t2 = time.perf_counter()
    assert status == 302, (status, body[:300])
    session = set_cookies(headers).get("tfr_session")
    assert session, headers
    print(f"login: whole SSO round trip {ms(t2 - t0)}; tfr's callback (code exchange with the IdP, ID token check, user provisioning, session) {ms(t2 - t1)}", file=sys.stderr)
    print(session)


def exchange(base, session, n):
    times = []
    for _ in range(n):
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        redirect = "http://localhost:10000/login"
        query = urllib.parse.urlencode({
            "client_id": "terraform-cli", "redirect_uri": redirect, "response_type": "code",
            "code_challenge": challenge, "code_challenge_method": "S256", "state": "bench",
        })
        status, headers, body = request("GET", f"{base}/oauth/authorization?{query}",
                                        {"Cookie": f"tfr_session={session}"})
        assert status == 302, (status, body[:300])
        loc = urllib.parse.urlsplit(header(headers, "location"))
        code = urllib.parse.parse_qs(loc.query)["code"][0]
        form = urllib.parse.urlencode({
            "grant_type": "authorization_code", "code": code, "redirect_uri": redirect,
            "client_id": "terraform-cli", "code_verifier": verifier,
        })
        t0 = time.perf_counter()
        status, _, body = request("POST", f"{base}/oauth/token",
                                  {"Content-Type": "application/x-www-form-urlencoded"}, form)
        times.append(time.perf_counter() - t0)
        assert status == 200 and json.loads(body)["token_type"] == "bearer", (status, body[:300])
    print(f"terraform login token exchange (x{n}): median {ms(statistics.median(times))}, max {ms(max(times))}", file=sys.stderr)


def verify(base, keys):
    times = []
    for key in keys:
        t0 = time.perf_counter()
        status, _, body = request("GET", f"{base}/api/v1/auth/me", {"Authorization": f"Bearer {key}"})
        times.append(time.perf_counter() - t0)
        assert status == 200, (status, body[:300])
    print(f"API key verification on a cache miss (bcrypt cost 12, x{len(keys)}): median {ms(statistics.median(times))}, max {ms(max(times))}", file=sys.stderr)


if __name__ == "__main__":
    cmd, base = sys.argv[1], sys.argv[2].rstrip("/")
    if cmd == "login":
        login(base)
    elif cmd == "exchange":
        exchange(base, sys.argv[3], int(sys.argv[4]))
    elif cmd == "verify":
        verify(base, sys.argv[3:])
    else:
        sys.exit(f"unknown command {cmd}")
