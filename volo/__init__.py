"""The asyncio RPC runtime (servers, clients, transports, middleware)."""
