//! panka's AWS providers, one module per component kind, each a [`KindProvider`] typed over its
//! kind's spec. [`registry`] registers every provider built so far; kinds without one fail at
//! apply time with a clear message. New providers start from `providers/TEMPLATE.md`.
//!
//! [`KindProvider`]: panka_engine::KindProvider

pub mod alb;
pub mod apigateway;
mod apigateway_rest;
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
pub mod network;
pub mod nlb;
mod policy;
pub mod rds;
pub mod s3;
pub mod sns;
pub mod sqs;

use panka_aws::Aws;
use panka_engine::Registry;

/// Every provider, with clients from one AWS configuration.
pub fn registry(aws: &Aws) -> Registry {
    let mut r = Registry::new();
    r.register(s3::S3Provider::new(aws.s3()));
    r.register(sqs::SqsProvider::new(aws.sqs()));
    r.register(sns::SnsProvider::new(aws.sns(), aws.sqs()));
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
    r.register(alb::LoadBalancerProvider::new(aws.elbv2(), aws.ec2()));
    r.register(alb::AlbProvider::new(aws.elbv2(), aws.ec2(), aws.s3()));
    r.register(nlb::NlbProvider::new(aws.elbv2(), aws.ec2(), aws.ecs()));
    let ecs_clients = microservice::Clients {
        ecs: aws.ecs(),
        elb: aws.elbv2(),
        iam: aws.iam(),
        logs: aws.logs(),
        scaling: aws.autoscaling(),
        ec2: aws.ec2(),
    };
    r.register(cloudfront::CloudFrontProvider::new(
        aws.cloudfront(),
        aws.s3(),
    ));
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
