//! A distribution's domain: when `shared.domain` serves its aliases (all inside the zone, no
//! `certificateArn`; the configuration's `domain` says so), one ACM certificate in us-east-1
//! for every alias (CloudFront takes certificates only from there:
//! https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cnames-and-https-requirements.html),
//! validated through DNS records in the zone, and alias records (A and AAAA: the distribution
//! serves IPv6) from each alias to the distribution.
//!
//! The certificate, records and zone look-up are the shared load balancer's
//! ([`crate::alb::domain`]). Physical ids: `zone` (the hosted zone id), `certificate` (ARN),
//! `record.ALIAS` (the record types) and `aliasTarget` (the distribution's domain name, so that
//! a delete finishing after the distribution is gone still knows which records were its).

use std::collections::BTreeMap;

use aws_sdk_route53::types::RrType;
use panka_engine::{ErrorKind, ProviderError};
use serde::Deserialize;
use serde_json::Value;

use crate::alb::domain::{
    DomainClients, ZONE, alias_types, delete_alias, delete_certificate, dns,
    ensure_certificate_for, find_public_zone, upsert_alias,
};

/// The hosted zone id of every CloudFront distribution's alias target:
/// https://docs.aws.amazon.com/Route53/latest/APIReference/API_AliasTarget.html
pub(super) const CLOUDFRONT_HOSTED_ZONE: &str = "Z2FDTNDATAQYW2";
/// The physical id holding the certificate's ARN.
pub(super) const CERTIFICATE: &str = "certificate";
const RECORD: &str = "record.";
const ALIAS_TARGET: &str = "aliasTarget";

/// `domain` of a CloudFront component's configuration, as `panka_plan::desired` writes it.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub(super) struct EdgeDomain {
    pub zone: String,
}

/// The domain of a CloudFront component's configuration, if it has one.
pub(super) fn edge_domain_of(config: &Value) -> Result<Option<EdgeDomain>, ProviderError> {
    match config.get("domain") {
        None | Some(Value::Null) => Ok(None),
        Some(d) => serde_json::from_value(d.clone()).map(Some).map_err(|e| {
            ProviderError::with_source(
                ErrorKind::Invalid,
                "the recorded CloudFront domain does not match this version of panka",
                e,
            )
        }),
    }
}

/// The record types of every alias: the distribution is IPv6-enabled, so A and AAAA.
fn types() -> Vec<RrType> {
    alias_types(true)
}

/// The aliases as DNS names: lowercase, without repeats, in the spec's order (the first is the
/// certificate's domain name).
pub(super) fn names(aliases: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for a in aliases.iter().map(|a| dns(a)) {
        if !out.contains(&a) {
            out.push(a);
        }
    }
    out
}

/// The zone and certificate of the distribution's aliases: the public zone found by name, the
/// certificate recorded in `ids` while it covers exactly the aliases, else one found by its
/// tags, else a new one; issued before this returns.
///
/// # Errors
/// No public zone of the name, the certificate failing validation or not issued in time.
pub(super) async fn ensure_edge_certificate(
    clients: &DomainClients,
    domain: &EdgeDomain,
    component: &str,
    aliases: &[String],
    tags: &BTreeMap<String, String>,
    ids: &BTreeMap<String, String>,
) -> Result<(String, String), ProviderError> {
    let zone_id = find_public_zone(&clients.route53, &domain.zone).await?;
    let arn = ensure_certificate_for(
        clients,
        &zone_id,
        component,
        &names(aliases),
        tags,
        ids.get(CERTIFICATE).map(String::as_str),
    )
    .await?;
    Ok((zone_id, arn))
}

/// UPSERTs each alias's records to the distribution `target` (its domain name).
pub(super) async fn write_aliases(
    clients: &DomainClients,
    zone_id: &str,
    aliases: &[String],
    target: &str,
) -> Result<(), ProviderError> {
    for alias in names(aliases) {
        upsert_alias(
            &clients.route53,
            zone_id,
            &alias,
            &types(),
            target,
            CLOUDFRONT_HOSTED_ZONE,
        )
        .await?;
    }
    Ok(())
}

/// The ids of a domain: the zone, the certificate, the record types of each alias and the
/// distribution they point at.
pub(super) fn edge_ids(
    zone_id: &str,
    certificate: &str,
    aliases: &[String],
    target: &str,
) -> BTreeMap<String, String> {
    let types = types()
        .iter()
        .map(|t| t.as_str())
        .collect::<Vec<_>>()
        .join(",");
    let mut ids = BTreeMap::from([
        (ZONE.to_string(), zone_id.to_string()),
        (CERTIFICATE.to_string(), certificate.to_string()),
        (ALIAS_TARGET.to_string(), target.to_string()),
    ]);
    for alias in names(aliases) {
        ids.insert(format!("{RECORD}{alias}"), types.clone());
    }
    ids
}

/// Removes what the `old` ids hold that the `new` ones do not: the records of aliases no
/// longer served (only those pointing at the distribution), then the certificate replaced or
/// no longer needed, with its validation records.
///
/// # Errors
/// As Route 53 and ACM answer; a certificate CloudFront still holds is
/// [`panka_engine::Transient::DependencyNotReady`].
pub(super) async fn remove_stale(
    clients: &DomainClients,
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
    target: Option<&str>,
) -> Result<(), ProviderError> {
    let Some(zone_id) = old.get(ZONE) else {
        return Ok(());
    };
    let target = old.get(ALIAS_TARGET).map(String::as_str).or(target);
    if let Some(target) = target {
        for host in old.keys().filter_map(|k| k.strip_prefix(RECORD)) {
            let kept =
                new.get(ZONE) == Some(zone_id) && new.contains_key(&format!("{RECORD}{host}"));
            if !kept {
                delete_alias(&clients.route53, zone_id, host, target).await?;
            }
        }
    }
    if let Some(arn) = old.get(CERTIFICATE)
        && new.get(CERTIFICATE) != Some(arn)
    {
        delete_certificate(clients, Some(zone_id), arn).await?;
    }
    Ok(())
}

/// The domain's ids among the recorded `ids`: a read carries them over, as it reports the
/// distribution and not its records.
pub(super) fn recorded_edge_ids(ids: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    ids.iter()
        .filter(|(k, _)| {
            matches!(k.as_str(), ZONE | CERTIFICATE | ALIAS_TARGET) || k.starts_with(RECORD)
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}
