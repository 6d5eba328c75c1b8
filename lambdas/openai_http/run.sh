#!/bin/sh
# The HTTP function's handler under the Lambda Web Adapter: start the web server (lambdas/openai_http/server.py).
# The asset root ($LAMBDA_TASK_ROOT) holds the `lambdas` package and its wheels; boto3 comes with the runtime, whose
# directories are added the way the adapter's own Python zip example does (examples/fastapi-response-streaming-zip).
cd "$LAMBDA_TASK_ROOT" || exit 1
PATH="$PATH:$LAMBDA_TASK_ROOT/bin" \
    PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}/opt/python:$LAMBDA_RUNTIME_DIR" \
    exec python3 -m lambdas.openai_http.server
