//! panka against a hostile AWS: the emulator behind the fault-injecting proxy (throttling, 5xx,
//! lost responses, in each protocol's own error shape), and applies killed with SIGKILL at
//! random moments with state in S3 and locks in DynamoDB. Results are read back by tag with
//! boto3, never through panka's state.
//!
//! `PANKA_SOAK_SEED` picks the faults' seed and `PANKA_SOAK_KILLS` the number of kills; CI runs
//! a few, `make soak` many (docs/reliability.md).

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use panka_test_support::proxy::{Fate, FaultProxy, Faults};

mod common;
mod emulated;
use emulated::{Env, boto, write};

fn seed() -> u64 {
    std::env::var("PANKA_SOAK_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7)
}

fn kills() -> usize {
    std::env::var("PANKA_SOAK_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6)
}

/// State in a new S3 bucket and locks in a new DynamoDB table on the emulator.
fn with_s3_backend(env: &Env) {
    let root = env.root();
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..10];
    let text = std::fs::read_to_string(root.join("stack.yaml")).unwrap();
    let text = text.replacen(
        "  provider: {name: aws, region: us-east-1}\n",
        &format!(
            "  provider: {{name: aws, region: us-east-1}}\n  backend:\n    s3: {{bucket: st-{suffix}, lockTable: lk-{suffix}}}\n"
        ),
        1,
    );
    std::fs::write(root.join("stack.yaml"), text).unwrap();
    let (code, out) = env.run(&["backend", "init"]);
    assert_eq!(code, 0, "{out}");
}

/// The example stack in a temp folder under a unique stack name, its webhook's code published.
fn example(prefix: &str) -> Env {
    let env = Env::new(prefix);
    common::copy_dir(&common::repo().join("examples/shop"), &env.root());
    let _ = std::fs::remove_dir_all(env.root().join(".panka"));
    let stack_yaml = env.root().join("stack.yaml");
    let text = std::fs::read_to_string(&stack_yaml).unwrap().replacen(
        "  name: shop\n",
        &format!("  name: {}\n", env.stack),
        1,
    );
    std::fs::write(&stack_yaml, text).unwrap();
    let emu = panka_test_support::emulator();
    let published = std::process::Command::new("bash")
        .arg(common::repo().join("scripts/publish-artifact.sh"))
        .args([
            env.root().join("src/payments/webhook").to_str().unwrap(),
            "shop-build-artifacts",
            "payments/webhook-1.27.zip",
        ])
        .env("AWS_ENDPOINT_URL", &emu.endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output()
        .unwrap();
    assert!(
        published.status.success(),
        "{}",
        String::from_utf8_lossy(&published.stderr)
    );
    env
}

/// What carries the stack's tags in AWS, counted per (resource type, component): the Resource
/// Groups Tagging API, plus the listings of the types it may not cover.
fn tagged(stack: &str) -> BTreeMap<String, usize> {
    let found = boto(&format!(
        r#"
stack = {stack:?}
out = {{}}
def add(kind, tags):
    tags = {{t['Key']: t['Value'] for t in tags}} if isinstance(tags, list) else dict(tags or {{}})
    if tags.get('panka:stack') != stack:
        return
    key = kind + ' ' + tags.get('panka:service', '-') + '/' + tags.get('panka:component', '-')
    out[key] = out.get(key, 0) + 1
seen = set()
tagging = boto3.client('resourcegroupstaggingapi', **kw)
for page in tagging.get_paginator('get_resources').paginate(TagFilters=[{{'Key': 'panka:stack', 'Values': [stack]}}]):
    for r in page['ResourceTagMappingList']:
        arn = r['ResourceARN']
        parts = arn.split(':')
        kind = parts[2] + ':' + parts[5].split('/')[0].split(':')[0]
        seen.add(arn)
        add(kind, r['Tags'])
elbv2 = boto3.client('elbv2', **kw)
for tg in elbv2.describe_target_groups()['TargetGroups']:
    if tg['TargetGroupArn'] in seen: continue
    for d in elbv2.describe_tags(ResourceArns=[tg['TargetGroupArn']])['TagDescriptions']:
        add('elasticloadbalancing:targetgroup', d['Tags'])
for lb in elbv2.describe_load_balancers()['LoadBalancers']:
    if lb['LoadBalancerArn'] in seen: continue
    for d in elbv2.describe_tags(ResourceArns=[lb['LoadBalancerArn']])['TagDescriptions']:
        add('elasticloadbalancing:loadbalancer', d['Tags'])
for api in boto3.client('apigatewayv2', **kw).get_apis()['Items']:
    add('apigateway:apis', api.get('Tags', {{}}))
cf = boto3.client('cloudfront', **kw)
for d in cf.list_distributions().get('DistributionList', {{}}).get('Items', []):
    if d['ARN'] in seen: continue
    add('cloudfront:distribution', cf.list_tags_for_resource(Resource=d['ARN'])['Tags'].get('Items', []))
iam = boto3.client('iam', **kw)
for role in iam.list_roles()['Roles']:
    if role['Arn'] in seen: continue
    add('iam:role', iam.list_role_tags(RoleName=role['RoleName'])['Tags'])
ec2 = boto3.client('ec2', **kw)
for sg in ec2.describe_security_groups(Filters=[{{'Name': 'tag:panka:stack', 'Values': [stack]}}])['SecurityGroups']:
    if any(sg['GroupId'] in a for a in seen): continue
    add('ec2:security-group', sg.get('Tags', []))
print(json.dumps(out))
"#
    ));
    serde_json::from_value(found).unwrap()
}

/// The example stack applied through a proxy that throttles or fails 10% of calls and loses 3%
/// of responses after AWS acted on them ends exactly as a clean apply does: the same resources
/// by tag, none twice, and a plan with nothing to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_stack_applies_through_a_hostile_aws() {
    let clean = example("clean");
    with_s3_backend(&clean);
    let (code, out) = clean.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 0, "{out}");

    let hostile = example("hostile");
    with_s3_backend(&hostile);
    let proxy = FaultProxy::start(
        &panka_test_support::emulator().endpoint,
        Faults {
            seed: seed(),
            throttle: 0.05,
            server_error: 0.05,
            lose_response: 0.03,
            latency: (Duration::ZERO, Duration::from_millis(20)),
            ..Faults::none()
        },
    );
    let out = hostile
        .panka(&["apply", "--auto-approve"])
        .env("AWS_ENDPOINT_URL", &proxy.endpoint)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "seed {}: {text}", seed());
    for fate in [Fate::Throttled, Fate::ServerError, Fate::ResponseLost] {
        assert!(
            proxy.count(fate) > 0,
            "seed {}: the proxy should have made some calls {fate:?}",
            seed()
        );
    }
    let (code, out) = hostile.run(&["plan", "--detailed-exitcode", "--refresh"]);
    assert_eq!(code, 0, "seed {}: {out}", seed());

    let rename = |counts: BTreeMap<String, usize>, stack: &str| -> BTreeMap<String, usize> {
        counts
            .into_iter()
            .map(|(k, v)| (k.replace(stack, "STACK"), v))
            .collect()
    };
    assert_eq!(
        rename(tagged(&hostile.stack), &hostile.stack),
        rename(tagged(&clean.stack), &clean.stack),
        "seed {}: resources by tag differ from a clean apply's (duplicates or orphans)",
        seed()
    );
}

