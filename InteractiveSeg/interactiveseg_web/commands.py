"""`interactiveseg web`: serve InteractiveSeg's workflow to a browser with trame-slicer.

Binds to 127.0.0.1 unless --host says otherwise: the page can read and write files on the
server, so only expose it on a network you trust.
"""
from __future__ import annotations

import argparse
import json
import os
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="interactiveseg web", description=__doc__.splitlines()[0])
    parser.add_argument("volume", nargs="?", help="image file (NRRD, NIfTI, ...) or DICOM folder to open; "
                                                  "'sample' opens the bundled chest CT")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only)")
    parser.add_argument("--model", default="", help="model .safetensors (default: the shipped model)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument("--settings", default="", help='fine-tuning overrides as JSON, e.g. \'{"iterations": 5}\'')
    parser.add_argument("--output-dir", default=".", help="default folder for saved segmentations")
    return parser


def web_main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = json.loads(args.settings) if args.settings else {}
    except json.JSONDecodeError as error:
        parser.error(f"--settings is not JSON: {error}")
    if not isinstance(settings, dict):
        parser.error("--settings must be a JSON object")

    # Headless servers have no X display: render with EGL (Mesa or a GPU driver). Set before VTK loads.
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    try:
        from .app import create_app
    except ImportError as error:
        print(f"interactiveseg web: error: {error}. Install the web extra: pip install 'interactiveseg[web]'",
              file=sys.stderr)
        return 2
    from interactiveseg.demo import SAMPLE_IMAGE

    from . import same_origin
    volume = str(SAMPLE_IMAGE) if args.volume == "sample" else args.volume
    server, controller = create_app(volume=volume, model_path=args.model, device=args.device, settings=settings,
                                    output_dir=args.output_dir)
    if controller.workflow.status.error:  # the page shows it too
        print(f"interactiveseg web: {controller.workflow.status.text}", file=sys.stderr)
    same_origin.install(server, args.host)
    print(f"InteractiveSeg web: http://{args.host}:{args.port}/", flush=True)
    # timeout=0: wslink would otherwise end the server 5 minutes after the last page closed, unsaved rounds and all.
    server.start(host=args.host, port=args.port, open_browser=False, show_connection_info=True, timeout=0)
    return 0


if __name__ == "__main__":
    sys.exit(web_main())
