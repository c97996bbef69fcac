"""The data plane: authenticate, route, call upstream, stream back, meter."""
