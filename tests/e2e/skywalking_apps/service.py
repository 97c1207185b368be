"""An HTTP service traced by the real SkyWalking Python agent.

`python service.py PORT` with COLLECTOR (host:port), PROTOCOL (grpc or http), SERVICE and,
optionally, DOWNSTREAM (a base URL): GET /orders calls DOWNSTREAM/inventory with `requests` when
set, logs a warning, and answers 200. The agent's http.server and requests plugins make the Entry
and Exit spans and carry the sw8 header between the services. Prints `ready` once listening.
"""

import logging
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from skywalking import agent, config

config.init(agent_collector_backend_services=os.environ["COLLECTOR"],
            agent_protocol=os.environ["PROTOCOL"],
            agent_name=os.environ["SERVICE"],
            agent_instance_name=os.environ["SERVICE"] + "-1",
            agent_log_reporter_level="WARNING",
            agent_meter_reporter_active=False,
            agent_profile_active=False)
agent.start()

import requests  # noqa: E402  imported after the agent starts, so its plugin wraps it

DOWNSTREAM = os.environ.get("DOWNSTREAM")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if DOWNSTREAM:
            requests.get(DOWNSTREAM + "/inventory", timeout=5).raise_for_status()
        logging.getLogger("shop").warning("served %s", self.path)
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
print("ready", flush=True)
server.serve_forever()
