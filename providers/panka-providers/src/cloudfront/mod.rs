//! CloudFront distributions in front of components of the stack or external origins.
//!
//! Origins: an S3 component is reached through an origin access control (`NAME`, SigV4), and
//! its bucket policy gets a statement letting this distribution read objects; an APIGateway or
//! MicroService component through its `url` (HTTPS or HTTP as the URL says, the URL's path as
//! origin path); an ALB/NLB component through its `dnsName` (HTTP); an external `domainName`
//! over HTTPS. Behaviours use managed cache policies by name (`CachingOptimized`,
//! `CachingOptimizedForUncompressedObjects`, `CachingDisabled`, `Amplify`) or any policy id.
//!
//! The distribution is found again by its comment `panka: NAME` and taken as this component's
//! only when its panka tags say so (CreateDistributionWithTags sets them); its caller reference
//! is its name, so a create repeated after its answer was lost returns the same distribution
//! (or `DistributionAlreadyExists`, after which it is found by comment and tags) and never
//! makes a second one. Origin access controls take no tags: one of the name is this
//! component's when its description is `panka: NAME`. Every change waits until CloudFront has
//! deployed it. Deleting disables it first, waits for that to deploy, then deletes it, its
//! origin access control and the statements it had in its buckets' policies. Outputs:
//! `domainName`, `distributionId`, `arn`.
//!
//! With a `domain` in its configuration (`shared.domain` serving its aliases), the
//! distribution's certificate and alias records are panka's too: see [`domain`].

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_cloudfront::Client;
use aws_sdk_cloudfront::client::Waiters;
use aws_sdk_cloudfront::error::BuildError;
use aws_sdk_cloudfront::types::{
    Aliases, AllowedMethods as CfMethods, CacheBehavior, CacheBehaviors, CachedMethods,
    CustomOriginConfig, DefaultCacheBehavior, DistributionConfig, DistributionConfigWithTags,
    HttpVersion, Method, MinimumProtocolVersion, Origin as CfOrigin, OriginAccessControlConfig,
    OriginAccessControlOriginTypes, OriginAccessControlSigningBehaviors,
    OriginAccessControlSigningProtocols, OriginProtocolPolicy, Origins, PriceClass as CfPrice,
    S3OriginConfig, SslSupportMethod, Tag, Tags, ViewerCertificate,
    ViewerProtocolPolicy as CfViewer,
};
use panka_engine::provider::Outcome;
use panka_engine::resolve::input;
use panka_engine::{
    ErrorKind, Identity, KindProvider, Observation, ProviderError, Target, Unobservable,
};
use panka_format::kinds::{
    AllowedMethods, Behavior, CloudFrontSpec, Origin, PriceClass, ViewerProtocolPolicy,
};
use panka_format::naming::shorten;
use serde_json::{Value, json};

use crate::errors::{aws_error, check_owner, unless_gone, unless_missing};
use crate::partition;
use crate::policy::{add_bucket_statement, remove_bucket_statement};

mod domain;
mod observe;

use domain::{
    CERTIFICATE, edge_domain_of, edge_ids, ensure_edge_certificate, remove_stale, write_aliases,
};
use observe::observe;

use crate::alb::domain::{DomainClients, ZONE};

/// CloudFront documents several minutes, up to about half an hour, for a change to reach every
/// edge location.
const DEPLOYED_TIMEOUT: Duration = Duration::from_secs(45 * 60);

/// CloudFront's managed cache policies, by the names its documentation gives them.
const MANAGED_CACHE_POLICIES: &[(&str, &str)] = &[
    ("CachingOptimized", "658327ea-f89d-4fab-a63d-7e88639e58f6"),
    (
        "CachingOptimizedForUncompressedObjects",
        "b2884449-e4de-46a7-ac36-70bc7f1ddd6d",
    ),
    ("CachingDisabled", "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"),
    ("Amplify", "2e54312d-136d-493c-8eb9-b001f22f67d2"),
];

/// The CloudFront provider.
#[derive(Clone, Debug)]
pub struct CloudFrontProvider {
    cf: Client,
    s3: aws_sdk_s3::Client,
    /// ACM in us-east-1 and Route 53, for a distribution whose aliases `shared.domain` serves.
    domain: Option<DomainClients>,
}

