//! The shared load balancer's domain (`shared.domain`): for each host of the stack's public
//! MicroService ports inside the Route 53 zone, an ACM certificate validated through a DNS
//! record in the zone, served by the HTTPS listener (the first host's as its default, the others
//! as listener certificates), and an alias record (A, and AAAA when the load balancer is
//! dualstack) to the load balancer.
//!
//! It lives in the shared load balancer's resource rather than in a resource of its own because
//! the pieces order each other both ways: the HTTPS listener cannot be created before a
//! certificate is issued, the alias records need the load balancer's DNS name, and the load
//! balancer's listener convergence deletes listeners it does not know. One converge orders them
//! (certificates, listeners, listener certificates, records, then removals) without a cycle in
//! the graph, and the MicroServices, which depend on the load balancer, find the HTTPS listener
//! in its outputs.
//!
//! One certificate per host, so that a host's certificate is in use exactly while the host is:
//! adding a host never re-issues the others, removing one detaches and deletes its certificate
//! alone. Physical ids: `zone` (the hosted zone id), `certificate.HOST` (ARN) and `record.HOST`
//! (the record types, `A` or `A,AAAA`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_sdk_acm::types::{CertificateStatus, ValidationMethod};
use aws_sdk_elasticloadbalancingv2::types::{Certificate, Listener, ProtocolEnum};
use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use aws_smithy_types::error::operation::BuildError;
use panka_engine::{ErrorKind, ProviderError, Transient};
use serde::Deserialize;
use serde_json::Value;

use crate::errors::{aws_error, unless_gone, unless_missing};

/// The clients a domain needs besides Elastic Load Balancing.
#[derive(Clone, Debug)]
pub(crate) struct DomainClients {
    pub acm: aws_sdk_acm::Client,
    pub route53: aws_sdk_route53::Client,
}

/// The clients of a provider built for a domain (`with_domain`); `provider` names it in the
/// error when it was built without them.
pub(crate) fn required<'a>(
    clients: &'a Option<DomainClients>,
    provider: &str,
) -> Result<&'a DomainClients, ProviderError> {
    clients.as_ref().ok_or_else(|| {
        ProviderError::new(
            ErrorKind::Invalid,
            format!(
                "this {provider} provider was built without ACM and Route 53 clients, which a domain needs"
            ),
        )
    })
}

/// `domain` of the shared load balancer's configuration, as `panka_plan::desired` writes it.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub(crate) struct Domain {
    pub zone: String,
    pub hosts: Vec<String>,
}

/// The physical id holding the hosted zone's id.
pub(crate) const ZONE: &str = "zone";
const CERTIFICATE: &str = "certificate.";
const RECORD: &str = "record.";

/// ACM fills a new certificate's DNS validation record in a few seconds after
/// RequestCertificate; terraform-provider-aws waits up to 5 minutes for it
/// (internal/service/acm/certificate.go, `waitCertificateDomainValidationsAvailable`).
const VALIDATION_RECORD_TIMEOUT: Duration = Duration::from_secs(300);
const VALIDATION_RECORD_POLL: Duration = Duration::from_secs(2);
/// DNS validation usually completes within minutes of the record appearing; ACM keeps trying
/// for 72 hours, terraform-provider-aws waits 75 minutes by default
/// (internal/service/acm/certificate_validation.go, `waitCertificateIssued`).
const ISSUED_TIMEOUT: Duration = Duration::from_secs(75 * 60);
/// ACM's own `CertificateValidated` waiter polls every 60 s; 10 s finds a certificate issued in
/// seconds (as most are once the record resolves) without a minute's idle wait.
const ISSUED_POLL: Duration = Duration::from_secs(10);
/// The validation record's TTL: ACM looks it up repeatedly while validating, and a short TTL
/// lets a corrected record be seen soon (the value terraform-provider-aws's documented
/// `aws_acm_certificate_validation` example uses).
const VALIDATION_TTL: i64 = 60;

/// The domain of a shared load balancer's configuration, if it has one.
pub(crate) fn domain_of(config: &Value) -> Result<Option<Domain>, ProviderError> {
    match config.get("domain") {
        None | Some(Value::Null) => Ok(None),
        Some(d) => serde_json::from_value(d.clone()).map(Some).map_err(|e| {
            ProviderError::with_source(
                ErrorKind::Invalid,
                "the recorded shared load balancer domain does not match this version of panka",
                e,
            )
        }),
    }
}

