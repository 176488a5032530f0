"""`python -m tests.fakes.openai --port 8765 --delay 0.5`: the loopback OpenAI on its own, for benchmarks."""

import argparse

from aiohttp import web

from tests.fakes.openai import OpenAIFake

parser = argparse.ArgumentParser(description="A loopback OpenAI for benchmarks")
parser.add_argument("--port", type=int, default=8765)
parser.add_argument("--delay", type=float, default=0.5, help="seconds before each answer")
args = parser.parse_args()
web.run_app(OpenAIFake(delay=args.delay).app, host="127.0.0.1", port=args.port, print=None)
