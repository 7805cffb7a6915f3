"""Local stand-ins for the SMS providers: servers that speak each provider's real protocol, for tests, demos and benchmarks."""