impl CloudFrontProvider {
    pub fn new(cf: Client, s3: aws_sdk_s3::Client) -> Self {
        CloudFrontProvider {
            cf,
            s3,
            domain: None,
        }
    }

    /// The provider able to serve aliases inside `shared.domain`: certificates through `acm`,
    /// which must be a client of us-east-1 (the only region CloudFront takes certificates
    /// from), validation and alias records through `route53`.
    pub fn with_domain(
        mut self,
        acm: aws_sdk_acm::Client,
        route53: aws_sdk_route53::Client,
    ) -> Self {
        self.domain = Some(DomainClients { acm, route53 });
        self
    }

    fn domain_clients(&self) -> Result<&DomainClients, ProviderError> {
        crate::alb::domain::required(&self.domain, "CloudFront")
    }
}

fn built<T>(r: Result<T, BuildError>, what: &str) -> Result<T, ProviderError> {
    r.map_err(|e| ProviderError::new(ErrorKind::Invalid, format!("{what}: {e}")))
}

fn comment(name: &str) -> String {
    format!("panka: {name}")
}

/// Origin access control names are limited to 64 characters.
fn oac_name(name: &str) -> String {
    shorten(name, 64)
}

/// A managed policy's id by name, or the id given.
fn cache_policy_id(policy: &str) -> Result<String, ProviderError> {
    if let Some((_, id)) = MANAGED_CACHE_POLICIES.iter().find(|(n, _)| *n == policy) {
        return Ok((*id).to_string());
    }
    let looks_like_id =
        policy.len() == 36 && policy.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    if looks_like_id {
        return Ok(policy.to_string());
    }
    Err(ProviderError::new(
        ErrorKind::Invalid,
        format!(
            "`{policy}` is not a managed cache policy panka knows ({}); give the policy's id",
            MANAGED_CACHE_POLICIES
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ))
}

/// Where an origin is.
#[derive(Debug, PartialEq)]
enum Place {
    /// An S3 bucket of the stack: its regional domain and its name.
    Bucket { domain: String, bucket: String },
    /// Anything answering HTTP(S).
    Custom {
        domain: String,
        path: String,
        https: bool,
    },
}

/// A component's URL as an origin: over HTTPS or not, its host, and its path (no trailing
/// slash; empty for the root).
fn split_url(url: &str) -> (bool, String, String) {
    let (https, rest) = match url.split_once("://") {
        Some(("https", rest)) => (true, rest.to_string()),
        Some((_, rest)) => (false, rest.to_string()),
        None => (true, url.to_string()),
    };
    let (domain, path) = match rest.split_once('/') {
        Some((d, p)) => (d.to_string(), format!("/{}", p.trim_end_matches('/'))),
        None => (rest, String::new()),
    };
    let path = if path == "/" { String::new() } else { path };
    (https, domain, path)
}

/// The URL of the component origin `o` reaches through its `url` output (an APIGateway or
/// MicroService), as [`place`] uses it: recorded so that a read can tell it from the origin.
fn origin_url(t: &Target<'_, CloudFrontSpec>, i: usize, o: &Origin) -> Option<String> {
    if o.domain_name.is_some() {
        return None;
    }
    let outputs = input(t.config, &format!("origins[{i}].target"))?.outputs;
    let out = |k: &str| outputs.get(k).filter(|v| !v.is_empty()).cloned();
    if out("regionalDomainName").is_some() && out("name").is_some() {
        return None;
    }
    out("url")
}

/// The physical id recording the URL an origin was placed at: `originUrl.NAME`.
fn origin_url_key(name: &str) -> String {
    format!("originUrl.{name}")
}

fn place(t: &Target<'_, CloudFrontSpec>, i: usize, o: &Origin) -> Result<Place, ProviderError> {
    let extra = o.path.clone().unwrap_or_default();
    if let Some(domain) = &o.domain_name {
        return Ok(Place::Custom {
            domain: domain.clone(),
            path: extra,
            https: true,
        });
    }
    let outputs = input(t.config, &format!("origins[{i}].target"))
        .map(|r| r.outputs)
        .unwrap_or_default();
    let out = |k: &str| outputs.get(k).filter(|v| !v.is_empty()).cloned();
    if let (Some(domain), Some(bucket)) = (out("regionalDomainName"), out("name")) {
        return Ok(Place::Bucket { domain, bucket });
    }
    if let Some(url) = out("url") {
        let (https, domain, path) = split_url(&url);
        return Ok(Place::Custom {
            domain,
            path: format!("{path}{extra}"),
            https,
        });
    }
    if let Some(domain) = out("dnsName") {
        return Ok(Place::Custom {
            domain,
            path: extra,
            https: false,
        });
    }
    Err(ProviderError::new(
        ErrorKind::Invalid,
        format!(
            "origin {}: {} has no bucket domain, URL or DNS name yet",
            o.name,
            o.target
                .as_ref()
                .map(|x| x.component.as_str())
                .unwrap_or("?")
        ),
    ))
}

fn methods(m: AllowedMethods) -> Result<CfMethods, ProviderError> {
    let items = match m {
        AllowedMethods::GetHead => vec![Method::Get, Method::Head],
        AllowedMethods::GetHeadOptions => vec![Method::Get, Method::Head, Method::Options],
        AllowedMethods::All => vec![
            Method::Get,
            Method::Head,
            Method::Options,
            Method::Put,
            Method::Patch,
            Method::Post,
            Method::Delete,
        ],
    };
    let cached = built(
        CachedMethods::builder()
            .quantity(2)
            .items(Method::Get)
            .items(Method::Head)
            .build(),
        "cached methods",
    )?;
    built(
        CfMethods::builder()
            .quantity(items.len() as i32)
            .set_items(Some(items))
            .cached_methods(cached)
            .build(),
        "allowed methods",
    )
}

fn viewer(p: ViewerProtocolPolicy) -> CfViewer {
    match p {
        ViewerProtocolPolicy::RedirectToHttps => CfViewer::RedirectToHttps,
        ViewerProtocolPolicy::HttpsOnly => CfViewer::HttpsOnly,
        ViewerProtocolPolicy::AllowAll => CfViewer::AllowAll,
    }
}

fn price(p: PriceClass) -> CfPrice {
    match p {
        PriceClass::PriceClass100 => CfPrice::PriceClass100,
        PriceClass::PriceClass200 => CfPrice::PriceClass200,
        PriceClass::PriceClassAll => CfPrice::PriceClassAll,
    }
}

fn default_behavior(b: &Behavior) -> Result<DefaultCacheBehavior, ProviderError> {
    built(
        DefaultCacheBehavior::builder()
            .target_origin_id(&b.origin)
            .viewer_protocol_policy(viewer(b.viewer_protocol_policy))
            .allowed_methods(methods(b.allowed_methods)?)
            .cache_policy_id(cache_policy_id(&b.cache_policy)?)
            .compress(b.compress)
            .build(),
        "default behaviour",
    )
}

fn behavior(b: &Behavior) -> Result<CacheBehavior, ProviderError> {
    built(
        CacheBehavior::builder()
            .path_pattern(b.path_pattern.clone().unwrap_or_default())
            .target_origin_id(&b.origin)
            .viewer_protocol_policy(viewer(b.viewer_protocol_policy))
            .allowed_methods(methods(b.allowed_methods)?)
            .cache_policy_id(cache_policy_id(&b.cache_policy)?)
            .compress(b.compress)
            .build(),
        "behaviour",
    )
}

/// The distribution's configuration; `oac` is the origin access control of bucket origins,
/// `certificate` the ACM certificate serving the aliases (the spec's, or the domain's).
fn config(
    t: &Target<'_, CloudFrontSpec>,
    places: &[(String, Place)],
    oac: Option<&str>,
    certificate: Option<&str>,
    caller_reference: &str,
) -> Result<DistributionConfig, ProviderError> {
    let s = &t.spec;
    let mut origins = Vec::new();
    for (id, p) in places {
        let origin = match p {
            Place::Bucket { domain, .. } => CfOrigin::builder()
                .id(id)
                .domain_name(domain)
                .origin_path("")
                .s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build())
                .origin_access_control_id(oac.unwrap_or_default()),
            Place::Custom {
                domain,
                path,
                https,
            } => CfOrigin::builder()
                .id(id)
                .domain_name(domain)
                .origin_path(path)
                .custom_origin_config(built(
                    CustomOriginConfig::builder()
                        .http_port(80)
                        .https_port(443)
                        .origin_protocol_policy(if *https {
                            OriginProtocolPolicy::HttpsOnly
                        } else {
                            OriginProtocolPolicy::HttpOnly
                        })
                        .build(),
                    "custom origin",
                )?),
        };
        origins.push(built(origin.build(), "origin")?);
    }
    let behaviors = s
        .behaviors
        .iter()
        .map(behavior)
        .collect::<Result<Vec<_>, _>>()?;
    let certificate = match certificate {
        Some(arn) => ViewerCertificate::builder()
            .acm_certificate_arn(arn)
            .ssl_support_method(SslSupportMethod::SniOnly)
            .minimum_protocol_version(MinimumProtocolVersion::TlSv122021)
            .build(),
        None => ViewerCertificate::builder()
            .cloud_front_default_certificate(true)
            .build(),
    };
    built(
        DistributionConfig::builder()
            .caller_reference(caller_reference)
            .comment(comment(t.name))
            .enabled(s.enabled)
            .origins(built(
                Origins::builder()
                    .quantity(origins.len() as i32)
                    .set_items(Some(origins))
                    .build(),
                "origins",
            )?)
            .default_cache_behavior(default_behavior(&s.default_behavior)?)
            .cache_behaviors(built(
                CacheBehaviors::builder()
                    .quantity(behaviors.len() as i32)
                    .set_items((!behaviors.is_empty()).then_some(behaviors))
                    .build(),
                "behaviours",
            )?)
            .aliases(built(
                Aliases::builder()
                    .quantity(s.aliases.len() as i32)
                    .set_items((!s.aliases.is_empty()).then(|| s.aliases.clone()))
                    .build(),
                "aliases",
            )?)
            .viewer_certificate(certificate)
            .price_class(price(s.price_class))
            .default_root_object(s.default_root_object.clone().unwrap_or_default())
            .web_acl_id(s.web_acl_arn.clone().unwrap_or_default())
            .http_version(HttpVersion::Http2and3)
            .is_ipv6_enabled(true)
            .build(),
        "distribution",
    )
}

