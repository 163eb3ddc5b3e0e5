#!/usr/bin/env bash
# Deploys the whole stack of infra/template.yaml to a running LocalStack, in one command:
#
#   export LOCALSTACK_AUTH_TOKEN=ls-...   # the stack uses RDS (Aurora) and ECS: LocalStack's paid plans
#   docker compose -f localstack/docker-compose.yml up -d
#   localstack/deploy.sh [stage]          # dev by default
#
# It builds the functions (sam build: cargo-lambda, no Docker), builds and pushes the
# streaming core's image to LocalStack's ECR, and deploys with samlocal (aws-sam-cli-local,
# installed if missing), which points the SAM CLI at http://localhost:4566.
set -euo pipefail
cd "$(dirname "$0")/.."

stage="${1:-dev}"
endpoint="${AWS_ENDPOINT_URL:-http://localhost:4566}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
export AWS_REGION="${AWS_REGION:-us-east-1}" AWS_DEFAULT_REGION="${AWS_REGION:-us-east-1}"
export SAM_CLI_TELEMETRY=0

pip_install() {
    python3 -m pip install --quiet --disable-pip-version-check "$@" \
        || python3 -m pip install --quiet --disable-pip-version-check --user "$@"
}
command -v samlocal >/dev/null || pip_install aws-sam-cli-local awscli-local
command -v cargo-lambda >/dev/null || pip_install cargo-lambda

curl -fsS "$endpoint/_localstack/health" >/dev/null \
    || { echo "LocalStack is not answering at $endpoint (see localstack/README.md)" >&2; exit 1; }

sam build --config-env default

repository="stratus-$stage-core"
awslocal ecr describe-repositories --repository-names "$repository" >/dev/null 2>&1 \
    || awslocal ecr create-repository --repository-name "$repository" >/dev/null
uri=$(awslocal ecr describe-repositories --repository-names "$repository" \
    --query 'repositories[0].repositoryUri' --output text)
infra/build-core.sh --image "stratus-core:$stage" --push "$uri:latest"

samlocal deploy --config-env default --stack-name "stratus-$stage" --no-confirm-changeset \
    --parameter-overrides "Stage=$stage" "CoreImageUri=$uri:latest"
awslocal cloudformation describe-stacks --stack-name "stratus-$stage" \
    --query 'Stacks[0].Outputs' --output table
