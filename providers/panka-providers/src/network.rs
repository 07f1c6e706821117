//! Where VPC-placed resources go: the stack's `shared.network`, or the region's default VPC and
//! its subnets; and the security groups panka creates for them.

use std::time::Duration;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use backon::{ConstantBuilder, Retryable};
use panka_engine::Transient;
use panka_engine::{ErrorKind, ProviderError};
use serde_json::Value;

use crate::errors::aws_error;

/// A security group still attached to network interfaces (a database being deleted) cannot be
/// deleted; AWS detaches them within minutes.
const SG_DELETE_WAIT: Duration = Duration::from_secs(600);
const SG_DELETE_POLL: Duration = Duration::from_secs(10);

/// A VPC and the private subnets resources go in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    pub vpc_id: String,
    pub subnets: Vec<String>,
}

/// The placement from a configuration's `network` (the stack's `shared.network`), or the
/// region's default VPC with all its subnets when it is absent.
///
/// # Errors
/// No network given and no default VPC in the region.
pub async fn placement(ec2: &Client, config: &Value) -> Result<Placement, ProviderError> {
    placement_in(ec2, config, Tier::Private).await
}

/// Which of the network's subnets a resource goes in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tier {
    /// `privateSubnets`: databases, caches, tasks.
    Private,
    /// `publicSubnets`: internet-facing load balancers, tasks asked to be public.
    Public,
}

/// The placement in the given tier of the configuration's `network`, or the default VPC with
/// all its subnets (which are public) when it is absent.
///
/// # Errors
/// No network given and no default VPC, or a network without subnets of that tier.
pub async fn placement_in(
    ec2: &Client,
    config: &Value,
    tier: Tier,
) -> Result<Placement, ProviderError> {
    if let Some(n) = config.get("network").filter(|n| !n.is_null()) {
        let vpc_id = n
            .get("vpcId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let field = match tier {
            Tier::Private => "privateSubnets",
            Tier::Public => "publicSubnets",
        };
        let subnets: Vec<String> = n
            .get(field)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        if subnets.is_empty() {
            return Err(ProviderError::new(
                ErrorKind::Invalid,
                format!(
                    "`shared.network.{field}` in stack.yaml is empty, and this resource goes in those subnets"
                ),
            ));
        }
        return Ok(Placement { vpc_id, subnets });
    }
    let vpcs = ec2
        .describe_vpcs()
        .filters(Filter::builder().name("is-default").values("true").build())
        .send()
        .await
        .map_err(|e| aws_error("looking up the default VPC", e))?;
    let vpc_id = vpcs.vpcs().first().and_then(|v| v.vpc_id()).map(str::to_string).ok_or_else(|| {
        ProviderError::new(ErrorKind::Invalid, "the region has no default VPC; set `shared.network` in stack.yaml (vpcId and privateSubnets)")
    })?;
    let subnets = ec2
        .describe_subnets()
        .filters(Filter::builder().name("vpc-id").values(&vpc_id).build())
        .send()
        .await
        .map_err(|e| aws_error(format!("listing the subnets of {vpc_id}"), e))?;
    let mut ids: Vec<String> = subnets
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_id())
        .map(str::to_string)
        .collect();
    ids.sort();
    if ids.is_empty() {
        return Err(ProviderError::new(
            ErrorKind::Invalid,
            format!("the default VPC {vpc_id} has no subnets"),
        ));
    }
    Ok(Placement {
        vpc_id,
        subnets: ids,
    })
}

/// The id of the security group `name` in `vpc_id`, created (with `tags`) when missing.
///
/// # Errors
/// EC2 calls that fail.
pub async fn ensure_security_group(
    ec2: &Client,
    name: &str,
    description: &str,
    vpc_id: &str,
    tags: &std::collections::BTreeMap<String, String>,
) -> Result<String, ProviderError> {
    if let Some(id) = find_security_group(ec2, name, vpc_id).await? {
        return Ok(id);
    }
    let tags: Vec<Tag> = tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    let created = ec2
        .create_security_group()
        .group_name(name)
        .description(description)
        .vpc_id(vpc_id)
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::SecurityGroup)
                .set_tags(Some(tags))
                .build(),
        )
        .send()
        .await;
    let created = match created {
        Ok(c) => c,
        // Made at the same moment by another apply (two services creating the stack's shared
        // load balancer): use that one.
        Err(e)
            if e.as_service_error().and_then(|s| s.meta().code())
                == Some("InvalidGroup.Duplicate") =>
        {
            if let Some(id) = find_security_group(ec2, name, vpc_id).await? {
                return Ok(id);
            }
            return Err(aws_error(format!("creating security group {name}"), e));
        }
        Err(e) => return Err(aws_error(format!("creating security group {name}"), e)),
    };
    created.group_id().map(str::to_string).ok_or_else(|| {
        ProviderError::new(
            ErrorKind::Invalid,
            format!("EC2 returned no id for security group {name}"),
        )
    })
}

/// The id of the security group `name` in `vpc_id`, if it exists.
///
/// # Errors
/// EC2 calls that fail.
pub async fn find_security_group(
    ec2: &Client,
    name: &str,
    vpc_id: &str,
) -> Result<Option<String>, ProviderError> {
    let found = ec2
        .describe_security_groups()
        .filters(Filter::builder().name("group-name").values(name).build())
        .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
        .send()
        .await
        .map_err(|e| aws_error(format!("looking up security group {name}"), e))?;
    Ok(found
        .security_groups()
        .first()
        .and_then(|g| g.group_id())
        .map(str::to_string))
}

