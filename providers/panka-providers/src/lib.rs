//! panka's AWS providers, one module per component kind, each a [`KindProvider`] typed over its
//! kind's spec. [`registry`] registers every provider built so far; kinds without one fail at
//! apply time with a clear message. New providers start from `providers/TEMPLATE.md`.
//!
//! [`KindProvider`]: panka_engine::KindProvider

pub mod alb;
pub mod apigateway;
mod apigateway_rest;
#[cfg(test)]
mod aws_replies;
pub mod cloudfront;
pub mod cronjob;
pub mod docdb;
pub mod dynamodb;
pub mod ebs;
pub mod ecs_cluster;
pub mod efs;
pub mod elasticache;
pub mod errors;
pub mod eventbridge;
mod iam;
pub mod lambda;
pub mod logs;
pub mod memcached;
pub mod microservice;
pub mod msk;
pub mod namespace;
pub mod network;
pub mod nlb;
pub mod partition;
mod policy;
pub mod rds;
pub mod s3;
pub mod sns;
pub mod sqs;

use panka_aws::Aws;
use panka_engine::{Registry, Unobservable};

/// `dependsOn` orders panka's actions; it is no AWS setting, so no kind can read it back.
pub(crate) const DEPENDS_ON: Unobservable = Unobservable {
    field: "dependsOn",
    tracked_by: "panka's own ordering, not an AWS setting: recorded in the state",
};

/// A KMS key as the spec wrote it: AWS reports a key ARN, and the spec may name an alias or an
/// id. Providers record the ARN (`kmsKeyArn`) beside the spec's spelling (`kmsKey`) when they
/// set a key; while AWS still reports that ARN the spec's spelling stands, any other key reads as
/// its ARN (drift).
pub(crate) fn kms_spelling(
    ids: &std::collections::BTreeMap<String, String>,
    arn: &str,
) -> Option<String> {
    if ids.get("kmsKeyArn").map(String::as_str) == Some(arn) {
        ids.get("kmsKey").cloned()
    } else {
        Some(arn.to_string())
    }
}

/// providers/TEMPLATE.md, whose skeleton is compiled as this module's doctest.
#[doc = include_str!("../../TEMPLATE.md")]
mod template {}

/// The identity of a resource in a test of a provider's read: its address, AWS name, recorded
/// ids and outputs (region us-east-1, no tags).
#[cfg(test)]
pub(crate) fn test_identity<'a>(
    address: &'a str,
    name: &'a str,
    ids: &'a std::collections::BTreeMap<String, String>,
    outputs: &'a std::collections::BTreeMap<String, String>,
) -> panka_engine::Identity<'a> {
    static NO_TAGS: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
    panka_engine::Identity {
        address,
        name,
        region: "us-east-1",
        ids,
        outputs,
        tags: &NO_TAGS,
    }
}

