//! `shared.domain` end to end against the emulator, read back with boto3: a public hosted zone
//! made beforehand, a MicroService with a host inside it. Apply gives the host an ACM
//! certificate (issued; moto issues it after `MOTO_ACM_VALIDATION_WAIT` seconds, set short by
//! the harness, whatever the DNS says), its validation CNAME in the zone, an HTTPS listener on
//! 443 serving it with the host's rule, HTTP on 80 redirecting to HTTPS, and an alias A record
//! to the load balancer. A refreshed plan is empty; a record deleted out of band shows as drift
//! and the next apply writes it again; removing the host removes its record and certificate;
//! destroy leaves the zone as it was.
//!
//! A CloudFront component with an alias inside the zone and no `certificateArn`, in a stack of
//! eu-west-1: apply gives the alias an ACM certificate in us-east-1 (and none in the stack's
//! region), issued, served by the distribution, and alias A and AAAA records to the
//! distribution. A refreshed plan is empty; destroy removes the records and the certificate.

mod emulated;
use emulated::{Env, boto, write};

fn api(host: Option<&str>) -> String {
    match host {
        Some(h) => format!(
            "{{image: {{repository: public.ecr.aws/nginx/nginx}}, ports: [{{name: http, port: 8080, public: true, host: {h}}}]}}"
        ),
        None => "{image: {repository: public.ecr.aws/nginx/nginx}, ports: [{name: http, port: 8080, public: true, path: \"/*\"}]}".to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_in_the_zone_gets_a_certificate_https_and_an_alias_record() {
    let env = Env::new("d");
    let zone = format!("{}.example.com", env.stack);
    let host = format!("api.{zone}");
    let made = boto(&format!(
        "r = boto3.client('route53', **kw)\nz = r.create_hosted_zone(Name='{zone}', CallerReference='{zone}')\nprint(json.dumps(z['HostedZone']['Id'].split('/')[-1]))"
    ));
    let zone_id = made.as_str().unwrap().to_string();
    env.write_stack(&format!("  shared:\n    domain: {{zone: {zone}}}\n"));
    env.component("orders", "api", "MicroService", &api(Some(&host)));
    env.apply();

    let lb_name = format!("{}-dev", env.stack);
    let read = || {
        boto(&format!(
            r#"
acm = boto3.client('acm', **kw); elb = boto3.client('elbv2', **kw); r53 = boto3.client('route53', **kw)
certs = [c for c in acm.list_certificates()['CertificateSummaryList'] if c['DomainName'] == '{host}']
records = r53.list_resource_record_sets(HostedZoneId='{zone_id}')['ResourceRecordSets']
out = {{'certs': [], 'records': [(r['Name'], r['Type'], r.get('AliasTarget', {{}}).get('DNSName')) for r in records if r['Type'] not in ('NS', 'SOA')]}}
for c in certs:
    d = acm.describe_certificate(CertificateArn=c['CertificateArn'])['Certificate']
    out['certs'].append({{'arn': d['CertificateArn'], 'status': d['Status'], 'validation': d['DomainValidationOptions'][0]['ResourceRecord']['Name']}})
lbs = [l for l in elb.describe_load_balancers()['LoadBalancers'] if l['LoadBalancerName'] == '{lb_name}']
out['lbs'] = len(lbs)
if lbs:
    out['dns'] = lbs[0]['DNSName']
    out['listeners'] = {{}}
    for l in elb.describe_listeners(LoadBalancerArn=lbs[0]['LoadBalancerArn'])['Listeners']:
        a = l['DefaultActions'][0]
        rules = [r for r in elb.describe_rules(ListenerArn=l['ListenerArn'])['Rules'] if not r['IsDefault']]
        out['listeners'][str(l['Port'])] = {{'protocol': l['Protocol'], 'certs': [c['CertificateArn'] for c in l.get('Certificates', [])],
            'default': a['Type'], 'redirect': a.get('RedirectConfig', {{}}).get('Protocol'),
            'hosts': [v for r in rules for c in r['Conditions'] if c['Field'] == 'host-header' for v in c.get('HostHeaderConfig', {{}}).get('Values', c.get('Values', []))]}}
print(json.dumps(out))
"#
        ))
    };
    let seen = read();
    let certs = seen["certs"].as_array().unwrap();
    assert_eq!(certs.len(), 1, "one certificate for the host: {seen}");
    assert_eq!(certs[0]["status"], "ISSUED");
    let cert = certs[0]["arn"].as_str().unwrap();
    let validation = certs[0]["validation"].as_str().unwrap();
    let records = seen["records"].as_array().unwrap();
    assert!(
        records
            .iter()
            .any(|r| r[0] == validation && r[1] == "CNAME"),
        "the validation record is in the zone: {seen}"
    );
    let dns = seen["dns"].as_str().unwrap();
    let alias = |seen: &serde_json::Value| -> Vec<String> {
        seen["records"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r[0] == format!("{host}.") && r[1] == "A")
            .map(|r| {
                r[2].as_str()
                    .unwrap_or_default()
                    .trim_end_matches('.')
                    .to_string()
            })
            .collect()
    };
    assert_eq!(alias(&seen), [dns.to_string()], "{seen}");
    let https = &seen["listeners"]["443"];
    assert_eq!(https["protocol"], "HTTPS", "{seen}");
    assert_eq!(https["certs"], serde_json::json!([cert]));
    assert_eq!(
        https["hosts"],
        serde_json::json!([host]),
        "the rule is on HTTPS"
    );
    let http = &seen["listeners"]["80"];
    assert_eq!(http["default"], "redirect", "{seen}");
    assert_eq!(http["redirect"], "HTTPS");
    assert_eq!(
        http["hosts"],
        serde_json::json!([]),
        "no rule left forwarding HTTP"
    );
    env.assert_no_changes();

    // The alias record deleted behind panka's back: a refreshed plan shows the domain drifted,
    // and the next apply writes the record again.
    boto(&format!(
        r#"
r53 = boto3.client('route53', **kw)
rec = [r for r in r53.list_resource_record_sets(HostedZoneId='{zone_id}')['ResourceRecordSets'] if r['Name'] == '{host}.' and r['Type'] == 'A'][0]
r53.change_resource_record_sets(HostedZoneId='{zone_id}', ChangeBatch={{'Changes': [{{'Action': 'DELETE', 'ResourceRecordSet': rec}}]}})
print(json.dumps(True))
"#
    ));
    let (code, out) = env.run(&["plan", "--detailed-exitcode", "--refresh"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("domain"), "{out}");
    let (code, out) = env.run(&["apply", "--auto-approve", "--refresh"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(alias(&read()), [dns.to_string()]);

    // The host removed: its record and its certificate go, HTTP forwards again.
    env.component("orders", "api", "MicroService", &api(None));
    env.apply();
    let seen = read();
    assert_eq!(alias(&seen), Vec::<String>::new(), "{seen}");
    assert_eq!(seen["certs"], serde_json::json!([]), "{seen}");
    assert!(seen["listeners"].get("443").is_none(), "{seen}");
    assert_eq!(seen["listeners"]["80"]["default"], "fixed-response");
    env.assert_no_changes();

    let (code, out) = env.run(&["destroy", "--auto-approve"]);
    assert_eq!(code, 0, "{out}");
    let gone = read();
    assert_eq!(gone["lbs"], 0);
    assert_eq!(gone["records"], serde_json::json!([]), "{gone}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloudfront_alias_in_the_zone_gets_a_us_east_1_certificate_and_alias_records() {
    let env = Env::new("e");
    let zone = format!("{}.example.com", env.stack);
    let alias = format!("cdn.{zone}");
    let made = boto(&format!(
        "r = boto3.client('route53', **kw)\nz = r.create_hosted_zone(Name='{zone}', CallerReference='{zone}')\nprint(json.dumps(z['HostedZone']['Id'].split('/')[-1]))"
    ));
    let zone_id = made.as_str().unwrap().to_string();
    // The stack's region is not us-east-1, so that a certificate there shows panka asked
    // us-east-1 for it, as CloudFront requires.
    write(
        &env.root().join("stack.yaml"),
        &format!(
            "apiVersion: core.panka.io/v1\nkind: Stack\nmetadata: {{name: {}}}\nspec:\n  provider: {{name: aws, region: eu-west-1}}\n  shared:\n    domain: {{zone: {zone}}}\n",
            env.stack
        ),
    );
    write(
        &env.root().join("environments/dev.yaml"),
        "apiVersion: core.panka.io/v1\nkind: Environment\nmetadata: {name: dev}\n",
    );
    env.component("web", "assets", "S3", "{forceDestroy: true}");
    env.component(
        "web",
        "cdn",
        "CloudFront",
        &format!(
            "{{origins: [{{name: assets, target: {{component: assets}}}}], defaultBehavior: {{origin: assets}}, aliases: [{alias}]}}"
        ),
    );
    env.apply();

    let comment = format!("panka: {}-dev-web-cdn", env.stack);
    let read = || {
        boto(&format!(
            r#"
cf = boto3.client('cloudfront', **kw); r53 = boto3.client('route53', **kw)
out = {{'certs': {{}}, 'records': []}}
for region in ('us-east-1', 'eu-west-1'):
    acm = boto3.client('acm', **dict(kw, region_name=region))
    out['certs'][region] = []
    for c in acm.list_certificates()['CertificateSummaryList']:
        if c['DomainName'] != '{alias}':
            continue
        d = acm.describe_certificate(CertificateArn=c['CertificateArn'])['Certificate']
        out['certs'][region].append({{'arn': d['CertificateArn'], 'status': d['Status'],
            'validation': d['DomainValidationOptions'][0]['ResourceRecord']['Name']}})
items = cf.list_distributions()['DistributionList'].get('Items', [])
mine = [d for d in items if d['Comment'] == '{comment}']
out['distributions'] = len(mine)
if mine:
    d = cf.get_distribution(Id=mine[0]['Id'])['Distribution']
    c = d['DistributionConfig']
    out['domain'] = d['DomainName']
    out['aliases'] = c['Aliases'].get('Items', [])
    out['viewer'] = {{k: c['ViewerCertificate'].get(k) for k in ('ACMCertificateArn', 'SSLSupportMethod', 'MinimumProtocolVersion')}}
for r in r53.list_resource_record_sets(HostedZoneId='{zone_id}')['ResourceRecordSets']:
    if r['Type'] in ('NS', 'SOA'):
        continue
    a = r.get('AliasTarget', {{}})
    out['records'].append([r['Name'], r['Type'], a.get('DNSName'), a.get('HostedZoneId')])
print(json.dumps(out))
"#
        ))
    };
    let seen = read();
    assert_eq!(seen["distributions"], 1, "{seen}");
    assert_eq!(
        seen["certs"]["eu-west-1"],
        serde_json::json!([]),
        "no certificate in the stack's region: {seen}"
    );
    let certs = seen["certs"]["us-east-1"].as_array().unwrap();
    assert_eq!(certs.len(), 1, "one certificate in us-east-1: {seen}");
    assert_eq!(certs[0]["status"], "ISSUED", "{seen}");
    let cert = certs[0]["arn"].as_str().unwrap();
    assert!(cert.contains(":us-east-1:"), "{cert}");
    assert_eq!(seen["aliases"], serde_json::json!([alias]), "{seen}");
    assert_eq!(
        seen["viewer"],
        serde_json::json!({"ACMCertificateArn": cert, "SSLSupportMethod": "sni-only", "MinimumProtocolVersion": "TLSv1.2_2021"}),
        "{seen}"
    );
    let validation = certs[0]["validation"].as_str().unwrap();
    let records = seen["records"].as_array().unwrap();
    assert!(
        records
            .iter()
            .any(|r| r[0] == validation && r[1] == "CNAME"),
        "the validation record is in the zone: {seen}"
    );
    let domain = seen["domain"].as_str().unwrap();
    let aliases = |seen: &serde_json::Value| -> Vec<(String, String, String)> {
        seen["records"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r[0] == format!("{alias}."))
            .map(|r| {
                (
                    r[1].as_str().unwrap_or_default().to_string(),
                    r[2].as_str()
                        .unwrap_or_default()
                        .trim_end_matches('.')
                        .to_string(),
                    r[3].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    };
    let to_distribution = |t: &str| {
        (
            t.to_string(),
            domain.to_string(),
            "Z2FDTNDATAQYW2".to_string(),
        )
    };
    assert_eq!(
        aliases(&seen),
        [to_distribution("A"), to_distribution("AAAA")],
        "{seen}"
    );
    env.assert_no_changes();

    let (code, out) = env.run(&["destroy", "--auto-approve", "--allow-destroy", "web/assets"]);
    assert_eq!(code, 0, "{out}");
    let gone = read();
    assert_eq!(gone["distributions"], 0, "{gone}");
    assert_eq!(gone["records"], serde_json::json!([]), "{gone}");
    assert_eq!(gone["certs"]["us-east-1"], serde_json::json!([]), "{gone}");
}
