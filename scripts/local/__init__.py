"""The local stack: Steward's governed path on one machine, on the same code that runs in AWS.

AWS services run in moto's server mode and are reached through the same boto3 adapters the
Lambdas use (``AWS_ENDPOINT_URL``); the gateway runs the same FastAPI app and authorizer that API
Gateway + Lambda run; the inference backend is the real ``gpu_backend`` process.
"""