/// A stack for the kill test: buckets, queues (some with a dead-letter queue) and a topic.
fn kill_stack(fifo: bool, visibility: u32) -> impl Fn(&Env) {
    move |env: &Env| {
        let root = env.root();
        for b in 0..2 {
            write(
                &root.join(format!("services/data/components/b{b}/s3.yaml")),
                &format!(
                    "apiVersion: components.panka.io/v1\nkind: S3\nmetadata: {{name: b{b}, service: data}}\nspec: {{versioning: true, forceDestroy: true}}\n"
                ),
            );
        }
        for q in 0..4 {
            let dlq = if q % 2 == 0 {
                ", deadLetter: {maxReceiveCount: 4}"
            } else {
                ""
            };
            // q0 turns FIFO and back: a replace that changes its AWS name.
            let fifo = q == 0 && fifo;
            write(
                &root.join(format!("services/work/components/q{q}/sqs.yaml")),
                &format!(
                    "apiVersion: components.panka.io/v1\nkind: SQS\nmetadata: {{name: q{q}, service: work}}\nspec: {{fifo: {fifo}, visibilityTimeoutSeconds: {visibility}{dlq}}}\n"
                ),
            );
        }
        write(
            &root.join("services/work/components/events/sns.yaml"),
            "apiVersion: components.panka.io/v1\nkind: SNS\nmetadata: {name: events, service: work}\nspec: {subscriptions: [{name: q1, protocol: sqs, target: {component: q1}}]}\n",
        );
    }
}

