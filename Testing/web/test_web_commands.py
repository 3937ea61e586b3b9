"""`interactiveseg web` options: loopback by default."""
from interactiveseg_web.commands import build_parser


def test_defaults_bind_to_loopback_on_8080():
    args = build_parser().parse_args([])
    assert (args.host, args.port, args.volume) == ("127.0.0.1", 8080, None)


def test_volume_host_and_port_are_taken():
    args = build_parser().parse_args(["ct.nrrd", "--port", "9000", "--host", "0.0.0.0"])
    assert (args.volume, args.port, args.host) == ("ct.nrrd", 9000, "0.0.0.0")
