//! Observed state against the emulator: settings changed out of band with boto3 are reported by
//! `panka drift` field by field, put back by `panka drift remediate` (read back with boto3), and
//! a second drift is clean; `panka import` of resources made with non-default settings records
//! those settings, so the next plan shows each difference from the YAML.

mod emulated;
use emulated::{Env, boto};

/// The drifted field paths of `address` in a `drift --output json` document.
fn drifted_fields(doc: &serde_json::Value, address: &str) -> Vec<String> {
    doc["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["address"] == address)
        .flat_map(|r| r["changes"].as_array().cloned().unwrap_or_default())
        .map(|c| c["path"].as_str().unwrap().to_string())
        .collect()
}

fn drift_json(env: &Env) -> serde_json::Value {
    let (code, out) = env.run(&["drift", "--output", "json"]);
    assert_eq!(code, 0, "{out}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// Every SQS attribute the spec holds, changed out of band on a queue and on its dead-letter
/// queue: each is reported, remediated, and read back with boto3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_drift_is_complete_and_remediated() {
    let env = Env::new("o");
    env.write_stack("");
    env.component(
        "work",
        "jobs",
        "SQS",
        "{visibilityTimeoutSeconds: 45, retentionDays: 5, delaySeconds: 2, maxMessageSizeBytes: 131072, receiveWaitTimeSeconds: 10, deadLetter: {maxReceiveCount: 3, retentionDays: 9}}",
    );
    env.apply();
    let doc = drift_json(&env);
    assert_eq!(doc["drifted"], 0, "{doc}");
    assert_eq!(doc["inSync"], 1, "{doc}");
    assert_eq!(doc["unobservedFields"], 0, "{doc}");

    let queue = format!("{}-dev-work-jobs", env.stack);
    let read_back = || {
        boto(&format!(
            r#"
sqs = boto3.client('sqs', **kw)
url = sqs.get_queue_url(QueueName='{queue}')['QueueUrl']
dlq = sqs.get_queue_url(QueueName='{queue}-dlq')['QueueUrl']
a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=['All'])['Attributes']
d = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=['All'])['Attributes']
print(json.dumps({{'visibility': a['VisibilityTimeout'], 'retention': a['MessageRetentionPeriod'], 'delay': a['DelaySeconds'],
  'size': a['MaximumMessageSize'], 'wait': a['ReceiveMessageWaitTimeSeconds'], 'kms': a.get('KmsMasterKeyId'),
  'receives': json.loads(a['RedrivePolicy'])['maxReceiveCount'], 'dlqRetention': d['MessageRetentionPeriod']}}))
"#
        ))
    };
    let applied = read_back();
    boto(&format!(
        r#"
sqs = boto3.client('sqs', **kw)
url = sqs.get_queue_url(QueueName='{queue}')['QueueUrl']
dlq = sqs.get_queue_url(QueueName='{queue}-dlq')['QueueUrl']
arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=['QueueArn'])['Attributes']['QueueArn']
sqs.set_queue_attributes(QueueUrl=url, Attributes={{'VisibilityTimeout': '90', 'MessageRetentionPeriod': str(2 * 86400),
  'DelaySeconds': '7', 'MaximumMessageSize': '2048', 'ReceiveMessageWaitTimeSeconds': '3', 'KmsMasterKeyId': 'alias/out-of-band',
  'RedrivePolicy': json.dumps({{'deadLetterTargetArn': arn, 'maxReceiveCount': 8}})}})
sqs.set_queue_attributes(QueueUrl=dlq, Attributes={{'MessageRetentionPeriod': str(86400)}})
print('{{}}')
"#
    ));
    let doc = drift_json(&env);
    assert_eq!(doc["drifted"], 1, "{doc}");
    let mut fields = drifted_fields(&doc, "work/jobs");
    fields.sort();
    assert_eq!(
        fields,
        [
            "spec.deadLetter.maxReceiveCount",
            "spec.deadLetter.retentionDays",
            "spec.delaySeconds",
            "spec.encryption.kmsKeyId",
            "spec.maxMessageSizeBytes",
            "spec.receiveWaitTimeSeconds",
            "spec.retentionDays",
            "spec.visibilityTimeoutSeconds",
        ],
        "{doc}"
    );
    let (code, out) = env.run(&["drift", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("spec.visibilityTimeoutSeconds: 45 → 90\n"),
        "{out}"
    );
    // Three-way: the YAML changed the same field since the apply; drift says which value wins.
    let file = env.root().join("services/work/components/jobs/sqs.yaml");
    let yaml = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        yaml.replace(
            "visibilityTimeoutSeconds: 45",
            "visibilityTimeoutSeconds: 60",
        ),
    )
    .unwrap();
    let (_, out) = env.run(&["drift"]);
    assert!(
        out.contains("spec.visibilityTimeoutSeconds: 45 → 90   (the YAML changed it too: the next apply sets 60)"),
        "{out}"
    );
    assert!(out.contains("spec.delaySeconds: 2 → 7\n"), "{out}");
    let doc = drift_json(&env);
    let changes = doc["resources"][0]["changes"].as_array().unwrap();
    let visibility = changes
        .iter()
        .find(|c| c["path"] == "spec.visibilityTimeoutSeconds")
        .unwrap();
    assert_eq!(visibility["changedInConfiguration"], true, "{doc}");
    assert_eq!(visibility["configured"], 60, "{doc}");
    std::fs::write(&file, yaml).unwrap();

    let (code, out) = env.run(&["drift", "remediate", "--auto-approve"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("1 updated"), "{out}");
    let mut back = read_back();
    // Remediation takes the KMS key off again (an empty key).
    assert!(back["kms"].is_null() || back["kms"] == "", "{back}");
    back["kms"] = applied["kms"].clone();
    assert_eq!(back, applied);
    let doc = drift_json(&env);
    assert_eq!(doc["drifted"], 0, "{doc}");
    let (_, history) = env.run(&["history", "--output", "json"]);
    assert!(history.contains("\"remediate\""), "{history}");
    let (code, out) = env.run(&["drift", "remediate", "--auto-approve"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Nothing to remediate"), "{out}");
}

/// `panka import` of a queue made with boto3 with non-default settings records what SQS reports:
/// the next plan shows each setting that differs from the YAML.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_records_what_aws_has() {
    let env = Env::new("i");
    env.write_stack("");
    env.component("work", "jobs", "SQS", "{visibilityTimeoutSeconds: 40}");
    let queue = format!("{}-dev-work-jobs", env.stack);
    boto(&format!(
        "boto3.client('sqs', **kw).create_queue(QueueName='{queue}', Attributes={{'VisibilityTimeout': '99', 'DelaySeconds': '12', 'MessageRetentionPeriod': str(3 * 86400), 'ReceiveMessageWaitTimeSeconds': '6'}})\nprint('{{}}')"
    ));
    let (code, out) = env.run(&["import", "work/jobs"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}");
    for change in [
        "spec.visibilityTimeoutSeconds: 99 → 40",
        "spec.delaySeconds: 12 → 0",
        "spec.retentionDays: 3 → 4",
        "spec.receiveWaitTimeSeconds: 6 → 0",
    ] {
        assert!(
            out.contains(change),
            "{change} missing from the plan: {out}"
        );
    }
    env.apply();
    let seen = boto(&format!(
        "sqs = boto3.client('sqs', **kw)\nurl = sqs.get_queue_url(QueueName='{queue}')['QueueUrl']\na = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=['All'])['Attributes']\nprint(json.dumps([a['VisibilityTimeout'], a['DelaySeconds'], a['MessageRetentionPeriod']]))"
    ));
    assert_eq!(
        seen,
        serde_json::json!(["40", "0", (4 * 86400).to_string()])
    );
    env.assert_no_changes();
}

/// The issue's scenario: a stack of MicroServices, RDS, DynamoDB, SNS into SQS and Redis, changed
/// in AWS with boto3 in seven ways (SQS visibility timeout, DynamoDB point-in-time recovery, RDS
/// backup retention, one service's desired count, one environment variable in another
/// service's task definition, SNS raw message delivery, Redis snapshot retention). `drift`
/// reports every one; `drift remediate` puts each back (read with boto3); a second drift is clean.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_stack_drifts_field_by_field_and_is_remediated() {
    let env = Env::new("x");
    env.write_stack("  deployment: {parallelism: 8}\n");
    env.component("orders", "queue", "SQS", "{visibilityTimeoutSeconds: 30}");
    env.component(
        "orders",
        "events",
        "SNS",
        "{subscriptions: [{name: to-queue, protocol: sqs, target: {component: orders/queue}}]}",
    );
    env.component(
        "orders",
        "ledger",
        "DynamoDB",
        "{partitionKey: {name: id, type: S}, pointInTimeRecovery: true}",
    );
    env.component(
        "orders",
        "db",
        "RDS",
        "{engine: {type: postgres, version: \"16.4\"}, instance: {class: db.t4g.micro, storage: {allocatedGB: 20}}, database: {name: orders, username: app}, backup: {automated: {retentionDays: 7}}, deletion: {finalSnapshot: false}}",
    );
    env.component(
        "orders",
        "cache",
        "ElastiCacheRedis",
        "{nodeType: cache.t4g.micro, engineVersion: \"7.1\", snapshotRetentionDays: 1}",
    );
    env.component(
        "orders",
        "api",
        "MicroService",
        "{image: {repository: public.ecr.aws/nginx/nginx, tag: \"1.27\"}, ports: [{name: http, port: 8080, public: true, path: \"/orders/*\"}], environment: [{name: LOG_LEVEL, value: info}, {name: QUEUE_URL, valueFrom: {component: queue, output: url}}]}",
    );
    env.component(
        "web",
        "site",
        "MicroService",
        "{image: {repository: public.ecr.aws/nginx/nginx}, ports: [{name: http, port: 80, public: true, path: \"/*\"}]}",
    );
    env.apply();
    let doc = drift_json(&env);
    assert_eq!(
        doc["drifted"], 0,
        "an untouched stack reads back as applied: {doc}"
    );
    assert_eq!(doc["missing"], 0, "{doc}");
    assert_eq!(doc["unchecked"], 0, "{doc}");

    let s = format!("{}-dev", env.stack);
    let read_back = || {
        boto(&format!(
            r#"
sqs = boto3.client('sqs', **kw); ddb = boto3.client('dynamodb', **kw); rds = boto3.client('rds', **kw)
ecs = boto3.client('ecs', **kw); sns = boto3.client('sns', **kw); ec = boto3.client('elasticache', **kw)
url = sqs.get_queue_url(QueueName='{s}-orders-queue')['QueueUrl']
cluster = '{s}'
api = ecs.describe_services(cluster=cluster, services=['{s}-orders-api'])['services'][0]
site = ecs.describe_services(cluster=cluster, services=['{s}-web-site'])['services'][0]
td = ecs.describe_task_definition(taskDefinition=api['taskDefinition'])['taskDefinition']
env = {{e['name']: e['value'] for e in td['containerDefinitions'][0].get('environment', [])}}
topic = [t['TopicArn'] for t in sns.list_topics()['Topics'] if t['TopicArn'].endswith(':{s}-orders-events')][0]
sub = sns.list_subscriptions_by_topic(TopicArn=topic)['Subscriptions'][0]['SubscriptionArn']
print(json.dumps({{
  'visibility': sqs.get_queue_attributes(QueueUrl=url, AttributeNames=['VisibilityTimeout'])['Attributes']['VisibilityTimeout'],
  'pitr': ddb.describe_continuous_backups(TableName='{s}-orders-ledger')['ContinuousBackupsDescription']['PointInTimeRecoveryDescription']['PointInTimeRecoveryStatus'],
  'backups': rds.describe_db_instances(DBInstanceIdentifier='{s}-orders-db')['DBInstances'][0]['BackupRetentionPeriod'],
  'desired': site['desiredCount'],
  'logLevel': env.get('LOG_LEVEL'),
  'raw': sns.get_subscription_attributes(SubscriptionArn=sub)['Attributes'].get('RawMessageDelivery', 'false'),
  'snapshots': ec.describe_replication_groups(ReplicationGroupId='{s}-orders-cache')['ReplicationGroups'][0]['SnapshotRetentionLimit'],
}}))
"#
        ))
    };
    let applied = read_back();
    boto(&format!(
        r#"
sqs = boto3.client('sqs', **kw); ddb = boto3.client('dynamodb', **kw); rds = boto3.client('rds', **kw)
ecs = boto3.client('ecs', **kw); sns = boto3.client('sns', **kw); ec = boto3.client('elasticache', **kw)
url = sqs.get_queue_url(QueueName='{s}-orders-queue')['QueueUrl']
sqs.set_queue_attributes(QueueUrl=url, Attributes={{'VisibilityTimeout': '99'}})
ddb.update_continuous_backups(TableName='{s}-orders-ledger', PointInTimeRecoverySpecification={{'PointInTimeRecoveryEnabled': False}})
rds.modify_db_instance(DBInstanceIdentifier='{s}-orders-db', BackupRetentionPeriod=3, ApplyImmediately=True)
ecs.update_service(cluster='{s}', service='{s}-web-site', desiredCount=3)
api = ecs.describe_services(cluster='{s}', services=['{s}-orders-api'])['services'][0]
td = ecs.describe_task_definition(taskDefinition=api['taskDefinition'])['taskDefinition']
for c in td['containerDefinitions']:
    c['environment'] = [dict(e, value='debug') if e['name'] == 'LOG_LEVEL' else e for e in c.get('environment', [])]
keep = ['family', 'taskRoleArn', 'executionRoleArn', 'networkMode', 'containerDefinitions', 'requiresCompatibilities', 'cpu', 'memory', 'runtimePlatform', 'ephemeralStorage']
new = ecs.register_task_definition(**{{k: td[k] for k in keep if k in td}})['taskDefinition']['taskDefinitionArn']
ecs.update_service(cluster='{s}', service='{s}-orders-api', taskDefinition=new)
topic = [t['TopicArn'] for t in sns.list_topics()['Topics'] if t['TopicArn'].endswith(':{s}-orders-events')][0]
sub = sns.list_subscriptions_by_topic(TopicArn=topic)['Subscriptions'][0]['SubscriptionArn']
sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName='RawMessageDelivery', AttributeValue='true')
ec.modify_replication_group(ReplicationGroupId='{s}-orders-cache', SnapshotRetentionLimit=5, ApplyImmediately=True)
print('{{}}')
"#
    ));
    let doc = drift_json(&env);
    let expected = [
        ("orders/queue", "spec.visibilityTimeoutSeconds"),
        ("orders/ledger", "spec.pointInTimeRecovery"),
        ("orders/db", "spec.backup.automated.retentionDays"),
        ("web/site", "infra.scaling.replicas"),
        ("orders/api", "spec.environment[LOG_LEVEL].value"),
        (
            "orders/events",
            "spec.subscriptions[to-queue].rawMessageDelivery",
        ),
        ("orders/cache", "spec.snapshotRetentionDays"),
    ];
    for (address, field) in expected {
        let fields = drifted_fields(&doc, address);
        assert_eq!(fields, [field], "{address}: {doc}");
    }
    assert_eq!(doc["drifted"], 7, "{doc}");

    let (code, out) = env.run(&["drift", "remediate", "--auto-approve"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("7 updated"), "{out}");
    assert_eq!(read_back(), applied);
    let doc = drift_json(&env);
    assert_eq!(doc["drifted"], 0, "{doc}");
}
