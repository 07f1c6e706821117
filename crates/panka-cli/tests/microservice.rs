//! MicroServices end to end against the emulator, read back with boto3 (a client other than
//! panka): two services on the shared cluster and load balancer, one wired to an RDS database,
//! a Redis cache, a queue and a bucket through `valueFrom`; the task definition's environment
//! and secrets, the target group, the listener rule, the circuit breaker, the security group
//! rules, the roles, autoscaling; an image tag change as one update and a new revision; destroy
//! removes everything, the shared load balancer and cluster last.

mod emulated;
use emulated::{Env, boto, write};

use std::process::Stdio;

use serde_json::Value;

/// The test stack: `orders/api` and `web/site` MicroServices and `orders/queue`; with `data`, also
/// `orders/db` (RDS), `orders/cache` (Redis) and `orders/assets` (S3), which the API references.
fn shop(data: bool) -> Env {
    let env = Env::new("m");
    env.write_stack("  deployment: {parallelism: 6}\n");
    let root = env.root();
    let c = root.join("services/orders/components");
    write(
        &c.join("queue/sqs.yaml"),
        "apiVersion: components.panka.io/v1\nkind: SQS\nmetadata: {name: queue, service: orders}\nspec: {}\n",
    );
    write(
        &root.join("services/web/components/site/microservice.yaml"),
        r#"apiVersion: components.panka.io/v1
kind: MicroService
metadata: {name: site, service: web}
spec:
  image: {repository: public.ecr.aws/nginx/nginx}
  ports:
    - {name: http, port: 80, public: true, path: "/*"}
"#,
    );
    let api = r#"apiVersion: components.panka.io/v1
kind: MicroService
metadata: {name: api, service: orders}
spec:
  image: {repository: public.ecr.aws/nginx/nginx, tag: "1.27"}
  ports:
    - {name: http, port: 8080, public: true, path: "/orders/*"}
  environment:
    - {name: LOG_LEVEL, value: info}
    - name: QUEUE_URL
      valueFrom: {component: queue, output: url}
DATA
  healthCheck:
    readiness: {http: {path: /health}, periodSeconds: 15}
    liveness: {http: {path: /health}}
---
apiVersion: infra.panka.io/v1
kind: ComponentInfra
metadata: {name: api, service: orders}
spec:
  resources: {cpu: 512, memory: 1024}
  scaling:
    replicas: 1
    autoscaling: {min: 1, max: 4, targetCpuPercent: 60}
"#;
    if !data {
        write(&c.join("api/microservice.yaml"), &api.replace("DATA\n", ""));
        return env;
    }
    write(
        &c.join("api/microservice.yaml"),
        &api.replace(
            "DATA\n",
            r#"    - name: DB_HOST
      valueFrom: {component: db, output: endpoint}
    - name: REDIS_HOST
      valueFrom: {component: cache, output: primaryEndpoint}
    - name: ASSETS_BUCKET
      valueFrom: {component: assets, output: name}
  secrets:
    - name: DB_PASSWORD
      valueFrom: {component: db, output: masterSecretArn, jsonKey: password}
"#,
        ),
    );
    write(
        &c.join("fulfilment/worker.yaml"),
        r#"apiVersion: components.panka.io/v1
kind: Worker
metadata: {name: fulfilment, service: orders}
spec:
  image: {repository: public.ecr.aws/nginx/nginx, tag: "1.27"}
  environment:
    - name: DB_HOST
      valueFrom: {component: db, output: endpoint}
  subscriptions: [{component: queue}]
"#,
    );
    write(
        &c.join("db/rds.yaml"),
        "apiVersion: components.panka.io/v1\nkind: RDS\nmetadata: {name: db, service: orders}\nspec:\n  engine: {type: postgres, version: \"16.4\"}\n  instance: {class: db.t4g.micro, storage: {allocatedGB: 20}}\n  database: {name: orders, username: app}\n  deletion: {finalSnapshot: false}\n",
    );
    write(
        &c.join("cache/elasticacheredis.yaml"),
        "apiVersion: components.panka.io/v1\nkind: ElastiCacheRedis\nmetadata: {name: cache, service: orders}\nspec: {nodeType: cache.t4g.micro, engineVersion: \"7.1\"}\n",
    );
    write(
        &c.join("assets/s3.yaml"),
        "apiVersion: components.panka.io/v1\nkind: S3\nmetadata: {name: assets, service: orders}\nspec: {forceDestroy: true}\n",
    );
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn microservices_with_database_cache_queue_and_bucket() {
    let env = shop(true);
    let root = env.root();
    let emu = panka_test_support::emulator();
    emu.start_recording().unwrap();
    let (code, applied) = env.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 0, "{applied}");

    let api = format!("{}-dev-orders-api", env.stack);
    let site = format!("{}-dev-web-site", env.stack);
    let worker = format!("{}-dev-orders-fulfilment", env.stack);
    let db = format!("{}-dev-orders-db", env.stack);
    let shared = format!("{}-dev", env.stack);
    let seen = boto(&format!(
        r#"
ecs = boto3.client('ecs', **kw); elb = boto3.client('elbv2', **kw); ec2 = boto3.client('ec2', **kw)
rds = boto3.client('rds', **kw); sqs = boto3.client('sqs', **kw); iam = boto3.client('iam', **kw)
logs = boto3.client('logs', **kw); aas = boto3.client('application-autoscaling', **kw)
svc = ecs.describe_services(cluster='{shared}', services=['{api}', '{site}', '{worker}'])['services']
api = [s for s in svc if s['serviceName'] == '{api}'][0]
worker = [s for s in svc if s['serviceName'] == '{worker}'][0]
worker_td = ecs.describe_task_definition(taskDefinition=worker['taskDefinition'])['taskDefinition']
worker_policy = iam.get_role_policy(RoleName='{worker}-task', PolicyName='panka')['PolicyDocument']
td = ecs.describe_task_definition(taskDefinition=api['taskDefinition'])['taskDefinition']
c = td['containerDefinitions'][0]
d = rds.describe_db_instances(DBInstanceIdentifier='{db}')['DBInstances'][0]
tg = elb.describe_target_groups(TargetGroupArns=[api['loadBalancers'][0]['targetGroupArn']])['TargetGroups'][0]
lb = elb.describe_load_balancers(Names=['{shared}'])['LoadBalancers'][0]
listener = elb.describe_listeners(LoadBalancerArn=lb['LoadBalancerArn'])['Listeners'][0]
rules = elb.describe_rules(ListenerArn=listener['ListenerArn'])['Rules']
rule = [r for r in rules if any(a.get('TargetGroupArn') == tg['TargetGroupArn'] for a in r['Actions'])]
task_sg = api['networkConfiguration']['awsvpcConfiguration']['securityGroups'][0]
db_sg = ec2.describe_security_groups(GroupIds=[d['VpcSecurityGroups'][0]['VpcSecurityGroupId']])['SecurityGroups'][0]
task_sg_rules = ec2.describe_security_groups(GroupIds=[task_sg])['SecurityGroups'][0]['IpPermissions']
exec_policy = iam.get_role_policy(RoleName='{api}-exec', PolicyName='panka')['PolicyDocument']
task_policy = iam.get_role_policy(RoleName='{api}-task', PolicyName='panka')['PolicyDocument']
group = logs.describe_log_groups(logGroupNamePrefix='/ecs/{api}')['logGroups'][0]
targets = aas.describe_scalable_targets(ServiceNamespace='ecs', ResourceIds=['service/{shared}/{api}'])['ScalableTargets']
policies = aas.describe_scaling_policies(ServiceNamespace='ecs', ResourceId='service/{shared}/{api}')['ScalingPolicies']
print(json.dumps({{
  'services': sorted(s['serviceName'] for s in svc if s['status'] == 'ACTIVE'),
  'worker': {{'lbs': worker['loadBalancers'], 'env': {{e['name']: e['value'] for e in worker_td['containerDefinitions'][0]['environment']}},
    'sg': worker['networkConfiguration']['awsvpcConfiguration']['securityGroups'][0],
    'actions': sorted(a for s in worker_policy['Statement'] for a in (s['Action'] if isinstance(s['Action'], list) else [s['Action']]))}},
  'desired': api['desiredCount'], 'launchType': api['launchType'],
  'env': {{e['name']: e['value'] for e in c['environment']}},
  'secrets': {{s['name']: s['valueFrom'] for s in c['secrets']}},
  'image': c['image'], 'cpu': td['cpu'], 'memory': td['memory'],
  'execRole': td['executionRoleArn'], 'taskRole': td['taskRoleArn'],
  'log': c['logConfiguration']['options'],
  'liveness': c.get('healthCheck', {{}}).get('command'),
  'endpoint': d['Endpoint']['Address'], 'secretArn': d['MasterUserSecret']['SecretArn'],
  'queueUrl': sqs.get_queue_url(QueueName='{stack}-dev-orders-queue')['QueueUrl'],
  'tgPath': tg['HealthCheckPath'], 'tgInterval': tg['HealthCheckIntervalSeconds'], 'tgType': tg['TargetType'], 'tgPort': tg['Port'],
  'rule': [sorted(v for cnd in r['Conditions'] for v in cnd.get('Values', []) or cnd.get('PathPatternConfig', {{}}).get('Values', [])) for r in rule],
  'dbIngress': [(p.get('FromPort'), [g['GroupId'] for g in p.get('UserIdGroupPairs', [])]) for p in db_sg['IpPermissions']],
  'taskSg': task_sg, 'lbSgs': lb['SecurityGroups'],
  'taskIngress': [(p.get('FromPort'), [g['GroupId'] for g in p.get('UserIdGroupPairs', [])]) for p in task_sg_rules],
  'execActions': sorted(a for s in exec_policy['Statement'] for a in (s['Action'] if isinstance(s['Action'], list) else [s['Action']])),
  'taskActions': sorted(a for s in task_policy['Statement'] for a in (s['Action'] if isinstance(s['Action'], list) else [s['Action']])),
  'retention': group.get('retentionInDays'),
  'scaling': [(t['MinCapacity'], t['MaxCapacity']) for t in targets],
  'policies': [p['TargetTrackingScalingPolicyConfiguration']['TargetValue'] for p in policies],
}}))
"#,
        stack = env.stack
    ));
    assert_eq!(seen["services"], serde_json::json!([api, worker, site]));
    // The worker: no load balancer, the database endpoint in its environment, the right to
    // consume its queue, and a way into the database.
    assert_eq!(seen["worker"]["lbs"], serde_json::json!([]));
    assert_eq!(seen["worker"]["env"]["DB_HOST"], seen["endpoint"]);
    assert!(
        seen["worker"]["actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "sqs:ReceiveMessage"),
        "{}",
        seen["worker"]
    );
    assert_eq!(seen["desired"], 1);
    assert_eq!(seen["launchType"], "FARGATE");
    // The environment holds the resolved outputs; the secret is an ARN with its JSON key.
    assert_eq!(seen["env"]["DB_HOST"], seen["endpoint"]);
    assert_eq!(seen["env"]["QUEUE_URL"], seen["queueUrl"]);
    assert_eq!(seen["env"]["LOG_LEVEL"], "info");
    assert!(!seen["env"]["REDIS_HOST"].as_str().unwrap().is_empty());
    assert_eq!(
        seen["env"]["ASSETS_BUCKET"],
        format!("{}-dev-orders-assets", env.stack)
    );
    assert_eq!(
        seen["secrets"]["DB_PASSWORD"],
        format!("{}:password::", seen["secretArn"].as_str().unwrap())
    );
    assert_eq!(seen["image"], "public.ecr.aws/nginx/nginx:1.27");
    assert_eq!(seen["cpu"], "512");
    assert_eq!(seen["memory"], "1024");
    assert!(seen["execRole"].as_str().unwrap().ends_with("-exec"));
    assert!(seen["taskRole"].as_str().unwrap().ends_with("-task"));
    assert_eq!(seen["log"]["awslogs-group"], format!("/ecs/{api}"));
    assert!(seen["liveness"][1].as_str().unwrap().contains("/health"));
    // Target group and listener rule.
    assert_eq!(seen["tgPath"], "/health");
    assert_eq!(seen["tgInterval"], 15);
    assert_eq!(seen["tgType"], "ip");
    assert_eq!(seen["tgPort"], 8080);
    assert_eq!(seen["rule"], serde_json::json!([["/orders", "/orders/*"]]));
    // The database admits the API's and the worker's tasks on its port; the tasks admit the
    // load balancer.
    let task_sg = seen["taskSg"].as_str().unwrap();
    for group in [task_sg, seen["worker"]["sg"].as_str().unwrap()] {
        assert!(
            seen["dbIngress"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r[0] == 5432 && r[1].as_array().unwrap().iter().any(|g| g == group)),
            "{group}: {}",
            seen["dbIngress"]
        );
    }
    let lb_sg = seen["lbSgs"][0].as_str().unwrap();
    assert!(
        seen["taskIngress"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r[0] == 8080 && r[1].as_array().unwrap().iter().any(|g| g == lb_sg)),
        "{}",
        seen["taskIngress"]
    );
    // Roles: the execution role reads the secret; the task role reaches the queue and bucket.
    let exec: Vec<&str> = seen["execActions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(exec.contains(&"secretsmanager:GetSecretValue"), "{exec:?}");
    let task: Vec<&str> = seen["taskActions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(task.contains(&"sqs:SendMessage"), "{task:?}");
    assert!(task.contains(&"s3:GetObject"), "{task:?}");
    assert_eq!(seen["retention"], 30);
    assert_eq!(seen["scaling"], serde_json::json!([[1, 4]]));
    assert_eq!(seen["policies"], serde_json::json!([60.0]));

    // The circuit breaker: moto does not keep a service's deployment configuration, so the
    // check reads the CreateService requests the emulator received (for this stack: other tests
    // share the emulator).
    let recorded = emu.recorded().unwrap();
    let create_services: Vec<Value> = recorded
        .iter()
        .filter(|r| {
            r["headers"]["X-Amz-Target"]
                .as_str()
                .is_some_and(|t| t.ends_with(".CreateService"))
                && r["body"].as_str().is_some_and(|b| b.contains(&env.stack))
        })
        .map(|r| serde_json::from_str(r["body"].as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(create_services.len(), 3);
    for body in &create_services {
        assert_eq!(
            body["deploymentConfiguration"]["deploymentCircuitBreaker"],
            serde_json::json!({"enable": true, "rollback": true})
        );
    }

    // No plaintext password anywhere.
    let password = boto(&format!(
        "print(json.dumps(json.loads(boto3.client('secretsmanager', **kw).get_secret_value(SecretId='{}')['SecretString'])['password']))",
        seen["secretArn"].as_str().unwrap()
    ));
    let password = password.as_str().unwrap().to_string();
    let (_, status) = env.assert_secret_absent(&password, &applied);
    assert!(status.contains(&api), "{status}");

    // `panka logs` reads the service's log group (events written here with boto3, as the awslogs
    // driver would; moto runs no tasks).
    boto(&format!(
        r#"
import time
logs = boto3.client('logs', **kw)
logs.create_log_stream(logGroupName='/ecs/{api}', logStreamName='ecs/api/task1')
now = int(time.time() * 1000)
logs.put_log_events(logGroupName='/ecs/{api}', logStreamName='ecs/api/task1', logEvents=[
  {{'timestamp': now - 2000, 'message': 'listening on 8080'}},
  {{'timestamp': now - 1000, 'message': 'ERROR database unreachable'}}])
print('{{}}')
"#
    ));
    let (code, out) = env.run(&["logs", "orders/api", "--since", "1h"]);
    assert_eq!(code, 0, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].ends_with("ecs/api/task1  listening on 8080"),
        "{out}"
    );
    assert!(lines[1].contains("ERROR database unreachable"), "{out}");
    let (code, out) = env.run(&["logs", "orders/api", "--since", "1h", "--filter", "ERROR"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.lines().count(), 1, "{out}");
    let (code, out) = env.run(&["logs", "orders/queue"]);
    assert_eq!(code, 1);
    assert!(out.contains("has no log group"), "{out}");
    // --follow prints what arrives later, once.
    let mut follow = env
        .panka(&["logs", "orders/api", "--since", "1h", "--follow"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    boto(&format!(
        "import time\nboto3.client('logs', **kw).put_log_events(logGroupName='/ecs/{api}', logStreamName='ecs/api/task1', logEvents=[{{'timestamp': int(time.time() * 1000), 'message': 'order 42 placed'}}])\nprint('{{}}')"
    ));
    std::thread::sleep(std::time::Duration::from_millis(4500));
    follow.kill().unwrap();
    let out = follow.wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.matches("order 42 placed").count(), 1, "{out}");
    assert_eq!(out.matches("listening on 8080").count(), 1, "{out}");
    let (code, out) = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "a second plan is empty: {out}");
    // Also against what AWS reports (an image without a tag runs as `latest`: no drift).
    let (code, out) = env.run(&["plan", "--detailed-exitcode", "--refresh"]);
    assert_eq!(code, 0, "a refreshed plan is empty: {out}");

    // An image tag change: exactly one update, and a new task definition revision.
    let file = root.join("services/orders/components/api/microservice.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replacen("tag: \"1.27\"", "tag: \"1.28\"", 1)).unwrap();
    let (code, out) = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("1 to update"), "{out}");
    assert!(
        !out.contains("to create") || out.contains("0 to create"),
        "{out}"
    );
    let before = seen["execRole"].clone();
    let out = env.apply();
    assert!(out.contains("1 updated"), "{out}");
    let after = boto(&format!(
        r#"
ecs = boto3.client('ecs', **kw)
s = ecs.describe_services(cluster='{shared}', services=['{api}'])['services'][0]
td = ecs.describe_task_definition(taskDefinition=s['taskDefinition'])['taskDefinition']
old = ecs.describe_task_definition(taskDefinition='{api}:1')['taskDefinition']
print(json.dumps({{'revision': td['revision'], 'image': td['containerDefinitions'][0]['image'], 'execRole': td['executionRoleArn'], 'oldStatus': old['status']}}))
"#
    ));
    assert_eq!(after["revision"], 2);
    assert_eq!(after["image"], "public.ecr.aws/nginx/nginx:1.28");
    assert_eq!(after["execRole"], before);
    assert_eq!(after["oldStatus"], "INACTIVE");
    let (code, out) = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}");

    // A change outside the task definition (log retention) updates in place and registers no
    // new revision.
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replacen(
            "  healthCheck:\n",
            "  logging: {retentionDays: 14}\n  healthCheck:\n",
            1,
        ),
    )
    .unwrap();
    let out = env.apply();
    assert!(out.contains("1 updated"), "{out}");
    let same = boto(&format!(
        r#"
ecs = boto3.client('ecs', **kw)
s = ecs.describe_services(cluster='{shared}', services=['{api}'])['services'][0]
g = boto3.client('logs', **kw).describe_log_groups(logGroupNamePrefix='/ecs/{api}')['logGroups'][0]
print(json.dumps({{'td': s['taskDefinition'], 'retention': g['retentionInDays'], 'active': len(ecs.list_task_definitions(familyPrefix='{api}', status='ACTIVE')['taskDefinitionArns'])}}))
"#
    ));
    assert!(same["td"].as_str().unwrap().ends_with(":2"), "{same}");
    assert_eq!(same["retention"], 14);
    assert_eq!(same["active"], 1);

    // The queue is replaced (made FIFO): the API, which takes its URL, is updated after it and
    // runs with the new URL.
    std::fs::write(
        root.join("services/orders/components/queue/sqs.yaml"),
        "apiVersion: components.panka.io/v1\nkind: SQS\nmetadata: {name: queue, service: orders}\nspec: {fifo: true}\n",
    )
    .unwrap();
    let (code, out) = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("inputs[orders/queue]: known after apply (orders/queue is replaced)"),
        "{out}"
    );
    let out = env.apply();
    // (The worker, which consumes the queue, is updated too.)
    assert!(out.contains("2 updated, 1 replaced"), "{out}");
    let fifo = boto(&format!(
        r#"
ecs = boto3.client('ecs', **kw)
s = ecs.describe_services(cluster='{shared}', services=['{api}'])['services'][0]
td = ecs.describe_task_definition(taskDefinition=s['taskDefinition'])['taskDefinition']
url = boto3.client('sqs', **kw).get_queue_url(QueueName='{stack}-dev-orders-queue.fifo')['QueueUrl']
print(json.dumps({{'env': {{e['name']: e['value'] for e in td['containerDefinitions'][0]['environment']}}, 'url': url}}))
"#,
        stack = env.stack
    ));
    assert_eq!(fifo["env"]["QUEUE_URL"], fifo["url"], "{fifo}");
    let (code, out) = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}");

    // Destroy (moto gap: a deleted Redis replication group stays "deleting" forever, so the
    // cache is left out): everything else goes, the shared load balancer and cluster last.
    emu.start_recording().unwrap();
    let (code, out) = env.run(&[
        "destroy",
        "--auto-approve",
        "--exclude",
        "orders/cache",
        "--allow-destroy",
        "orders/db",
        "--allow-destroy",
        "orders/assets",
    ]);
    assert_eq!(code, 0, "{out}");
    let order: Vec<String> = emu
        .recorded()
        .unwrap()
        .iter()
        .filter(|r| r["body"].as_str().is_some_and(|b| b.contains(&env.stack)))
        .filter_map(|r| {
            let target = r["headers"]["X-Amz-Target"].as_str().map(str::to_string);
            let action = r["body"]
                .as_str()
                .and_then(|b| b.split('&').find(|p| p.starts_with("Action=")))
                .map(|a| a.trim_start_matches("Action=").to_string());
            target
                .map(|t| t.rsplit('.').next().unwrap_or_default().to_string())
                .or(action)
        })
        .filter(|a| {
            [
                "DeleteService",
                "DeleteLoadBalancer",
                "DeleteCluster",
                "DeleteDBInstance",
            ]
            .contains(&a.as_str())
        })
        .collect();
    let last_service = order.iter().rposition(|a| a == "DeleteService").unwrap();
    let lb = order
        .iter()
        .position(|a| a == "DeleteLoadBalancer")
        .unwrap();
    let cluster = order.iter().position(|a| a == "DeleteCluster").unwrap();
    assert!(last_service < lb && last_service < cluster, "{order:?}");
    let gone = boto(&format!(
        r#"
ecs = boto3.client('ecs', **kw); elb = boto3.client('elbv2', **kw); ec2 = boto3.client('ec2', **kw); iam = boto3.client('iam', **kw)
services = [s for s in ecs.describe_services(cluster='{shared}', services=['{api}', '{site}'])['services'] if s['status'] == 'ACTIVE']
clusters = [c for c in ecs.describe_clusters(clusters=['{shared}'])['clusters'] if c['status'] == 'ACTIVE']
lbs = [l for l in elb.describe_load_balancers()['LoadBalancers'] if l['LoadBalancerName'] == '{shared}']
tgs = [t for t in elb.describe_target_groups()['TargetGroups'] if t['TargetGroupName'].startswith('{stack}')]
sgs = [g['GroupName'] for g in ec2.describe_security_groups(Filters=[{{'Name': 'tag:panka:stack', 'Values': ['{stack}']}}])['SecurityGroups']]
roles = [r['RoleName'] for r in iam.list_roles()['Roles'] if r['RoleName'].startswith('{stack}')]
tds = ecs.list_task_definitions(familyPrefix='{api}', status='ACTIVE')['taskDefinitionArns']
print(json.dumps({{'services': services, 'clusters': len(clusters), 'lbs': len(lbs), 'tgs': len(tgs), 'sgs': sgs, 'roles': roles, 'tds': tds}}, default=str))
"#,
        stack = env.stack
    ));
    assert_eq!(gone["services"], serde_json::json!([]));
    assert_eq!(gone["clusters"], 0);
    assert_eq!(gone["lbs"], 0);
    assert_eq!(gone["tgs"], 0);
    // Only the cache's security group is left.
    assert_eq!(
        gone["sgs"],
        serde_json::json!([format!("{}-dev-orders-cache", env.stack)])
    );
    assert_eq!(gone["roles"], serde_json::json!([]));
    assert_eq!(gone["tds"], serde_json::json!([]));
}

