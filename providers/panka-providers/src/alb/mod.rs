//! Application Load Balancers: the stack's shared one ([`LoadBalancerProvider`], kind
//! `SharedLoadBalancer`, in [`shared`]) and dedicated ALB components ([`AlbProvider`], in
//! [`dedicated`]), built alike: a security group, listeners answering 404 or redirecting to HTTPS
//! ([`listeners`]), attributes. This module holds what every Elastic Load Balancing kind uses
//! (the NLB and MicroService providers too): reading a load balancer, its listeners and
//! attributes in one go, deleting load balancers and target groups, tags, health.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::client::Waiters;
use aws_sdk_elasticloadbalancingv2::types::{Listener, LoadBalancer, Tag};
use panka_engine::{ErrorKind, ProviderError};

use crate::errors::{aws_error, unless_missing};

mod dedicated;
pub(crate) mod domain;
mod listeners;
mod shared;

pub use dedicated::AlbProvider;
pub use shared::LoadBalancerProvider;

/// Deleting an ALB takes seconds; its network interfaces linger longer (the security group
/// deletion waits for those on its own).
const DELETED_TIMEOUT: Duration = Duration::from_secs(600);

/// How a load balancer is doing, for `panka status`: its state and DNS name.
pub(crate) fn health_line(lb: &LoadBalancer) -> String {
    format!(
        "{} · {}",
        lb.state()
            .and_then(|s| s.code())
            .map(|c| c.as_str().to_string())
            .unwrap_or_else(|| "unknown".into()),
        lb.dns_name().unwrap_or_default()
    )
}

/// A load balancer's security group is named after it.
fn group_name(name: &str) -> String {
    format!("{name}-alb")
}

pub(crate) fn elb_tags(t: &BTreeMap<String, String>) -> Vec<Tag> {
    t.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The ARN of the target group `name`, when there is one and it carries the component's tags
/// (DescribeTargetGroups, then DescribeTags); one of that name that is not the component's is
/// refused ([`crate::errors::check_owner`]). A target group of a create whose answer was lost
/// carries the tags, which CreateTargetGroup sets with it.
pub(crate) async fn owned_target_group(
    elb: &Client,
    name: &str,
    address: &str,
    expected: &BTreeMap<String, String>,
) -> Result<Option<String>, ProviderError> {
    let found = unless_missing(
        elb.describe_target_groups().names(name).send().await,
        |s| s.is_target_group_not_found_exception(),
        format!("reading target group {name}"),
    )?;
    let Some(arn) = found
        .as_ref()
        .and_then(|r| r.target_groups().first())
        .and_then(|g| g.target_group_arn())
        .map(str::to_string)
    else {
        return Ok(None);
    };
    check_elb_owner(
        elb,
        &arn,
        &format!("target group {name}"),
        address,
        expected,
    )
    .await?;
    Ok(Some(arn))
}

/// Refuses an Elastic Load Balancing resource (`arn`) that does not carry the component's tags
/// (DescribeTags).
async fn check_elb_owner(
    elb: &Client,
    arn: &str,
    what: &str,
    address: &str,
    expected: &BTreeMap<String, String>,
) -> Result<(), ProviderError> {
    let described = elb
        .describe_tags()
        .resource_arns(arn)
        .send()
        .await
        .map_err(|e| aws_error(format!("reading tags of {what}"), e))?;
    crate::errors::check_owner(
        what,
        address,
        described
            .tag_descriptions()
            .iter()
            .flat_map(|d| d.tags())
            .filter_map(|t| Some((t.key()?, t.value()?))),
        expected,
    )
}

/// Refuses a load balancer that does not carry the component's tags (DescribeTags).
pub(crate) async fn check_load_balancer_owner(
    elb: &Client,
    lb: &LoadBalancer,
    address: &str,
    expected: &BTreeMap<String, String>,
) -> Result<(), ProviderError> {
    let what = format!(
        "load balancer {}",
        lb.load_balancer_name().unwrap_or_default()
    );
    match lb.load_balancer_arn() {
        Some(arn) => check_elb_owner(elb, arn, &what, address, expected).await,
        None => crate::errors::check_owner(&what, address, [], expected),
    }
}

/// Inserts `key` into `map` when `value` is a non-empty string (outputs are never `""`).
fn put(map: &mut BTreeMap<String, String>, key: &str, value: Option<&str>) {
    if let Some(v) = value.filter(|v| !v.is_empty()) {
        map.insert(key.to_string(), v.to_string());
    }
}

/// The load balancer named `name`, if there is one.
pub(crate) async fn describe_load_balancer(
    elb: &Client,
    name: &str,
) -> Result<Option<LoadBalancer>, ProviderError> {
    Ok(unless_missing(
        elb.describe_load_balancers().names(name).send().await,
        |s| s.is_load_balancer_not_found_exception(),
        format!("reading load balancer {name}"),
    )?
    .and_then(|r| r.load_balancers().first().cloned()))
}

/// The listeners of the load balancer `arn`, every page.
pub(crate) async fn load_balancer_listeners(
    elb: &Client,
    arn: &str,
) -> Result<Vec<Listener>, ProviderError> {
    let mut all = Vec::new();
    let mut marker = None;
    loop {
        let page = elb
            .describe_listeners()
            .load_balancer_arn(arn)
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| aws_error(format!("listing the listeners of {arn}"), e))?;
        all.extend_from_slice(page.listeners());
        marker = page.next_marker().map(str::to_string);
        if marker.is_none() {
            return Ok(all);
        }
    }
}