/// The id of the statement letting distribution `distribution` (its ARN or id) read a bucket.
fn bucket_statement_id(distribution: &str) -> String {
    let id = distribution.rsplit('/').next().unwrap_or(distribution);
    format!("panka-cloudfront-{id}")
}

/// The statement letting `distribution` read the objects of `bucket` (CloudFront developer
/// guide, "Restricting access to an Amazon S3 origin": the service principal, conditioned on
/// the distribution's ARN).
fn bucket_statement(region: &str, bucket: &str, distribution: &str) -> Value {
    json!({
        "Sid": bucket_statement_id(distribution),
        "Effect": "Allow",
        "Principal": {"Service": partition::service_principal("cloudfront", region)},
        "Action": "s3:GetObject",
        "Resource": partition::arn(region, "s3", "", "", &format!("{bucket}/*")),
        "Condition": {"StringEquals": {"AWS:SourceArn": distribution}},
    })
}

/// The bucket an S3 origin's domain names (`BUCKET.s3.REGION.amazonaws.com`,
/// `BUCKET.s3.amazonaws.com`); `None` for another origin.
fn bucket_of_origin(o: &CfOrigin) -> Option<&str> {
    o.s3_origin_config()?;
    o.domain_name().split_once(".s3.").map(|(bucket, _)| bucket)
}