/// The id of the security group panka made for the resource `name` placed by `config` (empty
/// when it does not exist), for adopting a resource after a crash.
///
/// # Errors
/// EC2 calls that fail.
pub async fn security_group_of(
    ec2: &Client,
    config: &Value,
    name: &str,
) -> Result<String, ProviderError> {
    let place = placement(ec2, config).await?;
    Ok(find_security_group(ec2, name, &place.vpc_id)
        .await?
        .unwrap_or_default())
}

/// Deletes the security group `id`, waiting while network interfaces still use it; a group
/// already gone is success.
///
/// # Errors
/// EC2 calls that fail, or a group still in use after [`SG_DELETE_WAIT`].
pub async fn delete_security_group(ec2: &Client, id: &str) -> Result<(), ProviderError> {
    let attempt = || async {
        match ec2.delete_security_group().group_id(id).send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                let code = e
                    .as_service_error()
                    .and_then(|s| s.meta().code())
                    .unwrap_or_default()
                    .to_string();
                if code == "InvalidGroup.NotFound" {
                    return Ok(());
                }
                let in_use = code == "DependencyViolation";
                let mut err = aws_error(format!("deleting security group {id}"), e);
                if in_use {
                    err.kind = ErrorKind::Transient(Transient::DependencyNotReady);
                }
                Err(err)
            }
        }
    };
    attempt
        .retry(
            ConstantBuilder::default()
                .with_delay(SG_DELETE_POLL)
                .with_max_times((SG_DELETE_WAIT.as_secs() / SG_DELETE_POLL.as_secs()) as usize),
        )
        .sleep(tokio::time::sleep)
        .when(|e: &ProviderError| e.kind == ErrorKind::Transient(Transient::DependencyNotReady))
        .await
}

/// Where ingress comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// An IPv4 range, such as `0.0.0.0/0`.
    Cidr(String),
    /// Another security group.
    Group(String),
}

fn permission(protocol: &str, port: i32, source: &Source) -> aws_sdk_ec2::types::IpPermission {
    let p = aws_sdk_ec2::types::IpPermission::builder()
        .ip_protocol(protocol)
        .from_port(port)
        .to_port(port);
    match source {
        Source::Cidr(c) => p.ip_ranges(aws_sdk_ec2::types::IpRange::builder().cidr_ip(c).build()),
        Source::Group(g) => p.user_id_group_pairs(
            aws_sdk_ec2::types::UserIdGroupPair::builder()
                .group_id(g)
                .build(),
        ),
    }
    .build()
}

/// Admits TCP `port` from `source` into security group `group`; a rule already there is success.
///
/// # Errors
/// EC2 calls that fail.
pub async fn authorize_ingress(
    ec2: &Client,
    group: &str,
    port: i32,
    source: &Source,
) -> Result<(), ProviderError> {
    authorize_protocol(ec2, group, "tcp", port, source).await
}

/// Admits `protocol` (`tcp`, `udp`) on `port` from `source` into `group`; a rule already there
/// is success.
///
/// # Errors
/// EC2 calls that fail.
pub async fn authorize_protocol(
    ec2: &Client,
    group: &str,
    protocol: &str,
    port: i32,
    source: &Source,
) -> Result<(), ProviderError> {
    match ec2
        .authorize_security_group_ingress()
        .group_id(group)
        .ip_permissions(permission(protocol, port, source))
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error().and_then(|s| s.meta().code())
                == Some("InvalidPermission.Duplicate") =>
        {
            Ok(())
        }
        Err(e) => Err(aws_error(
            format!("admitting port {port} into security group {group}"),
            e,
        )),
    }
}

/// Removes the rule admitting TCP `port` from `source` into `group`; a rule or group already
/// gone is success.
///
/// # Errors
/// EC2 calls that fail.
pub async fn revoke_ingress(
    ec2: &Client,
    group: &str,
    port: i32,
    source: &Source,
) -> Result<(), ProviderError> {
    revoke_protocol(ec2, group, "tcp", port, source).await
}

/// Removes the rule admitting `protocol` on `port` from `source` into `group`; a rule or group
/// already gone is success.
///
/// # Errors
/// EC2 calls that fail.
pub async fn revoke_protocol(
    ec2: &Client,
    group: &str,
    protocol: &str,
    port: i32,
    source: &Source,
) -> Result<(), ProviderError> {
    match ec2
        .revoke_security_group_ingress()
        .group_id(group)
        .ip_permissions(permission(protocol, port, source))
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e)
            if matches!(
                e.as_service_error().and_then(|s| s.meta().code()),
                Some("InvalidPermission.NotFound" | "InvalidGroup.NotFound")
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(aws_error(
            format!("removing port {port} from security group {group}"),
            e,
        )),
    }
}

/// The IPv4 range of a VPC.
///
/// # Errors
/// EC2 calls that fail, or a VPC that does not exist.
pub async fn vpc_cidr(ec2: &Client, vpc_id: &str) -> Result<String, ProviderError> {
    let found = ec2
        .describe_vpcs()
        .vpc_ids(vpc_id)
        .send()
        .await
        .map_err(|e| aws_error(format!("reading VPC {vpc_id}"), e))?;
    found
        .vpcs()
        .first()
        .and_then(|v| v.cidr_block())
        .map(str::to_string)
        .ok_or_else(|| {
            ProviderError::new(ErrorKind::NotFound, format!("VPC {vpc_id} does not exist"))
        })
}