/// Two MicroServices and a queue, killed with SIGKILL at points through the apply, then applied
/// again: every AWS piece exists once (counted with boto3), the plan is empty, and destroy leaves
/// nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_microservice_apply_finishes_without_duplicates() {
    for (i, delay_ms) in (0..8).map(|i| (i, 150 + i * 150)).collect::<Vec<_>>() {
        let env = shop(false);
        let (code, out) = env.run(&["validate"]);
        assert_eq!(code, 0, "{out}");

        let mut child = env
            .panka(&["apply", "--auto-approve"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
        child.kill().unwrap(); // SIGKILL
        let _ = child.wait();
        let (code, out) = env.run(&["apply", "--auto-approve"]);
        assert_eq!(code, 0, "kill point {i} ({delay_ms} ms): {out}");
        let (code, out) = env.run(&["plan", "--detailed-exitcode"]);
        assert_eq!(code, 0, "kill point {i}: {out}");

        let api = format!("{}-dev-orders-api", env.stack);
        let site = format!("{}-dev-web-site", env.stack);
        let shared = format!("{}-dev", env.stack);
        let count = |stack: &str| {
            boto(&format!(
                r#"
ecs = boto3.client('ecs', **kw); elb = boto3.client('elbv2', **kw); ec2 = boto3.client('ec2', **kw)
iam = boto3.client('iam', **kw); logs = boto3.client('logs', **kw)
clusters = [c for c in ecs.describe_clusters(clusters=['{shared}'])['clusters'] if c['status'] == 'ACTIVE']
services = [s['serviceName'] for s in ecs.describe_services(cluster='{shared}', services=['{api}', '{site}'])['services'] if s['status'] == 'ACTIVE'] if clusters else []
lbs = [l['LoadBalancerArn'] for l in elb.describe_load_balancers()['LoadBalancers'] if l['LoadBalancerName'] == '{shared}']
rules = sum(len([r for r in elb.describe_rules(ListenerArn=li['ListenerArn'])['Rules'] if not r['IsDefault']]) for lb in lbs for li in elb.describe_listeners(LoadBalancerArn=lb)['Listeners'])
tgs = [t['TargetGroupName'] for t in elb.describe_target_groups()['TargetGroups'] if t['TargetGroupName'].startswith('{stack}')]
sgs = sorted(g['GroupName'] for g in ec2.describe_security_groups(Filters=[{{'Name': 'tag:panka:stack', 'Values': ['{stack}']}}])['SecurityGroups'])
roles = sorted(r['RoleName'] for r in iam.list_roles()['Roles'] if r['RoleName'].startswith('{stack}'))
tds = sorted(ecs.list_task_definitions(familyPrefix=f, status='ACTIVE')['taskDefinitionArns'] for f in ['{api}', '{site}'])
groups = [g['logGroupName'] for g in logs.describe_log_groups(logGroupNamePrefix='/ecs/{stack}')['logGroups']]
print(json.dumps({{'clusters': len(clusters), 'services': sorted(services), 'lbs': len(lbs), 'rules': rules, 'tgs': len(tgs), 'sgs': sgs, 'roles': len(roles), 'tds': [len(t) for t in tds], 'groups': len(groups)}}))
"#
            ))
        };
        let seen = count(&env.stack);
        assert_eq!(seen["clusters"], 1, "kill point {i}: {seen}");
        assert_eq!(
            seen["services"],
            serde_json::json!([api, site]),
            "kill point {i}"
        );
        assert_eq!(seen["lbs"], 1, "kill point {i}: {seen}");
        assert_eq!(seen["rules"], 2, "kill point {i}: {seen}");
        assert_eq!(seen["tgs"], 2, "kill point {i}: {seen}");
        assert_eq!(
            seen["sgs"],
            serde_json::json!([format!("{shared}-alb"), api, site]),
            "kill point {i}"
        );
        assert_eq!(seen["roles"], 4, "kill point {i}: {seen}");
        assert_eq!(
            seen["tds"],
            serde_json::json!([1, 1]),
            "kill point {i}: {seen}"
        );
        assert_eq!(seen["groups"], 2, "kill point {i}: {seen}");

        let (code, out) = env.run(&["destroy", "--auto-approve"]);
        assert_eq!(code, 0, "{out}");
        let seen = count(&env.stack);
        assert_eq!(
            seen,
            serde_json::json!({"clusters": 0, "services": [], "lbs": 0, "rules": 0, "tgs": 0, "sgs": [], "roles": 0, "tds": [0, 0], "groups": 0}),
            "kill point {i}"
        );
    }
}

/// Two teams deploy their services of a new stack at the same moment, each under its own service
/// lock (state in S3, locks in DynamoDB): both need the stack's shared cluster and load balancer,
/// both create them, and there is one of each afterwards; a second round changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_service_applies_create_the_shared_resources_once() {
    let env = shop(false);
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..10];
    let (bucket, table) = (format!("ms-{suffix}"), format!("ml-{suffix}"));
    let backend = [
        "--state-bucket",
        bucket.as_str(),
        "--lock-table",
        table.as_str(),
    ];
    let mut init = vec!["backend", "init"];
    init.extend(backend);
    let (code, out) = env.run(&init);
    assert_eq!(code, 0, "{out}");
    for round in 0..2 {
        let start = |svc: &str| {
            let mut args = vec!["apply", "--auto-approve", "--service", svc];
            args.extend(backend);
            env.panka(&args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (orders, web) = (start("orders"), start("web"));
        for (svc, child) in [("orders", orders), ("web", web)] {
            let out = child.wait_with_output().unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(out.status.success(), "round {round}, {svc}: {text}");
            if round == 1 {
                assert!(text.contains("No changes"), "round {round}, {svc}: {text}");
            }
        }
    }
    let shared = format!("{}-dev", env.stack);
    let seen = boto(&format!(
        r#"
ecs = boto3.client('ecs', **kw); elb = boto3.client('elbv2', **kw); ec2 = boto3.client('ec2', **kw)
clusters = [c for c in ecs.list_clusters()['clusterArns'] if c.endswith('/{shared}')]
lbs = [l for l in elb.describe_load_balancers()['LoadBalancers'] if l['LoadBalancerName'] == '{shared}']
sgs = [g['GroupName'] for g in ec2.describe_security_groups(Filters=[{{'Name': 'group-name', 'Values': ['{shared}-alb']}}])['SecurityGroups']]
listeners = elb.describe_listeners(LoadBalancerArn=lbs[0]['LoadBalancerArn'])['Listeners']
services = [s for s in ecs.list_services(cluster='{shared}')['serviceArns']]
s3 = boto3.client('s3', **kw)
state = json.loads(s3.get_object(Bucket='{bucket}', Key='stacks/{stack}/dev/state.json')['Body'].read())
print(json.dumps({{'clusters': len(clusters), 'lbs': len(lbs), 'sgs': len(sgs), 'listeners': len(listeners), 'services': len(services), 'resources': sorted(state['resources'])}}))
"#,
        stack = env.stack
    ));
    assert_eq!(seen["clusters"], 1, "{seen}");
    assert_eq!(seen["lbs"], 1, "{seen}");
    assert_eq!(seen["sgs"], 1, "{seen}");
    assert_eq!(seen["listeners"], 1, "{seen}");
    assert_eq!(seen["services"], 2, "{seen}");
    assert_eq!(
        seen["resources"],
        serde_json::json!([
            "_shared/cluster",
            "_shared/load-balancer",
            "orders/api",
            "orders/queue",
            "web/site"
        ])
    );

    // Each team removes its components from the YAML and applies its service: the shared
    // resources stay (a service-scoped plan deletes only within its service) until a run under
    // the stack lock finds them unused.
    let root = env.root();
    for (svc, components) in [("orders", vec!["api", "queue"]), ("web", vec!["site"])] {
        for c in components {
            std::fs::remove_dir_all(root.join(format!("services/{svc}/components/{c}"))).unwrap();
        }
        let mut args = vec!["apply", "--auto-approve", "--service", svc];
        args.extend(backend);
        let (code, out) = env.run(&args);
        assert_eq!(code, 0, "{out}");
        assert!(!out.contains("_shared/"), "{out}");
    }
    let count = || {
        boto(&format!(
            "ecs = boto3.client('ecs', **kw); elb = boto3.client('elbv2', **kw)\nprint(json.dumps([len([c for c in ecs.describe_clusters(clusters=['{shared}'])['clusters'] if c['status'] == 'ACTIVE']), len([l for l in elb.describe_load_balancers()['LoadBalancers'] if l['LoadBalancerName'] == '{shared}'])]))"
        ))
    };
    assert_eq!(count(), serde_json::json!([1, 1]));
    let mut args = vec!["apply", "--auto-approve"];
    args.extend(backend);
    let (code, out) = env.run(&args);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("2 deleted"), "{out}");
    assert_eq!(count(), serde_json::json!([0, 0]));
}