/// Every provider, with clients from one AWS configuration.
pub fn registry(aws: &Aws) -> Registry {
    let mut r = Registry::new();
    r.register(s3::S3Provider::new(aws.s3()));
    r.register(sqs::SqsProvider::new(aws.sqs()));
    r.register(sns::SnsProvider::new(aws.sns(), aws.sqs(), aws.lambda()));
    r.register(eventbridge::EventBridgeProvider::new(
        aws.eventbridge(),
        aws.sqs(),
        aws.sns(),
        aws.lambda(),
    ));
    r.register(rds::RdsProvider::new(aws.rds(), aws.ec2()));
    r.register(elasticache::RedisProvider::new(
        aws.elasticache(),
        aws.ec2(),
    ));
    r.register(memcached::MemcachedProvider::new(
        aws.elasticache(),
        aws.ec2(),
    ));
    r.register(dynamodb::DynamoDbProvider::new(aws.dynamodb()));
    r.register(msk::MskProvider::new(aws.kafka(), aws.ec2()));
    r.register(docdb::DocumentDbProvider::new(
        aws.docdb(),
        aws.rds(),
        aws.ec2(),
    ));
    r.register(ebs::EbsProvider::new(aws.ec2(), aws.sts()));
    r.register(efs::EfsProvider::new(aws.efs(), aws.ec2()));
    r.register(ecs_cluster::ClusterProvider::new(aws.ecs()));
    r.register(
        alb::LoadBalancerProvider::new(aws.elbv2(), aws.ec2()).with_domain(
            aws_sdk_acm::Client::new(aws.config()),
            aws_sdk_route53::Client::new(aws.config()),
        ),
    );
    // Built from the shared SDK configuration here: only this crate uses Cloud Map.
    let discovery = aws_sdk_servicediscovery::Client::new(aws.config());
    r.register(namespace::NamespaceProvider::new(
        discovery.clone(),
        aws.ec2(),
    ));
    r.register(alb::AlbProvider::new(aws.elbv2(), aws.ec2(), aws.s3()));
    r.register(nlb::NlbProvider::new(aws.elbv2(), aws.ec2(), aws.ecs()));
    let ecs_clients = microservice::Clients {
        ecs: aws.ecs(),
        elb: aws.elbv2(),
        iam: aws.iam(),
        logs: aws.logs(),
        scaling: aws.autoscaling(),
        ec2: aws.ec2(),
        discovery,
    };
    // CloudFront takes certificates only from ACM in us-east-1, whatever the stack's region.
    let acm_us_east_1 = aws_sdk_acm::Client::from_conf(
        aws_sdk_acm::config::Builder::from(aws.config())
            .region(aws_sdk_acm::config::Region::new("us-east-1"))
            .build(),
    );
    r.register(
        cloudfront::CloudFrontProvider::new(aws.cloudfront(), aws.s3())
            .with_domain(acm_us_east_1, aws_sdk_route53::Client::new(aws.config())),
    );
    r.register(apigateway::ApiGatewayProvider::new(
        aws.apigateway(),
        aws.apigateway_rest(),
        aws.lambda(),
    ));
    r.register(lambda::LambdaProvider::new(
        aws.lambda(),
        aws.iam(),
        aws.logs(),
        aws.eventbridge(),
        aws.ec2(),
    ));
    r.register(cronjob::CronJobProvider::new(
        ecs_clients.clone(),
        aws.sfn(),
        aws.scheduler(),
    ));
    r.register(microservice::MicroServiceProvider::new(ecs_clients.clone()));
    r.register(microservice::WorkerProvider::new(ecs_clients));
    r
}

#[cfg(test)]
mod tests {
    use std::fmt::Write;

    use panka_format::kinds::Kind;
    use panka_graph::ResourceKind;

    fn registry() -> panka_engine::Registry {
        let config = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .build();
        super::registry(&panka_aws::Aws::from_config(config, false))
    }

    #[test]
    fn registry_covers_every_kind() {
        let r = registry();
        let kinds = Kind::ALL
            .iter()
            .map(|k| ResourceKind::Component(*k))
            .chain([
                ResourceKind::SharedCluster,
                ResourceKind::SharedLoadBalancer,
                ResourceKind::SharedNamespace,
            ]);
        for kind in kinds {
            assert!(
                r.provider(kind).is_some(),
                "no provider for {}",
                kind.name()
            );
        }
        assert_eq!(r.kinds().len(), Kind::ALL.len() + 3);
    }

    /// docs/reference/observed-state.md lists, per kind, the fields AWS cannot report and how
    /// panka tracks them. `PANKA_BLESS=1` (`make docs`) rewrites it.
    #[test]
    fn observed_state_reference_is_current() {
        let r = registry();
        let mut page = String::from(
            "# Observed state: what a read cannot see\n\n\
             <!-- Generated from the providers' UNOBSERVABLE lists by `make docs`; do not edit. -->\n\n\
             `panka drift`, `plan --refresh`, `apply --refresh`, `import` and crash recovery read each resource \
             from AWS through its provider, which is given the resource's identity (name, recorded ids and \
             outputs) and never its spec: every setting they report is what AWS said. The fields below are \
             the exceptions: AWS does not report them, so their recorded values stand, and `panka drift` \
             counts them as not compared (`unobservedFields` in `--output json`).\n\n\
             Fields AWS manages by design are not drift when the recorded settings let AWS manage them: \
             an autoscaled desired count (MicroService, Worker with `autoscaling`), storage grown by RDS \
             storage autoscaling (`maxAllocatedGB`), and a minor engine version AWS moved forward \
             (`autoMinorVersionUpgrade`, or a recorded version that is a prefix of the live one: `16` \
             matches `16.4`). `panka drift` lists them as managed (`managedFields`).\n\n\
             | Kind | Field | How panka knows it instead |\n|---|---|---|\n",
        );
        for kind in r.kinds() {
            let provider = r.get(kind).unwrap();
            for u in provider.unobservable() {
                writeln!(page, "| {kind} | `{}` | {} |", u.field, u.tracked_by).unwrap();
            }
        }
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../docs/reference/observed-state.md");
        if std::env::var("PANKA_BLESS").is_ok_and(|v| v == "1") {
            std::fs::write(&path, &page).unwrap();
            return;
        }
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            current == page,
            "{} is out of date: run `make docs`",
            path.display()
        );
    }
}
