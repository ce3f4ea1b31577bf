"""`modelport aws deploy|status|destroy`: the same archives, gateway and page on real AWS."""
