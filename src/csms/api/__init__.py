"""The REST API: routers, request and response schemas, and dependencies."""