/// A load balancer as Elastic Load Balancing reports it: the load balancer, its listeners and
/// its attributes.
#[derive(Clone, Debug)]
pub(crate) struct Live {
    pub lb: LoadBalancer,
    pub listeners: Vec<Listener>,
    pub attributes: HashMap<String, String>,
}

impl Live {
    pub fn arn(&self) -> &str {
        self.lb.load_balancer_arn().unwrap_or_default()
    }

    /// The attribute `key` as a boolean (`false` when absent).
    pub fn flag(&self, key: &str) -> bool {
        self.attributes.get(key).is_some_and(|v| v == "true")
    }
}

/// Reads the load balancer `arn` (recorded) or else named `name` (states written before the
/// ARN was recorded), its listeners and attributes: DescribeLoadBalancers, DescribeListeners
/// and DescribeLoadBalancerAttributes. `None` when it does not exist.
pub(crate) async fn read_live(
    elb: &Client,
    arn: Option<&str>,
    name: &str,
) -> Result<Option<Live>, ProviderError> {
    let lb = match arn {
        Some(arn) => unless_missing(
            elb.describe_load_balancers()
                .load_balancer_arns(arn)
                .send()
                .await,
            |s| s.is_load_balancer_not_found_exception(),
            format!("reading load balancer {arn}"),
        )?
        .and_then(|r| r.load_balancers().first().cloned()),
        None => describe_load_balancer(elb, name).await?,
    };
    let Some(lb) = lb else { return Ok(None) };
    let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
    let listeners = load_balancer_listeners(elb, &arn).await?;
    let attributes = elb
        .describe_load_balancer_attributes()
        .load_balancer_arn(&arn)
        .send()
        .await
        .map_err(|e| aws_error(format!("reading the attributes of load balancer {arn}"), e))?
        .attributes()
        .iter()
        .filter_map(|a| Some((a.key()?.to_string(), a.value()?.to_string())))
        .collect();
    Ok(Some(Live {
        lb,
        listeners,
        attributes,
    }))
}

/// Deletes the load balancer named `name` (its listeners go with it) and waits until it is
/// gone; one already gone is fine.
pub(crate) async fn delete_load_balancer(elb: &Client, name: &str) -> Result<(), ProviderError> {
    let Some(lb) = describe_load_balancer(elb, name).await? else {
        return Ok(());
    };
    let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
    match elb
        .delete_load_balancer()
        .load_balancer_arn(&arn)
        .send()
        .await
    {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_load_balancer_not_found_exception()) => {}
        Err(e) => return Err(aws_error(format!("deleting load balancer {name}"), e)),
    }
    elb.wait_until_load_balancers_deleted()
        .load_balancer_arns(&arn)
        .wait(DELETED_TIMEOUT)
        .await
        .map_err(|e| {
            ProviderError::with_source(
                ErrorKind::Timeout,
                format!("waiting for load balancer {name} to be deleted"),
                e,
            )
        })?;
    Ok(())
}

/// A target group stays "in use" for a moment after the rule, listener or service using it
/// are gone.
const IN_USE_TRIES: usize = 30;
const IN_USE_POLL: Duration = Duration::from_secs(5);

/// Deletes a target group, waiting while it is still in use.
pub(crate) async fn delete_target_group(elb: &Client, arn: &str) -> Result<(), ProviderError> {
    for _ in 0..IN_USE_TRIES {
        match elb.delete_target_group().target_group_arn(arn).send().await {
            Ok(_) => return Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_in_use_exception()) =>
            {
                tokio::time::sleep(IN_USE_POLL).await;
            }
            Err(e) => return Err(aws_error(format!("deleting target group {arn}"), e)),
        }
    }
    Err(ProviderError::new(
        ErrorKind::Timeout,
        format!("target group {arn} is still in use"),
    ))
}

/// `items` (listeners, by `port`) in the order recorded under `order` (`80,443`, the spec's order when
/// last applied), ports not recorded after them, ascending: AWS lists listeners in no order.
pub(crate) fn in_recorded_order<T>(
    mut items: Vec<T>,
    port: impl Fn(&T) -> u32,
    order: Option<&str>,
) -> Vec<T> {
    let recorded: Vec<u32> = order
        .map(|o| o.split(',').filter_map(|p| p.trim().parse().ok()).collect())
        .unwrap_or_default();
    items.sort_by_key(|i| {
        let p = port(i);
        (
            recorded.iter().position(|r| *r == p).unwrap_or(usize::MAX),
            p,
        )
    });
    items
}

/// The physical id recording the spec's listener order: `listenerPorts` = `80,443`.
pub(crate) const LISTENER_PORTS: &str = "listenerPorts";

pub(crate) fn listener_ports(ports: impl Iterator<Item = u32>) -> String {
    ports.map(|p| p.to_string()).collect::<Vec<_>>().join(",")
}
