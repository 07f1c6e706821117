//! CloudFront distributions in front of components of the stack or external origins.
//!
//! Origins: an S3 component is reached through an origin access control (`NAME`, SigV4), and
//! its bucket policy gets a statement letting this distribution read objects; an APIGateway or
//! MicroService component through its `url` (HTTPS or HTTP as the URL says, the URL's path as
//! origin path); an ALB/NLB component through its `dnsName` (HTTP); an external `domainName`
//! over HTTPS. Behaviours use managed cache policies by name (`CachingOptimized`,
//! `CachingOptimizedForUncompressedObjects`, `CachingDisabled`, `Amplify`) or any policy id.
//!
//! The distribution is found again by its comment `panka: NAME`, its caller reference is its
//! name, and every change waits until CloudFront has deployed it. Deleting disables it first,
//! waits for that to deploy, then deletes it and its origin access control. Outputs:
//! `domainName`, `distributionId`, `arn`.

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
use panka_engine::{ErrorKind, KindProvider, Observed, ProviderError, Target};
use panka_format::kinds::{
    AllowedMethods, Behavior, CloudFrontSpec, Origin, PriceClass, ViewerProtocolPolicy,
};
use panka_format::naming::shorten;
use serde_json::{Value, json};

use crate::errors::{aws_error, unless_gone, unless_missing};
use crate::policy::add_bucket_statement;

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
}

impl CloudFrontProvider {
    pub fn new(cf: Client, s3: aws_sdk_s3::Client) -> Self {
        CloudFrontProvider { cf, s3 }
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
        let (https, rest) = match url.split_once("://") {
            Some(("https", rest)) => (true, rest.to_string()),
            Some((_, rest)) => (false, rest.to_string()),
            None => (true, url.clone()),
        };
        let (domain, path) = match rest.split_once('/') {
            Some((d, p)) => (d.to_string(), format!("/{}", p.trim_end_matches('/'))),
            None => (rest, String::new()),
        };
        let path = format!("{}{extra}", if path == "/" { "" } else { &path });
        return Ok(Place::Custom {
            domain,
            path,
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

/// The distribution's configuration; `oac` is the origin access control of bucket origins.
fn config(
    t: &Target<'_, CloudFrontSpec>,
    places: &[(String, Place)],
    oac: Option<&str>,
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
    let certificate = match &s.certificate_arn {
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

/// The statement letting `distribution` read the objects of `bucket`.
fn bucket_statement(bucket: &str, distribution: &str) -> Value {
    let id = distribution.rsplit('/').next().unwrap_or(distribution);
    json!({
        "Sid": format!("panka-cloudfront-{id}"),
        "Effect": "Allow",
        "Principal": {"Service": "cloudfront.amazonaws.com"},
        "Action": "s3:GetObject",
        "Resource": format!("arn:aws:s3:::{bucket}/*"),
        "Condition": {"StringEquals": {"AWS:SourceArn": distribution}},
    })
}

struct Found {
    id: String,
    arn: String,
    domain: String,
    status: String,
}

impl CloudFrontProvider {
    /// The distribution of this component, by recorded id or else by its comment.
    async fn find_distribution(
        &self,
        name: &str,
        ids: &BTreeMap<String, String>,
    ) -> Result<Option<Found>, ProviderError> {
        let id = match ids.get("distribution") {
            Some(id) => Some(id.clone()),
            None => {
                let mut marker = None;
                let mut found = None;
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
                        found = Some(d.id().to_string());
                        break;
                    }
                    marker = list.and_then(|l| l.next_marker()).map(str::to_string);
                    if marker.is_none() {
                        break;
                    }
                }
                found
            }
        };
        let Some(id) = id else { return Ok(None) };
        Ok(unless_missing(
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
        }))
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
                    .description(format!("panka: {name}"))
                    .signing_protocol(OriginAccessControlSigningProtocols::Sigv4)
                    .signing_behavior(OriginAccessControlSigningBehaviors::Always)
                    .origin_access_control_origin_type(OriginAccessControlOriginTypes::S3)
                    .build(),
                "origin access control",
            )?)
            .send()
            .await
            .map_err(|e| aws_error(format!("creating origin access control {name}"), e))?;
        Ok(created
            .origin_access_control()
            .map(|o| o.id().to_string())
            .unwrap_or_default())
    }

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
                return Ok(Some(o.id().to_string()));
            }
            marker = list.and_then(|l| l.next_marker()).map(str::to_string);
            if marker.is_none() {
                return Ok(None);
            }
        }
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
        let found = match self.find_distribution(t.name, ids).await? {
            Some(d) => {
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
                    .distribution_config(config(t, &places, oac.as_deref(), &reference)?)
                    .send()
                    .await
                    .map_err(|e| aws_error(format!("updating distribution {}", d.id), e))?;
                d
            }
            None => {
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
                            .distribution_config(config(t, &places, oac.as_deref(), t.name)?)
                            .tags(Tags::builder().set_items(Some(tags)).build())
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|e| aws_error(format!("creating distribution {}", t.name), e))?;
                let d = created.distribution().ok_or_else(|| {
                    ProviderError::new(
                        ErrorKind::Invalid,
                        format!("CloudFront returned no distribution for {}", t.name),
                    )
                })?;
                Found {
                    id: d.id().to_string(),
                    arn: d.arn().to_string(),
                    domain: d.domain_name().to_string(),
                    status: d.status().to_string(),
                }
            }
        };
        for (_, p) in &places {
            if let Place::Bucket { bucket, .. } = p {
                add_bucket_statement(&self.s3, bucket, bucket_statement(bucket, &found.arn))
                    .await?;
            }
        }
        self.wait_deployed(&found.id).await?;
        Ok(outcome(&found, oac.as_deref()))
    }
}

