"""InteractiveSeg in the browser: Slicer's scene, views, markups and segment editor served by trame-slicer.

    interactiveseg web [--port 8080] [--host 127.0.0.1] [VOLUME]

The scene work is InteractiveSegLib's logic, the same code the desktop module calls;
this package adds only the page, file loading and saving, and the worker polling.
It needs the `web` extra (trame-slicer, slicer-core); the engine never imports it.
"""
