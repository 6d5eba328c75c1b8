#!/bin/sh
# The function's handler under the Lambda Web Adapter: start the web server (lambdas/openai_http/server.py).
# The asset root (/var/task) holds the `lambdas` package and its dependencies.
cd "$LAMBDA_TASK_ROOT" || exit 1
exec python -m lambdas.openai_http.server
