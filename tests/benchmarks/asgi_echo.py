"""A bare ASGI app that answers each request with its own body, served by
uvicorn exactly as ``kpi serve`` serves the add-in (``uvicorn_options``: the
same HTTP protocol class, event loop, keep-alive and logging), one worker.

What any plain ASGI app costs on this server, at the least:
``bench_calls.py`` measures the add-in's one-cell calls against it. (An app
can answer a request without ASGI, as ``kpi serve`` answers a one-cell call
that has arrived whole: ``answer_at_once`` in ``addin.server.protocol``. The
echo stays a plain ASGI app.)

    python tests/benchmarks/asgi_echo.py --port PORT
"""

from __future__ import annotations

import argparse
from typing import Any

import uvicorn

from addin.commands import uvicorn_options
from addin.server.settings import get_settings


async def received(receive: Any) -> bytes:
    """A request's body, as a plain ASGI app receives it: message by message."""
    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = await received(receive)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    options = parser.parse_args()
    uvicorn.run(
        echo, host="127.0.0.1", port=options.port, workers=1, **uvicorn_options(get_settings())
    )


if __name__ == "__main__":
    main()