pub(crate) fn certificate_key(host: &str) -> String {
    format!("{CERTIFICATE}{host}")
}

fn record_key(host: &str) -> String {
    format!("{RECORD}{host}")
}

/// The hosts recorded in `ids` with their certificate ARN.
pub(crate) fn recorded_certificates(ids: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    ids.iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(CERTIFICATE)?.to_string(), v.clone())))
        .collect()
}

fn built<T>(r: Result<T, BuildError>, what: &str) -> Result<T, ProviderError> {
    r.map_err(|e| ProviderError::with_source(ErrorKind::Invalid, format!("building {what}"), e))
}

/// A DNS name as Route 53 spells it, without the trailing dot, in lowercase.
pub(crate) fn dns(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// An idempotency token for RequestCertificate (`\w+`, at most 32 characters): the same for
/// the same load balancer and host, so that a request repeated after its answer was lost
/// returns the first certificate (ACM recognises a token for one hour). FNV-1a, stable across
/// builds.
fn idempotency_token(lb: &str, host: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in lb.bytes().chain([b'/']).chain(host.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("panka{h:016x}")
}

/// The id of the public hosted zone named `zone` (ListHostedZonesByName lists zones from that
/// name on, in order; a private zone of the same name is skipped).
///
/// # Errors
/// [`ErrorKind::Invalid`] when there is no public zone of that name.
pub(crate) async fn find_public_zone(
    route53: &aws_sdk_route53::Client,
    zone: &str,
) -> Result<String, ProviderError> {
    let mut dns_name = Some(zone.to_string());
    let mut zone_id = None;
    loop {
        let page = route53
            .list_hosted_zones_by_name()
            .set_dns_name(dns_name)
            .set_hosted_zone_id(zone_id)
            .send()
            .await
            .map_err(|e| aws_error(format!("looking up the hosted zone {zone}"), e))?;
        for z in page.hosted_zones() {
            if dns(z.name()) != dns(zone) {
                // Zones come in name order: past the name, there is none of it.
                return Err(no_zone(zone));
            }
            if !z.config().is_some_and(|c| c.private_zone()) {
                return Ok(z.id().trim_start_matches("/hostedzone/").to_string());
            }
        }
        if !page.is_truncated() {
            return Err(no_zone(zone));
        }
        dns_name = page.next_dns_name().map(str::to_string);
        zone_id = page.next_hosted_zone_id().map(str::to_string);
    }
}

fn no_zone(zone: &str) -> ProviderError {
    ProviderError::new(
        ErrorKind::Invalid,
        format!("there is no public Route 53 hosted zone named {zone} in this account"),
    )
}

/// The name of the hosted zone `id`, without the trailing dot; `None` when it is gone.
pub(crate) async fn zone_name(
    route53: &aws_sdk_route53::Client,
    id: &str,
) -> Result<Option<String>, ProviderError> {
    Ok(unless_missing(
        route53.get_hosted_zone().id(id).send().await,
        |e| e.is_no_such_hosted_zone(),
        format!("reading hosted zone {id}"),
    )?
    .and_then(|z| z.hosted_zone().map(|z| dns(z.name()))))
}

/// A certificate as DescribeCertificate reports it; `None` when it is gone.
async fn describe_certificate(
    acm: &aws_sdk_acm::Client,
    arn: &str,
) -> Result<Option<aws_sdk_acm::types::CertificateDetail>, ProviderError> {
    Ok(unless_missing(
        acm.describe_certificate().certificate_arn(arn).send().await,
        |e| e.is_resource_not_found_exception(),
        format!("reading certificate {arn}"),
    )?
    .and_then(|d| d.certificate().cloned()))
}

/// Whether a certificate in `status` can still serve: issued, or on its way to it.
fn usable(status: Option<&CertificateStatus>) -> bool {
    matches!(
        status,
        Some(CertificateStatus::Issued | CertificateStatus::PendingValidation)
    )
}

/// The certificate of `host` that carries the stack's `tags` and `panka:host`, issued or
/// pending (ListCertificates, then ListTagsForCertificate on those of the host's name): one a
/// request whose answer was lost made.
pub(crate) async fn find_certificate(
    acm: &aws_sdk_acm::Client,
    host: &str,
    tags: &BTreeMap<String, String>,
) -> Result<Option<String>, ProviderError> {
    let mut next = None;
    loop {
        let page = acm
            .list_certificates()
            .certificate_statuses(CertificateStatus::Issued)
            .certificate_statuses(CertificateStatus::PendingValidation)
            .set_next_token(next)
            .send()
            .await
            .map_err(|e| aws_error("listing ACM certificates", e))?;
        for c in page.certificate_summary_list() {
            let (Some(arn), Some(name)) = (c.certificate_arn(), c.domain_name()) else {
                continue;
            };
            if dns(name) != host {
                continue;
            }
            let listed = acm
                .list_tags_for_certificate()
                .certificate_arn(arn)
                .send()
                .await
                .map_err(|e| aws_error(format!("reading the tags of certificate {arn}"), e))?;
            let theirs: BTreeMap<&str, &str> = listed
                .tags()
                .iter()
                .filter_map(|t| Some((t.key(), t.value()?)))
                .collect();
            let ours = tags
                .iter()
                .all(|(k, v)| theirs.get(k.as_str()) == Some(&v.as_str()))
                && theirs.get("panka:host") == Some(&host);
            if ours {
                return Ok(Some(arn.to_string()));
            }
        }
        next = page.next_token().map(str::to_string);
        if next.is_none() {
            return Ok(None);
        }
    }
}

/// The certificate of `host`: the recorded one while it is issued or pending, else one found by
/// its tags, else a new DNS-validated one (RequestCertificate with the stack's tags and
/// `panka:host`). Its validation record is UPSERTed in the zone and the certificate waited for
/// until issued.
///
/// # Errors
/// The certificate failing validation (with ACM's reason), or not issued within
/// [`ISSUED_TIMEOUT`].
pub(crate) async fn ensure_certificate(
    clients: &DomainClients,
    zone_id: &str,
    lb: &str,
    host: &str,
    tags: &BTreeMap<String, String>,
    recorded: Option<&str>,
) -> Result<String, ProviderError> {
    ensure_certificate_for(clients, zone_id, lb, &[host.to_string()], tags, recorded).await
}

/// The names a certificate covers: its domain name and its subject alternative names.
fn names_of(c: &aws_sdk_acm::types::CertificateDetail) -> BTreeSet<String> {
    c.subject_alternative_names()
        .iter()
        .map(|n| dns(n))
        .chain(c.domain_name().map(dns))
        .collect()
}

/// Whether the certificate `arn` is usable (issued or pending) and covers exactly `names`.
async fn usable_for(
    acm: &aws_sdk_acm::Client,
    arn: &str,
    names: &BTreeSet<String>,
) -> Result<bool, ProviderError> {
    Ok(describe_certificate(acm, arn)
        .await?
        .is_some_and(|c| usable(c.status()) && names_of(&c) == *names))
}

/// [`ensure_certificate`] for a certificate covering `names` (lowercase, not empty): the first
/// is its domain name and its `panka:host` tag, the others its subject alternative names. A
/// recorded or found certificate serves only when it covers exactly these names; each name's
/// validation record is UPSERTed in the zone. `scope` names the owner (the load balancer or
/// the distribution's component) in the request's idempotency token.
///
/// # Errors
/// As [`ensure_certificate`]; [`ErrorKind::Invalid`] for no names.
pub(crate) async fn ensure_certificate_for(
    clients: &DomainClients,
    zone_id: &str,
    scope: &str,
    names: &[String],
    tags: &BTreeMap<String, String>,
    recorded: Option<&str>,
) -> Result<String, ProviderError> {
    let Some(host) = names.first().map(String::as_str) else {
        return Err(ProviderError::new(
            ErrorKind::Invalid,
            "a certificate needs at least one name",
        ));
    };
    let wanted: BTreeSet<String> = names.iter().map(|n| dns(n)).collect();
    let acm = &clients.acm;
    let mut arn = None;
    if let Some(r) = recorded
        && usable_for(acm, r, &wanted).await?
    {
        arn = Some(r.to_string());
    }
    if arn.is_none()
        && let Some(found) = find_certificate(acm, host, tags).await?
        && usable_for(acm, &found, &wanted).await?
    {
        arn = Some(found);
    }
    let arn = match arn {
        Some(a) => a,
        None => {
            let mut acm_tags = Vec::new();
            for (k, v) in tags
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .chain([("panka:host", host)])
            {
                acm_tags.push(built(
                    aws_sdk_acm::types::Tag::builder().key(k).value(v).build(),
                    "a certificate tag",
                )?);
            }
            let alternatives: Vec<String> = names[1..].to_vec();
            acm.request_certificate()
                .domain_name(host)
                .set_subject_alternative_names((!alternatives.is_empty()).then_some(alternatives))
                .validation_method(ValidationMethod::Dns)
                .idempotency_token(idempotency_token(scope, &names.join(",")))
                .set_tags(Some(acm_tags))
                .send()
                .await
                .map_err(|e| aws_error(format!("requesting a certificate for {host}"), e))?
                .certificate_arn()
                .map(str::to_string)
                .ok_or_else(|| {
                    ProviderError::new(
                        ErrorKind::Invalid,
                        format!("ACM returned no certificate ARN for {host}"),
                    )
                })?
        }
    };
    for record in wait_validation_records(acm, &arn, host).await? {
        upsert_validation_record(&clients.route53, zone_id, &record).await?;
    }
    wait_certificate_issued(acm, &arn, host).await?;
    Ok(arn)
}

/// The DNS validation record of a certificate: name and value of the CNAME.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ValidationRecord {
    pub name: String,
    pub value: String,
}

/// The certificate's validation records, one per name (names sharing one are listed once),
/// once ACM has assigned them all (they are absent from DescribeCertificate for a few seconds
/// after RequestCertificate).
async fn wait_validation_records(
    acm: &aws_sdk_acm::Client,
    arn: &str,
    host: &str,
) -> Result<Vec<ValidationRecord>, ProviderError> {
    let deadline = tokio::time::Instant::now() + VALIDATION_RECORD_TIMEOUT;
    loop {
        if let Some(r) = validation_records_of(acm, arn).await? {
            return Ok(r);
        }
        if tokio::time::Instant::now() > deadline {
            return Err(ProviderError::new(
                ErrorKind::Timeout,
                format!(
                    "waiting for ACM to give the DNS validation record of the certificate for {host}"
                ),
            ));
        }
        tokio::time::sleep(VALIDATION_RECORD_POLL).await;
    }
}

/// The validation records DescribeCertificate reports for the certificate, without repeats;
/// `None` while some name has none yet.
async fn validation_records_of(
    acm: &aws_sdk_acm::Client,
    arn: &str,
) -> Result<Option<Vec<ValidationRecord>>, ProviderError> {
    let Some(c) = describe_certificate(acm, arn).await? else {
        return Err(ProviderError::new(
            ErrorKind::Transient(Transient::NotYetVisible),
            format!("certificate {arn} is not visible yet"),
        ));
    };
    let options = c.domain_validation_options();
    if options.is_empty() {
        return Ok(None);
    }
    let mut records = Vec::new();
    for o in options {
        let Some(r) = o.resource_record() else {
            return Ok(None);
        };
        let record = ValidationRecord {
            name: r.name().to_string(),
            value: r.value().to_string(),
        };
        if !records.contains(&record) {
            records.push(record);
        }
    }
    Ok(Some(records))
}

/// Writes the validation CNAME in the zone (UPSERT: the same record for the same domain, so
/// writing it again is harmless).
/// https://docs.aws.amazon.com/acm/latest/userguide/dns-validation.html
async fn upsert_validation_record(
    route53: &aws_sdk_route53::Client,
    zone_id: &str,
    r: &ValidationRecord,
) -> Result<(), ProviderError> {
    let set = built(
        ResourceRecordSet::builder()
            .name(&r.name)
            .r#type(RrType::Cname)
            .ttl(VALIDATION_TTL)
            .resource_records(built(
                ResourceRecord::builder().value(&r.value).build(),
                "the validation record's value",
            )?)
            .build(),
        "the validation record",
    )?;
    change(route53, zone_id, ChangeAction::Upsert, set, &r.name).await
}

async fn change(
    route53: &aws_sdk_route53::Client,
    zone_id: &str,
    action: ChangeAction,
    set: ResourceRecordSet,
    what: &str,
) -> Result<(), ProviderError> {
    let verb = match action {
        ChangeAction::Delete => "deleting",
        _ => "writing",
    };
    let batch = built(
        ChangeBatch::builder()
            .changes(built(
                Change::builder()
                    .action(action)
                    .resource_record_set(set)
                    .build(),
                "a record change",
            )?)
            .build(),
        "a record change batch",
    )?;
    route53
        .change_resource_record_sets()
        .hosted_zone_id(zone_id)
        .change_batch(batch)
        .send()
        .await
        .map_err(|e| aws_error(format!("{verb} the DNS record {what}"), e))?;
    Ok(())
}

/// Waits until the certificate is `ISSUED`: pending while `PENDING_VALIDATION`; any other
/// status fails, `FAILED` with ACM's failure reason and `REVOKED` with the revocation reason
/// (terraform-provider-aws internal/service/acm/certificate_validation.go,
/// `waitCertificateIssued`).
pub(crate) async fn wait_certificate_issued(
    acm: &aws_sdk_acm::Client,
    arn: &str,
    host: &str,
) -> Result<(), ProviderError> {
    let deadline = tokio::time::Instant::now() + ISSUED_TIMEOUT;
    loop {
        let Some(c) = describe_certificate(acm, arn).await? else {
            return Err(ProviderError::new(
                ErrorKind::NotFound,
                format!(
                    "certificate {arn} for {host} disappeared while waiting for it to be issued"
                ),
            ));
        };
        match c.status() {
            Some(CertificateStatus::Issued) => return Ok(()),
            Some(CertificateStatus::PendingValidation) => {}
            other => {
                let reason = match other {
                    Some(CertificateStatus::Failed) => c
                        .failure_reason()
                        .map(|r| format!(": {}", r.as_str()))
                        .unwrap_or_default(),
                    Some(CertificateStatus::Revoked) => c
                        .revocation_reason()
                        .map(|r| format!(": {}", r.as_str()))
                        .unwrap_or_default(),
                    _ => String::new(),
                };
                return Err(ProviderError::new(
                    ErrorKind::Invalid,
                    format!(
                        "the certificate for {host} ({arn}) is {}{reason}",
                        other.map(|s| s.as_str()).unwrap_or("of no status")
                    ),
                ));
            }
        }
        if tokio::time::Instant::now() > deadline {
            return Err(ProviderError::new(
                ErrorKind::Timeout,
                format!(
                    "waiting for the certificate for {host} to be issued: still pending validation after {} minutes; is the zone's delegation in place?",
                    ISSUED_TIMEOUT.as_secs() / 60
                ),
            ));
        }
        tokio::time::sleep(ISSUED_POLL).await;
    }
}

/// The record types of a host's alias: A, and AAAA when the load balancer is dualstack.
pub(crate) fn alias_types(dualstack: bool) -> Vec<RrType> {
    if dualstack {
        vec![RrType::A, RrType::Aaaa]
    } else {
        vec![RrType::A]
    }
}

fn alias_set(
    host: &str,
    kind: RrType,
    lb_dns: &str,
    lb_zone: &str,
) -> Result<ResourceRecordSet, ProviderError> {
    built(
        ResourceRecordSet::builder()
            .name(host)
            .r#type(kind)
            .alias_target(built(
                AliasTarget::builder()
                    .hosted_zone_id(lb_zone)
                    .dns_name(lb_dns)
                    .evaluate_target_health(false)
                    .build(),
                "an alias target",
            )?)
            .build(),
        "an alias record",
    )
}

/// UPSERTs the alias records of `host` to the load balancer (DNS name and canonical hosted
/// zone): https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/routing-to-elb-load-balancer.html
pub(crate) async fn upsert_alias(
    route53: &aws_sdk_route53::Client,
    zone_id: &str,
    host: &str,
    types: &[RrType],
    lb_dns: &str,
    lb_zone: &str,
) -> Result<(), ProviderError> {
    for kind in types {
        let set = alias_set(host, kind.clone(), lb_dns, lb_zone)?;
        change(route53, zone_id, ChangeAction::Upsert, set, host).await?;
    }
    Ok(())
}

/// The record of `host` of type `kind` in the zone, if there is one (ListResourceRecordSets
/// from that name and type, one item).
async fn find_record(
    route53: &aws_sdk_route53::Client,
    zone_id: &str,
    host: &str,
    kind: RrType,
) -> Result<Option<ResourceRecordSet>, ProviderError> {
    let listed = unless_missing(
        route53
            .list_resource_record_sets()
            .hosted_zone_id(zone_id)
            .start_record_name(host)
            .start_record_type(kind.clone())
            .max_items(1)
            .send()
            .await,
        |e| e.is_no_such_hosted_zone(),
        format!("reading the records of {host}"),
    )?;
    Ok(listed.and_then(|l| {
        l.resource_record_sets()
            .iter()
            .find(|r| dns(r.name()) == host && *r.r#type() == kind)
            .cloned()
    }))
}

/// Whether `host` has an alias record of type `kind` to the load balancer named by `lb_dns`.
pub(crate) async fn alias_points_at(
    route53: &aws_sdk_route53::Client,
    zone_id: &str,
    host: &str,
    kind: RrType,
    lb_dns: &str,
) -> Result<bool, ProviderError> {
    Ok(find_record(route53, zone_id, host, kind)
        .await?
        .and_then(|r| r.alias_target().map(|a| dns(a.dns_name())))
        .is_some_and(|d| d == dns(lb_dns) || d == format!("dualstack.{}", dns(lb_dns))))
}

/// Deletes the alias records of `host` that point at the load balancer `lb_dns`; a record
/// pointing elsewhere is somebody else's and stays.
pub(crate) async fn delete_alias(
    route53: &aws_sdk_route53::Client,
    zone_id: &str,
    host: &str,
    lb_dns: &str,
) -> Result<(), ProviderError> {
    for kind in [RrType::A, RrType::Aaaa] {
        let Some(set) = find_record(route53, zone_id, host, kind).await? else {
            continue;
        };
        let ours = set
            .alias_target()
            .map(|a| dns(a.dns_name()))
            .is_some_and(|d| d == dns(lb_dns) || d == format!("dualstack.{}", dns(lb_dns)));
        if ours {
            delete_record(route53, zone_id, set, host).await?;
        }
    }
    Ok(())
}

/// Deletes a record set as listed (a DELETE must repeat it exactly); one gone meanwhile is
/// fine (`InvalidChangeBatch` naming it not found).
async fn delete_record(
    route53: &aws_sdk_route53::Client,
    zone_id: &str,
    set: ResourceRecordSet,
    what: &str,
) -> Result<(), ProviderError> {
    match change(route53, zone_id, ChangeAction::Delete, set, what).await {
        Err(e) if e.message.contains("not found") => Ok(()),
        other => other,
    }
}

/// Deletes a host's certificate that no listener serves any more, and its validation record.
/// ELB lets go of a certificate a moment after RemoveListenerCertificates: ACM answers
/// `ResourceInUseException` until then, retried by the engine as a dependency not ready
/// (terraform-provider-aws internal/service/acm/certificate.go retries its delete on it too).
/// A certificate already gone is fine.
pub(crate) async fn delete_certificate(
    clients: &DomainClients,
    zone_id: Option<&str>,
    arn: &str,
) -> Result<(), ProviderError> {
    let records = match describe_certificate(&clients.acm, arn).await? {
        Some(_) => validation_records_of(&clients.acm, arn)
            .await?
            .unwrap_or_default(),
        None => return Ok(()),
    };
    match clients
        .acm
        .delete_certificate()
        .certificate_arn(arn)
        .send()
        .await
    {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) =>
        {
            return Err(ProviderError::with_source(
                ErrorKind::Transient(Transient::DependencyNotReady),
                format!("certificate {arn} is still in use"),
                e,
            ));
        }
        Err(e) => return Err(aws_error(format!("deleting certificate {arn}"), e)),
    }
    let Some(zone_id) = zone_id else {
        return Ok(());
    };
    for r in records {
        if let Some(set) =
            find_record(&clients.route53, zone_id, &dns(&r.name), RrType::Cname).await?
        {
            delete_record(&clients.route53, zone_id, set, &r.name).await?;
        }
    }
    Ok(())
}

/// The certificates served by the load balancer's HTTPS listeners besides their defaults
/// (DescribeListenerCertificates), by listener ARN.
pub(crate) async fn listener_certificates(
    elb: &aws_sdk_elasticloadbalancingv2::Client,
    listeners: &[Listener],
) -> Result<BTreeMap<String, BTreeSet<String>>, ProviderError> {
    let mut out = BTreeMap::new();
    for l in listeners
        .iter()
        .filter(|l| l.protocol() == Some(&ProtocolEnum::Https))
    {
        let Some(arn) = l.listener_arn() else {
            continue;
        };
        let mut all = BTreeSet::new();
        let mut marker = None;
        loop {
            let page = elb
                .describe_listener_certificates()
                .listener_arn(arn)
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| aws_error(format!("reading the certificates of listener {arn}"), e))?;
            all.extend(
                page.certificates()
                    .iter()
                    .filter(|c| c.is_default() != Some(true))
                    .filter_map(|c| c.certificate_arn())
                    .map(str::to_string),
            );
            marker = page.next_marker().map(str::to_string);
            if marker.is_none() {
                break;
            }
        }
        out.insert(arn.to_string(), all);
    }
    Ok(out)
}

