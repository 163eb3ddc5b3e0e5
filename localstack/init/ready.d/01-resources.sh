#!/usr/bin/env bash
# Creates Stratus's streams and tables in LocalStack from resources.json (mounted at
# /etc/localstack/stratus/resources.json), named <STRATUS_PREFIX>-<name>. Idempotent.
# Also usable against any endpoint: RESOURCES=localstack/resources.json AWS=aws ./01-resources.sh
set -euo pipefail
resources=${RESOURCES:-/etc/localstack/stratus/resources.json}
prefix=${STRATUS_PREFIX:-stratus-local}
aws_cli=${AWS:-awslocal}

read_json() { python3 -c "import json,sys; d=json.load(open('$resources')); $1"; }

key_pk=$(read_json 'print(d["table_key"]["partition"])')
key_sk=$(read_json 'print(d["table_key"]["sort"])')
ttl=$(read_json 'print(d["ttl_attribute"])')

for table in $(read_json 'print(" ".join(t["name"] for t in d["tables"]))'); do
    name="$prefix-$table"
    if ! $aws_cli dynamodb describe-table --table-name "$name" >/dev/null 2>&1; then
        $aws_cli dynamodb create-table --table-name "$name" --billing-mode PAY_PER_REQUEST \
            --attribute-definitions "AttributeName=$key_pk,AttributeType=S" "AttributeName=$key_sk,AttributeType=S" \
            --key-schema "AttributeName=$key_pk,KeyType=HASH" "AttributeName=$key_sk,KeyType=RANGE" >/dev/null
        $aws_cli dynamodb wait table-exists --table-name "$name"
        $aws_cli dynamodb update-time-to-live --table-name "$name" \
            --time-to-live-specification "Enabled=true,AttributeName=$ttl" >/dev/null
        echo "created table $name"
    fi
done

read_json 'print("\n".join(f"{s[\"name\"]} {s[\"shards\"]}" for s in d["streams"]))' | while read -r stream shards; do
    name="$prefix-$stream"
    if ! $aws_cli kinesis describe-stream-summary --stream-name "$name" >/dev/null 2>&1; then
        $aws_cli kinesis create-stream --stream-name "$name" --shard-count "$shards"
        $aws_cli kinesis wait stream-exists --stream-name "$name"
        echo "created stream $name ($shards shards)"
    fi
done
