"""Only pages served from the server's own address reach it, whatever site the browser also shows."""
import pytest

from interactiveseg_web.same_origin import is_allowed


@pytest.mark.parametrize("host, origin, loopback_only, allowed", [
    ("127.0.0.1:8080", "http://127.0.0.1:8080", True, True),   # the page itself
    ("localhost:8080", "http://localhost:8080", True, True),
    ("[::1]:8080", "http://[::1]:8080", True, True),
    ("127.0.0.1:8080", None, True, True),                       # a script on this machine, no page
    ("127.0.0.1:8080", "http://evil.example", True, False),     # another site's page in the same browser
    ("127.0.0.1:8080", "http://127.0.0.1:9999", True, False),   # another local server's page
    ("rebound.evil.example:8080", "http://rebound.evil.example:8080", True, False),  # DNS rebinding
    ("rebound.evil.example:8080", None, True, False),
    ("10.0.0.5:8080", "http://10.0.0.5:8080", False, True),     # bound to a network on purpose
    ("10.0.0.5:8080", "http://evil.example", False, False),
    (None, None, True, False),
])
def test_requests_from_other_sites_are_refused(host, origin, loopback_only, allowed):
    assert is_allowed(host, origin, loopback_only) is allowed