struct Found {
    id: String,
    arn: String,
    domain: String,
    status: String,
}

impl CloudFrontProvider {
    /// The distribution of this component: by recorded id, or else by its comment — then, given
    /// the component's `owner` (address and tags), only when its panka tags are the component's.
    ///
    /// # Errors
    /// [`ErrorKind::NotOwned`] for a distribution with this component's comment and other tags.
    async fn find_distribution(
        &self,
        name: &str,
        owner: Option<(&str, &BTreeMap<String, String>)>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Option<Found>, ProviderError> {
        let recorded = ids.get("distribution").cloned();
        let id = match &recorded {
            Some(id) => Some(id.clone()),
            None => self.distribution_by_comment(name).await?,
        };
        let Some(id) = id else { return Ok(None) };
        let found = unless_missing(
            self.cf.get_distribution().id(&id).send().await,
            |s| s.is_no_such_distribution(),
            format!("reading distribution {id}"),
        )?
        .and_then(|r| {
            r.distribution().map(|d| Found {
                id: d.id().to_string(),
                arn: d.arn().to_string(),
                domain: d.domain_name().to_string(),
                status: d.status().to_string(),
            })
        });
        if let (Some(d), Some((address, tags)), None) = (&found, owner, &recorded) {
            let listed = self
                .cf
                .list_tags_for_resource()
                .resource(&d.arn)
                .send()
                .await
                .map_err(|e| aws_error(format!("reading the tags of distribution {id}"), e))?;
            let items = listed.tags().map(|t| t.items()).unwrap_or_default();
            check_owner(
                &format!("CloudFront distribution {id} (comment `{}`)", comment(name)),
                address,
                items
                    .iter()
                    .map(|t| (t.key(), t.value().unwrap_or_default())),
                tags,
            )?;
        }
        Ok(found)
    }

    /// The id of the distribution whose comment is `panka: NAME`.
    async fn distribution_by_comment(&self, name: &str) -> Result<Option<String>, ProviderError> {
        let mut marker = None;
        loop {
            let page = self
                .cf
                .list_distributions()
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| aws_error("listing CloudFront distributions", e))?;
            let list = page.distribution_list();
            if let Some(d) = list
                .map(|l| l.items())
                .unwrap_or_default()
                .iter()
                .find(|d| d.comment() == comment(name))
            {
                return Ok(Some(d.id().to_string()));
            }
            marker = list.and_then(|l| l.next_marker()).map(str::to_string);
            if marker.is_none() {
                return Ok(None);
            }
        }
    }

