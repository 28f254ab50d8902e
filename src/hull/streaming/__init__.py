"""Clients of the Kubernetes streaming protocols: kubectl's side of a CRI streaming URL.

``hull.streaming.client`` runs exec/attach sessions (remotecommand over
SPDY/3.1 or WebSocket) as ``hull exec -i/-t`` and the test kits need them.
It loads only the wire-protocol modules of ``hull.cri.streaming`` (spdy,
websocket, wschannels, remotecommand), never hulld's server, so a client
such as ``hull.play`` stays a client that talks to hulld over sockets.
"""
