"""A small gRPC service and its client with no OpenTelemetry code and no generated stubs.

``python grpc_app.py serve PORT`` serves ``/shop.Items/List`` (bytes in, bytes out) until
it is stopped; ``python grpc_app.py call PORT N`` calls it N times and prints each answer.
"""

from __future__ import annotations

import sys
from concurrent import futures

import grpc

METHOD = "/shop.Items/List"


def _list(request: bytes, context: grpc.ServicerContext) -> bytes:
    return b"apple,pear,plum:" + request


def serve(port: int) -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    handler = grpc.method_handlers_generic_handler(
        "shop.Items", {"List": grpc.unary_unary_rpc_method_handler(_list)}
    )
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    print("serving", flush=True)
    server.wait_for_termination()


def call(port: int, count: int) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        list_items = channel.unary_unary(METHOD)
        for number in range(count):
            print(list_items(str(number).encode(), timeout=5).decode(), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(int(sys.argv[2]))
    else:
        call(int(sys.argv[2]), int(sys.argv[3]))
