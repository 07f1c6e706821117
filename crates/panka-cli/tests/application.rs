//! What an application needs beyond one container, against the emulator and read back with
//! boto3: routes of several services ordered on the shared listener by specificity, the
//! spec's own IAM permissions and managed policies on task and function roles, and sidecars in
//! the task definition. A refreshed plan is empty, changes made outside panka are reported by
//! `panka drift` and put back, and destroy removes roles that hold managed policies (a
//! MicroService's, a CronJob's and a Lambda function's).
//!
//! beforeDeploy is not run here: moto 5.2's RunTask sums the containers' own `memory` and
//! fails (HTTP 500) on a Fargate task definition sized at task level, as panka registers them;
//! it is tested against AWS's documented answers in panka-providers
//! (microservice/before_deploy_tests.rs).

mod emulated;
use emulated::{Env, boto, write};

/// A customer managed policy made with boto3 (moto loads no AWS managed policies by default).
fn managed_policy(env: &Env, name: &str) -> String {
    let arn = boto(&format!(
        r#"
iam = boto3.client('iam', **kw)
doc = json.dumps({{'Version': '2012-10-17', 'Statement': [{{'Effect': 'Allow', 'Action': 'xray:PutTraceSegments', 'Resource': '*'}}]}})
print(json.dumps(iam.create_policy(PolicyName='{}-{name}', PolicyDocument=doc)['Policy']['Arn']))
"#,
        env.stack
    ));
    arn.as_str().unwrap().to_string()
}

