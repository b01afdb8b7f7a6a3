"""Benchmark scripts (not tests): each prints one JSON object on its last line and exits 1 on a miss."""
