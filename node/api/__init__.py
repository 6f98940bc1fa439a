"""The gRPC edge: servicers, the error-to-status mapping, and the authentication interceptor.

The only package that knows gRPC servicers. Depends on everything below it (ring, erasure, store,
gossip, peers, objects); nothing imports it but the daemon.
"""
