"""The payments webhook: records a card processor's notification in the ledger and announces it."""

import json
import os
import uuid

import boto3

ledger = boto3.resource("dynamodb").Table(os.environ["LEDGER_TABLE"])
events = boto3.client("sns")


def handler(event, context):
    body = json.loads(event.get("body") or "{}")
    entry = {"id": body.get("id") or str(uuid.uuid4()), "kind": body.get("type", "unknown")}
    ledger.put_item(Item=entry)
    events.publish(
        TopicArn=os.environ["TOPIC_ARN"],
        Message=json.dumps(entry),
        MessageAttributes={"kind": {"DataType": "String", "StringValue": entry["kind"]}},
    )
    return {"statusCode": 202, "body": json.dumps({"accepted": entry["id"]})}