/// Brings each HTTPS listener's extra certificates to `wanted` (less its default): adds the
/// missing ones, and removes those among `ours` (the domain's, recorded) no longer wanted;
/// certificates somebody else attached stay.
pub(crate) async fn converge_listener_certificates(
    elb: &aws_sdk_elasticloadbalancingv2::Client,
    listeners: &[Listener],
    wanted: &BTreeSet<String>,
    ours: &BTreeSet<String>,
) -> Result<(), ProviderError> {
    let current = listener_certificates(elb, listeners).await?;
    for l in listeners
        .iter()
        .filter(|l| l.protocol() == Some(&ProtocolEnum::Https))
    {
        let Some(arn) = l.listener_arn() else {
            continue;
        };
        let default: BTreeSet<&str> = l
            .certificates()
            .iter()
            .filter_map(|c| c.certificate_arn())
            .collect();
        let has = current.get(arn).cloned().unwrap_or_default();
        let add: Vec<Certificate> = wanted
            .iter()
            .filter(|c| !has.contains(*c) && !default.contains(c.as_str()))
            .map(|c| Certificate::builder().certificate_arn(c).build())
            .collect();
        if !add.is_empty() {
            elb.add_listener_certificates()
                .listener_arn(arn)
                .set_certificates(Some(add))
                .send()
                .await
                .map_err(|e| aws_error(format!("adding certificates to listener {arn}"), e))?;
        }
        let remove: Vec<Certificate> = has
            .iter()
            .filter(|c| ours.contains(*c) && !wanted.contains(*c))
            .map(|c| Certificate::builder().certificate_arn(c).build())
            .collect();
        if !remove.is_empty() {
            unless_gone(
                elb.remove_listener_certificates()
                    .listener_arn(arn)
                    .set_certificates(Some(remove))
                    .send()
                    .await,
                |e| e.is_listener_not_found_exception(),
                format!("removing certificates from listener {arn}"),
            )?;
        }
    }
    Ok(())
}

/// The ids of a domain: the zone, and per host its certificate and record types.
pub(crate) fn domain_ids(
    zone_id: &str,
    certificates: &BTreeMap<String, String>,
    types: &[RrType],
) -> BTreeMap<String, String> {
    let mut ids = BTreeMap::new();
    ids.insert(ZONE.to_string(), zone_id.to_string());
    let types = types
        .iter()
        .map(|t| t.as_str())
        .collect::<Vec<_>>()
        .join(",");
    for (host, arn) in certificates {
        ids.insert(certificate_key(host), arn.clone());
        ids.insert(record_key(host), types.clone());
    }
    ids
}

#[cfg(test)]
#[path = "domain_tests.rs"]
mod tests;
