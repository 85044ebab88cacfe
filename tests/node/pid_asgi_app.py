"""An ASGI application that answers with the id of the process that served it
(tests/node/test_web_server.py)."""

import os


async def app(scope, receive, send) -> None:
    body = str(os.getpid()).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))],
        }
    )
    await send({"type": "http.response.body", "body": body})