    async fn wait_deployed(&self, id: &str) -> Result<(), ProviderError> {
        self.cf
            .wait_until_distribution_deployed()
            .id(id)
            .wait(DEPLOYED_TIMEOUT)
            .await
            .map(|_| ())
            .map_err(|e| {
                ProviderError::with_source(
                    ErrorKind::Timeout,
                    format!("waiting for CloudFront to deploy distribution {id}"),
                    e,
                )
            })
    }

    /// The origin access control for bucket origins, found by name or created.
    async fn ensure_oac(&self, name: &str) -> Result<String, ProviderError> {
        if let Some(id) = self.find_oac(name).await? {
            return Ok(id);
        }
        let created = self
            .cf
            .create_origin_access_control()
            .origin_access_control_config(built(
                OriginAccessControlConfig::builder()
                    .name(oac_name(name))
                    .description(comment(name))
                    .signing_protocol(OriginAccessControlSigningProtocols::Sigv4)
                    .signing_behavior(OriginAccessControlSigningBehaviors::Always)
                    .origin_access_control_origin_type(OriginAccessControlOriginTypes::S3)
                    .build(),
                "origin access control",
            )?)
            .send()
            .await;
        match created {
            Ok(c) => c
                .origin_access_control()
                .map(|o| o.id().to_string())
                .ok_or_else(|| {
                    ProviderError::new(
                        ErrorKind::Invalid,
                        format!("CloudFront returned no origin access control for {name}"),
                    )
                }),
            // Made by this call's earlier attempt (its answer lost), or in between.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_origin_access_control_already_exists()) =>
            {
                self.find_oac(name).await?.ok_or_else(|| {
                    ProviderError::with_source(
                        ErrorKind::Transient(panka_engine::Transient::NotYetVisible),
                        format!("origin access control {name} exists but is not listed yet"),
                        e,
                    )
                })
            }
            Err(e) => Err(aws_error(
                format!("creating origin access control {name}"),
                e,
            )),
        }
    }

