"""Tests of modelport.net: the HTTP/1.1 server, its limits, ASGI and upstream pools."""
