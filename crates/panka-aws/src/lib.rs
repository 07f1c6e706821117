//! AWS client set-up, in one place.
//!
//! The default credential chain (environment, `AWS_PROFILE`, SSO, web identity, instance role),
//! the region from the stack (or `AWS_REGION`), an endpoint override from `--endpoint-url` or
//! `AWS_ENDPOINT_URL` for emulators (with path-style S3 addressing, which emulators need), and the
//! SDK's standard retry mode with more attempts than its default: deploys run long and meet
//! throttling that a short retry budget turns into failed applies.

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

/// Attempts per AWS call, the first included, before an error surfaces. The SDK default is 3.
pub const MAX_ATTEMPTS: u32 = 8;

/// Where and how to reach AWS.
#[derive(Clone, Debug, Default)]
pub struct AwsOptions {
    /// The region; the default chain's when `None`.
    pub region: Option<String>,
    /// An endpoint for every service (an emulator); `AWS_ENDPOINT_URL` is honoured by the SDK
    /// itself when this is `None`.
    pub endpoint_url: Option<String>,
}

/// Shared SDK configuration and the clients built from it.
#[derive(Clone, Debug)]
pub struct Aws {
    pub config: SdkConfig,
    endpoint_set: bool,
}

impl Aws {
    /// Loads the configuration from the default chain with panka's overrides.
    pub async fn load(options: &AwsOptions) -> Aws {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS));
        if let Some(region) = &options.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(url) = &options.endpoint_url {
            loader = loader.endpoint_url(url.clone());
        }
        let config = loader.load().await;
        let endpoint_set = options.endpoint_url.is_some()
            || std::env::var("AWS_ENDPOINT_URL").is_ok_and(|v| !v.is_empty());
        Aws {
            config,
            endpoint_set,
        }
    }

    /// Wraps a configuration built elsewhere (tests with fixed emulator credentials).
    pub fn from_config(config: SdkConfig, endpoint_set: bool) -> Aws {
        Aws {
            config,
            endpoint_set,
        }
    }

    /// The SDK configuration (credentials, region, endpoint, retries), for building clients of
    /// services this crate has no constructor for.
    pub fn config(&self) -> &SdkConfig {
        &self.config
    }

    /// The region in effect.
    pub fn region(&self) -> Option<&str> {
        self.config.region().map(|r| r.as_ref())
    }

    /// An S3 client; path-style addressing when an endpoint override is set.
    pub fn s3(&self) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(&self.config)
            .force_path_style(self.endpoint_set)
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    pub fn ec2(&self) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::new(&self.config)
    }

    pub fn rds(&self) -> aws_sdk_rds::Client {
        aws_sdk_rds::Client::new(&self.config)
    }

    pub fn elasticache(&self) -> aws_sdk_elasticache::Client {
        aws_sdk_elasticache::Client::new(&self.config)
    }

    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.config)
    }

    pub fn sns(&self) -> aws_sdk_sns::Client {
        aws_sdk_sns::Client::new(&self.config)
    }

    pub fn eventbridge(&self) -> aws_sdk_eventbridge::Client {
        aws_sdk_eventbridge::Client::new(&self.config)
    }

    pub fn lambda(&self) -> aws_sdk_lambda::Client {
        aws_sdk_lambda::Client::new(&self.config)
    }

    /// API Gateway's HTTP APIs (v2).
    pub fn apigateway(&self) -> aws_sdk_apigatewayv2::Client {
        aws_sdk_apigatewayv2::Client::new(&self.config)
    }

    pub fn docdb(&self) -> aws_sdk_docdb::Client {
        aws_sdk_docdb::Client::new(&self.config)
    }

    pub fn kafka(&self) -> aws_sdk_kafka::Client {
        aws_sdk_kafka::Client::new(&self.config)
    }

    /// API Gateway's REST APIs (v1).
    pub fn apigateway_rest(&self) -> aws_sdk_apigateway::Client {
        aws_sdk_apigateway::Client::new(&self.config)
    }

    pub fn sts(&self) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::new(&self.config)
    }

    pub fn scheduler(&self) -> aws_sdk_scheduler::Client {
        aws_sdk_scheduler::Client::new(&self.config)
    }

    pub fn sfn(&self) -> aws_sdk_sfn::Client {
        aws_sdk_sfn::Client::new(&self.config)
    }

    pub fn cloudfront(&self) -> aws_sdk_cloudfront::Client {
        aws_sdk_cloudfront::Client::new(&self.config)
    }

    pub fn efs(&self) -> aws_sdk_efs::Client {
        aws_sdk_efs::Client::new(&self.config)
    }

    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.config)
    }

    pub fn ecs(&self) -> aws_sdk_ecs::Client {
        aws_sdk_ecs::Client::new(&self.config)
    }

    pub fn elbv2(&self) -> aws_sdk_elasticloadbalancingv2::Client {
        aws_sdk_elasticloadbalancingv2::Client::new(&self.config)
    }

    pub fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.config)
    }

    pub fn logs(&self) -> aws_sdk_cloudwatchlogs::Client {
        aws_sdk_cloudwatchlogs::Client::new(&self.config)
    }

    pub fn autoscaling(&self) -> aws_sdk_applicationautoscaling::Client {
        aws_sdk_applicationautoscaling::Client::new(&self.config)
    }
}