    /// The origin access control of this component's name; one of the name that panka did not
    /// describe as this component's is not taken over.
    ///
    /// # Errors
    /// [`ErrorKind::NotOwned`] for an origin access control of the name described otherwise.
    async fn find_oac(&self, name: &str) -> Result<Option<String>, ProviderError> {
        let wanted = oac_name(name);
        let mut marker = None;
        loop {
            let page = self
                .cf
                .list_origin_access_controls()
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| aws_error("listing origin access controls", e))?;
            let list = page.origin_access_control_list();
            if let Some(o) = list
                .map(|l| l.items())
                .unwrap_or_default()
                .iter()
                .find(|o| o.name() == wanted)
            {
                if o.description() != comment(name) {
                    return Err(ProviderError::new(
                        ErrorKind::NotOwned,
                        format!(
                            "origin access control {wanted} already exists and is not described `{}` (it says `{}`); panka does not take over a resource it did not create: delete or rename it",
                            comment(name),
                            o.description()
                        ),
                    ));
                }
                return Ok(Some(o.id().to_string()));
            }
            marker = list.and_then(|l| l.next_marker()).map(str::to_string);
            if marker.is_none() {
                return Ok(None);
            }
        }
    }

    /// Creates the distribution with the component's tags; a distribution of its caller
    /// reference that exists already is found by comment and tags instead. `true`: created now
    /// (with the spec's configuration).
    async fn create_distribution(
        &self,
        t: &Target<'_, CloudFrontSpec>,
        places: &[(String, Place)],
        oac: Option<&str>,
        certificate: Option<&str>,
    ) -> Result<(Found, bool), ProviderError> {
        let tags: Vec<Tag> = t
            .tags
            .iter()
            .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
            .collect();
        let created = self
            .cf
            .create_distribution_with_tags()
            .distribution_config_with_tags(
                DistributionConfigWithTags::builder()
                    .distribution_config(config(t, places, oac, certificate, t.name)?)
                    .tags(Tags::builder().set_items(Some(tags)).build())
                    .build(),
            )
            .send()
            .await;
        let created = match created {
            Ok(c) => c,
            // "The caller reference you attempted to create the distribution with is associated
            // with another distribution" (CreateDistribution API reference: the same caller
            // reference with a different configuration): a create that took effect before.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_distribution_already_exists()) =>
            {
                let found = self
                    .find_distribution(t.name, Some((t.address, t.tags)), &BTreeMap::new())
                    .await?;
                return found.map(|d| (d, false)).ok_or_else(|| {
                    ProviderError::with_source(
                        ErrorKind::Conflict,
                        format!(
                            "a distribution with caller reference {} exists but none has the comment `{}`",
                            t.name,
                            comment(t.name)
                        ),
                        e,
                    )
                });
            }
            Err(e) => return Err(aws_error(format!("creating distribution {}", t.name), e)),
        };
        let d = created.distribution().ok_or_else(|| {
            ProviderError::new(
                ErrorKind::Invalid,
                format!("CloudFront returned no distribution for {}", t.name),
            )
        })?;
        let found = Found {
            id: d.id().to_string(),
            arn: d.arn().to_string(),
            domain: d.domain_name().to_string(),
            status: d.status().to_string(),
        };
        Ok((found, true))
    }

    async fn update_distribution(
        &self,
        t: &Target<'_, CloudFrontSpec>,
        d: &Found,
        places: &[(String, Place)],
        oac: Option<&str>,
        certificate: Option<&str>,
    ) -> Result<(), ProviderError> {
        let current = self
            .cf
            .get_distribution_config()
            .id(&d.id)
            .send()
            .await
            .map_err(|e| aws_error(format!("reading distribution {}", d.id), e))?;
        let reference = current
            .distribution_config()
            .map(|c| c.caller_reference().to_string())
            .unwrap_or_else(|| t.name.to_string());
        self.cf
            .update_distribution()
            .id(&d.id)
            .if_match(current.e_tag().unwrap_or_default())
            .distribution_config(config(t, places, oac, certificate, &reference)?)
            .send()
            .await
            .map_err(|e| aws_error(format!("updating distribution {}", d.id), e))?;
        Ok(())
    }

    async fn converge(
        &self,
        t: &Target<'_, CloudFrontSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Outcome, ProviderError> {
        let places = t
            .spec
            .origins
            .iter()
            .enumerate()
            .map(|(i, o)| Ok((o.name.clone(), place(t, i, o)?)))
            .collect::<Result<Vec<_>, ProviderError>>()?;
        let needs_oac = places
            .iter()
            .any(|(_, p)| matches!(p, Place::Bucket { .. }));
        let oac = if needs_oac {
            Some(self.ensure_oac(t.name).await?)
        } else {
            None
        };
        // The domain's certificate is issued before the distribution refers to it: CloudFront
        // refuses one that is not.
        let edge = match edge_domain_of(t.config)? {
            Some(d) => Some(
                ensure_edge_certificate(
                    self.domain_clients()?,
                    &d,
                    t.name,
                    &t.spec.aliases,
                    t.tags,
                    ids,
                )
                .await?,
            ),
            None => None,
        };
        let certificate = t
            .spec
            .certificate_arn
            .as_deref()
            .or(edge.as_ref().map(|(_, arn)| arn.as_str()));
        let found = match self
            .find_distribution(t.name, Some((t.address, t.tags)), ids)
            .await?
        {
            Some(d) => {
                self.update_distribution(t, &d, &places, oac.as_deref(), certificate)
                    .await?;
                d
            }
            None => {
                let (d, created) = self
                    .create_distribution(t, &places, oac.as_deref(), certificate)
                    .await?;
                if !created {
                    // Found again after DistributionAlreadyExists: bring it to the spec.
                    self.update_distribution(t, &d, &places, oac.as_deref(), certificate)
                        .await?;
                }
                d
            }
        };
        for (_, p) in &places {
            if let Place::Bucket { bucket, .. } = p {
                add_bucket_statement(
                    &self.s3,
                    bucket,
                    bucket_statement(t.region, bucket, &found.arn),
                )
                .await?;
            }
        }
        self.wait_deployed(&found.id).await?;
        let mut done = outcome(&found, oac.as_deref(), &origin_urls(t));
        let domain_ids = match &edge {
            Some((zone_id, arn)) => {
                write_aliases(
                    self.domain_clients()?,
                    zone_id,
                    &t.spec.aliases,
                    &found.domain,
                )
                .await?;
                edge_ids(zone_id, arn, &t.spec.aliases, &found.domain)
            }
            None => BTreeMap::new(),
        };
        // The records and certificate the distribution no longer uses, now that its new
        // configuration has deployed.
        if ids.contains_key(ZONE) {
            remove_stale(
                self.domain_clients()?,
                ids,
                &domain_ids,
                Some(&found.domain),
            )
            .await?;
        }
        done.physical_ids.extend(domain_ids);
        Ok(done)
    }
}