fn outcome(d: &Found, oac: Option<&str>) -> Outcome {
    let mut physical_ids = BTreeMap::from([("distribution".to_string(), d.id.clone())]);
    if let Some(o) = oac {
        physical_ids.insert("originAccessControl".to_string(), o.to_string());
    }
    Outcome {
        physical_ids,
        outputs: BTreeMap::from([
            ("domainName".to_string(), d.domain.clone()),
            ("distributionId".to_string(), d.id.clone()),
            ("arn".to_string(), d.arn.clone()),
        ]),
    }
}

impl KindProvider for CloudFrontProvider {
    type Spec = CloudFrontSpec;
    const KIND: &'static str = "CloudFront";

    async fn create(&self, t: &Target<'_, CloudFrontSpec>) -> Result<Outcome, ProviderError> {
        self.converge(t, &BTreeMap::new()).await
    }

    async fn read(
        &self,
        t: &Target<'_, CloudFrontSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Option<Observed>, ProviderError> {
        let Some(d) = self.find_distribution(t.name, ids).await? else {
            return Ok(None);
        };
        let current = self
            .cf
            .get_distribution_config()
            .id(&d.id)
            .send()
            .await
            .map_err(|e| aws_error(format!("reading distribution {}", d.id), e))?;
        let mut spec = serde_json::to_value(&t.spec).unwrap_or_default();
        if let Some(c) = current.distribution_config() {
            spec["enabled"] = c.enabled().into();
            if let Some(p) = c.price_class() {
                spec["priceClass"] = p.as_str().into();
            }
            let aliases = c.aliases().map(|a| a.items().to_vec()).unwrap_or_default();
            spec["aliases"] = aliases.into();
            if spec["aliases"].as_array().is_some_and(Vec::is_empty)
                && let Some(o) = spec.as_object_mut()
            {
                o.remove("aliases");
            }
            match c.default_root_object().filter(|r| !r.is_empty()) {
                Some(r) => spec["defaultRootObject"] = r.into(),
                None => {
                    if let Some(o) = spec.as_object_mut() {
                        o.remove("defaultRootObject");
                    }
                }
            }
        }
        let oac = ids.get("originAccessControl").map(String::as_str);
        Ok(Some(Observed {
            outcome: outcome(&d, oac),
            spec,
        }))
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
        if let Some(d) = self.find_distribution(name, ids).await? {
            let current = self
                .cf
                .get_distribution_config()
                .id(&d.id)
                .send()
                .await
                .map_err(|e| aws_error(format!("reading distribution {}", d.id), e))?;
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
            let got = self.cf.get_origin_access_control().id(&id).send().await;
            if let Ok(got) = got {
                let deleted = self
                    .cf
                    .delete_origin_access_control()
                    .id(&id)
                    .if_match(got.e_tag().unwrap_or_default())
                    .send()
                    .await;
                unless_gone(
                    deleted,
                    |s| s.is_no_such_origin_access_control(),
                    format!("deleting origin access control {id}"),
                )?;
            }
        }
        Ok(())
    }

    async fn health(
        &self,
        t: &Target<'_, CloudFrontSpec>,
        ids: &BTreeMap<String, String>,
    ) -> Result<Option<String>, ProviderError> {
        Ok(self
            .find_distribution(t.name, ids)
            .await?
            .map(|d| format!("{} · {}", d.status, d.domain)))
    }

    async fn find(&self, t: &Target<'_, CloudFrontSpec>) -> Result<Option<Outcome>, ProviderError> {
        let oac = self.find_oac(t.name).await?;
        Ok(self
            .find_distribution(t.name, &BTreeMap::new())
            .await?
            .map(|d| outcome(&d, oac.as_deref())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_policies_by_name_or_id() {
        assert_eq!(
            cache_policy_id("CachingDisabled").unwrap(),
            "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
        );
        assert_eq!(
            cache_policy_id("11111111-2222-3333-4444-555555555555").unwrap(),
            "11111111-2222-3333-4444-555555555555"
        );
        let err = cache_policy_id("CachingSometimes").unwrap_err();
        assert!(err.message.contains("CachingOptimized"), "{}", err.message);
    }

    #[test]
    fn a_bucket_statement_names_the_distribution() {
        let s = bucket_statement("assets", "arn:aws:cloudfront::1:distribution/E2ABC");
        assert_eq!(s["Sid"], "panka-cloudfront-E2ABC");
        assert_eq!(s["Resource"], "arn:aws:s3:::assets/*");
    }
}