fn stack() -> (Env, String, String) {
    let env = Env::new("r");
    env.write_stack("  deployment: {parallelism: 6}\n");
    let tracing = managed_policy(&env, "tracing");
    let reports = managed_policy(&env, "reports");
    env.component(
        "web",
        "site",
        "MicroService",
        "{image: {repository: public.ecr.aws/nginx/nginx}, ports: [{name: http, port: 80, public: true, path: \"/*\"}]}",
    );
    env.component(
        "catalog",
        "api",
        "MicroService",
        "{image: {repository: public.ecr.aws/nginx/nginx}, ports: [{name: http, port: 8080, public: true, path: \"/catalog/*\"}, {name: items, port: 8081, public: true, path: \"/catalog/items/*\"}]}",
    );
    write(
        &env.root()
            .join("services/orders/components/api/microservice.yaml"),
        &format!(
            r#"apiVersion: components.panka.io/v1
kind: MicroService
metadata: {{name: api, service: orders}}
spec:
  image: {{repository: public.ecr.aws/nginx/nginx, tag: "1.27"}}
  ports: [{{name: http, port: 8080, public: true, path: "/orders/*"}}]
  permissions:
    - {{actions: ["ses:SendEmail"], resources: ["arn:aws:ses:us-east-1:123456789012:identity/example.com"]}}
    - {{actions: ["dynamodb:*"], resources: ["*"], allowWildcard: true}}
  managedPolicies: ["{tracing}"]
  sidecars:
    - name: otel
      image: {{repository: public.ecr.aws/aws-observability/aws-otel-collector, tag: v0.40.0}}
      ports: [{{name: otlp, port: 4317}}]
      environment:
        - {{name: AWS_REGION, value: us-east-1}}
        - {{name: QUEUE_URL, valueFrom: {{component: queue, output: url}}}}
      secrets: [{{name: TOKEN, valueFrom: {{ssmParameter: /shop/otel-token}}}}]
      essential: false
      dependsOn: [{{container: api, condition: START}}]
"#
        ),
    );
    env.component("orders", "queue", "SQS", "{}");
    env.component(
        "reports",
        "nightly",
        "CronJob",
        &format!(
            "{{image: {{repository: public.ecr.aws/docker/library/busybox}}, schedule: \"cron(0 3 * * ? *)\", permissions: [{{actions: [\"s3:PutObject\"], resources: [\"arn:aws:s3:::shop-reports/*\"]}}], managedPolicies: [\"{reports}\"], sidecars: [{{name: otel, image: {{repository: public.ecr.aws/aws-observability/aws-otel-collector}}, essential: false}}]}}"
        ),
    );
    // A function with its own permission and the tracing policy, its code in S3.
    let artifacts = format!("{}-artifacts", env.stack);
    boto(&format!(
        r#"
s3 = boto3.client('s3', **kw)
s3.create_bucket(Bucket='{artifacts}')
import io, zipfile
buf = io.BytesIO()
with zipfile.ZipFile(buf, 'w') as z:
    z.writestr('webhook.py', 'def handler(e, c): return 1')
s3.put_object(Bucket='{artifacts}', Key='webhook.zip', Body=buf.getvalue())
print('{{}}')
"#
    ));
    env.component(
        "payments",
        "webhook",
        "Lambda",
        &format!(
            "{{runtime: python3.12, handler: webhook.handler, code: {{s3: {{bucket: {artifacts}, key: webhook.zip}}}}, permissions: [{{actions: [\"sns:Publish\"], resources: [\"arn:aws:sns:us-east-1:123456789012:alerts\"]}}], managedPolicies: [\"{tracing}\"]}}"
        ),
    );
    (env, tracing, reports)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_permissions_and_sidecars() {
    let (env, tracing, reports) = stack();
    let applied = env.apply();
    let s = format!("{}-dev", env.stack);
    let read = || {
        boto(&format!(
            r#"
ecs = boto3.client('ecs', **kw); elb = boto3.client('elbv2', **kw); iam = boto3.client('iam', **kw)
lb = elb.describe_load_balancers(Names=['{s}'])['LoadBalancers'][0]
listener = elb.describe_listeners(LoadBalancerArn=lb['LoadBalancerArn'])['Listeners'][0]
rules = elb.describe_rules(ListenerArn=listener['ListenerArn'])['Rules']
groups = {{g['TargetGroupArn']: g['TargetGroupName'] for g in elb.describe_target_groups(LoadBalancerArn=lb['LoadBalancerArn'])['TargetGroups']}}
priorities = {{groups[a['TargetGroupArn']]: int(r['Priority']) for r in rules if not r['IsDefault'] for a in r['Actions'] if a.get('TargetGroupArn') in groups}}
api = ecs.describe_services(cluster='{s}', services=['{s}-orders-api'])['services'][0]
td = ecs.describe_task_definition(taskDefinition=api['taskDefinition'])['taskDefinition']
def grants(role):
    try:
        doc = iam.get_role_policy(RoleName=role, PolicyName='panka-permissions')['PolicyDocument']
    except iam.exceptions.NoSuchEntityException:
        doc = None
    attached = [p['PolicyArn'] for p in iam.list_attached_role_policies(RoleName=role)['AttachedPolicies']]
    return {{'statements': doc['Statement'] if doc else [], 'attached': attached}}
machine = [m for m in boto3.client('stepfunctions', **kw).list_state_machines()['stateMachines'] if m['name'] == '{s}-reports-nightly'][0]
definition = json.loads(boto3.client('stepfunctions', **kw).describe_state_machine(stateMachineArn=machine['stateMachineArn'])['definition'])
job_td = ecs.describe_task_definition(taskDefinition=definition['States']['Run']['Parameters']['TaskDefinition'])['taskDefinition']
print(json.dumps({{
  'priorities': priorities,
  'containers': [{{'name': c['name'], 'essential': c.get('essential'), 'dependsOn': c.get('dependsOn', []),
                   'ports': [(p.get('name'), p['containerPort'], p.get('protocol')) for p in c.get('portMappings', [])],
                   'env': c.get('environment', []), 'secrets': c.get('secrets', []),
                   'log': c['logConfiguration']['options']}} for c in td['containerDefinitions']],
  'api': grants('{s}-orders-api-task'),
  'job': grants('{s}-reports-nightly-task'),
  'jobContainers': [c['name'] for c in job_td['containerDefinitions']],
  'function': grants('{s}-payments-webhook-lambda'),
}}))
"#
        ))
    };
    let seen = read();

    // Route order across the services sharing the listener: the longest literal prefix first,
    // the catch-all last.
    let p = &seen["priorities"];
    let at = |group: &str| {
        p[group]
            .as_u64()
            .unwrap_or_else(|| panic!("no rule for {group}: {p}"))
    };
    let (items, catalog, orders, site) = (
        at(&format!("{s}-catalog-api-items")),
        at(&format!("{s}-catalog-api-http")),
        at(&format!("{s}-orders-api-http")),
        at(&format!("{s}-web-site-http")),
    );
    assert!(items < catalog && catalog < orders && orders < site, "{p}");

    // The sidecar is in the task definition beside the component's container, with its own
    // log stream prefix and its start condition.
    let containers = seen["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 2, "{containers:?}");
    assert_eq!(containers[0]["name"], "api");
    assert_eq!(containers[0]["log"]["awslogs-stream-prefix"], "ecs");
    let otel = &containers[1];
    assert_eq!(otel["name"], "otel");
    assert_eq!(otel["essential"], false);
    assert_eq!(
        otel["dependsOn"],
        serde_json::json!([{"containerName": "api", "condition": "START"}])
    );
    assert_eq!(otel["ports"], serde_json::json!([["otlp", 4317, "tcp"]]));
    // The sidecar's reference is resolved like the component's own.
    let queue_url = boto(&format!(
        "print(json.dumps(boto3.client('sqs', **kw).get_queue_url(QueueName='{s}-orders-queue')['QueueUrl']))"
    ));
    assert_eq!(
        otel["env"],
        serde_json::json!([
            {"name": "AWS_REGION", "value": "us-east-1"},
            {"name": "QUEUE_URL", "value": queue_url}
        ])
    );
    assert_eq!(
        otel["secrets"],
        serde_json::json!([{"name": "TOKEN", "valueFrom": "/shop/otel-token"}])
    );
    assert_eq!(otel["log"]["awslogs-stream-prefix"], "otel");
    assert_eq!(otel["log"]["awslogs-group"], format!("/ecs/{s}-orders-api"));

    // The spec's permissions are the role's own inline policy; its managed policy is attached.
    assert_eq!(
        seen["api"]["statements"],
        serde_json::json!([
            {"Effect": "Allow", "Action": ["ses:SendEmail"], "Resource": ["arn:aws:ses:us-east-1:123456789012:identity/example.com"]},
            {"Effect": "Allow", "Action": ["dynamodb:*"], "Resource": ["*"]}
        ])
    );
    assert_eq!(seen["api"]["attached"], serde_json::json!([tracing]));
    assert_eq!(seen["job"]["attached"], serde_json::json!([reports]));
    assert_eq!(
        seen["job"]["statements"][0]["Action"],
        serde_json::json!(["s3:PutObject"])
    );
    assert_eq!(
        seen["jobContainers"],
        serde_json::json!(["nightly", "otel"])
    );
    assert_eq!(
        seen["function"],
        serde_json::json!({"statements": [{"Effect": "Allow", "Action": ["sns:Publish"], "Resource": ["arn:aws:sns:us-east-1:123456789012:alerts"]}], "attached": [tracing]})
    );

    // What AWS holds reads back as the spec.
    env.assert_no_changes();
    assert!(applied.contains("orders/api"), "{applied}");

    // Changed outside panka: a permission rewritten, the managed policy detached, the sidecar's
    // condition changed in a new revision.
    boto(&format!(
        r#"
iam = boto3.client('iam', **kw); ecs = boto3.client('ecs', **kw)
role = '{s}-orders-api-task'
iam.put_role_policy(RoleName=role, PolicyName='panka-permissions', PolicyDocument=json.dumps({{'Version': '2012-10-17', 'Statement': [{{'Effect': 'Allow', 'Action': ['ses:SendRawEmail'], 'Resource': ['arn:aws:ses:us-east-1:123456789012:identity/example.com']}}, {{'Effect': 'Allow', 'Action': ['dynamodb:*'], 'Resource': ['*']}}]}}))
iam.detach_role_policy(RoleName=role, PolicyArn='{tracing}')
api = ecs.describe_services(cluster='{s}', services=['{s}-orders-api'])['services'][0]
td = ecs.describe_task_definition(taskDefinition=api['taskDefinition'])['taskDefinition']
for c in td['containerDefinitions']:
    if c['name'] == 'otel':
        c['dependsOn'] = [{{'containerName': 'api', 'condition': 'HEALTHY'}}]
keep = ['family', 'taskRoleArn', 'executionRoleArn', 'networkMode', 'containerDefinitions', 'requiresCompatibilities', 'cpu', 'memory', 'runtimePlatform', 'ephemeralStorage']
new = ecs.register_task_definition(**{{k: td[k] for k in keep if k in td}})['taskDefinition']['taskDefinitionArn']
ecs.update_service(cluster='{s}', service='{s}-orders-api', taskDefinition=new)
print('{{}}')
"#
    ));
    let (code, out) = env.run(&["drift", "--output", "json"]);
    assert_eq!(code, 0, "{out}");
    let doc: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let mut fields: Vec<String> = doc["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["address"] == "orders/api")
        .flat_map(|r| r["changes"].as_array().cloned().unwrap_or_default())
        .map(|c| c["path"].as_str().unwrap().to_string())
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "spec.managedPolicies",
            "spec.permissions[0].actions",
            "spec.sidecars[otel].dependsOn[0].condition",
        ],
        "{doc}"
    );
    let (code, out) = env.run(&["drift", "remediate", "--auto-approve"]);
    assert_eq!(code, 0, "{out}");
    let after = read();
    assert_eq!(after["api"], seen["api"]);
    assert_eq!(after["containers"], seen["containers"]);
    env.assert_no_changes();

    // An explicit priority that puts the catch-all first is kept (and `validate` warns at both
    // rules); the sidecar removed leaves the component's container alone.
    env.component(
        "web",
        "site",
        "MicroService",
        "{image: {repository: public.ecr.aws/nginx/nginx}, ports: [{name: http, port: 80, public: true, path: \"/*\", priority: 3}]}",
    );
    let (code, out) = env.run(&["validate"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("route-shadowed"), "{out}");
    let orders_file = env
        .root()
        .join("services/orders/components/api/microservice.yaml");
    let text = std::fs::read_to_string(&orders_file).unwrap();
    let cut = text.find("  sidecars:").unwrap();
    write(&orders_file, &text[..cut]);
    env.apply();
    let changed = read();
    assert_eq!(
        changed["priorities"][format!("{s}-web-site-http")],
        serde_json::json!(3)
    );
    assert_eq!(changed["containers"].as_array().unwrap().len(), 1);
    env.assert_no_changes();

    // Destroy detaches the managed policies and removes the roles.
    let (code, out) = env.run(&["destroy", "--auto-approve"]);
    assert_eq!(code, 0, "{out}");
    let roles = boto(&format!(
        "pages = boto3.client('iam', **kw).get_paginator('list_roles').paginate()\nprint(json.dumps([r['RoleName'] for page in pages for r in page['Roles'] if r['RoleName'].startswith('{s}-')]))"
    ));
    assert_eq!(roles, serde_json::json!([]));
}