/// The ids and outputs of a distribution; `urls` the origins placed at a component's URL.
fn outcome(d: &Found, oac: Option<&str>, urls: &[(String, String)]) -> Outcome {
    let mut physical_ids = BTreeMap::from([("distribution".to_string(), d.id.clone())]);
    if let Some(o) = oac.filter(|o| !o.is_empty()) {
        physical_ids.insert("originAccessControl".to_string(), o.to_string());
    }
    for (name, url) in urls {
        physical_ids.insert(origin_url_key(name), url.clone());
    }
    let outputs = [
        ("domainName", &d.domain),
        ("distributionId", &d.id),
        ("arn", &d.arn),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(k, v)| (k.to_string(), v.clone()))
    .collect();
    Outcome {
        physical_ids,
        outputs,
    }
}

/// The origins of `t` placed at a component's URL, by name.
fn origin_urls(t: &Target<'_, CloudFrontSpec>) -> Vec<(String, String)> {
    t.spec
        .origins
        .iter()
        .enumerate()
        .filter_map(|(i, o)| Some((o.name.clone(), origin_url(t, i, o)?)))
        .collect()
}

impl KindProvider for CloudFrontProvider {
    type Spec = CloudFrontSpec;
    const KIND: &'static str = "CloudFront";
    const UNOBSERVABLE: &'static [Unobservable] = &[
        crate::DEPENDS_ON,
        Unobservable {
            field: "defaultBehavior.cachePolicy",
            tracked_by: "only when the behaviour has no cache policy (legacy cache settings made outside panka): the recorded value stands",
        },
        Unobservable {
            field: "behaviors[].cachePolicy",
            tracked_by: "only when a behaviour has no cache policy (legacy cache settings made outside panka): the recorded values stand",
        },
    ];

    async fn create(&self, t: &Target<'_, CloudFrontSpec>) -> Result<Outcome, ProviderError> {
        self.converge(t, &BTreeMap::new()).await
    }

    /// One GetDistribution by the recorded id: the distribution and its whole configuration.
    async fn read(
        &self,
        id: &Identity<'_>,
    ) -> Result<Option<Observation<CloudFrontSpec>>, ProviderError> {
        let Some(dist) = id.ids.get("distribution") else {
            return Err(ProviderError::new(
                ErrorKind::Invalid,
                format!("{} has no recorded distribution id", id.address),
            ));
        };
        let got = unless_missing(
            self.cf.get_distribution().id(dist).send().await,
            |s| s.is_no_such_distribution(),
            format!("reading distribution {dist}"),
        )?;
        let Some(d) = got.and_then(|r| r.distribution().cloned()) else {
            return Ok(None);
        };
        observe(&d, id.ids).map(Some)
    }

    async fn update(
        &self,
        t: &Target<'_, CloudFrontSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Outcome, ProviderError> {
        self.converge(t, ids).await
    }

    async fn delete(
        &self,
        name: &str,
        _spec: Option<CloudFrontSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        let mut target = None;
        if let Some(d) = self.find_distribution(name, None, ids).await? {
            let current = self
                .cf
                .get_distribution_config()
                .id(&d.id)
                .send()
                .await
                .map_err(|e| aws_error(format!("reading distribution {}", d.id), e))?;
            // The statements letting it read its buckets go with it (before it does, so that a
            // delete cut short finds them again).
            let origins = current
                .distribution_config()
                .and_then(|c| c.origins())
                .map(|o| o.items().to_vec())
                .unwrap_or_default();
            for bucket in origins.iter().filter_map(bucket_of_origin) {
                remove_bucket_statement(&self.s3, bucket, &bucket_statement_id(&d.id)).await?;
            }
            let mut etag = current.e_tag().unwrap_or_default().to_string();
            // CloudFront deletes only a disabled distribution whose disabling has deployed.
            if let Some(c) = current.distribution_config().filter(|c| c.enabled()) {
                let mut disabled = c.clone();
                disabled.enabled = false;
                let updated = self
                    .cf
                    .update_distribution()
                    .id(&d.id)
                    .if_match(&etag)
                    .distribution_config(disabled)
                    .send()
                    .await
                    .map_err(|e| aws_error(format!("disabling distribution {}", d.id), e))?;
                etag = updated.e_tag().unwrap_or_default().to_string();
            }
            self.wait_deployed(&d.id).await?;
            target = Some(d.domain.clone());
            let deleted = self
                .cf
                .delete_distribution()
                .id(&d.id)
                .if_match(&etag)
                .send()
                .await;
            unless_gone(
                deleted,
                |s| s.is_no_such_distribution(),
                format!("deleting distribution {}", d.id),
            )?;
        }
        let oac = match ids.get("originAccessControl") {
            Some(id) => Some(id.clone()),
            None => self.find_oac(name).await?,
        };
        if let Some(id) = oac {
            let got = unless_missing(
                self.cf.get_origin_access_control().id(&id).send().await,
                |s| s.is_no_such_origin_access_control(),
                format!("reading origin access control {id}"),
            )?;
            if let Some(got) = got {
                let deleted = self
                    .cf
                    .delete_origin_access_control()
                    .id(&id)
                    .if_match(got.e_tag().unwrap_or_default())
                    .send()
                    .await;
                match deleted {
                    Ok(_) => {}
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|s| s.is_no_such_origin_access_control()) => {}
                    // Still used by a distribution CloudFront is deleting.
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|s| s.is_origin_access_control_in_use()) =>
                    {
                        return Err(ProviderError::with_source(
                            ErrorKind::Transient(panka_engine::Transient::DependencyNotReady),
                            format!("deleting origin access control {id}"),
                            e,
                        ));
                    }
                    Err(e) => {
                        return Err(aws_error(format!("deleting origin access control {id}"), e));
                    }
                }
            }
        }
        // The domain's records and certificate, once the distribution no longer uses them.
        if ids.contains_key(ZONE) {
            remove_stale(
                self.domain_clients()?,
                ids,
                &BTreeMap::new(),
                target.as_deref(),
            )
            .await?;
        }
        Ok(())
    }

    async fn health(
        &self,
        t: &Target<'_, CloudFrontSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Option<String>, ProviderError> {
        Ok(self
            .find_distribution(t.name, Some((t.address, t.tags)), ids)
            .await?
            .map(|d| format!("{} · {}", d.status, d.domain)))
    }

    async fn find(&self, t: &Target<'_, CloudFrontSpec>) -> Result<Option<Outcome>, ProviderError> {
        let oac = self.find_oac(t.name).await?;
        Ok(self
            .find_distribution(t.name, Some((t.address, t.tags)), &BTreeMap::new())
            .await?
            .map(|d| outcome(&d, oac.as_deref(), &origin_urls(t))))
    }
}

#[cfg(test)]
mod tests;
