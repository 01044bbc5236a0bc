"""A small app with no OpenTelemetry code: a few Redis commands and a pipeline, at REDIS_URL."""

from __future__ import annotations

import os

import redis

client = redis.Redis.from_url(os.environ["REDIS_URL"])
client.set("fruit:apple", 3)
client.incrby("fruit:apple", 2)
print("apple", int(client.get("fruit:apple") or 0))
with client.pipeline() as pipe:
    pipe.set("fruit:pear", 5).get("fruit:pear")
    print("pipeline", pipe.execute())
try:
    client.lpush("fruit:apple", "x")  # a string key: WRONGTYPE
except redis.ResponseError as error:
    print("error", str(error).split()[0])
client.close()
