"""Metrics in Prometheus' text format under CloudWatch's SageMaker names, shared by runtime, hosting and the gateway.

``names.py`` holds every exported name, its help text and its buckets (one home, read by the parts, the
Grafana dashboard test and ``modelport status``); ``series.py`` the cheap in-process counters and
histograms the hot paths write and their rendering with ``prometheus_client`` at scrape time;
``scrape.py`` reading a scrape back (``modelport status``).
"""
