"""API keys and the authorization decision behind the API Gateway authorizer."""