/// An NLB component forwarding TCP 9000 to a MicroService's port 8080, read back with boto3: the
/// network load balancer and its listener, the target group (IP targets on 8080, tagged as
/// attached by the NLB) in the ECS service's load balancers, and the service's security group
/// admitting the VPC on 8080. A UDP listener's targets see the clients' addresses, so the
/// internet-facing NLB's targets admit everyone on its port (and the VPC, for health checks); a
/// TCP listener with `preserveClientIp` sets its target group's attribute and admits only its
/// `allowedCidrs`, and a range taken out of them is revoked. An image change of the
/// MicroService keeps the NLB's target group on the service; destroy removes the load balancer
/// and its target group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nlb_forwards_to_a_microservice() {
    let env = Env::new("n");
    env.write_stack("");
    let api = |tag: &str| {
        format!(
            "{{image: {{repository: public.ecr.aws/nginx/nginx, tag: \"{tag}\"}}, ports: [{{name: http, port: 8080, public: true, path: \"/orders/*\"}}]}}"
        )
    };
    env.component("orders", "api", "MicroService", &api("1.27"));
    let nlb_spec = |ranges: &str| {
        format!(
            "{{listeners: [{{port: 9000, protocol: TCP, target: {{component: orders/api}}, targetPort: 8080}}, \
             {{port: 53, protocol: UDP, target: {{component: orders/api}}, targetPort: 8053}}, \
             {{port: 9001, protocol: TCP, target: {{component: orders/api}}, targetPort: 8081, preserveClientIp: true, allowedCidrs: [{ranges}]}}]}}"
        )
    };
    env.component(
        "web",
        "tcp",
        "NLB",
        &nlb_spec("203.0.113.0/24, 198.51.100.0/24"),
    );
    env.apply();

    let nlb = format!("{}-dev-web-tcp", env.stack);
    let service = format!("{}-dev-orders-api", env.stack);
    let cluster = format!("{}-dev", env.stack);
    let read = || {
        boto(&format!(
            r#"
elb = boto3.client('elbv2', **kw); ecs = boto3.client('ecs', **kw); ec2 = boto3.client('ec2', **kw)
lbs = [l for l in elb.describe_load_balancers()['LoadBalancers'] if l['LoadBalancerName'] == '{nlb}']
tgs = [g for g in elb.describe_target_groups()['TargetGroups'] if g['TargetGroupName'] == '{nlb}-9000']
out = {{'lbs': len(lbs), 'tgs': len(tgs)}}
svc = [s for s in ecs.describe_services(cluster='{cluster}', services=['{service}'])['services'] if s['status'] == 'ACTIVE']
if lbs and tgs:
    tg = tgs[0]
    tags = {{t['Key']: t['Value'] for t in elb.describe_tags(ResourceArns=[tg['TargetGroupArn']])['TagDescriptions'][0]['Tags']}}
    sg = ec2.describe_security_groups(Filters=[{{'Name': 'group-name', 'Values': ['{service}']}}])['SecurityGroups'][0]
    out.update({{'type': lbs[0]['Type'], 'listeners': [(l['Port'], l['Protocol'], l['DefaultActions'][0]['TargetGroupArn'] == tg['TargetGroupArn']) for l in elb.describe_listeners(LoadBalancerArn=lbs[0]['LoadBalancerArn'])['Listeners']],
      'tg': [tg['Port'], tg['TargetType'], tags.get('panka:attached-by')],
      'attached': [(b['containerName'], b['containerPort']) for b in svc[0]['loadBalancers'] if b['targetGroupArn'] == tg['TargetGroupArn']] if svc else [],
      'ingress': sorted((p.get('FromPort'), r['CidrIp']) for p in sg['IpPermissions'] for r in p.get('IpRanges', [])),
      'udp': sorted((p.get('FromPort'), r['CidrIp']) for p in sg['IpPermissions'] if p.get('IpProtocol') == 'udp' for r in p.get('IpRanges', []))}})
    preserve = {{}}
    for g in elb.describe_target_groups()['TargetGroups']:
        if g['TargetGroupName'].startswith('{nlb}-'):
            attrs = {{a['Key']: a['Value'] for a in elb.describe_target_group_attributes(TargetGroupArn=g['TargetGroupArn'])['Attributes']}}
            preserve[g['TargetGroupName'][len('{nlb}-'):]] = attrs.get('preserve_client_ip.enabled')
    out['preserve'] = preserve
print(json.dumps(out))
"#
        ))
    };
    let seen = read();
    assert_eq!(seen["lbs"], 1, "{seen}");
    assert_eq!(seen["type"], "network");
    let mut listeners = seen["listeners"].as_array().unwrap().clone();
    listeners.sort_by_key(|l| l[0].as_i64());
    assert_eq!(
        listeners,
        [
            serde_json::json!([53, "UDP", false]),
            serde_json::json!([9000, "TCP", true]),
            serde_json::json!([9001, "TCP", false])
        ]
    );
    assert_eq!(seen["tg"], serde_json::json!([8080, "ip", "web/tcp"]));
    assert_eq!(seen["attached"], serde_json::json!([["api", 8080]]));
    let ingress = |seen: &serde_json::Value, port: i64| -> Vec<String> {
        seen["ingress"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r[0] == port)
            .map(|r| r[1].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ingress(&seen, 8080), ["172.31.0.0/16"], "TCP: the VPC only");
    assert_eq!(
        seen["udp"],
        serde_json::json!([[8053, "0.0.0.0/0"], [8053, "172.31.0.0/16"]]),
        "UDP targets see the clients: everyone is admitted, and the VPC for health checks"
    );
    assert_eq!(
        ingress(&seen, 8081),
        ["172.31.0.0/16", "198.51.100.0/24", "203.0.113.0/24"]
    );
    assert_eq!(
        seen["preserve"],
        serde_json::json!({"9000": "false", "9001": "true", "53": null}),
        "{seen}"
    );
    env.assert_no_changes();

    // One range out of allowedCidrs: its rule is revoked, the other stays.
    env.component("web", "tcp", "NLB", &nlb_spec("203.0.113.0/24"));
    let out = env.apply();
    assert!(out.contains("1 updated"), "{out}");
    assert_eq!(ingress(&read(), 8081), ["172.31.0.0/16", "203.0.113.0/24"]);
    env.assert_no_changes();

    // A new image for the MicroService: its service keeps the NLB's target group.
    env.component("orders", "api", "MicroService", &api("1.28"));
    let out = env.apply();
    assert!(out.contains("1 updated"), "{out}");
    assert_eq!(read()["attached"], serde_json::json!([["api", 8080]]));

    let (code, out) = env.run(&["destroy", "--auto-approve"]);
    assert_eq!(code, 0, "{out}");
    let gone = read();
    assert_eq!(gone["lbs"], 0);
    assert_eq!(gone["tgs"], 0);
}