/// Queues, topics and buckets of the stack, per component, read with boto3.
fn messaging_by_component(stack: &str) -> BTreeMap<String, usize> {
    let found = boto(&format!(
        r#"
stack = {stack:?}
out = {{}}
def add(kind, tags):
    if tags.get('panka:stack') != stack: return
    key = kind + ' ' + tags.get('panka:component', '-')
    out[key] = out.get(key, 0) + 1
sqs = boto3.client('sqs', **kw)
for url in sqs.list_queues(QueueNamePrefix=stack, MaxResults=1000).get('QueueUrls', []):
    add('queue', sqs.list_queue_tags(QueueUrl=url).get('Tags', {{}}))
sns = boto3.client('sns', **kw)
for t in sns.list_topics()['Topics']:
    if stack in t['TopicArn']:
        add('topic', {{x['Key']: x['Value'] for x in sns.list_tags_for_resource(ResourceArn=t['TopicArn'])['Tags']}})
s3 = boto3.client('s3', **kw)
for b in s3.list_buckets()['Buckets']:
    if not b['Name'].startswith(stack): continue
    try:
        tags = {{x['Key']: x['Value'] for x in s3.get_bucket_tagging(Bucket=b['Name'])['TagSet']}}
    except Exception:
        tags = {{}}
    add('bucket', tags)
print(json.dumps(out))
"#
    ));
    serde_json::from_value(found).unwrap()
}

/// Applies, updates, replaces (a queue made FIFO: another AWS name) and destroys, each killed
/// with SIGKILL at a random moment (seeded) with state in S3 and locks in DynamoDB, then run
/// again: the re-run takes the dead run's lock over at once, finishes, and AWS holds each
/// resource exactly once (nothing duplicated, nothing orphaned); after an apply the next plan
/// is empty, after a destroy nothing tagged with the stack is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_runs_leave_no_duplicate_and_no_orphan() {
    let env = Env::new("k");
    env.write_stack("  deployment: {parallelism: 4}\n");
    with_s3_backend(&env);
    let mut rng = fastrand::Rng::with_seed(seed());
    let expected_applied: BTreeMap<String, usize> = [
        ("bucket b0", 1),
        ("bucket b1", 1),
        ("queue q0", 2),
        ("queue q1", 1),
        ("queue q2", 2),
        ("queue q3", 1),
        ("topic events", 1),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let destroy = [
        "destroy",
        "--auto-approve",
        "--allow-destroy",
        "data/b0",
        "--allow-destroy",
        "data/b1",
    ];
    let (mut fifo, mut visibility, mut deployed) = (false, 30u32, false);
    let mut rounds: BTreeMap<&str, usize> = BTreeMap::new();
    for kill in 0..kills() {
        // What this round does: deploy from nothing, change a setting, replace a queue under
        // another name, or destroy.
        let op = if !deployed {
            "apply"
        } else {
            ["update", "replace", "destroy"][rng.usize(0..3)]
        };
        *rounds.entry(op).or_default() += 1;
        match op {
            "update" => visibility += 1,
            "replace" => fifo = !fifo,
            _ => {}
        }
        kill_stack(fifo, visibility)(&env);
        let args: &[&str] = if op == "destroy" {
            &destroy
        } else {
            &["apply", "--auto-approve", "--parallelism", "3"]
        };
        let delay = Duration::from_millis(rng.u64(50..1500));
        let mut child = env
            .panka(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(delay).await;
        child.kill().unwrap(); // SIGKILL
        let _ = child.wait();
        let (code, out) = env.run(args);
        assert_eq!(
            code,
            0,
            "seed {} kill {kill} ({op} after {delay:?}): {out}",
            seed()
        );
        let found = messaging_by_component(&env.stack);
        if op == "destroy" {
            assert!(
                found.is_empty(),
                "seed {} kill {kill}: left after destroy: {found:?}",
                seed()
            );
            deployed = false;
        } else {
            assert_eq!(
                found,
                expected_applied,
                "seed {} kill {kill} ({op} after {delay:?})",
                seed()
            );
            let (code, out) = env.run(&["plan", "--detailed-exitcode"]);
            assert_eq!(code, 0, "seed {} kill {kill}: {out}", seed());
            deployed = true;
        }
    }
    if deployed {
        let (code, out) = env.run(&destroy);
        assert_eq!(code, 0, "{out}");
    }
    println!(
        "soak: seed {}, {} kills ({rounds:?}): every re-run succeeded, 0 duplicates, 0 orphans",
        seed(),
        kills()
    );
}
