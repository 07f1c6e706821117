//! The network interfaces Lambda makes for a VPC function (Hyperplane ENIs, one per subnet and
//! security group), which outlive the function for many minutes: its security group cannot be
//! deleted until they are gone (EC2 answers `DependencyViolation`).
//!
//! After the function is deleted, Lambda detaches its interfaces (they turn `available`) and
//! deletes them with the function's role. [`wait_gone`] deletes those already `available` itself
//! and waits for the rest, as terraform-provider-aws does before deleting a security group
//! (internal/service/ec2/vpc_network_interface.go, `deleteLingeringLambdaENIs`).

use std::time::{Duration, Instant};

use aws_sdk_ec2::types::{Filter, NetworkInterfaceStatus};
use panka_engine::{ErrorKind, ProviderError};

use crate::errors::{aws_error, code};

/// How long a deleted VPC function's interfaces may take to go: "AWS Lambda service team
/// confirms P99 deletion time of ~35 minutes. Buffer for safety." terraform-provider-aws waits
/// 45 minutes (internal/service/ec2/vpc_network_interface.go, `deleteLingeringLambdaENIs`); so
/// does panka.
const ENI_GONE_TIMEOUT: Duration = Duration::from_secs(45 * 60);
/// Interfaces go over minutes: a look every 15 seconds is at most 180 DescribeNetworkInterfaces
/// calls over the whole wait.
const ENI_POLL: Duration = Duration::from_secs(15);
/// How Lambda describes the interfaces it makes: `AWS Lambda VPC ENI-FUNCTION-…` (EC2 filters
/// take `*` as a wildcard; terraform-provider-aws filters on the same value).
const LAMBDA_ENI_DESCRIPTION: &str = "AWS Lambda VPC ENI*";

/// How often and how long [`wait_gone`] looks.
#[derive(Clone, Copy, Debug)]
pub(super) struct Pacing {
    pub(super) poll: Duration,
    pub(super) timeout: Duration,
}

/// Real AWS's pacing: [`ENI_POLL`] and [`ENI_GONE_TIMEOUT`].
pub(super) const AWS_PACING: Pacing = Pacing {
    poll: ENI_POLL,
    timeout: ENI_GONE_TIMEOUT,
};

/// A Lambda interface as DescribeNetworkInterfaces lists it.
struct Interface {
    id: String,
    available: bool,
}

/// The interfaces Lambda made in security group `sg` (the function's own).
async fn lambda_interfaces(
    ec2: &aws_sdk_ec2::Client,
    sg: &str,
) -> Result<Vec<Interface>, ProviderError> {
    let mut out = Vec::new();
    let mut next = None;
    loop {
        let page = ec2
            .describe_network_interfaces()
            .filters(Filter::builder().name("group-id").values(sg).build())
            .filters(
                Filter::builder()
                    .name("description")
                    .values(LAMBDA_ENI_DESCRIPTION)
                    .build(),
            )
            .set_next_token(next)
            .send()
            .await
            .map_err(|e| {
                aws_error(
                    format!("listing the Lambda network interfaces of security group {sg}"),
                    e,
                )
            })?;
        out.extend(page.network_interfaces().iter().filter_map(|n| {
            Some(Interface {
                id: n.network_interface_id()?.to_string(),
                available: n.status() == Some(&NetworkInterfaceStatus::Available),
            })
        }));
        next = page.next_token().map(str::to_string);
        if next.is_none() {
            return Ok(out);
        }
    }
}

/// Waits until no network interface Lambda made for `function` remains in its security group
/// `sg`: deletes those Lambda has detached (`available`) and looks again every `pacing.poll`
/// while some are still in use.
///
/// # Errors
/// EC2's errors, and [`ErrorKind::Timeout`] naming the interfaces still in use after
/// `pacing.timeout`.
pub(super) async fn wait_gone(
    ec2: &aws_sdk_ec2::Client,
    function: &str,
    sg: &str,
    pacing: Pacing,
) -> Result<(), ProviderError> {
    let started = Instant::now();
    loop {
        let interfaces = lambda_interfaces(ec2, sg).await?;
        if interfaces.is_empty() {
            return Ok(());
        }
        let mut in_use = Vec::new();
        for i in interfaces {
            if !i.available {
                in_use.push(i.id);
                continue;
            }
            let deleted = ec2
                .delete_network_interface()
                .network_interface_id(&i.id)
                .send()
                .await;
            match deleted {
                Ok(_) => {}
                Err(e) if code(&e) == Some("InvalidNetworkInterfaceID.NotFound") => {}
                Err(e) => {
                    return Err(aws_error(
                        format!("deleting network interface {} of {function}", i.id),
                        e,
                    ));
                }
            }
        }
        if !in_use.is_empty() && started.elapsed() >= pacing.timeout {
            return Err(ProviderError::new(
                ErrorKind::Timeout,
                format!(
                    "waiting for the network interfaces of Lambda function {function} ({}) to go: still in use after {} minutes; Lambda deletes them itself, and security group {sg} can go after them",
                    in_use.join(", "),
                    pacing.timeout.as_secs() / 60
                ),
            ));
        }
        tokio::time::sleep(pacing.poll).await;
    }
}