/// Service discovery, read back with boto3: `orders/api` has only internal ports (http 8080,
/// admin 9090) and `web/ui` reaches it through its `internalUrl` and `internalUrl.admin`. The
/// stack's namespace `dev.STACK.internal` exists with panka's tags; the api's Cloud Map service
/// `api.orders` answers A records (multivalue, TTL 10) with a custom health check; the api's
/// ECS service registers in it and has no load balancer (no target group carries the api's
/// tags); the api's security group admits the ui's on 8080 and 9090; the ui's tasks get the
/// URLs. A refreshed plan is empty; destroy removes the Cloud Map service and the namespace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_services_are_registered_in_cloud_map() {
    let env = Env::new("d");
    env.write_stack("");
    let root = env.root();
    write(
        &root.join("services/orders/components/api/microservice.yaml"),
        r#"apiVersion: components.panka.io/v1
kind: MicroService
metadata: {name: api, service: orders}
spec:
  image: {repository: public.ecr.aws/nginx/nginx, tag: "1.27"}
  ports:
    - {name: http, port: 8080}
    - {name: admin, port: 9090, public: false}
"#,
    );
    write(
        &root.join("services/web/components/ui/microservice.yaml"),
        r#"apiVersion: components.panka.io/v1
kind: MicroService
metadata: {name: ui, service: web}
spec:
  image: {repository: public.ecr.aws/nginx/nginx, tag: "1.27"}
  ports:
    - {name: http, port: 80, public: true, path: "/*"}
  environment:
    - name: API_URL
      valueFrom: {component: orders/api, output: internalUrl}
    - name: API_ADMIN_URL
      valueFrom: {component: orders/api, output: internalUrl.admin}
"#,
    );
    let (code, out) = env.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 0, "{out}");
    let stack = &env.stack;
    let (namespace, api, ui) = (
        format!("dev.{stack}.internal"),
        format!("{stack}-dev-orders-api"),
        format!("{stack}-dev-web-ui"),
    );
    let script = format!(
        r#"
sd = boto3.client('servicediscovery', **kw); ecs = boto3.client('ecs', **kw)
ec2 = boto3.client('ec2', **kw); elb = boto3.client('elbv2', **kw)
nss = [n for n in sd.list_namespaces()['Namespaces'] if n['Name'] == '{namespace}']
out = {{'namespaces': len(nss)}}
if nss:
    ns = nss[0]
    out['namespaceType'] = ns.get('Type')
    out['namespaceTags'] = {{t['Key']: t['Value'] for t in sd.list_tags_for_resource(ResourceARN=ns['Arn'])['Tags']}}
    svcs = sd.list_services(Filters=[{{'Name': 'NAMESPACE_ID', 'Values': [ns['Id']], 'Condition': 'EQ'}}])['Services']
    out['cloudMapServices'] = sorted(s['Name'] for s in svcs)
    mine = [s for s in svcs if s['Name'] == 'api.orders']
    if mine:
        full = sd.get_service(Id=mine[0]['Id'])['Service']
        out['cloudMapArn'] = full['Arn']
        out['dns'] = full.get('DnsConfig')
        out['customHealth'] = 'HealthCheckCustomConfig' in full
cluster = '{stack}-dev'
described = ecs.describe_services(cluster=cluster, services=['{api}', '{ui}'])['services']
by_name = {{s['serviceName']: s for s in described if s['status'] == 'ACTIVE'}}
out['apiRegistries'] = [r['registryArn'] for r in by_name['{api}'].get('serviceRegistries', [])]
out['apiLoadBalancers'] = by_name['{api}'].get('loadBalancers', [])
groups = {{g['GroupName']: g for g in ec2.describe_security_groups(Filters=[{{'Name': 'group-name', 'Values': ['{api}', '{ui}']}}])['SecurityGroups']}}
ui_group = groups['{ui}']['GroupId']
out['apiAdmitsUi'] = sorted(p['FromPort'] for p in groups['{api}']['IpPermissions'] if any(u['GroupId'] == ui_group for u in p.get('UserIdGroupPairs', [])))
api_groups = 0
for tg in elb.describe_target_groups()['TargetGroups']:
    tags = {{t['Key']: t['Value'] for d in elb.describe_tags(ResourceArns=[tg['TargetGroupArn']])['TagDescriptions'] for t in d['Tags']}}
    if tags.get('panka:stack') == '{stack}' and tags.get('panka:component') == 'api':
        api_groups += 1
out['apiTargetGroups'] = api_groups
td = ecs.describe_task_definition(taskDefinition=by_name['{ui}']['taskDefinition'])['taskDefinition']
out['uiEnvironment'] = {{e['name']: e['value'] for e in td['containerDefinitions'][0].get('environment', [])}}
print(json.dumps(out, default=str))
"#
    );
    let seen = boto(&script);
    assert_eq!(seen["namespaces"], 1, "{seen}");
    assert_eq!(seen["namespaceType"], "DNS_PRIVATE", "{seen}");
    assert_eq!(
        seen["namespaceTags"]["panka:stack"],
        stack.as_str(),
        "{seen}"
    );
    assert_eq!(seen["namespaceTags"]["panka:environment"], "dev", "{seen}");
    assert_eq!(seen["namespaceTags"]["panka:managed-by"], "panka", "{seen}");
    // Only the api has ports that are not public... and the ui, with a public one, also
    // registers: every service with ports is reachable inside the VPC.
    assert_eq!(
        seen["cloudMapServices"],
        serde_json::json!(["api.orders", "ui.web"]),
        "{seen}"
    );
    assert_eq!(seen["dns"]["RoutingPolicy"], "MULTIVALUE", "{seen}");
    assert_eq!(seen["dns"]["DnsRecords"][0]["Type"], "A", "{seen}");
    assert_eq!(seen["dns"]["DnsRecords"][0]["TTL"], 10, "{seen}");
    assert_eq!(seen["customHealth"], true, "{seen}");
    assert_eq!(
        seen["apiRegistries"],
        serde_json::json!([seen["cloudMapArn"]]),
        "{seen}"
    );
    assert_eq!(seen["apiLoadBalancers"], serde_json::json!([]), "{seen}");
    assert_eq!(seen["apiTargetGroups"], 0, "{seen}");
    assert_eq!(
        seen["apiAdmitsUi"],
        serde_json::json!([8080, 9090]),
        "{seen}"
    );
    let host = format!("api.orders.{namespace}");
    assert_eq!(
        seen["uiEnvironment"]["API_URL"],
        format!("http://{host}:8080").as_str(),
        "{seen}"
    );
    assert_eq!(
        seen["uiEnvironment"]["API_ADMIN_URL"],
        format!("http://{host}:9090").as_str(),
        "{seen}"
    );

    let (code, out) = env.run(&["plan", "--detailed-exitcode", "--refresh"]);
    assert_eq!(code, 0, "a refreshed plan is empty: {out}");

    let (code, out) = env.run(&["destroy", "--auto-approve"]);
    assert_eq!(code, 0, "{out}");
    let gone = boto(&format!(
        r#"
sd = boto3.client('servicediscovery', **kw)
nss = [n for n in sd.list_namespaces()['Namespaces'] if n['Name'] == '{namespace}']
svcs = [s['Name'] for s in sd.list_services()['Services'] if s['Name'] in ('api.orders', 'ui.web') and s['Arn'] == '{arn}']
print(json.dumps({{'namespaces': len(nss), 'services': svcs}}))
"#,
        arn = seen["cloudMapArn"].as_str().unwrap_or_default()
    ));
    assert_eq!(gone, serde_json::json!({"namespaces": 0, "services": []}));
}
