"""An HTTP service traced by the real SkyWalking Python agent.

`python service.py PORT` with COLLECTOR (host:port), PROTOCOL (grpc or http), SERVICE and,
optionally, DOWNSTREAM (a base URL): GET /orders calls DOWNSTREAM/inventory with `requests` when
set, counts the request in the `shop_requests_served` meter, logs a warning, and answers 200. The
agent's http.server and requests plugins make the Entry and Exit spans and carry the sw8 header
between the services; meters (this one and the agent's own `instance_pvm_*`) are reported over
gRPC (the agent sends none over HTTP) every SW_AGENT_METER_REPORTER_PERIOD seconds, an environment
variable because the agent reads it on import. Prints `ready` once listening.
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
            agent_profile_active=False)
agent.start()

from skywalking.meter.counter import Counter, CounterMode  # noqa: E402

# In HTTP mode the agent has no meter service to register a meter with.
SERVED = Counter.Builder("shop_requests_served", CounterMode.INCREMENT,
                         (("service", os.environ["SERVICE"]),)).build() \
    if os.environ["PROTOCOL"] == "grpc" else None

import requests  # noqa: E402  imported after the agent starts, so its plugin wraps it

DOWNSTREAM = os.environ.get("DOWNSTREAM")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if DOWNSTREAM:
            requests.get(DOWNSTREAM + "/inventory", timeout=5).raise_for_status()
        if SERVED:
            SERVED.increment(1)
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
